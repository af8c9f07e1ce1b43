//! A local anvil process for tests and the devnet: the binary from the pinned npm platform package
//! `@foundry-rs/anvil-<os>-<arch>` (in `contracts/node_modules`), on a loopback port that anvil
//! binds itself, ready once it answers JSON-RPC.
//!
//! Every anvil sharenet starts goes through [`spawn`] and [`wait_ready`] ([`Anvil::start`] for one
//! owned by this process, `sharenet devnet up` for one that outlives it), with [`ANVIL_ARGS`]:
//!
//! - `--port 0`: the kernel picks a free port as anvil binds it. Choosing a free port first and
//!   handing it to anvil races with every other process binding ports meanwhile (parallel tests):
//!   anvil may then fail to bind, or bind a port a node of another test was given, and a
//!   readiness check on that port may reach another test's anvil.
//! - anvil reports the port it got on its standard output (`Listening on 127.0.0.1:PORT`), which
//!   it prints only while it logs; so logging is on until [`wait_ready`] has read the address,
//!   and then turned off over JSON-RPC (`anvil_setLoggingEnabled`), which leaves anvil as quiet as
//!   `--silent` would (no line per RPC call).
//! - ready means a JSON-RPC call answered at that address (not merely a TCP connect).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use alloy::providers::{Provider, ProviderBuilder};

use crate::error::{ChainError, ChainResult};

/// The arguments every anvil sharenet starts gets: loopback only, on a port of the kernel's
/// choosing (see the module docs). Also what recognises such an anvil by its command line.
pub const ANVIL_ARGS: [&str; 4] = ["--host", "127.0.0.1", "--port", "0"];

/// How often startup is checked (the address printed, a JSON-RPC answer, the process alive).
const POLL: Duration = Duration::from_millis(50);

/// Most bytes of a startup log read while looking for the address (anvil's banner is ~2 KiB).
const MAX_STARTUP_OUTPUT: u64 = 256 * 1024;

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

/// The command that starts anvil: [`anvil_binary`] with [`ANVIL_ARGS`]. A caller may add to it
/// (a process group, say) before [`spawn`].
pub fn anvil_command() -> ChainResult<Command> {
    let mut command = Command::new(anvil_binary()?);
    command.args(ANVIL_ARGS);
    Ok(command)
}

/// Where a started anvil's output goes.
#[derive(Debug, Clone)]
pub enum AnvilOutput {
    /// Read by this process (for the address), then discarded: for an anvil this process owns.
    Discard,
    /// Appended to this log file (stdout and stderr): for an anvil that may outlive this
    /// process, which must not hold its output pipe.
    Log(PathBuf),
}

/// Where [`wait_ready`] finds the address a [`spawn`]ed anvil prints.
#[derive(Debug)]
pub struct Startup(Source);

#[derive(Debug)]
enum Source {
    /// The endpoint, sent by the thread that reads anvil's stdout.
    Pipe(mpsc::Receiver<String>),
    /// The log, from this offset (what it held before the spawn).
    Log(PathBuf, u64),
}

/// Starts `command` (from [`anvil_command`]) with its output as `output` says; then
/// [`wait_ready`] with the returned [`Startup`].
pub fn spawn(mut command: Command, output: &AnvilOutput) -> ChainResult<(Child, Startup)> {
    let io = |e: std::io::Error| ChainError::DevChain(format!("cannot start anvil: {e}"));
    command.stdin(Stdio::null());
    match output {
        AnvilOutput::Discard => {
            command.stdout(Stdio::piped()).stderr(Stdio::null());
            let mut child = command.spawn().map_err(io)?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| ChainError::DevChain("anvil's stdout is not piped".into()))?;
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("anvil-output".into())
                .spawn(move || read_pipe(stdout, &tx))
                .map_err(io)?;
            Ok((child, Startup(Source::Pipe(rx))))
        }
        AnvilOutput::Log(path) => {
            let out = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(io)?;
            let offset = out.metadata().map_err(io)?.len();
            let err = out.try_clone().map_err(io)?;
            command.stdout(out).stderr(err);
            let child = command.spawn().map_err(io)?;
            Ok((child, Startup(Source::Log(path.clone(), offset))))
        }
    }
}

/// Reads anvil's stdout until it ends: sends the endpoint once it is printed, discards the rest
/// (the pipe must be drained, or anvil would block writing to it).
fn read_pipe(stdout: impl Read, tx: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if let Some(endpoint) = listening_endpoint(&String::from_utf8_lossy(&line)) {
                    let _ = tx.send(endpoint);
                    break;
                }
            }
        }
    }
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
}

/// The endpoint in the line anvil prints once its server is bound: `Listening on ADDR:PORT`.
pub fn listening_endpoint(line: &str) -> Option<String> {
    let addr: SocketAddr = line.trim().strip_prefix("Listening on ")?.parse().ok()?;
    Some(format!("http://{addr}"))
}

impl Startup {
    /// The endpoint, if anvil has printed it yet.
    fn endpoint(&self) -> ChainResult<Option<String>> {
        match &self.0 {
            Source::Pipe(rx) => match rx.try_recv() {
                Ok(endpoint) => Ok(Some(endpoint)),
                Err(mpsc::TryRecvError::Empty) => Ok(None),
                // The reader ended without the address: anvil closed its output (it exits).
                Err(mpsc::TryRecvError::Disconnected) => Ok(None),
            },
            Source::Log(path, offset) => {
                let mut file = File::open(path).map_err(|e| {
                    ChainError::DevChain(format!("cannot read {}: {e}", path.display()))
                })?;
                let mut text = Vec::new();
                file.seek(SeekFrom::Start(*offset))
                    .and_then(|_| file.take(MAX_STARTUP_OUTPUT).read_to_end(&mut text))
                    .map_err(|e| {
                        ChainError::DevChain(format!("cannot read {}: {e}", path.display()))
                    })?;
                Ok(String::from_utf8_lossy(&text)
                    .lines()
                    .find_map(listening_endpoint))
            }
        }
    }
}

/// Waits, at most `timeout`, until the anvil `child` has printed the address it bound and
/// answers JSON-RPC there; turns its per-call logging off and returns its endpoint. Fails at
/// once if it exits. On failure the caller still owns (and should stop) the child.
pub async fn wait_ready(
    child: &mut Child,
    startup: Startup,
    timeout: Duration,
) -> ChainResult<String> {
    let deadline = Instant::now() + timeout;
    let timed_out = || ChainError::Timeout {
        what: "anvil startup",
        seconds: timeout.as_secs(),
    };
    let mut endpoint = None;
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| ChainError::DevChain(e.to_string()))?
        {
            return Err(ChainError::DevChain(format!(
                "anvil exited during startup: {status}"
            )));
        }
        if endpoint.is_none() {
            endpoint = startup.endpoint()?;
        }
        if let Some(url) = &endpoint {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(Ok(())) = tokio::time::timeout(left, quiet_and_answering(url)).await {
                return Ok(url.clone());
            }
        }
        if Instant::now() >= deadline {
            return Err(timed_out());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Turns anvil's per-call logging off and reads the block number: both answered.
async fn quiet_and_answering(endpoint: &str) -> ChainResult<()> {
    let url = endpoint
        .parse()
        .map_err(|e| ChainError::InvalidArgument(format!("endpoint {endpoint:?}: {e}")))?;
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(url);
    let rpc = |e: alloy::transports::TransportError| ChainError::Rpc(e.to_string());
    let _: serde_json::Value = provider
        .raw_request("anvil_setLoggingEnabled".into(), (false,))
        .await
        .map_err(rpc)?;
    provider.get_block_number().await.map_err(rpc)?;
    Ok(())
}

impl Anvil {
    /// Starts anvil on a loopback port of its choosing and waits (at most `timeout`) until it
    /// answers JSON-RPC.
    pub async fn start(timeout: Duration) -> ChainResult<Self> {
        let (child, startup) = spawn(anvil_command()?, &AnvilOutput::Discard)?;
        // Killed on drop, should it not become ready.
        let mut anvil = Self {
            child,
            endpoint: String::new(),
        };
        anvil.endpoint = wait_ready(&mut anvil.child, startup, timeout).await?;
        Ok(anvil)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_endpoint() {
        assert_eq!(
            listening_endpoint("Listening on 127.0.0.1:39019\n").as_deref(),
            Some("http://127.0.0.1:39019")
        );
        assert_eq!(listening_endpoint("Listening on nowhere"), None);
        assert_eq!(listening_endpoint("eth_blockNumber"), None);
        assert_eq!(listening_endpoint(""), None);
    }
}
