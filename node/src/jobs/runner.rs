//! A committee member's side of a job: answer the requester's `Hello` (check everything on
//! chain, compile, load the input shares) and `Start` (run the MPC session with the live
//! members, send the output shares to the requester only, attest the result commitment).
//!
//! Nothing here trusts the requester beyond what the chain says: the job, its grant, its program
//! hash and its output key are read from the chain; the requester's peer must be the one bound
//! to the job's output key; the live set only chooses which honest-majority subset computes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use libp2p::PeerId;
use sharenet_chain_adapter::{JobStatus, Ledger};
use sharenet_dht::{RecordContent, SignedRecord};
use sharenet_mpc::field::Mp127;
use sharenet_mpc::ir;
use sharenet_mpc::protocol::{RandomnessSource, Session};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::query::{
    JobDataset, JobQuery, chain_datasets, check_grant, check_manifest, compile_job,
};
use super::wire::{JobReply, JobRequest};
use super::{JobError, result_commitment, session_id};
use crate::daemon::peer_id_from_chain_key;
use crate::net::{Client, InboundRequest, Protocol};
use crate::store::{DatasetId, ShareStore, UploadState};

/// Jobs prepared and waiting for their start, at most.
pub const MAX_PREPARED: usize = 8;
/// Attempts of one job a member takes part in (a failed attempt may be retried with another
/// live set; each attempt reveals the same output again, so they are few).
pub const MAX_ATTEMPTS: u8 = 3;

/// Job counters, exported as metrics.
#[derive(Debug, Default)]
pub struct JobCounters {
    /// `JobSubmitted` events seen for a committee this node is in.
    pub seen: AtomicU64,
    /// Jobs prepared (answered `Ready`).
    pub prepared: AtomicU64,
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

/// A job checked and ready to run.
struct PreparedJob {
    committee: Vec<PeerId>,
    me: usize,
    threshold: usize,
    requester: PeerId,
    query: JobQuery,
    inputs: Vec<Vec<Mp127>>,
    expires: Instant,
    attempts: u8,
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
    prepared: Arc<Mutex<HashMap<U256, PreparedJob>>>,
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
            prepared: Arc::default(),
            running: Arc::default(),
        }
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
                    JobReply::Refused(e.to_string())
                });
                let _ = service.client.respond(request, reply.encode()).await;
            });
        }
    }

    async fn handle(&self, peer: PeerId, request: JobRequest) -> Result<JobReply, JobError> {
        match request {
            JobRequest::Hello { job, program } => {
                let prepared = self.prepare(peer, job, &program).await?;
                let mut table = self.prepared.lock().map_err(|_| poisoned())?;
                let now = Instant::now();
                table.retain(|_, p| p.expires > now);
                if table.len() >= MAX_PREPARED && !table.contains_key(&job) {
                    return Err(JobError::Job {
                        job,
                        reason: "this node is preparing too many jobs; try again shortly".into(),
                    });
                }
                // A repeated Hello keeps the attempts already made.
                let attempts = table.get(&job).map_or(0, |p| p.attempts);
                table.insert(
                    job,
                    PreparedJob {
                        attempts,
                        ..prepared
                    },
                );
                self.counters.prepared.fetch_add(1, Relaxed);
                info!(%job, "job prepared");
                Ok(JobReply::Ready)
            }
            JobRequest::Start { job, attempt, live } => {
                self.start(peer, job, attempt, live)?;
                Ok(JobReply::Accepted)
            }
        }
    }

    /// Checks the job on chain and prepares it.
    async fn prepare(
        &self,
        peer: PeerId,
        job: U256,
        program: &str,
    ) -> Result<PreparedJob, JobError> {
        let refuse = |reason: &str| JobError::Job {
            job,
            reason: reason.to_string(),
        };
        let info = self.ledger.job_info(job).await?;
        match JobStatus::from_u8(info.status)? {
            JobStatus::Open => {}
            JobStatus::None => return Err(refuse("no such job on chain")),
            _ => return Err(refuse("the job is no longer open")),
        }
        let chain_now = self.ledger.chain_time().await?;
        if info.deadline <= chain_now {
            return Err(refuse("the job's deadline has passed"));
        }
        let requester = <[u8; 32]>::try_from(info.outputKey.as_ref())
            .ok()
            .and_then(|k| peer_id_from_chain_key(B256::from(k)))
            .ok_or_else(|| refuse("the job's output key is not an ed25519 key"))?;
        if requester != peer {
            return Err(refuse(
                "only the peer of the job's output key may prepare or start it",
            ));
        }
        if self.ledger.attestation(job, self.account).await? != B256::ZERO {
            return Err(refuse("this node already attested the job"));
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
        check_grant(
            &self.ledger,
            info.grantId,
            info.requester,
            &info.datasetIds,
            &query,
            true,
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
        let inputs = self.load_inputs(&datasets, &query).await?;
        Ok(PreparedJob {
            committee,
            me,
            threshold,
            requester,
            query,
            inputs,
            // Forgotten when the job's deadline passes (judged by the local clock from here on).
            expires: Instant::now()
                + Duration::from_secs(info.deadline.saturating_sub(chain_now).min(24 * 3600)),
            attempts: 0,
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
            .filter(|m| B256::from(m.manifest_hash()) == registered);
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

    /// Validates a start and runs the session in the background.
    fn start(&self, peer: PeerId, job: U256, attempt: u8, live: Vec<u16>) -> Result<(), JobError> {
        let refuse = |reason: String| JobError::Job { job, reason };
        let mut table = self.prepared.lock().map_err(|_| poisoned())?;
        let prepared = table
            .get_mut(&job)
            .ok_or_else(|| refuse("the job was not prepared here (send Hello first)".into()))?;
        if prepared.requester != peer {
            return Err(refuse("only the job's requester may start it".into()));
        }
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
        let program = prepared.query.compiled.program.clone();
        let inputs = prepared.inputs.clone();
        let t = prepared.threshold;
        let service = self.clone();
        drop(table);
        tokio::spawn(async move {
            let n_live = original_points.len();
            let computed = tokio::task::spawn_blocking(move || {
                let mut session = Session::new(n_live, t, transport, RandomnessSource::Auto)?;
                // The stored shares sit at the members' committee points: re-share them to the
                // session's points (no communication when the live set is the committee's first
                // members).
                let inputs = session.reshare_columns_from_points(&original_points, &inputs)?;
                let outcome = ir::execute(&mut session, &program, &inputs, n_live)?;
                Ok::<_, JobRunError>((outcome.released, session.transcript_digest()))
            })
            .await;
            let result = match computed {
                Ok(Ok((released, digest))) => {
                    let commitment = result_commitment(job, &digest, &released);
                    service
                        .ledger
                        .attest(job, commitment)
                        .await
                        .map_err(JobError::from)
                }
                Ok(Err(e)) => Err(JobError::Mpc {
                    job,
                    reason: e.to_string(),
                }),
                Err(e) => Err(JobError::Task(e.to_string())),
            };
            if let Ok(mut running) = service.running.lock() {
                running.remove(&job);
            }
            match result {
                Ok(_) => {
                    service.counters.attested.fetch_add(1, Relaxed);
                    if let Ok(mut table) = service.prepared.lock() {
                        table.remove(&job);
                    }
                    info!(%job, attempt, live = n_live, "job computed and attested");
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
