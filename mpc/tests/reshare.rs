//! Re-sharing from a live subset of a committee, checked against plaintext: values are shared with
//! degree t at the committee's points 1..N, only some members run the session, and after
//! `reshare_from_points` the session's openings and products give the plaintext results (a
//! compiled query on re-shared columns is tested in `query/tests/reshare.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127, RistrettoScalar};
use sharenet_mpc::protocol::{PointsError, ProtocolError, RandomnessSource, Session};
use sharenet_mpc::shamir::{LagrangeCache, ShamirError, reconstruct_checked, share_with_degree};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory;

fn random_vec<F: Field>(len: usize, rng: &mut StdRng) -> Vec<F> {
    (0..len).map(|_| F::random(rng)).collect()
}

/// What one live party saw: the re-shared shares of x, the opened x, the opened x·y, and the
/// rounds and bytes the re-sharing cost it.
struct LiveView<F> {
    reshared_x: Vec<F>,
    opened_x: Vec<F>,
    opened_xy: Vec<F>,
    reshare_rounds: u64,
    reshare_bytes: u64,
}

/// Shares `x` and `y` with degree `t` among a committee of `big_n` (points 1..N), runs a session
/// among the `live` members (committee points, ascending), re-shares both vectors in one call,
/// opens x and opens x·y.
fn run_live<F: Field>(
    big_n: usize,
    t: usize,
    live: &[u64],
    x: &[F],
    y: &[F],
    src: RandomnessSource,
    seed: u64,
) -> Vec<LiveView<F>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let stored_x = share_with_degree(big_n, t, x, &mut rng);
    let stored_y = share_with_degree(big_n, t, y, &mut rng);
    let n = live.len();
    run_in_memory(n, |tr| {
        let me = tr.me();
        let rng = StdRng::seed_from_u64(seed ^ ((me as u64 + 1) * 0x9e37));
        let mut s = Session::<F, _>::with_rng(n, t, tr, src, rng).unwrap();
        let member = live[me] as usize - 1;
        let columns = vec![stored_x[member].clone(), stored_y[member].clone()];
        let before = s.stats();
        let reshared = s.reshare_columns_from_points(live, &columns).unwrap();
        let after = s.stats();
        let (rx, ry) = (&reshared[0], &reshared[1]);
        let opened_x = s.open(rx).unwrap();
        let xy = s.mul(rx, ry).unwrap();
        let opened_xy = s.open(&xy).unwrap();
        LiveView {
            reshared_x: rx.clone(),
            opened_x,
            opened_xy,
            reshare_rounds: after.rounds - before.rounds,
            reshare_bytes: after.transport.bytes_sent - before.transport.bytes_sent,
        }
    })
}

/// Runs [`run_live`] and checks everything against plaintext: openings, products, and that the
/// re-shared shares lie on polynomials of degree t at the session's points 1..n.
fn check_live<F: Field>(big_n: usize, t: usize, live: &[u64], len: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(1000));
    let x: Vec<F> = random_vec(len, &mut rng);
    let y: Vec<F> = random_vec(len, &mut rng);
    let products: Vec<F> = x.iter().zip(&y).map(|(a, b)| *a * *b).collect();
    let src = if seed.is_multiple_of(2) {
        RandomnessSource::Prss
    } else {
        RandomnessSource::HyperInvertible
    };
    let views = run_live(big_n, t, live, &x, &y, src, seed);
    let n = live.len();
    let identity = live.iter().zip(1u64..).all(|(&p, s)| p == s);
    for (party, v) in views.iter().enumerate() {
        let what = format!("N={big_n} t={t} live={live:?} party {party}");
        assert_eq!(v.opened_x, x, "{what}");
        assert_eq!(v.opened_xy, products, "{what}");
        if identity {
            assert_eq!((v.reshare_rounds, v.reshare_bytes), (0, 0), "{what}");
        } else {
            assert_eq!(v.reshare_rounds, 1, "{what}");
            // Two columns of `len` elements to each of the n − 1 others, plus framing.
            assert!(
                v.reshare_bytes >= ((n - 1) * 2 * len * F::BYTES) as u64,
                "{what}"
            );
        }
    }
    // The re-shared shares form a degree-t sharing at points 1..n (checked over all n shares).
    let parties: Vec<usize> = (0..n).collect();
    let shares: Vec<&[F]> = views.iter().map(|v| v.reshared_x.as_slice()).collect();
    let mut cache = LagrangeCache::new(n);
    assert_eq!(
        reconstruct_checked(&mut cache, n, t, &parties, &shares).unwrap(),
        x
    );
}

#[test]
fn live_subsets_reshare_to_the_plaintext_values_and_products() {
    let cases: &[(usize, usize, &[u64])] = &[
        // N = 5, t = 1: any 3 or 4 members, contiguous or not.
        (5, 1, &[1, 3, 4, 5]),
        (5, 1, &[2, 3, 4]),
        (5, 1, &[1, 2, 5]),
        (5, 1, &[2, 4, 5]),
        (5, 1, &[1, 2, 3, 4]),
        (5, 1, &[1, 2, 3]),
        (5, 1, &[1, 2, 3, 4, 5]),
        // N = 5, t = 2 and N = 7, t = 3: 2t + 1 = N, only the full committee qualifies.
        (5, 2, &[1, 2, 3, 4, 5]),
        (7, 3, &[1, 2, 3, 4, 5, 6, 7]),
        // Non-identity subsets at t = 2 and t = 3 need larger committees.
        (7, 2, &[1, 2, 4, 6, 7]),
        (7, 2, &[2, 3, 4, 5, 6, 7]),
        (9, 3, &[1, 2, 3, 5, 6, 8, 9]),
        (9, 3, &[2, 3, 4, 5, 6, 7, 8, 9]),
    ];
    for (i, &(big_n, t, live)) in cases.iter().enumerate() {
        check_live::<Mp127>(big_n, t, live, 200, i as u64);
    }
}

#[test]
fn resharing_is_generic_over_the_field_and_handles_short_vectors() {
    check_live::<RistrettoScalar>(5, 1, &[1, 3, 4, 5], 20, 3);
    for len in [0usize, 1, 2] {
        check_live::<Mp127>(5, 1, &[2, 4, 5], len, 10 + len as u64);
    }
    // Longer than one message (2^16 elements): dealt block by block.
    check_live::<Mp127>(5, 1, &[1, 3, 4], 70_000, 20);
}

#[test]
fn vectors_longer_than_the_dealing_window_reshare_correctly() {
    // 17 messages of 2^16 elements and a bit: more blocks than a party deals ahead (16).
    let len = 17 * 65_536 + 100;
    let mut rng = StdRng::seed_from_u64(8);
    let x: Vec<Mp127> = random_vec(len, &mut rng);
    let live = [2u64, 3, 5];
    let stored = share_with_degree(5, 1, &x, &mut rng);
    let results = run_in_memory(3, |tr| {
        let me = tr.me();
        let mut s = Session::<Mp127, _>::new(3, 1, tr, RandomnessSource::Prss).unwrap();
        let reshared = s
            .reshare_from_points(&live, &stored[live[me] as usize - 1])
            .unwrap();
        s.open(&reshared).unwrap() == x
    });
    assert_eq!(results, vec![true; 3]);
}

#[test]
fn identity_is_an_optimisation_and_resharing_refreshes_the_shares() {
    let mut rng = StdRng::seed_from_u64(42);
    let x: Vec<Mp127> = random_vec(50, &mut rng);
    // Live = 1..n: every party's shares come back unchanged, no message sent.
    let views = run_live(5, 1, &[1, 2, 3, 4], &x, &x, RandomnessSource::Prss, 1);
    let stored = share_with_degree(5, 1, &x, &mut StdRng::seed_from_u64(1));
    for (party, v) in views.iter().enumerate() {
        assert_eq!(v.reshared_x, stored[party]);
        assert_eq!((v.reshare_rounds, v.reshare_bytes), (0, 0));
    }
    // Live = {1, 2, 3, 5}: parties 0..3 keep their points, yet get fresh shares.
    let views = run_live(5, 1, &[1, 2, 3, 5], &x, &x, RandomnessSource::Prss, 1);
    for (party, v) in views.iter().enumerate() {
        assert_ne!(v.reshared_x, stored[party]);
        assert_eq!(v.reshare_rounds, 1);
        assert_eq!(v.opened_x, x);
    }
}

#[test]
fn bad_points_are_typed_errors_at_every_party_without_communication() {
    let bad: &[(&[u64], PointsError)] = &[
        (&[1, 2], PointsError::Count { parties: 3, got: 2 }),
        (&[1, 2, 3, 4], PointsError::Count { parties: 3, got: 4 }),
        (&[0, 2, 3], PointsError::Zero { position: 0 }),
        (&[1, 3, 3], PointsError::NotAscending { position: 2 }),
        (&[1, 4, 3], PointsError::NotAscending { position: 2 }),
        (&[5, 1, 3], PointsError::NotAscending { position: 1 }),
    ];
    for (points, expected) in bad {
        let results = run_in_memory(3, |tr| {
            let mut s = Session::<Mp127, _>::new(3, 1, tr, RandomnessSource::Prss).unwrap();
            let err = s.reshare_from_points(points, &[Mp127::ONE; 4]).unwrap_err();
            (err, s.stats().transport.bytes_sent)
        });
        for (err, _) in &results {
            assert_eq!(err, &ProtocolError::Points(expected.clone()), "{points:?}");
        }
        // PRSS set-up is the only traffic: nothing was sent for the refused re-sharing.
        let prss_only = run_in_memory(3, |tr| {
            let s = Session::<Mp127, _>::new(3, 1, tr, RandomnessSource::Prss).unwrap();
            s.stats().transport.bytes_sent
        });
        let sent: Vec<u64> = results.iter().map(|r| r.1).collect();
        assert_eq!(sent, prss_only);
    }
}

#[test]
fn fewer_than_2t_plus_1_live_members_cannot_form_a_session() {
    // N = 5, t = 2 with one member down: 4 < 2t + 1.
    let results = run_in_memory(4, |tr| {
        Session::<Mp127, _>::new(4, 2, tr, RandomnessSource::HyperInvertible).unwrap_err()
    });
    for e in results {
        assert!(
            matches!(
                e,
                ProtocolError::Shamir(ShamirError::InvalidParameters { n: 4, t: 2, .. })
            ),
            "{e}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn any_live_subset_of_at_least_2t_plus_1_reshares_correctly(
        big_n in 3usize..10,
        t_pick in any::<u64>(),
        subset_pick in any::<u64>(),
        len in 1usize..40,
        seed in any::<u64>(),
    ) {
        let t = 1 + (t_pick as usize) % ((big_n - 1) / 2);
        // A pseudo-random subset of size in 2t+1..=N, in committee order.
        let mut members: Vec<u64> = (1..=big_n as u64).collect();
        let mut state = subset_pick;
        for i in (1..big_n).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            members.swap(i, (state >> 33) as usize % (i + 1));
        }
        let size = 2 * t + 1 + (state as usize >> 7) % (big_n - 2 * t);
        members.truncate(size);
        members.sort_unstable();
        check_live::<Mp127>(big_n, t, &members, len, seed);
    }
}
