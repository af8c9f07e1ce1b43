//! The health and metrics endpoint: `GET /healthz` (JSON) and `GET /metrics` (Prometheus text
//! format). A deliberately small HTTP/1.1 server: one request per connection, a bounded request
//! head, a timeout on every read.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::net::{Client, NetCounters};

/// What the node reports about itself (ids, counts; never a key, share or value).
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeStatus {
    /// The node's peer id.
    pub peer_id: String,
    /// The node's chain account.
    pub account: String,
    /// Whether the node is registered and staked on chain.
    pub registered: bool,
    /// The chain's current epoch (changes with the active set).
    pub epoch: u64,
    /// Active nodes on chain (the MPC allow-list).
    pub active_nodes: usize,
    /// Errors talking to the chain since start.
    pub chain_errors: u64,
    /// Dataset registrations listing this node that it did not acknowledge (a committee that is
    /// not the placement rule's, or no shares held under the registered id).
    pub registrations_refused: u64,
    /// Datasets held.
    pub datasets: u64,
    /// Batches held.
    pub batches: u64,
    /// Share values held (rows × columns over all datasets).
    pub shares: u64,
    /// Size of the share database file, in bytes.
    pub store_bytes: u64,
    /// Upload batches verified and stored.
    pub uploads_accepted: u64,
    /// Upload batches rejected by the committee's dealer verification.
    pub uploads_rejected: u64,
    /// Upload requests refused before verification.
    pub uploads_refused: u64,
    /// Jobs by outcome: seen on chain for this node's committees, prepared, refused, computed
    /// and attested, failed.
    pub jobs: [u64; 5],
}

/// Shared status, updated by the node's tasks.
pub type SharedStatus = Arc<Mutex<NodeStatus>>;

const MAX_HEAD: usize = 8 << 10;

/// Serves health and metrics on `addr` until the task is dropped. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    status: SharedStatus,
    client: Client,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let status = status.clone();
            let client = client.clone();
            tokio::spawn(async move {
                let mut head = Vec::with_capacity(512);
                let mut buf = [0u8; 512];
                // Read the request head (bounded, with a timeout).
                let read = tokio::time::timeout(Duration::from_secs(5), async {
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
                        let n = stream.read(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        head.extend_from_slice(&buf[..n]);
                    }
                    Ok::<_, std::io::Error>(())
                })
                .await;
                if !matches!(read, Ok(Ok(()))) {
                    return;
                }
                let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
                let line = String::from_utf8_lossy(line);
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let snapshot = status.lock().map(|s| s.clone()).unwrap_or_default();
                let counters = client.counters().await.unwrap_or_default();
                let (code, kind, body) = match (method, path) {
                    ("GET", "/healthz") => {
                        let mut v = serde_json::to_value(&snapshot).unwrap_or_default();
                        v["status"] = if snapshot.registered {
                            "ok"
                        } else {
                            "starting"
                        }
                        .into();
                        v["peers"] = counters.peers.into();
                        ("200 OK", "application/json", v.to_string())
                    }
                    ("GET", "/metrics") => (
                        "200 OK",
                        "text/plain; version=0.0.4",
                        metrics(&snapshot, &counters),
                    ),
                    _ => (
                        "404 Not Found",
                        "text/plain",
                        "not found: try /healthz or /metrics\n".into(),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {code}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    stream.write_all(response.as_bytes()),
                )
                .await;
            });
        }
    });
    Ok(bound)
}

fn metrics(s: &NodeStatus, c: &NetCounters) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, lines: Vec<(String, u64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in lines {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    gauge(
        "sharenet_peers",
        "Connected peers.",
        "gauge",
        vec![(String::new(), c.peers)],
    );
    gauge(
        "sharenet_active_nodes",
        "Active nodes on chain (the MPC allow-list).",
        "gauge",
        vec![(String::new(), s.active_nodes as u64)],
    );
    gauge(
        "sharenet_registered",
        "1 if this node is registered and staked.",
        "gauge",
        vec![(String::new(), u64::from(s.registered))],
    );
    gauge(
        "sharenet_chain_epoch",
        "The chain's epoch.",
        "gauge",
        vec![(String::new(), s.epoch)],
    );
    gauge(
        "sharenet_chain_errors_total",
        "Errors talking to the chain.",
        "counter",
        vec![(String::new(), s.chain_errors)],
    );
    gauge(
        "sharenet_registrations_refused_total",
        "Dataset registrations listing this node that it did not acknowledge.",
        "counter",
        vec![(String::new(), s.registrations_refused)],
    );
    let one = |v: u64| vec![(String::new(), v)];
    gauge(
        "sharenet_datasets",
        "Datasets held.",
        "gauge",
        one(s.datasets),
    );
    gauge(
        "sharenet_batches",
        "Upload batches held.",
        "gauge",
        one(s.batches),
    );
    gauge(
        "sharenet_shares_stored",
        "Share values held (rows x columns).",
        "gauge",
        one(s.shares),
    );
    gauge(
        "sharenet_store_bytes",
        "Size of the share database file.",
        "gauge",
        one(s.store_bytes),
    );
    gauge(
        "sharenet_upload_batches_total",
        "Upload batches by outcome.",
        "counter",
        vec![
            ("{outcome=\"accepted\"}".into(), s.uploads_accepted),
            ("{outcome=\"rejected\"}".into(), s.uploads_rejected),
            ("{outcome=\"refused\"}".into(), s.uploads_refused),
        ],
    );
    gauge(
        "sharenet_jobs_total",
        "Jobs by outcome (seen on chain for this node's committees, prepared, refused, attested, failed).",
        "counter",
        ["seen", "prepared", "refused", "attested", "failed"]
            .iter()
            .zip(s.jobs)
            .map(|(o, v)| (format!("{{outcome=\"{o}\"}}"), v))
            .collect(),
    );
    let per_protocol = |v: [u64; 3]| {
        ["upload", "mpc", "job"]
            .iter()
            .zip(v)
            .map(|(p, v)| (format!("{{protocol=\"{p}\"}}"), v))
            .collect()
    };
    gauge(
        "sharenet_bytes_in_total",
        "Request bytes received, per protocol.",
        "counter",
        per_protocol(c.bytes_in),
    );
    gauge(
        "sharenet_bytes_out_total",
        "Request bytes sent, per protocol.",
        "counter",
        per_protocol(c.bytes_out),
    );
    gauge(
        "sharenet_refused_unregistered_total",
        "MPC messages refused from peers not active on chain.",
        "counter",
        vec![(String::new(), c.refused_unregistered)],
    );
    gauge(
        "sharenet_refused_busy_total",
        "Requests refused before their body was read: the peer's (or everyone's) budget for the protocol was used up.",
        "counter",
        per_protocol(c.refused_busy),
    );
    gauge(
        "sharenet_refused_too_large_total",
        "Requests refused before their body was read: over the protocol's size limit.",
        "counter",
        per_protocol(c.refused_too_large),
    );
    gauge(
        "sharenet_mpc_refused_total",
        "MPC messages refused by this node's router (answered with a refusal), and messages of this node that a receiver refused.",
        "counter",
        vec![
            ("{by=\"this_node\"}".into(), c.mpc_refused),
            ("{by=\"peer\"}".into(), c.mpc_refused_by_peer),
        ],
    );
    gauge(
        "sharenet_dropped_total",
        "Inbound requests that failed (refused, malformed, oversized, timed out) or found a full queue.",
        "counter",
        vec![(String::new(), c.dropped)],
    );
    gauge(
        "sharenet_outbound_failures_total",
        "Requests that could not be delivered.",
        "counter",
        vec![(String::new(), c.outbound_failures)],
    );
    let d = &c.dht;
    let one = |v: u64| vec![(String::new(), v)];
    gauge(
        "sharenet_dht_records",
        "DHT records held by the local record store.",
        "gauge",
        one(d.records),
    );
    gauge(
        "sharenet_dht_records_unconfirmed",
        "DHT records held that the chain does not confirm (yet).",
        "gauge",
        one(d.unconfirmed),
    );
    gauge(
        "sharenet_dht_refused_total",
        "DHT records refused by the local store, per reason.",
        "counter",
        [
            ("invalid", d.refused_invalid),
            ("too_large", d.refused_too_large),
            ("full", d.refused_full),
            ("stale", d.refused_stale),
            ("conflict", d.refused_conflict),
            ("not_registered", d.refused_not_registered),
            ("unconfirmed", d.refused_unconfirmed),
            ("providers", d.refused_providers),
        ]
        .iter()
        .map(|(r, v)| (format!("{{reason=\"{r}\"}}"), *v))
        .collect(),
    );
    gauge(
        "sharenet_dht_get_invalid_total",
        "Records returned by peers to a DHT lookup that failed validation (dropped).",
        "counter",
        one(d.get_invalid),
    );
    gauge(
        "sharenet_dht_puts_total",
        "DHT records this node put.",
        "counter",
        one(d.puts),
    );
    gauge(
        "sharenet_dht_put_failures_total",
        "DHT puts refused locally or taken by no peer.",
        "counter",
        one(d.put_failures),
    );
    gauge(
        "sharenet_dht_gets_total",
        "DHT lookups.",
        "counter",
        one(d.gets),
    );
    gauge(
        "sharenet_dht_persist_pending",
        "DHT record changes waiting to be re-sent to the persistence writer.",
        "gauge",
        one(d.pending_persist),
    );
    gauge(
        "sharenet_dht_persist_dropped_total",
        "DHT record changes not queued for the database (channel full, lost, writer gone).",
        "counter",
        [
            ("full", d.persist_dropped),
            ("lost", d.persist_lost),
            ("disconnected", d.persist_disconnected),
        ]
        .iter()
        .map(|(r, v)| (format!("{{reason=\"{r}\"}}"), *v))
        .collect(),
    );
    gauge(
        "sharenet_dht_persist_written_total",
        "DHT record changes written to the database.",
        "counter",
        one(d.persist_written),
    );
    gauge(
        "sharenet_dht_persist_transactions_total",
        "Database transactions of the DHT persistence writer.",
        "counter",
        one(d.persist_transactions),
    );
    gauge(
        "sharenet_dht_persist_errors_total",
        "DHT record changes the persistence writer could not write.",
        "counter",
        one(d.persist_errors),
    );
    gauge(
        "sharenet_dht_load_skipped_total",
        "Stored DHT records skipped at start, per reason.",
        "counter",
        [
            ("invalid", d.load_skipped_invalid),
            ("expired", d.load_skipped_expired),
            ("undecodable", d.load_undecodable),
        ]
        .iter()
        .map(|(r, v)| (format!("{{reason=\"{r}\"}}"), *v))
        .collect(),
    );
    out
}
