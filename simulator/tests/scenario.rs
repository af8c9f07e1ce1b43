//! Scenario files: the examples parse and check; bad files are refused before anything starts,
//! naming the key and the line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use sharenet_query::{QueryKind, compile_front_end};
use sharenet_simulator::scenario::{
    Attack, CorruptTarget, EXAMPLES, Fault, JobExpect, Millis, NameKind, Scenario, ScenarioError,
    Source, StaleStep, UploadExpect,
};

/// A small valid scenario; tests change one thing in it.
const BASE: &str = r#"name = "base"

[network]
nodes = 5
threshold = 2

[[pools]]
name = "clinical"

[[institutions]]
name = "hospital_a"

[[institutions]]
name = "hospital_b"

[[datasets]]
name = "a_patients"
owner = "hospital_a"
pool = "clinical"
source = { generator = "patients", rows = 100, seed = 1 }

[[datasets]]
name = "b_patients"
owner = "hospital_b"
pool = "clinical"
source = { generator = "patients", rows = 100, seed = 2 }

[[researchers]]
name = "alice"

[[grants]]
granter = "hospital_a"
grantee = "alice"
datasets = ["a_patients"]
kinds = ["aggregate"]

[[jobs]]
name = "mean_age"
by = "alice"
query = "SELECT AVG(age) FROM a_patients"
at = "1s"
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml(text, Path::new("."))
}

fn refused(text: &str) -> ScenarioError {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> u32 {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    text[..offset].matches('\n').count() as u32 + 1
}

fn line(e: &ScenarioError) -> u32 {
    e.location()
        .and_then(|l| l.line)
        .unwrap_or_else(|| panic!("no line in {e:?}"))
}

#[test]
fn the_base_scenario_is_valid_and_has_its_defaults() {
    let s = parse(BASE).unwrap();
    assert_eq!(
        s.network.committee, 5,
        "the committee defaults to every node"
    );
    assert_eq!(s.institutions[0].min_cohort, 10);
    assert_eq!(s.jobs[0].at, Millis(1000));
    assert_eq!(s.jobs[0].expect, JobExpect::Agree);
    assert_eq!(s.datasets[0].expect, UploadExpect::Stored);
    assert_eq!(s.grants[0].max_queries, u32::MAX);
    assert_eq!(s.min_cohort_for(&["a_patients", "b_patients"]), 10);
    // A union uses the strictest owner's minimum cohort.
    let s = parse(&BASE.replace(
        "name = \"hospital_b\"\n",
        "name = \"hospital_b\"\nmin_cohort = 25\n",
    ))
    .unwrap();
    assert_eq!(s.min_cohort_for(&["a_patients"]), 10);
    assert_eq!(s.min_cohort_for(&["a_patients", "b_patients"]), 25);
    assert!(s.table("b_patient").is_err());
    assert_eq!(s.table("b_patients").unwrap().len(), 100);
}

#[test]
fn every_example_parses_and_checks() {
    assert!(EXAMPLES.len() >= 5);
    for (name, text) in EXAMPLES {
        let s = parse(text).unwrap_or_else(|e| panic!("{name}: {}", e.render(text)));
        assert_eq!(&s.name, name);
        assert!(!s.description.is_empty(), "{name}");
        assert!(!s.jobs.is_empty(), "{name}");
        // The example files on disk are the ones embedded.
        let on_disk = Scenario::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml")),
        )
        .unwrap();
        assert_eq!(on_disk.jobs, s.jobs, "{name}");
        assert_eq!(on_disk.faults, s.faults, "{name}");
        assert_eq!(on_disk.attacks, s.attacks, "{name}");
    }
}

#[test]
fn the_default_scenario_is_the_one_the_issue_describes() {
    let s = Scenario::default_scenario().unwrap();
    assert_eq!(
        (s.network.nodes, s.network.threshold, s.network.committee),
        (7, 3, 7)
    );
    assert_eq!(s.institutions.len(), 2);
    assert_eq!(s.pools.len(), 1);
    assert!(s.faults.is_empty());
    for d in &s.datasets {
        assert!(
            matches!(d.source, Source::Generated { rows: 2000, .. }),
            "{d:?}"
        );
    }
    let catalog = s.catalog().unwrap();
    let texts: Vec<String> = s
        .jobs
        .iter()
        .map(|j| {
            compile_front_end(&j.query, &catalog)
                .unwrap()
                .canonical_text
        })
        .collect();
    let all = texts.join("\n");
    for needle in [
        "AVG(",
        "VAR_SAMP(",
        "COUNT(*)",
        "WHERE",
        "GROUP BY",
        "HISTOGRAM(",
        "LINREG(",
    ] {
        assert!(all.contains(needle), "no {needle} in\n{all}");
    }
    assert!(s.jobs.iter().all(|j| j.expect == JobExpect::Agree));
    // Every query reads both hospitals.
    for j in &s.jobs {
        assert!(j.query.contains("hospital_a_patients") && j.query.contains("hospital_b_patients"));
    }
}

#[test]
fn fault_examples_carry_their_expected_verdicts() {
    let crash = Scenario::example("crash-restart").unwrap();
    assert!(matches!(
        crash.faults[0],
        Fault::Crash {
            node: 2,
            at: Millis(100),
            restart_at: Some(Millis(3000))
        }
    ));
    let partition = Scenario::example("partition").unwrap();
    assert!(
        partition
            .faults
            .iter()
            .any(|f| matches!(f, Fault::Partition { until: Some(_), .. }))
    );
    // `to = "*"` is every node.
    assert!(
        partition
            .faults
            .iter()
            .any(|f| matches!(f, Fault::Link { to, .. } if to == &vec![0, 1, 2, 3, 4]))
    );
    assert!(partition.jobs.iter().any(|j| j.expect == JobExpect::Fail));
    let dealer = Scenario::example("byzantine-dealer").unwrap();
    assert_eq!(
        dealer.dataset("forged_patients").unwrap().expect,
        UploadExpect::Rejected
    );
    // With n = 2t + 1 a wrong output share is detected (not corrected); a corrupted protocol
    // message aborts the attempt at the honest members, and the requester's retry after the
    // window agrees.
    let corrupt = Scenario::example("corrupt-messages").unwrap();
    assert_eq!(
        (corrupt.network.committee, corrupt.network.threshold),
        (3, 1)
    );
    assert!(
        corrupt
            .jobs
            .iter()
            .any(|j| j.expect == JobExpect::Detected && j.culprit.is_none())
    );
    assert!(
        corrupt
            .jobs
            .iter()
            .any(|j| j.name == "while_corrupting" && j.expect == JobExpect::Agree)
    );
    assert!(corrupt.faults.iter().any(|f| matches!(
        f,
        Fault::CorruptMessages {
            target: CorruptTarget::Output,
            ..
        }
    )));
    // One deviation inside the computation per window, each its own target, all on node 2.
    let malicious = Scenario::example("malicious").unwrap();
    let targets: Vec<CorruptTarget> = malicious
        .faults
        .iter()
        .filter_map(|f| match f {
            Fault::CorruptMessages {
                node: 2, target, ..
            } => Some(*target),
            _ => None,
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            CorruptTarget::Multiplication,
            CorruptTarget::King,
            CorruptTarget::Opening,
            CorruptTarget::RandomBits,
            CorruptTarget::Output,
        ]
    );
    assert!(Scenario::example("nope").is_err());
}

#[test]
fn an_unknown_corruption_target_names_the_targets() {
    let text =
        format!("{BASE}\n[[faults]]\nkind = \"corrupt_messages\"\nnode = 1\ntarget = \"kings\"\n");
    let e = refused(&text);
    let message = e.to_string();
    for target in [
        "protocol",
        "output",
        "multiplication",
        "king",
        "opening",
        "random_bits",
    ] {
        assert!(message.contains(target), "{message}");
    }
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = BASE.replace("at = \"1s\"", "at = \"1s\"\ncolour = \"red\"");
    let e = refused(&text);
    let ScenarioError::Syntax { at, message } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(at.line, Some(line_of(&text, "colour")));
    assert_eq!(at.column, Some(1));
    assert_eq!(at.path, "jobs[0].colour");
    assert!(message.contains("unknown key `colour`"), "{message}");
    assert!(
        message.contains("`query`"),
        "lists the allowed keys: {message}"
    );
    assert!(
        e.to_string()
            .starts_with(&format!("line {}, column 1", at.line.unwrap())),
        "{e}"
    );
    // Also in the top-level tables.
    let e = refused(&BASE.replace("threshold = 2", "threshold = 2\ntreshold = 2"));
    assert!(e.to_string().contains("unknown key `treshold`"), "{e}");
    assert_eq!(e.location().unwrap().path, "network.treshold");
}

#[test]
fn a_wrong_type_is_named_with_its_line() {
    let text = BASE.replace("nodes = 5", "nodes = \"five\"");
    let e = refused(&text);
    assert!(matches!(e, ScenarioError::Syntax { .. }), "{e:?}");
    assert_eq!(line(&e), line_of(&text, "\"five\""));
    assert_eq!(e.location().unwrap().path, "network.nodes");
    assert!(e.to_string().contains("invalid type"), "{e}");

    let text = BASE.replace("at = \"1s\"", "at = \"soon\"");
    let e = refused(&text);
    assert_eq!(line(&e), line_of(&text, "\"soon\""));
    assert!(e.to_string().contains("not a time"), "{e}");

    let text = BASE.replace("kinds = [\"aggregate\"]", "kinds = [\"aggregates\"]");
    let e = refused(&text);
    assert_eq!(line(&e), line_of(&text, "aggregates"));
    assert!(
        e.to_string().contains("`aggregate`"),
        "lists the kinds: {e}"
    );

    let e = refused(&BASE.replace("threshold = 2\n", ""));
    assert!(e.to_string().contains("missing key `threshold`"), "{e}");
    assert_eq!(e.location().unwrap().path, "network");

    let e = refused("[network\nnodes = 1");
    assert!(matches!(e, ScenarioError::Syntax { .. }), "{e:?}");
    assert_eq!(line(&e), 1);
}

#[test]
fn a_threshold_without_honest_majority_is_refused() {
    for (nodes, threshold, committee) in [(4, 2, None), (5, 3, None), (7, 3, Some(6)), (3, 0, None)]
    {
        let mut text = BASE.replace(
            "nodes = 5\nthreshold = 2",
            &format!("nodes = {nodes}\nthreshold = {threshold}"),
        );
        if let Some(c) = committee {
            text = text.replace("[network]\n", &format!("[network]\ncommittee = {c}\n"));
        }
        let e = refused(&text);
        assert!(matches!(e, ScenarioError::Network { .. }), "{e:?}");
        assert_eq!(e.location().unwrap().path, "network.threshold");
        assert_eq!(line(&e), line_of(&text, "threshold ="));
    }
    let e = refused(&BASE.replace("nodes = 5\nthreshold = 2", "nodes = 4\nthreshold = 2"));
    assert!(
        e.to_string().contains("lower `threshold` to at most 1"),
        "{e}"
    );
    // An absurd threshold is an error, not an overflow.
    let e = refused(&BASE.replace("threshold = 2", "threshold = 9223372036854775807"));
    assert!(matches!(e, ScenarioError::Network { .. }), "{e:?}");
    // Honest majority holds at 2t + 1 = n.
    parse(&BASE.replace("nodes = 5\nthreshold = 2", "nodes = 3\nthreshold = 1")).unwrap();
}

#[test]
fn a_committee_larger_than_the_network_is_refused() {
    let text = BASE.replace("[network]\n", "[network]\ncommittee = 9\n");
    let e = refused(&text);
    assert_eq!(e.location().unwrap().path, "network.committee");
    assert_eq!(line(&e), line_of(&text, "committee"));
}

#[test]
fn a_job_on_an_unknown_dataset_points_into_the_query() {
    let text = BASE.replace("FROM a_patients\"", "FROM a_patient\"");
    let e = refused(&text);
    let ScenarioError::UnknownName {
        at,
        what,
        name,
        suggestion,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*what, name.as_str()), (NameKind::Dataset, "a_patient"));
    assert_eq!(suggestion.as_deref(), Some("a_patients"));
    let l = line_of(&text, "a_patient\"");
    assert_eq!(at.line, Some(l));
    // The column is the dataset name's, inside the query string.
    let line_text = text.lines().nth(l as usize - 1).unwrap();
    assert_eq!(
        at.column,
        Some(line_text.find("a_patient").unwrap() as u32 + 1)
    );
    assert!(e.render(&text).contains("^"));

    // In a multi-line query, the line is the query line's.
    let text = BASE.replace(
        "query = \"SELECT AVG(age) FROM a_patients\"",
        "query = \"\"\"\nSELECT AVG(age)\nFROM a_patients, c_patients\"\"\"",
    );
    let e = refused(&text);
    assert_eq!(line(&e), line_of(&text, "FROM a_patients, c"));
    assert_eq!(e.location().unwrap().column, Some(18));
}

#[test]
fn a_query_error_is_placed_in_the_file() {
    let text = BASE.replace("AVG(age)", "AVG(agee)");
    let e = refused(&text);
    let ScenarioError::Query {
        at,
        message,
        rendered,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(at.line, Some(line_of(&text, "agee")));
    assert_eq!(at.path, "jobs[0].query");
    assert!(message.contains("agee"), "{message}");
    assert!(rendered.contains("did you mean `age`"), "{rendered}");
    // A job meant to be invalid is not refused for it.
    parse(&text.replace("at = \"1s\"", "at = \"1s\"\nexpect = \"invalid\"")).unwrap();
}

#[test]
fn names_must_exist_be_unique_and_be_owned() {
    let text = BASE.replace("by = \"alice\"", "by = \"alcie\"");
    let e = refused(&text);
    assert!(
        e.to_string()
            .contains("unknown researcher `alcie`; did you mean `alice`?"),
        "{e}"
    );
    assert_eq!(line(&e), line_of(&text, "\"alcie\""));

    let text = BASE.replace("owner = \"hospital_b\"", "owner = \"hospital_c\"");
    let e = refused(&text);
    assert_eq!(e.location().unwrap().path, "datasets[1].owner");

    let text = BASE.replace("name = \"b_patients\"", "name = \"a_patients\"");
    let e = refused(&text);
    let ScenarioError::Duplicate { at, first, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(first.line, Some(line_of(&text, "name = \"a_patients\"")));
    assert!(at.line > first.line);

    // hospital_a granting b_patients, which hospital_b owns.
    let text = BASE.replace(
        "datasets = [\"a_patients\"]",
        "datasets = [\"a_patients\", \"b_patients\"]",
    );
    let e = refused(&text);
    assert!(
        matches!(&e, ScenarioError::NotOwner { owner, .. } if owner == "hospital_b"),
        "{e:?}"
    );
    assert_eq!(e.location().unwrap().path, "grants[0].datasets[1]");
    assert_eq!(line(&e), line_of(&text, "\"b_patients\"]"));

    let e = refused(
        &BASE
            .replace("name = \"a_patients\"", "name = \"a-patients\"")
            .replace("FROM a_patients", "FROM a-patients"),
    );
    assert!(matches!(e, ScenarioError::BadName { .. }), "{e:?}");

    let e = refused(&BASE.replace(
        "pool = \"clinical\"\nsource = { generator = \"patients\", rows = 100, seed = 2 }",
        "pool = \"clinic\"\nsource = { generator = \"patients\", rows = 100, seed = 2 }",
    ));
    assert!(e.to_string().contains("did you mean `clinical`"), "{e}");
}

#[test]
fn an_agree_job_must_be_able_to_agree() {
    // No grant from hospital_b.
    let text = BASE.replace("FROM a_patients\"", "FROM a_patients, b_patients\"");
    let e = refused(&text);
    assert!(matches!(e, ScenarioError::Expectation { .. }), "{e:?}");
    assert!(e.to_string().contains("hospital_b"), "{e}");
    parse(&text.replace("at = \"1s\"", "at = \"1s\"\nexpect = \"refused\"")).unwrap();
    // A kind the grant does not allow.
    let e = refused(&BASE.replace("AVG(age)", "HISTOGRAM(age, 40)"));
    assert!(e.to_string().contains("histogram"), "{e}");
    // A grant that has expired by then.
    let e = refused(&BASE.replace(
        "kinds = [\"aggregate\"]",
        "kinds = [\"aggregate\"]\nexpires_in = \"500ms\"",
    ));
    assert!(e.to_string().contains("expired"), "{e}");
    // `culprit` without expect = "detected".
    let e = refused(&BASE.replace("at = \"1s\"", "at = \"1s\"\nculprit = 1"));
    assert_eq!(e.location().unwrap().path, "jobs[0].culprit");
    let e = refused(&BASE.replace("at = \"1s\"", "at = \"1s\"\ntolerance = -1.0"));
    assert!(matches!(e, ScenarioError::Value { .. }), "{e:?}");
}

#[test]
fn a_delegation_lets_one_grant_cover_two_owners() {
    // A union needs one grant covering both datasets.
    let union = BASE.replace("FROM a_patients\"", "FROM a_patients, b_patients\"");
    let both = union.replace(
        "datasets = [\"a_patients\"]",
        "datasets = [\"a_patients\", \"b_patients\"]",
    );
    // Without a delegation, hospital_a cannot grant b_patients.
    let e = refused(&both);
    assert!(e.to_string().contains("[[delegations]]"), "{e}");
    let delegation = "[[delegations]]\nowner = \"hospital_b\"\ndelegate = \"hospital_a\"\ndatasets = [\"b_patients\"]\n\n[[grants]]";
    let text = both.replacen("[[grants]]", delegation, 1);
    let s = parse(&text).unwrap();
    assert_eq!(s.delegations.len(), 1);
    assert!(s.may_grant("hospital_a", "b_patients"));
    assert!(!s.may_grant("hospital_b", "a_patients"));
    // Two grants, one per owner, do not make a union query runnable.
    let two = union.replacen(
        "[[jobs]]",
        "[[grants]]\ngranter = \"hospital_b\"\ngrantee = \"alice\"\ndatasets = [\"b_patients\"]\nkinds = [\"aggregate\"]\n\n[[jobs]]",
        1,
    );
    let e = refused(&two);
    assert!(e.to_string().contains("one grant"), "{e}");
    // Bad delegations.
    let e = refused(&text.replace(
        "owner = \"hospital_b\"\ndelegate",
        "owner = \"hospital_a\"\ndelegate",
    ));
    assert!(e.to_string().contains("itself"), "{e}");
    let e = refused(&text.replace("delegate = \"hospital_a\"", "delegate = \"hospitl_a\""));
    assert!(e.to_string().contains("did you mean `hospital_a`"), "{e}");
    let e = refused(&text.replace(
        "datasets = [\"b_patients\"]\n\n[[grants]]",
        "datasets = [\"a_patients\"]\n\n[[grants]]",
    ));
    assert_eq!(e.location().unwrap().path, "delegations[0].datasets[0]");
    assert!(e.to_string().contains("belongs to `hospital_a`"), "{e}");
    let e = refused(&text.replace(
        "delegate = \"hospital_a\"",
        "delegate = \"hospital_a\"\ncolour = 1",
    ));
    assert!(e.to_string().contains("unknown key `colour`"), "{e}");
}

#[test]
fn faults_are_checked() {
    let with = |fault: &str| format!("{BASE}\n[[faults]]\n{fault}\n");
    // Unknown node.
    let text = with("kind = \"crash\"\nnode = 5\nat = \"1s\"");
    let e = refused(&text);
    assert!(
        e.to_string()
            .contains("no node 5: nodes are numbered 0 to 4"),
        "{e}"
    );
    assert_eq!(line(&e), line_of(&text, "node = 5"));
    // Restart before the crash.
    let text = with("kind = \"crash\"\nnode = 1\nat = \"2s\"\nrestart_at = \"1s\"");
    let e = refused(&text);
    assert!(matches!(e, ScenarioError::Time { .. }), "{e:?}");
    assert_eq!(line(&e), line_of(&text, "restart_at"));
    // Crashing a node that is already down.
    let text = format!(
        "{}\n[[faults]]\nkind = \"crash\"\nnode = 1\nat = \"3s\"\n",
        with("kind = \"crash\"\nnode = 1\nat = \"2s\"\nrestart_at = \"5s\"")
    );
    let e = refused(&text);
    assert!(e.to_string().contains("already down"), "{e}");
    // A partition that heals before it starts; one with a node on both sides.
    let e = refused(&with(
        "kind = \"partition\"\ngroups = [[0, 1], [2]]\nat = \"2s\"\nuntil = \"2s\"",
    ));
    assert!(matches!(e, ScenarioError::Time { .. }), "{e:?}");
    let text = with("kind = \"partition\"\ngroups = [[0, 1], [1, 2]]\nat = \"2s\"");
    let e = refused(&text);
    assert_eq!(e.location().unwrap().path, "faults[0].groups[1][0]");
    let e = refused(&with(
        "kind = \"partition\"\ngroups = [[0, 1, 2, 3, 4]]\nat = \"2s\"",
    ));
    assert!(e.to_string().contains("separates nothing"), "{e}");
    // A key of another kind, an unknown kind, a missing key.
    let text = with("kind = \"partition\"\ngroups = [[0], [1]]\nat = \"1s\"\nrestart_at = \"2s\"");
    let e = refused(&text);
    assert!(
        e.to_string()
            .contains("`restart_at` does not apply to a \"partition\" fault"),
        "{e}"
    );
    assert_eq!(line(&e), line_of(&text, "restart_at"));
    let e = refused(&with("kind = \"meteor\"\nat = \"1s\""));
    assert!(
        e.to_string().contains("unknown fault kind \"meteor\""),
        "{e}"
    );
    let e = refused(&with("kind = \"crash\"\nat = \"1s\""));
    assert!(e.to_string().contains("needs `node`"), "{e}");
    // Loss is a probability.
    let e = refused(&with("kind = \"link\"\nfrom = 0\nto = 1\nloss = 1.5"));
    assert_eq!(e.location().unwrap().path, "faults[0].loss");
    // A byzantine dealer on an upload expected to be stored.
    let e = refused(&with(
        "kind = \"byzantine_dealer\"\ndataset = \"b_patients\"",
    ));
    assert!(e.to_string().contains("expect = \"rejected\""), "{e}");
    // More corrupt nodes than the threshold.
    let text = format!(
        "{}\n[[faults]]\nkind = \"corrupt_messages\"\nnode = 1\n\n[[faults]]\nkind = \"corrupt_messages\"\nnode = 2\n",
        with("kind = \"corrupt_messages\"\nnode = 0")
    );
    let e = refused(&text);
    assert!(
        e.to_string().contains("3 nodes send corrupted messages"),
        "{e}"
    );
    // And valid ones are accepted.
    let s = parse(&with(
        "kind = \"link\"\nfrom = [0, 1]\nto = \"*\"\ndelay_ms = 30\nat = 0\nuntil = \"2.5s\"",
    ))
    .unwrap();
    let Fault::Link {
        from,
        to,
        until,
        jitter_ms,
        ..
    } = &s.faults[0]
    else {
        panic!()
    };
    assert_eq!(
        (from.len(), to.len(), *until, *jitter_ms),
        (2, 5, Some(Millis(2500)), 0)
    );
}

#[test]
fn a_scenario_built_in_code_is_checked_too() {
    let mut s = parse(BASE).unwrap();
    s.validate().unwrap();
    s.network.threshold = 3;
    let e = s.validate().unwrap_err();
    assert_eq!(e.location().unwrap().path, "network.threshold");
    assert_eq!(e.location().unwrap().line, None);
    let mut s = parse(BASE).unwrap();
    s.jobs[0].query = "SELECT AVG(age) FROM z_patients".into();
    assert!(matches!(
        s.validate(),
        Err(ScenarioError::UnknownName { .. })
    ));
    // Shrinking the data keeps it valid.
    let small = Scenario::default_scenario().unwrap().with_max_rows(50);
    small.validate().unwrap();
    assert!(small.tables().unwrap().values().all(|t| t.len() == 50));
}

#[test]
fn the_grant_kinds_are_the_query_languages() {
    let s = parse(&BASE.replace(
        "kinds = [\"aggregate\"]",
        "kinds = [\"aggregate\", \"group_by\", \"lin_reg\"]",
    ))
    .unwrap();
    assert!(s.grants[0].kinds.contains(&QueryKind::LinReg));
}

#[test]
fn csv_datasets_are_read_and_checked_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.csv"), "age,smoker\n34,true\n51,false\n").unwrap();
    std::fs::write(
        dir.path().join("c.schema.json"),
        r#"{"columns":[{"name":"age","type":"integer"},{"name":"smoker","type":"boolean"}]}"#,
    )
    .unwrap();
    let csv_dataset = |source: &str| {
        format!(
            "{BASE}\n[[datasets]]\nname = \"c_table\"\nowner = \"hospital_a\"\npool = \"clinical\"\nsource = {source}\n"
        )
    };
    let text = csv_dataset("{ csv = \"c.csv\", schema = \"c.schema.json\" }");
    let s = Scenario::from_toml(&text, dir.path()).unwrap();
    let tables = s.tables().unwrap();
    assert_eq!(tables["c_table"].rows(), &[vec![34, 1], vec![51, 0]]);
    // Inline schema.
    let text = csv_dataset(
        "{ csv = \"c.csv\", schema = { columns = [{ name = \"age\", type = \"integer\" }, { name = \"smoker\", type = \"boolean\" }] } }",
    );
    let s = Scenario::from_toml(&text, dir.path()).unwrap();
    assert_eq!(
        s.catalog().unwrap().get("c_table").unwrap().columns().len(),
        2
    );
    // A bad value in the CSV names the CSV line and column.
    std::fs::write(
        dir.path().join("bad.csv"),
        "age,smoker\n34,true\n51,maybe\n",
    )
    .unwrap();
    let text = csv_dataset("{ csv = \"bad.csv\", schema = \"c.schema.json\" }");
    let e = Scenario::from_toml(&text, dir.path()).unwrap_err();
    assert!(matches!(e, ScenarioError::Source { .. }), "{e:?}");
    assert!(e.to_string().contains("line 3, column 2 (`smoker`)"), "{e}");
    assert_eq!(line(&e), line_of(&text, "bad.csv"));
    // A missing file, a schema with a typo, both kinds of source at once.
    let e = Scenario::from_toml(
        &csv_dataset("{ csv = \"none.csv\", schema = \"c.schema.json\" }"),
        dir.path(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
    let e = Scenario::from_toml(
        &csv_dataset(
            "{ csv = \"c.csv\", schema = { columns = [{ name = \"age\", type = \"integr\" }] } }",
        ),
        dir.path(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("integr"), "{e}");
    let e = Scenario::from_toml(
        &csv_dataset("{ csv = \"c.csv\", generator = \"patients\" }"),
        dir.path(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not both"), "{e}");
    let e = refused(&BASE.replace("rows = 100, seed = 1", "rows = 0, seed = 1"));
    assert_eq!(e.location().unwrap().path, "datasets[0].source.rows");
}

#[test]
fn render_shows_the_line_and_a_caret() {
    let text = BASE.replace("by = \"alice\"", "by = \"alcie\"");
    let rendered = refused(&text).render(&text);
    let l = line_of(&text, "\"alcie\"");
    assert!(
        rendered.contains(&format!("{l} | by = \"alcie\"")),
        "{rendered}"
    );
    assert!(
        rendered.lines().last().unwrap().ends_with("|      ^"),
        "{rendered}"
    );
}

#[test]
fn attack_examples_carry_their_attacks() {
    let squatter = Scenario::example("squatter").unwrap();
    assert_eq!(
        squatter.attacks,
        vec![Attack::Squatter {
            by: "mallory".into(),
            dataset: "patients".into()
        }]
    );
    let framing = Scenario::example("framing-owner").unwrap();
    assert!(matches!(
        &framing.attacks[..],
        [Attack::FramingOwner { puppets, victim: 0, pool, at: Millis(500), .. }]
            if puppets == &vec![2, 3] && pool == "bait"
    ));
    let stale = Scenario::example("stale-requester").unwrap();
    let steps: Vec<StaleStep> = stale
        .attacks
        .iter()
        .filter_map(|a| match a {
            Attack::StaleRequester { then, .. } => Some(*then),
            _ => None,
        })
        .collect();
    assert_eq!(steps, vec![StaleStep::Refund, StaleStep::Revoke]);
    // Each keeps an honest upload and a query expected to agree: "nothing lost" is shown.
    for s in [&squatter, &framing, &stale] {
        assert!(
            s.jobs.iter().any(|j| j.expect == JobExpect::Agree),
            "{}",
            s.name
        );
        assert!(s.datasets.iter().all(|d| d.expect == UploadExpect::Stored));
    }
}

/// BASE with one attack appended (and mallory, an institution, and two more nodes).
fn with_attack(attack: &str) -> String {
    BASE.replace("nodes = 5", "nodes = 7\ncommittee = 5")
        .replace(
            "[[institutions]]\nname = \"hospital_b\"",
            "[[institutions]]\nname = \"hospital_b\"\n\n[[institutions]]\nname = \"mallory\"",
        )
        + "\n[[attacks]]\n"
        + attack
}

#[test]
fn attacks_are_parsed_with_their_defaults() {
    let s = parse(&with_attack(
        "kind = \"framing_owner\"\nby = \"mallory\"\npuppets = [5, 6]\nvictim = 0",
    ))
    .unwrap();
    assert_eq!(
        s.attacks,
        vec![Attack::FramingOwner {
            by: "mallory".into(),
            puppets: vec![5, 6],
            victim: 0,
            pool: "bait".into(),
            at: Millis(0),
        }]
    );
    let s = parse(&with_attack(
        "kind = \"stale_requester\"\nby = \"alice\"\nquery = \"SELECT AVG(age) FROM a_patients\"",
    ))
    .unwrap();
    assert!(matches!(
        &s.attacks[..],
        [Attack::StaleRequester {
            then: StaleStep::Refund,
            at: Millis(0),
            ..
        }]
    ));
}

#[test]
fn attacks_are_checked_with_the_field_and_its_line() {
    // (attack, the key path the error names, the line's text, what the message says)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "kind = \"sabotage\"\nby = \"mallory\"",
            "attacks[0].kind",
            "kind = \"sabotage\"",
            "unknown attack kind \"sabotage\"; the kinds are `squatter`, `framing_owner`, `stale_requester`",
        ),
        (
            "kind = \"squatter\"\nby = \"mallory\"\ndataset = \"a_patients\"\nat = \"2s\"",
            "attacks[0].at",
            "at = \"2s\"",
            "key `at` does not apply to a \"squatter\" attack",
        ),
        (
            "kind = \"squatter\"\nby = \"mallory\"",
            "attacks[0]",
            "[[attacks]]",
            "a \"squatter\" attack needs `dataset`",
        ),
        (
            "kind = \"squatter\"\nby = \"malory\"\ndataset = \"a_patients\"",
            "attacks[0].by",
            "by = \"malory\"",
            "unknown institution or researcher `malory`; did you mean `mallory`?",
        ),
        (
            "kind = \"squatter\"\nby = \"hospital_a\"\ndataset = \"a_patients\"",
            "attacks[0].by",
            "by = \"hospital_a\"",
            "`hospital_a` owns dataset `a_patients`: a squatter is another account",
        ),
        (
            "kind = \"squatter\"\nby = \"mallory\"\ndataset = \"c_patients\"",
            "attacks[0].dataset",
            "dataset = \"c_patients\"",
            "unknown dataset `c_patients`",
        ),
        (
            "kind = \"framing_owner\"\nby = \"mallory\"\npuppets = [5]\nvictim = 0",
            "attacks[0].puppets",
            "puppets = [5]",
            "list at least 2 puppet nodes, not 1",
        ),
        (
            "kind = \"framing_owner\"\nby = \"mallory\"\npuppets = [5, 9]\nvictim = 0",
            "attacks[0].puppets[1]",
            "puppets = [5, 9]",
            "there is no node 9: nodes are numbered 0 to 6",
        ),
        (
            "kind = \"framing_owner\"\nby = \"mallory\"\npuppets = [5, 6]\nvictim = 6",
            "attacks[0].victim",
            "victim = 6",
            "node 6 is a puppet (attacks[0]): the victim is an honest node",
        ),
        (
            "kind = \"framing_owner\"\nby = \"mallory\"\npuppets = [5, 5]\nvictim = 0",
            "attacks[0].puppets[1]",
            "puppets = [5, 5]",
            "node 5 is listed twice",
        ),
        (
            "kind = \"stale_requester\"\nby = \"mallory\"\nquery = \"SELECT AVG(age) FROM a_patients\"",
            "attacks[0].by",
            "by = \"mallory\"",
            "unknown researcher `mallory`",
        ),
        (
            "kind = \"stale_requester\"\nby = \"alice\"\nquery = \"SELECT AVG(age) FROM b_patients\"",
            "attacks[0].query",
            "FROM b_patients",
            "`alice` has no grant covering this query at 0s",
        ),
        (
            "kind = \"stale_requester\"\nby = \"alice\"\nquery = \"SELECT AVG(age) FROM a_patients\"\nthen = \"revoke\"",
            "attacks[0].then",
            "then = \"revoke\"",
            "the attack revokes `alice`'s grant, but jobs[0] of `alice` is expected to agree",
        ),
        (
            "kind = \"stale_requester\"\nby = \"alice\"\nquery = \"SELECT AVG(age) FROM a_patients\"\nthen = \"wait\"",
            "attacks[0].then",
            "then = \"wait\"",
            "unknown variant `wait`",
        ),
    ];
    for (attack, path, line_text, message) in cases {
        let text = with_attack(attack);
        let e = refused(&text);
        let at = e.location().unwrap();
        assert_eq!(at.path, *path, "{attack}: {e}");
        assert_eq!(line(&e), line_of(&text, line_text), "{attack}: {e}");
        assert!(e.to_string().contains(message), "{attack}: {e}");
    }
    // A query error of a stale requester is placed in the file, inside the query.
    let text = with_attack(
        "kind = \"stale_requester\"\nby = \"alice\"\nquery = \"SELECT AVG(agee) FROM a_patients\"",
    );
    let e = refused(&text);
    assert!(matches!(e, ScenarioError::Query { .. }), "{e:?}");
    assert_eq!(line(&e), line_of(&text, "AVG(agee)"));
    assert_eq!(
        e.location().unwrap().column,
        Some(line_of_column(&text, "agee"))
    );
}

/// The 1-based column of the first occurrence of `needle` on its line.
fn line_of_column(text: &str, needle: &str) -> u32 {
    let offset = text.find(needle).unwrap();
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (text[start..offset].chars().count() + 1) as u32
}
