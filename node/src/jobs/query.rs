//! What a requester and a committee member both do before a job runs: check the datasets on
//! chain (they exist, one committee), check each manifest against the chain, compile the query
//! against the manifests' schemas, and check the grant. Both sides run the same code, so they
//! agree on the program, its inputs and its kind. And the one check a member makes at every step
//! that releases anything to a requester ([`may_release`]).

use std::collections::BTreeSet;

use alloy::primitives::{Address, B256, U256};
use sharenet_chain_adapter::{DatasetInfo, GrantVerdict, JobInfo, JobStatus, Ledger};
use sharenet_dht::DatasetManifest;
use sharenet_query::{
    Catalog, CompileOptions, CompiledQuery, QueryKind, Schema, compile, compile_front_end, parse,
};

use super::{JobError, explain_verdict, program_hash};
use sharenet_mpc::protocol::{Security, max_comparison_bits};

/// A dataset as a job reads it: its chain record and its checked manifest and schema.
#[derive(Debug, Clone)]
pub struct JobDataset {
    /// Dataset id.
    pub id: B256,
    /// Its chain record.
    pub info: DatasetInfo,
    /// Its manifest (the version registered on chain).
    pub manifest: DatasetManifest,
    /// The schema the manifest declares (its hash checked).
    pub schema: Schema,
}

/// The datasets' chain records, checked: each exists and is live, and all share one committee
/// and threshold. Returns them in the given (FROM) order.
pub async fn chain_datasets<L: Ledger>(
    ledger: &L,
    ids: &[B256],
) -> Result<Vec<DatasetInfo>, JobError> {
    let mut infos: Vec<DatasetInfo> = Vec::with_capacity(ids.len());
    for id in ids {
        let info = ledger.dataset_info(*id).await?;
        if info.owner == Address::ZERO {
            return Err(JobError::UnknownDataset(*id));
        }
        if info.retired {
            return Err(JobError::Retired(*id));
        }
        if let Some(first) = infos.first()
            && (first.committee != info.committee || first.threshold != info.threshold)
        {
            return Err(JobError::NotOneCommittee {
                first: ids[0],
                other: *id,
            });
        }
        infos.push(info);
    }
    Ok(infos)
}

/// Checks a manifest against the dataset's chain record (hash, rows, schema hash) and parses its
/// schema.
pub fn check_manifest(
    id: B256,
    info: DatasetInfo,
    manifest: DatasetManifest,
) -> Result<JobDataset, JobError> {
    let bad = |reason: &str| JobError::Manifest {
        dataset: id,
        reason: reason.to_string(),
    };
    if !manifest.is_registered_version(&id.0, &info.manifestHash.0) {
        return Err(bad("the manifest is not the version registered on chain"));
    }
    if manifest.rows != info.rows {
        return Err(bad("the manifest's row count differs from the chain's"));
    }
    let schema = Schema::from_json(&manifest.schema)
        .map_err(|e| bad(&format!("the manifest's schema does not parse: {e}")))?;
    if schema.hash() != manifest.schema_hash || B256::from(schema.hash()) != info.schemaHash {
        return Err(bad(
            "the manifest's schema does not match the registered schema hash",
        ));
    }
    Ok(JobDataset {
        id,
        info,
        manifest,
        schema,
    })
}

/// A query compiled for a job.
#[derive(Debug, Clone)]
pub struct JobQuery {
    /// The program, its inputs and how to read its result.
    pub compiled: CompiledQuery,
    /// Every kind of computation the query uses (a grant must allow each).
    pub kinds: BTreeSet<QueryKind>,
    /// The kind recorded on chain: the most revealing one used (the highest code).
    pub kind: QueryKind,
    /// Hash of the canonical text.
    pub program_hash: B256,
    /// The canonical text.
    pub canonical_text: String,
    /// Rows of the union.
    pub rows: usize,
    /// The smallest cohort released (the largest of the datasets' rules).
    pub min_cohort: u64,
}

/// Compiles `text` over `datasets`, which are bound to the query's FROM names in order.
pub fn compile_job(text: &str, datasets: &[JobDataset]) -> Result<JobQuery, JobError> {
    let parsed = parse(text).map_err(|e| JobError::Query(e.render(text)))?;
    if parsed.from.len() != datasets.len() {
        return Err(JobError::Query(format!(
            "the query reads {} dataset(s) but {} were given: name each dataset of FROM once, in order",
            parsed.from.len(),
            datasets.len()
        )));
    }
    let mut catalog = Catalog::new();
    for (name, d) in parsed.from.iter().zip(datasets) {
        catalog
            .insert(&name.name, d.schema.clone())
            .map_err(|e| JobError::Query(format!("FROM {}: {e}", name.name)))?;
    }
    let typed = compile_front_end(text, &catalog).map_err(|e| JobError::Query(e.render(text)))?;
    let rows: u64 = datasets.iter().map(|d| d.info.rows).sum();
    let rows = usize::try_from(rows)
        .map_err(|_| JobError::Compile("the datasets have too many rows".into()))?;
    let min_cohort = datasets
        .iter()
        .map(|d| u64::from(d.manifest.min_cohort))
        .max()
        .unwrap_or(1)
        .max(1);
    // Compiled for the narrower of the two security levels' comparisons (the level is chosen at
    // `Start`, after compiling): a malicious session of 2t + 1 members sums C(2t + 1, t) PRSS
    // masks.
    let threshold = datasets
        .first()
        .map_or(1, |d| usize::from(d.info.threshold));
    let defaults = CompileOptions::default();
    let max_bits = defaults.max_bits.min(max_comparison_bits(
        2 * threshold + 1,
        threshold,
        Security::Malicious,
    ));
    let compiled = compile(
        &typed,
        rows,
        &CompileOptions {
            min_cohort,
            max_bits,
            ..defaults
        },
    )
    .map_err(|e| JobError::Compile(e.to_string()))?;
    let kind = typed
        .kinds
        .iter()
        .copied()
        .max_by_key(|k| k.code())
        .ok_or_else(|| JobError::Compile("the query has no kind".into()))?;
    Ok(JobQuery {
        compiled,
        kinds: typed.kinds.clone(),
        kind,
        program_hash: program_hash(&typed.canonical_text),
        canonical_text: typed.canonical_text,
        rows,
        min_cohort,
    })
}

/// Whether grant `grant` lets `who` run `query` on `datasets` now, for every kind the query
/// uses. `consumed` is true when the job already used one of the grant's queries (a committee
/// member checking a submitted job): the remaining count is then not checked again.
pub async fn check_grant<L: Ledger>(
    ledger: &L,
    grant: U256,
    who: Address,
    datasets: &[B256],
    query: &JobQuery,
    consumed: bool,
) -> Result<(), JobError> {
    for kind in &query.kinds {
        let verdict = ledger
            .may_run(grant, who, datasets, kind.code(), query.program_hash)
            .await?;
        match verdict {
            GrantVerdict::Ok => {}
            // The contract checks the count before the datasets and the kind: check those here.
            GrantVerdict::Exhausted if consumed => {
                let info = ledger.grant_info(grant).await?;
                if let Some(d) = datasets.iter().find(|d| !info.datasetIds.contains(d)) {
                    return Err(JobError::Refused(explain_verdict(
                        GrantVerdict::DatasetNotInGrant(*d),
                    )));
                }
                let kind_allowed = info.kinds & (1u64 << kind.code()) != 0;
                if !kind_allowed && !info.programHashes.contains(&query.program_hash) {
                    return Err(JobError::Refused(explain_verdict(
                        GrantVerdict::QueryNotAllowed,
                    )));
                }
            }
            other => return Err(JobError::Refused(explain_verdict(other))),
        }
    }
    Ok(())
}

/// Chain seconds a job must still have before its deadline for a member to release anything of
/// it (answer `Ready`, accept a `Start`, send output shares): time for the members to attest the
/// result on chain before the requester can claim the refund.
pub const RELEASE_MARGIN_SECS: u64 = 30;

/// What a committee member is about to release to a job's requester.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The `Ready` answer to a `Hello` (the job is then prepared).
    Ready,
    /// Accepting a `Start` (the session then runs).
    Start,
    /// The first output message of a session that was started.
    Outputs,
}

/// A job that may still release, as the chain showed it.
#[derive(Debug, Clone)]
pub struct OpenJob {
    /// Its chain record.
    pub info: JobInfo,
    /// The chain's clock when it was read.
    pub chain_now: u64,
}

/// The one check a committee member makes before each step that releases anything of job `job`
/// to its requester — answering `Hello`, accepting a `Start`, and sending the output shares:
/// the job is open (not refunded, not completed) and at least [`RELEASE_MARGIN_SECS`] before its
/// deadline on the chain's clock — except that the outputs of a session already started may
/// still go out once the job is completed, for then the fee was paid (members that finished
/// first sealed while slower ones were still sending); `member` has not sealed its result already
/// (a restarted node never runs a job twice); and — given the compiled query — its grant still
/// allows the query (a revoked or expired grant stops a job submitted earlier; the count is not
/// checked again, the job consumed it). `query` is `None` only for the first look at a job whose
/// query is not compiled yet.
pub async fn may_release<L: Ledger>(
    ledger: &L,
    job: U256,
    member: Address,
    query: Option<&JobQuery>,
    step: Release,
) -> Result<OpenJob, JobError> {
    let refuse = |reason: String| JobError::Job { job, reason };
    let info = ledger.job_info(job).await?;
    let chain_now = ledger.chain_time().await?;
    match JobStatus::from_u8(info.status)? {
        JobStatus::Open if info.deadline <= chain_now => {
            return Err(refuse("the job's deadline has passed".into()));
        }
        JobStatus::Open if info.deadline - chain_now < RELEASE_MARGIN_SECS => {
            return Err(refuse(format!(
                "the job's deadline is less than {RELEASE_MARGIN_SECS} s away: too close to attest its result before the refund"
            )));
        }
        JobStatus::Open => {}
        JobStatus::Completed if step == Release::Outputs => {}
        JobStatus::Completed => return Err(refuse("the job is already completed".into())),
        JobStatus::Refunded => {
            return Err(refuse("the job was refunded to its requester".into()));
        }
        JobStatus::None => return Err(refuse("no such job on chain".into())),
        _ => return Err(refuse("the job is no longer open".into())),
    }
    if ledger.seal_of(job, member).await? != B256::ZERO {
        return Err(refuse(
            "this node already sealed its result of the job".into(),
        ));
    }
    if let Some(query) = query {
        check_grant(
            ledger,
            info.grantId,
            info.requester,
            &info.datasetIds,
            query,
            true,
        )
        .await?;
    }
    Ok(OpenJob { info, chain_now })
}
