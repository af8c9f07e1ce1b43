//! `sharenet query "SELECT …"`: run a query as a job — checked and compiled here, submitted on
//! chain, computed by the datasets' committee, opened only here — and print the result next to
//! the job id and its cost. `--explain` compiles and prints the plan without submitting.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use clap::Args;
use sharenet_chain_adapter::Ledger;
use sharenet_mpc::protocol::Security;
use sharenet_node::jobs::JobError;
use sharenet_node::jobs::requester::{Progress, QueryRequest, prepare_query, run_query};
use sharenet_query::{Cell, QueryResult, parse};

use crate::dataset::{network_client_as, resolve_dataset};
use crate::failure::Failure;
use crate::jobs::kind_name;
use crate::output::{Report, Ui, table};
use crate::target::ChainArgs;
use crate::util::{ether, parse_duration, parse_wei};

/// `sharenet query`.
#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The query, e.g. "SELECT AVG(age) FROM clinic_a, clinic_b WHERE smoker".
    query: String,
    /// Bind a FROM name to a dataset: NAME=ID or NAME=DATASET-NAME (repeatable). Unbound FROM
    /// names are looked up among the registered datasets' names.
    #[arg(long = "dataset", value_name = "NAME=DATASET")]
    datasets: Vec<String>,
    /// The grant to use (default: the first of yours that allows the query).
    #[arg(long)]
    grant: Option<String>,
    /// The fee, in wei, paid to the committee when it delivers.
    #[arg(long, default_value = "1000000000000000")]
    fee: String,
    /// How long the committee has before the fee becomes refundable (e.g. 10m, 1h).
    #[arg(long, default_value = "30m")]
    deadline: String,
    /// How long to wait for any one message of the computation.
    #[arg(long, default_value = "60s")]
    timeout: String,
    /// Compile and show the plan and its cost (rounds, multiplications, bytes) at both security
    /// levels, semi-honest and malicious, without submitting anything.
    #[arg(long)]
    explain: bool,
    /// `malicious` (the session runs with exactly 2t + 1 members and verifies every product
    /// before anything is released) or `semi-honest` (faster; members refuse it unless their
    /// `min_security` allows it).
    #[arg(long, default_value = "malicious", value_parser = parse_security)]
    security: Security,
}

fn parse_security(text: &str) -> Result<Security, String> {
    text.parse()
}

fn seconds(flag: &str, text: &str) -> Result<Duration, Failure> {
    parse_duration(text)
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            Failure::usage(format!("{flag}: '{text}' is not a duration"))
                .hint("write a number with a unit: 90s, 10m, 2h, 1d")
        })
}

/// A job error for humans, with the exit code of its kind.
fn job_failure(e: JobError) -> Failure {
    let text = e.to_string();
    match e {
        JobError::Query(_) | JobError::Compile(_) => {
            Failure::usage(text).hint("see docs/query-language.md for what the language accepts")
        }
        JobError::UnknownDataset(_) | JobError::Retired(_) | JobError::NotOneCommittee { .. } => {
            Failure::usage(text).hint("see `sharenet dataset list`")
        }
        JobError::Manifest { .. } => Failure::network(text),
        JobError::Refused(_) | JobError::NoGrant => {
            Failure::refused(text).hint("see your grants with `sharenet access list`")
        }
        JobError::NotEnoughNodes { .. } | JobError::Mpc { .. } | JobError::Job { .. } => {
            Failure::job_failed(text)
        }
        JobError::Chain(_) => Failure::chain(text),
        JobError::Net(_) => Failure::network(text),
        _ => Failure::other(text),
    }
}

/// The result as a text table and as JSON.
pub fn render(result: &QueryResult) -> (String, serde_json::Value) {
    let header: Vec<&str> = result.columns.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| r.iter().map(Cell::to_string).collect())
        .collect();
    // The JSON form is the query crate's (`sharenet_query::result`), one place for it; it has
    // no map with non-string keys, the one thing serialising to a `Value` can fail on.
    let json = serde_json::to_value(result).unwrap_or(serde_json::Value::Null);
    (table(&header, &rows), json)
}

/// The datasets bound to the query's FROM names, in order.
async fn bind_datasets(
    session: &crate::target::Session,
    text: &str,
    bindings: &[String],
) -> Result<Vec<B256>, Failure> {
    let parsed = parse(text)
        .map_err(|e| Failure::usage(format!("the query does not parse:\n{}", e.render(text))))?;
    let mut explicit = Vec::new();
    for b in bindings {
        let (name, target) = b.split_once('=').ok_or_else(|| {
            Failure::usage(format!("--dataset '{b}': expected NAME=DATASET"))
                .hint("e.g. --dataset a=0x… or --dataset a=clinic_a")
        })?;
        if !parsed.from.iter().any(|f| f.name == name) {
            return Err(Failure::usage(format!(
                "--dataset {name}=…: the query has no dataset named {name} in FROM"
            )));
        }
        explicit.push((name.to_string(), target.to_string()));
    }
    let mut out = Vec::with_capacity(parsed.from.len());
    for from in &parsed.from {
        let target = explicit
            .iter()
            .find(|(n, _)| *n == from.name)
            .map_or(from.name.as_str(), |(_, t)| t.as_str());
        out.push(resolve_dataset(session, target).await?);
    }
    Ok(out)
}

/// Runs `sharenet query`.
pub async fn run(a: QueryArgs, ui: &Ui) -> Result<Report, Failure> {
    let session = a.chain.open()?;
    let me = session.me("a query")?.address;
    let fee = parse_wei("--fee", &a.fee)?;
    if fee.is_zero() {
        return Err(Failure::usage("--fee must be more than 0 wei").hint(
            "the job market holds the fee in escrow and pays it to the committee that delivers",
        ));
    }
    let deadline = seconds("--deadline", &a.deadline)?;
    let timeout = seconds("--timeout", &a.timeout)?;
    let grant = a
        .grant
        .as_deref()
        .map(|g| {
            g.trim_start_matches('#').parse::<U256>().map_err(|_| {
                Failure::usage(format!("--grant: '{g}' is not a grant id"))
                    .hint("see your grants with `sharenet access list`")
            })
        })
        .transpose()?;
    let datasets = bind_datasets(&session, &a.query, &a.datasets).await?;
    let (_, key) = a
        .chain
        .key_file(session.devnet.as_ref())?
        .ok_or_else(|| Failure::usage("a query needs an identity"))?;
    let keypair = sharenet_node::keys::client_identity(&sharenet_node::keys::load_chain_key(&key)?);
    let client = network_client_as(keypair, timeout)?;
    if a.explain {
        let (_, query, committee) = prepare_query(&session.ledger, &client, &a.query, &datasets)
            .await
            .map_err(job_failure)?;
        let info = crate::dataset::dataset_info(&session, datasets[0]).await?;
        let (n, t) = (committee.len(), usize::from(info.threshold));
        let plan = query.compiled.explain(n, t);
        let cost = query.compiled.cost(n, t);
        // Both levels: the cost, or null and the reason the committee cannot run it.
        let mut costs = serde_json::Map::new();
        let mut unavailable = serde_json::Map::new();
        for (key, security) in [
            ("semi_honest", Security::SemiHonest),
            ("malicious", Security::Malicious),
        ] {
            match query.compiled.cost_at(n, t, security) {
                Ok(c) => {
                    costs.insert(key.into(), serde_json::to_value(c).unwrap_or_default());
                }
                Err(e) => {
                    costs.insert(key.into(), serde_json::Value::Null);
                    unavailable.insert(key.into(), e.to_string().into());
                }
            }
        }
        let _ = client.shutdown().await;
        return Ok(Report::new(
            format!(
                "{}\nkind: {} · rows: {} · minimum cohort: {} · committee: n = {n}, t = {t}\n(not submitted: --explain)",
                plan,
                query.kind.as_str(),
                query.rows,
                query.min_cohort
            ),
            serde_json::json!({
                "explain": plan,
                "kind": query.kind.as_str(),
                "rows": query.rows,
                "min_cohort": query.min_cohort,
                "committee": n,
                "threshold": t,
                // Semi-honest, as before; "cost" has both levels.
                "rounds": cost.rounds,
                "multiplications": cost.multiplications,
                "bytes_per_party": cost.bytes_per_party,
                "cost": costs,
                "cost_unavailable": unavailable,
                "program_hash": query.program_hash.to_string(),
                "me": me.to_string(),
            }),
        ));
    }
    let request = QueryRequest {
        text: a.query.clone(),
        datasets: datasets.clone(),
        grant,
        fee,
        deadline,
        ready_timeout: Duration::from_secs(15),
        session_timeout: timeout,
        attest_timeout: Duration::from_secs(60),
        security: a.security,
    };
    let spinner = ui.spinner("compiling and checking the grant");
    let outcome = run_query(&session.ledger, &client, &request, |p| match p {
        Progress::Checked { grant } => {
            spinner.set_message(format!("grant #{grant} allows it; submitting the job"));
        }
        Progress::Submitted { job } => {
            spinner.set_message(format!("job #{job} submitted; asking the committee"));
        }
        Progress::Ready { live, committee } => {
            spinner.set_message(format!("{live} of {committee} committee members ready"));
        }
        Progress::Started { attempt } => {
            spinner.set_message(format!("computing (attempt {})", attempt + 1));
        }
        Progress::Retrying { attempt, reason } => {
            spinner.set_message(format!(
                "attempt {} failed ({reason}); retrying",
                attempt + 1
            ));
        }
        Progress::Received => spinner.set_message("result received; waiting for attestations"),
        _ => {}
    })
    .await;
    drop(spinner);
    let _ = client.shutdown().await;
    let outcome = outcome.map_err(job_failure)?;
    let (text, result_json) = render(&outcome.result);
    let kind = session
        .ledger
        .job_info(outcome.job)
        .await
        .map(|j| kind_name(j.kind))
        .unwrap_or_default();
    let mut human = format!(
        "{text}\njob #{} · {kind} · {} of {} members computed · {:.2} s from submit to result · fee {}",
        outcome.job,
        outcome.live,
        outcome.committee,
        outcome.latency.as_secs_f64(),
        ether(outcome.fee)
    );
    human.push_str(if outcome.completed {
        "\nattested on chain by the committee; fee paid out"
    } else {
        "\nnot yet attested on chain (see `sharenet jobs show`)"
    });
    if !outcome.corrected.is_empty() {
        human.push_str(&ui.warn(&format!(
            "\nnote: committee members {:?} sent wrong output shares; they were corrected (the result is right)",
            outcome.corrected
        )));
    }
    if !outcome.dissent.is_empty() {
        human.push_str(&ui.warn(&format!(
            "\nwarning: committee members {:?} attested a different transcript: treat this result as suspect",
            outcome.dissent
        )));
    }
    Ok(Report::new(
        human,
        serde_json::json!({
            "job": outcome.job.to_string(),
            "result": result_json,
            "live": outcome.live,
            "committee": outcome.committee,
            "latency_ms": outcome.latency.as_millis() as u64,
            "fee_wei": outcome.fee.to_string(),
            "completed": outcome.completed,
            "dissent": outcome.dissent,
            "corrected": outcome.corrected,
        }),
    ))
}
