//! The simulated network: the embedded chain, the nodes (started, crashed, restarted), their
//! link-fault handles, the clients of institutions and researchers, and the scenario clock.

use sharenet_mpc::protocol::Security;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use sharenet_chain_adapter::{DeployParams, EmbeddedChain, EmbeddedLedger, Ledger};
use sharenet_node::config::NodeConfig;
use sharenet_node::keys;
use sharenet_node::local::LocalNode;
use sharenet_node::net::{self, Client, LinkFaults, NetworkConfig};
use sharenet_node::store::{DatasetId, UploadState};
use tokio::sync::Mutex;

use super::{EngineError, STARTUP_TIMEOUT, message_timeout};
use crate::scenario::Scenario;

/// Deposit every node stakes (the contracts' default minimum: 1 ether).
fn deposit() -> U256 {
    U256::from(10u64).pow(U256::from(18u64))
}

/// How long a client's request (an upload batch, a job request) waits for its answer.
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One node's place in the network: its running node, if up.
struct Slot {
    node: Option<LocalNode>,
}

/// The network of a run.
pub(super) struct SimNetwork {
    pub chain: EmbeddedChain,
    slots: Mutex<Vec<Slot>>,
    dirs: Vec<PathBuf>,
    /// Each node's outgoing-link faults (they survive restarts).
    pub faults: Vec<LinkFaults>,
    /// Each node's peer id (its identity survives restarts).
    pub peers: Vec<PeerId>,
    /// Each node's chain account.
    pub accounts: Vec<Address>,
    /// The per-message timeout of the nodes.
    pub message_timeout: Duration,
    /// The jobs' security level and the nodes' lowest.
    pub security: Security,
    /// First chain account of the institutions (then the researchers).
    first_client_account: usize,
    /// The clients, by institution then researcher order.
    pub clients: Vec<Client>,
}

impl SimNetwork {
    /// Starts the chain and every node, and waits until each node sees all of them active.
    pub async fn start(scenario: &Scenario, work: &Path) -> Result<SimNetwork, EngineError> {
        let nodes = scenario.network.nodes;
        let clients = scenario.institutions.len() + scenario.researchers.len();
        let chain = EmbeddedChain::new(DeployParams::default(), 1 + nodes + clients)
            .await
            .map_err(|e| EngineError::Chain(e.to_string()))?;
        let mut dirs = Vec::with_capacity(nodes);
        let mut peers = Vec::with_capacity(nodes);
        let mut accounts = Vec::with_capacity(nodes);
        for i in 0..nodes {
            let dir = work.join(format!("node-{i}"));
            std::fs::create_dir_all(&dir).map_err(|e| EngineError::Io {
                path: dir.clone(),
                message: e.to_string(),
            })?;
            peers.push(node_identity(&dir, scenario.seed, i)?);
            dirs.push(dir);
            accounts.push(ledger(&chain, i + 1)?.account());
        }
        let faults = (0..nodes)
            .map(|i| LinkFaults::new(scenario.seed ^ (0x5eed_0000 + i as u64)))
            .collect();
        let mut net = SimNetwork {
            chain,
            slots: Mutex::new(Vec::new()),
            dirs,
            faults,
            peers,
            accounts,
            message_timeout: message_timeout(scenario.network.job_timeout),
            security: scenario.network.security,
            first_client_account: 1 + nodes,
            clients: Vec::new(),
        };
        let mut slots = Vec::with_capacity(nodes);
        for i in 0..nodes {
            slots.push(Slot {
                node: Some(net.start_node(i).await?),
            });
        }
        net.slots = Mutex::new(slots);
        net.wait_until_all_active(nodes).await?;
        let names = scenario
            .institutions
            .iter()
            .map(|i| i.name.clone())
            .chain(scenario.researchers.iter().map(|r| r.name.clone()));
        for (k, name) in names.enumerate() {
            net.clients.push(
                start_client(net.first_client_account + k)
                    .map_err(|message| EngineError::Client { name, message })?,
            );
        }
        Ok(net)
    }

    async fn start_node(&self, i: usize) -> Result<LocalNode, EngineError> {
        let err = |message: String| EngineError::Node { node: i, message };
        let mut config = NodeConfig::local(
            &self.dirs[i],
            self.chain.addresses(),
            deposit(),
            self.message_timeout,
        )
        .map_err(|e| err(e.to_string()))?;
        config.faults = Some(self.faults[i].clone());
        config.min_security = self.security;
        let started = tokio::time::timeout(
            STARTUP_TIMEOUT,
            LocalNode::start(config, ledger(&self.chain, i + 1)?),
        )
        .await
        .map_err(|_| EngineError::Timeout {
            what: format!("node {i} starting"),
            after: STARTUP_TIMEOUT,
        })?;
        started.map_err(|e| err(e.to_string()))
    }

    async fn wait_until_all_active(&self, nodes: usize) -> Result<(), EngineError> {
        let until = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let all = {
                let slots = self.slots.lock().await;
                slots.iter().filter_map(|s| s.node.as_ref()).all(|n| {
                    n.node
                        .status
                        .lock()
                        .map(|s| s.active_nodes == nodes)
                        .unwrap_or(false)
                })
            };
            if all {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(EngineError::Timeout {
                    what: format!("every node seeing the {nodes} active nodes"),
                    after: STARTUP_TIMEOUT,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The ledger acting as the `k`-th institution-or-researcher account.
    pub fn client_ledger(&self, k: usize) -> Result<EmbeddedLedger, EngineError> {
        ledger(&self.chain, self.first_client_account + k)
    }

    /// Crashes node `i` (a killed process: its store stays on disk). `false` if it was down.
    pub async fn crash(&self, i: usize) -> Result<bool, EngineError> {
        let node = {
            let mut slots = self.slots.lock().await;
            slots.get_mut(i).and_then(|s| s.node.take())
        };
        let Some(node) = node else {
            return Ok(false);
        };
        // Joins the node's runtime thread.
        tokio::task::spawn_blocking(move || node.crash())
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(true)
    }

    /// Starts node `i` again on its directory and identity. `false` if it was up.
    pub async fn restart(&self, i: usize) -> Result<bool, EngineError> {
        let down = {
            let slots = self.slots.lock().await;
            slots.get(i).is_some_and(|s| s.node.is_none())
        };
        if !down {
            return Ok(false);
        }
        // Started without holding the lock: the other nodes stay reachable meanwhile.
        let node = self.start_node(i).await?;
        let mut slots = self.slots.lock().await;
        if let Some(slot) = slots.get_mut(i) {
            slot.node = Some(node);
        }
        Ok(true)
    }

    /// Bytes each node sent in the MPC sessions `sessions` (0 for a node that is down; a node
    /// that restarted counts from its restart).
    pub async fn session_bytes(&self, sessions: &[[u8; 32]]) -> Vec<u64> {
        let slots = self.slots.lock().await;
        slots
            .iter()
            .map(|s| {
                s.node
                    .as_ref()
                    .map_or(0, |n| n.node.client.mpc_bytes_sent(sessions))
            })
            .collect()
    }

    /// What node `i` holds under dataset id `dataset` (its state), or `None`; an error if the
    /// node is down or its store cannot be read.
    pub async fn held(&self, i: usize, dataset: B256) -> Result<Option<UploadState>, EngineError> {
        let store = {
            let slots = self.slots.lock().await;
            slots
                .get(i)
                .and_then(|s| s.node.as_ref())
                .map(|n| n.node.store.clone())
                .ok_or_else(|| EngineError::Node {
                    node: i,
                    message: "down".into(),
                })?
        };
        tokio::task::spawn_blocking(move || store.dataset(&DatasetId(dataset.0)))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map(|d| d.map(|d| d.state))
            .map_err(|e| EngineError::Node {
                node: i,
                message: e.to_string(),
            })
    }

    /// How many dataset registrations listing node `i` it refused to acknowledge so far.
    pub async fn registrations_refused(&self, i: usize) -> Result<u64, EngineError> {
        let slots = self.slots.lock().await;
        slots
            .get(i)
            .and_then(|s| s.node.as_ref())
            .and_then(|n| n.node.status.lock().ok().map(|s| s.registrations_refused))
            .ok_or_else(|| EngineError::Node {
                node: i,
                message: "down".into(),
            })
    }

    /// Waits, chain poll by chain poll of node `i`, until it has handled the registration of
    /// `dataset`: refused it (more than `before` refusals) or acknowledged it on chain. `false`
    /// if neither after [`sharenet_node::local::MAX_POLLS`] polls or [`STARTUP_TIMEOUT`].
    pub async fn wait_for_registration(
        &self,
        i: usize,
        before: u64,
        dataset: B256,
    ) -> Result<bool, EngineError> {
        let account = *self
            .accounts
            .get(i)
            .ok_or_else(|| EngineError::Internal(format!("no node {i}")))?;
        let chain = ledger(&self.chain, 0)?;
        let mut polls = {
            let slots = self.slots.lock().await;
            slots
                .get(i)
                .and_then(|s| s.node.as_ref())
                .map(|n| n.node.polls.clone())
                .ok_or_else(|| EngineError::Node {
                    node: i,
                    message: "down".into(),
                })?
        };
        let wait = async {
            for _ in 0..sharenet_node::local::MAX_POLLS {
                if self.handled(i, before, &chain, dataset, account).await? {
                    return Ok(true);
                }
                if polls.changed().await.is_err() {
                    return Ok(false);
                }
            }
            self.handled(i, before, &chain, dataset, account).await
        };
        tokio::time::timeout(STARTUP_TIMEOUT, wait)
            .await
            .unwrap_or(Ok(false))
    }

    /// Whether node `i` refused more than `before` registrations or acknowledged `dataset`.
    async fn handled(
        &self,
        i: usize,
        before: u64,
        chain: &EmbeddedLedger,
        dataset: B256,
        account: Address,
    ) -> Result<bool, EngineError> {
        Ok(self.registrations_refused(i).await? > before
            || chain
                .has_acknowledged(dataset, account)
                .await
                .map_err(|e| EngineError::Chain(e.to_string()))?)
    }

    /// Stops every node and client.
    pub async fn shutdown(&self) {
        for client in &self.clients {
            let _ = client.shutdown().await;
        }
        let nodes: Vec<LocalNode> = {
            let mut slots = self.slots.lock().await;
            slots.iter_mut().filter_map(|s| s.node.take()).collect()
        };
        let _ = tokio::task::spawn_blocking(move || {
            for node in nodes {
                node.crash();
            }
        })
        .await;
    }
}

/// The ledger acting as dev account `index`.
pub(super) fn ledger(chain: &EmbeddedChain, index: usize) -> Result<EmbeddedLedger, EngineError> {
    chain
        .ledger(index)
        .map_err(|e| EngineError::Chain(e.to_string()))
}

/// Writes node `i`'s identity, derived from the scenario's seed (the same seed places the same
/// nodes in the same committees), unless the directory already has one; returns its peer id.
fn node_identity(dir: &Path, seed: u64, i: usize) -> Result<PeerId, EngineError> {
    let err = |message: String| EngineError::Node { node: i, message };
    let path = dir.join("node.key");
    if !path.exists() {
        let mut h = blake3::Hasher::new_derive_key("sharenet simulator node identity v1");
        h.update(&seed.to_le_bytes());
        h.update(&(i as u64).to_le_bytes());
        let mut secret = *h.finalize().as_bytes();
        let key = Keypair::ed25519_from_bytes(&mut secret[..]).map_err(|e| err(e.to_string()))?;
        let bytes = key.to_protobuf_encoding().map_err(|e| err(e.to_string()))?;
        keys::write_secret_file(&path, &bytes).map_err(|e| err(e.to_string()))?;
    }
    keys::load_identity(&path)
        .map(|k| k.public().to_peer_id())
        .map_err(|e| err(e.to_string()))
}

/// A client (owner or researcher) with the identity its account key derives.
fn start_client(account: usize) -> Result<Client, String> {
    let key = sharenet_chain_adapter::embedded::dev_key(account).map_err(|e| e.to_string())?;
    let listen = "/ip4/127.0.0.1/tcp/0"
        .parse()
        .map_err(|e: libp2p::multiaddr::Error| e.to_string())?;
    let (client, inbound) = net::start(NetworkConfig {
        keypair: keys::client_identity(&key),
        listen: vec![listen],
        bootstrap: Vec::new(),
        request_timeout: CLIENT_REQUEST_TIMEOUT,
    })
    .map_err(|e| e.to_string())?;
    // A client serves no requests: drain and drop whatever arrives.
    tokio::spawn(async move {
        let mut inbound = inbound;
        while inbound.recv().await.is_some() {}
    });
    Ok(client)
}

/// The scenario clock: milliseconds since set-up ended. The chain's clock follows it, so grant
/// expiries and job deadlines are judged on the scenario's time.
#[derive(Clone)]
pub(super) struct Clock {
    start: Instant,
    stopped: Arc<AtomicBool>,
    /// Seconds the chain's clock was moved ahead of the scenario's ([`Clock::skip_chain`]).
    ahead: Arc<AtomicU64>,
}

impl Clock {
    /// Starts the clock now, and the task that moves the chain's time along with it.
    pub fn start(net: &Arc<SimNetwork>) -> Result<Clock, EngineError> {
        let chain_start = net
            .chain
            .timestamp()
            .map_err(|e| EngineError::Chain(e.to_string()))?;
        let clock = Clock {
            start: Instant::now(),
            stopped: Arc::new(AtomicBool::new(false)),
            ahead: Arc::new(AtomicU64::new(0)),
        };
        let chain = net.chain.clone();
        let ticking = clock.clone();
        tokio::spawn(async move {
            while !ticking.stopped.load(Relaxed) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let target =
                    chain_start + ticking.start.elapsed().as_secs() + ticking.ahead.load(Relaxed);
                if let Ok(now) = chain.timestamp()
                    && target > now
                {
                    let _ = chain.advance_time(target - now);
                }
            }
        });
        Ok(clock)
    }

    /// Moves the chain's clock `secs` ahead of the scenario's, for the rest of the run (a stale
    /// requester waiting out its job's deadline).
    pub fn skip_chain(
        &self,
        chain: &sharenet_chain_adapter::EmbeddedChain,
        secs: u64,
    ) -> Result<(), EngineError> {
        self.ahead.fetch_add(secs, Relaxed);
        chain
            .advance_time(secs)
            .map_err(|e| EngineError::Chain(e.to_string()))
    }

    /// The instant of scenario time `ms`.
    pub fn instant(&self, ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.start + Duration::from_millis(ms))
    }

    /// Scenario time now, in ms.
    pub fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// A guard that stops moving the chain's time when dropped.
    pub fn stop_on_drop(&self) -> StopClock {
        StopClock(self.stopped.clone())
    }
}

/// Stops the chain clock's task when dropped.
pub(super) struct StopClock(Arc<AtomicBool>);

impl Drop for StopClock {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}
