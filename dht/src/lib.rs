//! The sharenet DHT: the 256-bit key space (blake3), committee selection (the `n` active nodes
//! closest in XOR distance to `blake3(pool id)` at an epoch, so that every node computes the same
//! committee), the signed record types stored in Kademlia (dataset manifests, node announcements)
//! with their validation, and a persistent record store.
//!
//! This crate must never store a secret value or a share in a DHT record: records are small, public
//! and signed; shares travel over request-response to the committee and live in each node's store.
//!
//! Status: not yet built (issue 4). This crate holds only this description for now.
