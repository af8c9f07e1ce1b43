//! The payloads inside a DHT record envelope, decoded directly (`dht/src/record.rs`): a dataset
//! manifest (kind byte 1) or a node announcement (kind byte 2). Whatever decodes (and passes
//! the content rules, which decoding enforces) re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharenet_dht::{DatasetManifest, NodeAnnouncement};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = DatasetManifest::decode(data) {
        assert!(m.check().is_ok());
        assert_eq!(m.encode(), data, "a manifest re-encodes to other bytes");
        let _ = m.manifest_hash();
        let _ = m.record_key();
    }
    if let Ok(a) = NodeAnnouncement::decode(data) {
        assert!(a.check().is_ok());
        assert_eq!(
            a.encode(),
            data,
            "an announcement re-encodes to other bytes"
        );
        assert_eq!(a.multiaddrs().len(), a.addresses.len());
    }
});
