//! `sharenet jobs …`: the jobs on chain (read-only) and refunds of jobs that missed their
//! deadline.

use alloy::primitives::{Address, U256};
use clap::Subcommand;
use sharenet_chain_adapter::bindings::JobMarket::JobMarketEvents as J;
use sharenet_chain_adapter::{
    ChainEventKind, JobInfo, JobStatus, Ledger, REVEAL_WINDOW_SECS, Vault, seals_to_close,
};
use sharenet_query::QueryKind;

use crate::access::chain_now;
use crate::failure::Failure;
use crate::output::{Report, Ui, table};
use crate::target::{ChainArgs, Session, label, name_of};
use crate::trail::Trail;
use crate::util::{ether, short, utc};

/// `sharenet jobs …`.
#[derive(Subcommand)]
pub enum JobsCommand {
    /// List the jobs on chain.
    List {
        #[command(flatten)]
        chain: ChainArgs,
        /// Only the jobs the identity (--as / --key) submitted.
        #[arg(long)]
        mine: bool,
    },
    /// Show a job: requester, datasets, query, fee, deadline, status, attestations, payout or
    /// refund.
    Show {
        #[command(flatten)]
        chain: ChainArgs,
        /// The job id.
        job: String,
    },
    /// After a job's deadline passed without a result: credit its fee back to its requester,
    /// then withdraw it (when you are the requester).
    Refund {
        #[command(flatten)]
        chain: ChainArgs,
        /// The job id.
        job: String,
    },
}

fn parse_job_id(text: &str) -> Result<U256, Failure> {
    text.trim_start_matches('#').parse::<U256>().map_err(|_| {
        Failure::usage(format!("'{text}' is not a job id"))
            .hint("job ids are numbers (1, 2, …); see `sharenet jobs list`")
    })
}

/// A job's status name.
pub fn status_name(job: &JobInfo) -> &'static str {
    match JobStatus::from_u8(job.status) {
        Ok(JobStatus::Open) => "open",
        Ok(JobStatus::Completed) => "completed",
        Ok(JobStatus::Refunded) => "refunded",
        Ok(JobStatus::None) => "unknown",
        _ => "?",
    }
}

/// A query kind code's name.
pub fn kind_name(code: u8) -> String {
    QueryKind::from_code(code).map_or_else(|| format!("kind{code}"), |k| k.as_str().to_string())
}

/// A job's chain record, or a usage error if there is no such job.
async fn job_info(session: &Session, id: U256) -> Result<JobInfo, Failure> {
    let job = session
        .ledger
        .job_info(id)
        .await
        .map_err(session.chain_err("reading the job"))?;
    if job.requester == Address::ZERO {
        return Err(Failure::usage(format!("job {id} does not exist"))
            .hint("see the jobs with `sharenet jobs list`"));
    }
    Ok(job)
}

async fn list(chain: &ChainArgs, mine: bool, ui: &Ui) -> Result<Report, Failure> {
    let session = chain.open()?;
    let me = if mine {
        Some(session.me("jobs list --mine")?.address)
    } else {
        None
    };
    let trail = Trail::read(&session).await?;
    let devnet = session.devnet.as_ref();
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for id in trail.jobs() {
        let job = job_info(&session, id).await?;
        if me.is_some_and(|m| job.requester != m) {
            continue;
        }
        let status = status_name(&job);
        rows.push(vec![
            id.to_string(),
            label(job.requester, devnet),
            job.datasetIds
                .iter()
                .map(|d| short(&d.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            kind_name(job.kind),
            ether(job.fee),
            utc(job.deadline),
            match status {
                "completed" => ui.good(status),
                "open" => status.to_string(),
                _ => ui.warn(status),
            },
        ]);
        json.push(serde_json::json!({
            "id": id.to_string(),
            "requester": job.requester,
            "requester_name": name_of(job.requester, devnet),
            "grant": job.grantId.to_string(),
            "datasets": job.datasetIds,
            "kind": kind_name(job.kind),
            "fee": job.fee.to_string(),
            "deadline": job.deadline,
            "status": status,
            "attestations": job.attestations,
        }));
    }
    let human = if rows.is_empty() {
        "no jobs".to_string()
    } else {
        table(
            &[
                "job",
                "requester",
                "datasets",
                "kind",
                "fee",
                "deadline",
                "status",
            ],
            &rows,
        )
    };
    Ok(Report::new(human, serde_json::json!({ "jobs": json })))
}

async fn show(chain: &ChainArgs, job: &str, ui: &Ui) -> Result<Report, Failure> {
    let session = chain.open()?;
    let id = parse_job_id(job)?;
    let info = job_info(&session, id).await?;
    let trail = Trail::read(&session).await?;
    let devnet = session.devnet.as_ref();
    let mut program = None;
    let mut attestations = Vec::new();
    let mut completed = None;
    let mut refund = None;
    for e in trail.job_events(id) {
        match &e.kind {
            ChainEventKind::Job(J::JobSubmitted(s)) => program = Some(s.program.clone()),
            ChainEventKind::Job(J::ResultAttested(a)) => {
                attestations.push((a.node, a.commitment, e.block));
            }
            ChainEventKind::Job(J::JobCompleted(c)) => {
                completed = Some((c.result, c.paid.clone(), c.share, c.remainder));
            }
            ChainEventKind::Job(J::JobRefunded(r)) => refund = Some((r.requester, r.fee)),
            _ => {}
        }
    }
    let status = status_name(&info);
    let result = completed.as_ref().map(|c| c.0);
    let mut human = format!(
        "{} {id}\n  requester:  {}\n  grant:      {}\n  datasets:   {}\n  kind:       {}\n  query:      {}\n  fee:        {} ({} wei)\n  deadline:   {}\n  status:     {}\n  seals:      {} (sealing closes at {})\n  attestations ({}, quorum {}):",
        ui.bold("job"),
        label(info.requester, devnet),
        info.grantId,
        info.datasetIds
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        kind_name(info.kind),
        program.as_deref().unwrap_or("?"),
        ether(info.fee),
        info.fee,
        utc(info.deadline),
        match status {
            "completed" => ui.good(status),
            "open" => status.to_string(),
            _ => ui.warn(status),
        },
        info.seals,
        seals_to_close(info.threshold),
        attestations.len(),
        u32::from(info.threshold) + 1,
    );
    for (node, commitment, block) in &attestations {
        let agrees = result.map(|r| r == *commitment);
        human.push_str(&format!(
            "\n    {} {} (block {block}){}",
            label(*node, devnet),
            commitment,
            match agrees {
                Some(true) => String::new(),
                Some(false) => format!(" {}", ui.bad("dissent")),
                None => String::new(),
            }
        ));
    }
    if let Some((result, paid, share, remainder)) = &completed {
        human.push_str(&format!(
            "\n  result commitment: {result}\n  paid {} each{}: {}",
            ether(*share),
            if remainder.is_zero() {
                String::new()
            } else {
                format!(" (+{remainder} wei to the first)")
            },
            paid.iter()
                .map(|a| label(*a, devnet))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some((to, fee)) = &refund {
        human.push_str(&format!(
            "\n  refunded {} to {}",
            ether(*fee),
            label(*to, devnet)
        ));
    }
    let json = serde_json::json!({
        "id": id.to_string(),
        "requester": info.requester,
        "requester_name": name_of(info.requester, devnet),
        "grant": info.grantId.to_string(),
        "datasets": info.datasetIds,
        "kind": kind_name(info.kind),
        "kind_code": info.kind,
        "program": program,
        "program_hash": info.programHash,
        "fee": info.fee.to_string(),
        "deadline": info.deadline,
        "status": status,
        "threshold": info.threshold,
        "seals": info.seals,
        "attestations": attestations.iter().map(|(node, c, block)| serde_json::json!({
            "node": node,
            "name": name_of(*node, devnet),
            "commitment": c,
            "block": block,
            "agrees": result.map(|r| r == *c),
        })).collect::<Vec<_>>(),
        "result": result,
        "paid": completed.as_ref().map(|c| c.1.clone()),
        "share": completed.as_ref().map(|c| c.2.to_string()),
        "remainder": completed.as_ref().map(|c| c.3.to_string()),
        "refund": refund.map(|(to, fee)| serde_json::json!({ "to": to, "fee": fee.to_string() })),
    });
    Ok(Report::new(human, json))
}

async fn refund(chain: &ChainArgs, job: &str) -> Result<Report, Failure> {
    let session = chain.open()?;
    let me = session.me("jobs refund")?.clone();
    let id = parse_job_id(job)?;
    let info = job_info(&session, id).await?;
    let mine = info.requester == me.address;
    let mut claimed = None;
    match JobStatus::from_u8(info.status) {
        Ok(JobStatus::Completed) => {
            return Err(Failure::usage(format!(
                "job {id} completed: its fee paid the committee; there is nothing to refund"
            )));
        }
        Ok(JobStatus::Refunded) if !mine => {
            return Err(Failure::usage(format!("job {id} is already refunded")));
        }
        Ok(JobStatus::Refunded) => {}
        _ => {
            let now = chain_now(&session).await?;
            let refundable_after = info.deadline.saturating_add(REVEAL_WINDOW_SECS);
            if now <= refundable_after {
                return Err(Failure::usage(format!(
                    "job {id} is still open: it becomes refundable after its deadline, {}, and the {}-minute window for revealing its result, at {} (the chain's time is {})",
                    utc(info.deadline),
                    REVEAL_WINDOW_SECS / 60,
                    utc(refundable_after),
                    utc(now)
                )));
            }
            let r = session
                .ledger
                .claim_refund(id)
                .await
                .map_err(session.chain_err("claiming the refund"))?;
            claimed = Some(r.tx_hash);
        }
    }
    let mut withdrawn = U256::ZERO;
    if mine {
        let balance = session
            .ledger
            .balance_of(Vault::Jobs, me.address)
            .await
            .map_err(session.chain_err("reading the job market balance"))?;
        if !balance.is_zero() {
            session
                .ledger
                .withdraw(Vault::Jobs)
                .await
                .map_err(session.chain_err("withdrawing from the job market"))?;
            withdrawn = balance;
        }
    }
    let human = match (claimed.is_some(), mine) {
        (true, true) => format!(
            "job {id} refunded: {} withdrawn to {}",
            ether(withdrawn),
            me.address
        ),
        (true, false) => format!(
            "job {id} refunded: {} credited to its requester {} (who withdraws it)",
            ether(info.fee),
            info.requester
        ),
        _ => format!(
            "job {id} was already refunded: {} withdrawn to {}",
            ether(withdrawn),
            me.address
        ),
    };
    Ok(Report::new(
        human,
        serde_json::json!({
            "job": id.to_string(),
            "refunded": info.fee.to_string(),
            "claim_tx": claimed,
            "withdrawn": withdrawn.to_string(),
        }),
    ))
}

/// Runs a `jobs` command.
pub async fn run(command: JobsCommand, ui: &Ui) -> Result<Report, Failure> {
    match command {
        JobsCommand::List { chain, mine } => list(&chain, mine, ui).await,
        JobsCommand::Show { chain, job } => show(&chain, &job, ui).await,
        JobsCommand::Refund { chain, job } => refund(&chain, &job).await,
    }
}
