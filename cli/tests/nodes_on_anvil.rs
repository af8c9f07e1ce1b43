//! Real `sharenet` node processes on 127.0.0.1 with a local anvil: the contracts are deployed with
//! the CLI, five nodes are created with `sharenet node init`, funded, and run; they register and
//! stake, find each other through the chain, report health and metrics, refuse MPC messages from a
//! peer that is not on chain; a CSV of 10^4 rows × 5 columns is uploaded with
//! `sharenet dataset upload` (t = 2), every node acknowledges it on chain, and after a clean
//! SIGTERM stop every node's store holds only its own shares, any t+1 of which reconstruct the
//! table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Devnet, http_get, sharenet};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::shamir::{LagrangeCache, reconstruct_checked};
use sharenet_mpc::transport::Transport;
use sharenet_node::net::{self, NetworkConfig};

const NODES: usize = 5;
const THRESHOLD: usize = 2;
const ROWS: usize = 10_000;

const SCHEMA: &str = r#"{"columns":[{"name":"age","type":"integer"},{"name":"sex","type":"category","labels":["f","m"]},
{"name":"bmi","type":"fixed","scale":1},{"name":"smoker","type":"boolean"},{"name":"cost","type":"fixed","scale":2}]}"#;

/// A synthetic CSV and its encoded columns.
fn patients(rows: usize) -> (String, Vec<Vec<i64>>) {
    let mut csv = String::from("age,sex,bmi,smoker,cost\n");
    let mut columns: Vec<Vec<i64>> = vec![Vec::new(); 5];
    for r in 0..rows as i64 {
        let row = [
            18 + r % 70,
            r % 2,
            170 + (r * 7) % 230,
            i64::from(r % 3 == 0),
            100_000 + (r * 7919) % 900_000,
        ];
        csv.push_str(&format!(
            "{},{},{}.{},{},{}.{:02}\n",
            row[0],
            ["f", "m"][row[1] as usize],
            row[2] / 10,
            row[2] % 10,
            row[3] == 1,
            row[4] / 100,
            row[4] % 100
        ));
        for (c, v) in row.iter().enumerate() {
            columns[c].push(*v);
        }
    }
    (csv, columns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_register_upload_and_refuse_strangers() {
    let mut net = Devnet::start(NODES).await;
    let metrics = http_get(net.nodes[0].http, "/metrics").await.unwrap();
    assert!(
        metrics.contains(&format!("sharenet_active_nodes {NODES}")),
        "{metrics}"
    );
    for node in &net.nodes {
        let mode = std::fs::metadata(node.dir.join("node.key")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
    }

    // A stranger (not on chain) connects to every node and sends an MPC message: refused, counted.
    let (stranger, _inbound) = net::start(NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(10),
    })
    .unwrap();
    for node in &net.nodes {
        stranger.dial(node.peer, node.listen.clone()).await.unwrap();
        let mut t = stranger.mpc_transport(
            [1; 32],
            1,
            vec![node.peer, stranger.local_peer_id()],
            Duration::from_secs(1),
        );
        tokio::task::spawn_blocking(move || t.send(0, b"forged".to_vec()).unwrap())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let metrics = http_get(node.http, "/metrics").await.unwrap_or_default();
            if metrics.contains("sharenet_refused_unregistered_total 1") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not refuse the stranger: {metrics}",
                node.peer
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The owner uploads a CSV of 10^4 rows x 5 columns into the pool.
    let owner = net.owner("owner");
    let (csv, expected) = patients(ROWS);
    std::fs::write(net.dir.join("schema.json"), SCHEMA).unwrap();
    std::fs::write(net.dir.join("clinic.csv"), csv).unwrap();
    let started = Instant::now();
    let args = net.upload_args(
        owner.to_str().unwrap(),
        net.dir.join("schema.json").to_str().unwrap(),
        net.dir.join("clinic.csv").to_str().unwrap(),
        "clinic",
        NODES,
        THRESHOLD,
    );
    let out = sharenet(&args.iter().map(String::as_str).collect::<Vec<_>>());
    eprintln!(
        "upload of {ROWS} rows x 5 columns took {:?}",
        started.elapsed()
    );
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["rows"], ROWS);
    let hex = summary["dataset"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x")
        .to_string();
    let mut dataset = [0u8; 32];
    for (i, b) in dataset.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }

    // The M2M path: 2,000 more rows appended to the same dataset.
    let (more_csv, more) = patients(2_000);
    std::fs::write(net.dir.join("more.csv"), more_csv).unwrap();
    let append = |schema: &str| {
        common::sharenet_output(&[
            "dataset",
            "append",
            "--rpc",
            &net.rpc,
            "--contracts",
            net.contracts.to_str().unwrap(),
            "--key",
            owner.to_str().unwrap(),
            "--schema",
            schema,
            "--csv",
            net.dir.join("more.csv").to_str().unwrap(),
            "--dataset",
            summary["dataset"].as_str().unwrap(),
            "--batch-rows",
            "700",
            "--json",
        ])
    };
    std::fs::write(
        net.dir.join("other.json"),
        SCHEMA.replace("smoker", "vaper"),
    )
    .unwrap();
    let refused = append(net.dir.join("other.json").to_str().unwrap());
    assert!(!refused.status.success());
    let refused = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        refused.contains("other.json") || refused.contains("schema"),
        "{refused}"
    );
    let appended = append(net.dir.join("schema.json").to_str().unwrap());
    assert!(
        appended.status.success(),
        "{}",
        String::from_utf8_lossy(&appended.stderr)
    );
    let appended: serde_json::Value = serde_json::from_slice(&appended.stdout).unwrap();
    assert_eq!(appended["total_rows"], ROWS + 2_000);
    let mut expected = expected;
    for (c, column) in more.into_iter().enumerate() {
        expected[c].extend(column);
    }

    // Metrics: every node holds one dataset of 12,000 rows x 5 columns in 8 verified batches
    // (5 of 2,048 rows, then 3 appended of 700).
    for node in &net.nodes {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let metrics = http_get(node.http, "/metrics").await.unwrap_or_default();
            if metrics.contains("sharenet_datasets 1")
                && metrics.contains("sharenet_shares_stored 60000")
                && metrics.contains("sharenet_upload_batches_total{outcome=\"accepted\"} 8")
            {
                break;
            }
            assert!(Instant::now() < deadline, "{metrics}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // SIGTERM: every node stops cleanly.
    for node in &mut net.nodes {
        node.stop().await;
    }

    // Test-only path: read each node's store with its key. Every node holds shares (not the
    // plaintext), and any t+1 of them reconstruct the table.
    let committee: Vec<PeerId> = summary["committee"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().parse().unwrap())
        .collect();
    let mut shares = Vec::new();
    for peer in &committee {
        let node = net.nodes.iter().find(|n| n.peer == *peer).unwrap();
        let key = sharenet_node::store::AtRestKey::load(node.dir.join("at-rest.key")).unwrap();
        let store =
            sharenet_node::store::ShareStore::open(node.dir.join("data/shares.redb"), key).unwrap();
        let id = sharenet_node::store::DatasetId(dataset);
        let columns: Vec<Vec<Mp127>> = (0..5).map(|c| store.column(&id, c).unwrap()).collect();
        shares.push(columns);
    }
    let mut cache = LagrangeCache::new(NODES);
    for c in 0..5 {
        let plain: Vec<Mp127> = expected[c].iter().map(|v| Mp127::from_i64(*v)).collect();
        for s in &shares {
            assert_ne!(s[c], plain, "a node stores plaintext");
        }
        for parties in [vec![0usize, 1, 2], vec![2, 3, 4], vec![4, 0, 3]] {
            let views: Vec<&[Mp127]> = parties.iter().map(|&p| shares[p][c].as_slice()).collect();
            assert_eq!(
                reconstruct_checked(&mut cache, NODES, THRESHOLD, &parties, &views).unwrap(),
                plain
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_upload_restarts_intact_and_the_retry_completes() {
    let mut net = Devnet::start(3).await;
    let owner = net.owner("owner");
    let (csv, _) = patients(60_000);
    std::fs::write(net.dir.join("schema.json"), SCHEMA).unwrap();
    std::fs::write(net.dir.join("big.csv"), csv).unwrap();
    let mut args = net.upload_args(
        owner.to_str().unwrap(),
        net.dir.join("schema.json").to_str().unwrap(),
        net.dir.join("big.csv").to_str().unwrap(),
        "big",
        3,
        1,
    );
    args.extend(["--batch-rows".to_string(), "1000".to_string()]);
    let upload = std::process::Command::new(env!("CARGO_BIN_EXE_sharenet"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill node 1 with SIGKILL once some batches are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = http_get(net.nodes[1].http, "/metrics")
            .await
            .unwrap_or_default();
        let uploaded = metrics
            .lines()
            .find(|l| l.starts_with("sharenet_bytes_in_total{protocol=\"upload\"}"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if uploaded > 500_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    net.nodes[1].kill9();
    let out = upload.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the upload cannot complete with a member killed"
    );
    assert!(stderr.contains("nothing was registered"), "{stderr}");

    // The killed node restarts: its database opens (verified on open), it rejoins.
    net.nodes[1].start();
    for node in &net.nodes {
        node.wait_healthy(3, 2).await;
    }
    let report = std::fs::read_to_string(net.nodes[1].dir.join("node.log")).unwrap();
    assert!(
        report.contains("share store opened and verified"),
        "{report}"
    );
    assert!(!report.contains("damaged=1"), "{report}");

    // The retry completes (every member verifies and acknowledges).
    let out = sharenet(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["rows"], 60_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_leaves_and_withdraws_its_deposit_after_unbonding() {
    let mut net = Devnet::start(3).await;
    net.nodes[2].stop().await;
    let config = net.nodes[2].dir.join("node.toml");
    let out = sharenet(&["node", "exit", "--config", config.to_str().unwrap()]);
    assert!(out.contains("exit requested"), "{out}");
    // The others see the active set shrink.
    net.nodes[0].wait_healthy(2, 1).await;
    // Too early: the deposit is still unbonding.
    let early =
        common::sharenet_output(&["node", "withdraw", "--config", config.to_str().unwrap()]);
    assert_eq!(
        early.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    // After the unbonding period the deposit comes back.
    let key = sharenet_node::keys::load_chain_key(&net.deployer).unwrap();
    let backend = sharenet_chain_adapter::RpcBackend::connect(
        sharenet_chain_adapter::RpcConfig::local(net.rpc.clone()),
        key,
    )
    .unwrap();
    backend.dev_increase_time(30 * 24 * 3600).await.unwrap();
    let out = sharenet(&["node", "withdraw", "--config", config.to_str().unwrap()]);
    assert!(out.contains("wei from Registry"), "{out}");
}
