//! Real `sharenet` node processes on 127.0.0.1 with a local anvil: the contracts are deployed with
//! the CLI, five nodes are created with `sharenet node init`, funded, and run; they register and
//! stake, find each other through the chain, report health and metrics, refuse MPC messages from a
//! peer that is not on chain; a CSV of 10^4 rows × 5 columns is uploaded with
//! `sharenet dataset upload` (t = 2), every node acknowledges it on chain, and after a clean
//! SIGTERM stop every node's store holds only its own shares, any t+1 of which reconstruct the
//! table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use sharenet_chain_adapter::devchain::Anvil;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::shamir::{LagrangeCache, reconstruct_checked};
use sharenet_mpc::transport::Transport;
use sharenet_node::net::{self, NetworkConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NODES: usize = 5;
const THRESHOLD: usize = 2;
const ROWS: usize = 10_000;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sharenet(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sharenet"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sharenet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).await.ok()?;
    body.split("\r\n\r\n").nth(1).map(str::to_string)
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sharenet-nodes-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_register_find_each_other_and_refuse_strangers() {
    let anvil = Anvil::start(Duration::from_secs(60)).await.unwrap();
    let rpc = anvil.endpoint().to_string();
    let dir = temp_dir();
    let deployer = dir.join("deployer.key");
    let signer = sharenet_node::keys::create_chain_key(&deployer).unwrap();
    let fund = |account: &str| {
        sharenet(&[
            "chain",
            "fund",
            "--rpc",
            &rpc,
            "--key",
            deployer.to_str().unwrap(),
            "--account",
            account,
            "--wei",
            "100000000000000000000",
        ]);
    };
    fund(&signer.address().to_string());
    let contracts = dir.join("contracts.json");
    sharenet(&[
        "chain",
        "deploy",
        "--rpc",
        &rpc,
        "--key",
        deployer.to_str().unwrap(),
        "--out",
        contracts.to_str().unwrap(),
    ]);

    let mut processes = Vec::new();
    let mut http_ports = Vec::new();
    let mut peers = Vec::new();
    for i in 0..NODES {
        let node_dir = dir.join(format!("node{i}"));
        let http = free_port();
        let out = sharenet(&[
            "node",
            "init",
            "--dir",
            node_dir.to_str().unwrap(),
            "--listen",
            &format!("/ip4/127.0.0.1/tcp/{}", free_port()),
            "--http",
            &format!("127.0.0.1:{http}"),
            "--rpc",
            &rpc,
            "--contracts",
            "../contracts.json",
        ]);
        fund(&field(&out, "chain account:"));
        peers.push(field(&out, "peer id:").parse::<PeerId>().unwrap());
        let mode = std::fs::metadata(node_dir.join("node.key")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        let child = Command::new(env!("CARGO_BIN_EXE_sharenet"))
            .args([
                "node",
                "run",
                "--config",
                node_dir.join("node.toml").to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(node_dir.join("node.log")).unwrap())
            .spawn()
            .unwrap();
        processes.push(Process(child));
        http_ports.push(http);
    }

    // Every node registers, sees the active nodes on chain and connects to the others.
    let deadline = Instant::now() + Duration::from_secs(30);
    for &port in &http_ports {
        loop {
            let health = http_get(port, "/healthz").await.unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&health).unwrap_or_default();
            let ready = v["registered"].as_bool() == Some(true)
                && v["active_nodes"].as_u64() == Some(NODES as u64)
                && v["peers"].as_u64().unwrap_or(0) >= NODES as u64 - 1;
            if ready {
                break;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = (0..NODES)
                    .map(|i| {
                        std::fs::read_to_string(dir.join(format!("node{i}/node.log")))
                            .unwrap_or_default()
                    })
                    .collect();
                panic!(
                    "node on port {port} never became healthy: {health}\n{}",
                    logs.join("\n---\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let metrics = http_get(http_ports[0], "/metrics").await.unwrap();
    assert!(
        metrics.contains(&format!("sharenet_active_nodes {NODES}")),
        "{metrics}"
    );

    // A stranger (not on chain) connects and sends an MPC message: refused and counted.
    let (stranger, _inbound) = net::start(NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(10),
    })
    .unwrap();
    for (i, peer) in peers.iter().enumerate() {
        let toml = std::fs::read_to_string(dir.join(format!("node{i}/node.toml"))).unwrap();
        let listen = toml
            .lines()
            .find(|l| l.starts_with("listen = [\"/ip4"))
            .unwrap();
        let addr: Multiaddr = listen.split('"').nth(1).unwrap().parse().unwrap();
        stranger.dial(*peer, addr).await.unwrap();
        let mut t = stranger.mpc_transport(
            [1; 32],
            1,
            vec![*peer, stranger.local_peer_id()],
            Duration::from_secs(1),
        );
        tokio::task::spawn_blocking(move || t.send(0, b"forged".to_vec()).unwrap())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let metrics = http_get(http_ports[i], "/metrics")
                .await
                .unwrap_or_default();
            if metrics.contains("sharenet_refused_unregistered_total 1") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {i} did not refuse the stranger: {metrics}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The owner uploads a CSV of 10^4 rows x 5 columns into the pool.
    let owner_key = dir.join("owner.key");
    let owner = sharenet_node::keys::create_chain_key(&owner_key).unwrap();
    fund(&owner.address().to_string());
    std::fs::write(
        dir.join("schema.json"),
        r#"{"columns":[{"name":"age","type":"integer"},{"name":"sex","type":"category","labels":["f","m"]},
        {"name":"bmi","type":"fixed","scale":1},{"name":"smoker","type":"boolean"},{"name":"cost","type":"fixed","scale":2}]}"#,
    )
    .unwrap();
    let mut csv = String::from("age,sex,bmi,smoker,cost\n");
    let mut expected: Vec<Vec<i64>> = vec![Vec::new(); 5];
    for r in 0..ROWS as i64 {
        let row = [
            18 + r % 70,
            r % 2,
            170 + (r * 7) % 230,
            (r % 3 == 0) as i64,
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
            expected[c].push(*v);
        }
    }
    std::fs::write(dir.join("clinic.csv"), csv).unwrap();
    let started = Instant::now();
    let out = sharenet(&[
        "dataset",
        "upload",
        "--rpc",
        &rpc,
        "--contracts",
        contracts.to_str().unwrap(),
        "--key",
        owner_key.to_str().unwrap(),
        "--schema",
        dir.join("schema.json").to_str().unwrap(),
        "--csv",
        dir.join("clinic.csv").to_str().unwrap(),
        "--name",
        "clinic",
        "--pool",
        "hospitals",
        "--nodes",
        &NODES.to_string(),
        "--threshold",
        &THRESHOLD.to_string(),
        "--json",
    ]);
    eprintln!(
        "upload of {ROWS} rows x 5 columns took {:?}",
        started.elapsed()
    );
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["rows"], ROWS);
    let dataset_hex = summary["dataset"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x")
        .to_string();
    let mut dataset = [0u8; 32];
    for (i, b) in dataset.iter_mut().enumerate() {
        *b = u8::from_str_radix(&dataset_hex[2 * i..2 * i + 2], 16).unwrap();
    }

    // SIGTERM: every node stops cleanly.
    for p in &mut processes {
        Command::new("kill")
            .args(["-TERM", &p.0.id().to_string()])
            .status()
            .unwrap();
    }
    for p in &mut processes {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = p.0.try_wait().unwrap() {
                assert!(status.success(), "a node exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "a node did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(anvil);

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
        let i = peers.iter().position(|p| p == peer).unwrap();
        let node_dir = dir.join(format!("node{i}"));
        let key = sharenet_node::store::AtRestKey::load(node_dir.join("at-rest.key")).unwrap();
        let store =
            sharenet_node::store::ShareStore::open(node_dir.join("data/shares.redb"), key).unwrap();
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
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
