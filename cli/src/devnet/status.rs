//! `sharenet devnet status`: is the chain reachable (and at which block); for each node: is its
//! process alive, what does its health endpoint say, is it active on chain, how many peers.

use std::path::Path;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use sharenet_chain_adapter::{Ledger, RpcBackend, RpcConfig};

use super::Devnet;
use super::process;
use crate::failure::Failure;
use crate::health::healthz;
use crate::output::{Report, Ui, table};

/// Runs `devnet status`.
pub async fn status(dir: &Path, ui: &Ui) -> Result<Report, Failure> {
    let devnet = Devnet::load(dir)?;
    let f = &devnet.file;
    let anvil_pid = process::read_pid(&Devnet::anvil_pid_file(&devnet.dir));
    let anvil_running =
        anvil_pid.is_some_and(|p| process::alive(p) && process::runs(p, &Devnet::anvil_needle()));
    let mut config = RpcConfig::local(f.rpc_url.clone());
    config.timeout = Duration::from_secs(3);
    let backend = RpcBackend::connect(config, PrivateKeySigner::random())
        .map_err(|e| Failure::usage(format!("{}: bad rpc_url: {e}", dir.display())))?;
    let block = backend.block_number().await.ok();
    let ledger = backend.into_ledger(f.contracts);
    let active = match block {
        Some(_) => ledger.active_nodes().await.ok(),
        None => None,
    };

    let mut nodes = Vec::new();
    let mut rows = Vec::new();
    let mut healthy_count = 0;
    for node in &f.nodes {
        let node_dir = devnet.node_dir(node);
        let pid = process::read_pid(&node_dir.join("node.pid"));
        let running = pid.is_some_and(|p| {
            process::alive(p) && process::runs(p, &Devnet::node_needle(&node_dir))
        });
        let health = if running {
            healthz(node.http_port, Duration::from_secs(2)).await
        } else {
            None
        };
        let on_chain = active.as_ref().map(|a| a.contains(&node.account));
        let stake = if block.is_some() {
            ledger
                .node_info(node.account)
                .await
                .ok()
                .map(|i| i.stake.to_string())
        } else {
            None
        };
        let h = health.as_ref();
        let registered = h.and_then(|v| v["registered"].as_bool()).unwrap_or(false);
        let peers = h.and_then(|v| v["peers"].as_u64());
        let healthy = running && registered && on_chain == Some(true);
        if healthy {
            healthy_count += 1;
        }
        let state = if healthy {
            ui.good("healthy")
        } else if !running {
            ui.bad("stopped")
        } else if health.is_none() {
            ui.bad("not answering")
        } else {
            ui.warn("starting")
        };
        rows.push(vec![
            node.index.to_string(),
            state,
            pid.map_or("-".into(), |p| p.to_string()),
            match on_chain {
                Some(true) => "active".into(),
                Some(false) => "inactive".into(),
                None => "?".into(),
            },
            peers.map_or("-".into(), |p| p.to_string()),
            h.and_then(|v| v["datasets"].as_u64())
                .map_or("-".into(), |d| d.to_string()),
            format!("127.0.0.1:{}", node.http_port),
            node.peer_id.clone(),
        ]);
        nodes.push(serde_json::json!({
            "index": node.index,
            "account": node.account,
            "peer_id": node.peer_id,
            "pid": pid,
            "running": running,
            "http_port": node.http_port,
            "health": health,
            "registered": registered,
            "active_on_chain": on_chain,
            "stake": stake,
            "peers": peers,
            "healthy": healthy,
        }));
    }
    let chain_line = match block {
        Some(b) => format!(
            "{} {} (chain id {}), block {b}",
            ui.good("chain reachable:"),
            f.rpc_url,
            f.chain_id
        ),
        None => format!(
            "{} {}{}",
            ui.bad("chain unreachable:"),
            f.rpc_url,
            if anvil_running {
                ""
            } else {
                " (anvil is not running)"
            }
        ),
    };
    let human = format!(
        "devnet {}\n{chain_line}\n{healthy_count} of {} nodes healthy\n\n{}",
        devnet.dir.display(),
        f.nodes.len(),
        table(
            &[
                "node",
                "state",
                "pid",
                "chain",
                "peers",
                "datasets",
                "health endpoint",
                "peer id"
            ],
            &rows
        )
    );
    let json = serde_json::json!({
        "dir": devnet.dir,
        "chain": {
            "rpc_url": f.rpc_url,
            "chain_id": f.chain_id,
            "reachable": block.is_some(),
            "block": block,
            "anvil_pid": anvil_pid,
            "anvil_running": anvil_running,
        },
        "nodes": nodes,
        "healthy_nodes": healthy_count,
        "all_healthy": healthy_count == f.nodes.len() && block.is_some(),
    });
    Ok(Report::new(human, json))
}
