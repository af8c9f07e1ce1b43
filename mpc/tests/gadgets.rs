//! Comparisons, equality, truncation, selection and MIN/MAX checked against plaintext integer
//! arithmetic, exactly at the edges of the bit lengths (0, ±1, max, min) and on random values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::protocol::{Extremum, RandomnessSource, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::{MemoryTransport, run_in_memory};

fn enc(v: i128) -> Mp127 {
    if v < 0 {
        -Mp127::new((-v) as u128)
    } else {
        Mp127::new(v as u128)
    }
}

fn dec(v: Mp127) -> i128 {
    v.to_signed()
}

/// Runs `f` at every party of an (n, t) committee on inputs dealt by party 0, and returns party
/// 0's opened result (checking all parties agree).
fn run<P>(n: usize, t: usize, inputs: &[i128], f: P) -> Vec<i128>
where
    P: Fn(&mut Session<Mp127, MemoryTransport>, Vec<Mp127>) -> Vec<Mp127> + Sync,
{
    let values: Vec<Mp127> = inputs.iter().map(|v| enc(*v)).collect();
    let results = run_in_memory(n, |tr| {
        let me = tr.me();
        let mut s = Session::with_rng(
            n,
            t,
            tr,
            RandomnessSource::Auto,
            StdRng::seed_from_u64(me as u64 + 11),
        )
        .unwrap();
        let shares = s
            .input(0, (me == 0).then_some(values.as_slice()), values.len())
            .unwrap();
        let out = f(&mut s, shares);
        s.open(&out).unwrap()
    });
    for r in &results[1..] {
        assert_eq!(r, &results[0]);
    }
    results[0].iter().map(|v| dec(*v)).collect()
}

fn edges(k: u32) -> Vec<i128> {
    let max = (1i128 << (k - 1)) - 1;
    let min = -(1i128 << (k - 1));
    vec![0, 1, -1, 2, -2, max, max - 1, min, min + 1, 12345, -98765]
}

#[test]
fn comparisons_are_exact_at_the_edges() {
    for k in [32u32, 64] {
        let e = edges(k);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for x in &e {
            for y in &e {
                a.push(*x);
                b.push(*y);
            }
        }
        let mut both = a.clone();
        both.extend(&b);
        let len = a.len();
        let got = run(3, 1, &both, |s, v| {
            let (x, y) = v.split_at(len);
            let mut out = s.lt(x, y, k).unwrap();
            out.extend(s.le(x, y, k).unwrap());
            out.extend(s.gt(x, y, k).unwrap());
            out.extend(s.ge(x, y, k).unwrap());
            out.extend(s.eq(x, y, k).unwrap());
            out.extend(s.ltz(x, k).unwrap());
            out.extend(s.eqz(x, k).unwrap());
            out
        });
        let mut expected = Vec::new();
        let pairs: Vec<(i128, i128)> = a.iter().copied().zip(b.iter().copied()).collect();
        expected.extend(pairs.iter().map(|(x, y)| (x < y) as i128));
        expected.extend(pairs.iter().map(|(x, y)| (x <= y) as i128));
        expected.extend(pairs.iter().map(|(x, y)| (x > y) as i128));
        expected.extend(pairs.iter().map(|(x, y)| (x >= y) as i128));
        expected.extend(pairs.iter().map(|(x, y)| (x == y) as i128));
        expected.extend(a.iter().map(|x| (*x < 0) as i128));
        expected.extend(a.iter().map(|x| (*x == 0) as i128));
        assert_eq!(got, expected, "k = {k}");
    }
}

#[test]
fn comparisons_work_for_every_committee() {
    let a: Vec<i128> = vec![5, -5, 0, 1 << 40, -(1 << 40), 7];
    let b: Vec<i128> = vec![5, 4, -1, (1 << 40) + 1, -(1 << 40), -7];
    for (n, t) in [(3, 1), (5, 2), (7, 3)] {
        let mut both = a.clone();
        both.extend(&b);
        let got = run(n, t, &both, |s, v| {
            let (x, y) = v.split_at(6);
            let mut out = s.lt(x, y, 48).unwrap();
            out.extend(s.eq(x, y, 48).unwrap());
            out
        });
        let mut expected: Vec<i128> = a.iter().zip(&b).map(|(x, y)| (x < y) as i128).collect();
        expected.extend(a.iter().zip(&b).map(|(x, y)| (x == y) as i128));
        assert_eq!(got, expected, "n={n} t={t}");
    }
}

#[test]
fn random_bits_are_bits_and_balanced() {
    let got = run(3, 1, &[], |s, _| s.random_bits(4000).unwrap());
    assert!(got.iter().all(|b| *b == 0 || *b == 1));
    let ones = got.iter().filter(|b| **b == 1).count();
    // Binomial(4000, 1/2): mean 2000, standard deviation ~32; this is 6 deviations wide.
    assert!((1800..2200).contains(&ones), "{ones}");
    let got = run(7, 3, &[], |s, _| s.random_bits(1000).unwrap());
    assert!(got.iter().all(|b| *b == 0 || *b == 1));
}

#[test]
fn truncation_and_modular_reduction_match_integer_arithmetic() {
    let k = 64u32;
    let values = edges(k);
    for m in [1u32, 16, 40, 63] {
        let got = run(3, 1, &values, |s, v| {
            let mut out = s.mod2m(&v, k, m).unwrap();
            out.extend(s.trunc(&v, k, m).unwrap());
            out.extend(s.trunc_pr(&v, k, m).unwrap());
            out
        });
        let len = values.len();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(got[i], v.rem_euclid(1 << m), "mod2m {v} {m}");
            assert_eq!(got[len + i], v.div_euclid(1 << m), "trunc {v} {m}");
            let pr = got[2 * len + i];
            let floor = v.div_euclid(1 << m);
            assert!(pr == floor || pr == floor + 1, "trunc_pr {v} {m}: {pr}");
        }
    }
}

#[test]
fn select_and_extremum_match_plaintext() {
    let values: Vec<i128> = vec![17, -3, 99, 0, -100, 42, 7];
    let got = run(5, 2, &values, |s, v| {
        let cond = s.lt(&v[..3], &v[3..6], 32).unwrap();
        let mut out = s.select(&cond, &v[..3], &v[3..6]).unwrap();
        out.extend(
            s.extremum(
                &[v.clone(), v.iter().rev().copied().collect()],
                32,
                Extremum::Min,
            )
            .unwrap(),
        );
        out.extend(
            s.extremum(std::slice::from_ref(&v), 32, Extremum::Max)
                .unwrap(),
        );
        out.extend(s.extremum(&[v[..1].to_vec()], 32, Extremum::Max).unwrap());
        out
    });
    assert_eq!(got, vec![0, -100, 42, -100, -100, 99, 17]);
}

#[test]
fn bad_bit_lengths_are_refused() {
    let results = run_in_memory(3, |tr| {
        let mut s = Session::<Mp127, _>::new(3, 1, tr, RandomnessSource::Prss).unwrap();
        let x = [Mp127::ONE];
        (
            s.ltz(&x, 0).is_err(),
            s.ltz(&x, s.max_comparison_bits() + 1).is_err()
                && s.ltz(&x, s.max_comparison_bits()).is_ok(),
            s.trunc(&x, 8, 9).is_err(),
        )
    });
    assert!(results.iter().all(|r| *r == (true, true, true)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn random_comparisons_match_plaintext(
        pairs in proptest::collection::vec((any::<i32>(), any::<i32>()), 1..40),
        committee in 0usize..2,
    ) {
        let (n, t) = [(3, 1), (5, 2)][committee];
        let mut inputs: Vec<i128> = pairs.iter().map(|p| p.0 as i128).collect();
        inputs.extend(pairs.iter().map(|p| p.1 as i128));
        let len = pairs.len();
        let got = run(n, t, &inputs, |s, v| {
            let (x, y) = v.split_at(len);
            let mut out = s.lt(x, y, 32).unwrap();
            out.extend(s.eq(x, y, 32).unwrap());
            out.extend(s.trunc(x, 32, 7).unwrap());
            out
        });
        for (i, (a, b)) in pairs.iter().enumerate() {
            prop_assert_eq!(got[i], (a < b) as i128);
            prop_assert_eq!(got[len + i], (a == b) as i128);
            prop_assert_eq!(got[2 * len + i], (*a as i128).div_euclid(128));
        }
    }
}

#[test]
fn field_encoding_of_signed_values_round_trips() {
    for v in edges(64) {
        assert_eq!(dec(enc(v)), v);
        assert_eq!(enc(v), Mp127::from_i64(v as i64));
    }
}
