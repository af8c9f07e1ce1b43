//! Every protocol checked against plaintext on random inputs, for (n, t) in {(3,1), (5,2), (7,3)},
//! over the in-memory transport (and TCP once), with both sources of double sharings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127, RistrettoScalar};
use sharenet_mpc::protocol::{
    Channel, MessageKind, OutsideParty, ProtocolError, RandomnessSource, Session,
};
use sharenet_mpc::shamir::ShamirParams;
use sharenet_mpc::shamir::{LagrangeCache, reconstruct_checked};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::{MemoryTransport, run_in_memory};
use sharenet_mpc::transport::tcp::run_on_loopback;
use sharenet_mpc::vss::batch::{self, BatchVerifyError, DealtShares};

const COMMITTEES: [(usize, usize); 3] = [(3, 1), (5, 2), (7, 3)];
const SOURCES: [RandomnessSource; 2] = [RandomnessSource::Prss, RandomnessSource::HyperInvertible];

fn random_vec<F: Field>(len: usize, rng: &mut StdRng) -> Vec<F> {
    (0..len).map(|_| F::random(rng)).collect()
}

fn session<F: Field, T: Transport>(
    n: usize,
    t: usize,
    tr: T,
    src: RandomnessSource,
) -> Session<F, T> {
    let seed = tr.me() as u64 * 7919 + n as u64;
    Session::with_rng(n, t, tr, src, StdRng::seed_from_u64(seed)).unwrap()
}

/// Party 0 inputs x, party 1 inputs y; everyone multiplies, takes inner products, opens.
fn mul_dot_open<F: Field>(n: usize, t: usize, src: RandomnessSource, len: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x: Vec<F> = random_vec(len, &mut rng);
    let y: Vec<F> = random_vec(len, &mut rng);
    let results = run_in_memory(n, |tr| {
        let mut s = session::<F, _>(n, t, tr, src);
        let me = s.me();
        let xs = s.input(0, (me == 0).then_some(x.as_slice()), len).unwrap();
        let ys = s.input(1, (me == 1).then_some(y.as_slice()), len).unwrap();
        let products = s.mul(&xs, &ys).unwrap();
        let squares = s.mul(&products, &products).unwrap();
        let half = len / 2;
        let dots = s
            .dot(&[&xs[..half], &xs[half..]], &[&ys[..half], &ys[half..]])
            .unwrap();
        let mut all = products;
        all.extend(squares);
        all.extend(dots);
        s.open(&all).unwrap()
    });
    let products: Vec<F> = x.iter().zip(&y).map(|(a, b)| *a * *b).collect();
    let mut expected = products.clone();
    expected.extend(products.iter().map(|p| *p * *p));
    let half = len / 2;
    expected.push(F::dot(&x[..half], &y[..half]));
    expected.push(F::dot(&x[half..], &y[half..]));
    for (party, opened) in results.iter().enumerate() {
        assert_eq!(opened, &expected, "party {party} of n={n} t={t} {src:?}");
    }
}

#[test]
fn multiplication_inner_product_and_opening_match_plaintext() {
    for (n, t) in COMMITTEES {
        for src in SOURCES {
            mul_dot_open::<Mp127>(n, t, src, 1000, n as u64);
        }
    }
}

#[test]
fn protocols_are_generic_over_the_field() {
    mul_dot_open::<RistrettoScalar>(3, 1, RandomnessSource::Prss, 50, 1);
    mul_dot_open::<RistrettoScalar>(5, 2, RandomnessSource::HyperInvertible, 50, 2);
}

#[test]
fn gates_fewer_than_parties_and_empty_batches_work() {
    for len in [0usize, 1, 2, 6] {
        mul_dot_open::<Mp127>(7, 3, RandomnessSource::Auto, len.max(2), len as u64);
    }
    let results = run_in_memory(3, |tr| {
        let mut s = session::<Mp127, _>(3, 1, tr, RandomnessSource::Prss);
        let empty = s.mul(&[], &[]).unwrap();
        s.open(&empty).unwrap()
    });
    assert!(results.iter().all(Vec::is_empty));
}

#[test]
fn double_sharings_have_the_right_degrees_and_agree() {
    for (n, t) in COMMITTEES {
        for src in SOURCES {
            let batches = run_in_memory(n, |tr| {
                let mut s = session::<Mp127, _>(n, t, tr, src);
                s.double_randoms(100).unwrap()
            });
            let parties: Vec<usize> = (0..n).collect();
            let mut cache = LagrangeCache::new(n);
            let t_views: Vec<&[Mp127]> = batches.iter().map(|b| b.r_t.as_slice()).collect();
            let two_t_views: Vec<&[Mp127]> = batches.iter().map(|b| b.r_2t.as_slice()).collect();
            let r = reconstruct_checked(&mut cache, n, t, &parties, &t_views).unwrap();
            let r2 = reconstruct_checked(&mut cache, n, 2 * t, &parties, &two_t_views).unwrap();
            assert_eq!(r, r2, "n={n} t={t} {src:?}");
            // Degree exactly 2t: not all of them lie on a degree-t polynomial (t > 0).
            assert!(reconstruct_checked(&mut cache, n, t, &parties, &two_t_views).is_err());
            // Random: no repeats among 100 values of a 127-bit field.
            let mut sorted = r.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 100);
        }
    }
}

#[test]
fn outside_dealer_and_outside_receiver() {
    for (n, t) in COMMITTEES {
        let mut rng = StdRng::seed_from_u64(99);
        let a: Vec<Mp127> = random_vec(64, &mut rng);
        let b: Vec<Mp127> = random_vec(64, &mut rng);
        let client = n;
        let results = run_in_memory(n + 1, |tr| {
            if tr.me() == client {
                let mut c = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
                c.deal(&a).unwrap();
                c.deal(&b).unwrap();
                let (values, faulty) = c.receive_output(64).unwrap();
                assert!(faulty.is_empty());
                return Some(values);
            }
            let mut s = session::<Mp127, _>(n, t, tr, RandomnessSource::Auto);
            let sa = s.input(client, None, 64).unwrap();
            let sb = s.input(client, None, 64).unwrap();
            let prod = s.mul(&sa, &sb).unwrap();
            assert_eq!(s.open_to(client, &prod).unwrap(), None);
            // Opening to a computing party returns the values only there.
            let at_one = s.open_to(1, &sa).unwrap();
            assert_eq!(at_one.is_some(), s.me() == 1);
            if let Some(v) = at_one {
                assert_eq!(v, a);
            }
            None
        });
        let expected: Vec<Mp127> = a.iter().zip(&b).map(|(x, y)| *x * *y).collect();
        assert_eq!(results[client].as_ref().unwrap(), &expected);
    }
}

#[test]
fn outside_receiver_corrects_and_names_a_lying_party_when_n_is_at_least_3t_plus_1() {
    // n = 4, t = 1: party 2 sends a wrong output share; the client still gets the right value
    // and learns who lied.
    let (n, t) = (4, 1);
    let secret = vec![Mp127::from_u64(4242), Mp127::from_u64(7)];
    let results = run_in_memory(n + 1, |tr| {
        if tr.me() == n {
            let mut c = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            c.deal(&secret).unwrap();
            return Some(c.receive_output(2).unwrap());
        }
        let mut s = session::<Mp127, _>(n, t, tr, RandomnessSource::Prss);
        let mut shares = s.input(n, None, 2).unwrap();
        if s.me() == 2 {
            shares[1] += Mp127::ONE;
        }
        s.open_to(n, &shares).unwrap();
        None
    });
    let (values, faulty) = results[n].clone().unwrap();
    assert_eq!(values, secret);
    assert_eq!(faulty, vec![2]);
}

#[test]
fn tcp_transport_runs_the_same_protocol() {
    let (n, t) = (3, 1);
    let mut rng = StdRng::seed_from_u64(5);
    let x: Vec<Mp127> = random_vec(5000, &mut rng);
    let results = run_on_loopback(n, |tr| {
        let mut s = session::<Mp127, _>(n, t, tr, RandomnessSource::Prss);
        let me = s.me();
        let xs = s
            .input(0, (me == 0).then_some(x.as_slice()), x.len())
            .unwrap();
        let sq = s.mul(&xs, &xs).unwrap();
        s.open(&sq).unwrap()
    })
    .unwrap();
    let expected: Vec<Mp127> = x.iter().map(|v| *v * *v).collect();
    assert!(results.iter().all(|r| r == &expected));
}

#[test]
fn invalid_parameters_are_typed_errors() {
    for (n, t) in [(4, 2), (3, 2), (2, 1), (0, 0)] {
        let mut net = MemoryTransport::network(n.max(1), std::time::Duration::from_millis(50));
        let tr = net.remove(0);
        let r = Session::<Mp127, _>::new(n, t, tr, RandomnessSource::HyperInvertible);
        assert!(matches!(r, Err(ProtocolError::Shamir(_))), "n={n} t={t}");
    }
    // A transport with too few endpoints for the committee.
    let tr = MemoryTransport::network(2, std::time::Duration::from_millis(50)).remove(0);
    let r = Session::<Mp127, _>::new(3, 1, tr, RandomnessSource::HyperInvertible);
    assert!(matches!(r, Err(ProtocolError::BadParty { .. })));
    // Mismatched operand lengths.
    let results = run_in_memory(3, |tr| {
        let mut s = session::<Mp127, _>(3, 1, tr, RandomnessSource::Prss);
        s.mul(&[Mp127::ONE; 3], &[Mp127::ONE; 2]).err()
    });
    assert!(
        results
            .iter()
            .all(|e| matches!(e, Some(ProtocolError::LengthMismatch { left: 3, right: 2 })))
    );
}

/// An outside dealer deals a batch (optionally tampering with one share) and the committee runs
/// the batched verification; returns each party's verdict.
fn committee_verdicts(
    n: usize,
    t: usize,
    tamper: Option<(usize, usize)>,
) -> Vec<Result<(), BatchVerifyError>> {
    let m = 300;
    let mut rng = StdRng::seed_from_u64(n as u64 + 77);
    let values: Vec<Mp127> = random_vec(m, &mut rng);
    let params = ShamirParams::honest_majority(n, t).unwrap();
    let mut dealt = batch::deal(params, &values, &mut rng);
    if let Some((party, index)) = tamper {
        dealt[party].shares[index] += Mp127::ONE;
    }
    let results = run_in_memory(n + 1, |tr| {
        if tr.me() == n {
            let mut channel = Channel::new::<Mp127>(tr);
            for (party, d) in dealt.iter().enumerate() {
                let mut message = d.shares.clone();
                message.push(d.mask);
                channel
                    .send_elements(party, MessageKind::Input, &message)
                    .unwrap();
            }
            return None;
        }
        let mut s = session::<Mp127, _>(n, t, tr, RandomnessSource::Auto);
        let mut received = s.input(n, None, m + 1).unwrap();
        let mask = received.pop().unwrap();
        Some(s.verify_dealing(
            b"dataset 1 batch 0",
            &DealtShares {
                shares: received,
                mask,
            },
        ))
    });
    results.into_iter().flatten().collect()
}

#[test]
fn committee_accepts_an_honest_dealer_and_catches_a_cheating_one() {
    for (n, t) in COMMITTEES {
        assert!(
            committee_verdicts(n, t, None).iter().all(Result::is_ok),
            "n={n}"
        );
        for victim in [0, n - 1] {
            let verdicts = committee_verdicts(n, t, Some((victim, 123)));
            assert_eq!(verdicts.len(), n);
            for v in verdicts {
                assert_eq!(
                    v,
                    Err(BatchVerifyError::Inconsistent { parties: n, t }),
                    "n={n}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_circuits_match_plaintext(
        committee in 0usize..3,
        len in 1usize..300,
        seed in any::<u64>(),
        hyper in any::<bool>(),
    ) {
        let (n, t) = COMMITTEES[committee];
        let src = if hyper { RandomnessSource::HyperInvertible } else { RandomnessSource::Prss };
        let mut rng = StdRng::seed_from_u64(seed);
        let x: Vec<Mp127> = random_vec(len, &mut rng);
        let y: Vec<Mp127> = random_vec(len, &mut rng);
        // (x·y + x)·y, with inputs from two different parties.
        let results = run_in_memory(n, |tr| {
            let mut s = session::<Mp127, _>(n, t, tr, src);
            let me = s.me();
            let xs = s.input(n - 1, (me == n - 1).then_some(x.as_slice()), len).unwrap();
            let ys = s.input(0, (me == 0).then_some(y.as_slice()), len).unwrap();
            let xy = s.mul(&xs, &ys).unwrap();
            let sum: Vec<Mp127> = xy.iter().zip(&xs).map(|(a, b)| *a + *b).collect();
            let out = s.mul(&sum, &ys).unwrap();
            s.open(&out).unwrap()
        });
        let expected: Vec<Mp127> = x.iter().zip(&y).map(|(a, b)| (*a * *b + *a) * *b).collect();
        for r in results {
            prop_assert_eq!(&r, &expected);
        }
    }
}
