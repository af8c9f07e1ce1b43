//! The plaintext reference: hand-computed answers on small tables for every aggregate, the
//! comparison catching what it must, and agreement with real MPC runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_range_loop
)]

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::ir::{execute, receive};
use sharenet_mpc::protocol::{OutsideParty, RandomnessSource, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory;
use sharenet_query::{
    Catalog, Cell, CompileOptions, QueryResult, Schema, assemble, compile, compile_front_end,
};
use sharenet_simulator::generate::{Table, patients};
use sharenet_simulator::plaintext::{
    Expected, PlaintextError, Reference, ReferenceOptions, agrees, reference_for, reference_for_job,
};
use sharenet_simulator::scenario::{EXAMPLES, JobExpect, Scenario};

const SMALL_SCHEMA: &str = r#"{"columns":[
  {"name":"x","type":"integer"},
  {"name":"f","type":"fixed","scale":1},
  {"name":"b","type":"boolean"},
  {"name":"c","type":"category","labels":["p","q"]},
  {"name":"y","type":"integer"}]}"#;

/// x: 1 2 3 4 10; f: 0.5 1.5 2.5 -1.0 3.0; b: T F T T F; c: p q p q p; y: 1 3 2 5 4.
fn small() -> (Catalog, BTreeMap<String, Table>) {
    let schema = Schema::from_json(SMALL_SCHEMA).unwrap();
    let rows = vec![
        vec![1, 5, 1, 0, 1],
        vec![2, 15, 0, 1, 3],
        vec![3, 25, 1, 0, 2],
        vec![4, -10, 1, 1, 5],
        vec![10, 30, 0, 0, 4],
    ];
    let mut catalog = Catalog::new();
    catalog.insert("t", schema.clone()).unwrap();
    let mut tables = BTreeMap::new();
    tables.insert("t".to_string(), Table::new(schema, rows).unwrap());
    (catalog, tables)
}

fn reference_k(query: &str, min_cohort: u64) -> Reference {
    let (catalog, tables) = small();
    reference_for(query, &catalog, &tables, &ReferenceOptions { min_cohort })
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The single row of a query without GROUP BY, with the minimum cohort at 1.
fn row(query: &str) -> Vec<Expected> {
    let r = reference_k(query, 1);
    assert_eq!(r.rows.len(), 1);
    r.rows.into_iter().next().unwrap()
}

fn value(e: &Expected) -> f64 {
    match e {
        Expected::Number(a) => a.value,
        other => panic!("expected a number, got {other:?}"),
    }
}

fn close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

#[test]
fn counts_sums_and_extremes_are_exact() {
    let r = row(
        "SELECT COUNT(*), SUM(x), SUM(f), SUM(b), COUNT(b), COUNT(x > 2), MIN(x), MAX(x), MIN(f), MAX(b), MIN(b) FROM t",
    );
    let want = [5.0, 20.0, 6.5, 3.0, 3.0, 3.0, 1.0, 10.0, -1.0, 1.0, 0.0];
    for (cell, want) in r.iter().zip(want) {
        let Expected::Number(a) = cell else {
            panic!("{cell:?}")
        };
        assert_eq!(a.value, want);
        assert!(a.is_exact(), "{a:?}");
    }
}

#[test]
fn averages_variances_and_deviations_match_hand_computation() {
    let r = row(
        "SELECT AVG(x), VAR_POP(x), VAR_SAMP(x), STDDEV_POP(x), STDDEV(x), AVG(b), AVG(f) FROM t",
    );
    let want = [4.0, 10.0, 12.5, 10f64.sqrt(), 12.5f64.sqrt(), 0.6, 1.3];
    for (cell, want) in r.iter().zip(want) {
        close(value(cell), want);
        let Expected::Number(a) = cell else { panic!() };
        assert_eq!(a.relative, 1e-6, "documented tolerance");
    }
    // The natural scale of a variance is the mean square (130 / 5 = 26), not the variance.
    let Expected::Number(var) = &r[1] else {
        panic!()
    };
    close(var.scale, 26.0);
}

#[test]
fn covariance_and_correlation_match_hand_computation() {
    let r = row("SELECT COVAR_POP(x, f), COVAR_SAMP(x, f), CORR(x, f), COVAR(x, x) FROM t");
    close(value(&r[0]), 2.2);
    close(value(&r[1]), 2.75);
    close(value(&r[2]), 2.2 / 20.6f64.sqrt());
    close(value(&r[3]), 10.0);
    // A constant value has no correlation.
    let r = row("SELECT CORR(x, CASE WHEN x > 100 THEN 1 ELSE 0 END) FROM t");
    assert!(matches!(r[0], Expected::Undefined(_)), "{:?}", r[0]);
}

#[test]
fn where_group_by_and_case() {
    let r = row("SELECT COUNT(*), SUM(x), AVG(f) FROM t WHERE b");
    close(value(&r[0]), 3.0);
    close(value(&r[1]), 8.0);
    close(value(&r[2]), 2.0 / 3.0);
    let r = row("SELECT SUM(CASE WHEN b THEN x WHEN c = 'q' THEN 100 ELSE 0 END) FROM t");
    close(value(&r[0]), 1.0 + 3.0 + 4.0 + 100.0);
    let r = reference_k("SELECT c, COUNT(*), SUM(x) FROM t GROUP BY c", 1);
    assert_eq!(r.rows[0][0], Expected::Label("p".into()));
    close(value(&r.rows[0][1]), 3.0);
    close(value(&r.rows[0][2]), 14.0);
    assert_eq!(r.rows[1][0], Expected::Label("q".into()));
    close(value(&r.rows[1][2]), 6.0);
    // Grouping by a boolean: groups false, true.
    let r = reference_k("SELECT b, SUM(x) FROM t GROUP BY b", 1);
    assert_eq!(r.rows[0][0], Expected::Label("false".into()));
    close(value(&r.rows[0][1]), 12.0);
    close(value(&r.rows[1][1]), 8.0);
}

#[test]
fn the_minimum_cohort_suppresses_small_groups() {
    // k = 3: group p (3 rows) is released, q (2 rows) is not; its label still is.
    let r = reference_k("SELECT c, COUNT(*), AVG(x) FROM t GROUP BY c", 3);
    assert_eq!(r.cohort_threshold, 3);
    close(value(&r.rows[0][1]), 3.0);
    assert_eq!(r.rows[1][0], Expected::Label("q".into()));
    assert_eq!(r.rows[1][1], Expected::CohortTooSmall);
    assert_eq!(r.rows[1][2], Expected::CohortTooSmall);
    // k = 1 is raised to 2 (sample statistics), and to p + 2 with p regression features.
    assert_eq!(reference_k("SELECT COUNT(*) FROM t", 1).cohort_threshold, 2);
    assert_eq!(
        reference_k("SELECT LINREG(y ~ x + f + b) FROM t", 1).cohort_threshold,
        5
    );
    let r = reference_k("SELECT LINREG(y ~ x + f + b + (c = 'p')) FROM t", 1);
    assert_eq!(r.rows[0][0], Expected::CohortTooSmall, "5 rows < 4 + 2");
    // WHERE matching nothing.
    let r = reference_k("SELECT COUNT(*) FROM t WHERE x > 100", 1);
    assert_eq!(r.rows[0][0], Expected::CohortTooSmall);
}

#[test]
fn histograms_bin_like_the_language_says() {
    let r = row("SELECT HISTOGRAM(x, 2, 4), HISTOGRAM(f, 0, 2.5) FROM t");
    let Expected::Counts(bins) = &r[0] else {
        panic!("{:?}", r[0])
    };
    let got: Vec<(&str, f64)> = bins.iter().map(|(l, a)| (l.as_str(), a.value)).collect();
    assert_eq!(got, vec![("< 2", 1.0), ("[2, 4)", 2.0), (">= 4", 2.0)]);
    let Expected::Counts(bins) = &r[1] else {
        panic!()
    };
    let got: Vec<(&str, f64)> = bins.iter().map(|(l, a)| (l.as_str(), a.value)).collect();
    // 2.5 falls in the upper bin: bins are closed below.
    assert_eq!(
        got,
        vec![("< 0", 1.0), ("[0, 2.500000)", 2.0), (">= 2.500000", 2.0)]
    );
}

#[test]
fn decimals_are_compared_exactly() {
    // -1.0 + 1.1 = 0.1 exactly; in binary floating point it is 0.10000000000000009.
    assert_ne!(-1.0 + 1.1, 0.1);
    let r = row("SELECT COUNT(f + 1.1 = 0.1), SUM(CASE WHEN f * 3 = -3 THEN 1 ELSE 0 END) FROM t");
    close(value(&r[0]), 1.0);
    close(value(&r[1]), 1.0);
}

#[test]
fn divisions_by_literals_carry_their_rounding() {
    let r = row("SELECT SUM(x / 4), SUM(x / 3), AVG(x / 4) FROM t");
    let Expected::Number(quarter) = &r[0] else {
        panic!()
    };
    close(quarter.value, 5.0);
    // Each of the five quotients may be rounded by less than two units of 10^-6.
    assert!(
        quarter.slack > 0.0 && quarter.slack <= 5.0 * 2e-6 + 1e-12,
        "{quarter:?}"
    );
    close(value(&r[1]), 20.0 / 3.0);
    close(value(&r[2]), 1.0);
    // A comparison right at a rounded quotient is unsure: the MPC may decide it either way.
    let r = reference_k("SELECT COUNT(*) FROM t WHERE x / 3 >= 1", 1);
    assert_eq!(r.unsure_rows, 1, "x = 3 gives exactly 1");
    let Expected::Number(count) = &r.rows[0][0] else {
        panic!()
    };
    // x = 3, 4, 10; the MPC may round 3 / 3 just below 1.
    close(count.value, 3.0);
    assert!(count.accepts(2.0, None) && count.accepts(3.0, None));
    assert!(!count.accepts(1.0, None) && !count.accepts(5.0, None));
}

#[test]
fn linear_regression_matches_hand_computation() {
    // y = 1 3 2 5 4 on x = 1..5: slope 8/10, intercept 3 − 0.8·3, SSE 3.6 of SST 10. And z, an
    // exact plane in x and y.
    let schema = Schema::from_json(
        r#"{"columns":[{"name":"x","type":"integer"},{"name":"y","type":"integer"},{"name":"z","type":"integer"}]}"#,
    )
    .unwrap();
    let rows: Vec<Vec<i64>> = [(1, 1), (2, 3), (3, 2), (4, 5), (5, 4)]
        .iter()
        .map(|(x, y)| vec![*x, *y, 7 - 2 * x + 3 * y])
        .collect();
    let mut catalog = Catalog::new();
    catalog.insert("s", schema.clone()).unwrap();
    let tables = BTreeMap::from([("s".to_string(), Table::new(schema, rows).unwrap())]);
    let options = ReferenceOptions { min_cohort: 1 };
    let r = reference_for("SELECT LINREG(y ~ x) FROM s", &catalog, &tables, &options).unwrap();
    let Expected::Model {
        coefficients,
        r_squared,
    } = &r.rows[0][0]
    else {
        panic!()
    };
    assert_eq!(coefficients[0].0, "intercept");
    assert_eq!(coefficients[1].0, "x");
    close(coefficients[0].1.value, 0.6);
    close(coefficients[1].1.value, 0.8);
    close(r_squared.unwrap().value, 0.64);
    // An exact plane: z = 7 − 2x + 3y, R² = 1.
    let r = reference_for(
        "SELECT LINREG(z ~ x + y) FROM s",
        &catalog,
        &tables,
        &options,
    )
    .unwrap();
    let Expected::Model {
        coefficients,
        r_squared,
    } = &r.rows[0][0]
    else {
        panic!()
    };
    let got: Vec<f64> = coefficients.iter().map(|(_, a)| a.value).collect();
    for (g, w) in got.iter().zip([7.0, -2.0, 3.0]) {
        assert!((g - w).abs() < 1e-9, "{got:?}");
    }
    assert!((r_squared.unwrap().value - 1.0).abs() < 1e-12);
    // Collinear features have no solution.
    let r = reference_for(
        "SELECT LINREG(z ~ x + (x * 2)) FROM s",
        &catalog,
        &tables,
        &options,
    )
    .unwrap();
    assert!(
        matches!(r.rows[0][0], Expected::Undefined(_)),
        "{:?}",
        r.rows[0][0]
    );
}

#[test]
fn logistic_regression_finds_the_direction() {
    let r = row("SELECT LOGREG(b ~ x) FROM t");
    let Expected::Model {
        coefficients,
        r_squared,
    } = &r[0]
    else {
        panic!()
    };
    assert!(r_squared.is_none());
    assert_eq!(coefficients.len(), 2);
    assert_eq!(coefficients[0].1.relative, 1e-3);
    // b is true for x = 1, 3, 4 and false for 2, 10: larger x, less likely.
    assert!(coefficients[1].1.value < 0.0, "{coefficients:?}");
}

#[test]
fn bad_requests_are_errors() {
    let (catalog, tables) = small();
    let options = ReferenceOptions::default();
    assert!(matches!(
        reference_for("SELECT AVG(nope) FROM t", &catalog, &tables, &options),
        Err(PlaintextError::Query(_))
    ));
    assert!(matches!(
        reference_for(
            "SELECT COUNT(*) FROM t",
            &catalog,
            &BTreeMap::new(),
            &options
        ),
        Err(PlaintextError::MissingTable { .. })
    ));
    assert!(matches!(
        reference_for(
            "SELECT COUNT(*) FROM t",
            &catalog,
            &tables,
            &ReferenceOptions { min_cohort: 0 }
        ),
        Err(PlaintextError::MinCohort)
    ));
    let other = BTreeMap::from([("t".to_string(), patients(20, 1).unwrap())]);
    assert!(matches!(
        reference_for("SELECT COUNT(*) FROM t", &catalog, &other, &options),
        Err(PlaintextError::SchemaMismatch { .. })
    ));
}

fn result(columns: &[&str], rows: Vec<Vec<Cell>>) -> QueryResult {
    QueryResult {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
    }
}

#[test]
fn the_comparison_catches_disagreements() {
    let r = reference_k("SELECT c, COUNT(*), AVG(x) FROM t GROUP BY c", 3);
    let columns = ["c", "COUNT(*)", "AVG(x)"];
    let good = result(
        &columns,
        vec![
            vec![
                Cell::Label("p".into()),
                Cell::Number(3.0),
                Cell::Number(14.0 / 3.0 + 1e-7),
            ],
            vec![
                Cell::Label("q".into()),
                Cell::CohortTooSmall,
                Cell::CohortTooSmall,
            ],
        ],
    );
    let c = agrees(&good, &r, None);
    assert!(c.agree, "{}", c.explain(true));
    assert_eq!(c.cells.len(), 6);
    assert!(c.summary().starts_with("agrees"));

    let mut off_by_one = good.clone();
    off_by_one.rows[0][1] = Cell::Number(4.0);
    let c = agrees(&off_by_one, &r, None);
    assert!(!c.agree);
    let bad: Vec<_> = c.cells.iter().filter(|c| !c.agree).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].column.as_str(), bad[0].group.as_deref()),
        ("COUNT(*)", Some("p"))
    );
    assert!(
        c.explain(false).contains("got 4, expected 3"),
        "{}",
        c.explain(false)
    );

    // A statistic off by more than 1e-6 of its scale (the mean square's root, ~5.9).
    let mut drifted = good.clone();
    drifted.rows[0][2] = Cell::Number(14.0 / 3.0 + 1e-4);
    assert!(!agrees(&drifted, &r, None).agree);
    assert!(
        agrees(&drifted, &r, Some(1e-4)).agree,
        "a job's tolerance loosens statistics"
    );

    // Releasing a small group, or suppressing a large one.
    let mut leaked = good.clone();
    leaked.rows[1][1] = Cell::Number(2.0);
    assert!(!agrees(&leaked, &r, None).agree);
    let mut suppressed = good.clone();
    suppressed.rows[0][2] = Cell::CohortTooSmall;
    assert!(!agrees(&suppressed, &r, None).agree);

    // Shape: a wrong label, a missing group, other columns.
    let mut relabelled = good.clone();
    relabelled.rows[0][0] = Cell::Label("q".into());
    assert!(!agrees(&relabelled, &r, None).agree);
    let mut short = good.clone();
    short.rows.pop();
    assert!(!agrees(&short, &r, None).agree);
    let renamed = result(&["c", "n", "AVG(x)"], good.rows.clone());
    let c = agrees(&renamed, &r, None);
    assert!(!c.agree && !c.problems.is_empty());
}

#[test]
fn models_and_histograms_are_compared_term_by_term() {
    let r = row("SELECT HISTOGRAM(x, 2, 4) FROM t");
    let want = Reference {
        columns: vec!["h".into()],
        rows: vec![r],
        cohort_threshold: 2,
        rows_read: 5,
        unsure_rows: 0,
    };
    let bins = |v: [f64; 3]| {
        result(
            &["h"],
            vec![vec![Cell::Counts(
                ["< 2", "[2, 4)", ">= 4"]
                    .iter()
                    .zip(v)
                    .map(|(l, v)| (l.to_string(), v))
                    .collect(),
            )]],
        )
    };
    assert!(agrees(&bins([1.0, 2.0, 2.0]), &want, None).agree);
    assert!(!agrees(&bins([2.0, 1.0, 2.0]), &want, None).agree);

    let r = reference_k("SELECT LINREG(y ~ x) FROM t", 1);
    let Expected::Model {
        coefficients,
        r_squared,
    } = &r.rows[0][0]
    else {
        panic!()
    };
    let model = |shift: f64| {
        result(
            &["LINREG(y ~ x)"],
            vec![vec![Cell::Model {
                coefficients: coefficients
                    .iter()
                    .map(|(t, a)| (t.clone(), a.value * (1.0 + shift)))
                    .collect(),
                r_squared: r_squared.map(|a| a.value),
            }]],
        )
    };
    assert!(agrees(&model(1e-9), &r, None).agree);
    let c = agrees(&model(1e-3), &r, None);
    assert!(!c.agree);
    assert!(c.cells[0].note.contains("intercept"), "{}", c.cells[0].note);
}

// --- Against the real MPC ---------------------------------------------------------------------

/// Runs `query` on an (n, t) committee in memory, with the tables dealt by an outside owner
/// and the result opened to an outside receiver (as query/tests/query_e2e.rs does).
fn run_mpc(
    query: &str,
    catalog: &Catalog,
    tables: &[&Table],
    n: usize,
    t: usize,
    k: u64,
) -> QueryResult {
    let typed = compile_front_end(query, catalog).unwrap_or_else(|e| panic!("{}", e.render(query)));
    let union: Vec<&Vec<i64>> = tables.iter().flat_map(|t| t.rows().iter()).collect();
    let options = CompileOptions {
        min_cohort: k,
        ..CompileOptions::default()
    };
    let compiled = compile(&typed, union.len(), &options).unwrap();
    let columns: Vec<Vec<Mp127>> = compiled
        .inputs
        .iter()
        .map(|&c| union.iter().map(|r| Mp127::from_i64(r[c])).collect())
        .collect();
    let (owner, receiver) = (n, n + 1);
    let results = run_in_memory(n + 2, |tr| {
        let me = tr.me();
        if me == owner {
            let mut o = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            for col in &columns {
                o.deal(col).unwrap();
            }
            return None;
        }
        if me == receiver {
            let mut r = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            return Some(receive(&mut r, &compiled.program).unwrap());
        }
        let mut s = Session::with_rng(
            n,
            t,
            tr,
            RandomnessSource::Auto,
            StdRng::seed_from_u64(me as u64),
        )
        .unwrap();
        let inputs: Vec<Vec<Mp127>> = (0..columns.len())
            .map(|_| s.input(owner, None, union.len()).unwrap())
            .collect();
        execute(&mut s, &compiled.program, &inputs, receiver).unwrap();
        None
    });
    let received = results.into_iter().flatten().next().unwrap();
    assemble(&compiled, &received)
}

#[test]
fn every_example_query_meant_to_agree_agrees_with_a_real_mpc_run() {
    // Set SHOW_MARGINS=1 to see how close each value is to its tolerance.
    const ROWS: usize = 300;
    for (name, _) in EXAMPLES {
        let scenario = Scenario::example(name).unwrap().with_max_rows(ROWS);
        let catalog = scenario.catalog().unwrap();
        let tables = scenario.tables().unwrap();
        for job in scenario
            .jobs
            .iter()
            .filter(|j| j.expect == JobExpect::Agree)
        {
            let typed = compile_front_end(&job.query, &catalog).unwrap();
            let k = scenario.min_cohort_for(&typed.datasets);
            let chosen: Vec<&Table> = typed.datasets.iter().map(|d| &tables[d]).collect();
            let mpc = run_mpc(&job.query, &catalog, &chosen, 3, 1, k);
            let options = ReferenceOptions { min_cohort: k };
            let want = reference_for(&job.query, &catalog, &tables, &options).unwrap();
            assert_eq!(reference_for_job(&scenario, job, &tables).unwrap(), want);
            let c = agrees(&mpc, &want, job.tolerance);
            if std::env::var_os("SHOW_MARGINS").is_some() {
                eprintln!("{name}/{}: {}", job.name, c.explain(true));
            }
            assert!(
                c.agree,
                "{name}/{}: {}\nmpc:\n{mpc}\nplaintext:\n{want}",
                job.name,
                c.explain(true)
            );
        }
    }
}

#[test]
fn a_changed_row_makes_the_same_mpc_result_disagree() {
    // The MPC ran on the generated rows; the reference is computed on the rows with one value
    // changed, as if a node had stored a wrong share: the comparison must notice.
    let scenario = Scenario::default_scenario().unwrap().with_max_rows(60);
    let catalog = scenario.catalog().unwrap();
    let tables = scenario.tables().unwrap();
    let query = "SELECT COUNT(*), SUM(bp), AVG(cost), MAX(age) FROM hospital_a_patients, hospital_b_patients WHERE age >= 30";
    let chosen: Vec<&Table> = ["hospital_a_patients", "hospital_b_patients"]
        .iter()
        .map(|d| &tables[*d])
        .collect();
    let mpc = run_mpc(query, &catalog, &chosen, 3, 1, 10);
    let options = ReferenceOptions { min_cohort: 10 };
    let want = reference_for(query, &catalog, &tables, &options).unwrap();
    assert!(agrees(&mpc, &want, None).agree);
    let (bp, _) = tables["hospital_b_patients"].schema().column("bp").unwrap();
    let (age, _) = tables["hospital_b_patients"]
        .schema()
        .column("age")
        .unwrap();
    let mut changed = tables.clone();
    let b = &tables["hospital_b_patients"];
    let mut rows = b.rows().to_vec();
    let r = rows.iter().position(|row| row[age] >= 30).unwrap();
    rows[r][bp] += 1;
    changed.insert(
        "hospital_b_patients".into(),
        Table::new(b.schema().clone(), rows).unwrap(),
    );
    let want = reference_for(query, &catalog, &changed, &options).unwrap();
    let c = agrees(&mpc, &want, None);
    assert!(!c.agree);
    let bad: Vec<&str> = c
        .cells
        .iter()
        .filter(|c| !c.agree)
        .map(|c| c.column.as_str())
        .collect();
    assert_eq!(bad, vec!["SUM(bp)"], "{}", c.explain(true));
}
