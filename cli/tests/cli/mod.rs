//! Running the `sharenet` binary as a user does, for the tests that drive a devnet through it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

/// Runs the binary with `args`, without inherited devnet or identity settings and colours.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sharenet"))
        .args(args)
        .env_remove("SHARENET_DEVNET")
        .env_remove("SHARENET_IDENTITY")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Runs the CLI with `--json`, asserts success, parses stdout (and logs the command's time).
pub fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let started = Instant::now();
    let out = run(&all);
    eprintln!(
        "{:>6.2} s  sharenet {}",
        started.elapsed().as_secs_f64(),
        args.iter().take(2).copied().collect::<Vec<_>>().join(" ")
    );
    assert!(
        out.status.success(),
        "sharenet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("sharenet {args:?}: not JSON ({e}): {:?}", out.stdout))
}

/// Runs the CLI, asserts it fails with `code` and that stderr mentions every one of `needles`.
pub fn fails(args: &[&str], code: i32, needles: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "sharenet {args:?}: {stderr}");
    for n in needles {
        assert!(
            stderr.contains(n),
            "sharenet {args:?}: {n:?} not in {stderr}"
        );
    }
    stderr
}

/// Stops (and deletes) the devnet when the test ends, pass or fail.
pub struct Down(pub PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run(&[
            "devnet",
            "down",
            "--dir",
            self.0.to_str().unwrap(),
            "--purge",
        ]);
    }
}
