//! SPDZ-wise Shamir (security with abort for multiplications) against plaintext and against the
//! attacks it exists for: a member that sends its king a wrong degree-2t share, and a king that
//! broadcasts a wrong opened value. Each attack is first shown to succeed against the
//! semi-honest multiplication (a wrong product, no error anywhere), then to be caught.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/tampering.rs"]
mod tampering;

use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127, RistrettoScalar};
use sharenet_mpc::protocol::{ProtocolError, RandomnessSource, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory_with_timeout;
use tampering::{FROM_KING, TamperRule, Tampering};

/// The kind of a degree-2t share sent to a king (`MessageKind::ToKing`).
const TO_KING: u8 = 4;

const COMMITTEES: [(usize, usize); 3] = [(3, 1), (5, 2), (7, 3)];
const SOURCES: [RandomnessSource; 2] = [RandomnessSource::Prss, RandomnessSource::HyperInvertible];

/// One corrupted message: what `victim` receives from `rule.from` (its `nth` message of
/// `rule.kind`) has a bit flipped — the effect of a cheating sender, seen where it lands.
type Attack = (usize, TamperRule);

fn inputs<F: Field>(len: usize, seed: u64) -> (Vec<F>, Vec<F>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = (0..len).map(|_| F::random(&mut rng)).collect();
    let y = (0..len).map(|_| F::random(&mut rng)).collect();
    (x, y)
}

/// `x·y` and `x·y·y` with the semi-honest multiplication, opened to all: every party's opened
/// values (or its error).
fn semi_honest<F: Field>(
    n: usize,
    t: usize,
    x: &[F],
    y: &[F],
    attack: Option<Attack>,
) -> Vec<Result<Vec<F>, ProtocolError>> {
    run_in_memory_with_timeout(n, Duration::from_secs(10), |tr| {
        let me = tr.me();
        let mut s = session::<F, _>(n, t, RandomnessSource::Prss, tr, attack)?;
        let xs = s.input(0, (me == 0).then_some(x), x.len())?;
        let ys = s.input(1, (me == 1).then_some(y), y.len())?;
        let z = s.mul(&xs, &ys)?;
        let zz = s.mul(&z, &ys)?;
        let mut all = z;
        all.extend(zz);
        s.open(&all)
    })
}

/// The same computation authenticated: inputs tagged, both products with their tags, the
/// batch check, and only then the opening.
fn authenticated<F: Field>(
    n: usize,
    t: usize,
    src: RandomnessSource,
    x: &[F],
    y: &[F],
    attack: Option<Attack>,
) -> Vec<Result<Vec<F>, ProtocolError>> {
    run_in_memory_with_timeout(n, Duration::from_secs(10), |tr| {
        let me = tr.me();
        let mut s = session::<F, _>(n, t, src, tr, attack)?;
        let mut mac = s.mac_start()?;
        let xs = s.input(0, (me == 0).then_some(x), x.len())?;
        let ys = s.input(1, (me == 1).then_some(y), y.len())?;
        let x_tags = s.mac_authenticate(&mut mac, &xs)?;
        s.mac_authenticate(&mut mac, &ys)?;
        let (z, z_tags) = s.mac_mul(&mut mac, &xs, &x_tags, &ys)?;
        let (zz, _) = s.mac_mul(&mut mac, &z, &z_tags, &ys)?;
        assert_eq!(mac.pending(), 4 * x.len());
        s.mac_verify(mac)?;
        let mut all = z;
        all.extend(zz);
        s.open(&all)
    })
}

/// This party's session over a transport that applies `attack` if this party is its victim.
fn session<F: Field, T: Transport>(
    n: usize,
    t: usize,
    src: RandomnessSource,
    tr: T,
    attack: Option<Attack>,
) -> Result<Session<F, Tampering<T>>, ProtocolError> {
    let me = tr.me();
    let rule = attack.and_then(|(victim, rule)| (victim == me).then_some(rule));
    let tr = Tampering {
        inner: tr,
        rule,
        seen: 0,
    };
    let seed = me as u64 * 7919 + n as u64;
    Session::with_rng(n, t, tr, src, StdRng::seed_from_u64(seed))
}

fn plaintext<F: Field>(x: &[F], y: &[F]) -> Vec<F> {
    let z: Vec<F> = x.iter().zip(y).map(|(a, b)| *a * *b).collect();
    let zz: Vec<F> = z.iter().zip(y).map(|(a, b)| *a * *b).collect();
    [z, zz].concat()
}

#[test]
fn authenticated_products_match_plaintext_and_pass_the_check() {
    for (n, t) in COMMITTEES {
        for src in SOURCES {
            let (x, y) = inputs::<Mp127>(200, n as u64);
            let expected = plaintext(&x, &y);
            for (party, r) in authenticated(n, t, src, &x, &y, None)
                .into_iter()
                .enumerate()
            {
                assert_eq!(r.unwrap(), expected, "party {party}, n={n} t={t} {src:?}");
            }
        }
    }
    let (x, y) = inputs::<RistrettoScalar>(20, 9);
    for r in authenticated(5, 2, RandomnessSource::Prss, &x, &y, None) {
        assert_eq!(r.unwrap(), plaintext(&x, &y));
    }
}

/// Member 2 sends king 0 a wrong degree-2t share of the first product's chunk.
fn wrong_share_to_king() -> Attack {
    (
        0,
        TamperRule {
            from: 2,
            kind: TO_KING,
            nth: 1,
        },
    )
}

#[test]
fn a_wrong_share_to_the_king_makes_a_wrong_product_without_the_check() {
    let (n, t) = (5, 2);
    let (x, y) = inputs::<Mp127>(50, 1);
    let expected = plaintext(&x, &y);
    let results = semi_honest(n, t, &x, &y, Some(wrong_share_to_king()));
    // The attack works against the semi-honest multiplication: every party opens the same
    // wrong value and no error is raised anywhere.
    let first = results[0].as_ref().unwrap();
    assert_ne!(first, &expected, "the semi-honest product is wrong");
    for r in &results {
        assert_eq!(r.as_ref().unwrap(), first, "consistently wrong");
    }
}

#[test]
fn a_wrong_share_to_the_king_is_caught_by_the_check() {
    for (n, t) in COMMITTEES {
        for src in SOURCES {
            let (x, y) = inputs::<Mp127>(50, 2);
            let results = authenticated(n, t, src, &x, &y, Some(wrong_share_to_king()));
            for (party, r) in results.iter().enumerate() {
                assert!(
                    matches!(r, Err(ProtocolError::CheatingDetected { .. })),
                    "party {party} n={n} t={t} {src:?}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn a_king_broadcasting_a_wrong_value_is_caught() {
    let (n, t) = (5, 2);
    let (x, y) = inputs::<Mp127>(50, 3);
    // King 1 sends party 3 a wrong opened value: party 3's product shares are off.
    let attack = (
        3,
        TamperRule {
            from: 1,
            kind: FROM_KING,
            nth: 2,
        },
    );
    for r in authenticated(n, t, RandomnessSource::Prss, &x, &y, Some(attack)) {
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                ProtocolError::CheatingDetected { .. } | ProtocolError::Shamir(_)
            ),
            "{e:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Never a wrong result: whichever member cheats, towards whichever victim, on whichever
    /// multiplication message (a share to a king or a king's broadcast, in the tags' round or
    /// the products'), no party opens a wrong value — each either opens the right one (a
    /// corruption in a message the protocol does not use) or aborts.
    #[test]
    fn no_single_corrupted_multiplication_message_yields_a_wrong_result(
        committee in 0usize..2,
        cheater in 0usize..7,
        victim in 0usize..7,
        to_king in any::<bool>(),
        nth in 1usize..6,
        seed in any::<u64>(),
    ) {
        let (n, t) = COMMITTEES[committee];
        let (cheater, victim) = (cheater % n, victim % n);
        prop_assume!(cheater != victim);
        let (x, y) = inputs::<Mp127>(12, seed);
        let expected = plaintext(&x, &y);
        let rule = TamperRule { from: cheater, kind: if to_king { TO_KING } else { FROM_KING }, nth };
        let outcomes = authenticated(n, t, RandomnessSource::Prss, &x, &y, Some((victim, rule)));
        for opened in outcomes.into_iter().flatten() {
            prop_assert_eq!(opened, expected.clone());
        }
    }
}
