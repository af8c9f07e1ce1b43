//! Real `sharenet` node processes on 127.0.0.1 with a local anvil: the contracts are deployed with
//! the CLI, three nodes are created with `sharenet node init`, funded, and run; they register and
//! stake, find each other through the chain, report health and metrics, refuse MPC messages from a
//! peer that is not on chain, and stop cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use sharenet_chain_adapter::devchain::Anvil;
use sharenet_mpc::transport::Transport;
use sharenet_node::net::{self, NetworkConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    for i in 0..3 {
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

    // Every node registers, sees the 3 active nodes on chain and connects to the 2 others.
    let deadline = Instant::now() + Duration::from_secs(30);
    for &port in &http_ports {
        loop {
            let health = http_get(port, "/healthz").await.unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&health).unwrap_or_default();
            if v["registered"] == true
                && v["active_nodes"] == 3
                && v["peers"].as_u64().unwrap_or(0) >= 2
            {
                break;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = (0..3)
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
    assert!(metrics.contains("sharenet_active_nodes 3"), "{metrics}");

    // A stranger (not on chain) connects and sends an MPC message: refused and counted.
    let (stranger, _inbound) = net::start(NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(10),
    })
    .unwrap();
    let node0: Multiaddr = {
        let toml = std::fs::read_to_string(dir.join("node0/node.toml")).unwrap();
        let listen = toml
            .lines()
            .find(|l| l.starts_with("listen = [\"/ip4"))
            .unwrap();
        listen.split('"').nth(1).unwrap().parse().unwrap()
    };
    stranger.dial(peers[0], node0).await.unwrap();
    let mut t = stranger.mpc_transport(
        [1; 32],
        1,
        vec![peers[0], stranger.local_peer_id()],
        Duration::from_secs(1),
    );
    tokio::task::spawn_blocking(move || t.send(0, b"forged".to_vec()).unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = http_get(http_ports[0], "/metrics")
            .await
            .unwrap_or_default();
        if metrics.contains("sharenet_refused_unregistered_total 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stranger was not refused: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
