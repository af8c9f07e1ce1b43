//! Running a shipped example scenario at a small size, for the engine and adversary tests (each
//! includes this file by path).

use std::sync::Arc;

use sharenet_simulator::engine::{self, Event, RunOptions};
use sharenet_simulator::report::RunRecord;
use sharenet_simulator::scenario::Scenario;
use tokio::sync::Mutex;

/// The runs share two cores: they are serialised so that one scenario's timing is not
/// another's load.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Rows per generated table in these runs.
pub const ROWS: usize = 60;

/// Runs example `name` with tables cut to [`ROWS`] rows; prints its progress, its attacks'
/// steps and its verdicts (shown with `--nocapture`; `RUST_LOG=...` shows the nodes' logs).
pub async fn run(name: &str) -> RunRecord {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let scenario = Scenario::example(name).unwrap().with_max_rows(ROWS);
    let label = name.to_string();
    let options = RunOptions {
        progress: Some(Arc::new(move |e: &Event| eprintln!("{label}: {e}"))),
        ..RunOptions::default()
    };
    let record = engine::run(&scenario, &options).await.unwrap();
    for a in &record.attacks {
        eprintln!("{name}: attack {} by {}:", a.kind, a.by);
        for s in &a.steps {
            eprintln!("  {s}");
        }
    }
    for v in &record.verdicts {
        eprintln!(
            "{name}: {} {}: expected {}; {}",
            if v.pass { "pass" } else { "FAIL" },
            v.subject,
            v.expected,
            v.actual
        );
    }
    record
}

/// Every verdict passes, and there is one per upload, job and attack.
pub fn assert_all_met(record: &RunRecord) {
    assert_eq!(
        record.verdicts.len(),
        record.uploads.len() + record.jobs.len() + record.attacks.len()
    );
    for v in &record.verdicts {
        assert!(
            v.pass,
            "{}: expected {}, got {}",
            v.subject, v.expected, v.actual
        );
    }
    assert!(record.passed());
}
