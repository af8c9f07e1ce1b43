//! A committee member's attestation of a job's result on chain: seal, wait until sealing is
//! closed, reveal.
//!
//! A plain attestation would show the commitment to everyone (events, the mempool), and a
//! member that did not compute could copy it and be paid. So the member first seals
//! [`seal_for`]`(job, itself, commitment)` — bound to it and telling nobody the commitment —
//! and reveals only once the contract accepts no more seals (`2t + 1` of them, or the deadline
//! passed). Any member's reveal completes the job for every seal that opens to it; the others
//! see it completed and stop. Every wait here is bounded: by the chain's reveal window and by a
//! local timeout.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use sharenet_chain_adapter::{
    ChainError, ContractError, JobStatus, Ledger, REVEAL_WINDOW_SECS, RevertReason, seal_for,
    seals_to_close,
};
use tokio::time::Instant;

use super::JobError;

/// How a member's attestation of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attestation {
    /// Its seal opened to the job's result: it agreed with the quorum and was paid.
    Agreed,
    /// The job completed with another result than this member's commitment (it dissents; the
    /// chain recorded it).
    Dissented,
    /// The sealing closed before this member sealed (enough faster members sealed): it takes no
    /// part in the payout; the job completes without it.
    TooLate,
}

/// Seals `commitment` for `job` as `member`, waits until sealing is closed and reveals it (or
/// sees that another member did). `poll` is the pause between chain reads; `timeout` bounds
/// the whole wait.
pub async fn attest_result<L: Ledger>(
    ledger: &L,
    job: U256,
    member: Address,
    commitment: B256,
    poll: Duration,
    timeout: Duration,
) -> Result<Attestation, JobError> {
    let until = Instant::now() + timeout;
    match ledger
        .seal_result(job, seal_for(job, member, commitment))
        .await
    {
        Ok(_) => {}
        Err(e) if reverted_with(&e, |c| matches!(c, ContractError::SealingClosed(_))) => {
            return Ok(Attestation::TooLate);
        }
        Err(e) if reverted_with(&e, |c| matches!(c, ContractError::JobNotOpen(_))) => {
            return ended(ledger, job, member, commitment).await;
        }
        Err(e) => return Err(e.into()),
    }
    loop {
        let info = ledger.job_info(job).await?;
        match JobStatus::from_u8(info.status)? {
            JobStatus::Open => {}
            _ => return ended(ledger, job, member, commitment).await,
        }
        let now = ledger.chain_time().await?;
        let closed = info.seals >= seals_to_close(info.threshold) || now > info.deadline;
        if closed {
            match ledger.reveal_result(job, commitment).await {
                Ok(_) => return ended(ledger, job, member, commitment).await,
                // Another member's reveal was mined first.
                Err(e) if reverted_with(&e, |c| matches!(c, ContractError::JobNotOpen(_))) => {
                    return ended(ledger, job, member, commitment).await;
                }
                Err(e) if reverted_with(&e, |c| matches!(c, ContractError::NoQuorum(_))) => {
                    return Err(JobError::Job {
                        job,
                        reason: "fewer than t + 1 of the committee's seals open to this member's result: the members disagree about the session".into(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        if now > info.deadline.saturating_add(REVEAL_WINDOW_SECS) || Instant::now() >= until {
            return Err(JobError::Job {
                job,
                reason: format!(
                    "sealing did not close in time ({} of {} seals)",
                    info.seals,
                    seals_to_close(info.threshold)
                ),
            });
        }
        tokio::time::sleep(poll.min(until.saturating_duration_since(Instant::now()))).await;
    }
}

/// The outcome for a job that is no longer open: `Agreed` if `member`'s seal opened to its
/// result, `TooLate` if the result is `commitment` but `member` was not among the sealers,
/// `Dissented` if the result is another; an error if the job was refunded.
async fn ended<L: Ledger>(
    ledger: &L,
    job: U256,
    member: Address,
    commitment: B256,
) -> Result<Attestation, JobError> {
    let info = ledger.job_info(job).await?;
    match JobStatus::from_u8(info.status)? {
        JobStatus::Completed if info.result != commitment => Ok(Attestation::Dissented),
        JobStatus::Completed if ledger.attestation(job, member).await? == commitment => {
            Ok(Attestation::Agreed)
        }
        JobStatus::Completed => Ok(Attestation::TooLate),
        _ => Err(JobError::Job {
            job,
            reason: "the job was refunded before its result was attested".into(),
        }),
    }
}

fn reverted_with(e: &ChainError, what: impl Fn(&ContractError) -> bool) -> bool {
    matches!(e, ChainError::Reverted(RevertReason::Contract(c)) if what(c))
}
