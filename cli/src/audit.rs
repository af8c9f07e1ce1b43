//! `sharenet audit --dataset ID`: a dataset's whole trail in chain order — registered, appended,
//! acknowledged by each node, granted (to whom, what), revoked, every job that read it (who, what
//! query), attestations, payouts and refunds.

use std::collections::HashSet;

use alloy::primitives::{B256, U256};
use sharenet_chain_adapter::ChainEventKind;
use sharenet_chain_adapter::bindings::AccessGrants::AccessGrantsEvents as G;
use sharenet_chain_adapter::bindings::DatasetRegistry::DatasetRegistryEvents as D;
use sharenet_chain_adapter::bindings::JobMarket::JobMarketEvents as J;

use crate::access::kind_names;
use crate::dataset::resolve_dataset;
use crate::failure::Failure;
use crate::jobs::kind_name;
use crate::output::{Report, Ui};
use crate::target::{ChainArgs, label, name_of};
use crate::trail::Trail;
use crate::util::{ether, utc};

/// `sharenet audit`.
#[derive(clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The dataset: its id (0x…) or its name.
    #[arg(long)]
    dataset: String,
}

/// One entry of the trail.
struct Entry {
    block: u64,
    log_index: u64,
    tx: B256,
    event: &'static str,
    text: String,
    json: serde_json::Value,
}

/// Runs `audit`.
pub async fn run(args: AuditArgs, ui: &Ui) -> Result<Report, Failure> {
    let session = args.chain.open()?;
    let progress = ui.spinner("reading the audit trail from the chain");
    let id = resolve_dataset(&session, &args.dataset).await?;
    let mut trail = Trail::read(&session).await?;
    let devnet = session.devnet.as_ref();
    let who = |a| label(a, devnet);
    let mut grants: HashSet<U256> = HashSet::new();
    let mut jobs: HashSet<U256> = HashSet::new();
    let mut entries = Vec::new();
    for e in &trail.events {
        let entry = |event: &'static str, text: String, json: serde_json::Value| Entry {
            block: e.block,
            log_index: e.log_index,
            tx: e.tx_hash,
            event,
            text,
            json,
        };
        let item = match &e.kind {
            ChainEventKind::Dataset(D::DatasetRegistered(r)) if r.datasetId == id => Some(entry(
                "DatasetRegistered",
                format!(
                    "registered by {}: pool '{}', {} rows, threshold {} of {} nodes",
                    who(r.owner),
                    r.pool,
                    r.rows,
                    r.threshold,
                    r.committee.len()
                ),
                serde_json::json!({
                    "owner": r.owner, "owner_name": name_of(r.owner, devnet), "pool": r.pool,
                    "rows": r.rows, "threshold": r.threshold, "committee": r.committee,
                    "schema_hash": r.schemaHash, "manifest_hash": r.manifestHash,
                }),
            )),
            ChainEventKind::Dataset(D::DatasetAppended(a)) if a.datasetId == id => Some(entry(
                "DatasetAppended",
                format!("rows appended: {} rows in all", a.rows),
                serde_json::json!({ "rows": a.rows, "manifest_hash": a.manifestHash }),
            )),
            ChainEventKind::Dataset(D::DatasetAcknowledged(a)) if a.datasetId == id => Some(entry(
                "DatasetAcknowledged",
                format!("acknowledged by {} (holds verified shares)", who(a.node)),
                serde_json::json!({
                    "node": a.node, "name": name_of(a.node, devnet), "receipt_hash": a.receiptHash,
                }),
            )),
            ChainEventKind::Dataset(D::DatasetRetired(r)) if r.datasetId == id => Some(entry(
                "DatasetRetired",
                "retired: no new grant or job may use it".into(),
                serde_json::json!({}),
            )),
            ChainEventKind::Grant(G::AccessGranted(g)) if g.datasetIds.contains(&id) => {
                grants.insert(g.grantId);
                Some(entry(
                    "AccessGranted",
                    format!(
                        "grant {} to {} by {}: {} until {}, at most {} queries{}",
                        g.grantId,
                        who(g.grantee),
                        who(g.owner),
                        kind_names(g.kinds).join(", "),
                        utc(g.expiry),
                        g.maxQueries,
                        if g.datasetIds.len() > 1 {
                            format!(" (with {} other datasets)", g.datasetIds.len() - 1)
                        } else {
                            String::new()
                        }
                    ),
                    serde_json::json!({
                        "grant": g.grantId.to_string(), "owner": g.owner, "grantee": g.grantee,
                        "grantee_name": name_of(g.grantee, devnet), "datasets": g.datasetIds,
                        "kinds": kind_names(g.kinds), "program_hashes": g.programHashes,
                        "expiry": g.expiry, "max_queries": g.maxQueries,
                    }),
                ))
            }
            ChainEventKind::Grant(G::GrantDelegateSet(g)) if g.datasetId == id => Some(entry(
                "GrantDelegateSet",
                format!(
                    "{} {} grant access to it ({} is the owner)",
                    who(g.delegate),
                    if g.allowed {
                        "may now"
                    } else {
                        "may no longer"
                    },
                    who(g.owner)
                ),
                serde_json::json!({
                    "owner": g.owner, "delegate": g.delegate,
                    "delegate_name": name_of(g.delegate, devnet), "allowed": g.allowed,
                }),
            )),
            ChainEventKind::Grant(G::AccessRevoked(r)) if grants.contains(&r.grantId) => {
                Some(entry(
                    "AccessRevoked",
                    format!("grant {} revoked", r.grantId),
                    serde_json::json!({ "grant": r.grantId.to_string() }),
                ))
            }
            ChainEventKind::Job(J::JobSubmitted(s)) if s.datasetIds.contains(&id) => {
                jobs.insert(s.jobId);
                Some(entry(
                    "JobSubmitted",
                    format!(
                        "job {} submitted by {} under grant {} ({}, fee {}): {}",
                        s.jobId,
                        who(s.requester),
                        s.grantId,
                        kind_name(s.kind),
                        ether(s.fee),
                        s.program
                    ),
                    serde_json::json!({
                        "job": s.jobId.to_string(), "requester": s.requester,
                        "requester_name": name_of(s.requester, devnet), "grant": s.grantId.to_string(),
                        "datasets": s.datasetIds, "kind": kind_name(s.kind), "program": s.program,
                        "program_hash": s.programHash, "fee": s.fee.to_string(), "deadline": s.deadline,
                    }),
                ))
            }
            ChainEventKind::Job(J::ResultSealed(a)) if jobs.contains(&a.jobId) => Some(entry(
                "ResultSealed",
                format!("job {}: {} sealed its result", a.jobId, who(a.node)),
                serde_json::json!({
                    "job": a.jobId.to_string(), "node": a.node, "name": name_of(a.node, devnet),
                    "seal": a.seal,
                }),
            )),
            ChainEventKind::Job(J::ResultAttested(a)) if jobs.contains(&a.jobId) => Some(entry(
                "ResultAttested",
                format!(
                    "job {}: {} attested result {}",
                    a.jobId,
                    who(a.node),
                    a.commitment
                ),
                serde_json::json!({
                    "job": a.jobId.to_string(), "node": a.node, "name": name_of(a.node, devnet),
                    "commitment": a.commitment,
                }),
            )),
            ChainEventKind::Job(J::AttestationDissent(a)) if jobs.contains(&a.jobId) => {
                Some(entry(
                    "AttestationDissent",
                    format!(
                        "job {}: {} sealed another result than {} (seal {})",
                        a.jobId,
                        who(a.node),
                        a.result,
                        a.seal
                    ),
                    serde_json::json!({
                        "job": a.jobId.to_string(), "node": a.node, "seal": a.seal,
                        "result": a.result,
                    }),
                ))
            }
            ChainEventKind::Job(J::JobCompleted(c)) if jobs.contains(&c.jobId) => Some(entry(
                "JobCompleted",
                format!(
                    "job {} completed: result {}, {} each paid to {}",
                    c.jobId,
                    c.result,
                    ether(c.share),
                    c.paid
                        .iter()
                        .map(|a| who(*a))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                serde_json::json!({
                    "job": c.jobId.to_string(), "result": c.result, "paid": c.paid,
                    "share": c.share.to_string(), "remainder": c.remainder.to_string(),
                }),
            )),
            ChainEventKind::Job(J::JobRefunded(r)) if jobs.contains(&r.jobId) => Some(entry(
                "JobRefunded",
                format!(
                    "job {} refunded: {} back to {}",
                    r.jobId,
                    ether(r.fee),
                    who(r.requester)
                ),
                serde_json::json!({
                    "job": r.jobId.to_string(), "requester": r.requester, "fee": r.fee.to_string(),
                }),
            )),
            _ => None,
        };
        entries.extend(item);
    }
    trail
        .load_times(&session, entries.iter().map(|e| e.block))
        .await;
    drop(progress);
    let mut lines = vec![format!("{} {id}", ui.bold("audit trail of dataset"))];
    let mut json = Vec::new();
    for e in &entries {
        let time = trail.time(e.block);
        lines.push(format!(
            "{}  {}",
            ui.dim(&format!(
                "{} block {:>6}",
                time.map_or_else(|| "?".to_string(), utc),
                e.block
            )),
            e.text
        ));
        let mut j = serde_json::json!({
            "block": e.block,
            "log_index": e.log_index,
            "time": time,
            "tx": e.tx,
            "event": e.event,
            "summary": e.text,
        });
        if let (Some(obj), Some(fields)) = (j.as_object_mut(), e.json.as_object()) {
            for (k, v) in fields {
                obj.insert(k.clone(), v.clone());
            }
        }
        json.push(j);
    }
    Ok(Report::new(
        lines.join("\n"),
        serde_json::json!({ "dataset": id, "events": json }),
    ))
}
