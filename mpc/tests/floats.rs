//! Secret floating point checked against f64 arithmetic on the same values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::protocol::{RandomnessSource, SecretFloats, Session, decode_floats};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::{MemoryTransport, run_in_memory};

/// Relative tolerance of one float operation (mantissa 31 bits, Newton at 38 bits).
const REL: f64 = 1e-8;

fn close(got: f64, want: f64, tol: f64) -> bool {
    if want == 0.0 {
        return got.abs() <= tol;
    }
    ((got - want) / want).abs() <= tol
}

/// Party 0 deals the integers; every party converts them to floats and runs `f`; returns the
/// opened floats as f64.
fn run<P>(n: usize, t: usize, ints: &[i64], f: P) -> Vec<f64>
where
    P: Fn(&mut Session<Mp127, MemoryTransport>, SecretFloats) -> SecretFloats + Sync,
{
    let values: Vec<Mp127> = ints.iter().map(|v| Mp127::from_i64(*v)).collect();
    let results = run_in_memory(n, |tr| {
        let me = tr.me();
        let mut s = Session::with_rng(
            n,
            t,
            tr,
            RandomnessSource::Auto,
            StdRng::seed_from_u64(me as u64),
        )
        .unwrap();
        let shares = s
            .input(0, (me == 0).then_some(values.as_slice()), values.len())
            .unwrap();
        let floats = s.float_from_int(&shares, 63).unwrap();
        let out = f(&mut s, floats);
        decode_floats(&s.open(&out.to_flat()).unwrap())
    });
    for r in &results[1..] {
        assert_eq!(r, &results[0]);
    }
    results[0].clone()
}

#[test]
fn conversion_from_integers() {
    let ints = [
        0i64,
        1,
        -1,
        2,
        3,
        -7,
        1 << 40,
        -(1 << 40) + 3,
        i64::MAX,
        i64::MIN + 1,
        123_456_789,
    ];
    let got = run(3, 1, &ints, |_, f| f);
    for (g, v) in got.iter().zip(&ints) {
        assert!(close(*g, *v as f64, REL), "{v}: {g}");
    }
}

#[test]
fn arithmetic_matches_f64() {
    let a = [5i64, -12, 1 << 35, 7, 0, 1_000_000, -3, 99];
    let b = [3i64, 4, -(1 << 20), 7, 9, -1, -3, 1 << 50];
    let mut ints = a.to_vec();
    ints.extend(b);
    let got = run(3, 1, &ints, |s, f| {
        let x = f.slice(0..8);
        let y = f.slice(8..16);
        let mut out = s.float_mul(&x, &y).unwrap();
        out = out.concat(&s.float_div(&x, &y).unwrap());
        out = out.concat(&s.float_add(&x, &y).unwrap());
        out = out.concat(&s.float_sub(&x, &y).unwrap());
        let abs_x = s.float_mul(&x, &x).unwrap();
        out.concat(&s.float_sqrt(&abs_x).unwrap())
    });
    for i in 0..8 {
        let (x, y) = (a[i] as f64, b[i] as f64);
        assert!(close(got[i], x * y, REL), "{x}*{y}: {}", got[i]);
        assert!(close(got[8 + i], x / y, REL), "{x}/{y}: {}", got[8 + i]);
        // Sums lose precision relative to the larger operand only.
        let scale = x.abs().max(y.abs());
        assert!(
            (got[16 + i] - (x + y)).abs() <= scale * REL,
            "{x}+{y}: {}",
            got[16 + i]
        );
        assert!(
            (got[24 + i] - (x - y)).abs() <= scale * REL,
            "{x}-{y}: {}",
            got[24 + i]
        );
        assert!(
            close(got[32 + i], x.abs(), REL),
            "sqrt({x}^2): {}",
            got[32 + i]
        );
    }
}

#[test]
fn constants_and_other_committees() {
    for (n, t) in [(5, 2), (7, 3)] {
        let got = run(n, t, &[10, -4], |s, f| {
            let c = s.float_constants(&[0.1, -2.5]);
            let q = s.float_div(&f, &c).unwrap();
            let r = s.float_sqrt(&s.float_constants(&[2.0, 0.0])).unwrap();
            q.concat(&r)
        });
        assert!(close(got[0], 100.0, REL), "{got:?}");
        assert!(close(got[1], 1.6, REL), "{got:?}");
        assert!(close(got[2], 2f64.sqrt(), REL), "{got:?}");
        assert_eq!(got[3], 0.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn random_quotients_and_square_roots(
        pairs in proptest::collection::vec((any::<i32>(), 1i64..1 << 40), 1..6)
    ) {
        let mut ints: Vec<i64> = pairs.iter().map(|p| p.0 as i64).collect();
        ints.extend(pairs.iter().map(|p| p.1));
        let len = pairs.len();
        let got = run(3, 1, &ints, |s, f| {
            let (x, y) = (f.slice(0..len), f.slice(len..2 * len));
            let q = s.float_div(&x, &y).unwrap();
            let r = s.float_sqrt(&y).unwrap();
            q.concat(&r)
        });
        for (i, (x, y)) in pairs.iter().enumerate() {
            prop_assert!(close(got[i], *x as f64 / *y as f64, REL), "{} / {}: {}", x, y, got[i]);
            prop_assert!(close(got[len + i], (*y as f64).sqrt(), REL), "sqrt {}: {}", y, got[len + i]);
        }
    }
}

#[test]
fn conversion_to_fixed_point() {
    let ints = [0i64, 1, -1, 1000, -123_456, 1 << 30, 7];
    let values: Vec<Mp127> = ints.iter().map(|v| Mp127::from_i64(*v)).collect();
    let results = run_in_memory(3, |tr| {
        let me = tr.me();
        let mut s = Session::with_rng(
            3,
            1,
            tr,
            RandomnessSource::Auto,
            StdRng::seed_from_u64(me as u64),
        )
        .unwrap();
        let shares = s
            .input(0, (me == 0).then_some(values.as_slice()), values.len())
            .unwrap();
        let f = s.float_from_int(&shares, 40).unwrap();
        // x / 1024 in fixed point with 16 fractional bits: round(x·64).
        let scaled = s
            .float_mul(&f, &s.float_constants(&[1.0 / 1024.0; 7]))
            .unwrap();
        let fixed = s.float_to_fixed(&scaled, 16, 40).unwrap();
        s.open(&fixed).unwrap()
    });
    for (got, v) in results[0].iter().zip(&ints) {
        let want = *v as f64 * 64.0;
        assert!(
            (got.to_signed() as f64 - want).abs() <= 1.0,
            "{v}: {}",
            got.to_signed()
        );
    }
}
