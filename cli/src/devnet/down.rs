//! `sharenet devnet down`: stop the nodes, then the chain; idempotent; `--purge` deletes the
//! directory (only a devnet directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{self, Stopped};
use super::up::{FAILED_MARKER, LOCK};
use super::{DEVNET_FILE, Devnet};
use crate::failure::Failure;
use crate::output::{Report, Ui};

/// One process `down` dealt with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StopRecord {
    /// `anvil` or `node <i>`.
    pub what: String,
    /// Its pid.
    pub pid: u32,
    /// `terminated`, `killed` or `not running`.
    pub outcome: &'static str,
}

fn outcome(s: Stopped) -> &'static str {
    match s {
        Stopped::Terminated => "terminated",
        Stopped::Killed => "killed",
        Stopped::NotRunning => "not running",
    }
}

/// The node directories of a devnet directory (`nodes/<i>`), in index order.
pub fn node_dirs(dir: &Path) -> Vec<(usize, PathBuf)> {
    let mut out: Vec<(usize, PathBuf)> = std::fs::read_dir(dir.join("nodes"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let i = e.file_name().to_str()?.parse::<usize>().ok()?;
                    Some((i, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Stops every process recorded under `dir` (nodes first, concurrently; then anvil) and removes
/// their pid files.
pub async fn stop_processes(dir: &Path) -> Vec<StopRecord> {
    // The processes were started with absolute paths: compare like with like.
    let dir = &std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut records = Vec::new();
    let mut tasks = Vec::new();
    for (i, node_dir) in node_dirs(dir) {
        let pid_file = node_dir.join("node.pid");
        if let Some(pid) = process::read_pid(&pid_file) {
            let needle = Devnet::node_needle(&node_dir);
            tasks.push(tokio::spawn(async move {
                let s = process::stop(pid, &needle, Duration::from_secs(20)).await;
                let _ = std::fs::remove_file(&pid_file);
                StopRecord {
                    what: format!("node {i}"),
                    pid,
                    outcome: outcome(s),
                }
            }));
        }
    }
    for t in tasks {
        if let Ok(r) = t.await {
            records.push(r);
        }
    }
    let anvil_pid = Devnet::anvil_pid_file(dir);
    if let Some(pid) = process::read_pid(&anvil_pid) {
        let s = process::stop(pid, &Devnet::anvil_needle(), Duration::from_secs(10)).await;
        let _ = std::fs::remove_file(&anvil_pid);
        records.push(StopRecord {
            what: "anvil".into(),
            pid,
            outcome: outcome(s),
        });
    }
    records
}

/// Runs `devnet down`.
pub async fn down(dir: &Path, purge: bool, ui: &Ui) -> Result<Report, Failure> {
    if !dir.exists() {
        return Ok(Report::new(
            format!("no devnet in {}: nothing to stop", dir.display()),
            serde_json::json!({ "dir": dir, "stopped": [], "purged": false }),
        ));
    }
    let is_devnet = [DEVNET_FILE, FAILED_MARKER, LOCK]
        .iter()
        .any(|f| dir.join(f).exists())
        || Devnet::anvil_pid_file(dir).exists();
    if !is_devnet {
        return Err(Failure::usage(format!(
            "{} is not a devnet directory (no {DEVNET_FILE}); nothing was stopped or deleted",
            dir.display()
        ))
        .hint("give the directory you passed to `sharenet devnet up --dir`"));
    }
    let progress = ui.spinner("stopping the nodes and the chain");
    let records = stop_processes(dir).await;
    drop(progress);
    if purge {
        std::fs::remove_dir_all(dir)
            .map_err(|e| Failure::other(format!("cannot delete {}: {e}", dir.display())))?;
    }
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| format!("  {:<8} pid {:<8} {}", r.what, r.pid, r.outcome))
        .collect();
    if lines.is_empty() {
        lines.push("  nothing was running".into());
    }
    Ok(Report::new(
        format!(
            "{} {}\n{}{}",
            ui.good("devnet down:"),
            dir.display(),
            lines.join("\n"),
            if purge { "\n  directory deleted" } else { "" }
        ),
        serde_json::json!({ "dir": dir, "stopped": records, "purged": purge }),
    ))
}
