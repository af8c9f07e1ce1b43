//! A local anvil process for tests and the devnet: the binary from the pinned npm platform package
//! `@foundry-rs/anvil-<os>-<arch>` (in `contracts/node_modules`), on a free loopback port, killed on
//! drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{ChainError, ChainResult};

/// A running anvil; killed when dropped.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    endpoint: String,
}

/// Where the anvil binary is: `$SHARENET_ANVIL` if set, else the platform binary that the npm
/// package installed under `contracts/node_modules`, else its `.bin/anvil` launcher.
pub fn anvil_binary() -> ChainResult<PathBuf> {
    if let Some(p) = std::env::var_os("SHARENET_ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/node_modules");
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    // The native binary directly (not the node launcher), so that killing the child kills anvil.
    let native = modules.join(format!("@foundry-rs/anvil-{os}-{arch}/bin/anvil"));
    if native.is_file() {
        return Ok(native);
    }
    let launcher = modules.join(".bin/anvil");
    if launcher.is_file() {
        return Ok(launcher);
    }
    Err(ChainError::DevChain(format!(
        "anvil not found under {}: run `npm ci` in contracts/ (on a platform other than linux-amd64, \
         add its @foundry-rs/anvil-<os>-<arch> package to contracts/package.json), or set \
         SHARENET_ANVIL to an anvil binary",
        modules.display()
    )))
}

fn free_port() -> ChainResult<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| ChainError::DevChain(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| ChainError::DevChain(e.to_string()))
}

impl Anvil {
    /// Starts anvil on a free loopback port and waits (at most `timeout`) until it answers.
    pub async fn start(timeout: Duration) -> ChainResult<Self> {
        let bin = anvil_binary()?;
        let port = free_port()?;
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--silent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ChainError::DevChain(format!("cannot start {}: {e}", bin.display())))?;
        let mut anvil = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        anvil.wait_ready(timeout).await?;
        Ok(anvil)
    }

    async fn wait_ready(&mut self, timeout: Duration) -> ChainResult<()> {
        let start = Instant::now();
        let addr = self.endpoint.trim_start_matches("http://").to_owned();
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| ChainError::DevChain(e.to_string()))?
            {
                return Err(ChainError::DevChain(format!(
                    "anvil exited during startup: {status}"
                )));
            }
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(ChainError::Timeout {
                    what: "anvil startup",
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its JSON-RPC endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // Best effort: the process may already be gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
