//! `sharenet identity …`: named chain identities (a key file with mode 0600 and a public `.addr`
//! file) — create, list, show balances, fund on a dev chain.

use std::path::PathBuf;

use alloy::primitives::U256;
use clap::Subcommand;
use sharenet_chain_adapter::{Ledger, Vault};
use sharenet_node::keys;

use crate::devnet::up::write_address;
use crate::failure::Failure;
use crate::output::{Report, Ui, table};
use crate::target::{ChainArgs, check_name, identities_dir, known_names, resolve_account};
use crate::util::ether;

/// `sharenet identity …`.
#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create a chain identity: DIR/NAME.key (mode 0600) and DIR/NAME.addr; prints its address.
    Create {
        /// Its name (letters, digits, '-', '_', '.').
        #[arg(long)]
        name: String,
        /// Where to keep it. Default: the devnet's identities/ with --devnet, else
        /// ~/.sharenet/identities.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The devnet whose identities/ directory to use.
        #[arg(long, env = "SHARENET_DEVNET", value_name = "DEVNET")]
        devnet: Option<PathBuf>,
    },
    /// List the named identities (of the devnet, or of ~/.sharenet/identities).
    List {
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Show an identity's address and balances: ether, and what it can withdraw from the job
    /// market (payouts, refunds) and the node registry.
    Show {
        #[command(flatten)]
        chain: ChainArgs,
        /// Whose: an identity name or an address. Default: the one given by --as or --key.
        who: Option<String>,
    },
    /// Give an identity ether on a development chain (anvil_setBalance; devnets only).
    Fund {
        #[command(flatten)]
        chain: ChainArgs,
        /// Whose: an identity name or an address. Default: the one given by --as or --key.
        who: Option<String>,
        /// The new balance, in ether.
        #[arg(long, default_value_t = 100)]
        ether: u64,
    },
}

/// Runs an `identity` command.
pub async fn run(command: IdentityCommand, ui: &Ui) -> Result<Report, Failure> {
    match command {
        IdentityCommand::Create { name, dir, devnet } => {
            check_name(&name)?;
            let devnet = devnet
                .as_deref()
                .map(crate::devnet::Devnet::load)
                .transpose()?;
            let dir = match dir {
                Some(d) => d,
                None => identities_dir(devnet.as_ref())?,
            };
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
            let key = dir.join(format!("{name}.key"));
            let signer = keys::create_chain_key(&key).map_err(|e| match e {
                keys::KeyError::Exists { .. } => Failure::usage(format!(
                    "identity '{name}' exists already: {}",
                    key.display()
                ))
                .hint("choose another --name"),
                e => Failure::from(e),
            })?;
            write_address(&dir, &name, signer.address())?;
            Ok(Report::new(
                format!(
                    "created identity {name}\n  address: {}\n  key:     {} (mode 0600: keep it private)",
                    signer.address(),
                    key.display()
                ),
                serde_json::json!({ "name": name, "address": signer.address(), "key": key }),
            ))
        }
        IdentityCommand::List { chain } => {
            let devnet = chain.devnet()?;
            let dir = identities_dir(devnet.as_ref())?;
            let mut rows = Vec::new();
            let mut json = Vec::new();
            for name in known_names(&dir) {
                let address = resolve_account(&name, devnet.as_ref()).ok().map(|(a, _)| a);
                rows.push(vec![
                    name.clone(),
                    address.map_or("?".into(), |a| a.to_string()),
                ]);
                json.push(serde_json::json!({
                    "name": name,
                    "address": address,
                    "key": dir.join(format!("{name}.key")),
                }));
            }
            let human = if rows.is_empty() {
                format!(
                    "no identities in {}; create one with `sharenet identity create --name NAME`",
                    dir.display()
                )
            } else {
                format!(
                    "identities in {}\n{}",
                    dir.display(),
                    table(&["name", "address"], &rows)
                )
            };
            Ok(Report::new(
                human,
                serde_json::json!({ "dir": dir, "identities": json }),
            ))
        }
        IdentityCommand::Show { chain, who } => {
            let session = chain.open()?;
            let (address, name) = match &who {
                Some(w) => resolve_account(w, session.devnet.as_ref())?,
                None => {
                    let me = session.me("identity show")?;
                    (me.address, me.name.clone())
                }
            };
            let l = &session.ledger;
            let err = session.chain_err("reading balances");
            let balance = l.eth_balance(address).await.map_err(&err)?;
            let jobs = l.balance_of(Vault::Jobs, address).await.map_err(&err)?;
            let registry = l.balance_of(Vault::Registry, address).await.map_err(&err)?;
            let node = l.node_info(address).await.map_err(&err)?;
            let title = match &name {
                Some(n) => format!("identity {n}"),
                None => "account".to_string(),
            };
            let mut human = format!(
                "{}\n  address:        {address}\n  balance:        {} ({balance} wei)\n  withdrawable from the job market (payouts, refunds): {} ({jobs} wei)\n  withdrawable from the node registry (stakes, rewards): {} ({registry} wei)",
                ui.bold(&title),
                ether(balance),
                ether(jobs),
                ether(registry),
            );
            if node.registered {
                human.push_str(&format!(
                    "\n  node:           registered, stake {}{}",
                    ether(node.stake),
                    if node.exiting { ", exiting" } else { "" }
                ));
            }
            Ok(Report::new(
                human,
                serde_json::json!({
                    "name": name,
                    "address": address,
                    "balance": balance.to_string(),
                    "jobs_balance": jobs.to_string(),
                    "registry_balance": registry.to_string(),
                    "node": node.registered.then(|| serde_json::json!({
                        "stake": node.stake.to_string(),
                        "exiting": node.exiting,
                    })),
                }),
            ))
        }
        IdentityCommand::Fund {
            chain,
            who,
            ether: amount,
        } => {
            let session = chain.open()?;
            if session.devnet.is_none() {
                return Err(Failure::usage("identity fund works on a devnet only").hint(
                    "pass --devnet DIR (on another dev chain, use `sharenet chain fund --rpc URL`)",
                ));
            }
            let (address, name) = match &who {
                Some(w) => resolve_account(w, session.devnet.as_ref())?,
                None => {
                    let me = session.me("identity fund")?;
                    (me.address, me.name.clone())
                }
            };
            let wei = U256::from(amount) * U256::from(10u64).pow(U256::from(18u64));
            crate::chain::set_balance(&session.rpc, address, wei).await?;
            Ok(Report::new(
                format!(
                    "{} now holds {}",
                    name.as_deref().unwrap_or(&address.to_string()),
                    ether(wei)
                ),
                serde_json::json!({ "name": name, "address": address, "balance": wei.to_string() }),
            ))
        }
    }
}
