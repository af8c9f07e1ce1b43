#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The persistent record store: validation before storage, limits, persistence ops, loading.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use common::{announcement, keypair, manifest, now, public};
use libp2p::PeerId;
use libp2p::kad::store::{Error as KadError, RecordStore};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use proptest::prelude::*;
use sharenet_dht::record::ANNOUNCEMENT_MAX_AGE_SECS;
use sharenet_dht::{
    ChainView, Clock, MemoryPersistence, PersistOp, PersistentRecordStore, Refusal, SignedRecord,
    StoreConfig, StoredRecord, persist_channel,
};

fn local() -> PeerId {
    PeerId::from_public_key(&keypair("local").public())
}

fn manifest_record(name: &str, version: u64, signer: &str) -> Record {
    let m = manifest(name, version, now());
    SignedRecord::sign_manifest(&m, &keypair(signer))
        .unwrap()
        .to_kad_record(None)
        .unwrap()
}

fn announcement_record(node: &str, timestamp: u64) -> Record {
    let kp = keypair(node);
    SignedRecord::sign_announcement(&announcement(&kp, timestamp), &kp)
        .unwrap()
        .to_kad_record(None)
        .unwrap()
}

fn config() -> StoreConfig {
    StoreConfig::default()
}

#[test]
fn a_valid_record_is_stored_and_persisted() {
    let (tx, rx) = persist_channel(16);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    let r = manifest_record("ds", 1, "owner");
    store.put(r.clone()).unwrap();
    assert_eq!(store.get(&r.key).unwrap().into_owned(), r);
    assert_eq!(store.records().count(), 1);
    assert_eq!(store.len(), 1);
    match rx.try_recv().unwrap() {
        PersistOp::Put(s) => {
            assert_eq!(s.key, r.key.to_vec());
            assert_eq!(s.value, r.value);
            assert_eq!(s.publisher, r.publisher);
            assert_eq!(s.expires_at, None);
        }
        other => panic!("expected a put, got {other:?}"),
    }
    store.remove(&r.key);
    assert!(store.get(&r.key).is_none());
    assert_eq!(
        rx.try_recv().unwrap(),
        PersistOp::Remove {
            key: r.key.to_vec()
        }
    );
    // Removing an absent key sends nothing.
    store.remove(&r.key);
    assert!(rx.try_recv().is_err());
}

#[test]
fn invalid_records_are_refused_and_counted() {
    let (tx, rx) = persist_channel(16);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    let counters = store.counters();

    let mut tampered = manifest_record("ds", 1, "owner");
    let last = tampered.value.len() - 1;
    tampered.value[last] ^= 1;
    assert!(matches!(
        store.put(tampered.clone()),
        Err(KadError::ValueTooLarge)
    ));
    assert!(matches!(
        store.try_put(tampered),
        Err(Refusal::Invalid(sharenet_dht::RecordError::BadSignature))
    ));

    let mut wrong_key = manifest_record("ds", 1, "owner");
    wrong_key.key = RecordKey::new(&[7u8; 32]);
    assert!(store.put(wrong_key).is_err());

    let garbage = Record::new(RecordKey::new(&[1u8; 32]), b"hello".to_vec());
    assert!(store.put(garbage).is_err());

    assert_eq!(counters.refused_invalid.load(Relaxed), 4);
    assert!(store.is_empty());
    assert!(rx.try_recv().is_err(), "nothing refused is persisted");
}

#[test]
fn size_limit() {
    let (tx, _rx) = persist_channel(16);
    let r = manifest_record("ds", 1, "owner");
    let cfg = StoreConfig {
        max_record_size: r.value.len() - 1,
        ..config()
    };
    let mut store = PersistentRecordStore::new(local(), cfg, tx);
    assert!(matches!(store.put(r.clone()), Err(KadError::ValueTooLarge)));
    assert_eq!(store.counters().refused_too_large.load(Relaxed), 1);
    assert_eq!(store.try_put(r), Err(Refusal::TooLarge));
}

#[test]
fn record_count_limit() {
    let (tx, _rx) = persist_channel(16);
    let cfg = StoreConfig {
        max_records: 3,
        ..config()
    };
    let mut store = PersistentRecordStore::new(local(), cfg, tx);
    for i in 0..3 {
        store
            .put(manifest_record(&format!("ds{i}"), 1, "owner"))
            .unwrap();
    }
    assert!(matches!(
        store.put(manifest_record("ds3", 1, "owner")),
        Err(KadError::MaxRecords)
    ));
    assert_eq!(store.counters().refused_full.load(Relaxed), 1);
    // Replacing a stored key is still allowed when full.
    store.put(manifest_record("ds0", 2, "owner")).unwrap();
    assert_eq!(store.len(), 3);
}

#[test]
fn replacement_rules() {
    let (tx, rx) = persist_channel(16);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    let counters = store.counters();
    let v2 = manifest_record("ds", 2, "owner");
    store.put(v2.clone()).unwrap();
    // An older version is refused, the same or a newer one accepted.
    assert_eq!(
        store.try_put(manifest_record("ds", 1, "owner")),
        Err(Refusal::Stale)
    );
    assert_eq!(counters.refused_stale.load(Relaxed), 1);
    store.put(v2.clone()).unwrap();
    let v3 = manifest_record("ds", 3, "owner");
    store.put(v3.clone()).unwrap();
    assert_eq!(store.get(&v3.key).unwrap().value, v3.value);
    // Another signer cannot replace the manifest of a dataset, whatever its version.
    assert_eq!(
        store.try_put(manifest_record("ds", 9, "squatter")),
        Err(Refusal::Conflict)
    );
    assert_eq!(counters.refused_conflict.load(Relaxed), 1);
    assert_eq!(rx.try_iter().count(), 3);

    // Announcements: a newer timestamp replaces, an older one is refused.
    let t = now();
    store.put(announcement_record("node", t - 10)).unwrap();
    store.put(announcement_record("node", t)).unwrap();
    assert_eq!(
        store.try_put(announcement_record("node", t - 20)),
        Err(Refusal::Stale)
    );
}

#[test]
fn announcements_get_their_content_expiry() {
    let (tx, rx) = persist_channel(16);
    // The store's wall clock stands still at `t`: the expiry depends on no thread's speed.
    let t = now();
    let cfg = StoreConfig {
        clock: Clock::from_fn(move || t),
        ..config()
    };
    let mut store = PersistentRecordStore::new(local(), cfg, tx);
    let r = announcement_record("node", t - 100);
    let left = Duration::from_secs(ANNOUNCEMENT_MAX_AGE_SECS - 100);
    let before = Instant::now();
    store.put(r.clone()).unwrap();
    let after = Instant::now();
    let stored = store.get(&r.key).unwrap().into_owned();
    // The instant is the put's own `Instant::now()` plus what is left of the content's age.
    let expires = stored.expires.unwrap();
    assert!(
        before + left <= expires && expires <= after + left,
        "{expires:?} not within {before:?}..={after:?} + {left:?}"
    );
    match rx.try_recv().unwrap() {
        PersistOp::Put(s) => {
            assert_eq!(s.expires_at, Some(t - 100 + ANNOUNCEMENT_MAX_AGE_SECS));
        }
        other => panic!("{other:?}"),
    }
    // A shorter kad expiry wins over the content's.
    let mut short = announcement_record("node2", t);
    let soon = Instant::now() + Duration::from_secs(60);
    short.expires = Some(soon);
    store.put(short.clone()).unwrap();
    assert_eq!(store.get(&short.key).unwrap().expires, Some(soon));
    // An already expired record is refused.
    let mut gone = announcement_record("node3", t);
    gone.expires = Some(Instant::now());
    assert_eq!(store.try_put(gone), Err(Refusal::Expired));
}

#[test]
fn the_injected_clock_is_the_validation_clock() {
    let (tx, _rx) = persist_channel(16);
    let t = now();
    // A store whose clock is an hour behind sees a fresh record as coming from the future.
    let cfg = StoreConfig {
        clock: Clock::from_fn(move || t - 3600),
        ..config()
    };
    let mut store = PersistentRecordStore::new(local(), cfg, tx);
    assert!(matches!(
        store.try_put(manifest_record("ds", 1, "owner")),
        Err(Refusal::Invalid(
            sharenet_dht::RecordError::FromTheFuture { .. }
        ))
    ));
}

#[test]
fn a_full_channel_drops_ops_then_catches_up() {
    let (tx, rx) = persist_channel(1);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    let counters = store.counters();
    let records: Vec<Record> = (0..4)
        .map(|i| manifest_record(&format!("ds{i}"), 1, "owner"))
        .collect();
    for r in &records {
        store.put(r.clone()).unwrap();
    }
    // The in-memory state is complete; three ops did not fit.
    assert_eq!(store.len(), 4);
    assert_eq!(counters.persist_dropped.load(Relaxed), 3);
    assert_eq!(store.pending_persist(), 3);
    // Remove one of the pending keys: its latest state (gone) is what gets persisted.
    let mut db = MemoryPersistence::new();
    db.drain(&rx);
    store.remove(&records[3].key);
    loop {
        db.drain(&rx);
        if store.flush_pending() == 0 {
            db.drain(&rx);
            break;
        }
    }
    db.drain(&rx);
    assert_eq!(db.len(), 3);
    for r in &records[..3] {
        let s = StoredRecord::decode(db.get(r.key.as_ref()).unwrap()).unwrap();
        assert_eq!(s.value, r.value);
    }
    assert!(db.get(records[3].key.as_ref()).is_none());
    assert_eq!(counters.persist_lost.load(Relaxed), 0);
}

#[test]
fn pending_keys_are_bounded() {
    let (tx, _rx) = persist_channel(1);
    let cfg = StoreConfig {
        max_pending_persist: 2,
        ..config()
    };
    let mut store = PersistentRecordStore::new(local(), cfg, tx);
    for i in 0..5 {
        store
            .put(manifest_record(&format!("ds{i}"), 1, "owner"))
            .unwrap();
    }
    assert_eq!(store.len(), 5);
    assert_eq!(store.pending_persist(), 2);
    assert_eq!(store.counters().persist_lost.load(Relaxed), 2);
}

#[test]
fn a_gone_receiver_is_counted_not_fatal() {
    let (tx, rx) = persist_channel(4);
    drop(rx);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    let r = manifest_record("ds", 1, "owner");
    store.put(r.clone()).unwrap();
    store.remove(&r.key);
    assert_eq!(store.counters().persist_disconnected.load(Relaxed), 2);
}

#[test]
fn load_round_trip_skips_invalid_and_expired() {
    let (tx, rx) = persist_channel(64);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    let t = now();
    let good: Vec<Record> = vec![
        manifest_record("a", 1, "owner"),
        manifest_record("b", 4, "owner"),
        announcement_record("n1", t),
    ];
    for r in &good {
        store.put(r.clone()).unwrap();
    }
    let mut db = MemoryPersistence::new();
    assert_eq!(db.drain(&rx), 3);
    drop(store);

    // Damage the database: a tampered record, an announcement past its age, a kad-expired
    // record, and bytes that are not an entry at all.
    let mut tampered =
        StoredRecord::from_record(&manifest_record("c", 1, "owner"), t, Instant::now());
    tampered.value[120] ^= 0xff;
    db.apply(PersistOp::Put(tampered.clone()));
    let kp = keypair("n2");
    let old = announcement(&kp, t - ANNOUNCEMENT_MAX_AGE_SECS - 5);
    let old_rec = SignedRecord::sign_announcement(&old, &kp).unwrap();
    db.apply(PersistOp::Put(StoredRecord {
        key: old.record_key().as_bytes().to_vec(),
        value: old_rec.to_bytes(),
        publisher: None,
        expires_at: None,
    }));
    let mut kad_expired =
        StoredRecord::from_record(&manifest_record("d", 1, "owner"), t, Instant::now());
    kad_expired.expires_at = Some(t - 1);
    db.apply(PersistOp::Put(kad_expired.clone()));
    db.insert_raw(vec![9u8; 32], b"not an entry".to_vec());
    assert_eq!(db.len(), 7);

    let (records, undecodable) = db.records(t, Instant::now());
    assert_eq!(undecodable, 1);
    let (tx, rx) = persist_channel(64);
    let store = PersistentRecordStore::load(local(), config(), tx, records);
    let counters = store.counters();
    assert_eq!(store.len(), 3);
    for r in &good {
        let got = store.get(&r.key).unwrap();
        assert_eq!(got.value, r.value);
        assert_eq!(got.publisher, r.publisher);
    }
    assert_eq!(counters.load_skipped_invalid.load(Relaxed), 1);
    assert_eq!(counters.load_skipped_expired.load(Relaxed), 2);
    // The skipped ones are removed from the durable copy; nothing loaded is re-sent.
    let ops: Vec<PersistOp> = rx.try_iter().collect();
    assert_eq!(ops.len(), 3);
    assert!(ops.iter().all(|op| matches!(op, PersistOp::Remove { .. })));
    let mut removed: Vec<Vec<u8>> = ops.iter().map(|op| op.key().to_vec()).collect();
    removed.sort();
    let mut expected = vec![
        tampered.key.clone(),
        old.record_key().as_bytes().to_vec(),
        kad_expired.key.clone(),
    ];
    expected.sort();
    assert_eq!(removed, expected);
}

#[test]
fn load_respects_the_record_limit() {
    let (tx, rx) = persist_channel(64);
    let cfg = StoreConfig {
        max_records: 2,
        ..config()
    };
    let records: Vec<Record> = (0..4)
        .map(|i| manifest_record(&format!("ds{i}"), 1, "owner"))
        .collect();
    let store = PersistentRecordStore::load(local(), cfg, tx, records);
    assert_eq!(store.len(), 2);
    assert_eq!(store.counters().load_skipped_invalid.load(Relaxed), 2);
    // Valid records that did not fit stay in the durable copy.
    assert_eq!(rx.try_iter().count(), 0);
}

#[test]
fn stored_record_round_trip() {
    let t = now();
    let at = Instant::now();
    let mut r = announcement_record("n", t);
    r.expires = Some(at + Duration::from_secs(3600));
    let s = StoredRecord::from_record(&r, t, at);
    assert_eq!(s.expires_at, Some(t + 3600));
    let bytes = s.encode();
    assert_eq!(StoredRecord::decode(&bytes).unwrap(), s);
    let back = s.to_record(t, at);
    assert_eq!(back.key, r.key);
    assert_eq!(back.value, r.value);
    assert_eq!(back.publisher, r.publisher);
    assert_eq!(back.expires, Some(at + Duration::from_secs(3600)));
    // Truncations and a bad version are errors.
    for len in 0..bytes.len() {
        assert!(StoredRecord::decode(&bytes[..len]).is_err());
    }
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert!(matches!(
        StoredRecord::decode(&v2),
        Err(sharenet_dht::StoreError::UnsupportedVersion { version: 2 })
    ));
}

#[test]
fn provider_limits() {
    let (tx, _rx) = persist_channel(4);
    let cfg = StoreConfig {
        max_providers_per_key: 2,
        max_provider_keys: 2,
        ..config()
    };
    let me = local();
    let mut store = PersistentRecordStore::new(me, cfg, tx);
    let k1 = RecordKey::new(&[1u8; 32]);
    let k2 = RecordKey::new(&[2u8; 32]);
    let k3 = RecordKey::new(&[3u8; 32]);
    let p = |n: &str| PeerId::from_public_key(&keypair(n).public());
    store
        .add_provider(ProviderRecord::new(k1.clone(), me, vec![]))
        .unwrap();
    store
        .add_provider(ProviderRecord::new(k1.clone(), p("a"), vec![]))
        .unwrap();
    // Updating an existing provider is fine; a third provider is refused.
    store
        .add_provider(ProviderRecord::new(k1.clone(), p("a"), vec![]))
        .unwrap();
    assert!(matches!(
        store.add_provider(ProviderRecord::new(k1.clone(), p("b"), vec![])),
        Err(KadError::MaxProvidedKeys)
    ));
    store
        .add_provider(ProviderRecord::new(k2.clone(), p("a"), vec![]))
        .unwrap();
    assert!(matches!(
        store.add_provider(ProviderRecord::new(k3, p("a"), vec![])),
        Err(KadError::MaxProvidedKeys)
    ));
    assert_eq!(store.counters().refused_providers.load(Relaxed), 2);
    assert_eq!(store.providers(&k1).len(), 2);
    assert_eq!(store.provided().count(), 1);
    store.remove_provider(&k1, &me);
    assert_eq!(store.provided().count(), 0);
    assert_eq!(store.providers(&k1).len(), 1);
    store.remove_provider(&k2, &p("a"));
    assert!(store.providers(&k2).is_empty());
}

#[test]
fn works_through_the_generic_record_store_trait() {
    fn roundtrip<S: RecordStore>(s: &mut S, r: Record) -> usize {
        s.put(r.clone()).unwrap();
        assert!(s.get(&r.key).is_some());
        s.records().count()
    }
    let (tx, _rx) = persist_channel(4);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    assert_eq!(roundtrip(&mut store, announcement_record("n", now())), 1);
    assert!(format!("{store:?}").contains("records: 1"));
    let _ = public(&keypair("x"));
}

proptest! {
    #[test]
    fn decoding_random_stored_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = StoredRecord::decode(&bytes);
    }

    #[test]
    fn random_records_never_get_in(key in prop::collection::vec(any::<u8>(), 0..40), value in prop::collection::vec(any::<u8>(), 0..600)) {
        let (tx, rx) = persist_channel(4);
        let mut store = PersistentRecordStore::new(local(), config(), tx);
        prop_assert!(store.put(Record::new(key, value)).is_err());
        prop_assert!(store.is_empty());
        prop_assert!(rx.try_recv().is_err());
    }
}

#[test]
fn the_store_can_live_in_a_tokio_swarm() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<PersistentRecordStore>();
    assert_send::<PersistOp>();
    fn assert_sync<T: Sync>() {}
    assert_sync::<sharenet_dht::StoreCounters>();
}

#[test]
fn kademlia_put_record_goes_through_validation() {
    use libp2p::kad::{Behaviour, Quorum};
    let (tx, rx) = persist_channel(8);
    let me = local();
    let mut kad = Behaviour::new(me, PersistentRecordStore::new(me, config(), tx));
    let good = announcement_record("node", now());
    kad.put_record(good.clone(), Quorum::One).unwrap();
    // Kademlia replaced the publisher by the local peer id; the record is still valid.
    let stored = kad.store_mut().get(&good.key).unwrap().into_owned();
    assert_eq!(stored.publisher, Some(me));
    assert_eq!(stored.value, good.value);
    let mut bad = manifest_record("ds", 1, "owner");
    bad.value[110] ^= 1;
    assert!(matches!(
        kad.put_record(bad, Quorum::One),
        Err(KadError::ValueTooLarge)
    ));
    assert_eq!(kad.store_mut().len(), 1);
    assert_eq!(rx.try_iter().count(), 1);
}

#[test]
fn a_key_twice_at_load_keeps_the_newer_record_and_removes_nothing() {
    let (tx, rx) = persist_channel(8);
    let v1 = manifest_record("ds", 1, "owner");
    let v2 = manifest_record("ds", 2, "owner");
    let store = PersistentRecordStore::load(local(), config(), tx, vec![v2.clone(), v1]);
    assert_eq!(store.get(&v2.key).unwrap().value, v2.value);
    assert_eq!(rx.try_iter().count(), 0);
}

/// A node's store: it checks records against `view`.
fn chained(view: &ChainView, max_unconfirmed: usize) -> StoreConfig {
    StoreConfig {
        chain: Some(view.clone()),
        max_unconfirmed,
        max_unconfirmed_per_signer: 2,
        ..config()
    }
}

#[test]
fn the_registered_manifest_owns_its_key_whoever_signed_first() {
    let (tx, _rx) = persist_channel(64);
    let view = ChainView::new();
    let mut store = PersistentRecordStore::new(local(), chained(&view, 16), tx);
    let counters = store.counters();
    let owners = manifest("ds", 1, now());
    let mut fake = owners.clone();
    fake.min_cohort = 1;
    let sign = |m: &sharenet_dht::DatasetManifest, who: &str| {
        SignedRecord::sign_manifest(m, &keypair(who))
            .unwrap()
            .to_kad_record(None)
            .unwrap()
    };
    // Before the chain view knows the dataset, the squatter's manifest is taken as unconfirmed.
    store.try_put(sign(&fake, "squatter")).unwrap();
    assert_eq!(store.unconfirmed(), 1);
    // Once the chain registers the owner's manifest, that one takes the key over.
    view.set_manifest(owners.dataset_id, owners.manifest_hash());
    let real = sign(&owners, "owner");
    store.try_put(real.clone()).unwrap();
    assert_eq!(store.get(&real.key).unwrap().value, real.value);
    assert_eq!(store.unconfirmed(), 0);
    // Now the squatter's is refused outright, and cannot push the owner's out.
    assert_eq!(
        store.try_put(sign(&fake, "squatter")),
        Err(Refusal::NotRegistered)
    );
    assert_eq!(counters.refused_not_registered.load(Relaxed), 1);
    assert_eq!(store.get(&real.key).unwrap().value, real.value);
}

#[test]
fn records_the_chain_does_not_confirm_get_a_small_share_of_the_store() {
    let (tx, _rx) = persist_channel(4096);
    let view = ChainView::new();
    let mut store = PersistentRecordStore::new(local(), chained(&view, 4), tx);
    let t = now();
    // Announcements of nodes the chain does not list: four in all.
    for i in 0..4 {
        store
            .try_put(announcement_record(&format!("stranger {i}"), t))
            .unwrap();
    }
    assert_eq!(
        store.try_put(announcement_record("stranger 4", t)),
        Err(Refusal::Unconfirmed)
    );
    // An active node's announcement is confirmed and always finds room.
    view.set_active_nodes([public(&keypair("node"))]);
    store.try_put(announcement_record("node", t)).unwrap();
    // At most two unconfirmed records of one signer.
    let (tx, _rx) = persist_channel(64);
    let mut store = PersistentRecordStore::new(local(), chained(&view, 16), tx);
    store.try_put(manifest_record("a", 1, "owner")).unwrap();
    store.try_put(manifest_record("b", 1, "owner")).unwrap();
    assert_eq!(
        store.try_put(manifest_record("c", 1, "owner")),
        Err(Refusal::Unconfirmed)
    );
    // A newer version of one of them replaces it without needing more room.
    store.try_put(manifest_record("a", 2, "owner")).unwrap();
    assert_eq!(store.counters().refused_unconfirmed.load(Relaxed), 1);
}

#[test]
fn recheck_confirms_and_removes_as_the_chain_learns() {
    let (tx, rx) = persist_channel(64);
    let view = ChainView::new();
    let mut store = PersistentRecordStore::new(local(), chained(&view, 16), tx);
    let kept = manifest("kept", 1, now());
    let squatted = manifest("squatted", 1, now());
    for (m, who) in [(&kept, "owner"), (&squatted, "squatter")] {
        store
            .try_put(
                SignedRecord::sign_manifest(m, &keypair(who))
                    .unwrap()
                    .to_kad_record(None)
                    .unwrap(),
            )
            .unwrap();
    }
    assert_eq!(store.unconfirmed(), 2);
    view.set_manifest(kept.dataset_id, kept.manifest_hash());
    let mut registered = squatted.clone();
    registered.rows += 1;
    view.set_manifest(squatted.dataset_id, registered.manifest_hash());
    while rx.try_recv().is_ok() {}
    assert_eq!(store.recheck(), 1);
    assert_eq!((store.len(), store.unconfirmed()), (1, 0));
    assert_eq!(store.counters().removed_contradicted.load(Relaxed), 1);
    assert!(matches!(rx.try_recv(), Ok(PersistOp::Remove { .. })));
}

#[test]
fn a_store_without_a_chain_view_keeps_the_first_signer() {
    let (tx, _rx) = persist_channel(16);
    let mut store = PersistentRecordStore::new(local(), config(), tx);
    store.try_put(manifest_record("ds", 1, "first")).unwrap();
    assert_eq!(
        store.try_put(manifest_record("ds", 2, "second")),
        Err(Refusal::Conflict)
    );
    assert_eq!(store.unconfirmed(), 0, "nothing is counted without a view");
}
