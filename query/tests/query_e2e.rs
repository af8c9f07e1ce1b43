//! Queries end to end inside one process: parse, type-check, compile, run on a committee over the
//! in-memory transport with the data dealt by an outside owner, open to an outside receiver, and
//! compare every result with a plaintext f64 computation on the same tables.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_range_loop
)]

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::ir::{execute, receive};
use sharenet_mpc::protocol::{OutsideParty, RandomnessSource, Security, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory;
use sharenet_query::{
    Catalog, Cell, CompileOptions, QueryResult, Schema, assemble, compile, compile_front_end,
};

const SCHEMA: &str = r#"{"columns":[
  {"name":"age","type":"integer"},
  {"name":"sex","type":"category","labels":["f","m"]},
  {"name":"bmi","type":"fixed","scale":1},
  {"name":"bp","type":"integer"},
  {"name":"diabetic","type":"boolean"},
  {"name":"cost","type":"fixed","scale":2}]}"#;

/// One patient: age, sex (0 f, 1 m), bmi×10, bp, diabetic, cost×100.
type Row = [i64; 6];

fn patients(rows: usize, seed: u64) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..rows)
        .map(|_| {
            let age = rng.random_range(18..90);
            let sex = rng.random_range(0..2);
            let bmi = rng.random_range(170..400);
            let bp = 90 + age / 2 + rng.random_range(0..40);
            let diabetic = i64::from(bmi > 300 && rng.random_range(0..3) > 0);
            let cost = 50_000
                + age * 2_000
                + bmi * 300
                + diabetic * 400_000
                + rng.random_range(0..100_000);
            [age, sex, bmi, bp, diabetic, cost]
        })
        .collect()
}

fn catalog() -> Catalog {
    let schema = Schema::from_json(SCHEMA).unwrap();
    let mut c = Catalog::new();
    c.insert("clinic_a", schema.clone()).unwrap();
    c.insert("clinic_b", schema).unwrap();
    c
}

/// Runs `query` over the union of the tables on an (n, t) committee; the data is dealt by an
/// outside owner and the result opened to an outside receiver.
fn run(query: &str, tables: &[&[Row]], n: usize, t: usize, min_cohort: u64) -> QueryResult {
    run_measured(query, tables, n, t, min_cohort, Security::SemiHonest).0
}

/// (rounds, multiplications, random bits, set-up rounds).
type Counters = (u64, u64, u64, u64);

/// [`run`] at `security`, also returning EXPLAIN's prediction and every member's measured
/// counters (rounds, multiplications and random bits of the run; rounds of the session set-up).
fn run_measured(
    query: &str,
    tables: &[&[Row]],
    n: usize,
    t: usize,
    min_cohort: u64,
    security: Security,
) -> (QueryResult, Counters, Vec<Counters>) {
    let typed =
        compile_front_end(query, &catalog()).unwrap_or_else(|e| panic!("{}", e.render(query)));
    let union: Vec<Row> = tables.iter().flat_map(|t| t.iter().copied()).collect();
    let options = CompileOptions {
        min_cohort,
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
            return (None, None);
        }
        if me == receiver {
            let mut r = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            return (Some(receive(&mut r, &compiled.program).unwrap()), None);
        }
        let mut s = Session::with_rng(
            n,
            t,
            tr,
            RandomnessSource::Auto,
            StdRng::seed_from_u64(me as u64),
        )
        .unwrap();
        s.set_security(security).unwrap();
        let setup = s.stats().rounds;
        let inputs: Vec<Vec<Mp127>> = (0..columns.len())
            .map(|_| s.input(owner, None, union.len()).unwrap())
            .collect();
        let before = s.stats();
        execute(&mut s, &compiled.program, &inputs, receiver).unwrap();
        let after = s.stats();
        (
            None,
            Some((
                after.rounds - before.rounds,
                after.multiplications - before.multiplications,
                after.random_bits - before.random_bits,
                setup,
            )),
        )
    });
    let mut received = None;
    let mut measured = Vec::new();
    for (r, m) in results {
        received = received.or(r);
        measured.extend(m);
    }
    let cost = compiled.cost_at(n, t, security).unwrap();
    (
        assemble(&compiled, &received.unwrap()),
        (
            cost.rounds,
            cost.multiplications,
            cost.random_bits,
            cost.setup_rounds,
        ),
        measured,
    )
}

#[test]
fn explain_matches_real_runs_of_compiled_queries() {
    let a = patients(64, 8);
    for q in [
        "SELECT sex, COUNT(*), AVG(cost), CORR(age, bp), HISTOGRAM(bmi, 20, 30) FROM clinic_a WHERE bp > 100 GROUP BY sex",
        "SELECT LINREG(cost ~ age + bmi), LOGREG(diabetic ~ bmi) FROM clinic_a",
    ] {
        for security in [Security::SemiHonest, Security::Malicious] {
            let (_, predicted, measured) = run_measured(q, &[&a], 3, 1, 2, security);
            assert_eq!(measured.len(), 3);
            for (party, m) in measured.iter().enumerate() {
                assert_eq!(&predicted, m, "{security} party {party}: {q}");
            }
        }
    }
}

fn number(cell: &Cell) -> f64 {
    match cell {
        Cell::Number(v) => *v,
        other => panic!("expected a number, got {other:?}"),
    }
}

/// Documented tolerance: relative 1e-6 of the larger of the value and the statistic's natural
/// scale (floats carry 31-bit mantissas; sums of squares cancel some of them).
fn assert_close(got: f64, want: f64, scale: f64, what: &str) {
    let tol = 1e-6 * want.abs().max(scale).max(1e-9);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

struct Stats {
    n: f64,
    mean: f64,
    var_pop: f64,
}

fn stats(v: &[f64]) -> Stats {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var_pop = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Stats { n, mean, var_pop }
}

#[test]
fn aggregates_over_the_union_of_two_clinics() {
    let a = patients(150, 1);
    let b = patients(120, 2);
    let q = "SELECT COUNT(*), SUM(cost), AVG(cost), VAR_POP(bmi), VAR_SAMP(bmi), STDDEV(age), \
             MIN(bp), MAX(bp), COUNT(diabetic), COVAR_POP(age, cost), CORR(age, bp) \
             FROM clinic_a, clinic_b WHERE age >= 30 AND NOT (bmi < 18.5)";
    for (n, t) in [(3, 1), (5, 2)] {
        let result = run(q, &[&a, &b], n, t, 10);
        let rows: Vec<Row> = a
            .iter()
            .chain(&b)
            .copied()
            .filter(|r| r[0] >= 30 && r[2] >= 185)
            .collect();
        let col = |i: usize, div: f64| rows.iter().map(|r| r[i] as f64 / div).collect::<Vec<f64>>();
        let (age, bmi, bp, cost) = (col(0, 1.0), col(2, 10.0), col(3, 1.0), col(5, 100.0));
        let row = &result.rows[0];
        assert_eq!(number(&row[0]), rows.len() as f64);
        assert_close(number(&row[1]), cost.iter().sum(), 1.0, "SUM(cost)");
        assert_close(number(&row[2]), stats(&cost).mean, 1.0, "AVG(cost)");
        let sb = stats(&bmi);
        assert_close(number(&row[3]), sb.var_pop, sb.var_pop, "VAR_POP(bmi)");
        assert_close(
            number(&row[4]),
            sb.var_pop * sb.n / (sb.n - 1.0),
            sb.var_pop,
            "VAR_SAMP(bmi)",
        );
        let sa = stats(&age);
        assert_close(
            number(&row[5]),
            (sa.var_pop * sa.n / (sa.n - 1.0)).sqrt(),
            1.0,
            "STDDEV(age)",
        );
        assert_eq!(
            number(&row[6]),
            bp.iter().cloned().fold(f64::INFINITY, f64::min)
        );
        assert_eq!(
            number(&row[7]),
            bp.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        );
        assert_eq!(
            number(&row[8]),
            rows.iter().filter(|r| r[4] == 1).count() as f64
        );
        let sc = stats(&cost);
        let covar = age
            .iter()
            .zip(&cost)
            .map(|(x, y)| (x - sa.mean) * (y - sc.mean))
            .sum::<f64>()
            / sa.n;
        assert_close(
            number(&row[9]),
            covar,
            (sa.var_pop * sc.var_pop).sqrt(),
            "COVAR_POP(age, cost)",
        );
        let sp = stats(&bp);
        let cov_ab = age
            .iter()
            .zip(&bp)
            .map(|(x, y)| (x - sa.mean) * (y - sp.mean))
            .sum::<f64>()
            / sa.n;
        assert_close(
            number(&row[10]),
            cov_ab / (sa.var_pop * sp.var_pop).sqrt(),
            1.0,
            "CORR(age, bp)",
        );
    }
}

#[test]
fn group_by_histogram_and_case() {
    let a = patients(200, 3);
    let q = "SELECT sex, COUNT(*), AVG(CASE WHEN diabetic THEN cost ELSE 0 END), \
             HISTOGRAM(age, 30, 50, 70) FROM clinic_a GROUP BY sex";
    let result = run(q, &[&a], 3, 1, 10);
    assert_eq!(result.rows.len(), 2);
    for (g, row) in result.rows.iter().enumerate() {
        assert_eq!(row[0], Cell::Label(["f", "m"][g].into()));
        let rows: Vec<&Row> = a.iter().filter(|r| r[1] == g as i64).collect();
        assert_eq!(number(&row[1]), rows.len() as f64);
        let case: Vec<f64> = rows
            .iter()
            .map(|r| if r[4] == 1 { r[5] as f64 / 100.0 } else { 0.0 })
            .collect();
        assert_close(number(&row[2]), stats(&case).mean, 1.0, "AVG(CASE)");
        let Cell::Counts(bins) = &row[3] else {
            panic!("{:?}", row[3])
        };
        let edges = [30, 50, 70];
        let expected: Vec<f64> = (0..4)
            .map(|bin| {
                rows.iter()
                    .filter(|r| {
                        let lo = if bin == 0 { i64::MIN } else { edges[bin - 1] };
                        let hi = if bin == 3 { i64::MAX } else { edges[bin] };
                        r[0] >= lo && r[0] < hi
                    })
                    .count() as f64
            })
            .collect();
        assert_eq!(bins.iter().map(|b| b.1).collect::<Vec<_>>(), expected);
    }
}

#[test]
fn linear_regression_matches_least_squares() {
    let a = patients(300, 4);
    let result = run(
        "SELECT LINREG(cost ~ age + bmi + diabetic) FROM clinic_a",
        &[&a],
        3,
        1,
        10,
    );
    let Cell::Model {
        coefficients,
        r_squared,
    } = &result.rows[0][0]
    else {
        panic!("{:?}", result.rows[0][0])
    };
    // Plaintext normal equations, solved in f64.
    let x: Vec<[f64; 4]> = a
        .iter()
        .map(|r| [1.0, r[0] as f64, r[2] as f64 / 10.0, r[4] as f64])
        .collect();
    let y: Vec<f64> = a.iter().map(|r| r[5] as f64 / 100.0).collect();
    let mut m = [[0.0; 5]; 4];
    for (xi, yi) in x.iter().zip(&y) {
        for i in 0..4 {
            for j in 0..4 {
                m[i][j] += xi[i] * xi[j];
            }
            m[i][4] += xi[i] * yi;
        }
    }
    for k in 0..4 {
        for i in 0..4 {
            if i != k {
                let f = m[i][k] / m[k][k];
                for j in 0..5 {
                    m[i][j] -= f * m[k][j];
                }
            }
        }
    }
    let beta: Vec<f64> = (0..4).map(|i| m[i][4] / m[i][i]).collect();
    let names = ["intercept", "age", "bmi", "diabetic"];
    for ((name, got), want) in coefficients.iter().zip(&beta) {
        assert!(names.contains(&name.as_str()));
        assert_close(*got, *want, want.abs().max(1.0) * 100.0, name);
    }
    let mean_y = y.iter().sum::<f64>() / y.len() as f64;
    let sst: f64 = y.iter().map(|v| (v - mean_y).powi(2)).sum();
    let sse: f64 = x
        .iter()
        .zip(&y)
        .map(|(xi, yi)| {
            let fit: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            (yi - fit).powi(2)
        })
        .sum();
    assert_close(r_squared.unwrap(), 1.0 - sse / sst, 1.0, "R²");
}

#[test]
fn small_groups_release_only_cohort_too_small() {
    let mut a = patients(60, 5);
    // Exactly 3 men.
    for (i, r) in a.iter_mut().enumerate() {
        r[1] = i64::from(i < 3);
    }
    let result = run(
        "SELECT sex, COUNT(*), AVG(age) FROM clinic_a GROUP BY sex",
        &[&a],
        3,
        1,
        10,
    );
    assert_eq!(number(&result.rows[0][1]), 57.0);
    assert_eq!(result.rows[1][1], Cell::CohortTooSmall);
    assert_eq!(result.rows[1][2], Cell::CohortTooSmall);
    let result = run(
        "SELECT COUNT(*) FROM clinic_a WHERE age > 200",
        &[&a],
        3,
        1,
        1,
    );
    assert_eq!(result.rows[0][0], Cell::CohortTooSmall);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn random_tables_match_plaintext(seed in any::<u64>(), rows in 20usize..80, threshold in 20i64..80) {
        let a = patients(rows, seed);
        let q = format!("SELECT COUNT(*), SUM(bp), AVG(bmi), VAR_POP(age), MAX(cost) FROM clinic_a WHERE age < {threshold}");
        let matching: Vec<&Row> = a.iter().filter(|r| r[0] < threshold).collect();
        let result = run(&q, &[&a], 3, 1, 1);
        if matching.is_empty() {
            prop_assert_eq!(&result.rows[0][0], &Cell::CohortTooSmall);
            return Ok(());
        }
        if matching.len() < 2 {
            return Ok(());
        }
        let row = &result.rows[0];
        prop_assert_eq!(number(&row[0]), matching.len() as f64);
        prop_assert_eq!(number(&row[1]), matching.iter().map(|r| r[3] as f64).sum::<f64>());
        let bmi: Vec<f64> = matching.iter().map(|r| r[2] as f64 / 10.0).collect();
        assert_close(number(&row[2]), stats(&bmi).mean, 1.0, "AVG(bmi)");
        let age: Vec<f64> = matching.iter().map(|r| r[0] as f64).collect();
        assert_close(number(&row[3]), stats(&age).var_pop, 1.0, "VAR_POP(age)");
        prop_assert_eq!(number(&row[4]), matching.iter().map(|r| r[5]).max().unwrap() as f64 / 100.0);
    }
}

/// LOGREG's algorithm in f64: standardise, the same number of gradient steps with the same
/// piecewise-linear sigmoid, map back to the features' units.
fn logreg_reference(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    use sharenet_query::compile::{LOGREG_ITERATIONS, sigmoid_approximation};
    let n = y.len() as f64;
    let p = x[0].len();
    let means: Vec<f64> = (0..p)
        .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let stds: Vec<f64> = (0..p)
        .map(|j| (x.iter().map(|r| (r[j] - means[j]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    let z: Vec<Vec<f64>> = x
        .iter()
        .map(|r| (0..p).map(|j| (r[j] - means[j]) / stds[j]).collect())
        .collect();
    let mut beta = vec![0.0; p + 1];
    for _ in 0..LOGREG_ITERATIONS {
        let mut grad = vec![0.0; p + 1];
        for (zi, yi) in z.iter().zip(y) {
            let eta = beta[0] + (0..p).map(|j| beta[j + 1] * zi[j]).sum::<f64>();
            let r = sigmoid_approximation(eta) - yi;
            grad[0] += r;
            for j in 0..p {
                grad[j + 1] += r * zi[j];
            }
        }
        for j in 0..=p {
            beta[j] -= grad[j] / n;
        }
    }
    let mut out = vec![
        beta[0]
            - (0..p)
                .map(|j| beta[j + 1] * means[j] / stds[j])
                .sum::<f64>(),
    ];
    out.extend((0..p).map(|j| beta[j + 1] / stds[j]));
    out
}

#[test]
fn logistic_regression_matches_the_same_algorithm_in_f64() {
    let a = patients(200, 6);
    let result = run(
        "SELECT LOGREG(diabetic ~ bmi + age) FROM clinic_a",
        &[&a],
        3,
        1,
        10,
    );
    let Cell::Model {
        coefficients,
        r_squared,
    } = &result.rows[0][0]
    else {
        panic!("{:?}", result.rows[0][0])
    };
    assert!(r_squared.is_none());
    let x: Vec<Vec<f64>> = a
        .iter()
        .map(|r| vec![r[2] as f64 / 10.0, r[0] as f64])
        .collect();
    let y: Vec<f64> = a.iter().map(|r| r[4] as f64).collect();
    let want = logreg_reference(&x, &y);
    for ((name, got), want) in coefficients.iter().zip(&want) {
        // Fixed point with 16 fractional bits over 20 steps: 1e-3 relative (documented).
        assert!(
            (got - want).abs() <= 1e-3 * want.abs().max(0.1),
            "{name}: got {got}, want {want}"
        );
    }
    // The model separates the classes: diabetes rises with BMI.
    assert!(coefficients[1].1 > 0.0);
}

#[test]
fn explain_shows_the_cost_at_both_security_levels() {
    let typed = compile_front_end(
        "SELECT COUNT(*), AVG(cost), STDDEV(age) FROM clinic_a WHERE bp > 100",
        &catalog(),
    )
    .unwrap();
    let compiled = compile(&typed, 1000, &CompileOptions::default()).unwrap();
    let text = compiled.explain(3, 1);
    eprintln!("{text}");
    let semi = compiled.cost_at(3, 1, Security::SemiHonest).unwrap();
    let malicious = compiled.cost_at(3, 1, Security::Malicious).unwrap();
    assert_eq!(semi, compiled.cost(3, 1));
    let header = text.lines().nth(2).unwrap();
    assert!(
        header.contains("semi-honest") && header.contains("malicious"),
        "{text}"
    );
    for (label, a, b) in [
        ("rounds", semi.rounds, malicious.rounds),
        (
            "multiplications",
            semi.multiplications,
            malicious.multiplications,
        ),
        (
            "of which verification",
            0,
            malicious.verification_multiplications,
        ),
        (
            "bytes sent",
            semi.bytes_per_party,
            malicious.bytes_per_party,
        ),
        ("session set-up rounds", 1, 2),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in\n{text}"));
        let numbers: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(numbers, vec![a, b], "{label}: {line}");
    }
    // A committee that cannot run malicious security, and one whose bound is too narrow for the
    // square root's 80-bit comparisons: the level is named with the reason.
    let text = compiled.explain(4, 1);
    eprintln!("{text}");
    assert!(text.contains("malicious: not available"), "{text}");
    assert!(text.contains("2t + 1"), "{text}");
    let text = compiled.explain(9, 4);
    eprintln!("{text}");
    assert!(text.contains("malicious: not available"), "{text}");
    assert!(text.contains("80-bit"), "{text}");
    assert!(!text.contains("semi-honest: not available"), "{text}");
}
