//! `sharenet dataset …`: upload a table as verified secret shares, append rows, list and show
//! datasets.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::B256;
use clap::Subcommand;
use sharenet_mpc::query::Schema;
use sharenet_node::table::EncodedTable;

use crate::failure::Failure;
use crate::output::{Report, Ui};
use crate::target::{ChainArgs, Session};
use crate::util::parse_b256;

/// `sharenet dataset …`.
#[derive(Subcommand)]
pub enum DatasetCommand {
    /// Upload a CSV into a pool's committee, register it on chain, wait for every receipt.
    Upload {
        #[command(flatten)]
        owner: OwnerArgs,
        /// The dataset's name.
        #[arg(long)]
        name: String,
        /// The pool (placement key): datasets of one pool share a committee. Default: the
        /// devnet's pool.
        #[arg(long)]
        pool: Option<String>,
        /// Committee size. Default: the devnet's committee size, else 5.
        #[arg(long)]
        nodes: Option<usize>,
        /// Threshold (2t < n). Default: the devnet's threshold, else 2.
        #[arg(long)]
        threshold: Option<usize>,
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
pub struct OwnerArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The dataset's schema (JSON), as registered.
    #[arg(long)]
    schema: PathBuf,
    /// The rows (CSV with a header naming the schema's columns).
    #[arg(long)]
    csv: PathBuf,
    /// Rows per upload batch.
    #[arg(long, default_value_t = 2048)]
    batch_rows: usize,
}

/// The owner's inputs, checked, and its connections.
struct OwnerSession {
    schema: Schema,
    table: EncodedTable,
    session: Session,
    client: sharenet_node::net::Client,
}

/// Reads the schema and the CSV, and connects the owner to the chain and to the network.
fn owner_session(a: &OwnerArgs, what: &str) -> Result<OwnerSession, Failure> {
    let (schema, csv) = (&a.schema, &a.csv);
    if a.batch_rows == 0 {
        return Err(Failure::usage("--batch-rows must be at least 1"));
    }
    let schema_text = std::fs::read_to_string(schema)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", schema.display())))?;
    let parsed = Schema::from_json(&schema_text)
        .map_err(|e| Failure::usage(format!("{}: {e}", schema.display())))?;
    let file = std::fs::File::open(csv)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", csv.display())))?;
    let table = sharenet_node::table::read_csv(std::io::BufReader::new(file), &parsed, &[])
        .map_err(|e| Failure::usage(format!("{}: {e}", csv.display())))?;
    let session = a.chain.open()?;
    session.me(what)?;
    // The owner's client identity is derived from its account key, so that every command it
    // runs signs its manifests with the same key (see `keys::client_identity`).
    let (_, key) = a
        .chain
        .key_file(session.devnet.as_ref())?
        .ok_or_else(|| Failure::usage(format!("{what} needs an identity")))?;
    let keypair = sharenet_node::keys::client_identity(&sharenet_node::keys::load_chain_key(&key)?);
    let client = network_client_as(keypair, Duration::from_secs(120))?;
    Ok(OwnerSession {
        schema: parsed,
        table,
        session,
        client,
    })
}

/// A short-lived libp2p client with a fresh identity (listens nowhere).
#[allow(dead_code)] // used by `dataset show` (next commit)
pub fn network_client(request_timeout: Duration) -> Result<sharenet_node::net::Client, Failure> {
    network_client_as(
        libp2p::identity::Keypair::generate_ed25519(),
        request_timeout,
    )
}

/// A short-lived libp2p client with the identity `keypair` (listens nowhere).
pub fn network_client_as(
    keypair: libp2p::identity::Keypair,
    request_timeout: Duration,
) -> Result<sharenet_node::net::Client, Failure> {
    let (client, _inbound) = sharenet_node::net::start(sharenet_node::net::NetworkConfig {
        keypair,
        listen: Vec::new(),
        bootstrap: Vec::new(),
        request_timeout,
    })
    .map_err(|e| Failure::network(format!("starting the network client: {e}")))?;
    Ok(client)
}

/// Parses a dataset id given as 0x + 64 hex digits.
pub fn parse_dataset_id(flag: &str, text: &str) -> Result<B256, Failure> {
    parse_b256(text).ok_or_else(|| {
        Failure::usage(format!("{flag}: '{text}' is not a dataset id"))
            .hint("a dataset id is 0x followed by 64 hex digits; see `sharenet dataset list`")
    })
}

async fn upload(
    a: &OwnerArgs,
    name: &str,
    pool: Option<String>,
    nodes: Option<usize>,
    threshold: Option<usize>,
    min_cohort: u32,
    ui: &Ui,
) -> Result<Report, Failure> {
    let s = owner_session(a, "uploading a dataset")?;
    let defaults = s.session.devnet.as_ref().map(|d| &d.file);
    let pool = match (pool, defaults) {
        (Some(p), _) => p,
        (None, Some(d)) => d.pool.clone(),
        (None, None) => {
            return Err(Failure::usage("--pool is needed without --devnet")
                .hint("name the pool (placement key) to upload into, e.g. --pool hospitals"));
        }
    };
    let n = nodes.or(defaults.map(|d| d.committee_size)).unwrap_or(5);
    let t = threshold.or(defaults.map(|d| d.threshold)).unwrap_or(2);
    if t == 0 || 2 * t >= n {
        return Err(Failure::usage(format!(
            "--threshold {t} with --nodes {n}: the threshold must be at least 1 and 2t < n"
        ))
        .hint("e.g. --nodes 3 --threshold 1, or --nodes 5 --threshold 2"));
    }
    let progress = ui.spinner(format!(
        "uploading {} rows x {} columns to a committee of {n} (pool '{pool}')",
        s.table.rows,
        s.table.columns.len()
    ));
    let summary = sharenet_node::owner::upload_dataset(
        &s.session.ledger,
        &s.client,
        &s.schema,
        &s.table,
        name,
        &pool,
        n,
        t,
        min_cohort,
        a.batch_rows,
        Duration::from_secs(120),
    )
    .await?;
    drop(progress);
    let id = B256::from(summary.dataset);
    let committee: Vec<String> = summary.committee.iter().map(|p| p.to_string()).collect();
    Ok(Report::new(
        format!(
            "dataset {} uploaded: {id}\n  rows {} x {} columns, pool '{}', threshold {}\n  committee (every member verified its shares and acknowledged on chain):\n{}",
            name,
            summary.rows,
            s.table.columns.len(),
            pool,
            t,
            committee
                .iter()
                .enumerate()
                .map(|(i, p)| format!("    {i}: {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        serde_json::json!({
            "dataset": id,
            "name": name,
            "pool": pool,
            "rows": summary.rows,
            "columns": s.table.columns.len(),
            "threshold": t,
            "min_cohort": min_cohort,
            "committee": committee,
            "accounts": summary.accounts,
            "receipts": summary.receipts,
        }),
    ))
}

async fn append(a: &OwnerArgs, dataset: &str, ui: &Ui) -> Result<Report, Failure> {
    let id = parse_dataset_id("--dataset", dataset)?;
    let s = owner_session(a, "appending to a dataset")?;
    let progress = ui.spinner(format!("appending {} rows to {id}", s.table.rows));
    let summary = sharenet_node::owner::append_dataset(
        &s.session.ledger,
        &s.client,
        id,
        &s.schema,
        &s.table,
        a.batch_rows,
    )
    .await?;
    drop(progress);
    Ok(Report::new(
        format!(
            "appended {} rows to {id}: {} rows in all",
            summary.rows, summary.manifest.rows
        ),
        serde_json::json!({
            "dataset": id,
            "appended_rows": summary.rows,
            "total_rows": summary.manifest.rows,
            "receipts": summary.receipts,
        }),
    ))
}

/// Runs a `dataset` command.
pub async fn run(command: DatasetCommand, ui: &Ui) -> Result<Report, Failure> {
    match command {
        DatasetCommand::Upload {
            owner,
            name,
            pool,
            nodes,
            threshold,
            min_cohort,
        } => upload(&owner, &name, pool, nodes, threshold, min_cohort, ui).await,
        DatasetCommand::Append { owner, dataset } => append(&owner, &dataset, ui).await,
    }
}
