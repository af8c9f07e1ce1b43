//! A DHT record as the node persists it in its database (`dht/src/store.rs`, `StoredRecord`),
//! and the store's start-up load of what it reads back. Whatever decodes re-encodes to the same
//! bytes; loading never panics.
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use libp2p::PeerId;
use libp2p::identity::Keypair;
use sharenet_dht::{Clock, PersistentRecordStore, StoreConfig, StoredRecord, persist_channel};

/// The wall clock of the load: a fixed time, so that a crash reproduces.
const NOW: u64 = 1_780_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = StoredRecord::decode(data) else {
        return;
    };
    assert_eq!(
        stored.encode(),
        data,
        "a stored record re-encodes to other bytes"
    );
    let now = Instant::now();
    let record = stored.to_record(NOW, now);
    if stored.expires_at.is_none() {
        assert_eq!(StoredRecord::from_record(&record, NOW, now), stored);
    }
    let (tx, _rx) = persist_channel(16);
    let config = StoreConfig {
        clock: Clock::from_fn(|| NOW),
        ..StoreConfig::default()
    };
    let store = PersistentRecordStore::load(local_peer(), config, tx, [record]);
    assert!(store.len() <= 1);
});

/// The local node's peer id (fixed, derived once).
fn local_peer() -> PeerId {
    static PEER: OnceLock<PeerId> = OnceLock::new();
    *PEER.get_or_init(|| match Keypair::ed25519_from_bytes(&mut [5u8; 32]) {
        Ok(key) => key.public().to_peer_id(),
        Err(_) => unreachable!("32 bytes are an ed25519 secret key"),
    })
}
