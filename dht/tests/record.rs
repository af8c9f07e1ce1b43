#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Signed records: byte layout, sign/validate round trips, and every validation failure.

mod common;

use common::{announcement, keypair, manifest, now, public};
use libp2p::PeerId;
use libp2p::kad::RecordKey;
use proptest::prelude::*;
use sharenet_dht::record::{
    ANNOUNCEMENT_MAX_AGE_SECS, MAX_CLOCK_SKEW_SECS, MAX_RECORD_SIZE, peer_id_of,
};
use sharenet_dht::{
    DatasetManifest, DecodeError, Key, NodeAnnouncement, RecordContent, RecordError, RecordKind,
    SignedRecord,
};

fn signed_manifest(m: &DatasetManifest) -> SignedRecord {
    SignedRecord::sign_manifest(m, &keypair("owner")).unwrap()
}

fn key_of(m: &DatasetManifest) -> RecordKey {
    Key::for_dataset(&m.dataset_id).to_record_key()
}

#[test]
fn manifest_payload_layout_is_the_documented_one() {
    let m = manifest("ds", 3, 1_700_000_000);
    let mut expected = vec![1u8];
    expected.extend_from_slice(&m.dataset_id);
    expected.extend_from_slice(&[0x11; 20]);
    expected.extend_from_slice(&12u16.to_be_bytes());
    expected.extend_from_slice(b"hospitals-eu");
    expected.extend_from_slice(&6u16.to_be_bytes());
    expected.extend_from_slice(b"visits");
    expected.extend_from_slice(&[0x22; 32]);
    expected.extend_from_slice(&2u16.to_be_bytes());
    expected.extend_from_slice(b"{}");
    expected.extend_from_slice(&10u32.to_be_bytes());
    expected.extend_from_slice(&10_000u64.to_be_bytes());
    expected.extend_from_slice(&5u32.to_be_bytes());
    expected.push(2);
    expected.extend_from_slice(&7u64.to_be_bytes());
    expected.extend_from_slice(&5u16.to_be_bytes());
    for mm in &m.members {
        expected.extend_from_slice(&mm.peer_key);
        expected.extend_from_slice(&mm.receipt_hash);
    }
    expected.extend_from_slice(&3u64.to_be_bytes());
    expected.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    assert_eq!(m.encode(), expected);
    assert_eq!(DatasetManifest::decode(&expected).unwrap(), m);

    let mut h = blake3::Hasher::new_derive_key("sharenet 2026-11 dataset manifest hash v1");
    h.update(&expected);
    assert_eq!(m.manifest_hash(), *h.finalize().as_bytes());
}

#[test]
fn announcement_payload_and_envelope_layout() {
    let kp = keypair("node 0");
    let a = announcement(&kp, 1_700_000_000);
    let mut expected = vec![2u8];
    expected.extend_from_slice(&public(&kp));
    expected.extend_from_slice(&3u64.to_be_bytes());
    expected.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    expected.push(2);
    for addr in &a.addresses {
        expected.extend_from_slice(&(addr.len() as u16).to_be_bytes());
        expected.extend_from_slice(addr.as_bytes());
    }
    assert_eq!(a.encode(), expected);
    assert_eq!(NodeAnnouncement::decode(&expected).unwrap(), a);

    let rec = SignedRecord::sign_announcement(&a, &kp).unwrap();
    // The signature is over the documented message, checked with ed25519-dalek directly.
    let mut msg = b"sharenet dht record v1\0".to_vec();
    msg.push(2);
    msg.extend_from_slice(&expected);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&public(&kp)).unwrap();
    vk.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&rec.signature))
        .unwrap();

    let bytes = rec.to_bytes();
    let mut env = b"SNDR".to_vec();
    env.push(1);
    env.push(2);
    env.extend_from_slice(&public(&kp));
    env.extend_from_slice(&rec.signature);
    env.extend_from_slice(&(expected.len() as u32).to_be_bytes());
    env.extend_from_slice(&expected);
    assert_eq!(bytes, env);
    assert_eq!(rec.encoded_len(), bytes.len());
    assert_eq!(SignedRecord::from_bytes(&bytes).unwrap(), rec);
}

#[test]
fn manifest_round_trip() {
    let t = now();
    let m = manifest("ds", 1, t);
    let rec = signed_manifest(&m);
    let v = SignedRecord::validate_bytes(&rec.to_bytes(), t, &key_of(&m)).unwrap();
    assert_eq!(v.signer_public_key, public(&keypair("owner")));
    assert_eq!(v.manifest(), Some(&m));
    assert_eq!(v.announcement(), None);
    assert_eq!(v.content.kind(), RecordKind::DatasetManifest);
    assert_eq!(v.content.expires_at(), None);
    assert_eq!(v.into_manifest().unwrap(), m);
}

#[test]
fn announcement_round_trip_and_multiaddrs() {
    let t = now();
    let kp = keypair("node 1");
    let a = announcement(&kp, t);
    let rec = SignedRecord::sign_announcement(&a, &kp).unwrap();
    let key = Key::for_node(&public(&kp)).to_record_key();
    let v = rec.validate(t, &key).unwrap();
    assert_eq!(v.content.expires_at(), Some(t + ANNOUNCEMENT_MAX_AGE_SECS));
    assert_eq!(v.clone().into_announcement().unwrap(), a);
    assert_eq!(a.multiaddrs().len(), 2);
    assert!(matches!(
        v.into_manifest(),
        Err(RecordError::WrongKind {
            expected: RecordKind::DatasetManifest,
            found: RecordKind::NodeAnnouncement
        })
    ));
}

#[test]
fn kad_record_conversion() {
    let t = now();
    let kp = keypair("node 2");
    let rec = SignedRecord::sign_announcement(&announcement(&kp, t), &kp).unwrap();
    let kad = rec.to_kad_record(None).unwrap();
    assert_eq!(kad.key, Key::for_node(&public(&kp)).to_record_key());
    assert_eq!(kad.publisher, Some(PeerId::from_public_key(&kp.public())));
    assert_eq!(
        peer_id_of(&public(&kp)).unwrap(),
        PeerId::from_public_key(&kp.public())
    );
    assert_eq!(kad.expires, None);
    let v = SignedRecord::validate_kad_record(&kad, t).unwrap();
    assert!(matches!(v.content, RecordContent::Announcement(_)));
    let at = std::time::Instant::now();
    assert_eq!(rec.to_kad_record(Some(at)).unwrap().expires, Some(at));
    let exp = rec.to_kad_record_expiring(t, at).unwrap();
    assert_eq!(
        exp.expires,
        Some(at + std::time::Duration::from_secs(ANNOUNCEMENT_MAX_AGE_SECS))
    );
    let m = manifest("ds", 1, t);
    assert_eq!(
        signed_manifest(&m)
            .to_kad_record_expiring(t, at)
            .unwrap()
            .expires,
        None
    );
}

#[test]
fn tampered_payload_is_refused() {
    let t = now();
    let m = manifest("ds", 1, t);
    let mut rec = signed_manifest(&m);
    // rows is at offset 1 + 32 + 20 + 2 + 12 + 32.
    rec.payload[1 + 32 + 20 + 2 + 12 + 32 + 7] ^= 1;
    assert_eq!(rec.validate(t, &key_of(&m)), Err(RecordError::BadSignature));
    let mut sig = signed_manifest(&m);
    sig.signature[10] ^= 0x40;
    assert_eq!(sig.validate(t, &key_of(&m)), Err(RecordError::BadSignature));
}

#[test]
fn wrong_signer_is_refused() {
    let t = now();
    let m = manifest("ds", 1, t);
    let mut rec = signed_manifest(&m);
    rec.signer_public_key = public(&keypair("someone else"));
    assert_eq!(rec.validate(t, &key_of(&m)), Err(RecordError::BadSignature));

    // An announcement of node A correctly signed by node B: the signature verifies, the
    // signer is not the announced peer.
    let a = announcement(&keypair("node A"), t);
    let b = keypair("node B");
    assert!(matches!(
        SignedRecord::sign_announcement(&a, &b),
        Err(RecordError::SignerNotAnnouncedPeer { .. })
    ));
    let payload = a.encode();
    let mut msg = b"sharenet dht record v1\0".to_vec();
    msg.push(2);
    msg.extend_from_slice(&payload);
    let forged = SignedRecord {
        kind: RecordKind::NodeAnnouncement,
        payload,
        signer_public_key: public(&b),
        signature: b.sign(&msg).unwrap().try_into().unwrap(),
    };
    assert!(matches!(
        forged.validate(t, &Key::for_node(&a.peer_key).to_record_key()),
        Err(RecordError::SignerNotAnnouncedPeer { .. })
    ));
}

#[test]
fn invalid_signer_key_is_refused() {
    let t = now();
    let m = manifest("ds", 1, t);
    let mut rec = signed_manifest(&m);
    // Find 32 bytes that are not a compressed Edwards point.
    let bad = (0u8..=255)
        .map(|i| {
            let mut k = [0u8; 32];
            k[0] = i;
            k[31] = 0x7f;
            k
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    rec.signer_public_key = bad;
    assert_eq!(
        rec.validate(t, &key_of(&m)),
        Err(RecordError::InvalidSignerKey)
    );
    assert_eq!(peer_id_of(&bad), Err(RecordError::InvalidSignerKey));
}

#[test]
fn wrong_key_is_refused() {
    let t = now();
    let m = manifest("ds", 1, t);
    let rec = signed_manifest(&m);
    let other = Key::for_dataset(&[0u8; 32]).to_record_key();
    let err = rec.validate(t, &other).unwrap_err();
    assert!(matches!(err, RecordError::KeyMismatch { .. }));
    assert!(err.to_string().contains("belongs under"));
    // The node key of the same 32 bytes is another domain.
    let node_key = Key::for_node(&m.dataset_id).to_record_key();
    assert!(matches!(
        rec.validate(t, &node_key),
        Err(RecordError::KeyMismatch { .. })
    ));
    assert!(matches!(
        rec.validate(t, &RecordKey::new(&b"short")),
        Err(RecordError::KeyMismatch { .. })
    ));
}

#[test]
fn oversized_records_are_refused() {
    let t = now();
    let big = vec![0u8; MAX_RECORD_SIZE + 1];
    assert_eq!(
        SignedRecord::validate_bytes(&big, t, &RecordKey::new(&[0u8; 32])),
        Err(RecordError::TooLarge {
            size: MAX_RECORD_SIZE + 1,
            max: MAX_RECORD_SIZE
        })
    );
    let m = manifest("ds", 1, t);
    let mut rec = signed_manifest(&m);
    rec.payload = vec![1u8; MAX_RECORD_SIZE];
    assert!(matches!(
        rec.validate(t, &key_of(&m)),
        Err(RecordError::TooLarge { .. })
    ));
    // A header announcing a larger payload than allowed is refused before reading it.
    let mut bytes = signed_manifest(&m).to_bytes();
    bytes[102..106].copy_from_slice(&(MAX_RECORD_SIZE as u32).to_be_bytes());
    assert!(matches!(
        SignedRecord::from_bytes(&bytes),
        Err(RecordError::Malformed(DecodeError::BadLength {
            field: "payload",
            ..
        }))
    ));
}

#[test]
fn wrong_kind_is_refused() {
    let t = now();
    let m = manifest("ds", 1, t);
    let mut rec = signed_manifest(&m);
    rec.kind = RecordKind::NodeAnnouncement;
    assert_eq!(
        rec.validate(t, &key_of(&m)),
        Err(RecordError::KindMismatch {
            envelope: RecordKind::NodeAnnouncement,
            payload: 1
        })
    );
    let mut bytes = signed_manifest(&m).to_bytes();
    bytes[5] = 9;
    assert_eq!(
        SignedRecord::from_bytes(&bytes),
        Err(RecordError::UnknownKind { kind: 9 })
    );
}

#[test]
fn envelope_header_errors() {
    let t = now();
    let m = manifest("ds", 1, t);
    let good = signed_manifest(&m).to_bytes();
    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert_eq!(
        SignedRecord::from_bytes(&bad_magic),
        Err(RecordError::BadMagic)
    );
    let mut bad_version = good.clone();
    bad_version[4] = 2;
    assert_eq!(
        SignedRecord::from_bytes(&bad_version),
        Err(RecordError::UnsupportedVersion { version: 2 })
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        SignedRecord::from_bytes(&trailing),
        Err(RecordError::Malformed(DecodeError::TrailingBytes {
            count: 1
        }))
    );
}

#[test]
fn future_timestamps_are_refused_within_the_skew() {
    let t = now();
    let ok = manifest("ds", 1, t + MAX_CLOCK_SKEW_SECS);
    assert!(signed_manifest(&ok).validate(t, &key_of(&ok)).is_ok());
    let m = manifest("ds", 1, t + MAX_CLOCK_SKEW_SECS + 1);
    assert_eq!(
        signed_manifest(&m).validate(t, &key_of(&m)),
        Err(RecordError::FromTheFuture {
            timestamp: t + MAX_CLOCK_SKEW_SECS + 1,
            now: t
        })
    );
    let far = manifest("ds", 1, u64::MAX);
    assert!(matches!(
        signed_manifest(&far).validate(t, &key_of(&far)),
        Err(RecordError::FromTheFuture { .. })
    ));
    let kp = keypair("node 3");
    let a = announcement(&kp, t + 3600);
    let rec = SignedRecord::sign_announcement(&a, &kp).unwrap();
    assert!(matches!(
        rec.validate(t, &a.record_key().to_record_key()),
        Err(RecordError::FromTheFuture { .. })
    ));
}

#[test]
fn old_announcements_expire() {
    let t = now();
    let kp = keypair("node 4");
    let a = announcement(&kp, t - ANNOUNCEMENT_MAX_AGE_SECS);
    let rec = SignedRecord::sign_announcement(&a, &kp).unwrap();
    assert!(matches!(
        rec.validate(t, &a.record_key().to_record_key()),
        Err(RecordError::Expired { .. })
    ));
    assert!(rec.validate(t - 1, &a.record_key().to_record_key()).is_ok());
    // Manifests do not expire by age.
    let m = manifest("old", 1, 0);
    assert!(signed_manifest(&m).validate(t, &key_of(&m)).is_ok());
}

#[test]
fn content_rules() {
    let t = now();
    let owner = keypair("owner");
    let mut m = manifest("ds", 1, t);
    m.threshold = 0;
    assert!(matches!(
        SignedRecord::sign_manifest(&m, &owner),
        Err(RecordError::InvalidField {
            field: "threshold",
            ..
        })
    ));
    m.threshold = 3; // 2t >= n = 5
    assert!(matches!(
        m.check(),
        Err(RecordError::InvalidField {
            field: "threshold",
            ..
        })
    ));
    m.threshold = 2;
    m.members[4].peer_key = m.members[0].peer_key;
    assert!(matches!(
        m.check(),
        Err(RecordError::InvalidField {
            field: "members",
            ..
        })
    ));
    m.members.clear();
    assert!(matches!(
        m.check(),
        Err(RecordError::InvalidField {
            field: "members",
            ..
        })
    ));
    let mut m = manifest("ds", 1, t);
    m.pool = "x".repeat(129);
    assert!(matches!(
        m.check(),
        Err(RecordError::InvalidField { field: "pool", .. })
    ));
    m.pool.clear();
    assert!(matches!(
        m.check(),
        Err(RecordError::InvalidField { field: "pool", .. })
    ));

    let kp = keypair("node 5");
    let mut a = announcement(&kp, t);
    a.addresses = vec!["not a multiaddr".to_owned()];
    assert!(matches!(
        SignedRecord::sign_announcement(&a, &kp),
        Err(RecordError::InvalidField {
            field: "addresses",
            ..
        })
    ));
    a.addresses = vec![];
    assert!(matches!(
        a.check(),
        Err(RecordError::InvalidField {
            field: "addresses",
            ..
        })
    ));
    a.addresses = vec!["/ip4/1.2.3.4/tcp/1".to_owned(); 17];
    assert!(matches!(
        a.check(),
        Err(RecordError::InvalidField {
            field: "addresses",
            ..
        })
    ));
    a.addresses = vec![format!("/dns4/{}/tcp/1", "a".repeat(250))];
    assert!(matches!(
        a.check(),
        Err(RecordError::InvalidField {
            field: "addresses",
            ..
        })
    ));

    // A payload that breaks a content rule is refused at decoding too.
    let mut m = manifest("ds", 1, t);
    m.threshold = 0;
    assert!(matches!(
        DatasetManifest::decode(&m.encode()),
        Err(RecordError::InvalidField {
            field: "threshold",
            ..
        })
    ));
}

#[test]
fn every_truncation_is_refused_without_panic() {
    let t = now();
    let m = manifest("ds", 1, t);
    let bytes = signed_manifest(&m).to_bytes();
    for len in 0..bytes.len() {
        let err = SignedRecord::validate_bytes(&bytes[..len], t, &key_of(&m)).unwrap_err();
        assert!(
            matches!(err, RecordError::Malformed(_) | RecordError::BadMagic),
            "prefix of {len} bytes: {err:?}"
        );
    }
    let payload = m.encode();
    for len in 0..payload.len() {
        assert!(DatasetManifest::decode(&payload[..len]).is_err());
    }
    let kp = keypair("node 6");
    let ap = announcement(&kp, t).encode();
    for len in 0..ap.len() {
        assert!(NodeAnnouncement::decode(&ap[..len]).is_err());
    }
}

#[test]
fn debug_does_not_dump_payload_or_signature() {
    let m = manifest("ds", 1, now());
    let rec = signed_manifest(&m);
    let s = format!("{rec:?}");
    assert!(s.contains("payload_len"));
    assert!(!s.contains("signature"));
}

proptest! {
    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048), key in any::<[u8; 32]>()) {
        let _ = SignedRecord::validate_bytes(&bytes, 0, &RecordKey::new(&key));
        let _ = DatasetManifest::decode(&bytes);
        let _ = NodeAnnouncement::decode(&bytes);
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic(kind in 0u8..4, body in prop::collection::vec(any::<u8>(), 0..1024)) {
        let mut bytes = b"SNDR".to_vec();
        bytes.push(1);
        bytes.push(kind);
        bytes.extend_from_slice(&[0u8; 96]);
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&body);
        let _ = SignedRecord::validate_bytes(&bytes, u64::MAX, &RecordKey::new(&[0u8; 32]));
        let mut tagged = vec![kind];
        tagged.extend_from_slice(&body);
        let _ = DatasetManifest::decode(&tagged);
        let _ = NodeAnnouncement::decode(&tagged);
    }

    #[test]
    fn address_checks_never_panic(addrs in prop::collection::vec("/[ -~]{0,255}", 1..4)) {
        let a = NodeAnnouncement { peer_key: [1; 32], addresses: addrs, epoch: 0, timestamp: 0 };
        let _ = a.check();
        let _ = NodeAnnouncement::decode(&a.encode());
        let _ = a.multiaddrs();
    }

    #[test]
    fn flipping_any_byte_of_a_valid_record_is_caught(index in any::<prop::sample::Index>(), bit in 0u8..8) {
        let t = 1_800_000_000;
        let m = manifest("ds", 1, t);
        let mut bytes = signed_manifest(&m).to_bytes();
        let i = index.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(SignedRecord::validate_bytes(&bytes, t, &key_of(&m)).is_err());
    }

    #[test]
    fn encoding_is_canonical(rows in any::<u64>(), columns in any::<u32>(), version in any::<u64>(), created in 0u64..2_000_000_000, pool in "[ -~]{1,128}") {
        let mut m = manifest("ds", version, created);
        m.rows = rows;
        m.columns = columns;
        m.pool = pool;
        let bytes = m.encode();
        let back = DatasetManifest::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.encode(), bytes);
    }
}

#[test]
fn only_the_registered_version_of_the_named_dataset_is_the_registered_manifest() {
    let v1 = manifest("clinic", 1, now());
    let v2 = manifest("clinic", 2, now());
    let other = manifest("other clinic", 1, now());
    let registered = v1.manifest_hash();
    assert!(v1.is_registered_version(&v1.dataset_id, &registered));
    // Another version of the same dataset, or the registered hash read for another dataset.
    assert!(!v2.is_registered_version(&v2.dataset_id, &registered));
    assert!(!v1.is_registered_version(&other.dataset_id, &registered));
    assert!(!other.is_registered_version(&other.dataset_id, &registered));
    assert_ne!(v1.dataset_id, other.dataset_id);
}
