//! `sharenet devnet up`: anvil, the contracts, N nodes and the demo identities, each process
//! detached (it outlives the command) with its pid and log in the devnet directory. A failure
//! stops everything this command started and leaves the logs, marked as a failed attempt that
//! the next `up` on the directory clears.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use sharenet_chain_adapter::devchain::{self, AnvilOutput, anvil_command};
use sharenet_chain_adapter::{DeployParams, Ledger, RpcBackend, RpcConfig, deploy};
use sharenet_node::keys;

use super::process::{self, create_new, spawn_detached, stop_child, tail};
use super::{DEMO_IDENTITIES, DEVNET_FILE, Devnet, DevnetFile, DevnetIdentity, DevnetNode};
use crate::failure::Failure;
use crate::health::healthz;
use crate::output::{Report, Ui, table};
use crate::util::unix_now;

/// The marker a failed `up` leaves (with its error), so that the next `up` may clear the
/// directory.
pub const FAILED_MARKER: &str = "devnet.failed";
/// Held while an `up` runs (its pid).
pub const LOCK: &str = "devnet.lock";

/// `sharenet devnet up`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// The devnet directory (created; must be new, empty, or left by a failed `up`).
    #[arg(long, env = "SHARENET_DEVNET", value_name = "DIR")]
    pub dir: PathBuf,
    /// Number of nodes (every upload's committee by default).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Default threshold of uploads (1 <= t, 2t < nodes).
    #[arg(long, default_value_t = 1)]
    pub threshold: usize,
    /// Default pool of uploads.
    #[arg(long, default_value = "devnet")]
    pub pool: String,
    /// Longest wait for the chain and for every node to be healthy and staked, in seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

const ETHER: u64 = 1_000_000_000_000_000_000;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(ETHER)
}

/// `k` distinct free loopback ports (all held at once while choosing, then released).
fn free_ports(k: usize) -> Result<Vec<u16>, Failure> {
    let listeners = (0..k)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::other(format!("cannot find a free port on 127.0.0.1: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::other(format!("cannot find a free port on 127.0.0.1: {e}")))
}

/// What this `up` started, to stop on failure.
#[derive(Default)]
struct Started {
    anvil: Option<Child>,
    nodes: Vec<Child>,
}

impl Started {
    async fn stop_all(&mut self) {
        for child in &mut self.nodes {
            stop_child(child, Duration::from_secs(10)).await;
        }
        if let Some(anvil) = &mut self.anvil {
            stop_child(anvil, Duration::from_secs(5)).await;
        }
    }
}

/// Prepares the directory: refuses a devnet (running or not), a running `up`, or a non-empty
/// directory that is not a failed attempt; clears a failed attempt; takes the lock.
fn prepare_dir(dir: &Path) -> Result<PathBuf, Failure> {
    if dir.join(DEVNET_FILE).exists() {
        let running = process::read_pid(&Devnet::anvil_pid_file(dir)).is_some_and(process::alive);
        let f = if running {
            Failure::usage(format!("a devnet is already running in {}", dir.display())).hint(
                format!(
                    "use it (--devnet {0}), or stop it first with `sharenet devnet down --dir {0}`",
                    dir.display()
                ),
            )
        } else {
            Failure::usage(format!("{} holds a stopped devnet", dir.display())).hint(format!(
                "remove it with `sharenet devnet down --dir {} --purge`, or choose another --dir",
                dir.display()
            ))
        };
        return Err(f);
    }
    if dir.exists() {
        let entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .collect();
        let failed = dir.join(FAILED_MARKER).exists() || dir.join(LOCK).exists();
        if !entries.is_empty() && !failed {
            return Err(Failure::usage(format!(
                "{} is not empty and holds no devnet",
                dir.display()
            ))
            .hint("choose a new or empty directory for --dir"));
        }
        if failed {
            // Left by a failed or interrupted `up`: stop anything still running, then clear it.
            for e in entries {
                let path = e.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
    std::fs::create_dir_all(dir.join("nodes"))
        .and_then(|()| std::fs::create_dir_all(dir.join("identities")))
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| Failure::usage(format!("cannot resolve {}: {e}", dir.display())))?;
    let lock = create_new(&dir.join(LOCK)).and_then(|mut f| {
        use std::io::Write;
        writeln!(f, "{}", std::process::id())
    });
    lock.map_err(|e| {
        Failure::usage(format!("cannot lock {}: {e}", dir.display()))
            .hint("another `sharenet devnet up` may be starting there; choose another --dir")
    })?;
    Ok(dir)
}

/// Kills any process a failed attempt left running (pid files under `dir`).
async fn stop_leftovers(dir: &Path) {
    let _ = super::down::stop_processes(dir).await;
}

/// Runs `devnet up`.
pub async fn up(args: UpArgs, ui: &Ui) -> Result<Report, Failure> {
    let (n, t) = (args.nodes, args.threshold);
    if !(3..=32).contains(&n) || t == 0 || 2 * t >= n {
        return Err(Failure::usage(format!(
            "--nodes {n} --threshold {t}: a devnet needs 3 to 32 nodes and a threshold t with 1 <= t and 2t < nodes"
        ))
        .hint("e.g. --nodes 3 --threshold 1, or --nodes 5 --threshold 2"));
    }
    if args.pool.is_empty() || args.pool.len() > 128 {
        return Err(Failure::usage("--pool must be 1 to 128 bytes"));
    }
    if let Some(pid) = process::read_pid(&args.dir.join(LOCK))
        && process::alive(pid)
    {
        return Err(Failure::usage(format!(
            "another `sharenet devnet up` (pid {pid}) is starting a devnet in {}",
            args.dir.display()
        ))
        .hint("wait for it to finish, or choose another --dir"));
    }
    if !args.dir.join(DEVNET_FILE).exists()
        && (args.dir.join(FAILED_MARKER).exists() || args.dir.join(LOCK).exists())
    {
        stop_leftovers(&args.dir).await;
    }
    let dir = prepare_dir(&args.dir)?;
    let mut started = Started::default();
    // A Ctrl-C stops what was started, like any other failure (the processes are in their own
    // process groups, so the terminal's SIGINT does not reach them).
    let result = tokio::select! {
        r = start(&args, &dir, &mut started, ui) => r,
        _ = tokio::signal::ctrl_c() => Err(Failure::other("interrupted")),
    };
    let _ = std::fs::remove_file(dir.join(LOCK));
    match result {
        Ok(report) => Ok(report),
        Err(f) => {
            started.stop_all().await;
            let _ = std::fs::write(dir.join(FAILED_MARKER), format!("{}\n", f.message));
            Err(f.hint(format!(
                "everything this command started was stopped; the logs are kept in {0}. \
                 `sharenet devnet up --dir {0}` tries again (it clears the failed attempt), \
                 `sharenet devnet down --dir {0} --purge` removes it",
                dir.display()
            )))
        }
    }
}

async fn start(
    args: &UpArgs,
    dir: &Path,
    started: &mut Started,
    ui: &Ui,
) -> Result<Report, Failure> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let n = args.nodes;

    // 1. The chain: anvil on a port it binds itself, ready once it answers JSON-RPC.
    let progress = ui.spinner("starting anvil");
    let mut command = anvil_command().map_err(|e| Failure::usage(e.to_string()))?;
    let anvil_bin = PathBuf::from(command.get_program());
    // Its own process group, as every devnet process (a Ctrl-C on the terminal is not for it).
    command.process_group(0);
    let anvil_log = dir.join("anvil.log");
    let (child, startup) = devchain::spawn(command, &AnvilOutput::Log(anvil_log.clone()))
        .map_err(|e| Failure::other(format!("cannot start {}: {e}", anvil_bin.display())))?;
    process::write_pid(&Devnet::anvil_pid_file(dir), child.id())
        .map_err(|e| Failure::other(format!("cannot write the anvil pid file: {e}")))?;
    let anvil = started.anvil.insert(child);
    let waited = devchain::wait_ready(
        anvil,
        startup,
        deadline.saturating_duration_since(Instant::now()),
    )
    .await;
    let rpc = match waited {
        Ok(rpc) => rpc,
        Err(e) => {
            if let Ok(Some(status)) = anvil.try_wait() {
                let log = tail(&anvil_log, 20);
                return Err(Failure::chain(format!(
                    "anvil ({}) exited during startup ({status}); {}",
                    anvil_bin.display(),
                    if log.trim().is_empty() {
                        format!("its log {} is empty", anvil_log.display())
                    } else {
                        format!("the end of its log {}:\n{log}", anvil_log.display())
                    }
                ))
                .hint(
                    "check that the anvil binary runs (`npm ci` in contracts/, or set SHARENET_ANVIL)",
                ));
            }
            return Err(Failure::chain(format!(
                "anvil did not answer within {}s ({e}); see {}",
                args.timeout,
                anvil_log.display()
            )));
        }
    };
    let deployer = keys::create_chain_key(&dir.join("deployer.key"))?;
    let mut config = RpcConfig::local(rpc.clone());
    config.timeout = Duration::from_secs(10);
    let backend = RpcBackend::connect(config, deployer)
        .map_err(|e| Failure::other(format!("connecting to anvil at {rpc}: {e}")))?;
    let chain_id = backend
        .provider()
        .get_chain_id()
        .await
        .map_err(|e| Failure::chain(format!("reading the chain id at {rpc}: {e}")))?;

    // 2. The contracts.
    progress.set_message("deploying the contracts");
    backend
        .dev_set_balance(backend.signer_address(), ether(1_000))
        .await
        .map_err(|e| Failure::from_chain("funding the deployer", &rpc, e))?;
    let (contracts, _gas) = deploy(&backend, &DeployParams::default())
        .await
        .map_err(|e| Failure::from_chain("deploying the contracts", &rpc, e))?;
    let contracts_json =
        serde_json::to_string_pretty(&contracts).map_err(|e| Failure::other(e.to_string()))?;
    std::fs::write(dir.join("contracts.json"), contracts_json)
        .map_err(|e| Failure::other(format!("cannot write contracts.json: {e}")))?;

    // 3. The nodes: created, funded, started.
    progress.set_message(format!("creating {n} nodes"));
    let ports = free_ports(2 * n)?;
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let node_dir = dir.join("nodes").join(i.to_string());
        let listen = format!("/ip4/127.0.0.1/tcp/{}", ports[2 * i]);
        let http_port = ports[2 * i + 1];
        let created = crate::node::init(
            &node_dir,
            &listen,
            &format!("127.0.0.1:{http_port}"),
            &rpc,
            "../../contracts.json",
            &ETHER.to_string(),
        )?;
        backend
            .dev_set_balance(created.account, ether(100))
            .await
            .map_err(|e| Failure::from_chain("funding a node", &rpc, e))?;
        nodes.push(DevnetNode {
            index: i,
            dir: PathBuf::from("nodes").join(i.to_string()),
            account: created.account,
            peer_id: created.peer_id,
            listen,
            http_port,
        });
    }
    let exe = std::env::current_exe()
        .map_err(|e| Failure::other(format!("cannot find the sharenet binary: {e}")))?;
    for node in &nodes {
        let node_dir = dir.join(&node.dir);
        let config = node_dir.join("node.toml");
        let config_text = config.display().to_string();
        let child = spawn_detached(
            &exe,
            &["node", "run", "--config", &config_text],
            &node_dir.join("node.log"),
        )
        .map_err(|e| Failure::other(format!("cannot start node {}: {e}", node.index)))?;
        process::write_pid(&node_dir.join("node.pid"), child.id())
            .map_err(|e| Failure::other(format!("cannot write a node pid file: {e}")))?;
        started.nodes.push(child);
    }
    drop(progress);

    // 4. Every node healthy: registered and staked, sees every node active, connected to the others.
    let bar = ui.bar(n as u64, "nodes registered, staked and connected");
    loop {
        let mut ready = 0;
        for (node, child) in nodes.iter().zip(started.nodes.iter_mut()) {
            if let Ok(Some(status)) = child.try_wait() {
                let log = dir.join(&node.dir).join("node.log");
                return Err(Failure::other(format!(
                    "node {} exited during startup ({status}); the end of {}:\n{}",
                    node.index,
                    log.display(),
                    tail(&log, 20)
                )));
            }
            let h = healthz(node.http_port, Duration::from_secs(2)).await;
            let ok = h.as_ref().is_some_and(|v| {
                v["registered"].as_bool() == Some(true)
                    && v["active_nodes"].as_u64() == Some(n as u64)
                    && v["peers"].as_u64().unwrap_or(0) >= (n - 1) as u64
            });
            if ok {
                ready += 1;
            }
        }
        bar.set_position(ready as u64);
        if ready == n {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Failure::network(format!(
                "{} of {n} nodes were not healthy (registered, staked, connected) within {}s; see {}/nodes/<i>/node.log",
                n - ready,
                args.timeout,
                dir.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(bar);
    let ledger = backend.clone().into_ledger(contracts);
    let active = ledger
        .active_nodes()
        .await
        .map_err(|e| Failure::from_chain("reading the active nodes", &rpc, e))?;
    if let Some(missing) = nodes.iter().find(|node| !active.contains(&node.account)) {
        return Err(Failure::chain(format!(
            "node {} reports healthy but is not active on chain",
            missing.index
        )));
    }

    // 5. The demo identities.
    let mut identities = Vec::new();
    for name in DEMO_IDENTITIES {
        let key = PathBuf::from("identities").join(format!("{name}.key"));
        let signer = keys::create_chain_key(&dir.join(&key))?;
        write_address(&dir.join("identities"), name, signer.address())?;
        backend
            .dev_set_balance(signer.address(), ether(100))
            .await
            .map_err(|e| Failure::from_chain("funding an identity", &rpc, e))?;
        identities.push(DevnetIdentity {
            name: name.to_string(),
            address: signer.address(),
            key,
        });
    }

    // 6. devnet.json, written last: its presence means "a devnet is here".
    let file = DevnetFile {
        version: 1,
        rpc_url: rpc.clone(),
        chain_id,
        contracts,
        committee_size: n,
        threshold: args.threshold,
        pool: args.pool.clone(),
        nodes,
        identities,
        created_at: unix_now(),
    };
    write_devnet_file(dir, &file)?;
    Ok(report(dir, &file, ui))
}

/// Writes `<name>.addr` (the public address of an identity) next to its key.
pub fn write_address(dir: &Path, name: &str, address: Address) -> Result<(), Failure> {
    let path = dir.join(format!("{name}.addr"));
    std::fs::write(&path, format!("{address}\n"))
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))
}

fn write_devnet_file(dir: &Path, file: &DevnetFile) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(file).map_err(|e| Failure::other(e.to_string()))?;
    let tmp = dir.join(format!("{DEVNET_FILE}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, dir.join(DEVNET_FILE)))
        .map_err(|e| Failure::other(format!("cannot write {}/{DEVNET_FILE}: {e}", dir.display())))
}

fn report(dir: &Path, file: &DevnetFile, ui: &Ui) -> Report {
    let rows: Vec<Vec<String>> = file
        .nodes
        .iter()
        .map(|node| {
            vec![
                node.index.to_string(),
                node.account.to_string(),
                node.peer_id.clone(),
                format!("127.0.0.1:{}", node.http_port),
            ]
        })
        .collect();
    let ids: Vec<Vec<String>> = file
        .identities
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                i.address.to_string(),
                dir.join(&i.key).display().to_string(),
            ]
        })
        .collect();
    let human = format!(
        "{} {} nodes (threshold {}, pool '{}') on the chain at {} (chain id {})\n\n{}\n\n{}\n\n\
         next: sharenet dataset upload --devnet {d} --as institution-a --name NAME --schema SCHEMA.json --csv DATA.csv\n      \
         sharenet devnet status --dir {d}\n      sharenet devnet down --dir {d}",
        ui.good("devnet up:"),
        file.nodes.len(),
        file.threshold,
        file.pool,
        file.rpc_url,
        file.chain_id,
        table(&["node", "account", "peer id", "health endpoint"], &rows),
        table(&["identity", "address", "key"], &ids),
        d = dir.display(),
    );
    let mut json = serde_json::to_value(file).unwrap_or_default();
    json["dir"] = serde_json::json!(dir);
    Report::new(human, json)
}
