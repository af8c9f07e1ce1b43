//! `upload-bench`: throughput of verified uploads into a committee of complete in-process nodes.
//!
//! Starts `--nodes` nodes, each with its own libp2p swarm on 127.0.0.1 (TCP + Noise + Yamux), its
//! own encrypted redb share store in a temporary directory and an upload intake
//! (`UploadService`), plus a data owner's client; then uploads a random table of `--rows` ×
//! `--columns` values in batches of `--batch-rows` with `upload_table`: every batch is dealt,
//! sent (each node gets only its shares), stored on disk (one fsynced transaction per batch),
//! verified by the committee over the MPC protocol and acknowledged with a signed receipt. The
//! clock covers exactly that call. Prints one JSON line; errors go to stderr with a non-zero exit.
//!
//! ```text
//! cargo run --release -p sharenet-node --bin upload-bench -- --nodes 5 --threshold 2 --rows 100000
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_node::net::{self, Client, InboundRequest, NetworkConfig};
use sharenet_node::store::{AtRestKey, DatasetId, ShareStore};
use sharenet_node::table::EncodedTable;
use sharenet_node::upload::service::UploadService;
use sharenet_node::upload::uploader::{
    BatchAuthor, KeyBatchSigner, UploadError, deal_batch, send_batch, upload_table,
};
use sharenet_node::upload::wire::{DatasetOrigin, Receipt};
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(
    name = "upload-bench",
    about = "Verified upload throughput into a committee of in-process nodes over loopback libp2p"
)]
struct Args {
    /// Committee size n.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Threshold t (2t < n).
    #[arg(long, default_value_t = 2)]
    threshold: usize,
    /// Rows of the table.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Columns of the table.
    #[arg(long, default_value_t = 5)]
    columns: usize,
    /// Rows per upload batch.
    #[arg(long, default_value_t = 8192)]
    batch_rows: usize,
    /// Seed of the random table.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Batches in flight. 1 (the default) measures `upload_table` exactly as the CLI runs it;
    /// more keeps several batches in flight with `deal_batch`/`send_batch` (the first batch alone,
    /// then up to this many at once), to measure what pipelining the uploader would gain.
    #[arg(long, default_value_t = 1)]
    in_flight: usize,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// A temporary directory removed on drop (the bench's stores live here).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "sharenet-upload-bench-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct BenchNode {
    client: Client,
    addr: Multiaddr,
    store: ShareStore,
}

fn loopback() -> Result<Multiaddr, String> {
    "/ip4/127.0.0.1/tcp/0"
        .parse()
        .map_err(|e| format!("listen address: {e}"))
}

async fn start_node(dir: &Path, index: usize) -> Result<BenchNode, String> {
    let keypair = Keypair::generate_ed25519();
    let (client, inbound) = net::start(NetworkConfig {
        keypair: keypair.clone(),
        listen: vec![loopback()?],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(120),
    })
    .map_err(|e| format!("node {index}: {e}"))?;
    let path = dir.join(format!("node{index}.redb"));
    let key = AtRestKey::generate().map_err(|e| format!("node {index}: at-rest key: {e}"))?;
    let store = tokio::task::spawn_blocking(move || ShareStore::open(path, key))
        .await
        .map_err(|e| format!("node {index}: {e}"))?
        .map_err(|e| format!("node {index}: share store: {e}"))?;
    tokio::spawn(
        UploadService {
            store: store.clone(),
            client: client.clone(),
            identity: keypair,
            verify_timeout: Duration::from_secs(60),
            counters: Default::default(),
            activity: Default::default(),
        }
        .run(inbound),
    );
    let addr = client
        .listen_addrs()
        .await
        .map_err(|e| format!("node {index}: {e}"))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("node {index}: no listen address"))?;
    Ok(BenchNode {
        client,
        addr,
        store,
    })
}

/// The committee, fully connected and allowing each other's MPC messages, and the owner's client.
/// The owner's inbound requests are returned so that they stay open for the whole run.
async fn committee(
    dir: &Path,
    n: usize,
) -> Result<(Vec<BenchNode>, Client, mpsc::Receiver<InboundRequest>), String> {
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        nodes.push(start_node(dir, i).await?);
    }
    let peers: Vec<PeerId> = nodes.iter().map(|x| x.client.local_peer_id()).collect();
    let allowed: HashSet<PeerId> = peers.iter().copied().collect();
    for (i, node) in nodes.iter().enumerate() {
        node.client
            .set_allowed(allowed.clone())
            .await
            .map_err(|e| format!("node {i}: {e}"))?;
        for (j, other) in nodes.iter().enumerate().skip(i + 1) {
            node.client
                .dial(peers[j], other.addr.clone())
                .await
                .map_err(|e| format!("node {i} → node {j}: {e}"))?;
        }
    }
    // The owner needs no listener and serves no requests.
    let (owner, inbound) = net::start(NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: Vec::new(),
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(120),
    })
    .map_err(|e| format!("owner: {e}"))?;
    for (i, (node, peer)) in nodes.iter().zip(&peers).enumerate() {
        owner
            .dial(*peer, node.addr.clone())
            .await
            .map_err(|e| format!("owner → node {i}: {e}"))?;
    }
    Ok((nodes, owner, inbound))
}

fn random_table(rows: usize, columns: usize, seed: u64) -> EncodedTable {
    let mut rng = StdRng::seed_from_u64(seed);
    EncodedTable {
        columns: (0..columns)
            .map(|_| {
                (0..rows)
                    .map(|_| Mp127::from_i64(rng.random_range(-(1i64 << 31) + 1..1i64 << 31)))
                    .collect()
            })
            .collect(),
        rows,
    }
}

/// The upload with up to `in_flight` batches at once (batch 0 first and alone, so that every
/// node has created the dataset before batches race); dealing runs on blocking threads.
async fn upload_pipelined(
    owner: &Client,
    committee: &[PeerId],
    t: usize,
    dataset: BatchAuthor<'_>,
    table: Arc<EncodedTable>,
    batch_rows: usize,
    in_flight: usize,
) -> Result<Vec<Receipt>, UploadError> {
    let n = committee.len();
    let batches = table.rows.div_ceil(batch_rows);
    let one = |batch: usize| {
        let table = table.clone();
        async move {
            let first = batch * batch_rows;
            let rows = batch_rows.min(table.rows - first);
            let columns = table.columns.len() as u32;
            let dealt = tokio::task::spawn_blocking(move || deal_batch(&table, first, rows, n, t))
                .await
                .map_err(|e| UploadError::Committee(format!("dealing task: {e}")))??;
            send_batch(
                owner,
                committee,
                t,
                dataset,
                "upload_bench",
                batch as u64,
                first as u64,
                rows as u32,
                columns,
                dealt,
            )
            .await
        }
    };
    let mut receipts = one(0).await?;
    let rest: Vec<Vec<Receipt>> = futures::stream::iter(1..batches)
        .map(one)
        .buffered(in_flight.max(1))
        .try_collect()
        .await?;
    receipts.extend(rest.into_iter().flatten());
    Ok(receipts)
}

async fn bench(args: Args) -> Result<String, String> {
    let (n, t) = (args.nodes, args.threshold);
    if n < 3 || 2 * t >= n || t == 0 {
        return Err(format!(
            "--nodes {n} --threshold {t}: need n ≥ 3 and 1 ≤ t with 2t < n (e.g. --nodes 5 --threshold 2)"
        ));
    }
    if args.rows == 0 || args.columns == 0 || args.batch_rows == 0 {
        return Err("--rows, --columns and --batch-rows must be at least 1".into());
    }
    let values = args
        .rows
        .checked_mul(args.columns)
        .ok_or("--rows × --columns is too large")?;
    let dir = TempDir::new()?;
    let (nodes, owner, _owner_inbound) = committee(dir.path(), n).await?;
    let peers: Vec<PeerId> = nodes.iter().map(|x| x.client.local_peer_id()).collect();
    let table = Arc::new(random_table(args.rows, args.columns, args.seed));
    let signer = KeyBatchSigner(alloy::signers::local::PrivateKeySigner::random());
    let dataset = BatchAuthor {
        origin: DatasetOrigin {
            owner: signer.0.address().into_array(),
            salt: *blake3::hash(format!("upload-bench {}", args.seed).as_bytes()).as_bytes(),
        },
        signer: &signer,
    };

    let started = Instant::now();
    let receipts = if args.in_flight <= 1 {
        upload_table(
            &owner,
            &peers,
            t,
            dataset,
            "upload_bench",
            &table,
            args.batch_rows,
        )
        .await
    } else {
        upload_pipelined(
            &owner,
            &peers,
            t,
            dataset,
            table.clone(),
            args.batch_rows,
            args.in_flight,
        )
        .await
    }
    .map_err(|e| format!("upload: {e}"))?;
    let wall = started.elapsed().as_secs_f64();

    let batches = args.rows.div_ceil(args.batch_rows);
    if receipts.len() != n * batches || receipts.iter().any(|r| !r.accepted) {
        return Err(format!(
            "expected {} accepted receipts, got {} ({} accepted)",
            n * batches,
            receipts.len(),
            receipts.iter().filter(|r| r.accepted).count()
        ));
    }
    let mut upload_bytes = Vec::with_capacity(n);
    let mut mpc_bytes = Vec::with_capacity(n);
    let mut store_bytes = Vec::with_capacity(n);
    for (i, node) in nodes.iter().enumerate() {
        let c = node
            .client
            .counters()
            .await
            .map_err(|e| format!("node {i}: {e}"))?;
        upload_bytes.push(c.bytes_in[0]);
        mpc_bytes.push(c.bytes_out[1]);
        let store = node.store.clone();
        let id = DatasetId(dataset.origin.id());
        let rows = tokio::task::spawn_blocking(move || store.rows(&id))
            .await
            .map_err(|e| format!("node {i}: {e}"))?
            .map_err(|e| format!("node {i}: reading back the store: {e}"))?;
        if rows != args.rows as u64 {
            return Err(format!(
                "node {i} stored {rows} rows, expected {}",
                args.rows
            ));
        }
        store_bytes.push(
            std::fs::metadata(node.store.path())
                .map_err(|e| format!("node {i}: {e}"))?
                .len(),
        );
    }
    for node in &nodes {
        let _ = node.client.shutdown().await;
    }
    let _ = owner.shutdown().await;
    // Written by hand to keep the keys in this order.
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    Ok(format!(
        "{{\"nodes\":{n},\"threshold\":{t},\"rows\":{},\"columns\":{},\"values\":{values},\"batch_rows\":{},\"batches\":{batches},\"in_flight\":{},\"wall_s\":{wall:.3},\"values_per_s\":{},\"bytes_sent_per_node\":[{}],\"mpc_bytes_sent_per_node\":[{}],\"store_file_bytes_per_node\":[{}],\"transport\":\"libp2p-tcp-noise-yamux-loopback\",\"store\":\"redb-encrypted-fsync\"}}",
        args.rows,
        args.columns,
        args.batch_rows,
        args.in_flight.max(1),
        (values as f64 / wall).round() as u64,
        list(&upload_bytes),
        list(&mpc_bytes),
        list(&store_bytes),
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("upload-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(line) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("upload-bench: {message}");
            ExitCode::FAILURE
        }
    }
}
