//! `sharenet devnet …`: a local network of separate processes — anvil, the contracts, N nodes
//! and demo identities — in one directory described by `devnet.json`.
//!
//! Layout of a devnet directory:
//!
//! ```text
//! DIR/devnet.json          what `--devnet DIR` reads: chain, contracts, nodes, identities, defaults
//! DIR/contracts.json       the contract addresses (the nodes' config points at it)
//! DIR/anvil.pid, anvil.log the chain process
//! DIR/deployer.key         the account that deployed the contracts (0600)
//! DIR/nodes/<i>/           node i: node.toml, keys (0600), data/, node.log, node.pid
//! DIR/identities/<name>.key  chain keys of the demo identities (0600), <name>.addr their address
//! ```

pub mod down;
pub mod process;
pub mod status;
pub mod up;

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use sharenet_chain_adapter::ContractAddresses;

use crate::failure::Failure;
use crate::output::{Report, Ui};

/// The file that makes a directory a devnet.
pub const DEVNET_FILE: &str = "devnet.json";
/// The demo identities every devnet has.
pub const DEMO_IDENTITIES: [&str; 3] = ["institution-a", "institution-b", "researcher"];

/// `sharenet devnet …`.
#[derive(Subcommand)]
pub enum DevnetCommand {
    /// Start a local devnet: anvil, the contracts, N funded and staked nodes, demo identities.
    Up(up::UpArgs),
    /// Show the chain and every node: process, health, stake, peers.
    Status {
        /// The devnet directory.
        #[arg(long, env = "SHARENET_DEVNET", value_name = "DIR")]
        dir: PathBuf,
    },
    /// Stop the nodes, then the chain (idempotent).
    Down {
        /// The devnet directory.
        #[arg(long, env = "SHARENET_DEVNET", value_name = "DIR")]
        dir: PathBuf,
        /// Also delete the directory (keys, data, logs).
        #[arg(long)]
        purge: bool,
    },
}

/// Runs a `devnet` command.
pub async fn run(command: DevnetCommand, ui: &Ui) -> Result<Report, Failure> {
    match command {
        DevnetCommand::Up(args) => up::up(args, ui).await,
        DevnetCommand::Status { dir } => status::status(&dir, ui).await,
        DevnetCommand::Down { dir, purge } => down::down(&dir, purge, ui).await,
    }
}

/// One node of a devnet, as recorded in devnet.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevnetNode {
    /// Its index (directory `nodes/<index>`).
    pub index: usize,
    /// Its directory, relative to the devnet directory.
    pub dir: PathBuf,
    /// Its chain account.
    pub account: Address,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its listen multiaddr.
    pub listen: String,
    /// Its health and metrics port on 127.0.0.1.
    pub http_port: u16,
}

/// A demo identity of a devnet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevnetIdentity {
    /// Its name.
    pub name: String,
    /// Its chain account.
    pub address: Address,
    /// Its key file, relative to the devnet directory.
    pub key: PathBuf,
}

/// devnet.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevnetFile {
    /// Format version (1).
    pub version: u32,
    /// The chain's JSON-RPC endpoint.
    pub rpc_url: String,
    /// The chain id.
    pub chain_id: u64,
    /// The contracts.
    pub contracts: ContractAddresses,
    /// Default committee size of uploads (every node of the devnet).
    pub committee_size: usize,
    /// Default threshold of uploads.
    pub threshold: usize,
    /// Default pool of uploads.
    pub pool: String,
    /// The nodes.
    pub nodes: Vec<DevnetNode>,
    /// The demo identities.
    pub identities: Vec<DevnetIdentity>,
    /// When it was created (unix seconds).
    pub created_at: u64,
}

/// A devnet directory and its devnet.json.
#[derive(Debug, Clone)]
pub struct Devnet {
    /// The directory.
    pub dir: PathBuf,
    /// Its description.
    pub file: DevnetFile,
}

impl Devnet {
    /// Reads `dir/devnet.json`; the error says what is wrong and how to make one.
    pub fn load(dir: &Path) -> Result<Devnet, Failure> {
        let dir = &std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let create = format!(
            "create one with `sharenet devnet up --dir {}`",
            dir.display()
        );
        if !dir.is_dir() {
            return Err(Failure::usage(format!(
                "{} is not a devnet directory (it does not exist or is not a directory)",
                dir.display()
            ))
            .hint(create));
        }
        let path = dir.join(DEVNET_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::usage(format!(
                    "{} is not a devnet directory (no {DEVNET_FILE})",
                    dir.display()
                ))
                .hint(create));
            }
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let file: DevnetFile = serde_json::from_str(&text).map_err(|e| {
            Failure::usage(format!(
                "{} is not a valid devnet description: {e}",
                path.display()
            ))
            .hint(format!(
                "it is written by `sharenet devnet up`; remove the devnet with `sharenet devnet down --dir {} --purge` and create a new one",
                dir.display()
            ))
        })?;
        Ok(Devnet {
            dir: dir.to_path_buf(),
            file,
        })
    }

    /// Where its identities' keys are.
    pub fn identities_dir(&self) -> PathBuf {
        self.dir.join("identities")
    }

    /// A node's directory.
    pub fn node_dir(&self, node: &DevnetNode) -> PathBuf {
        self.dir.join(&node.dir)
    }

    /// The anvil pid file.
    pub fn anvil_pid_file(dir: &Path) -> PathBuf {
        dir.join("anvil.pid")
    }

    /// What the command line of an anvil started by `devnet up` contains, to recognise it by
    /// pid (every such anvil has the same arguments: it binds a port of its choosing).
    pub fn anvil_needle() -> String {
        // Arguments are followed by a space in the command line `process::runs` reads.
        format!(
            "{} ",
            sharenet_chain_adapter::devchain::ANVIL_ARGS.join(" ")
        )
    }

    /// What a node's command line contains (its config path), to recognise it by pid.
    pub fn node_needle(node_dir: &Path) -> String {
        format!("{} ", node_dir.join("node.toml").display())
    }
}
