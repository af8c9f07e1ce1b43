//! The requester's side of a job (the researcher's client): compile and check before anything
//! reaches the chain, submit, find the live committee members, start the session, receive and
//! check the output shares, and wait for the committee's attestations.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, Bytes, U256};
use libp2p::PeerId;
use sharenet_chain_adapter::bindings::AccessGrants::AccessGrantsEvents;
use sharenet_chain_adapter::{ChainEventKind, EventCursor, JobStatus, Ledger, NewJob};
use sharenet_mpc::ir;
use sharenet_mpc::protocol::{OutsideParty, Security};
use sharenet_query::{QueryResult, assemble};

use super::query::{
    JobDataset, JobQuery, chain_datasets, check_grant, check_manifest, compile_job,
};
use super::runner::MAX_ATTEMPTS;
use super::wire::{JobReply, JobRequest};
use super::{JobError, session_id};
use crate::daemon::peer_id_from_chain_key;
use crate::net::{Client, Protocol};
use crate::owner::registered_manifest;

/// What to run and how to pay for it.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// The query text.
    pub text: String,
    /// The datasets bound to the query's FROM names, in order.
    pub datasets: Vec<B256>,
    /// The grant to use (`None`: the first of the requester's grants that allows the query).
    pub grant: Option<U256>,
    /// The fee (wei).
    pub fee: U256,
    /// How long the committee has before the fee becomes refundable.
    pub deadline: Duration,
    /// How long to wait for the committee members' answers.
    pub ready_timeout: Duration,
    /// How long the session waits for any one message.
    pub session_timeout: Duration,
    /// How long to wait for the attestations after the result arrived.
    pub attest_timeout: Duration,
    /// The session's security level (malicious: the session runs with exactly 2t + 1 of the
    /// ready members, another subset on each retry).
    pub security: Security,
}

/// Where a job is (for progress display).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Compiled and checked against the grant.
    Checked {
        /// The grant used.
        grant: U256,
    },
    /// Submitted on chain.
    Submitted {
        /// The job id.
        job: U256,
    },
    /// Committee members ready.
    Ready {
        /// Ready members.
        live: usize,
        /// Committee size.
        committee: usize,
    },
    /// The session started (attempt number from 0).
    Started {
        /// Attempt.
        attempt: u8,
    },
    /// An attempt failed; another follows.
    Retrying {
        /// The failed attempt.
        attempt: u8,
        /// Why.
        reason: String,
    },
    /// The result was received and checked.
    Received,
    /// The committee attested (or the wait ended).
    Attested {
        /// Whether the job completed on chain (fee paid out).
        completed: bool,
    },
}

/// A finished job.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    /// The job id.
    pub job: U256,
    /// The result, readable only here.
    pub result: QueryResult,
    /// Members that computed.
    pub live: usize,
    /// Committee size.
    pub committee: usize,
    /// The fee paid.
    pub fee: U256,
    /// Whether the job completed on chain (the fee was paid out to the committee).
    pub completed: bool,
    /// Committee indices of members whose output shares were off the polynomial and corrected
    /// by the requester's check (possible when the live set has at least 3t + 1 members):
    /// evidence that they misbehaved; the result is still right.
    pub corrected: Vec<usize>,
    /// Committee indices of members whose attestation differs from the quorum's: they saw a
    /// different public transcript, so the result may be wrong (treat the job as failed).
    pub dissent: Vec<usize>,
    /// From submission to the checked result (the attestations come after).
    pub latency: Duration,
}

/// The 32-byte public key the requester's outputs are for: its client identity's ed25519 key.
pub fn output_key(client: &Client) -> Result<Bytes, JobError> {
    client
        .peer_key()
        .map(|k| Bytes::from(k.to_vec()))
        .ok_or_else(|| JobError::Task("the client identity is not an ed25519 key".into()))
}

/// Dials the committee members (for the DHT and the job protocol), all at once, and returns
/// their peer ids in committee order. Members that cannot be reached are still listed (they
/// will not be ready).
pub async fn dial_committee<L: Ledger>(
    ledger: &L,
    client: &Client,
    committee: &[Address],
) -> Result<Vec<PeerId>, JobError> {
    let mut peers = Vec::with_capacity(committee.len());
    let mut dials = Vec::with_capacity(committee.len());
    for account in committee {
        let info = ledger.node_info(*account).await?;
        let peer = peer_id_from_chain_key(info.peerKey).ok_or_else(|| JobError::Job {
            job: U256::ZERO,
            reason: format!("committee member {account} has no ed25519 peer key"),
        })?;
        if let Some(addr) = crate::owner::dial_address(&info.networkAddress) {
            dials.push(client.dial(peer, addr));
        }
        peers.push(peer);
    }
    // A member that is down (or registered a bogus address) is found out by the readiness
    // round; every dial ends within its timeout.
    let _ = futures::future::join_all(dials).await;
    Ok(peers)
}

/// Compiles `text` over `datasets` (FROM order) with their registered manifests: everything
/// the committee will check, checked here first. Also returns the committee's accounts.
pub async fn prepare_query<L: Ledger>(
    ledger: &L,
    client: &Client,
    text: &str,
    datasets: &[B256],
) -> Result<(Vec<JobDataset>, JobQuery, Vec<PeerId>), JobError> {
    let infos = chain_datasets(ledger, datasets).await?;
    let committee = infos
        .first()
        .map(|d| d.committee.clone())
        .unwrap_or_default();
    let peers = dial_committee(ledger, client, &committee).await?;
    let mut checked = Vec::with_capacity(infos.len());
    for (id, info) in datasets.iter().zip(infos) {
        let manifest = registered_manifest(client, *id, info.manifestHash)
            .await
            .map_err(|e| JobError::Manifest {
                dataset: *id,
                reason: e.to_string(),
            })?
            .ok_or_else(|| JobError::Manifest {
                dataset: *id,
                reason: "its manifest is not in the DHT (is its committee up?)".into(),
            })?;
        checked.push(check_manifest(*id, info, manifest)?);
    }
    let query = compile_job(text, &checked)?;
    Ok((checked, query, peers))
}

/// The first grant made to `who` that allows `query` on `datasets` now; otherwise the most
/// specific refusal among the grants covering the datasets, or [`JobError::NoGrant`].
pub async fn find_grant<L: Ledger>(
    ledger: &L,
    who: Address,
    datasets: &[B256],
    query: &JobQuery,
) -> Result<U256, JobError> {
    let (events, _) = ledger.events_since(EventCursor::default()).await?;
    let mut refusal = None;
    for event in events {
        let ChainEventKind::Grant(AccessGrantsEvents::AccessGranted(g)) = event.kind else {
            continue;
        };
        if g.grantee != who {
            continue;
        }
        match check_grant(ledger, g.grantId, who, datasets, query, false).await {
            Ok(()) => return Ok(g.grantId),
            Err(e @ JobError::Refused(_)) => {
                // A grant that covers the datasets explains the refusal best.
                if datasets.iter().all(|d| g.datasetIds.contains(d)) || refusal.is_none() {
                    refusal = Some(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(refusal.unwrap_or(JobError::NoGrant))
}

/// Runs a query end to end: check, submit, compute, receive, wait for the attestations.
pub async fn run_query<L: Ledger>(
    ledger: &L,
    client: &Client,
    request: &QueryRequest,
    mut progress: impl FnMut(Progress),
) -> Result<QueryOutcome, JobError> {
    let (_, query, committee) =
        prepare_query(ledger, client, &request.text, &request.datasets).await?;
    let me = ledger.account();
    let grant = match request.grant {
        Some(g) => {
            check_grant(ledger, g, me, &request.datasets, &query, false).await?;
            g
        }
        None => find_grant(ledger, me, &request.datasets, &query).await?,
    };
    progress(Progress::Checked { grant });
    let submitted_at = Instant::now();
    let deadline = ledger
        .chain_time()
        .await?
        .saturating_add(request.deadline.as_secs().max(1));
    let (_, job) = ledger
        .submit_job(&NewJob {
            grant_id: grant,
            datasets: request.datasets.clone(),
            kind: query.kind.code(),
            program_hash: query.program_hash,
            program: request.text.clone(),
            output_key: output_key(client)?,
            deadline,
            fee: request.fee,
        })
        .await?;
    progress(Progress::Submitted { job });
    let result = run_submitted(
        ledger,
        client,
        request,
        job,
        &query,
        &committee,
        &mut progress,
    )
    .await?;
    let latency = submitted_at.elapsed();
    let completed = wait_completed(ledger, job, request.attest_timeout).await?;
    progress(Progress::Attested { completed });
    let dissent = if completed {
        dissenting_members(ledger, job, &request.datasets).await?
    } else {
        Vec::new()
    };
    Ok(QueryOutcome {
        job,
        result: result.0,
        live: result.1,
        corrected: result.2,
        committee: committee.len(),
        fee: request.fee,
        completed,
        dissent,
        latency,
    })
}

/// Committee indices of the members that sealed something other than a completed job's result
/// (their seal did not open to it).
pub async fn dissenting_members<L: Ledger>(
    ledger: &L,
    job: U256,
    datasets: &[B256],
) -> Result<Vec<usize>, JobError> {
    let result = ledger.job_info(job).await?.result;
    let committee = ledger
        .dataset_info(datasets.first().copied().unwrap_or_default())
        .await?
        .committee;
    let mut out = Vec::new();
    for (i, account) in committee.iter().enumerate() {
        if ledger.seal_of(job, *account).await? == B256::ZERO {
            continue; // took no part, or sealing closed before it sealed
        }
        if ledger.attestation(job, *account).await? != result {
            out.push(i);
        }
    }
    Ok(out)
}

/// Waits until the job completes on chain (or `timeout`): whether it did.
pub async fn wait_completed<L: Ledger>(
    ledger: &L,
    job: U256,
    timeout: Duration,
) -> Result<bool, JobError> {
    let until = Instant::now() + timeout;
    loop {
        let status = JobStatus::from_u8(ledger.job_info(job).await?.status)?;
        if status == JobStatus::Completed {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The gate of one requester account's jobs in this process (one per account, shared by every
/// `run_query` of it).
fn requester_turn(account: alloy::primitives::Address) -> Arc<tokio::sync::Semaphore> {
    static GATES: OnceLock<
        Mutex<HashMap<alloy::primitives::Address, Arc<tokio::sync::Semaphore>>>,
    > = OnceLock::new();
    let gates = GATES.get_or_init(Mutex::default);
    let mut gates = gates
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    gates
        .entry(account)
        .or_insert_with(|| {
            Arc::new(tokio::sync::Semaphore::new(
                super::runner::MAX_PREPARED_PER_REQUESTER,
            ))
        })
        .clone()
}

/// Runs a submitted job: readiness round, start, receive. Retries with a new live set while
/// attempts remain.
async fn run_submitted<L: Ledger>(
    ledger: &L,
    client: &Client,
    request: &QueryRequest,
    job: U256,
    query: &JobQuery,
    committee: &[PeerId],
    progress: &mut impl FnMut(Progress),
) -> Result<(QueryResult, usize, Vec<usize>), JobError> {
    let threshold = usize::from(
        ledger
            .dataset_info(request.datasets.first().copied().unwrap_or_default())
            .await?
            .threshold,
    );
    let needed = 2 * threshold + 1;
    // At most MAX_PREPARED_PER_REQUESTER jobs of this account at once: members keep that many
    // prepared per requester, and more would hold slots on some members while waiting on others.
    let _turn = requester_turn(ledger.account())
        .acquire_owned()
        .await
        .map_err(|_| JobError::Task("the requester's job gate closed".into()))?;
    client
        .set_allowed(committee.iter().copied().collect::<HashSet<_>>())
        .await?;
    let mut last_error = None;
    for attempt in 0..MAX_ATTEMPTS {
        let mut live;
        // Members that just received the dataset may still be catching up with the chain: ask
        // again shortly before concluding that too few are up. Members that are busy (no slot
        // for the job now) are asked again for up to BUSY_WAIT: their slots free up as other
        // jobs start or expire.
        let busy_until = tokio::time::Instant::now() + BUSY_WAIT;
        let mut round = 0;
        loop {
            if round > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            round += 1;
            let busy;
            (live, busy) =
                ready_members(client, committee, job, &request.text, request.ready_timeout).await;
            if live.len() == committee.len() {
                break;
            }
            let keep_asking = if busy > 0 {
                tokio::time::Instant::now() < busy_until
            } else {
                round < READY_ROUNDS
            };
            if !keep_asking {
                break;
            }
        }
        progress(Progress::Ready {
            live: live.len(),
            committee: committee.len(),
        });
        if live.len() < needed {
            return Err(last_error.unwrap_or(JobError::NotEnoughNodes {
                job,
                live: live.len(),
                committee: committee.len(),
                needed,
            }));
        }
        if request.security == Security::Malicious {
            live = session_members(&live, needed, attempt);
        }
        progress(Progress::Started { attempt });
        match run_attempt(
            client, request, job, query, committee, threshold, attempt, &live,
        )
        .await
        {
            Ok((result, corrected)) => {
                progress(Progress::Received);
                // Session indices → committee indices.
                let corrected = corrected
                    .into_iter()
                    .filter_map(|i| live.get(i).map(|m| usize::from(*m)))
                    .collect();
                return Ok((result, live.len(), corrected));
            }
            Err(e) => {
                progress(Progress::Retrying {
                    attempt,
                    reason: e.to_string(),
                });
                last_error = Some(e);
                tokio::time::sleep(request.session_timeout.min(RETRY_PAUSE)).await;
            }
        }
    }
    Err(last_error.unwrap_or(JobError::Job {
        job,
        reason: "no attempt could run".into(),
    }))
}

/// Pause after a failed attempt before the next readiness round: members end a session at once
/// when a peer's connection is lost, and otherwise at their message timeout; a member still busy
/// refuses the next start and the attempt after it goes ahead without it.
const RETRY_PAUSE: Duration = Duration::from_secs(5);

/// Readiness rounds before a job is declared short of members.
const READY_ROUNDS: usize = 3;

/// How long members that answer `Busy` are asked again: a prepared slot is free at most
/// `runner::PREPARED_TTL_SECS` after it was last renewed.
const BUSY_WAIT: Duration = Duration::from_secs(super::runner::PREPARED_TTL_SECS);

/// Sends `Hello` to every member; returns the committee indices of those ready, ascending, and
/// how many answered `Busy`.
async fn ready_members(
    client: &Client,
    committee: &[PeerId],
    job: U256,
    text: &str,
    timeout: Duration,
) -> (Vec<u16>, usize) {
    let hello = JobRequest::Hello {
        job,
        program: text.to_string(),
    }
    .encode();
    let asks = committee.iter().enumerate().map(|(i, peer)| {
        let hello = hello.clone();
        async move {
            let answer =
                tokio::time::timeout(timeout, client.request(Protocol::Job, *peer, hello)).await;
            match answer {
                Ok(Ok(bytes)) => match JobReply::decode(&bytes) {
                    Ok(JobReply::Ready) => Readiness::Ready(i as u16),
                    Ok(JobReply::Busy(reason)) => {
                        tracing::info!(member = i, %reason, "committee member busy");
                        Readiness::Busy
                    }
                    Ok(JobReply::Refused(reason)) => {
                        tracing::info!(member = i, %reason, "committee member not ready");
                        Readiness::No
                    }
                    _ => Readiness::No,
                },
                _ => Readiness::No,
            }
        }
    });
    let answers = futures::future::join_all(asks).await;
    let busy = answers
        .iter()
        .filter(|a| matches!(a, Readiness::Busy))
        .count();
    let ready = answers
        .into_iter()
        .filter_map(|a| match a {
            Readiness::Ready(i) => Some(i),
            _ => None,
        })
        .collect();
    (ready, busy)
}

/// One member's answer to `Hello`.
enum Readiness {
    Ready(u16),
    Busy,
    No,
}

/// The `needed` members of a malicious session among the ready ones (ascending): a window that
/// moves with the attempt, so that a retry after an abort nobody could be blamed for runs without
/// some of the members of the failed attempt whenever more than `needed` are up.
fn session_members(ready: &[u16], needed: usize, attempt: u8) -> Vec<u16> {
    if ready.len() <= needed {
        return ready.to_vec();
    }
    let offset = usize::from(attempt) * (ready.len() - needed) % ready.len();
    let mut chosen: Vec<u16> = (0..needed)
        .map(|k| ready[(offset + k) % ready.len()])
        .collect();
    chosen.sort_unstable();
    chosen
}

/// One attempt: start the live members, receive and check the outputs.
#[allow(clippy::too_many_arguments)]
async fn run_attempt(
    client: &Client,
    request: &QueryRequest,
    job: U256,
    query: &JobQuery,
    committee: &[PeerId],
    threshold: usize,
    attempt: u8,
    live: &[u16],
) -> Result<(QueryResult, Vec<usize>), JobError> {
    let session = session_id(job, attempt, live);
    let mut peers: Vec<PeerId> = live.iter().map(|i| committee[usize::from(*i)]).collect();
    peers.push(client.local_peer_id());
    let n = live.len();
    // Claim the session before anyone sends: the router keeps early messages anyway.
    let transport = client.mpc_transport(session, n, peers.clone(), request.session_timeout);
    let program = query.compiled.program.clone();
    let receiving = tokio::task::spawn_blocking(move || {
        let mut outside = OutsideParty::new(n, threshold, transport).map_err(|e| e.to_string())?;
        ir::receive_checked(&mut outside, &program).map_err(|e| e.to_string())
    });
    let start = JobRequest::Start {
        job,
        attempt,
        live: live.to_vec(),
        security: request.security,
    }
    .encode();
    for (position, peer) in peers[..n].iter().enumerate() {
        let answer = client.request(Protocol::Job, *peer, start.clone()).await;
        match answer.map(|b| JobReply::decode(&b)) {
            Ok(Ok(JobReply::Accepted)) => {}
            Ok(Ok(JobReply::Refused(reason))) => {
                return Err(JobError::Job {
                    job,
                    reason: format!("member {} refused to start: {reason}", live[position]),
                });
            }
            _ => {
                return Err(JobError::Job {
                    job,
                    reason: format!("member {} did not answer the start", live[position]),
                });
            }
        }
    }
    let received = receiving
        .await
        .map_err(|e| JobError::Task(e.to_string()))?
        .map_err(|reason| JobError::Mpc { job, reason })?;
    let (received, corrected) = received;
    Ok((assemble(&query.compiled, &received), corrected))
}

#[cfg(test)]
mod tests {
    use super::session_members;

    #[test]
    fn a_malicious_session_takes_2t_plus_1_members_and_moves_on_each_retry() {
        let ready = [0u16, 2, 3, 5, 6];
        let attempts: Vec<Vec<u16>> = (0..3).map(|a| session_members(&ready, 3, a)).collect();
        for chosen in &attempts {
            assert_eq!(chosen.len(), 3);
            assert!(chosen.windows(2).all(|w| w[0] < w[1]), "{chosen:?}");
            assert!(chosen.iter().all(|m| ready.contains(m)), "{chosen:?}");
        }
        // Each retry leaves out someone the previous attempt had.
        for pair in attempts.windows(2) {
            assert!(pair[0].iter().any(|m| !pair[1].contains(m)), "{attempts:?}");
        }
        // With exactly 2t + 1 ready there is no choice.
        assert_eq!(session_members(&ready[..3], 3, 2), vec![0, 2, 3]);
    }
}
