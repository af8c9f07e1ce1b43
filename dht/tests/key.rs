#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Key derivation known answers and XOR distance properties.

use libp2p::kad::RecordKey;
use proptest::prelude::*;
use sharenet_dht::{Distance, Key, KeyError};

fn derive(context: &str, input: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(context);
    h.update(input);
    *h.finalize().as_bytes()
}

#[test]
fn pool_key_is_blake3_derive_key_of_the_pool_id() {
    // The documented layout: blake3 key derivation, context string, input = UTF-8 pool id.
    let expected = derive("sharenet 2026-11 dht pool key v1", b"hospitals-eu");
    assert_eq!(Key::for_pool("hospitals-eu").as_bytes(), &expected);
    assert_eq!(
        Key::for_pool("").as_bytes(),
        &derive("sharenet 2026-11 dht pool key v1", b"")
    );
}

#[test]
fn node_and_dataset_keys_follow_their_documented_contexts() {
    let peer = [7u8; 32];
    assert_eq!(
        Key::for_node(&peer).as_bytes(),
        &derive("sharenet 2026-11 dht node key v1", &peer)
    );
    let id = [9u8; 32];
    assert_eq!(
        Key::for_dataset(&id).as_bytes(),
        &derive("sharenet 2026-11 dht dataset key v1", &id)
    );
}

#[test]
fn the_domains_are_separated() {
    let bytes = [0x41u8; 32];
    let as_str = std::str::from_utf8(&bytes).unwrap();
    let pool = Key::for_pool(as_str);
    let node = Key::for_node(&bytes);
    let dataset = Key::for_dataset(&bytes);
    assert_ne!(pool, node);
    assert_ne!(pool, dataset);
    assert_ne!(node, dataset);
    // And none of them is the plain blake3 hash.
    let plain = *blake3::hash(&bytes).as_bytes();
    for k in [pool, node, dataset] {
        assert_ne!(k.as_bytes(), &plain);
    }
}

#[test]
fn record_key_round_trip_and_wrong_length() {
    let k = Key::for_pool("p");
    let rk: RecordKey = k.into();
    assert_eq!(rk.as_ref(), k.as_bytes());
    assert_eq!(Key::try_from(&rk).unwrap(), k);
    assert_eq!(k.to_record_key(), rk);
    let short = RecordKey::new(&[1u8, 2, 3]);
    assert_eq!(Key::try_from(&short), Err(KeyError::WrongLength { len: 3 }));
    let long = RecordKey::new(&[0u8; 33]);
    assert!(matches!(
        Key::try_from(&long),
        Err(KeyError::WrongLength { len: 33 })
    ));
}

#[test]
fn display_is_hex() {
    let k = Key::from_bytes([0xab; 32]);
    assert_eq!(k.to_string(), "ab".repeat(32));
    assert!(format!("{k:?}").starts_with("Key(abab"));
}

#[test]
fn leading_zeros_and_bucket_index_edge_cases() {
    assert_eq!(Distance::ZERO.leading_zeros(), 256);
    assert_eq!(Distance::ZERO.bucket_index(), None);
    assert!(Distance::ZERO.is_zero());
    let mut one = [0u8; 32];
    one[31] = 1;
    assert_eq!(Distance::from_bytes(one).leading_zeros(), 255);
    assert_eq!(Distance::from_bytes(one).bucket_index(), Some(0));
    let mut top = [0u8; 32];
    top[0] = 0x80;
    assert_eq!(Distance::from_bytes(top).leading_zeros(), 0);
    assert_eq!(Distance::from_bytes(top).bucket_index(), Some(255));
    let mut mid = [0u8; 32];
    mid[1] = 0x10;
    assert_eq!(Distance::from_bytes(mid).leading_zeros(), 11);
    assert_eq!(Distance::from_bytes(mid).bucket_index(), Some(244));
}

/// 257-bit sum of two distances, big-endian with a carry byte in front.
fn add(a: &Distance, b: &Distance) -> [u8; 33] {
    let mut out = [0u8; 33];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(a.as_bytes()[i]) + u16::from(b.as_bytes()[i]) + carry;
        out[i + 1] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    out[0] = carry as u8;
    out
}

fn widen(d: &Distance) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[1..].copy_from_slice(d.as_bytes());
    out
}

fn key() -> impl Strategy<Value = Key> {
    any::<[u8; 32]>().prop_map(Key::from_bytes)
}

proptest! {
    #[test]
    fn distance_is_symmetric(a in key(), b in key()) {
        prop_assert_eq!(a.distance(&b), b.distance(&a));
    }

    #[test]
    fn distance_is_zero_iff_equal(a in key(), b in key()) {
        prop_assert!(a.distance(&a).is_zero());
        prop_assert_eq!(a.distance(&b).is_zero(), a == b);
    }

    #[test]
    fn distances_compose_by_xor_and_obey_the_triangle_inequality(a in key(), b in key(), c in key()) {
        let ab = a.distance(&b);
        let bc = b.distance(&c);
        let ac = a.distance(&c);
        prop_assert_eq!(ab.xor(&bc), ac);
        prop_assert!(widen(&ac) <= add(&ab, &bc));
    }

    #[test]
    fn distance_is_unidirectional(a in key(), b in key(), c in key()) {
        // For a fixed key, distinct keys are at distinct distances: no ties in committee selection.
        prop_assert_eq!(a.distance(&b) == a.distance(&c), b == c);
    }

    #[test]
    fn bucket_index_is_the_first_differing_bit(a in key(), b in key()) {
        let d = a.distance(&b);
        let first_diff = (0..256usize).find(|&i| {
            let (byte, bit) = (i / 8, 7 - (i % 8));
            (a.as_bytes()[byte] >> bit) & 1 != (b.as_bytes()[byte] >> bit) & 1
        });
        match first_diff {
            None => prop_assert_eq!(d.bucket_index(), None),
            Some(i) => {
                prop_assert_eq!(d.leading_zeros() as usize, i);
                prop_assert_eq!(d.bucket_index(), Some((255 - i) as u8));
            }
        }
    }

    #[test]
    fn distance_order_is_numeric(a in key(), b in key(), c in key()) {
        // Comparing distances from a target agrees with comparing them as 256-bit integers.
        let x = a.distance(&b);
        let y = a.distance(&c);
        prop_assert_eq!(x.cmp(&y), widen(&x).cmp(&widen(&y)));
        if x.leading_zeros() > y.leading_zeros() {
            prop_assert!(x < y);
        }
    }
}
