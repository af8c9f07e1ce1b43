//! Jobs: a researcher's query run by a dataset's committee, opened only to the researcher, and
//! attested on chain.
//!
//! The life cycle (docs/protocol.md, "Jobs"):
//! 1. the requester ([`requester`]) compiles the query against the datasets' manifests, checks
//!    its grant on chain, and submits the job (query text, datasets, kind, program hash, its
//!    output key, fee, deadline);
//! 2. it asks every committee member whether it is up for the job (`Hello`); each member
//!    ([`runner`]) checks the job and the grant on chain, the text against the program hash,
//!    compiles the query and loads its input columns;
//! 3. with at least `2t + 1` members ready, the requester starts the job with that live set;
//!    the members run the MPC session over the libp2p MPC protocol (re-sharing first when the
//!    live set is not the whole committee) and send their output shares only to the requester,
//!    over its authenticated, encrypted connection;
//! 4. the requester reconstructs and checks the shares (n shares on one polynomial of degree
//!    t); each member attests the result commitment (a digest of the session's public
//!    transcript, the same for every honest member) in two steps ([`attest`]): it seals it,
//!    bound to itself, and once `2t + 1` members sealed (or the deadline passed) the commitment
//!    is revealed; the members whose seals open to it — at least `t + 1` — share the fee.
//!    Without enough members, the job fails and the requester takes the refund after the
//!    deadline and its reveal window.

pub mod attest;
pub mod query;
pub mod release;
pub mod requester;
pub mod runner;
pub mod wire;

use alloy::primitives::{B256, U256};
use sharenet_chain_adapter::{ChainError, GrantVerdict};

use crate::net::NetError;
use crate::store::StoreError;

/// Why a job could not be prepared, run or received. Carries ids, counts and rule names, never
/// a share or a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The query text does not compile (rendered with line, column and a hint).
    #[error("the query does not compile:\n{0}")]
    Query(String),
    /// The compiler refused the checked query (e.g. too many rows, options).
    #[error("the query cannot be compiled: {0}")]
    Compile(String),
    /// A dataset is not registered on chain.
    #[error("dataset {0} does not exist on chain; list the datasets with `sharenet dataset list`")]
    UnknownDataset(B256),
    /// A dataset is retired.
    #[error("dataset {0} is retired")]
    Retired(B256),
    /// The datasets are not held by one committee (another pool, or another committee).
    #[error(
        "dataset {other} is not in the same pool and committee as {first}: a query combines datasets of one pool only"
    )]
    NotOneCommittee {
        /// The first dataset.
        first: B256,
        /// The one that differs.
        other: B256,
    },
    /// A dataset's manifest is not available or does not match the chain.
    #[error("dataset {dataset}: {reason}")]
    Manifest {
        /// The dataset.
        dataset: B256,
        /// What is wrong.
        reason: String,
    },
    /// The grant does not allow the query (checked before anything is sent to the chain).
    #[error("refused by the grant: {0}")]
    Refused(String),
    /// No grant of the requester covers the datasets and the query.
    #[error(
        "no grant allows you to run this query on these datasets; ask the owners for one (`sharenet access grant`)"
    )]
    NoGrant,
    /// Fewer committee members are up than the protocol needs.
    #[error(
        "job {job}: only {live} of the committee's {committee} members are ready, {needed} are needed (2t + 1); the fee is refundable after the deadline with `sharenet jobs refund {job}`"
    )]
    NotEnoughNodes {
        /// The job.
        job: U256,
        /// Members ready.
        live: usize,
        /// Committee size.
        committee: usize,
        /// Members needed.
        needed: usize,
    },
    /// The job on chain is not one this node can run (unknown, not open, past its deadline,
    /// not its committee, already attested...).
    #[error("job {job}: {reason}")]
    Job {
        /// The job.
        job: U256,
        /// Why.
        reason: String,
    },
    /// A member has no room for the job now (its prepared slots, or the requester's share of
    /// them, are taken): asking again later may succeed.
    #[error("job {job}: {reason}")]
    Busy {
        /// The job.
        job: U256,
        /// Why.
        reason: String,
    },
    /// The MPC session failed (a member left, a timeout, an inconsistent share...).
    #[error("job {job}: the computation failed: {reason}")]
    Mpc {
        /// The job.
        job: U256,
        /// What failed (party indices and kinds only).
        reason: String,
    },
    /// The chain.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// The network.
    #[error("network: {0}")]
    Net(#[from] NetError),
    /// The share store.
    #[error("share store: {0}")]
    Store(#[from] StoreError),
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// The hash of a query's canonical text: what a job records and what a grant may list.
pub fn program_hash(canonical_text: &str) -> B256 {
    B256::from(blake3::derive_key(
        "sharenet 2026-11 job program hash v1",
        canonical_text.as_bytes(),
    ))
}

/// The MPC session id of one attempt of a job with one live set: every party derives the same.
pub fn session_id(job: U256, attempt: u8, live: &[u16]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("sharenet 2026-11 job session v1");
    h.update(&job.to_be_bytes::<32>());
    h.update(&[attempt]);
    for i in live {
        h.update(&i.to_le_bytes());
    }
    *h.finalize().as_bytes()
}

/// The result commitment a committee member attests: the job and what every honest member of
/// the session saw identically (the public transcript digest and the released-group bits).
pub fn result_commitment(job: U256, transcript: &[u8; 32], released: &[Vec<bool>]) -> B256 {
    let mut h = blake3::Hasher::new_derive_key("sharenet 2026-11 job result commitment v1");
    h.update(&job.to_be_bytes::<32>());
    h.update(transcript);
    for output in released {
        h.update(&(output.len() as u64).to_le_bytes());
        for bit in output {
            h.update(&[u8::from(*bit)]);
        }
    }
    B256::from(*h.finalize().as_bytes())
}

/// A grant verdict for humans: what the rule is and what to do.
pub fn explain_verdict(v: GrantVerdict) -> String {
    match v {
        GrantVerdict::Ok => "allowed".into(),
        GrantVerdict::UnknownGrant => "there is no such grant".into(),
        GrantVerdict::Revoked => "the grant was revoked by the data owner".into(),
        GrantVerdict::NotGrantee => "the grant is for another account".into(),
        GrantVerdict::Expired => "the grant has expired; ask the owner for a new one".into(),
        GrantVerdict::Exhausted => {
            "every query the grant allows has been used; ask the owner for a new grant".into()
        }
        GrantVerdict::DatasetNotInGrant(d) => format!("dataset {d} is not covered by the grant"),
        GrantVerdict::QueryNotAllowed => {
            "the grant does not allow this kind of query (or this exact program)".into()
        }
        GrantVerdict::BadQueryKind => "the query kind is not a valid kind".into(),
        _ => format!("{v:?}"),
    }
}
