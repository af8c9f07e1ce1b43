//! The sharenet DHT: the 256-bit key space (blake3), committee selection (the `n` active nodes
//! closest in XOR distance to `blake3(pool id)` at an epoch, so that every node computes the same
//! committee), the signed record types stored in Kademlia (dataset manifests, node announcements)
//! with their validation, and a persistent record store.
//!
//! This crate must never store a secret value or a share in a DHT record: records are small, public
//! and signed; shares travel over request-response to the committee and live in each node's store.
//! It must never block the swarm's poll loop (the store hands its changes to a bounded channel and
//! never does I/O), never accept a record it has not validated, and never panic on network or disk
//! bytes (every decoder is strict and size-bounded).
//!
//! Modules: [`key`] (key space, XOR distance), [`committee`] (deterministic committee selection),
//! [`record`] (signed records, canonical encoding, validation), [`store`] (the libp2p-kad
//! `RecordStore` with its durable copy; the node wires it into its Kademlia behaviour and its
//! database). Formats and rules: `docs/dht.md`.

pub mod chain_view;
pub mod codec;
pub mod committee;
pub mod key;
pub mod record;
pub mod store;

pub use chain_view::{ChainView, Claim, Standing};
pub use codec::DecodeError;
pub use committee::{
    Committee, CommitteeError, Member, NodeInfo, select_committee, verify_committee,
};
pub use key::{Distance, Key, KeyError};
pub use record::{
    DatasetManifest, ManifestMember, NodeAnnouncement, RecordContent, RecordError, RecordKind,
    SignedRecord, ValidRecord,
};
pub use store::{
    Clock, MemoryPersistence, PersistOp, PersistentRecordStore, Refusal, StoreConfig,
    StoreCounters, StoreError, StoredRecord, persist_channel,
};
