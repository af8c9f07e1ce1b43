//! `sharenet sim`: bad scenario files and flags are refused before anything starts (exit code 2,
//! with the key and the line); a run writes its report and exits 0 when every expectation is
//! met, 6 when one is not (printing the report anyway).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sharenet"))
        .arg("sim")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A three-node scenario with one small table and one job; `expect` is the job's expectation.
fn scenario(expect: &str) -> String {
    format!(
        r#"name = "tiny"
description = "one table, one query"

[network]
nodes = 3
threshold = 1
job_timeout = "30s"

[[pools]]
name = "p"

[[institutions]]
name = "clinic"

[[datasets]]
name = "patients"
owner = "clinic"
pool = "p"
source = {{ generator = "patients", rows = 30, seed = 3 }}

[[researchers]]
name = "alice"

[[grants]]
granter = "clinic"
grantee = "alice"
datasets = ["patients"]
kinds = ["aggregate"]

[[jobs]]
name = "count"
by = "alice"
query = "SELECT COUNT(*), SUM(bp) FROM patients"
expect = "{expect}"
"#
    )
}

#[test]
fn bad_scenarios_and_flags_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text_with_typo = scenario("agree").replace("by = \"alice\"", "by = \"alcie\"");
    std::fs::write(&bad, &text_with_typo).unwrap();
    let out = sim(&[
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let line = text_with_typo
        .lines()
        .position(|l| l.contains("alcie"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(
        err.contains("jobs[0].by") && err.contains("did you mean `alice`"),
        "{err}"
    );
    assert!(!dir.path().join("r").exists(), "nothing ran");

    let out = sim(&["--example", "partiton"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean `partition`"));

    let out = sim(&["--nodes", "100"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--scale"));

    let out = sim(&[dir.path().join("missing.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_run_writes_its_report_and_its_exit_code_says_whether_expectations_were_met() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, scenario("agree")).unwrap();
    let report = dir.path().join("report");
    let out = sim(&[good.to_str().unwrap(), "--out", report.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout,
        text(&out.stderr)
    );
    assert!(stdout.contains("PASS: 2 of 2 expectations met"), "{stdout}");
    assert!(stdout.contains("agree"), "{stdout}");
    for file in ["report.md", "run.json", "latency.svg", "timeline.svg"] {
        assert!(report.join(file).exists(), "{file}");
    }
    // Progress went to stderr.
    assert!(text(&out.stderr).contains("job count submitted"));

    // The same job expected to be refused: it completes, so the expectation fails: exit 6,
    // and the run record is still printed (here as JSON).
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(&wrong, scenario("refused")).unwrap();
    let out = sim(&[
        wrong.to_str().unwrap(),
        "--out",
        dir.path().join("report2").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["passed"], false);
    assert_eq!(json["run"]["jobs"][0]["outcome"]["status"], "completed");
    assert!(text(&out.stderr).contains("1 of 2 expectations"));
}
