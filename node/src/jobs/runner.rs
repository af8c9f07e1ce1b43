//! A committee member's side of a job: answer the requester's `Hello` (check everything on
//! chain, compile, then — within the capacity limits — load the input shares) and `Start` (check
//! the chain again, run the MPC session with the live members, check the chain once more before
//! the output shares go to the requester only, attest the result commitment).
//!
//! Nothing here trusts the requester beyond what the chain says: the job, its grant, its program
//! hash and its output key are read from the chain; the requester's peer must be the one bound
//! to the job's output key; the live set only chooses which honest-majority subset computes.
//! Every step that releases anything ([`may_release`]) re-reads the job and its grant, so a
//! refunded job, a revoked grant or a passed deadline stops it at the next step.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use libp2p::PeerId;
use sharenet_chain_adapter::Ledger;
use sharenet_dht::{RecordContent, SignedRecord};
use sharenet_mpc::field::Mp127;
use sharenet_mpc::ir;
use sharenet_mpc::protocol::{RandomnessSource, Security, Session};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::attest::{Attestation, attest_result};
use super::query::{
    JobDataset, JobQuery, OpenJob, Release, chain_datasets, check_manifest, compile_job,
    may_release,
};
use super::release::ReleaseGate;
use super::wire::{JobReply, JobRequest};
use super::{JobError, result_commitment, session_id};
use crate::daemon::peer_id_from_chain_key;
use crate::net::{Client, InboundRequest, Protocol};
use crate::store::{DatasetId, ShareStore, UploadState};

/// Jobs prepared and waiting for their start on one member, at most (each holds its input
/// columns in memory).
pub const MAX_PREPARED: usize = 8;
/// Jobs of one requester (its chain account) prepared on one member, at most: one requester
/// cannot take the slots of the others.
pub const MAX_PREPARED_PER_REQUESTER: usize = 4;
/// How long a prepared job keeps its slot, in chain seconds from its first `Hello` (repeated
/// ones do not extend it; never past its deadline). A requester starts a job right after the readiness round and asks again
/// before each retry, so a slot it leaves unused comes back after this time.
pub const PREPARED_TTL_SECS: u64 = 300;
/// Attempts of one job a member takes part in (a failed attempt may be retried with another
/// live set; each attempt reveals the same output again, so they are few).
pub const MAX_ATTEMPTS: u8 = 3;

/// The pause between chain reads while a member waits for a job's sealing to close.
pub const SEAL_POLL: Duration = Duration::from_millis(200);

/// The longest a member waits, after computing, for a job's sealing to close and its result to
/// be revealed (the chain's reveal window ends it earlier for jobs due sooner).
pub const ATTEST_WAIT_MAX: Duration = Duration::from_secs(2 * 3600);

/// Job counters, exported as metrics.
#[derive(Debug, Default)]
pub struct JobCounters {
    /// `JobSubmitted` events seen for a committee this node is in.
    pub seen: AtomicU64,
    /// Jobs prepared (answered `Ready`).
    pub prepared: AtomicU64,
    /// Preparations that loaded a job's input columns from the store (only after the capacity
    /// check; a repeated `Hello` of a prepared job loads nothing).
    pub inputs_loaded: AtomicU64,
    /// Requests refused (job, grant, manifest or compile checks).
    pub refused: AtomicU64,
    /// Sessions that ran to the end and were attested.
    pub attested: AtomicU64,
    /// Sessions that failed.
    pub failed: AtomicU64,
}

impl JobCounters {
    /// The counters in metrics order: seen, prepared, refused, attested, failed.
    pub fn snapshot(&self) -> [u64; 5] {
        [
            self.seen.load(Relaxed),
            self.prepared.load(Relaxed),
            self.refused.load(Relaxed),
            self.attested.load(Relaxed),
            self.failed.load(Relaxed),
        ]
    }
}

/// A job checked on chain and compiled, not yet loaded.
struct CheckedJob {
    committee: Vec<PeerId>,
    me: usize,
    threshold: usize,
    /// The peer bound to the job's output key.
    requester: PeerId,
    /// The job's requester on chain (whose share of the slots it takes).
    account: Address,
    query: Arc<JobQuery>,
    datasets: Vec<JobDataset>,
    /// The registered manifest of each dataset: inputs loaded for others are stale.
    manifests: Vec<B256>,
    deadline: u64,
    chain_now: u64,
}

/// A job checked and ready to run.
struct PreparedJob {
    committee: Vec<PeerId>,
    me: usize,
    threshold: usize,
    requester: PeerId,
    query: Arc<JobQuery>,
    manifests: Vec<B256>,
    inputs: Arc<Vec<Vec<Mp127>>>,
    attempts: u8,
}

/// A job's place in the prepared table: taken when the capacity check passes, filled once its
/// inputs are loaded.
struct Slot {
    /// The requester's chain account.
    requester: Address,
    /// Chain time after which the slot is free again.
    expires_at: u64,
    /// `None` while the inputs are loading.
    job: Option<PreparedJob>,
}

/// What the capacity check decided for a `Hello`.
enum Reservation {
    /// The job is prepared already with the same inputs: its slot was renewed.
    Renewed,
    /// A slot was taken: load the inputs.
    Load,
}

/// Serves the job protocol for a committee member.
pub struct JobService<L> {
    /// The chain.
    pub ledger: L,
    /// The swarm.
    pub client: Client,
    /// The shares.
    pub store: ShareStore,
    /// This node's chain account.
    pub account: Address,
    /// How long an MPC session waits for any one message.
    pub session_timeout: Duration,
    /// Counters for the metrics.
    pub counters: Arc<JobCounters>,
    /// The lowest security level this node runs a job at.
    pub min_security: Security,
    prepared: Arc<Mutex<HashMap<U256, Slot>>>,
    running: Arc<Mutex<HashSet<U256>>>,
}

impl<L: Clone> Clone for JobService<L> {
    fn clone(&self) -> Self {
        JobService {
            ledger: self.ledger.clone(),
            client: self.client.clone(),
            store: self.store.clone(),
            account: self.account,
            session_timeout: self.session_timeout,
            counters: self.counters.clone(),
            min_security: self.min_security,
            prepared: self.prepared.clone(),
            running: self.running.clone(),
        }
    }
}

impl<L: Ledger + Clone + Send + Sync + 'static> JobService<L> {
    /// A service for the node with chain account `account`.
    pub fn new(
        ledger: L,
        client: Client,
        store: ShareStore,
        account: Address,
        session_timeout: Duration,
        counters: Arc<JobCounters>,
    ) -> Self {
        JobService {
            ledger,
            client,
            store,
            account,
            session_timeout,
            counters,
            min_security: Security::Malicious,
            prepared: Arc::default(),
            running: Arc::default(),
        }
    }

    /// The same service with another lowest security level (default: malicious).
    pub fn with_min_security(mut self, min_security: Security) -> Self {
        self.min_security = min_security;
        self
    }

    /// Serves job requests from `inbound` until it closes.
    pub async fn run(self, mut inbound: mpsc::Receiver<InboundRequest>) {
        while let Some(request) = inbound.recv().await {
            if request.protocol != Protocol::Job {
                continue;
            }
            let service = self.clone();
            tokio::spawn(async move {
                let peer = request.peer;
                let reply = match JobRequest::decode(&request.payload) {
                    Ok(r) => service.handle(peer, r).await,
                    Err(e) => Err(JobError::Job {
                        job: U256::ZERO,
                        reason: e.to_string(),
                    }),
                };
                let reply = reply.unwrap_or_else(|e| {
                    service.counters.refused.fetch_add(1, Relaxed);
                    warn!(%peer, error = %e, "job request refused");
                    match e {
                        JobError::Busy { .. } => JobReply::Busy(e.to_string()),
                        _ => JobReply::Refused(e.to_string()),
                    }
                });
                let _ = service.client.respond(request, reply.encode()).await;
            });
        }
    }

    async fn handle(&self, peer: PeerId, request: JobRequest) -> Result<JobReply, JobError> {
        match request {
            JobRequest::Hello { job, program } => {
                self.hello(peer, job, &program).await?;
                self.counters.prepared.fetch_add(1, Relaxed);
                info!(%job, "job prepared");
                Ok(JobReply::Ready)
            }
            JobRequest::Start {
                job,
                attempt,
                live,
                security,
            } => {
                self.start(peer, job, attempt, live, security).await?;
                Ok(JobReply::Accepted)
            }
        }
    }

    /// Checks the job, takes a slot for it, then loads its inputs.
    async fn hello(&self, peer: PeerId, job: U256, program: &str) -> Result<(), JobError> {
        let checked = self.check(peer, job, program).await?;
        if let Reservation::Renewed = self.reserve(job, &checked)? {
            return Ok(());
        }
        let loaded = self.load_inputs(&checked.datasets, &checked.query).await;
        let mut table = self.prepared.lock().map_err(|_| poisoned())?;
        let inputs = match loaded {
            Ok(inputs) => inputs,
            Err(e) => {
                table.remove(&job);
                return Err(e);
            }
        };
        self.counters.inputs_loaded.fetch_add(1, Relaxed);
        let attempts = table
            .get(&job)
            .and_then(|s| s.job.as_ref())
            .map_or(0, |p| p.attempts);
        let prepared = PreparedJob {
            committee: checked.committee,
            me: checked.me,
            threshold: checked.threshold,
            requester: checked.requester,
            query: checked.query,
            manifests: checked.manifests,
            inputs: Arc::new(inputs),
            attempts,
        };
        // The slot may have expired while loading: take it again (the capacity was checked).
        table
            .entry(job)
            .or_insert(Slot {
                requester: checked.account,
                expires_at: slot_expiry(checked.chain_now, checked.deadline),
                job: None,
            })
            .job = Some(prepared);
        Ok(())
    }

    /// The capacity check, before anything is loaded: renews the slot of a job prepared with the
    /// same inputs, or takes a new one if this node and the job's requester have room.
    fn reserve(&self, job: U256, checked: &CheckedJob) -> Result<Reservation, JobError> {
        let busy = |reason: String| JobError::Busy { job, reason };
        let mut table = self.prepared.lock().map_err(|_| poisoned())?;
        forget_expired(&mut table, checked.chain_now);
        let expires_at = slot_expiry(checked.chain_now, checked.deadline);
        if let Some(slot) = table.get_mut(&job) {
            return match &slot.job {
                None => Err(busy(
                    "the job is being prepared here; ask again shortly".into(),
                )),
                // A repeated Hello keeps the slot until the expiry set at the first one: renewals
                // cannot hold a slot past PREPARED_TTL_SECS.
                Some(p) if p.manifests == checked.manifests => Ok(Reservation::Renewed),
                // The datasets were appended to since: load again (a repeated Hello keeps the
                // attempts already made).
                Some(_) => Ok(Reservation::Load),
            };
        }
        if table.len() >= MAX_PREPARED {
            return Err(busy(format!(
                "this node has {MAX_PREPARED} jobs prepared; try again shortly"
            )));
        }
        let mine = table
            .values()
            .filter(|s| s.requester == checked.account)
            .count();
        if mine >= MAX_PREPARED_PER_REQUESTER {
            return Err(busy(format!(
                "{mine} jobs prepared here for this requester already, the most one requester may have ({MAX_PREPARED_PER_REQUESTER}); start or let them expire first"
            )));
        }
        table.insert(
            job,
            Slot {
                requester: checked.account,
                expires_at,
                job: None,
            },
        );
        Ok(Reservation::Load)
    }

    /// Checks the job on chain and compiles its query: everything short of loading it.
    async fn check(&self, peer: PeerId, job: U256, program: &str) -> Result<CheckedJob, JobError> {
        let refuse = |reason: &str| JobError::Job {
            job,
            reason: reason.to_string(),
        };
        let OpenJob { info, .. } =
            may_release(&self.ledger, job, self.account, None, Release::Ready).await?;
        let requester = <[u8; 32]>::try_from(info.outputKey.as_ref())
            .ok()
            .and_then(|k| peer_id_from_chain_key(B256::from(k)))
            .ok_or_else(|| refuse("the job's output key is not an ed25519 key"))?;
        if requester != peer {
            return Err(refuse(
                "only the peer of the job's output key may prepare or start it",
            ));
        }
        let infos = chain_datasets(&self.ledger, &info.datasetIds).await?;
        let committee_accounts = infos
            .first()
            .map(|d| d.committee.clone())
            .unwrap_or_default();
        let me = committee_accounts
            .iter()
            .position(|a| *a == self.account)
            .ok_or_else(|| refuse("this node is not in the datasets' committee"))?;
        let threshold = infos.first().map_or(0, |d| usize::from(d.threshold));
        let mut datasets = Vec::with_capacity(infos.len());
        for (id, chain) in info.datasetIds.iter().zip(infos) {
            let manifest = self.held_manifest(*id, chain.manifestHash).await?;
            datasets.push(check_manifest(*id, chain, manifest)?);
        }
        let query = compile_job(program, &datasets)?;
        if query.program_hash != info.programHash {
            return Err(refuse(
                "the query text is not the one the job was submitted with",
            ));
        }
        if query.kind.code() != info.kind {
            return Err(refuse("the job's kind is not the kind of its query"));
        }
        // The job again, now with its grant: the last look before the answer and the loading.
        let open = may_release(
            &self.ledger,
            job,
            self.account,
            Some(&query),
            Release::Ready,
        )
        .await?;
        let mut committee = Vec::with_capacity(committee_accounts.len());
        for account in &committee_accounts {
            let key = self.ledger.node_info(*account).await?.peerKey;
            committee.push(
                peer_id_from_chain_key(key)
                    .ok_or_else(|| refuse("a committee member has no ed25519 peer key"))?,
            );
        }
        Ok(CheckedJob {
            committee,
            me,
            threshold,
            requester,
            account: open.info.requester,
            query: Arc::new(query),
            manifests: datasets.iter().map(|d| d.info.manifestHash).collect(),
            datasets,
            deadline: open.info.deadline,
            chain_now: open.chain_now,
        })
    }

    /// The registered manifest of a dataset this node holds: as stored by the manifest keeper,
    /// or fetched from the DHT now when the keeper has not caught up yet (right after an upload
    /// or an append).
    async fn held_manifest(
        &self,
        id: B256,
        registered: B256,
    ) -> Result<sharenet_dht::DatasetManifest, JobError> {
        let store = self.store.clone();
        let dataset = DatasetId(id.0);
        let (bytes, state) = tokio::task::spawn_blocking(move || {
            let state = store.state(&dataset).ok();
            store.manifest(&dataset).map(|m| (m, state))
        })
        .await
        .map_err(|e| JobError::Task(e.to_string()))??;
        let missing = |reason: &str| JobError::Manifest {
            dataset: id,
            reason: reason.to_string(),
        };
        if state != Some(UploadState::Registered) {
            return Err(missing(
                "this node does not hold the dataset's registered shares",
            ));
        }
        let stored = bytes
            .and_then(|b| SignedRecord::from_bytes(&b).ok())
            .and_then(|r| match r.content() {
                Ok(RecordContent::Manifest(m)) => Some(m),
                _ => None,
            })
            .filter(|m| m.is_registered_version(&id.0, &registered.0));
        if let Some(m) = stored {
            return Ok(m);
        }
        let found = crate::owner::registered_manifest(&self.client, id, registered)
            .await
            .map_err(|e| {
                missing(&format!(
                    "its registered manifest could not be fetched: {e}"
                ))
            })?;
        found.ok_or_else(|| {
            missing("its registered manifest is not in the DHT yet; try again shortly")
        })
    }

    /// The union's input columns, in program input order: each column is the datasets' shares
    /// of that schema column, in FROM order.
    async fn load_inputs(
        &self,
        datasets: &[JobDataset],
        query: &JobQuery,
    ) -> Result<Vec<Vec<Mp127>>, JobError> {
        let store = self.store.clone();
        let ids: Vec<(DatasetId, u64)> = datasets
            .iter()
            .map(|d| (DatasetId(d.id.0), d.info.rows))
            .collect();
        let columns = query.compiled.inputs.clone();
        let rows = query.rows;
        tokio::task::spawn_blocking(move || -> Result<Vec<Vec<Mp127>>, JobError> {
            let mut out = Vec::with_capacity(columns.len());
            for column in columns {
                let mut values = Vec::with_capacity(rows);
                for (id, expected_rows) in &ids {
                    let part = store.column(id, column as u32)?;
                    if part.len() as u64 != *expected_rows {
                        return Err(JobError::Manifest {
                            dataset: B256::from(id.0),
                            reason: format!(
                                "this node holds {} rows, the chain says {expected_rows}",
                                part.len()
                            ),
                        });
                    }
                    values.extend(part);
                }
                out.push(values);
            }
            Ok(out)
        })
        .await
        .map_err(|e| JobError::Task(e.to_string()))?
    }

    /// Validates a start, checks the job on chain again, and runs the session in the background.
    async fn start(
        &self,
        peer: PeerId,
        job: U256,
        attempt: u8,
        live: Vec<u16>,
        security: Security,
    ) -> Result<(), JobError> {
        let refuse = |reason: String| JobError::Job { job, reason };
        if security == Security::SemiHonest && self.min_security != Security::SemiHonest {
            return Err(refuse(format!(
                "the job asks for {security} security; this node runs jobs at {} security only",
                self.min_security
            )));
        }
        let not_prepared = || refuse("the job was not prepared here (send Hello first)".into());
        let query = {
            let table = self.prepared.lock().map_err(|_| poisoned())?;
            let prepared = table
                .get(&job)
                .and_then(|s| s.job.as_ref())
                .ok_or_else(not_prepared)?;
            if prepared.requester != peer {
                return Err(refuse("only the job's requester may start it".into()));
            }
            prepared.query.clone()
        };
        let open = may_release(
            &self.ledger,
            job,
            self.account,
            Some(&query),
            Release::Start,
        )
        .await?;
        let mut table = self.prepared.lock().map_err(|_| poisoned())?;
        forget_expired(&mut table, open.chain_now);
        let prepared = table
            .get_mut(&job)
            .and_then(|s| s.job.as_mut())
            .ok_or_else(not_prepared)?;
        let n = prepared.committee.len();
        let needed = 2 * prepared.threshold + 1;
        let ascending = live.windows(2).all(|w| w[0] < w[1]);
        if !ascending || live.iter().any(|i| usize::from(*i) >= n) {
            return Err(refuse(
                "the live set must list committee indices once each, ascending".into(),
            ));
        }
        if live.len() < needed {
            return Err(refuse(format!(
                "{} live members, the protocol needs {needed} (2t + 1)",
                live.len()
            )));
        }
        if security == Security::Malicious && live.len() != needed {
            return Err(refuse(format!(
                "{} live members, a malicious-secure session runs with exactly {needed} (2t + 1)",
                live.len()
            )));
        }
        let Some(my_position) = live.iter().position(|i| usize::from(*i) == prepared.me) else {
            return Err(refuse("this node is not in the live set".into()));
        };
        if prepared.attempts >= MAX_ATTEMPTS {
            return Err(refuse(format!(
                "the job was already attempted {MAX_ATTEMPTS} times"
            )));
        }
        {
            let mut running = self.running.lock().map_err(|_| poisoned())?;
            if !running.insert(job) {
                return Err(refuse("the job is already running here".into()));
            }
        }
        prepared.attempts += 1;
        let session = session_id(job, attempt, &live);
        let mut peers: Vec<PeerId> = live
            .iter()
            .map(|i| prepared.committee[usize::from(*i)])
            .collect();
        peers.push(prepared.requester);
        let original_points: Vec<u64> = live.iter().map(|i| u64::from(*i) + 1).collect();
        let transport =
            self.client
                .mpc_transport(session, my_position, peers, self.session_timeout);
        let n_live = original_points.len();
        // The last check, right before the first output share leaves: the session may outlast
        // the job's deadline, its refund or its grant.
        let runtime = tokio::runtime::Handle::current();
        let (ledger, account) = (self.ledger.clone(), self.account);
        let (transport, refusal) = ReleaseGate::new(transport, n_live, move || {
            runtime
                .block_on(may_release(
                    &ledger,
                    job,
                    account,
                    Some(&query),
                    Release::Outputs,
                ))
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        let program = prepared.query.compiled.program.clone();
        let inputs = prepared.inputs.clone();
        let t = prepared.threshold;
        let service = self.clone();
        drop(table);
        tokio::spawn(async move {
            let computed = tokio::task::spawn_blocking(move || {
                let mut session = Session::new(n_live, t, transport, RandomnessSource::Auto)?;
                let run = |session: &mut Session<Mp127, _>| -> Result<_, JobRunError> {
                    session.set_security(security)?;
                    // One random value opened to the live members: the transcript, and so the
                    // result commitment, cannot then be guessed by a member that took no part (a
                    // query that opens nothing else to all would have a commitment computable
                    // from public data, and such a member could seal it without computing).
                    let nonce = session.random_shares(1)?;
                    session.open(&nonce)?;
                    // The stored shares sit at the members' committee points: re-share them to
                    // the session's points (no communication when the live set is the
                    // committee's first members).
                    let inputs = session.reshare_columns_from_points(&original_points, &inputs)?;
                    let outcome = ir::execute(session, &program, &inputs, n_live)?;
                    Ok((outcome.released, session.transcript_digest()))
                };
                let outcome = run(&mut session);
                if outcome.is_err() {
                    // Stop the other members and the requester at once (their next receive
                    // fails with `Aborted`) rather than at their timeouts: the requester can
                    // then retry the job while there is time.
                    let everyone: Vec<usize> = (0..=n_live).collect();
                    session.notify_abort(&everyone);
                }
                outcome
            })
            .await;
            let result = match computed {
                Ok(Ok((released, digest))) => {
                    let commitment = result_commitment(job, &digest, &released);
                    attest_result(
                        &service.ledger,
                        job,
                        service.account,
                        commitment,
                        SEAL_POLL,
                        ATTEST_WAIT_MAX,
                    )
                    .await
                }
                Ok(Err(e)) => Err(match refusal.reason() {
                    Some(reason) => JobError::Job {
                        job,
                        reason: format!("the outputs were withheld: {reason}"),
                    },
                    None => JobError::Mpc {
                        job,
                        reason: e.to_string(),
                    },
                }),
                Err(e) => Err(JobError::Task(e.to_string())),
            };
            if let Ok(mut running) = service.running.lock() {
                running.remove(&job);
            }
            match result {
                Ok(attestation) => {
                    service.counters.attested.fetch_add(1, Relaxed);
                    if let Ok(mut table) = service.prepared.lock() {
                        table.remove(&job);
                    }
                    match attestation {
                        Attestation::Dissented => warn!(
                            %job, attempt, live = n_live,
                            "job computed; the committee completed it with another result than this node's"
                        ),
                        Attestation::TooLate => info!(
                            %job, attempt, live = n_live,
                            "job computed; completed without this node's seal (sealing had closed)"
                        ),
                        _ => info!(%job, attempt, live = n_live, "job computed and attested"),
                    }
                }
                Err(e) => {
                    service.counters.failed.fetch_add(1, Relaxed);
                    warn!(%job, attempt, error = %e, "job failed");
                }
            }
        });
        Ok(())
    }
}

/// When a slot taken or renewed at chain time `now` for a job due at `deadline` is free again.
fn slot_expiry(now: u64, deadline: u64) -> u64 {
    now.saturating_add(PREPARED_TTL_SECS).min(deadline)
}

/// Frees the slots whose time is up at chain time `now` (slots still loading stay).
fn forget_expired(table: &mut HashMap<U256, Slot>, now: u64) {
    table.retain(|_, s| s.job.is_none() || s.expires_at > now);
}

/// Why a session failed (party indices and kinds only).
#[derive(Debug, thiserror::Error)]
enum JobRunError {
    #[error(transparent)]
    Protocol(#[from] sharenet_mpc::protocol::ProtocolError),
    #[error(transparent)]
    Exec(#[from] ir::ExecError),
}

fn poisoned() -> JobError {
    JobError::Task("job table lock poisoned".into())
}
