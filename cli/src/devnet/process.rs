//! Processes that outlive the command that started them (anvil and the nodes of a devnet): spawned
//! in their own process group with their output in a log file, recorded in a pid file, checked and
//! stopped by pid — only after checking that the pid still runs the program we started.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Starts `program args…` in a new process group (so that a Ctrl-C on the terminal that ran the
/// command does not reach it), stdin closed, stdout and stderr appended to `log`.
pub fn spawn_detached(program: &Path, args: &[&str], log: &Path) -> io::Result<Child> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
}

/// Writes a pid file.
pub fn write_pid(path: &Path, pid: u32) -> io::Result<()> {
    std::fs::write(path, format!("{pid}\n"))
}

/// Reads a pid file (`None` if missing or malformed).
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn as_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
}

/// Whether `pid` is a live process (a zombie waiting to be reaped counts as gone).
pub fn alive(pid: u32) -> bool {
    let Some(p) = as_pid(pid) else {
        return false;
    };
    if kill(p, None).is_err() {
        return false;
    }
    // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ')'.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => true,
    }
}

/// Whether `pid` runs a command line containing `needle` (true where /proc is not available).
/// Guards against signalling an unrelated process that reused the pid of one that died.
pub fn runs(pid: u32, needle: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => {
            let cmdline: String = String::from_utf8_lossy(&bytes).replace('\0', " ");
            cmdline.contains(needle)
        }
        Err(_) => alive(pid),
    }
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running (or the pid now belongs to another program).
    NotRunning,
    /// It exited after SIGTERM.
    Terminated,
    /// It had to be killed (SIGKILL) after `grace`.
    Killed,
}

/// Stops `pid` if it runs `needle`: SIGTERM, then SIGKILL after `grace`; waits (bounded) until
/// it is gone.
pub async fn stop(pid: u32, needle: &str, grace: Duration) -> Stopped {
    let Some(p) = as_pid(pid) else {
        return Stopped::NotRunning;
    };
    if !alive(pid) || !runs(pid, needle) {
        return Stopped::NotRunning;
    }
    let _ = kill(p, Signal::SIGTERM);
    if wait_gone(pid, grace).await {
        return Stopped::Terminated;
    }
    let _ = kill(p, Signal::SIGKILL);
    let _ = wait_gone(pid, Duration::from_secs(5)).await;
    Stopped::Killed
}

/// Waits until `pid` is gone; false if it is still alive after `timeout`.
pub async fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Stops a child this process spawned (and reaps it): SIGTERM, then SIGKILL after `grace`.
pub async fn stop_child(child: &mut Child, grace: Duration) {
    if let Some(p) = as_pid(child.id()) {
        let _ = kill(p, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => break,
            Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last `lines` lines of a log file (for error messages).
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Opens (creating) a file for exclusive creation: fails if it exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}
