//! `sharenet chain …`: deploy the contracts, create an account key, fund an account on a dev chain.

use std::path::PathBuf;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use clap::Subcommand;
use sharenet_chain_adapter::{DeployParams, RpcBackend, RpcConfig, deploy};
use sharenet_node::keys;

use crate::failure::Failure;
use crate::output::{Report, Ui};
use crate::util::parse_wei;

/// `sharenet chain …`.
#[derive(Subcommand)]
pub enum ChainCommand {
    /// Deploy the contracts and write their addresses to a JSON file.
    Deploy {
        /// JSON-RPC endpoint.
        #[arg(long)]
        rpc: String,
        /// Key file of the deploying account.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the addresses.
        #[arg(long)]
        out: PathBuf,
        /// Minimum node deposit, in wei.
        #[arg(long, default_value = "1000000000000000000")]
        min_deposit: String,
    },
    /// Create a chain account key file (mode 0600) and print its address.
    Key {
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Set an account's balance (development chains such as anvil only).
    Fund {
        /// JSON-RPC endpoint.
        #[arg(long)]
        rpc: String,
        /// Deprecated and ignored: setting a dev balance signs nothing.
        #[arg(long, hide = true)]
        key: Option<PathBuf>,
        /// The account.
        #[arg(long)]
        account: String,
        /// The new balance, in wei.
        #[arg(long)]
        wei: String,
    },
}

/// A connection that only reads or uses dev-chain helpers (signs nothing that is sent).
pub fn unsigned_backend(rpc: &str) -> Result<RpcBackend, Failure> {
    RpcBackend::connect(RpcConfig::local(rpc), PrivateKeySigner::random()).map_err(|e| {
        Failure::usage(format!("--rpc: '{rpc}' is not a usable endpoint: {e}"))
            .hint("give an http URL such as http://127.0.0.1:8545")
    })
}

/// Sets `who`'s balance on a dev chain (anvil_setBalance).
pub async fn set_balance(rpc: &str, who: Address, wei: U256) -> Result<(), Failure> {
    unsigned_backend(rpc)?
        .dev_set_balance(who, wei)
        .await
        .map_err(|e| {
            Failure::chain(format!(
                "setting the balance of {who} on {rpc} (a dev chain such as anvil is needed): {e}"
            ))
        })
}

/// Runs a `chain` command.
pub async fn run(command: ChainCommand, _ui: &Ui) -> Result<Report, Failure> {
    match command {
        ChainCommand::Deploy {
            rpc,
            key,
            out,
            min_deposit,
        } => {
            let signer = keys::load_chain_key(&key)?;
            let params = DeployParams {
                min_deposit: parse_wei("--min-deposit", &min_deposit)?,
                ..DeployParams::default()
            };
            let backend = RpcBackend::connect(RpcConfig::local(rpc.clone()), signer)
                .map_err(|e| Failure::usage(format!("--rpc: '{rpc}': {e}")))?;
            let (addresses, _gas) = deploy(&backend, &params)
                .await
                .map_err(|e| Failure::from_chain("deploying the contracts", &rpc, e))?;
            let json = serde_json::to_string_pretty(&addresses)
                .map_err(|e| Failure::other(e.to_string()))?;
            std::fs::write(&out, json)
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", out.display())))?;
            Ok(Report::new(
                format!("contracts deployed; addresses written to {}", out.display()),
                serde_json::json!({ "contracts": addresses, "out": out }),
            ))
        }
        ChainCommand::Key { out } => {
            let signer = keys::create_chain_key(&out)?;
            Ok(Report::new(
                format!(
                    "created {}\n  chain account: {}",
                    out.display(),
                    signer.address()
                ),
                serde_json::json!({ "key": out, "address": signer.address() }),
            ))
        }
        ChainCommand::Fund {
            rpc,
            key: _,
            account,
            wei,
        } => {
            let who: Address = account.parse().map_err(|_| {
                Failure::usage(format!("--account: '{account}' is not an address"))
                    .hint("give 0x followed by 40 hex digits")
            })?;
            let amount = parse_wei("--wei", &wei)?;
            set_balance(&rpc, who, amount).await?;
            Ok(Report::new(
                format!("{who} now holds {wei} wei"),
                serde_json::json!({ "account": who, "wei": amount.to_string() }),
            ))
        }
    }
}
