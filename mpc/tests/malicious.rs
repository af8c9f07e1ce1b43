//! Malicious sessions (security with abort, `Session::set_security`) against plaintext and
//! against the attacks they exist for: a member that sends its king a wrong degree-2t share, a
//! king that broadcasts a wrong opened value, a dealer of random values that are not bits, a
//! member that re-shares a wrong value, a PRSS key generator that gives holders different keys.
//! Each attack is first shown to succeed against the semi-honest session (a wrong result, no error
//! anywhere), then to be caught.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/tampering.rs"]
mod tampering;

use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127, RistrettoScalar};
use sharenet_mpc::protocol::{ProtocolError, RandomnessSource, Security, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory_with_timeout;
use tampering::{FROM_KING, TamperRule, Tampering};

/// The kind of a degree-2t share sent to a king (`MessageKind::ToKing`).
const TO_KING: u8 = 4;

/// How long a party waits for one message: only a hang reaches it (a party that stops closes
/// its links, and the others fail at once).
const HANG: Duration = Duration::from_secs(60);

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
    run_in_memory_with_timeout(n, HANG, |tr| {
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

/// The same computation in a malicious session: the products are recorded, and the opening
/// verifies them first.
fn authenticated<F: Field>(
    n: usize,
    t: usize,
    src: RandomnessSource,
    x: &[F],
    y: &[F],
    attack: Option<Attack>,
) -> Vec<Result<Vec<F>, ProtocolError>> {
    run_in_memory_with_timeout(n, HANG, |tr| {
        let me = tr.me();
        let mut s = session::<F, _>(n, t, src, tr, attack)?;
        s.set_security(Security::Malicious)?;
        let xs = s.input(0, (me == 0).then_some(x), x.len())?;
        let ys = s.input(1, (me == 1).then_some(y), y.len())?;
        let z = s.mul(&xs, &ys)?;
        let zz = s.mul(&z, &ys)?;
        assert_eq!(s.pending_verification(), 2 * x.len());
        let mut all = z;
        all.extend(zz);
        let opened = s.open(&all)?;
        assert_eq!(s.pending_verification(), 0);
        Ok(opened)
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

// ---- Comparisons: the random bits and the masked openings they depend on ----

/// The kinds of a dealt random value, an opening to all and a PRSS key.
const RANDOM_DEAL: u8 = 10;
const OPEN: u8 = 6;
const PRSS_KEYS: u8 = 2;
/// Bit length of the compared values.
const BITS: u32 = 32;

fn encode(v: i64) -> Mp127 {
    if v >= 0 {
        Mp127::from_u64(v.unsigned_abs())
    } else {
        Mp127::ZERO - Mp127::from_u64(v.unsigned_abs())
    }
}

/// Signed values well inside `BITS` bits, every fourth pair equal.
fn signed_pairs(len: usize, seed: u64) -> (Vec<i64>, Vec<i64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let bound = 1i64 << (BITS - 3);
    let a: Vec<i64> = (0..len).map(|_| rng.random_range(-bound..bound)).collect();
    let b = a
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if i % 4 == 0 {
                *v
            } else {
                rng.random_range(-bound..bound)
            }
        })
        .collect();
    (a, b)
}

/// `[a < b]` then `[a == b]` for every pair, in plaintext.
fn compared(a: &[i64], b: &[i64]) -> Vec<Mp127> {
    let lt = a
        .iter()
        .zip(b)
        .map(|(x, y)| Mp127::from_u64(u64::from(x < y)));
    let eq = a
        .iter()
        .zip(b)
        .map(|(x, y)| Mp127::from_u64(u64::from(x == y)));
    lt.chain(eq).collect()
}

/// Every party's opened `lt ++ eq` (or its error), at a security level, under an attack.
fn comparisons(
    (n, t): (usize, usize),
    src: RandomnessSource,
    security: Security,
    (a, b): (&[i64], &[i64]),
    attack: Option<Attack>,
) -> Vec<Result<Vec<Mp127>, ProtocolError>> {
    let a: Vec<Mp127> = a.iter().map(|v| encode(*v)).collect();
    let b: Vec<Mp127> = b.iter().map(|v| encode(*v)).collect();
    run_in_memory_with_timeout(n, HANG, |tr| {
        let me = tr.me();
        let mut s = session::<Mp127, _>(n, t, src, tr, attack)?;
        s.set_security(security)?;
        let xs = s.input(0, (me == 0).then_some(&a[..]), a.len())?;
        let ys = s.input(1, (me == 1).then_some(&b[..]), b.len())?;
        let mut out = s.lt(&xs, &ys, BITS)?;
        out.extend(s.eq(&xs, &ys, BITS)?);
        s.open(&out)
    })
}

#[test]
fn malicious_comparisons_match_plaintext() {
    for (n, t) in COMMITTEES {
        for src in SOURCES {
            let (a, b) = signed_pairs(40, n as u64);
            let expected = compared(&a, &b);
            let results = comparisons((n, t), src, Security::Malicious, (&a, &b), None);
            for (party, r) in results.into_iter().enumerate() {
                assert_eq!(r.unwrap(), expected, "party {party}, n={n} {src:?}");
            }
        }
    }
}

/// Member 2 corrupts the first share it sends king 0 (n = 3: the XOR of the random bits'
/// dealt values), so some "random bits" are not bits.
fn corrupted_bit_product() -> Attack {
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
fn a_corrupted_random_bit_makes_a_semi_honest_comparison_wrong() {
    let (a, b) = signed_pairs(60, 5);
    let expected = compared(&a, &b);
    let results = comparisons(
        (3, 1),
        RandomnessSource::Prss,
        Security::SemiHonest,
        (&a, &b),
        Some(corrupted_bit_product()),
    );
    let first = results[0].as_ref().unwrap();
    assert_ne!(
        first, &expected,
        "the attack changes the semi-honest result"
    );
    for r in &results {
        assert_eq!(r.as_ref().unwrap(), first, "and nobody notices");
    }
    let results = comparisons(
        (3, 1),
        RandomnessSource::Prss,
        Security::Malicious,
        (&a, &b),
        Some(corrupted_bit_product()),
    );
    for (party, r) in results.iter().enumerate() {
        assert!(
            matches!(r, Err(ProtocolError::CheatingDetected { .. })),
            "party {party}: {r:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Never a wrong comparison: whichever member corrupts whichever message (a share to a
    /// king, a king's broadcast, a dealt random value, a share of a masked opening) towards
    /// whichever victim, no party opens a wrong result — it opens the right one or aborts.
    #[test]
    fn no_single_corrupted_message_yields_a_wrong_comparison(
        committee in 0usize..3,
        cheater in 0usize..7,
        victim in 0usize..7,
        kind in prop::sample::select(vec![TO_KING, FROM_KING, RANDOM_DEAL, OPEN]),
        nth in 1usize..12,
        seed in any::<u64>(),
    ) {
        let (n, t) = COMMITTEES[committee];
        let (cheater, victim) = (cheater % n, victim % n);
        prop_assume!(cheater != victim);
        let (a, b) = signed_pairs(8, seed);
        let expected = compared(&a, &b);
        let rule = TamperRule { from: cheater, kind, nth };
        let outcomes = comparisons(
            (n, t), RandomnessSource::Prss, Security::Malicious, (&a, &b), Some((victim, rule)),
        );
        for opened in outcomes.into_iter().flatten() {
            prop_assert_eq!(opened, expected.clone());
        }
    }
}

// ---- Re-sharing: a member that re-shares a wrong value ----

/// Shares `x` at the committee points 1..=4 (t = 1), runs a session of the members at points 1,
/// 2 and 4 (so the values are re-shared), and opens the re-shared values; member `cheater`
/// re-shares its share plus one.
fn reshared(
    security: Security,
    x: &[Mp127],
    cheater: Option<usize>,
) -> Vec<Result<Vec<Mp127>, ProtocolError>> {
    let (n, t, live) = (3, 1, [1u64, 2, 4]);
    let mut rng = StdRng::seed_from_u64(77);
    let stored = sharenet_mpc::shamir::share_with_degree(4, t, x, &mut rng);
    run_in_memory_with_timeout(n, HANG, |tr| {
        let me = tr.me();
        let mut s = session::<Mp127, _>(n, t, RandomnessSource::Prss, tr, None)?;
        s.set_security(security)?;
        let mut mine = stored[live[me] as usize - 1].clone();
        if cheater == Some(me) {
            for v in &mut mine {
                *v += Mp127::ONE;
            }
        }
        let fresh = s.reshare_from_points(&live, &mine)?;
        s.open(&fresh)
    })
}

#[test]
fn a_member_that_reshares_a_wrong_value_is_caught() {
    let (x, _) = inputs::<Mp127>(30, 4);
    for r in reshared(Security::Malicious, &x, None) {
        assert_eq!(r.unwrap(), x, "honest re-sharing");
    }
    // Semi-honest: every party opens the same shifted values, and no check fails.
    let shifted = reshared(Security::SemiHonest, &x, Some(2));
    let first = shifted[0].as_ref().unwrap();
    assert_ne!(first, &x);
    for r in &shifted {
        assert_eq!(r.as_ref().unwrap(), first);
    }
    for cheater in 0..3 {
        for (party, r) in reshared(Security::Malicious, &x, Some(cheater))
            .iter()
            .enumerate()
        {
            assert!(
                matches!(r, Err(ProtocolError::CheatingDetected { .. })),
                "cheater {cheater}, party {party}: {r:?}"
            );
        }
    }
}

// ---- PRSS keys: a generator that gives two holders different keys ----

#[test]
fn a_prss_key_given_differently_to_two_holders_is_caught() {
    for (n, t) in COMMITTEES {
        // Party 0 generates the keys of every set it is outside of; party 2 receives one of
        // them corrupted.
        let attack = (
            2,
            TamperRule {
                from: 0,
                kind: PRSS_KEYS,
                nth: 1,
            },
        );
        let results = run_in_memory_with_timeout(n, HANG, |tr| {
            let mut s = session::<Mp127, _>(n, t, RandomnessSource::Prss, tr, Some(attack))?;
            s.set_security(Security::Malicious)?;
            // A member that does not hold the key passes the confirmation, and is stopped by
            // the others' abort at its next step.
            let r = s.random_shares(1)?;
            s.open(&r)
        });
        assert!(results.iter().all(Result::is_err), "n={n}: {results:?}");
        assert!(
            matches!(results[2], Err(ProtocolError::CheatingDetected { .. })),
            "n={n}: {:?}",
            results[2]
        );
    }
}

// ---- Outputs: nothing leaves before the check ----

/// Counts the output shares (`OpenTo` messages) an endpoint sends.
struct CountingOutputs<T> {
    inner: T,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// The kind of a share opened to one receiver.
const OPEN_TO: u8 = 7;

impl<T: Transport> Transport for CountingOutputs<T> {
    fn me(&self) -> usize {
        self.inner.me()
    }
    fn endpoints(&self) -> usize {
        self.inner.endpoints()
    }
    fn send(
        &mut self,
        to: usize,
        message: Vec<u8>,
    ) -> Result<(), sharenet_mpc::transport::TransportError> {
        if message.get(1) == Some(&OPEN_TO) {
            self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.send(to, message)
    }
    fn recv(&mut self, from: usize) -> Result<Vec<u8>, sharenet_mpc::transport::TransportError> {
        self.inner.recv(from)
    }
    fn stats(&self) -> sharenet_mpc::transport::TransportStats {
        self.inner.stats()
    }
}

/// Members `0..n` share `x` and `y` (from members 0 and 1), multiply them in a session at
/// `security` and open the products to the outside receiver `n`; the receiver returns what it
/// collected. `member` wraps each member's transport; `on_error` runs on a member's session
/// after a failed step.
fn products_to_receiver<T: Transport, W: Transport>(
    (n, t): (usize, usize),
    security: Security,
    (x, y): (&[Mp127], &[Mp127]),
    attack: Option<Attack>,
    tr: T,
    member: impl FnOnce(T) -> W,
    on_error: impl FnOnce(&mut Session<Mp127, Tampering<W>>),
) -> Result<Vec<Mp127>, ProtocolError> {
    let me = tr.me();
    if me == n {
        let mut receiver = sharenet_mpc::protocol::OutsideParty::<Mp127, _>::new(n, t, tr)?;
        return receiver.receive_output(x.len()).map(|(v, _)| v);
    }
    let mut s = session::<Mp127, _>(n, t, RandomnessSource::Prss, member(tr), attack)?;
    let run = |s: &mut Session<Mp127, _>| -> Result<(), ProtocolError> {
        s.set_security(security)?;
        let xs = s.input(0, (me == 0).then_some(x), x.len())?;
        let ys = s.input(1, (me == 1).then_some(y), y.len())?;
        let z = s.mul(&xs, &ys)?;
        s.open_to(n, &z).map(|_| ())
    };
    let outcome = run(&mut s);
    if outcome.is_err() {
        on_error(&mut s);
    }
    outcome.map(|()| Vec::new())
}

#[test]
fn no_output_share_leaves_a_member_when_a_product_was_corrupted() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (n, t) = (3, 1);
    let (x, y) = inputs::<Mp127>(20, 6);
    for (security, attack) in [
        (Security::Malicious, None),
        (Security::SemiHonest, Some(wrong_share_to_king())),
        (Security::Malicious, Some(wrong_share_to_king())),
    ] {
        let sent = Arc::new(AtomicUsize::new(0));
        let results = run_in_memory_with_timeout(n + 1, HANG, |tr| {
            let counting = |inner| CountingOutputs {
                inner,
                sent: sent.clone(),
            };
            products_to_receiver((n, t), security, (&x, &y), attack, tr, counting, |_| {})
        });
        let expected: Vec<Mp127> = x.iter().zip(&y).map(|(a, b)| *a * *b).collect();
        let received = &results[n];
        match (security, attack.is_some()) {
            (Security::Malicious, true) => {
                assert_eq!(sent.load(Ordering::SeqCst), 0, "no output share was sent");
                assert!(received.is_err(), "the receiver got nothing: {received:?}");
            }
            (Security::SemiHonest, true) => {
                // The attack: the receiver accepts a wrong result.
                assert_ne!(received.as_ref().unwrap(), &expected);
            }
            _ => assert_eq!(received.as_ref().unwrap(), &expected),
        }
    }
}

#[test]
fn a_member_that_aborts_stops_the_receiver_at_once() {
    // Members that find a corrupted product abort and say so (Session::notify_abort): the
    // receiver's wait for output shares ends with `Aborted`, not at its timeout.
    let (n, t) = (3, 1);
    let (x, y) = inputs::<Mp127>(20, 8);
    let results = run_in_memory_with_timeout(n + 1, HANG, |tr| {
        products_to_receiver(
            (n, t),
            Security::Malicious,
            (&x, &y),
            Some(wrong_share_to_king()),
            tr,
            |tr| tr,
            |s| s.notify_abort(&(0..=n).collect::<Vec<_>>()),
        )
    });
    for (party, r) in results[..n].iter().enumerate() {
        assert!(
            matches!(
                r,
                Err(ProtocolError::CheatingDetected { .. } | ProtocolError::Aborted { .. })
            ),
            "party {party}: {r:?}"
        );
    }
    assert!(
        matches!(results[n], Err(ProtocolError::Aborted { .. })),
        "the receiver: {:?}",
        results[n]
    );
}
