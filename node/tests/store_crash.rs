#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Crash consistency: a child process (this test binary, re-invoked) writes batches in a loop
//! and prints each batch index after its commit returned; the parent kills it with SIGKILL at a
//! random moment, reopens the database and checks that it opens clean, that every batch it
//! holds is complete and correct, and that every batch reported committed is there. The same
//! database goes through several kill/restart rounds, the child resuming where it stopped.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_node::store::{AtRestKey, DatasetId, DatasetInfo, ShareStore};

const CHILD_ENV: &str = "SHARENET_STORE_CRASH_CHILD_DB";
const ID: DatasetId = DatasetId([0xc5; 32]);
const COLUMNS: usize = 3;
const ROWS: usize = 64;

fn key() -> AtRestKey {
    AtRestKey::from_bytes([0x33; 32])
}

fn info() -> DatasetInfo {
    DatasetInfo {
        name: "crash".into(),
        columns: COLUMNS as u32,
        party: 1,
    }
}

/// The deterministic content of batch `index`: what the parent expects to read back.
fn batch(index: u64) -> Vec<Vec<Mp127>> {
    let mut rng = StdRng::seed_from_u64(0xbadc0de ^ index);
    (0..COLUMNS)
        .map(|_| (0..ROWS).map(|_| Mp127::random(&mut rng)).collect())
        .collect()
}

/// The child: does nothing unless re-invoked by the parent with `CHILD_ENV` set.
#[test]
fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = ShareStore::open(&path, key()).unwrap();
    store.create_dataset(&ID, &info()).unwrap();
    let mut next = store.batches(&ID).unwrap().len() as u64;
    let mut out = std::io::stdout().lock();
    // The test harness has already written "test crash_child_writer ... " on this line.
    writeln!(out, "\nREADY {next}").unwrap();
    out.flush().unwrap();
    loop {
        let columns = batch(next);
        store
            .put_batch(&ID, next, next * ROWS as u64, &columns)
            .unwrap();
        writeln!(out, "COMMITTED {next}").unwrap();
        out.flush().unwrap();
        next += 1;
    }
}

/// Runs the child against `db` and kills it `delay` after it reported its first commit, or, if
/// `during_open`, `delay` after it was started (possibly while it opens and verifies the
/// database); returns the batch indices it reported committed. (Waiting for a commit, not for
/// time, is what makes sure that a busy machine's rounds still commit something to check.)
fn run_and_kill(db: &Path, delay: Duration, during_open: bool) -> Vec<u64> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "crash_child_writer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    if !during_open {
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the child reports a commit");
            let committed = line.starts_with("COMMITTED");
            lines.push(line);
            if committed {
                break;
            }
        }
    }
    // The kill's moment, drawn by the caller: a random point of the writer's loop.
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("COMMITTED "))
        .map(|n| n.trim().parse().unwrap())
        .collect()
}

#[test]
fn killed_writer_loses_nothing_committed_and_leaves_no_partial_batch() {
    let seed: u64 = RngExt::random(&mut rand::rng());
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shares.redb");
    let mut committed: Vec<u64> = Vec::new();
    // Batches stored before this round (the child resumes there).
    let mut before = 0u64;
    for round in 0..6 {
        // Rounds 2 and 4 kill the child at a random moment from its start: before, during or
        // after it opens (and repairs and verifies) the database left by the previous kill.
        let during_open = round % 2 == 0 && round > 0;
        let delay =
            Duration::from_millis(rng.random_range(if during_open { 0..60 } else { 5..200 }));
        let reported = run_and_kill(&db, delay, during_open);
        let context = format!("round {round} (seed {seed}, delay {delay:?})");
        // The child resumed after the batches already stored and reported each commit in order.
        assert_eq!(
            reported,
            (before..before + reported.len() as u64).collect::<Vec<_>>(),
            "{context}"
        );
        committed.extend(&reported);

        let store = ShareStore::open(&db, key())
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        let report = store.open_report();
        assert!(report.is_clean(), "{context}: {:?}", report.damaged);
        let stored = store.batches(&ID).unwrap();
        let indices: Vec<u64> = stored.iter().map(|b| b.index).collect();
        // The child writes batches in order, so what is stored is a prefix 0..n…
        let after = indices.len() as u64;
        assert_eq!(indices, (0..after).collect::<Vec<_>>(), "{context}");
        // …holding everything reported committed (in any round), plus at most the one batch of
        // this round whose commit completed before the kill but whose report did not get out.
        let reported_now = before + reported.len() as u64;
        assert!(
            after == reported_now || after == reported_now + 1,
            "{context}: {after} stored, {before} before this round, {} reported in it",
            reported.len()
        );
        for index in &committed {
            assert!(indices.contains(index), "{context}: batch {index} lost");
        }
        before = after;
        // Every stored batch is complete and holds exactly what was written.
        for info in &stored {
            let columns = store.read_batch(&ID, info.index).unwrap().unwrap().columns;
            assert_eq!(columns, batch(info.index), "batch {}", info.index);
        }
        assert_eq!(store.rows(&ID).unwrap(), (indices.len() * ROWS) as u64);
    }
    assert!(
        !committed.is_empty(),
        "the child never committed a batch (seed {seed})"
    );
}
