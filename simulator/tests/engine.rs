#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The engine runs the example scenarios on a real in-process network at a small size: every
//! expected verdict of each example is met, and what the record says happened is checked
//! against what the scenario planned (independently of the verdicts).
//!
//! The runs share two cores: they are serialised so that one scenario's timing is not another's
//! load.

use sharenet_simulator::report::{FaultKind, JobOutcome, RunRecord, UploadOutcome};

#[path = "support/examples.rs"]
mod examples;

use examples::{ONE_AT_A_TIME, ROWS, assert_all_met, run};

fn job<'a>(record: &'a RunRecord, name: &str) -> &'a sharenet_simulator::report::JobRecord {
    record
        .jobs
        .iter()
        .find(|j| j.name == name)
        .unwrap_or_else(|| panic!("no job {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_scenario_agrees_with_plaintext() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("default").await;
    assert_all_met(&record);
    assert!(
        record
            .uploads
            .iter()
            .all(|u| u.outcome == UploadOutcome::Stored)
    );
    assert_eq!(record.jobs.len(), 6);
    for j in &record.jobs {
        assert_eq!(j.outcome, JobOutcome::Completed, "{}", j.name);
        let c = j.comparison.as_ref().unwrap();
        assert!(c.agree, "{}: {}", j.name, c.explain(true));
        // The reference reads the union of both hospitals' rows.
        assert_eq!(j.expected.as_ref().unwrap().rows_read, 2 * ROWS);
        assert!(j.rounds.unwrap() > 0);
        // All seven nodes computed (t = 3 needs all of them) and sent something.
        assert_eq!(j.bytes_per_node.len(), 7);
        assert!(
            j.bytes_per_node.iter().all(|b| *b > 0),
            "{:?}",
            j.bytes_per_node
        );
        assert!(j.latency_ms().is_some());
    }
    assert!(record.faults.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_restart_keeps_results_right() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("crash-restart").await;
    assert_all_met(&record);
    // Node 2 was down from its crash to its restart.
    let crash = record
        .faults
        .iter()
        .find(|f| f.kind == FaultKind::Crash)
        .unwrap();
    assert_eq!(crash.nodes, vec![2]);
    let restarted = crash.until_ms.expect("node 2 restarted");
    assert!(crash.at_ms >= 100 && restarted >= 3000, "{crash:?}");
    // The job after the restart ran with node 2 back: it sent traffic again.
    let after = job(&record, "after_the_restart");
    assert!(after.submitted_ms >= restarted);
    assert!(after.bytes_per_node[2] > 0, "{:?}", after.bytes_per_node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_fails_short_jobs_and_heals() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("partition").await;
    assert_all_met(&record);
    let short = job(&record, "during_split_short_timeout");
    assert!(matches!(short.outcome, JobOutcome::Failed { .. }));
    let split = record
        .faults
        .iter()
        .find(|f| f.kind == FaultKind::Partition)
        .unwrap();
    assert_eq!(split.groups, vec![vec![0, 1], vec![2, 3, 4]]);
    let healed = split.until_ms.expect("the partition healed");
    // It gave up at its 2 s timeout, not before (a timer never fires early; how much later a
    // busy machine ends it is not bounded here).
    let latency = short.latency_ms().unwrap();
    assert!(latency >= 2000, "{latency}");
    let waited = job(&record, "during_split_waits_for_heal");
    assert!(waited.finished_ms.unwrap() >= healed, "{waited:?}");
    assert!(record.faults.iter().any(|f| f.kind == FaultKind::Link));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byzantine_dealer_is_rejected() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("byzantine-dealer").await;
    assert_all_met(&record);
    let forged = record
        .uploads
        .iter()
        .find(|u| u.dataset == "forged_patients")
        .unwrap();
    assert!(
        matches!(&forged.outcome, UploadOutcome::Rejected { reason } if reason.contains("dealer verification failed")),
        "{forged:?}"
    );
    assert!(matches!(
        job(&record, "forged_data").outcome,
        JobOutcome::Refused { .. }
    ));
    let dealer = record
        .faults
        .iter()
        .find(|f| f.kind == FaultKind::ByzantineDealer)
        .unwrap();
    assert_eq!(dealer.nodes, vec![3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_messages_abort_or_are_detected() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("corrupt-messages").await;
    assert_all_met(&record);
    // Node 2 really corrupted messages in both windows.
    let corruptions: Vec<_> = record
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::CorruptMessages)
        .collect();
    assert_eq!(corruptions.len(), 2);
    for c in &corruptions {
        assert_eq!(c.nodes, vec![2]);
        assert!(!c.note.contains("; 0 message(s)"), "{}", c.note);
    }
    // The job under the protocol corruption agrees: node 2 corrupted messages while it ran (the
    // check above), so its first attempt was aborted by the members, who told the requester, and
    // the retry after the window computed the right result. The detected job's inconsistency was
    // the requester's own check.
    let rerun = job(&record, "while_corrupting");
    assert!(rerun.result.is_some());
    let detected = job(&record, "wrong_output_share");
    assert!(
        matches!(&detected.outcome, JobOutcome::Detected { reason, .. } if reason.contains("inconsistent")),
        "{:?}",
        detected.outcome
    );
    assert!(
        record.faults.iter().any(
            |f| f.kind == FaultKind::Detected && f.job.as_deref() == Some("wrong_output_share")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_deviation_inside_the_computation_aborts_the_job() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("malicious").await;
    assert_all_met(&record);
    // One window per deviation, all on node 2, each of which really corrupted messages.
    let corruptions: Vec<_> = record
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::CorruptMessages)
        .collect();
    let labels = [
        "multiplication-share",
        "king's opened-product",
        "opening-share",
        "random-deal",
        "output-share",
    ];
    assert_eq!(corruptions.len(), labels.len());
    for (c, label) in corruptions.iter().zip(labels) {
        assert_eq!(c.nodes, vec![2]);
        assert!(c.note.contains(label), "{}", c.note);
        assert!(!c.note.contains("; 0 message(s)"), "{}", c.note);
    }
    // Each deviation among the members: the job ran (its attempt started, with all three), the
    // members aborted and told the requester, and the job ended without a result at its
    // timeout. Nothing wrong was released, and the requester saw no inconsistency: the members
    // aborted before any output share.
    for name in [
        "bad_multiplication_share",
        "bad_king_value",
        "bad_opening_share",
        "bad_random_bits",
    ] {
        let j = job(&record, name);
        assert!(
            matches!(&j.outcome, JobOutcome::Failed { reason } if reason.contains("aborted the session")),
            "{name}: {:?}",
            j.outcome
        );
        assert!(j.result.is_none(), "{name}");
        assert!(
            j.bytes_per_node.iter().all(|b| *b > 0),
            "{name}: {:?}",
            j.bytes_per_node
        );
    }
    // The wrong output shares: the researcher's own check.
    let detected = job(&record, "wrong_output_share");
    assert!(
        matches!(&detected.outcome, JobOutcome::Detected { reason, .. } if reason.contains("inconsistent")),
        "{:?}",
        detected.outcome
    );
    // Node 2 honest again: the same query agrees (assert_all_met compared it).
    assert_eq!(
        job(&record, "node_2_honest_again").outcome,
        JobOutcome::Completed
    );
}
