//! The report: verdicts on every expectation, and a report folder whose files are well-formed and
//! say what happened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sharenet_query::{Cell, QueryResult, compile_front_end};
use sharenet_simulator::plaintext::{Expected, Reference, ReferenceOptions, reference_for};
use sharenet_simulator::report::{
    ATTACK_EXPECTATION, AttackOutcome, AttackRecord, FaultEvent, FaultKind, JobOutcome, JobRecord,
    REPORT_FILES, RunRecord, StakeRecord, UploadOutcome, UploadRecord, judge_attack, judge_job,
    judge_upload, write_report,
};
use sharenet_simulator::scenario::{JobExpect, Scenario, UploadExpect};

/// The result an honest MPC would return: the reference's values.
fn honest(reference: &Reference) -> QueryResult {
    let cell = |e: &Expected| match e {
        Expected::Label(l) => Cell::Label(l.clone()),
        Expected::Number(a) => Cell::Number(a.value),
        Expected::Counts(b) => Cell::Counts(b.iter().map(|(l, a)| (l.clone(), a.value)).collect()),
        Expected::Model {
            coefficients,
            r_squared,
        } => Cell::Model {
            coefficients: coefficients
                .iter()
                .map(|(t, a)| (t.clone(), a.value))
                .collect(),
            r_squared: r_squared.map(|a| a.value),
        },
        Expected::CohortTooSmall => Cell::CohortTooSmall,
        other => panic!("{other:?}"),
    };
    QueryResult {
        columns: reference.columns.clone(),
        rows: reference
            .rows
            .iter()
            .map(|r| r.iter().map(cell).collect())
            .collect(),
    }
}

/// A run of `name` as an engine would record it: every upload stored, every job completed with
/// the honest result, `nodes` bytes and rounds made up; the planned faults as events.
fn recorded(name: &str) -> (Scenario, RunRecord) {
    let scenario = Scenario::example(name).unwrap().with_max_rows(100);
    let catalog = scenario.catalog().unwrap();
    let tables = scenario.tables().unwrap();
    let mut run = RunRecord::new(&scenario);
    run.setup_ms = 1234;
    for d in &scenario.datasets {
        run.uploads.push(UploadRecord {
            dataset: d.name.clone(),
            rows: tables[&d.name].len(),
            expect: d.expect,
            outcome: match d.expect {
                UploadExpect::Stored => UploadOutcome::Stored,
                UploadExpect::Rejected => UploadOutcome::Rejected {
                    reason: "batch check failed: node 3's share is off the polynomial".into(),
                },
            },
            duration_ms: Some(300),
        });
    }
    for (i, job) in scenario.jobs.iter().enumerate() {
        let mut record = JobRecord::new(job, JobOutcome::Completed);
        record.finished_ms = Some(job.at.0 + 400 + 150 * i as u64);
        record.rounds = Some(20 + 7 * i as u64);
        record.bytes_per_node = (0..scenario.network.nodes)
            .map(|n| 10_000 * (i as u64 + 1) + 100 * n as u64)
            .collect();
        match job.expect {
            JobExpect::Agree => {
                let typed = compile_front_end(&job.query, &catalog).unwrap();
                let options = ReferenceOptions {
                    min_cohort: scenario.min_cohort_for(&typed.datasets),
                };
                let reference = reference_for(&job.query, &catalog, &tables, &options).unwrap();
                record.compare(&honest(&reference), reference);
            }
            JobExpect::Refused => {
                record.outcome = JobOutcome::Refused {
                    reason: "dataset not registered".into(),
                }
            }
            JobExpect::Fail => {
                record.outcome = JobOutcome::Failed {
                    reason: "timed out".into(),
                }
            }
            JobExpect::Detected => {
                record.outcome = JobOutcome::Detected {
                    culprits: job.culprit.into_iter().collect(),
                    reason: "output shares are not on one polynomial".into(),
                };
            }
            JobExpect::Invalid => {
                record.outcome = JobOutcome::Invalid {
                    reason: "syntax".into(),
                }
            }
        }
        run.jobs.push(record);
    }
    run.faults = FaultEvent::planned(&scenario);
    run.duration_ms = run
        .jobs
        .iter()
        .filter_map(|j| j.finished_ms)
        .max()
        .unwrap_or(0)
        + 100;
    run.judge();
    (scenario, run)
}

fn job(expect: JobExpect, culprit: Option<usize>, outcome: JobOutcome) -> JobRecord {
    let scenario = Scenario::example("corrupt-messages").unwrap();
    let mut j = scenario.jobs[0].clone();
    j.expect = expect;
    j.culprit = culprit;
    JobRecord::new(&j, outcome)
}

#[test]
fn job_verdicts_follow_the_expectations() {
    let failed = || JobOutcome::Failed {
        reason: "timeout".into(),
    };
    let detected = |c: Vec<usize>| JobOutcome::Detected {
        culprits: c,
        reason: "bad share".into(),
    };
    let refused = || JobOutcome::Refused {
        reason: "no grant".into(),
    };
    let cases = [
        (JobExpect::Refused, None, refused(), true),
        (JobExpect::Refused, None, failed(), false),
        (JobExpect::Fail, None, failed(), true),
        (JobExpect::Fail, None, detected(vec![]), true),
        (JobExpect::Fail, None, refused(), false),
        (JobExpect::Detected, None, detected(vec![]), true),
        (JobExpect::Detected, Some(3), detected(vec![3]), true),
        (JobExpect::Detected, Some(3), detected(vec![2]), false),
        (JobExpect::Detected, Some(3), detected(vec![]), false),
        (JobExpect::Detected, None, failed(), false),
        (
            JobExpect::Invalid,
            None,
            JobOutcome::Invalid { reason: "x".into() },
            true,
        ),
        (JobExpect::Agree, None, failed(), false),
        // Completed without a comparison cannot be judged as agreeing.
        (JobExpect::Agree, None, JobOutcome::Completed, false),
        (JobExpect::Detected, None, JobOutcome::Completed, false),
    ];
    for (expect, culprit, outcome, pass) in cases {
        let v = judge_job(&job(expect, culprit, outcome.clone()));
        assert_eq!(v.pass, pass, "{expect:?} {culprit:?} {outcome:?}: {v:?}");
        assert_eq!(v.subject, "job while_corrupting");
    }
    let v = judge_job(&job(JobExpect::Detected, Some(3), detected(vec![2])));
    assert!(v.actual.contains("node 3 was not named"), "{v:?}");
    assert_eq!(v.expected, "detected, naming node 3");
}

#[test]
fn agreement_decides_agree_jobs() {
    let (_, run) = recorded("default");
    assert!(run.passed(), "{:?}", run.verdicts);
    assert_eq!(run.verdicts.len(), run.uploads.len() + run.jobs.len());
    // The same job with a result one off: its verdict fails and says why.
    let mut bad = run.jobs[2].clone();
    let mut result = bad.result.clone().unwrap();
    let Cell::Number(v) = result.rows[0][0] else {
        panic!()
    };
    result.rows[0][0] = Cell::Number(v + 1.0);
    let reference = bad.expected.clone().unwrap();
    bad.compare(&result, reference);
    let verdict = judge_job(&bad);
    assert!(!verdict.pass);
    assert!(
        verdict.actual.contains("1 cell of 1 disagrees"),
        "{verdict:?}"
    );
    // A detection job that completed: the misbehaviour went unnoticed.
    let mut unnoticed = run.jobs[0].clone();
    unnoticed.expect = JobExpect::Detected;
    let verdict = judge_job(&unnoticed);
    assert!(
        !verdict.pass && verdict.actual.contains("unnoticed"),
        "{verdict:?}"
    );
}

#[test]
fn upload_verdicts() {
    let upload = |expect, outcome| UploadRecord {
        dataset: "d".into(),
        rows: 1,
        expect,
        outcome,
        duration_ms: None,
    };
    let rejected = || UploadOutcome::Rejected {
        reason: "caught".into(),
    };
    assert!(judge_upload(&upload(UploadExpect::Stored, UploadOutcome::Stored)).pass);
    assert!(judge_upload(&upload(UploadExpect::Rejected, rejected())).pass);
    let v = judge_upload(&upload(UploadExpect::Rejected, UploadOutcome::Stored));
    assert!(!v.pass && v.actual.contains("not caught"));
    assert!(!judge_upload(&upload(UploadExpect::Stored, rejected())).pass);
    assert!(
        !judge_upload(&upload(
            UploadExpect::Stored,
            UploadOutcome::Failed {
                reason: "io".into()
            }
        ))
        .pass
    );
}

/// A small XML well-formedness check: tags balance, attributes are quoted, entities are known,
/// no stray `<` or `&` in text. Returns the element names in document order.
fn check_xml(text: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = text.trim_start();
    if let Some(after) = rest.strip_prefix("<?xml") {
        rest = &after[after.find("?>").expect("unterminated declaration") + 2..];
    }
    let check_text = |t: &str| {
        let mut s = t;
        while let Some(i) = s.find('&') {
            let entity = &s[i..s[i..]
                .find(';')
                .map(|e| i + e + 1)
                .expect("unterminated entity")];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
                "entity {entity}"
            );
            s = &s[i + entity.len()..];
        }
    };
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().expect("closing tag without opening");
            assert_eq!(top, name.trim(), "mismatched closing tag");
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body
                .split_whitespace()
                .next()
                .expect("empty tag")
                .to_string();
            // Attributes: name="value" pairs, quotes balanced.
            let attributes = &body[name.len()..];
            assert_eq!(
                attributes.matches('"').count() % 2,
                0,
                "unbalanced quotes in {tag}"
            );
            for part in attributes.split('"').step_by(2) {
                let part = part.trim();
                if !part.is_empty() {
                    assert!(
                        part.ends_with('='),
                        "attribute without a quoted value in {tag}"
                    );
                }
            }
            for value in attributes.split('"').skip(1).step_by(2) {
                check_text(value);
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    names
}

#[test]
fn the_xml_checker_itself_catches_mistakes() {
    check_xml("<svg><g><rect/></g></svg>");
    for bad in [
        "<svg><g></svg>",
        "<svg>a & b</svg>",
        "<svg x=\"1></svg>",
        "<svg><rect></svg>",
    ] {
        assert!(
            std::panic::catch_unwind(|| check_xml(bad)).is_err(),
            "{bad}"
        );
    }
}

fn texts(svg: &str) -> Vec<String> {
    svg.split("<text ")
        .skip(1)
        .map(|t| t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].to_string())
        .collect()
}

#[test]
fn the_report_folder_has_every_file_well_formed() {
    let (scenario, run) = recorded("crash-restart");
    let dir = tempfile::tempdir().unwrap();
    // REPORT_VIEW=<dir> keeps a copy to look at.
    let out = std::env::var_os("REPORT_VIEW").map_or_else(|| dir.path().join("report"), Into::into);
    let written = write_report(&out, &run).unwrap();
    assert_eq!(written.len(), REPORT_FILES.len());
    for name in REPORT_FILES {
        assert!(out.join(name).is_file(), "{name}");
    }
    // run.json reads back to the same record.
    let json = std::fs::read_to_string(out.join("run.json")).unwrap();
    let back: RunRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, run);
    // Every chart is well-formed SVG.
    for name in ["latency.svg", "bytes.svg", "rounds.svg", "timeline.svg"] {
        let svg = std::fs::read_to_string(out.join(name)).unwrap();
        let names = check_xml(&svg);
        assert_eq!(names[0], "svg", "{name}");
        assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(names.iter().filter(|n| *n == "rect").count() >= 3, "{name}");
        assert!(names.iter().any(|n| n == "text"), "{name}");
    }
    // The latency chart has one labelled bar per job, with its latency written above it.
    let latency = std::fs::read_to_string(out.join("latency.svg")).unwrap();
    let labels = texts(&latency);
    for j in &run.jobs {
        assert!(labels.contains(&j.name), "{} not in {labels:?}", j.name);
        let seconds = format!("{:.2} s", j.latency_ms().unwrap() as f64 / 1000.0);
        assert!(labels.contains(&seconds), "{seconds} not in {labels:?}");
    }
    // The bytes chart has a bar per node.
    let bytes = std::fs::read_to_string(out.join("bytes.svg")).unwrap();
    let labels = texts(&bytes);
    for n in 0..scenario.network.nodes {
        assert!(labels.contains(&format!("node {n}")), "{labels:?}");
    }
    // The timeline shows node 2 down, as a rect titled with the crash.
    let timeline = std::fs::read_to_string(out.join("timeline.svg")).unwrap();
    assert!(
        timeline.contains("<title>down: node 2 crashes at 100ms and restarts at 3s</title>"),
        "{timeline}"
    );
    // report.md: the verdict, every expectation, every job, the charts.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**Verdict: PASS**"), "{md}");
    for v in &run.verdicts {
        assert!(md.contains(&v.subject), "{}", v.subject);
    }
    for j in &run.jobs {
        assert!(md.contains(&format!("| {} |", j.name)), "{}", j.name);
    }
    for chart in ["latency.svg", "bytes.svg", "rounds.svg", "timeline.svg"] {
        assert!(md.contains(&format!("]({chart})")), "{chart}");
    }
    assert!(md.contains("node 2 crashes at 100ms"), "{md}");
}

#[test]
fn a_failed_expectation_shows_in_the_report() {
    let (_, mut run) = recorded("byzantine-dealer");
    assert!(run.passed(), "{:?}", run.verdicts);
    // The forged upload slipped through.
    run.uploads[1].outcome = UploadOutcome::Stored;
    run.judge();
    assert!(!run.passed());
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), &run).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("**Verdict: FAIL**"), "{md}");
    assert!(md.contains("❌ FAIL | upload forged_patients"), "{md}");
}

#[test]
fn disagreements_are_explained_in_the_report() {
    let (_, mut run) = recorded("default");
    let j = &mut run.jobs[0];
    let mut result = j.result.clone().unwrap();
    let Cell::Number(v) = result.rows[0][0] else {
        panic!()
    };
    result.rows[0][0] = Cell::Number(v * 1.01);
    let reference = j.expected.clone().unwrap();
    j.compare(&result, reference);
    run.judge();
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), &run).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("### Where results disagree"), "{md}");
    assert!(md.contains("AVG(bmi): mpc"), "{md}");
    let latency = std::fs::read_to_string(dir.path().join("latency.svg")).unwrap();
    assert!(latency.contains("#D55E00"), "the failing job's bar is red");
}

#[test]
fn events_are_placed_on_their_lanes() {
    let (scenario, mut run) = recorded("corrupt-messages");
    run.faults.push(FaultEvent {
        at_ms: 1200,
        until_ms: None,
        kind: FaultKind::Detected,
        nodes: vec![],
        groups: vec![],
        job: Some("while_corrupting".into()),
        note: "protocol check failed".into(),
    });
    run.faults.push(FaultEvent {
        at_ms: 50,
        until_ms: None,
        kind: FaultKind::Other,
        nodes: vec![],
        groups: vec![],
        job: None,
        note: "chain reorg".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), &run).unwrap();
    let timeline = std::fs::read_to_string(dir.path().join("timeline.svg")).unwrap();
    check_xml(&timeline);
    assert!(timeline.contains("<title>protocol check failed</title></polygon>"));
    assert!(texts(&timeline).contains(&"other events".to_string()));
    // Node 2 corrupts twice: two orange spans on its lane.
    assert_eq!(timeline.matches("<title>node 2 corrupts its").count(), 2);
    assert_eq!(run.scenario.nodes, scenario.network.nodes);
    // Results survive the round trip through run.json.
    let json = std::fs::read_to_string(dir.path().join("run.json")).unwrap();
    let back: RunRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back.jobs[1].result, run.jobs[1].result);
    assert!(run.jobs[1].result.is_some());
}

fn attack(outcome: AttackOutcome, slashed: bool, check_holds: bool) -> AttackRecord {
    let scenario = Scenario::example("framing-owner").unwrap();
    let mut a = AttackRecord::new(&scenario.attacks[0]);
    a.outcome = outcome;
    a.check(
        "the victim acknowledged the registration",
        false,
        !check_holds,
    );
    a.stakes = vec![StakeRecord {
        node: 0,
        account: "0x01".into(),
        before: "1000".into(),
        after: if slashed { "900".into() } else { "1000".into() },
        slashes_before: 0,
        slashes_after: u32::from(slashed),
    }];
    a
}

#[test]
fn attack_verdicts_need_a_refusal_every_check_and_every_stake() {
    let refused = || AttackOutcome::Refused {
        reason: "AccusedHasNotAcknowledged".into(),
    };
    let v = judge_attack(&attack(refused(), false, true));
    assert!(v.pass, "{v:?}");
    assert_eq!(v.subject, "attack framing_owner by mallory");
    assert_eq!(v.expected, ATTACK_EXPECTATION);
    assert!(
        v.actual
            .contains("1 checks hold; 1 honest stakes unchanged"),
        "{v:?}"
    );
    // A slashed honest node fails it, even when the attacker was refused.
    let v = judge_attack(&attack(refused(), true, true));
    assert!(!v.pass);
    assert!(
        v.actual
            .contains("node 0 was slashed: stake 1000 → 900 wei"),
        "{v:?}"
    );
    // So does a check that does not hold.
    let v = judge_attack(&attack(refused(), false, false));
    assert!(!v.pass);
    assert!(
        v.actual
            .contains("the victim acknowledged the registration: expected false, found true"),
        "{v:?}"
    );
    // An attack that went through, or that could not be carried out, fails.
    for outcome in [
        AttackOutcome::Succeeded {
            what: "node 0 was slashed".into(),
        },
        AttackOutcome::NotCarriedOut {
            reason: "timeout".into(),
        },
    ] {
        assert!(!judge_attack(&attack(outcome, false, true)).pass);
    }
    // Refused without the stakes read is not judged a pass.
    let mut unread = attack(refused(), false, true);
    unread.stakes.clear();
    assert!(!judge_attack(&unread).pass);
    // The record round-trips through JSON, and the report shows the attack.
    let mut run = RunRecord::new(&Scenario::example("framing-owner").unwrap());
    run.attacks.push(attack(refused(), false, true));
    run.judge();
    assert_eq!(run.verdicts.len(), 1);
    let json = serde_json::to_string(&run).unwrap();
    assert_eq!(serde_json::from_str::<RunRecord>(&json).unwrap(), run);
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), &run).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("## Attacks"), "{md}");
    assert!(md.contains("### framing_owner by mallory"), "{md}");
    assert!(md.contains("| 0 | 1000 | 1000 | 0 | 0 |"), "{md}");
}
