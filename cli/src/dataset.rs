//! `sharenet dataset …`: upload a table as verified secret shares, append rows, list and show
//! datasets.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use clap::Subcommand;
use sharenet_chain_adapter::{DatasetInfo, Ledger};
use sharenet_node::table::EncodedTable;
use sharenet_query::Schema;

use crate::devnet::Devnet;
use crate::failure::Failure;
use crate::manifest::{self, ManifestState};
use crate::output::{Report, Ui, table};
use crate::target::{ChainArgs, Session, label, name_of};
use crate::trail::Trail;
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
        /// The dataset: its id (0x…) or its name when no other dataset has it.
        #[arg(long)]
        dataset: String,
    },
    /// List the datasets registered on chain (names from their manifests in the DHT).
    List {
        #[command(flatten)]
        chain: ChainArgs,
        /// Only the datasets the identity (--as / --key) owns.
        #[arg(long)]
        mine: bool,
        /// Do not look names up in the DHT (chain only, faster).
        #[arg(long)]
        no_names: bool,
    },
    /// Show a dataset: its chain record, each committee member's acknowledgement, and its
    /// manifest from the DHT (name, schema, minimum cohort) checked against the chain.
    Show {
        #[command(flatten)]
        chain: ChainArgs,
        /// The dataset: its id (0x…) or its name when no other dataset has it.
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
    if dataset.starts_with("0x") {
        parse_dataset_id("--dataset", dataset)?;
    }
    let s = owner_session(a, "appending to a dataset")?;
    let id = resolve_dataset(&s.session, dataset).await?;
    let info = dataset_info(&s.session, id).await?;
    let me = s.session.me("appending to a dataset")?.address;
    if info.owner != me {
        let devnet = s.session.devnet.as_ref();
        return Err(Failure::refused(format!(
            "dataset {id} is owned by {}, not by {}: only its owner can append to it",
            label(info.owner, devnet),
            label(me, devnet)
        ))
        .hint("act as the dataset's owner (--as / --key)"));
    }
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

/// How long the DHT lookups of a listing or a `show` may take.
const MANIFEST_BUDGET: Duration = Duration::from_secs(5);

/// A dataset's chain record, or a usage error if no dataset has this id.
pub async fn dataset_info(session: &Session, id: B256) -> Result<DatasetInfo, Failure> {
    let info = session
        .ledger
        .dataset_info(id)
        .await
        .map_err(session.chain_err("reading the dataset"))?;
    if info.owner == Address::ZERO {
        return Err(
            Failure::usage(format!("dataset {id} is not registered on this chain"))
                .hint("see the registered datasets with `sharenet dataset list`"),
        );
    }
    Ok(info)
}

/// A dataset given by id (0x…) or by name (unique among the registered manifests).
pub async fn resolve_dataset(session: &Session, text: &str) -> Result<B256, Failure> {
    if text.starts_with("0x") {
        let id = parse_dataset_id("dataset", text)?;
        dataset_info(session, id).await?;
        return Ok(id);
    }
    let trail = Trail::read(session).await?;
    let mut infos = Vec::new();
    for id in trail.datasets() {
        let info = session
            .ledger
            .dataset_info(id)
            .await
            .map_err(session.chain_err("reading a dataset"))?;
        infos.push((id, info));
    }
    let manifests = manifest::fetch(session, &infos, MANIFEST_BUDGET).await;
    let matching: Vec<B256> = infos
        .iter()
        .filter(|(id, _)| {
            manifests
                .get(id)
                .and_then(ManifestState::registered)
                .is_some_and(|m| m.name == text)
        })
        .map(|(id, _)| *id)
        .collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure::usage(format!(
            "no dataset named '{text}' (of {} registered; names come from manifests in the DHT, so \
             a dataset whose committee is down cannot be found by name)",
            infos.len()
        ))
        .hint("see `sharenet dataset list`, or give the dataset's id (0x…)")),
        many => Err(Failure::usage(format!(
            "{} datasets are named '{text}': {}",
            many.len(),
            many.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("give the dataset's id (0x…) instead of its name")),
    }
}

fn committee_json(info: &DatasetInfo, devnet: Option<&Devnet>) -> Vec<serde_json::Value> {
    info.committee
        .iter()
        .map(|a| serde_json::json!({ "account": a, "name": name_of(*a, devnet) }))
        .collect()
}

async fn list(chain: &ChainArgs, mine: bool, no_names: bool, ui: &Ui) -> Result<Report, Failure> {
    let session = chain.open()?;
    let me = if mine {
        Some(session.me("dataset list --mine")?.address)
    } else {
        None
    };
    let progress = ui.spinner("reading the datasets from the chain");
    let trail = Trail::read(&session).await?;
    let mut infos = Vec::new();
    for id in trail.datasets() {
        let info = session
            .ledger
            .dataset_info(id)
            .await
            .map_err(session.chain_err("reading a dataset"))?;
        if me.is_none_or(|m| info.owner == m) {
            infos.push((id, info));
        }
    }
    let manifests = if no_names {
        Default::default()
    } else {
        progress.set_message("looking the manifests up in the DHT");
        manifest::fetch(&session, &infos, MANIFEST_BUDGET).await
    };
    drop(progress);
    let devnet = session.devnet.as_ref();
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for (id, info) in &infos {
        let m = manifests.get(id).and_then(ManifestState::registered);
        let name = m.map(|m| m.name.clone());
        rows.push(vec![
            id.to_string(),
            name.clone().unwrap_or_else(|| "?".into()),
            label(info.owner, devnet),
            info.pool.clone(),
            info.rows.to_string(),
            format!("{}/{}", info.threshold, info.committee.len()),
            if info.retired {
                ui.warn("retired")
            } else {
                ui.good("active")
            },
        ]);
        json.push(serde_json::json!({
            "id": id,
            "name": name,
            "owner": info.owner,
            "owner_name": name_of(info.owner, devnet),
            "pool": info.pool,
            "rows": info.rows,
            "threshold": info.threshold,
            "committee": committee_json(info, devnet),
            "retired": info.retired,
            "schema_hash": info.schemaHash,
            "manifest_hash": info.manifestHash,
            "manifest": manifests.get(id).map(ManifestState::status),
        }));
    }
    let human = if rows.is_empty() {
        "no datasets registered yet; upload one with `sharenet dataset upload`".to_string()
    } else {
        table(
            &["id", "name", "owner", "pool", "rows", "t/n", "status"],
            &rows,
        )
    };
    Ok(Report::new(human, serde_json::json!({ "datasets": json })))
}

async fn show(chain: &ChainArgs, dataset: &str, ui: &Ui) -> Result<Report, Failure> {
    let session = chain.open()?;
    let progress = ui.spinner("reading the dataset");
    let id = resolve_dataset(&session, dataset).await?;
    let info = dataset_info(&session, id).await?;
    let devnet = session.devnet.as_ref();
    let err = session.chain_err("reading the committee");
    let mut members = Vec::new();
    for (i, account) in info.committee.iter().enumerate() {
        let acked = session
            .ledger
            .has_acknowledged(id, *account)
            .await
            .map_err(&err)?;
        let node = session.ledger.node_info(*account).await.map_err(&err)?;
        let peer =
            sharenet_node::daemon::peer_id_from_chain_key(node.peerKey).map(|p| p.to_string());
        members.push((i, *account, acked, peer));
    }
    progress.set_message("fetching the manifest from the DHT");
    let manifests = manifest::fetch(&session, &[(id, info.clone())], MANIFEST_BUDGET).await;
    drop(progress);
    let state = manifests
        .get(&id)
        .cloned()
        .unwrap_or(ManifestState::NotFound);
    let m = state.registered();
    let acked = members.iter().filter(|m| m.2).count();
    let mut human = format!(
        "{} {}
  name:           {}
  owner:          {}
  pool:           {}
  rows:           {}
  threshold:      {} of a committee of {}
  status:         {}
  schema hash:    {}
  manifest hash:  {}
  manifest:       {}",
        ui.bold("dataset"),
        id,
        m.map_or("? (no manifest)".to_string(), |m| m.name.clone()),
        label(info.owner, devnet),
        info.pool,
        info.rows,
        info.threshold,
        info.committee.len(),
        if info.retired {
            ui.warn("retired")
        } else {
            ui.good("active")
        },
        info.schemaHash,
        info.manifestHash,
        match &state {
            ManifestState::Registered(_) => ui.good(state.status()),
            ManifestState::Unreachable(why) => ui.bad(&format!("{} ({why})", state.status())),
            ManifestState::Mismatch(other) => ui.bad(&format!(
                "{} (the DHT holds version {})",
                state.status(),
                other.version
            )),
            _ => ui.bad(state.status()),
        },
    );
    if let Some(m) = m {
        human.push_str(&format!(
            "
  min cohort:     {}
  columns:        {}
  version:        {}",
            m.min_cohort, m.columns, m.version
        ));
        if let Ok(schema) = Schema::from_json(&m.schema) {
            for c in schema.columns() {
                human.push_str(&format!(
                    "
    {}",
                    column_text(c)
                ));
            }
        }
    }
    human.push_str(&format!(
        "
  committee ({acked} of {} acknowledged holding verified shares):",
        members.len()
    ));
    for (i, account, acked, peer) in &members {
        human.push_str(&format!(
            "
    {i}: {} {} {}",
            label(*account, devnet),
            peer.as_deref().unwrap_or("?"),
            if *acked {
                ui.good("acknowledged")
            } else {
                ui.bad("not acknowledged")
            }
        ));
    }
    let json = serde_json::json!({
        "id": id,
        "name": m.map(|m| m.name.clone()),
        "owner": info.owner,
        "owner_name": name_of(info.owner, devnet),
        "pool": info.pool,
        "pool_key": info.poolKey,
        "rows": info.rows,
        "threshold": info.threshold,
        "retired": info.retired,
        "schema_hash": info.schemaHash,
        "manifest_hash": info.manifestHash,
        "committee": members.iter().map(|(i, a, acked, peer)| serde_json::json!({
            "index": i,
            "account": a,
            "name": name_of(*a, devnet),
            "peer_id": peer,
            "acknowledged": acked,
        })).collect::<Vec<_>>(),
        "acknowledged": acked,
        "manifest": {
            "status": state.status(),
            "matches_chain": m.is_some(),
            "version": m.map(|m| m.version),
            "min_cohort": m.map(|m| m.min_cohort),
            "columns": m.map(|m| m.columns),
            "schema": m.and_then(|m| serde_json::from_str::<serde_json::Value>(&m.schema).ok()),
            "created_at": m.map(|m| m.created_at),
        },
    });
    Ok(Report::new(human, json))
}

/// One schema column for humans: `name: type`.
fn column_text(c: &sharenet_query::Column) -> String {
    format!("{}: {}", c.name, c.ty)
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
        DatasetCommand::List {
            chain,
            mine,
            no_names,
        } => list(&chain, mine, no_names, ui).await,
        DatasetCommand::Show { chain, dataset } => show(&chain, &dataset, ui).await,
    }
}
