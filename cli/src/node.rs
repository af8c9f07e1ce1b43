//! `sharenet node …`: create a node, run it, leave the active set, withdraw the deposit.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sharenet_chain_adapter::{Ledger, RpcBackend, RpcConfig, RpcLedger, Vault};
use sharenet_node::config::{self, NodeConfig};
use sharenet_node::{daemon, keys};

use crate::failure::Failure;
use crate::output::{Report, Ui};
use crate::util::parse_wei;

/// `sharenet node …`.
#[derive(Subcommand)]
pub enum NodeCommand {
    /// Create a node: its keys (mode 0600) and a commented node.toml in DIR.
    Init {
        /// Directory for the node's files.
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on. Keep the port fixed: it is registered on chain at the first
        /// start and other nodes dial it.
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/7000")]
        listen: String,
        /// Health and metrics address.
        #[arg(long, default_value = "127.0.0.1:9100")]
        http: String,
        /// JSON-RPC endpoint of the chain.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
        /// Contract address file (from `sharenet chain deploy`).
        #[arg(long, default_value = "contracts.json")]
        contracts: String,
        /// Deposit to stake at registration, in wei.
        #[arg(long, default_value = "1000000000000000000")]
        deposit: String,
    },
    /// Run the node described by a configuration file until SIGINT or SIGTERM.
    Run {
        /// The node.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Leave the active set: request exit on chain (the deposit unbonds; withdraw it after the
    /// unbonding period with `node withdraw`).
    Exit {
        /// The node.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// After the unbonding period: release the deposit and withdraw everything credited to the
    /// node's account (deposit, rewards, job payouts).
    Withdraw {
        /// The node.toml.
        #[arg(long)]
        config: PathBuf,
    },
}

/// What `node init` created.
pub struct CreatedNode {
    /// The node's peer id.
    pub peer_id: String,
    /// Its chain account.
    pub account: alloy::primitives::Address,
    /// Its node.toml.
    pub config: PathBuf,
}

/// Creates a node directory: identity and chain keys (0600) and node.toml.
pub fn init(
    dir: &Path,
    listen: &str,
    http: &str,
    rpc: &str,
    contracts: &str,
    deposit: &str,
) -> Result<CreatedNode, Failure> {
    parse_wei("--deposit", deposit)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let config_path = dir.join("node.toml");
    if config_path.exists() {
        return Err(Failure::usage(format!(
            "{} already exists; this directory already holds a node",
            config_path.display()
        ))
        .hint("choose another --dir, or run the node that is there"));
    }
    let identity = keys::create_identity(&dir.join("node.key"))?;
    let chain = keys::create_chain_key(&dir.join("chain.key"))?;
    std::fs::write(
        &config_path,
        config::template(listen, http, rpc, contracts, deposit),
    )
    .map_err(|e| Failure::usage(format!("cannot write {}: {e}", config_path.display())))?;
    Ok(CreatedNode {
        peer_id: identity.public().to_peer_id().to_string(),
        account: chain.address(),
        config: config_path,
    })
}

/// The node's own chain account, from its configuration.
fn node_ledger(config: &Path) -> Result<(RpcLedger, String), Failure> {
    let config = NodeConfig::load(config).map_err(|e| Failure::usage(e.to_string()))?;
    let signer = keys::load_chain_key(&config.chain_key)?;
    let rpc = config.rpc_url.clone();
    let backend = RpcBackend::connect(RpcConfig::local(config.rpc_url), signer)
        .map_err(|e| Failure::from_chain("connecting to the chain", &rpc, e))?;
    Ok((backend.into_ledger(config.contracts), rpc))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
        return;
    }
    let _ = ctrl_c.await;
}

/// Runs a `node` command.
pub async fn run(command: NodeCommand, _ui: &Ui) -> Result<Report, Failure> {
    match command {
        NodeCommand::Init {
            dir,
            listen,
            http,
            rpc,
            contracts,
            deposit,
        } => {
            let node = init(&dir, &listen, &http, &rpc, &contracts, &deposit)?;
            Ok(Report::new(
                format!(
                    "created node in {}\n  peer id:       {}\n  chain account: {}\n  config:        {}\nfund the chain account with at least the deposit, then: sharenet node run --config {}",
                    dir.display(),
                    node.peer_id,
                    node.account,
                    node.config.display(),
                    node.config.display()
                ),
                serde_json::json!({
                    "dir": dir,
                    "peer_id": node.peer_id,
                    "account": node.account,
                    "config": node.config,
                }),
            ))
        }
        NodeCommand::Run { config } => {
            let config = NodeConfig::load(&config).map_err(|e| Failure::usage(e.to_string()))?;
            daemon::run(config, shutdown_signal()).await?;
            Ok(Report::Nothing)
        }
        NodeCommand::Exit { config } => {
            let (ledger, rpc) = node_ledger(&config)?;
            let chain = |what: &str| Failure::chain_mapper(what, &rpc);
            ledger
                .request_exit()
                .await
                .map_err(chain("requesting the exit"))?;
            let info = ledger
                .node_info(ledger.account())
                .await
                .map_err(chain("reading the node's record"))?;
            Ok(Report::new(
                format!(
                    "exit requested for {}: the node has left the active set; its deposit of {} wei unbonds, then run `sharenet node withdraw`",
                    ledger.account(),
                    info.stake
                ),
                serde_json::json!({
                    "account": ledger.account(),
                    "stake": info.stake.to_string(),
                    "exit_requested_at": info.exitRequestedAt,
                }),
            ))
        }
        NodeCommand::Withdraw { config } => {
            let (ledger, rpc) = node_ledger(&config)?;
            let chain = |what: &str| Failure::chain_mapper(what, &rpc);
            ledger
                .withdraw_stake()
                .await
                .map_err(chain("releasing the deposit"))?;
            let mut withdrawn = Vec::new();
            let mut json = Vec::new();
            for vault in [Vault::Registry, Vault::Jobs] {
                let balance = ledger
                    .balance_of(vault, ledger.account())
                    .await
                    .map_err(chain("reading the balance"))?;
                if !balance.is_zero() {
                    ledger.withdraw(vault).await.map_err(chain("withdrawing"))?;
                    withdrawn.push(format!("{balance} wei from {vault:?}"));
                    json.push(serde_json::json!({
                        "vault": format!("{vault:?}"),
                        "wei": balance.to_string(),
                    }));
                }
            }
            Ok(Report::new(
                format!(
                    "withdrawn to {}: {}",
                    ledger.account(),
                    if withdrawn.is_empty() {
                        "nothing".to_string()
                    } else {
                        withdrawn.join(", ")
                    }
                ),
                serde_json::json!({ "account": ledger.account(), "withdrawn": json }),
            ))
        }
    }
}
