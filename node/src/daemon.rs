//! `sharenet node run`: load the keys, register and stake on chain if needed, start the swarm,
//! keep the MPC allow-list equal to the chain's active nodes, serve health and metrics, and stop
//! cleanly on SIGINT/SIGTERM. The DHT record store is loaded from the share store before the
//! swarm starts and kept durable by a persistence writer; the node publishes its announcement
//! and keeps the manifests of the datasets it holds alive ([`publish`]).

mod placement;
pub mod publish;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use alloy::primitives::B256;
use libp2p::identity::PublicKey;
use libp2p::multiaddr::Protocol as AddrProtocol;
use libp2p::{Multiaddr, PeerId};
use sharenet_chain_adapter::{ChainError, Ledger, RpcBackend, RpcConfig, RpcLedger};
use tracing::{info, warn};

use crate::config::NodeConfig;
use crate::http::{self, NodeStatus, SharedStatus};
use crate::jobs::runner::{JobCounters, JobService};
use crate::keys::{self, KeyError};
use crate::net::dht::{self as net_dht, OpenError, PersistWriter};
use crate::net::{self, Client, NetError, NetworkConfig};
use crate::net::{InboundRequest, Protocol};
use crate::owner::receipts_digest;
use crate::store::{AtRestKey, DatasetId, ShareStore, StoreError, UploadState};
use crate::upload::service::{UploadCounters, UploadService};

/// Why the node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A key file.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The chain.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// The network.
    #[error("network: {0}")]
    Net(#[from] NetError),
    /// The health endpoint could not bind.
    #[error("http endpoint {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The identity is not an ed25519 key.
    #[error("the node identity must be an ed25519 key")]
    Identity,
    /// The share store.
    #[error("share store: {0}")]
    Store(#[from] StoreError),
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(String),
    /// The DHT's durable copy could not be opened.
    #[error("dht: {0}")]
    Dht(#[from] OpenError),
}

/// Requests queued per service before new ones are dropped.
const INBOUND_QUEUE: usize = 64;

/// How long a stopping node waits for the DHT persistence writer to write what is queued.
const WRITER_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A running node's handles (for the binary and for tests).
#[derive(Debug, Clone)]
pub struct RunningNode {
    /// The swarm client.
    pub client: Client,
    /// The health endpoint's address.
    pub http: SocketAddr,
    /// The node's status.
    pub status: SharedStatus,
    /// The node's share store.
    pub store: ShareStore,
    /// The job service's counters (live; the status holds a copy taken at each chain poll).
    pub jobs: Arc<JobCounters>,
    /// Chain polls finished so far (changes after each: the status, the allow-list and this
    /// node's acknowledgements are up to date with the chain as of that poll). Tests wait on it
    /// instead of sleeping.
    pub polls: tokio::sync::watch::Receiver<u64>,
}

/// The peer id bound to an ed25519 public key registered on chain.
pub fn peer_id_from_chain_key(key: B256) -> Option<PeerId> {
    let pk = libp2p::identity::ed25519::PublicKey::try_from_bytes(key.as_slice()).ok()?;
    Some(PublicKey::from(pk).to_peer_id())
}

/// An active node on chain.
struct ActivePeer {
    peer: PeerId,
    /// Its registered ed25519 key.
    key: [u8; 32],
    /// Its registered network address, if it parses.
    addr: Option<Multiaddr>,
}

/// The active nodes on chain.
async fn active_peers<L: Ledger>(ledger: &L) -> Result<Vec<ActivePeer>, ChainError> {
    let mut out = Vec::new();
    for account in ledger.active_nodes().await? {
        let info = ledger.node_info(account).await?;
        if let Some(peer) = peer_id_from_chain_key(info.peerKey) {
            out.push(ActivePeer {
                peer,
                key: info.peerKey.0,
                addr: info.networkAddress.parse::<Multiaddr>().ok(),
            });
        }
    }
    Ok(out)
}

/// Starts the node and runs until `shutdown` completes.
pub async fn run(config: NodeConfig, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    let (node, writer) = start_with_writer(config).await?;
    shutdown.await;
    info!("shutting down");
    node.client.shutdown().await?;
    // The swarm drops the record store's sender when it stops; the writer then writes what is
    // queued and exits.
    let waited = tokio::task::spawn_blocking(move || writer.wait(WRITER_STOP_TIMEOUT))
        .await
        .map_err(|e| NodeError::Task(e.to_string()))?;
    if let Err(e) = waited {
        warn!(error = %e, "DHT records queued at shutdown may not all be written");
    }
    Ok(())
}

/// Starts the node's tasks and returns once it is serving.
pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
    Ok(start_with_writer(config).await?.0)
}

/// [`start`], also returning the DHT persistence writer (to wait for it at shutdown).
pub async fn start_with_writer(
    config: NodeConfig,
) -> Result<(RunningNode, PersistWriter), NodeError> {
    let signer = keys::load_chain_key(&config.chain_key)?;
    let ledger: RpcLedger = RpcBackend::connect(RpcConfig::local(config.rpc_url.clone()), signer)?
        .into_ledger(config.contracts);
    start_on_ledger(config, ledger).await
}

/// Starts a node on any chain back-end (JSON-RPC for a real node, the embedded EVM in the
/// simulator); `config.chain_key` and `config.rpc_url` are not read: `ledger` signs as the
/// node's account.
pub async fn start_on_ledger<L: Ledger + Clone + Send + Sync + 'static>(
    config: NodeConfig,
    ledger: L,
) -> Result<(RunningNode, PersistWriter), NodeError> {
    let identity = keys::load_identity(&config.identity_key)?;
    let peer_key = keys::peer_key_bytes(&identity).ok_or(NodeError::Identity)?;
    let account = ledger.account();
    std::fs::create_dir_all(&config.data_dir).map_err(|source| NodeError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let at_rest = AtRestKey::load_or_create(&config.at_rest_key)?;
    let store_path = config.data_dir.join("shares.redb");
    let store = tokio::task::spawn_blocking(move || ShareStore::open(store_path, at_rest))
        .await
        .map_err(|e| NodeError::Task(e.to_string()))??;
    // The DHT records stored before, and the writer that keeps their durable copy. The record
    // store checks records' owners against the chain view the follower keeps.
    let chain_view = sharenet_dht::ChainView::new();
    let dht_config = sharenet_dht::StoreConfig {
        chain: Some(chain_view.clone()),
        ..sharenet_dht::StoreConfig::default()
    };
    let (dht, writer) = net_dht::open(store.clone(), dht_config).await?;
    let (client, inbound) = net::start_with_faults(
        NetworkConfig {
            keypair: identity.clone(),
            listen: config.listen.clone(),
            bootstrap: config
                .bootstrap
                .iter()
                .filter_map(|a| {
                    a.iter().find_map(|p| match p {
                        AddrProtocol::P2p(peer) => Some((peer, a.clone())),
                        _ => None,
                    })
                })
                .collect(),
            request_timeout: config.request_timeout,
        },
        dht,
        config.faults.clone(),
    )?;
    let peer_id = client.local_peer_id();
    let listen = client.listen_addrs().await?;
    let announced = listen
        .iter()
        .find(|a| !a.iter().any(|p| matches!(p, AddrProtocol::Udp(_))))
        .or(listen.first())
        .cloned()
        .map(|a| a.with(AddrProtocol::P2p(peer_id)))
        .map(|a| a.to_string())
        .unwrap_or_default();
    let status: SharedStatus = Arc::new(Mutex::new(NodeStatus {
        peer_id: peer_id.to_string(),
        account: account.to_string(),
        ..NodeStatus::default()
    }));
    // Bind the health endpoint first: a node that cannot serve must not stake.
    let http = http::serve(config.http, status.clone(), client.clone())
        .await
        .map_err(|source| NodeError::Http {
            addr: config.http,
            source,
        })?;
    // Register and stake once; a restarted node finds itself registered.
    let info = ledger.node_info(account).await?;
    if !info.registered {
        info!(%account, %peer_id, "registering the node on chain");
        ledger
            .register_node(B256::from(peer_key), &announced, config.deposit)
            .await?;
    }
    info!(%peer_id, %account, http = %http, "node is up");
    let upload_counters = Arc::new(UploadCounters::default());
    let upload_activity = crate::upload::collect::UploadActivity::default();
    let job_counters = Arc::new(JobCounters::default());
    let (uploads_in, jobs_in) = split_inbound(inbound);
    tokio::spawn(
        UploadService {
            store: store.clone(),
            client: client.clone(),
            identity: identity.clone(),
            verify_timeout: config.request_timeout,
            counters: upload_counters.clone(),
            activity: upload_activity.clone(),
        }
        .run(uploads_in),
    );
    tokio::spawn(crate::upload::collect::run_collector(
        store.clone(),
        upload_activity,
        ledger.clone(),
    ));
    tokio::spawn(
        JobService::new(
            ledger.clone(),
            client.clone(),
            store.clone(),
            account,
            config.request_timeout,
            job_counters.clone(),
        )
        .with_min_security(config.min_security)
        .run(jobs_in),
    );
    tokio::spawn(publish::announce(client.clone(), status.clone()));
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(
        publish::ManifestKeeper {
            client: client.clone(),
            store: store.clone(),
            ledger: ledger.clone(),
            wake: wake.clone(),
        }
        .run(),
    );
    let (polls_tx, polls_rx) = tokio::sync::watch::channel(0u64);
    tokio::spawn(follow_chain(ChainFollower {
        ledger,
        client: client.clone(),
        status: status.clone(),
        store: store.clone(),
        poll: config.poll,
        account,
        me: peer_id,
        manifests: wake,
        uploads: upload_counters,
        jobs: job_counters.clone(),
        chain_view,
        polls: polls_tx,
    }));
    Ok((
        RunningNode {
            client,
            http,
            status,
            store,
            jobs: job_counters,
            polls: polls_rx,
        },
        writer,
    ))
}

struct ChainFollower<L> {
    ledger: L,
    client: Client,
    status: SharedStatus,
    store: ShareStore,
    poll: std::time::Duration,
    account: alloy::primitives::Address,
    me: PeerId,
    /// Wakes the manifest keeper when a dataset held here is registered.
    manifests: Arc<tokio::sync::Notify>,
    /// Upload counters, copied into the status for the metrics.
    uploads: Arc<UploadCounters>,
    /// Job counters, copied into the status for the metrics.
    jobs: Arc<JobCounters>,
    /// What the DHT record store knows of the chain: active nodes, registered manifests.
    chain_view: sharenet_dht::ChainView,
    /// Counts finished polls (see [`RunningNode::polls`]).
    polls: tokio::sync::watch::Sender<u64>,
}

/// Splits the swarm's inbound requests by protocol into one bounded queue per service.
fn split_inbound(
    mut inbound: tokio::sync::mpsc::Receiver<InboundRequest>,
) -> (
    tokio::sync::mpsc::Receiver<InboundRequest>,
    tokio::sync::mpsc::Receiver<InboundRequest>,
) {
    let (uploads_tx, uploads_rx) = tokio::sync::mpsc::channel(INBOUND_QUEUE);
    let (jobs_tx, jobs_rx) = tokio::sync::mpsc::channel(INBOUND_QUEUE);
    tokio::spawn(async move {
        while let Some(request) = inbound.recv().await {
            let queue = match request.protocol {
                Protocol::Upload => &uploads_tx,
                Protocol::Job => &jobs_tx,
            };
            // A full queue drops the request (its sender times out), as the swarm does.
            if queue.try_send(request).is_err() {
                warn!("a service queue is full; request dropped");
            }
        }
    });
    (uploads_rx, jobs_rx)
}

/// What the chain follower persists after each page of events: where to resume, and the active
/// set as of there (rebuilt from the events, for the placement check of later registrations).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct FollowerState {
    cursor: sharenet_chain_adapter::EventCursor,
    active: placement::ActiveSet,
}

/// Keeps the allow-list and the connections in step with the chain's active set, and
/// acknowledges the datasets registered with this node in their committee (only those whose
/// committee is the placement rule's and whose shares it holds). The event cursor and the active
/// set rebuilt from the events are persisted together, so a restarted node neither misses nor
/// repeats an event. A state that does not decode (an older format) starts again from the first
/// block: every handler is idempotent.
async fn follow_chain<L: Ledger>(f: ChainFollower<L>) {
    use sharenet_chain_adapter::ChainEventKind;
    use sharenet_chain_adapter::bindings::DatasetRegistry::DatasetRegistryEvents;
    use sharenet_chain_adapter::bindings::JobMarket::JobMarketEvents;
    let store = f.store.clone();
    let mut state: FollowerState = tokio::task::spawn_blocking(move || store.event_cursor())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let mut last_epoch = None;
    let mut manifests_known = false;
    // The dials of the current active set, in the background: the follower never waits on a
    // peer (one registered with a bogus address would otherwise stop it).
    let mut dialing: Option<tokio::task::JoinHandle<()>> = None;
    // The store's figures are recounted when uploads happened (or every 60 polls), not on every
    // poll: counting walks every batch header.
    let mut counted_uploads = None;
    let mut polls_since_count = 0u32;
    loop {
        let result: Result<(), NodeError> = async {
            let epoch = f.ledger.epoch().await?;
            let registered = f.ledger.node_info(f.account).await?.registered;
            if last_epoch != Some(epoch) {
                let peers = active_peers(&f.ledger).await?;
                let allowed: HashSet<PeerId> = peers.iter().map(|p| p.peer).collect();
                f.chain_view.set_active_nodes(peers.iter().map(|p| p.key));
                f.client.set_allowed(allowed.clone()).await?;
                let others: Vec<(PeerId, Multiaddr)> = peers
                    .into_iter()
                    .filter(|p| p.peer != f.me)
                    .filter_map(|p| Some((p.peer, p.addr?)))
                    .collect();
                if let Some(previous) = dialing.replace(tokio::spawn(dial_all(f.client.clone(), others))) {
                    previous.abort();
                }
                if let Ok(mut s) = f.status.lock() {
                    s.active_nodes = allowed.len();
                }
                last_epoch = Some(epoch);
            }
            use std::sync::atomic::Ordering::Relaxed;
            let uploads = (
                f.uploads.accepted.load(Relaxed),
                f.uploads.rejected.load(Relaxed),
                f.uploads.refused.load(Relaxed),
            );
            polls_since_count += 1;
            let stats = if counted_uploads != Some(uploads) || polls_since_count >= 60 {
                let store = f.store.clone();
                let stats = tokio::task::spawn_blocking(move || store.stats())
                    .await
                    .map_err(|e| NodeError::Task(e.to_string()))??;
                counted_uploads = Some(uploads);
                polls_since_count = 0;
                Some(stats)
            } else {
                None
            };
            if let Ok(mut s) = f.status.lock() {
                s.epoch = epoch;
                s.registered = registered;
                if let Some(stats) = stats {
                    s.datasets = stats.datasets;
                    s.batches = stats.batches;
                    s.shares = stats.share_values;
                    s.store_bytes = stats.file_bytes;
                }
                (s.uploads_accepted, s.uploads_rejected, s.uploads_refused) = uploads;
                s.jobs = f.jobs.snapshot();
            }
            if !manifests_known {
                // Every dataset registered before this node (re)started: the record store checks
                // manifests against them.
                // Page by page up to the saved cursor (a page spans a bounded block range).
                let mut scan = sharenet_chain_adapter::EventCursor::default();
                while scan < state.cursor {
                    let (events, next) = f.ledger.events_since(scan).await?;
                    for event in &events {
                        if let Some(dataset) = dataset_of(&event.kind) {
                            track_manifest(&f, dataset).await?;
                        }
                    }
                    if next == scan {
                        break;
                    }
                    scan = next;
                }
                manifests_known = true;
            }
            let (events, next) = f.ledger.events_since(state.cursor).await?;
            // The page is applied to a copy of the active set: a page that fails is read again
            // from the same cursor, against the same set.
            let mut active = state.active.clone();
            for event in events {
                if let Some(dataset) = dataset_of(&event.kind) {
                    track_manifest(&f, dataset).await?;
                }
                active.apply(&event.kind);
                let handled = match event.kind {
                    ChainEventKind::Dataset(DatasetRegistryEvents::DatasetRegistered(e))
                        if e.committee.contains(&f.account) =>
                    {
                        acknowledge(&f, &active, &e).await.map(|acked| acked.then_some(e.datasetId))
                    }
                    ChainEventKind::Dataset(DatasetRegistryEvents::DatasetAppended(e)) => {
                        reopen_appended(&f, e.datasetId).await.map(|held| held.then_some(e.datasetId))
                    }
                    ChainEventKind::Job(JobMarketEvents::JobSubmitted(e)) => {
                        note_job(&f, e.jobId, e.datasetIds.first().copied()).await.map(|()| None)
                    }
                    _ => Ok(None),
                };
                match handled {
                    Ok(Some(_)) => f.manifests.notify_one(),
                    Ok(None) => {}
                    // The chain or the network is unreachable: retry this batch of events
                    // from the same cursor (handlers are idempotent).
                    Err(e @ (NodeError::Net(_) | NodeError::Chain(ChainError::Rpc(_) | ChainError::Timeout { .. }))) => return Err(e),
                    // Anything else would fail again: record it and move on, so that one bad
                    // event never stops the node from following the chain.
                    Err(e) => {
                        warn!(block = event.block, error = %e, "chain event could not be handled; skipped");
                        if let Ok(mut s) = f.status.lock() {
                            s.chain_errors += 1;
                        }
                    }
                }
            }
            if next != state.cursor {
                state = FollowerState { cursor: next, active };
                let store = f.store.clone();
                let bytes = serde_json::to_vec(&state).unwrap_or_default();
                tokio::task::spawn_blocking(move || store.set_event_cursor(&bytes))
                    .await
                    .map_err(|e| NodeError::Task(e.to_string()))??;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            warn!(error = %e, "chain poll failed");
            if let Ok(mut s) = f.status.lock() {
                s.chain_errors += 1;
            }
        }
        f.polls.send_modify(|n| *n += 1);
        tokio::time::sleep(f.poll).await;
    }
}

/// What this node holds of a dataset named on chain.
enum Held {
    /// No shares under that id.
    Nothing,
    /// Shares, but dealt for another party than the one the registration gives this node.
    OtherParty,
    /// The dataset is marked registered; the node's receipts in batch order.
    Registered(Vec<Vec<u8>>),
}

/// The dataset a registry event is about, if it registers a manifest hash.
fn dataset_of(kind: &sharenet_chain_adapter::ChainEventKind) -> Option<B256> {
    use sharenet_chain_adapter::ChainEventKind;
    use sharenet_chain_adapter::bindings::DatasetRegistry::DatasetRegistryEvents;
    match kind {
        ChainEventKind::Dataset(DatasetRegistryEvents::DatasetRegistered(e)) => Some(e.datasetId),
        ChainEventKind::Dataset(DatasetRegistryEvents::DatasetAppended(e)) => Some(e.datasetId),
        _ => None,
    }
}

/// Tells the DHT record store the manifest hash the chain registers for `dataset` now.
async fn track_manifest<L: Ledger>(f: &ChainFollower<L>, dataset: B256) -> Result<(), NodeError> {
    let info = f.ledger.dataset_info(dataset).await?;
    f.chain_view.set_manifest(dataset.0, info.manifestHash.0);
    Ok(())
}

/// Active nodes dialled at once by the chain follower.
const DIAL_CONCURRENCY: usize = 32;

/// Dials every peer, [`DIAL_CONCURRENCY`] at a time, each within `Client::dial`'s timeout.
async fn dial_all(client: Client, peers: Vec<(PeerId, Multiaddr)>) {
    use futures::StreamExt;
    futures::stream::iter(peers)
        .for_each_concurrent(DIAL_CONCURRENCY, |(peer, addr)| {
            let client = client.clone();
            async move {
                if let Err(e) = client.dial(peer, addr).await {
                    warn!(%peer, error = %e, "could not reach an active node");
                }
            }
        })
        .await;
}

/// Marks a dataset this node holds as registered on chain: the dataset is complete (no gaps) and
/// later batches are appends (the signed manifest itself is fetched and kept by
/// `daemon::publish`). `party` is this node's 0-based party index in the registration: shares
/// dealt for another evaluation point are not registered. For an append (`party` = `None`) only
/// a dataset this node accepted at its registration is reopened.
async fn mark_registered<L: Ledger>(
    f: &ChainFollower<L>,
    dataset: B256,
    party: Option<usize>,
) -> Result<Held, NodeError> {
    let id = DatasetId(dataset.0);
    let store = f.store.clone();
    tokio::task::spawn_blocking(move || -> Result<Held, StoreError> {
        let Some(summary) = store.dataset(&id)? else {
            return Ok(Held::Nothing);
        };
        match party {
            Some(p) if usize::try_from(summary.info.party).ok() != Some(p + 1) => {
                return Ok(Held::OtherParty);
            }
            None if !store.was_registered(&id)? => return Ok(Held::Nothing),
            _ => {}
        }
        let mut receipts = store.receipts(&id)?;
        receipts.sort_by_key(|(range, _)| range.start);
        if store.state(&id)? == UploadState::Receiving {
            store.set_state(&id, UploadState::Verified)?;
        }
        if store.state(&id)? == UploadState::Verified {
            store.set_state(&id, UploadState::Registered)?;
        }
        store.set_registered_once(&id)?;
        Ok(Held::Registered(
            receipts.into_iter().map(|(_, r)| r).collect(),
        ))
    })
    .await
    .map_err(|e| NodeError::Task(e.to_string()))?
    .map_err(NodeError::from)
}

/// Rows were appended to a dataset: reopen it if this node holds it and accepted its
/// registration. Returns whether it did.
async fn reopen_appended<L: Ledger>(
    f: &ChainFollower<L>,
    dataset: B256,
) -> Result<bool, NodeError> {
    Ok(matches!(
        mark_registered(f, dataset, None).await?,
        Held::Registered(_)
    ))
}

/// Records that a registration listing this node was not acknowledged, and why (ids and
/// reasons only).
fn refuse_registration<L>(f: &ChainFollower<L>, dataset: B256, reason: &str) {
    warn!(dataset = %dataset, %reason, "dataset registration not acknowledged");
    if let Ok(mut s) = f.status.lock() {
        s.registrations_refused += 1;
    }
}

/// Acknowledges a registration that lists this node, only if this node can vouch for it: its
/// committee is the placement rule's over `active` (the active set at its log position,
/// [`placement::check_registration`]), and this node holds verified shares under its id (the id
/// the intake derived from the batches' owner and salt, which only that owner can register) as
/// the party the registration gives it. Acknowledges with the digest of its receipts, as in the
/// manifest. Returns whether the dataset is acknowledged.
async fn acknowledge<L: Ledger>(
    f: &ChainFollower<L>,
    active: &placement::ActiveSet,
    e: &sharenet_chain_adapter::bindings::DatasetRegistry::DatasetRegistered,
) -> Result<bool, NodeError> {
    let dataset = e.datasetId;
    if let Err(reason) = placement::check_registration(active, e) {
        refuse_registration(f, dataset, &reason.to_string());
        return Ok(false);
    }
    let Some(party) = e.committee.iter().position(|a| *a == f.account) else {
        return Ok(false);
    };
    let receipts = match mark_registered(f, dataset, Some(party)).await? {
        Held::Registered(receipts) => receipts,
        Held::Nothing => {
            refuse_registration(f, dataset, "no shares are held here under this id");
            return Ok(false);
        }
        Held::OtherParty => {
            refuse_registration(
                f,
                dataset,
                "the shares held here were dealt for another party than the registration gives this node",
            );
            return Ok(false);
        }
    };
    if f.ledger.has_acknowledged(dataset, f.account).await? {
        return Ok(true);
    }
    let digest = receipts_digest(receipts.iter().map(Vec::as_slice));
    f.ledger
        .acknowledge_dataset(dataset, B256::from(digest))
        .await?;
    info!(dataset = %dataset, "dataset acknowledged on chain");
    Ok(true)
}

/// Records a job submitted for a committee this node is in. The job runs when its requester
/// starts it (`jobs::runner`); the chain says whether this node already attested it, so a
/// restarted node never runs a job twice.
async fn note_job<L: Ledger>(
    f: &ChainFollower<L>,
    job: alloy::primitives::U256,
    committee_ref: Option<B256>,
) -> Result<(), NodeError> {
    let Some(dataset) = committee_ref else {
        return Ok(());
    };
    let info = f.ledger.dataset_info(dataset).await?;
    if info.committee.contains(&f.account) {
        f.jobs
            .seen
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        info!(%job, "job submitted to this node's committee");
    }
    Ok(())
}
