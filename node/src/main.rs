//! `sharenet`: the node daemon and the command-line tool.
//!
//! Errors are reported for humans: what failed, where, and how to fix it; the exit code says
//! which kind of failure it was (2: bad usage or configuration, 3: chain, 4: network, 1: other).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alloy::primitives::{Address, U256};
use clap::{Parser, Subcommand};
use sharenet_chain_adapter::{DeployParams, Ledger, RpcBackend, RpcConfig, Vault, deploy};
use sharenet_node::config::{self, NodeConfig};
use sharenet_node::daemon::{self, NodeError};
use sharenet_node::keys;

#[derive(Parser)]
#[command(
    name = "sharenet",
    version,
    about = "sharenet: data no single node can read, computed on by MPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run and manage a node.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Chain tools (deploy the contracts, fund accounts on a dev chain).
    #[command(subcommand)]
    Chain(ChainCommand),
    /// Datasets: upload a table as verified secret shares.
    #[command(subcommand)]
    Dataset(DatasetCommand),
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Upload a CSV into a pool's committee, register it on chain, wait for every receipt.
    Upload {
        #[command(flatten)]
        owner: OwnerArgs,
        /// The dataset's name.
        #[arg(long)]
        name: String,
        /// The pool (placement key): datasets of one pool share a committee.
        #[arg(long)]
        pool: String,
        /// Committee size.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Threshold (2t < n).
        #[arg(long, default_value_t = 2)]
        threshold: usize,
        /// Smallest group a query result may describe (smaller groups are suppressed).
        #[arg(long, default_value_t = 10)]
        min_cohort: u32,
    },
    /// Append the rows of a CSV to a dataset you own (same schema, same committee).
    Append {
        #[command(flatten)]
        owner: OwnerArgs,
        /// The dataset id (0x…).
        #[arg(long)]
        dataset: String,
    },
}

/// What every owner command reads: the chain, the owner's key, the schema and the rows.
#[derive(clap::Args)]
struct OwnerArgs {
    /// JSON-RPC endpoint.
    #[arg(long)]
    rpc: String,
    /// Contract address file.
    #[arg(long)]
    contracts: PathBuf,
    /// The owner's chain key file.
    #[arg(long)]
    key: PathBuf,
    /// The dataset's schema (JSON), as registered.
    #[arg(long)]
    schema: PathBuf,
    /// The rows (CSV with a header naming the schema's columns).
    #[arg(long)]
    csv: PathBuf,
    /// Rows per upload batch.
    #[arg(long, default_value_t = 2048)]
    batch_rows: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum NodeCommand {
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

#[derive(Subcommand)]
enum ChainCommand {
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

struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Self {
        let code = match e {
            NodeError::Chain(_) => 3,
            NodeError::Net(_) | NodeError::Http { .. } => 4,
            _ => 2,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

fn parse_u256(what: &str, text: &str) -> Result<U256, Failure> {
    text.parse::<U256>()
        .map_err(|_| Failure::usage(format!("{what}: '{text}' is not a decimal amount of wei")))
}

fn init(
    dir: &Path,
    listen: &str,
    http: &str,
    rpc: &str,
    contracts: &str,
    deposit: &str,
) -> Result<String, Failure> {
    parse_u256("--deposit", deposit)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let config_path = dir.join("node.toml");
    if config_path.exists() {
        return Err(Failure::usage(format!(
            "{} already exists; this directory already holds a node",
            config_path.display()
        )));
    }
    let identity =
        keys::create_identity(&dir.join("node.key")).map_err(|e| Failure::usage(e.to_string()))?;
    let chain = keys::create_chain_key(&dir.join("chain.key"))
        .map_err(|e| Failure::usage(e.to_string()))?;
    std::fs::write(
        &config_path,
        config::template(listen, http, rpc, contracts, deposit),
    )
    .map_err(|e| Failure::usage(format!("cannot write {}: {e}", config_path.display())))?;
    Ok(format!(
        "created node in {}\n  peer id:       {}\n  chain account: {}\n  config:        {}\nfund the chain account with at least the deposit, then: sharenet node run --config {}",
        dir.display(),
        identity.public().to_peer_id(),
        chain.address(),
        config_path.display(),
        config_path.display()
    ))
}

type OwnerSession = (
    sharenet_mpc::query::Schema,
    sharenet_node::table::EncodedTable,
    sharenet_chain_adapter::RpcLedger,
    sharenet_node::net::Client,
);

/// Reads the schema, the CSV and the contract addresses, and connects the owner to the chain and
/// to the network.
fn owner_session(a: &OwnerArgs) -> Result<OwnerSession, Failure> {
    let (schema, csv, contracts, key) = (&a.schema, &a.csv, &a.contracts, &a.key);
    let schema_text = std::fs::read_to_string(schema)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", schema.display())))?;
    let parsed = sharenet_mpc::query::Schema::from_json(&schema_text)
        .map_err(|e| Failure::usage(format!("{}: {e}", schema.display())))?;
    let file = std::fs::File::open(csv)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", csv.display())))?;
    let table = sharenet_node::table::read_csv(std::io::BufReader::new(file), &parsed, &[])
        .map_err(|e| Failure::usage(format!("{}: {e}", csv.display())))?;
    let contracts_text = std::fs::read_to_string(contracts)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", contracts.display())))?;
    let addresses = serde_json::from_str(&contracts_text).map_err(|e| {
        Failure::usage(format!(
            "{}: not a contract address file: {e}",
            contracts.display()
        ))
    })?;
    let signer = keys::load_chain_key(key).map_err(|e| Failure::usage(e.to_string()))?;
    let keypair = keys::client_identity(&signer);
    let ledger = RpcBackend::connect(RpcConfig::local(a.rpc.clone()), signer)
        .map_err(chain_failure)?
        .into_ledger(addresses);
    let (client, _inbound) = sharenet_node::net::start(sharenet_node::net::NetworkConfig {
        keypair,
        listen: Vec::new(),
        bootstrap: Vec::new(),
        request_timeout: std::time::Duration::from_secs(120),
    })
    .map_err(|e| Failure {
        code: 4,
        message: e.to_string(),
    })?;
    Ok((parsed, table, ledger, client))
}

fn owner_failure(e: sharenet_node::owner::OwnerError) -> Failure {
    let code = match e {
        sharenet_node::owner::OwnerError::Chain(_) => 3,
        sharenet_node::owner::OwnerError::Net(_) => 4,
        _ => 1,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

async fn append(owner: &OwnerArgs, dataset: &str) -> Result<String, Failure> {
    let id: alloy::primitives::B256 = dataset.parse().map_err(|_| {
        Failure::usage(format!(
            "--dataset: '{dataset}' is not a 0x-prefixed 32-byte id"
        ))
    })?;
    let (schema, table, ledger, client) = owner_session(owner)?;
    let summary = sharenet_node::owner::append_dataset(
        &ledger,
        &client,
        id,
        &schema,
        &table,
        owner.batch_rows,
    )
    .await
    .map_err(owner_failure)?;
    if owner.json {
        return Ok(serde_json::json!({
            "dataset": id.to_string(),
            "appended_rows": summary.rows,
            "total_rows": summary.manifest.rows,
            "receipts": summary.receipts,
        })
        .to_string());
    }
    Ok(format!(
        "appended {} rows to {id}: {} rows in all",
        summary.rows, summary.manifest.rows
    ))
}

async fn upload(
    a: &OwnerArgs,
    name: &str,
    pool: &str,
    nodes: usize,
    threshold: usize,
    min_cohort: u32,
) -> Result<String, Failure> {
    let (schema, table, ledger, client) = owner_session(a)?;
    let summary = sharenet_node::owner::upload_dataset(
        &ledger,
        &client,
        &schema,
        &table,
        name,
        pool,
        nodes,
        threshold,
        min_cohort,
        a.batch_rows,
        std::time::Duration::from_secs(120),
    )
    .await
    .map_err(owner_failure)?;
    let id: String = summary.dataset.iter().map(|b| format!("{b:02x}")).collect();
    if a.json {
        return Ok(serde_json::json!({
            "dataset": format!("0x{id}"),
            "name": name,
            "pool": pool,
            "rows": summary.rows,
            "columns": table.columns.len(),
            "threshold": threshold,
            "committee": summary.committee.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "receipts": summary.receipts,
        })
        .to_string());
    }
    Ok(format!(
        "dataset {} uploaded: 0x{id}\n  rows {} x {} columns, pool '{}', threshold {}\n  committee (every member verified its shares and acknowledged on chain):\n{}",
        name,
        summary.rows,
        table.columns.len(),
        pool,
        threshold,
        summary
            .committee
            .iter()
            .enumerate()
            .map(|(i, p)| format!("    {i}: {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

fn chain_failure(e: sharenet_chain_adapter::ChainError) -> Failure {
    Failure {
        code: 3,
        message: e.to_string(),
    }
}

/// The node's own chain account, from its configuration.
fn node_ledger(config: &Path) -> Result<sharenet_chain_adapter::RpcLedger, Failure> {
    let config = NodeConfig::load(config).map_err(|e| Failure::usage(e.to_string()))?;
    let signer =
        keys::load_chain_key(&config.chain_key).map_err(|e| Failure::usage(e.to_string()))?;
    Ok(
        RpcBackend::connect(RpcConfig::local(config.rpc_url), signer)
            .map_err(chain_failure)?
            .into_ledger(config.contracts),
    )
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

async fn run(cli: Cli) -> Result<Option<String>, Failure> {
    match cli.command {
        Command::Node(NodeCommand::Init {
            dir,
            listen,
            http,
            rpc,
            contracts,
            deposit,
        }) => init(&dir, &listen, &http, &rpc, &contracts, &deposit).map(Some),
        Command::Node(NodeCommand::Exit { config }) => {
            let ledger = node_ledger(&config)?;
            ledger.request_exit().await.map_err(chain_failure)?;
            let info = ledger
                .node_info(ledger.account())
                .await
                .map_err(chain_failure)?;
            Ok(Some(format!(
                "exit requested for {}: the node has left the active set; its deposit of {} wei unbonds, then run `sharenet node withdraw`",
                ledger.account(),
                info.stake
            )))
        }
        Command::Node(NodeCommand::Withdraw { config }) => {
            let ledger = node_ledger(&config)?;
            ledger.withdraw_stake().await.map_err(chain_failure)?;
            let mut withdrawn = Vec::new();
            for vault in [Vault::Registry, Vault::Jobs] {
                let balance = ledger
                    .balance_of(vault, ledger.account())
                    .await
                    .map_err(chain_failure)?;
                if !balance.is_zero() {
                    ledger.withdraw(vault).await.map_err(chain_failure)?;
                    withdrawn.push(format!("{balance} wei from {vault:?}"));
                }
            }
            Ok(Some(format!(
                "withdrawn to {}: {}",
                ledger.account(),
                if withdrawn.is_empty() {
                    "nothing".to_string()
                } else {
                    withdrawn.join(", ")
                }
            )))
        }
        Command::Node(NodeCommand::Run { config }) => {
            let config = NodeConfig::load(&config).map_err(|e| Failure::usage(e.to_string()))?;
            daemon::run(config, shutdown_signal()).await?;
            Ok(None)
        }
        Command::Chain(ChainCommand::Deploy {
            rpc,
            key,
            out,
            min_deposit,
        }) => {
            let signer = keys::load_chain_key(&key).map_err(|e| Failure::usage(e.to_string()))?;
            let backend =
                RpcBackend::connect(RpcConfig::local(rpc), signer).map_err(|e| Failure {
                    code: 3,
                    message: e.to_string(),
                })?;
            let params = DeployParams {
                min_deposit: parse_u256("--min-deposit", &min_deposit)?,
                ..DeployParams::default()
            };
            let (addresses, _gas) = deploy(&backend, &params).await.map_err(|e| Failure {
                code: 3,
                message: format!("deploying the contracts: {e}"),
            })?;
            let json = serde_json::to_string_pretty(&addresses).map_err(|e| Failure {
                code: 1,
                message: e.to_string(),
            })?;
            std::fs::write(&out, json)
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", out.display())))?;
            Ok(Some(format!(
                "contracts deployed; addresses written to {}",
                out.display()
            )))
        }
        Command::Dataset(DatasetCommand::Upload {
            owner,
            name,
            pool,
            nodes,
            threshold,
            min_cohort,
        }) => upload(&owner, &name, &pool, nodes, threshold, min_cohort)
            .await
            .map(Some),
        Command::Dataset(DatasetCommand::Append { owner, dataset }) => {
            append(&owner, &dataset).await.map(Some)
        }
        Command::Chain(ChainCommand::Key { out }) => {
            let signer = keys::create_chain_key(&out).map_err(|e| Failure::usage(e.to_string()))?;
            Ok(Some(format!(
                "created {}\n  chain account: {}",
                out.display(),
                signer.address()
            )))
        }
        Command::Chain(ChainCommand::Fund {
            rpc,
            key: _,
            account,
            wei,
        }) => {
            // anvil_setBalance is not a transaction: any signer will do.
            let signer = alloy::signers::local::PrivateKeySigner::random();
            let who: Address = account
                .parse()
                .map_err(|_| Failure::usage(format!("--account: '{account}' is not an address")))?;
            let backend =
                RpcBackend::connect(RpcConfig::local(rpc), signer).map_err(|e| Failure {
                    code: 3,
                    message: e.to_string(),
                })?;
            backend
                .dev_set_balance(who, parse_u256("--wei", &wei)?)
                .await
                .map_err(|e| Failure {
                    code: 3,
                    message: format!("setting the balance (a dev chain is needed): {e}"),
                })?;
            Ok(Some(format!("{who} now holds {wei} wei")))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sharenet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Some(message)) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{message}");
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("sharenet: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
