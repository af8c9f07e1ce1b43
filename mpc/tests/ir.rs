//! The IR executor checked against plaintext, and EXPLAIN's cost model against the counters of
//! real runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::ir::{
    Decode, Op, Output, Program, Unsupported, estimate, estimate_with, execute, receive,
};
use sharenet_mpc::protocol::{
    Extremum, OutsideParty, RandomnessSource, Security, Session, VERIFY_BATCH, max_comparison_bits,
};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory;

/// age, cost columns; WHERE age >= 40; COUNT, SUM(cost), AVG(cost), VAR_POP(cost), MIN(age),
/// with the minimum-cohort gate on every output.
fn program(rows: usize, cohort: i128) -> Program {
    statistics(rows, cohort, true)
}

/// [`program`], without STDDEV_POP if `!stddev` (its square root compares 80-bit values, more
/// than a malicious committee of 7 handles).
fn statistics(rows: usize, cohort: i128, stddev: bool) -> Program {
    let mut p = Program::new(rows, 2);
    let age = p.push(Op::Input { column: 0 }).unwrap();
    let cost = p.push(Op::Input { column: 1 }).unwrap();
    let forty = p.push(Op::Const { value: 40 }).unwrap();
    let young = p
        .push(Op::Lt {
            a: age,
            b: forty,
            bits: 8,
        })
        .unwrap();
    let mask = p
        .push(Op::Linear {
            terms: vec![(young, -1)],
            constant: 1,
        })
        .unwrap();
    let count = p.push(Op::Sum(mask)).unwrap();
    let masked_cost = p.push(Op::Mul(mask, cost)).unwrap();
    let sum = p.push(Op::Sum(masked_cost)).unwrap();
    let sum_sq = p.push(Op::Dot(masked_cost, cost)).unwrap();
    let k = p.push(Op::Const { value: cohort }).unwrap();
    let small = p
        .push(Op::Lt {
            a: count,
            b: k,
            bits: 24,
        })
        .unwrap();
    let gate = p
        .push(Op::Linear {
            terms: vec![(small, -1)],
            constant: 1,
        })
        .unwrap();
    let f_count = p.push(Op::ToFloat { a: count, bits: 24 }).unwrap();
    let f_sum = p.push(Op::ToFloat { a: sum, bits: 48 }).unwrap();
    let f_sq = p
        .push(Op::ToFloat {
            a: sum_sq,
            bits: 72,
        })
        .unwrap();
    let mean = p.push(Op::FloatDiv(f_sum, f_count)).unwrap();
    let mean_sq = p.push(Op::FloatDiv(f_sq, f_count)).unwrap();
    let mean2 = p.push(Op::FloatMul(mean, mean)).unwrap();
    let var = p.push(Op::FloatSub(mean_sq, mean2)).unwrap();
    let std = stddev.then(|| p.push(Op::FloatSqrt(var)).unwrap());
    // MIN(age) over matching rows: non-matching rows become 255.
    let big = p.push(Op::Const { value: 255 }).unwrap();
    let diff = p
        .push(Op::Linear {
            terms: vec![(age, 1), (big, -1)],
            constant: 0,
        })
        .unwrap();
    let keep = p.push(Op::Mul(mask, diff)).unwrap();
    let shifted = p
        .push(Op::Linear {
            terms: vec![(keep, 1), (big, 1)],
            constant: 0,
        })
        .unwrap();
    let min = p
        .push(Op::Extremum {
            a: shifted,
            bits: 9,
            which: Extremum::Min,
        })
        .unwrap();
    for (name, node, decode) in [
        ("count", Some(count), Decode::Decimal { scale: 0 }),
        ("sum", Some(sum), Decode::Decimal { scale: 2 }),
        ("avg", Some(mean), Decode::Float),
        ("var_pop", Some(var), Decode::Float),
        ("stddev_pop", std, Decode::Float),
        ("min_age", Some(min), Decode::Decimal { scale: 0 }),
    ] {
        let Some(node) = node else { continue };
        p.output(Output {
            name: name.into(),
            node,
            decode,
            gate: Some(gate),
        })
        .unwrap();
    }
    p
}

struct Run {
    outputs: Vec<(String, Vec<Option<f64>>)>,
    /// Per party: rounds, multiplications, random bits, bytes sent (during execute).
    counters: Vec<(u64, u64, u64, u64)>,
    /// Per party: rounds of the session's set-up (PRSS keys, security level).
    setup_rounds: Vec<u64>,
}

/// What one endpoint of a run returns: the receiver's outputs, or a member's counters
/// (rounds, multiplications, random bits, bytes sent during execute) and set-up rounds.
enum PartyResult {
    Receiver(Vec<(String, Vec<Option<f64>>)>),
    Member((u64, u64, u64, u64), u64),
}

fn run(n: usize, t: usize, ages: &[i64], costs: &[i64], cohort: i128) -> Run {
    let p = program(ages.len(), cohort);
    run_program(n, t, &p, &[ages, costs], Security::SemiHonest)
}

/// Runs `p` on a committee of `n` at `security`, the columns dealt by an outside owner, which
/// also receives the outputs.
fn run_program(n: usize, t: usize, p: &Program, columns: &[&[i64]], security: Security) -> Run {
    try_run_program(n, t, p, columns, security).unwrap()
}

/// [`run_program`], or the first member's error if the members fail.
fn try_run_program(
    n: usize,
    t: usize,
    p: &Program,
    columns: &[&[i64]],
    security: Security,
) -> Result<Run, String> {
    let rows = p.rows;
    let columns: Vec<Vec<Mp127>> = columns
        .iter()
        .map(|c| c.iter().map(|v| Mp127::from_i64(*v)).collect())
        .collect();
    let results: Vec<Result<PartyResult, String>> = run_in_memory(n + 1, |tr| {
        let me = tr.me();
        if me == n {
            let mut c = OutsideParty::<Mp127, _>::new(n, t, tr).map_err(|e| e.to_string())?;
            for col in &columns {
                c.deal(col).map_err(|e| e.to_string())?;
            }
            let out = receive(&mut c, p).map_err(|e| format!("receiver: {e}"))?;
            return Ok(PartyResult::Receiver(
                out.into_iter().map(|o| (o.name, o.values)).collect(),
            ));
        }
        let mut s = Session::with_rng(
            n,
            t,
            tr,
            RandomnessSource::Auto,
            StdRng::seed_from_u64(me as u64),
        )
        .map_err(|e| e.to_string())?;
        s.set_security(security).map_err(|e| e.to_string())?;
        let setup = s.stats().rounds;
        let mut inputs = Vec::new();
        for _ in 0..columns.len() {
            inputs.push(s.input(n, None, rows).map_err(|e| e.to_string())?);
        }
        let before = s.stats();
        execute(&mut s, p, &inputs, n).map_err(|e| e.to_string())?;
        let after = s.stats();
        Ok(PartyResult::Member(
            (
                after.rounds - before.rounds,
                after.multiplications - before.multiplications,
                after.random_bits - before.random_bits,
                after.transport.bytes_sent - before.transport.bytes_sent,
            ),
            setup,
        ))
    });
    let mut outputs = Vec::new();
    let mut counters = Vec::new();
    let mut setup_rounds = Vec::new();
    let mut receiver_error = None;
    for r in results {
        match r {
            Ok(PartyResult::Receiver(o)) => outputs = o,
            Ok(PartyResult::Member(c, setup)) => {
                counters.push(c);
                setup_rounds.push(setup);
            }
            Err(e) if e.starts_with("receiver: ") => receiver_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = receiver_error {
        return Err(e);
    }
    Ok(Run {
        outputs,
        counters,
        setup_rounds,
    })
}

fn table(rows: usize, seed: u64) -> (Vec<i64>, Vec<i64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let ages = (0..rows).map(|_| rng.random_range(18..90)).collect();
    let costs = (0..rows).map(|_| rng.random_range(0..5_000_000)).collect();
    (ages, costs)
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-6 * want.abs().max(1.0)
}

#[test]
fn statistics_program_matches_plaintext() {
    for (n, t) in [(3, 1), (5, 2)] {
        let (ages, costs) = table(300, n as u64);
        let r = run(n, t, &ages, &costs, 10);
        let rows: Vec<(i64, f64)> = ages
            .iter()
            .zip(&costs)
            .filter(|(a, _)| **a >= 40)
            .map(|(a, c)| (*a, *c as f64))
            .collect();
        let count = rows.len() as f64;
        let sum: f64 = rows.iter().map(|r| r.1).sum();
        let mean = sum / count;
        let var = rows.iter().map(|r| (r.1 - mean).powi(2)).sum::<f64>() / count;
        let min_age = rows.iter().map(|r| r.0).min().unwrap() as f64;
        let expected = [count, sum / 100.0, mean, var, var.sqrt(), min_age];
        for ((name, values), want) in r.outputs.iter().zip(expected) {
            let got = values[0].unwrap();
            assert!(close(got, want), "n={n} {name}: got {got}, want {want}");
        }
    }
}

#[test]
fn small_cohorts_reveal_only_the_gate() {
    let (ages, costs) = table(40, 9);
    let matching = ages.iter().filter(|a| **a >= 40).count() as i128;
    let r = run(3, 1, &ages, &costs, matching + 1);
    for (name, values) in &r.outputs {
        assert_eq!(values, &vec![None], "{name} was released");
    }
    let r = run(3, 1, &ages, &costs, matching);
    assert!(r.outputs.iter().all(|(_, v)| v[0].is_some()));
}

/// Checks a prediction against the counters of a real run: rounds, multiplications, random bits
/// and set-up rounds exactly (every party), bytes within 5% of the parties' average (the model
/// counts field elements, 16 bytes each; real traffic adds 10-byte headers per message and
/// per-party imbalance).
fn assert_predicted(cost: &sharenet_mpc::ir::Cost, r: &Run, what: &str) {
    for (party, (rounds, mults, bits, _)) in r.counters.iter().enumerate() {
        assert_eq!(cost.rounds, *rounds, "rounds {what} party {party}");
        assert_eq!(
            cost.multiplications, *mults,
            "multiplications {what} party {party}"
        );
        assert_eq!(cost.random_bits, *bits, "random bits {what} party {party}");
    }
    for (party, setup) in r.setup_rounds.iter().enumerate() {
        assert_eq!(
            cost.setup_rounds, *setup,
            "set-up rounds {what} party {party}"
        );
    }
    let n = r.counters.len() as f64;
    let real: f64 = r.counters.iter().map(|c| c.3 as f64).sum::<f64>() / n;
    let model = cost.bytes_per_party as f64;
    assert!(
        (real - model).abs() / model < 0.05,
        "bytes {what}: real {real}, model {model}"
    );
}

#[test]
fn explain_predicts_the_real_cost() {
    for (n, t) in [(3, 1), (5, 2), (7, 3)] {
        let (ages, costs) = table(64, 3);
        let r = run(n, t, &ages, &costs, 10);
        let cost = estimate(&program(64, 10), n, t);
        assert_eq!(
            estimate_with(&program(64, 10), n, t, Security::SemiHonest),
            Ok(cost)
        );
        assert_eq!(cost.verification_multiplications, 0);
        assert_predicted(&cost, &r, &format!("semi-honest n={n}"));
    }
}

#[test]
fn explain_predicts_the_real_cost_of_a_malicious_session() {
    // n = 3 and 5 draw double sharings from PRSS, n = 7 from hyper-invertible batches (its
    // malicious session sets up PRSS keys for the bounded masks only). The square root compares
    // 80-bit values, the most a malicious committee of 7 handles.
    for (n, t, stddev) in [(3, 1, true), (5, 2, true), (7, 3, true)] {
        let (ages, costs) = table(64, 3);
        let p = statistics(64, 10, stddev);
        let honest = run_program(n, t, &p, &[&ages, &costs], Security::SemiHonest);
        let r = run_program(n, t, &p, &[&ages, &costs], Security::Malicious);
        // The same results (up to the last bits of the floats' probabilistic rounding).
        for ((name, got), (_, want)) in r.outputs.iter().zip(&honest.outputs) {
            assert!(close(got[0].unwrap(), want[0].unwrap()), "n={n} {name}");
        }
        let semi = estimate_with(&p, n, t, Security::SemiHonest).unwrap();
        assert_predicted(&semi, &honest, &format!("semi-honest n={n}"));
        let cost = estimate_with(&p, n, t, Security::Malicious).unwrap();
        assert_predicted(&cost, &r, &format!("malicious n={n}"));
        // What the malicious run multiplied beyond the semi-honest run of the same program: the
        // verification, and the XORs of the pooled bits it made but did not use.
        let extra = r.counters[0].1 - honest.counters[0].1;
        assert_eq!(cost.multiplications - semi.multiplications, extra, "n={n}");
        assert!(cost.verification_multiplications > 0);
        assert!(cost.verification_multiplications <= extra);
        eprintln!(
            "n={n}: semi-honest {} rounds, {} mults, {} bytes/party (+{} set-up rounds); \
             malicious {} rounds, {} mults ({} verification), {} bytes/party (+{} set-up rounds)",
            semi.rounds,
            semi.multiplications,
            semi.bytes_per_party,
            semi.setup_rounds,
            cost.rounds,
            cost.multiplications,
            cost.verification_multiplications,
            cost.bytes_per_party,
            cost.setup_rounds
        );
    }
}

#[test]
fn explain_predicts_a_full_verification_batch() {
    // Two levels of products over just over VERIFY_BATCH / 2 rows: the first records more than
    // VERIFY_BATCH terms and gates, so the second multiplication verifies them first, and the
    // output's opening verifies the rest: two checks.
    let rows = VERIFY_BATCH / 2 + 1;
    let mut p = Program::new(rows, 2);
    let x = p.push(Op::Input { column: 0 }).unwrap();
    let y = p.push(Op::Input { column: 1 }).unwrap();
    let xy = p.push(Op::Mul(x, y)).unwrap();
    let xxy = p.push(Op::Mul(xy, x)).unwrap();
    let sum = p.push(Op::Sum(xxy)).unwrap();
    p.output(Output {
        name: "sum".into(),
        node: sum,
        decode: Decode::Decimal { scale: 0 },
        gate: None,
    })
    .unwrap();
    let xs: Vec<i64> = (0..rows as i64).map(|i| i % 7 - 3).collect();
    let ys: Vec<i64> = (0..rows as i64).map(|i| i % 5).collect();
    let r = run_program(3, 1, &p, &[&xs, &ys], Security::Malicious);
    let want: i64 = xs.iter().zip(&ys).map(|(x, y)| x * x * y).sum();
    assert_eq!(r.outputs[0].1, vec![Some(want as f64)]);
    let cost = estimate_with(&p, 3, 1, Security::Malicious).unwrap();
    assert_predicted(&cost, &r, "a full batch");
}

#[test]
fn malicious_estimates_name_what_the_committee_cannot_run() {
    let (ages, costs) = table(64, 3);
    let p = program(64, 10);
    // The committee's shape: as Session::set_security refuses it.
    for (n, t) in [(4, 1), (11, 5)] {
        let err = estimate_with(&p, n, t, Security::Malicious).unwrap_err();
        let expected = if n == 4 {
            Unsupported::NotTwoTPlusOne { n, t }
        } else {
            Unsupported::TooManyMembers { n }
        };
        assert_eq!(err, expected, "n={n} t={t}");
        let results = run_in_memory(n, |tr| {
            let rng = StdRng::seed_from_u64(tr.me() as u64);
            let mut s = Session::<Mp127, _>::with_rng(n, t, tr, RandomnessSource::Auto, rng)?;
            s.set_security(Security::Malicious)
        });
        assert!(results.iter().all(Result::is_err), "n={n} t={t}");
        assert!(estimate_with(&p, n, t, Security::SemiHonest).is_ok());
    }
    // The widest comparison: the square root's 80 bits fit a malicious committee of 7, not 9
    // (C(9, 4) = 126 PRSS masks: 79 bits).
    assert_eq!(estimate(&p, 9, 4).comparison_bits, 80);
    assert_eq!(
        estimate_with(&p, 9, 4, Security::Malicious),
        Err(Unsupported::TooWide {
            needed: 80,
            allowed: max_comparison_bits(9, 4, Security::Malicious),
            security: Security::Malicious,
            n: 9,
            t: 4
        })
    );
    let failed = try_run_program(9, 4, &p, &[&ages, &costs], Security::Malicious);
    assert!(
        failed
            .as_ref()
            .is_err_and(|e| e.contains("max_comparison_bits")),
        "{:?}",
        failed.as_ref().err()
    );
    assert!(estimate_with(&p, 7, 3, Security::Malicious).is_ok());
    assert!(estimate_with(&p, 9, 4, Security::SemiHonest).is_ok());
}

#[test]
fn rounds_do_not_depend_on_the_number_of_rows() {
    // MIN's tree depth grows with log2(rows); everything else is constant. Compare two sizes
    // with the same tree depth.
    let a = estimate(&program(1025, 10), 3, 1);
    let b = estimate(&program(2000, 10), 3, 1);
    assert_eq!(a.rounds, b.rounds);
    assert!(b.multiplications > a.multiplications);
}

#[test]
fn malformed_programs_are_rejected() {
    let mut p = Program::new(4, 1);
    let x = p.push(Op::Input { column: 0 }).unwrap();
    assert!(p.push(Op::Mul(x, 7)).is_err());
    let s = p.push(Op::Sum(x)).unwrap();
    let f = p.push(Op::ToFloat { a: s, bits: 10 }).unwrap();
    assert!(p.push(Op::Mul(f, x)).is_err());
    assert!(p.push(Op::Dot(x, s)).is_err());
    assert!(
        p.output(Output {
            name: "x".into(),
            node: f,
            decode: Decode::Bit,
            gate: None
        })
        .is_err()
    );
    assert!(
        p.output(Output {
            name: "x".into(),
            node: x,
            decode: Decode::Bit,
            gate: Some(s)
        })
        .is_err()
    );
}
