#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Committee selection: determinism under shuffles, the closest-n rule, typed errors.

use proptest::prelude::*;
use sharenet_dht::committee::{MAX_COMMITTEE, MAX_POOL_NAME};
use sharenet_dht::{Committee, CommitteeError, Key, NodeInfo, select_committee, verify_committee};

fn node(i: u32, salt: u64) -> NodeInfo {
    let seed = blake3::hash(format!("node {i} salt {salt}").as_bytes());
    let mut account = [0u8; 20];
    account.copy_from_slice(&blake3::hash(seed.as_bytes()).as_bytes()[..20]);
    NodeInfo {
        account,
        peer_key: *seed.as_bytes(),
        network_address: format!("/ip4/10.0.0.{}/tcp/4001", i % 250),
    }
}

fn nodes(count: u32, salt: u64) -> Vec<NodeInfo> {
    (0..count).map(|i| node(i, salt)).collect()
}

/// The rule, computed independently: blake3 key derivation, XOR, sort.
fn brute_force(set: &[NodeInfo], pool: &str, n: usize) -> Vec<[u8; 32]> {
    let pk = {
        let mut h = blake3::Hasher::new_derive_key("sharenet 2026-11 dht pool key v1");
        h.update(pool.as_bytes());
        *h.finalize().as_bytes()
    };
    let mut v: Vec<([u8; 32], [u8; 32])> = set
        .iter()
        .map(|nd| {
            let mut h = blake3::Hasher::new_derive_key("sharenet 2026-11 dht node key v1");
            h.update(&nd.peer_key);
            let k = *h.finalize().as_bytes();
            let mut d = [0u8; 32];
            for i in 0..32 {
                d[i] = k[i] ^ pk[i];
            }
            (d, nd.peer_key)
        })
        .collect();
    v.sort();
    v.into_iter().take(n).map(|(_, p)| p).collect()
}

#[test]
fn committee_is_the_n_closest_in_distance_order() {
    let set = nodes(40, 1);
    let c = select_committee(12, &set, "hospitals-eu", 7).unwrap();
    assert_eq!(c.len(), 7);
    assert_eq!(c.epoch, 12);
    assert_eq!(c.pool, "hospitals-eu");
    assert_eq!(c.pool_key, sharenet_dht::Key::for_pool("hospitals-eu"));
    assert_eq!(c.peer_keys(), brute_force(&set, "hospitals-eu", 7));
    let members = c.members();
    for w in members.windows(2) {
        assert!(w[0].distance < w[1].distance);
    }
    // Every non-member is farther than the farthest member.
    let far = members.last().unwrap().distance;
    for nd in &set {
        if c.party_index(&nd.peer_key).is_none() {
            let d = sharenet_dht::Key::for_node(&nd.peer_key).distance(&c.pool_key);
            assert!(d > far);
        }
    }
    // Party indices follow the order; accounts line up with peer keys.
    for (i, m) in members.iter().enumerate() {
        assert_eq!(c.party_index(&m.node.peer_key), Some(i));
        assert_eq!(c.accounts()[i], m.node.account);
    }
    assert_eq!(c.threshold(), 3);
    assert!(!c.is_empty());
}

#[test]
fn different_pools_get_different_committees() {
    let set = nodes(50, 2);
    let a = select_committee(1, &set, "pool-a", 5).unwrap();
    let b = select_committee(1, &set, "pool-b", 5).unwrap();
    assert_ne!(a.peer_keys(), b.peer_keys());
}

#[test]
fn whole_set_when_n_equals_the_set_size() {
    let set = nodes(5, 3);
    let c = select_committee(1, &set, "p", 5).unwrap();
    let mut got = c.peer_keys();
    got.sort();
    let mut all: Vec<_> = set.iter().map(|n| n.peer_key).collect();
    all.sort();
    assert_eq!(got, all);
}

#[test]
fn typed_errors() {
    let set = nodes(5, 4);
    assert_eq!(
        select_committee(9, &set, "p", 6),
        Err(CommitteeError::NotEnoughNodes {
            requested: 6,
            available: 5,
            epoch: 9
        })
    );
    assert_eq!(
        select_committee(9, &set, "p", 0),
        Err(CommitteeError::EmptyCommittee)
    );
    assert!(matches!(
        select_committee(9, &nodes(70, 4), "p", MAX_COMMITTEE + 1),
        Err(CommitteeError::TooLarge {
            requested: 65,
            max: 64
        })
    ));
    assert!(matches!(
        select_committee(9, &set, "", 3),
        Err(CommitteeError::BadPoolName { len: 0, .. })
    ));
    let long = "x".repeat(MAX_POOL_NAME + 1);
    assert!(matches!(
        select_committee(9, &set, &long, 3),
        Err(CommitteeError::BadPoolName { len: 129, .. })
    ));
    assert!(select_committee(9, &set, &"x".repeat(MAX_POOL_NAME), 3).is_ok());

    let mut dup_key = set.clone();
    let mut twin = set[2].clone();
    twin.account = [0xee; 20];
    dup_key.push(twin);
    assert!(matches!(
        select_committee(9, &dup_key, "p", 3),
        Err(CommitteeError::DuplicatePeerKey { .. })
    ));
    let mut dup_account = set.clone();
    let mut twin = set[1].clone();
    twin.peer_key = [0xdd; 32];
    dup_account.push(twin);
    let err = select_committee(9, &dup_account, "p", 3).unwrap_err();
    assert!(matches!(err, CommitteeError::DuplicateAccount { .. }));
    // Error messages name the problem.
    assert!(err.to_string().contains("appears twice"));
}

/// The accounts of the brute-force rule's committee, in party order.
fn brute_force_accounts(set: &[NodeInfo], pool: &str, n: usize) -> Vec<[u8; 20]> {
    brute_force(set, pool, n)
        .iter()
        .map(|k| set.iter().find(|nd| &nd.peer_key == k).unwrap().account)
        .collect()
}

#[test]
fn a_registered_committee_is_accepted_only_if_it_is_the_placement() {
    let set = nodes(12, 5);
    let key = *Key::for_pool("clinics").as_bytes();
    let placed = brute_force_accounts(&set, "clinics", 5);
    let c = verify_committee(3, &set, "clinics", &key, &placed).unwrap();
    assert_eq!(c.accounts(), placed);
    // An owner's own pick: a node from outside the placement instead of the last member.
    let outsider = set.iter().find(|nd| !placed.contains(&nd.account)).unwrap();
    let mut packed = placed.clone();
    packed[4] = outsider.account;
    assert_eq!(
        verify_committee(3, &set, "clinics", &key, &packed).unwrap_err(),
        CommitteeError::NotThePlacement {
            pool: "clinics".into(),
            epoch: 3,
            position: 4
        }
    );
    // The right members in another party order.
    let mut swapped = placed.clone();
    swapped.swap(0, 1);
    assert!(matches!(
        verify_committee(3, &set, "clinics", &key, &swapped),
        Err(CommitteeError::NotThePlacement { position: 0, .. })
    ));
    // A committee of another size is judged by the rule for that size.
    assert!(verify_committee(3, &set, "clinics", &key, &placed[..3]).is_ok());
    // The placement of another pool, or a pool key that is not the pool's.
    let other = brute_force_accounts(&set, "labs", 5);
    assert_ne!(other, placed);
    assert!(matches!(
        verify_committee(3, &set, "clinics", &key, &other),
        Err(CommitteeError::NotThePlacement { .. })
    ));
    let labs_key = *Key::for_pool("labs").as_bytes();
    assert!(matches!(
        verify_committee(3, &set, "clinics", &labs_key, &placed),
        Err(CommitteeError::PoolKeyMismatch { .. })
    ));
    // Against an active set without the placement's nearest node (another epoch's set).
    let without: Vec<NodeInfo> = set
        .iter()
        .filter(|nd| nd.account != placed[0])
        .cloned()
        .collect();
    assert!(matches!(
        verify_committee(4, &without, "clinics", &key, &placed),
        Err(CommitteeError::NotThePlacement { epoch: 4, .. })
    ));
    assert_eq!(
        verify_committee(4, &set[..3], "clinics", &key, &placed).unwrap_err(),
        CommitteeError::NotEnoughNodes {
            requested: 5,
            available: 3,
            epoch: 4
        }
    );
}

#[test]
fn threshold_for_is_the_honest_majority_bound() {
    let expected = [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 1),
        (4, 1),
        (5, 2),
        (6, 2),
        (7, 3),
        (64, 31),
    ];
    for (n, t) in expected {
        assert_eq!(Committee::threshold_for(n), t, "n = {n}");
    }
    for n in 1..=MAX_COMMITTEE {
        let t = Committee::threshold_for(n);
        assert!(2 * t < n);
        assert!(2 * (t + 1) >= n);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_order_of_the_active_set_gives_the_same_committee(
        (set, shuffled) in (1u32..60, any::<u64>())
            .prop_flat_map(|(count, salt)| {
                let set = nodes(count, salt);
                (Just(set.clone()), Just(set).prop_shuffle())
            }),
        pool in "[a-z0-9-]{1,24}",
        n_frac in 0.0f64..1.0,
        epoch in any::<u64>(),
    ) {
        let n = 1 + ((set.len().min(MAX_COMMITTEE) - 1) as f64 * n_frac) as usize;
        let a = select_committee(epoch, &set, &pool, n).unwrap();
        let b = select_committee(epoch, &shuffled, &pool, n).unwrap();
        prop_assert_eq!(&a, &b);
        let mut reversed = set.clone();
        reversed.reverse();
        prop_assert_eq!(&a, &select_committee(epoch, &reversed, &pool, n).unwrap());
        prop_assert_eq!(a.peer_keys(), brute_force(&set, &pool, n));
    }

    #[test]
    fn a_duplicate_anywhere_is_refused(count in 2u32..30, salt in any::<u64>(), pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let mut set = nodes(count, salt);
        let dup = set[pick.index(set.len())].clone();
        let pos = at.index(set.len() + 1);
        set.insert(pos, dup);
        let is_duplicate = matches!(
            select_committee(0, &set, "p", 1),
            Err(CommitteeError::DuplicatePeerKey { .. })
        );
        prop_assert!(is_duplicate);
    }
}
