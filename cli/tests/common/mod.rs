//! A local devnet for integration tests: anvil, the contracts deployed with the CLI, and `n`
//! real `sharenet node` processes created with `sharenet node init`, funded and running.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use libp2p::{Multiaddr, PeerId};
use sharenet_chain_adapter::devchain::Anvil;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs the CLI and returns its output (whatever the exit status).
pub fn sharenet_output(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sharenet"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the CLI, asserts success, returns stdout.
pub fn sharenet(args: &[&str]) -> String {
    let out = sharenet_output(args);
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

/// `GET path` on the node's health endpoint; the body.
pub async fn http_get(port: u16, path: &str) -> Option<String> {
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

fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
        .unwrap()
}

/// One node of the devnet.
pub struct DevNode {
    /// Its directory (keys, node.toml, data/).
    pub dir: PathBuf,
    /// Health endpoint port.
    pub http: u16,
    /// Peer id.
    pub peer: PeerId,
    /// Listen address.
    pub listen: Multiaddr,
    process: Option<Child>,
}

impl DevNode {
    /// Starts (or restarts) the node process.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("node.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sharenet"))
            .args([
                "node",
                "run",
                "--config",
                self.dir.join("node.toml").to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.process = Some(child);
    }

    /// SIGKILL, no clean-up.
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.process.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub async fn stop(&mut self) {
        let Some(mut p) = self.process.take() else {
            return;
        };
        Command::new("kill")
            .args(["-TERM", &p.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = p.try_wait().unwrap() {
                assert!(status.success(), "node exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "node did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the node is registered, sees `active` active nodes and `peers` connections.
    pub async fn wait_healthy(&self, active: usize, peers: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = http_get(self.http, "/healthz").await.unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&health).unwrap_or_default();
            let ready = v["registered"].as_bool() == Some(true)
                && v["active_nodes"].as_u64() == Some(active as u64)
                && v["peers"].as_u64().unwrap_or(0) >= peers as u64;
            if ready {
                return;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default();
                panic!("node {} never became healthy: {health}\n{log}", self.peer);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// anvil, the contracts, and the nodes.
pub struct Devnet {
    /// The chain (killed on drop).
    pub anvil: Anvil,
    /// Its endpoint.
    pub rpc: String,
    /// The devnet's directory.
    pub dir: PathBuf,
    /// A funded key that deployed the contracts.
    pub deployer: PathBuf,
    /// The contract address file.
    pub contracts: PathBuf,
    /// The nodes.
    pub nodes: Vec<DevNode>,
}

impl Devnet {
    /// Starts anvil, deploys, creates, funds and starts `n` nodes, and waits until all are
    /// healthy and connected.
    pub async fn start(n: usize) -> Devnet {
        let anvil = Anvil::start(Duration::from_secs(60)).await.unwrap();
        let rpc = anvil.endpoint().to_string();
        let dir = std::env::temp_dir().join(format!(
            "sharenet-devnet-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let deployer = dir.join("deployer.key");
        let created = sharenet(&["chain", "key", "--out", deployer.to_str().unwrap()]);
        let deployer_account = field(&created, "chain account:");
        let mut net = Devnet {
            anvil,
            rpc,
            contracts: dir.join("contracts.json"),
            deployer,
            dir,
            nodes: Vec::new(),
        };
        net.fund(&deployer_account);
        sharenet(&[
            "chain",
            "deploy",
            "--rpc",
            &net.rpc,
            "--key",
            net.deployer.to_str().unwrap(),
            "--out",
            net.contracts.to_str().unwrap(),
        ]);
        for i in 0..n {
            let node_dir = net.dir.join(format!("node{i}"));
            let http = free_port();
            let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", free_port())
                .parse()
                .unwrap();
            let out = sharenet(&[
                "node",
                "init",
                "--dir",
                node_dir.to_str().unwrap(),
                "--listen",
                &listen.to_string(),
                "--http",
                &format!("127.0.0.1:{http}"),
                "--rpc",
                &net.rpc,
                "--contracts",
                "../contracts.json",
            ]);
            net.fund(&field(&out, "chain account:"));
            let mut node = DevNode {
                dir: node_dir,
                http,
                peer: field(&out, "peer id:").parse().unwrap(),
                listen,
                process: None,
            };
            node.start();
            net.nodes.push(node);
        }
        for node in &net.nodes {
            node.wait_healthy(n, n - 1).await;
        }
        net
    }

    /// Gives `account` 100 ETH.
    pub fn fund(&self, account: &str) {
        sharenet(&[
            "chain",
            "fund",
            "--rpc",
            &self.rpc,
            "--account",
            account,
            "--wei",
            "100000000000000000000",
        ]);
    }

    /// A funded owner key file.
    pub fn owner(&self, name: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.key"));
        let signer = sharenet_node::keys::create_chain_key(&path).unwrap();
        self.fund(&signer.address().to_string());
        path
    }

    /// The arguments of `sharenet dataset upload` for this devnet.
    pub fn upload_args(
        &self,
        key: &str,
        schema: &str,
        csv: &str,
        name: &str,
        n: usize,
        t: usize,
    ) -> Vec<String> {
        [
            "dataset",
            "upload",
            "--rpc",
            &self.rpc,
            "--contracts",
            self.contracts.to_str().unwrap(),
            "--key",
            key,
            "--schema",
            schema,
            "--csv",
            csv,
            "--name",
            name,
            "--pool",
            "hospitals",
            "--nodes",
            &n.to_string(),
            "--threshold",
            &t.to_string(),
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
