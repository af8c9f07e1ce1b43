//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use libp2p::identity::Keypair;
use sharenet_dht::{DatasetManifest, ManifestMember, NodeAnnouncement};

/// A deterministic ed25519 keypair from a label.
pub fn keypair(label: &str) -> Keypair {
    let seed = *blake3::hash(label.as_bytes()).as_bytes();
    Keypair::ed25519_from_bytes(seed).unwrap()
}

/// The raw 32-byte ed25519 public key of a keypair.
pub fn public(kp: &Keypair) -> [u8; 32] {
    kp.public().try_into_ed25519().unwrap().to_bytes()
}

/// The system clock in unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A valid manifest of a 5-member committee (t = 2).
pub fn manifest(dataset: &str, version: u64, created_at: u64) -> DatasetManifest {
    DatasetManifest {
        dataset_id: *blake3::hash(dataset.as_bytes()).as_bytes(),
        owner: [0x11; 20],
        pool: "hospitals-eu".to_owned(),
        name: "visits".into(),
        schema: "{}".into(),
        min_cohort: 10,
        schema_hash: [0x22; 32],
        rows: 10_000,
        columns: 5,
        threshold: 2,
        committee_epoch: 7,
        members: (0..5u8)
            .map(|i| ManifestMember {
                peer_key: public(&keypair(&format!("node {i}"))),
                receipt_hash: [i; 32],
            })
            .collect(),
        version,
        created_at,
    }
}

/// A valid announcement of the node whose key is `kp`.
pub fn announcement(kp: &Keypair, timestamp: u64) -> NodeAnnouncement {
    NodeAnnouncement {
        peer_key: public(kp),
        addresses: vec![
            "/ip4/127.0.0.1/tcp/4001".to_owned(),
            "/ip4/127.0.0.1/udp/4001/quic-v1".to_owned(),
        ],
        epoch: 3,
        timestamp,
    }
}
