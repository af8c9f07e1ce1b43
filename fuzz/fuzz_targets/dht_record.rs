//! A DHT record as a peer hands it over in a Kademlia PUT or GET (`dht/src/record.rs`): the
//! signed envelope, its payload (a dataset manifest or a node announcement), the validation a
//! node runs before storing or trusting it, and the store's admission of it
//! (`dht/src/store.rs`).
//!
//! Checked: an envelope that parses re-encodes to the same bytes, and so does a payload that
//! decodes; validating and storing never panic (a valid signature is out of the fuzzer's reach,
//! everything before the signature check is not).
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::kad::{Record, RecordKey};
use sharenet_dht::record::MAX_RECORD_SIZE;
use sharenet_dht::{
    Clock, PersistentRecordStore, RecordContent, SignedRecord, StoreConfig, persist_channel,
};

fuzz_target!(|data: &[u8]| {
    let Ok(record) = SignedRecord::from_bytes(data) else {
        return;
    };
    assert!(data.len() <= MAX_RECORD_SIZE);
    assert_eq!(
        record.to_bytes(),
        data,
        "an envelope re-encodes to other bytes"
    );
    assert_eq!(record.encoded_len(), data.len());
    let _ = format!("{record:?}");
    let content = record.content();
    let (key, now) = match &content {
        Ok(content) => {
            match content {
                RecordContent::Manifest(m) => {
                    assert_eq!(
                        m.encode(),
                        record.payload,
                        "a manifest re-encodes to other bytes"
                    );
                    let _ = m.manifest_hash();
                }
                RecordContent::Announcement(a) => {
                    assert_eq!(
                        a.encode(),
                        record.payload,
                        "an announcement re-encodes to other bytes"
                    );
                    let _ = a.multiaddrs();
                }
                _ => {}
            }
            let _ = content.expires_at();
            (content.record_key().to_record_key(), content.timestamp())
        }
        Err(_) => (RecordKey::new(&record.signer_public_key), 0),
    };
    let _ = record.validate(now, &key);
    let _ = record.to_kad_record_expiring(now, Instant::now());

    // A peer's PUT, through the node's store.
    let (tx, _rx) = persist_channel(16);
    let config = StoreConfig {
        clock: Clock::from_fn(move || now),
        ..StoreConfig::default()
    };
    let mut store = PersistentRecordStore::new(local_peer(), config, tx);
    let _ = store.try_put(Record::new(key, data.to_vec()));
});

/// The local node's peer id (fixed, derived once).
fn local_peer() -> PeerId {
    static PEER: OnceLock<PeerId> = OnceLock::new();
    *PEER.get_or_init(|| match Keypair::ed25519_from_bytes(&mut [5u8; 32]) {
        Ok(key) => key.public().to_peer_id(),
        Err(_) => unreachable!("32 bytes are an ed25519 secret key"),
    })
}
