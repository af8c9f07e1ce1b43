//! The IR executor checked against plaintext, and EXPLAIN's cost model against the counters of
//! real runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::ir::{Decode, Op, Output, Program, estimate, execute, receive};
use sharenet_mpc::protocol::{Extremum, OutsideParty, RandomnessSource, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory;

/// age, cost columns; WHERE age >= 40; COUNT, SUM(cost), AVG(cost), VAR_POP(cost), MIN(age),
/// with the minimum-cohort gate on every output.
fn program(rows: usize, cohort: i128) -> Program {
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
    let std = p.push(Op::FloatSqrt(var)).unwrap();
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
        ("count", count, Decode::Decimal { scale: 0 }),
        ("sum", sum, Decode::Decimal { scale: 2 }),
        ("avg", mean, Decode::Float),
        ("var_pop", var, Decode::Float),
        ("stddev_pop", std, Decode::Float),
        ("min_age", min, Decode::Decimal { scale: 0 }),
    ] {
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
    /// rounds, multiplications, random bits, bytes sent (party 0, during execute).
    counters: Vec<(u64, u64, u64, u64)>,
}

type PartyResult = (
    Option<Vec<(String, Vec<Option<f64>>)>>,
    Option<(u64, u64, u64, u64)>,
);

fn run(n: usize, t: usize, ages: &[i64], costs: &[i64], cohort: i128) -> Run {
    let p = program(ages.len(), cohort);
    let columns: Vec<Vec<Mp127>> = [ages, costs]
        .iter()
        .map(|c| c.iter().map(|v| Mp127::from_i64(*v)).collect())
        .collect();
    let results: Vec<PartyResult> = run_in_memory(n + 1, |tr| {
        let me = tr.me();
        if me == n {
            let mut c = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            for col in &columns {
                c.deal(col).unwrap();
            }
            let out = receive(&mut c, &p).unwrap();
            return (
                Some(out.into_iter().map(|o| (o.name, o.values)).collect()),
                None,
            );
        }
        let mut s = Session::with_rng(
            n,
            t,
            tr,
            RandomnessSource::Auto,
            StdRng::seed_from_u64(me as u64),
        )
        .unwrap();
        let inputs: Vec<Vec<Mp127>> = (0..2)
            .map(|_| s.input(n, None, ages.len()).unwrap())
            .collect();
        let before = s.stats();
        execute(&mut s, &p, &inputs, n).unwrap();
        let after = s.stats();
        (
            None,
            Some((
                after.rounds - before.rounds,
                after.multiplications - before.multiplications,
                after.random_bits - before.random_bits,
                after.transport.bytes_sent - before.transport.bytes_sent,
            )),
        )
    });
    let mut outputs = Vec::new();
    let mut counters = Vec::new();
    for (o, c) in results {
        if let Some(o) = o {
            outputs = o;
        }
        if let Some(c) = c {
            counters.push(c);
        }
    }
    Run { outputs, counters }
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

#[test]
fn explain_predicts_the_real_cost() {
    for (n, t) in [(3, 1), (5, 2), (7, 3)] {
        let (ages, costs) = table(64, 3);
        let r = run(n, t, &ages, &costs, 10);
        let cost = estimate(&program(64, 10), n, t);
        let (rounds, mults, bits, _) = r.counters[0];
        assert_eq!(cost.rounds, rounds, "rounds n={n}");
        assert_eq!(cost.multiplications, mults, "multiplications n={n}");
        assert_eq!(cost.random_bits, bits, "random bits n={n}");
        // Bytes: the model counts field elements (16 bytes each) averaged over the parties;
        // real traffic adds 10-byte headers per message and per-party imbalance.
        let real: f64 = r.counters.iter().map(|c| c.3 as f64).sum::<f64>() / n as f64;
        let model = cost.bytes_per_party as f64;
        assert!(
            (real - model).abs() / model < 0.05,
            "bytes n={n}: real {real}, model {model}"
        );
    }
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
