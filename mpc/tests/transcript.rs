//! The session transcript digest of the protocols: equal at every honest party, covering the
//! parameters, the operation sequence and dealer checks, and a party that received a corrupted
//! opened value either fails or ends with a digest that differs from the others' — never a
//! silently matching one. Whole query runs are tested in `query/tests/transcript.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/tampering.rs"]
mod tampering;

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::protocol::{OutsideParty, ProtocolError, RandomnessSource, Session};
use sharenet_mpc::shamir::{ShamirError, ShamirParams};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory_with_timeout;
use sharenet_mpc::vss::batch;
use tampering::{FROM_KING, TamperRule, Tampering};

/// The kind of a share sent in an opening to everyone (see `mpc/src/protocol/channel.rs`).
const OPEN: u8 = 6;

fn session<T: Transport>(n: usize, t: usize, tr: T, seed: u64) -> Session<Mp127, T> {
    let rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003) + tr.me() as u64);
    Session::with_rng(n, t, tr, RandomnessSource::Auto, rng).unwrap()
}

#[test]
fn the_digest_covers_the_parameters_and_the_operation_sequence() {
    // Nothing opened at all: the digest still tells n, t and what was done.
    let digests = |n: usize, t: usize, ops: &'static [usize]| {
        run_in_memory_with_timeout(n + 1, Duration::from_secs(5), |tr| {
            if tr.me() == n {
                let mut r = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
                for &len in ops {
                    r.receive_output(len).unwrap();
                }
                return None;
            }
            let mut s = session(n, t, tr, 1);
            for &len in ops {
                s.open_to(n, &vec![Mp127::ONE; len]).unwrap();
            }
            Some(s.transcript_digest())
        })
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
    };
    let a = digests(3, 1, &[2]);
    assert!(a.iter().all(|d| *d == a[0]));
    assert_ne!(digests(3, 1, &[3])[0], a[0]);
    assert_ne!(digests(3, 1, &[1, 1])[0], a[0]);
    assert_ne!(digests(3, 1, &[])[0], a[0]);
    assert_ne!(digests(5, 1, &[2])[0], a[0]);
    assert_ne!(digests(5, 2, &[2])[0], digests(5, 1, &[2])[0]);
}

#[test]
fn a_dealer_check_is_part_of_the_transcript() {
    let (n, t) = (5, 2);
    let mut rng = StdRng::seed_from_u64(4);
    let values: Vec<Mp127> = (0..100).map(|_| Mp127::random(&mut rng)).collect();
    let dealt = batch::deal(
        ShamirParams::honest_majority(n, t).unwrap(),
        &values,
        &mut rng,
    );
    let results = run_in_memory_with_timeout(n, Duration::from_secs(5), |tr| {
        let mut s = session(n, t, tr, 1);
        let before = s.transcript_digest();
        s.verify_dealing(b"dataset 1 batch 0", &dealt[s.me()])
            .unwrap();
        (before, s.transcript_digest())
    });
    for (before, after) in &results {
        assert_eq!(before, &results[0].0);
        assert_eq!(after, &results[0].1);
        assert_ne!(before, after);
    }
}

/// Party 0 inputs x and y, everyone multiplies and opens the products to an outside receiver;
/// `victim` receives one corrupted message per `rule`. Returns the computing parties' outcomes
/// and the receiver's.
type MulRun = (
    Vec<Result<[u8; 32], ProtocolError>>,
    Result<(Vec<Mp127>, Vec<usize>), ProtocolError>,
);

fn mul_then_output(n: usize, t: usize, tamper: Option<(usize, TamperRule)>) -> MulRun {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let x: Vec<Mp127> = (0..40).map(|_| Mp127::random(&mut rng)).collect();
    let y: Vec<Mp127> = (0..40).map(|_| Mp127::random(&mut rng)).collect();
    let mut results = run_in_memory_with_timeout(n + 1, Duration::from_secs(5), |tr| {
        let me = tr.me();
        if me == n {
            let mut r = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            return Err(r.receive_output(x.len()));
        }
        let rule = tamper.and_then(|(victim, rule)| (victim == me).then_some(rule));
        let tr = Tampering {
            inner: tr,
            rule,
            seen: 0,
        };
        let mut s = session(n, t, tr, 3);
        Ok((|| {
            let xs = s.input(0, (me == 0).then_some(x.as_slice()), x.len())?;
            let ys = s.input(0, (me == 0).then_some(y.as_slice()), y.len())?;
            let z = s.mul(&xs, &ys)?;
            s.open_to(n, &z)?;
            Ok(s.transcript_digest())
        })())
    });
    let receiver = results.pop().unwrap().unwrap_err();
    (results.into_iter().map(|r| r.unwrap()).collect(), receiver)
}

#[test]
fn a_corrupted_king_broadcast_changes_the_victims_digest() {
    for (n, t) in [(3, 1), (5, 2)] {
        let (honest, _) = mul_then_output(n, t, None);
        let honest: Vec<[u8; 32]> = honest.into_iter().map(Result::unwrap).collect();
        assert!(honest.iter().all(|d| *d == honest[0]));
        // King 1 broadcasts its chunk of opened masked products; party 0 gets one bit flipped.
        let victim = 0;
        let rule = TamperRule {
            from: 1,
            kind: FROM_KING,
            nth: 1,
        };
        let (digests, receiver) = mul_then_output(n, t, Some((victim, rule)));
        // Nobody can tell inside the committee: the king's broadcast has no redundancy.
        for (party, d) in digests.iter().enumerate() {
            let d = d.as_ref().unwrap();
            if party == victim {
                assert_ne!(d, &honest[0], "n={n}: the victim's digest must differ");
            } else {
                assert_eq!(d, &honest[0], "n={n}: party {party}");
            }
        }
        // The victim's output share is now off the polynomial: the receiver detects it. Below
        // 3t + 1 shares (n = 3, t = 1 and n = 5, t = 2) it corrects nothing and names nobody: t
        // colluders could as well have put an honest share off their polynomial.
        assert!(
            matches!(receiver, Err(ProtocolError::InconsistentOutput { .. })),
            "n={n}: {receiver:?}"
        );
    }
}

#[test]
fn a_corrupted_share_of_a_public_opening_is_caught_by_the_victim() {
    let (n, t) = (3, 1);
    let results = run_in_memory_with_timeout(n, Duration::from_secs(5), |tr| {
        let me = tr.me();
        let rule = (me == 2).then_some(TamperRule {
            from: 0,
            kind: OPEN,
            nth: 1,
        });
        let tr = Tampering {
            inner: tr,
            rule,
            seen: 0,
        };
        let mut s = session(n, t, tr, 4);
        let v = [Mp127::from_u64(5), Mp127::from_u64(6)];
        let xs = s.input(1, (me == 1).then_some(&v[..]), v.len()).unwrap();
        s.open(&xs).map(|_| s.transcript_digest())
    });
    assert_eq!(results[0].as_ref().unwrap(), results[1].as_ref().unwrap());
    assert!(matches!(
        results[2],
        Err(ProtocolError::Shamir(ShamirError::Inconsistent {
            index: 0,
            ..
        }))
    ));
}
