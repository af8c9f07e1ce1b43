//! Nodes in one process (the simulator, integration tests): each [`LocalNode`] runs on its own
//! runtime thread, so that crashing it ends every task of that node at once, as a killed
//! process would, while its data directory survives for a restart.

use std::path::Path;
use std::time::Duration;

use alloy::primitives::U256;
use sharenet_chain_adapter::{ContractAddresses, Ledger};
use tokio::sync::oneshot;

use crate::config::NodeConfig;
use crate::daemon::{NodeError, RunningNode, start_on_ledger};
use crate::keys;

/// How long a stopping node waits for its DHT writer.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl NodeConfig {
    /// A configuration for a node in `dir` on the loopback interface (ephemeral ports), creating
    /// its identity key if there is none; the chain is given to [`LocalNode::start`]. The
    /// simulator sets [`NodeConfig::faults`] to inject faults on its links.
    pub fn local(
        dir: &Path,
        contracts: ContractAddresses,
        deposit: U256,
        request_timeout: Duration,
    ) -> Result<NodeConfig, NodeError> {
        std::fs::create_dir_all(dir).map_err(|source| NodeError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let identity_key = dir.join("node.key");
        if !identity_key.exists() {
            keys::create_identity(&identity_key)?;
        }
        Ok(NodeConfig {
            data_dir: dir.join("data"),
            identity_key,
            chain_key: dir.join("chain.key"),
            at_rest_key: dir.join("at-rest.key"),
            listen: vec![
                "/ip4/127.0.0.1/tcp/0"
                    .parse()
                    .map_err(|_| NodeError::Task("loopback address".into()))?,
            ],
            bootstrap: Vec::new(),
            request_timeout,
            rpc_url: String::new(),
            contracts,
            deposit,
            poll: Duration::from_millis(100),
            http: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            min_security: sharenet_mpc::protocol::Security::Malicious,
            faults: None,
        })
    }
}

/// A node running on its own runtime thread.
#[derive(Debug)]
pub struct LocalNode {
    /// Its handles (swarm client, health address, status).
    pub node: RunningNode,
    stop: Option<oneshot::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Most chain polls [`wait_for_polls`] waits through before it gives up: a count of events,
/// not a time, so a loaded machine only makes the wait longer.
pub const MAX_POLLS: usize = 2_000;

/// Waits, chain poll by chain poll of any of `nodes`, until `done` holds (checked before the
/// first poll and after each). Returns `false` if it still does not hold after [`MAX_POLLS`]
/// polls, or if every node has stopped. The status, the allow-list and the node's own
/// acknowledgements change only in polls, so this waits for exactly the events they need.
pub async fn wait_for_polls(nodes: &[&LocalNode], mut done: impl AsyncFnMut() -> bool) -> bool {
    let mut polls: Vec<_> = nodes.iter().map(|n| n.node.polls.clone()).collect();
    for _ in 0..MAX_POLLS {
        if done().await {
            return true;
        }
        let next = polls.iter_mut().map(|p| Box::pin(p.changed()));
        let (changed, _, _) = futures::future::select_all(next).await;
        if changed.is_err() {
            return false;
        }
    }
    done().await
}

impl LocalNode {
    /// Starts a node with `config` on `ledger` and returns once it serves.
    pub async fn start<L: Ledger + Clone + Send + Sync + 'static>(
        config: NodeConfig,
        ledger: L,
    ) -> Result<LocalNode, NodeError> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<bool>();
        let thread = std::thread::Builder::new()
            .name("sharenet-local-node".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(NodeError::Task(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match start_on_ledger(config, ledger).await {
                        Ok((node, writer)) => {
                            let client = node.client.clone();
                            let _ = ready_tx.send(Ok(node));
                            // `true`: a clean stop (flush the DHT writer); `false` or a dropped
                            // sender: a crash (the runtime is dropped with everything in it).
                            if stop_rx.await.unwrap_or(false) {
                                let _ = client.shutdown().await;
                                let _ =
                                    tokio::task::spawn_blocking(move || writer.wait(STOP_TIMEOUT))
                                        .await;
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(|e| NodeError::Task(e.to_string()))?;
        let node = ready_rx
            .await
            .map_err(|_| NodeError::Task("the node thread ended before starting".into()))??;
        Ok(LocalNode {
            node,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stops the node abruptly: every task ends where it is (the store stays consistent: redb
    /// commits are atomic).
    pub fn crash(mut self) {
        self.end(false);
    }

    /// Stops the node cleanly.
    pub fn stop(mut self) {
        self.end(true);
    }

    fn end(&mut self, clean: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(clean);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        self.end(false);
    }
}
