//! Verified uploads: the wire format ([`wire`]), the node's intake ([`service`]) and the data
//! owner's uploader ([`uploader`]). Flow per batch: the owner deals every value and one random
//! mask with Shamir sharings for the committee and sends each node only its own shares; the
//! nodes store them, run the batched dealer verification among themselves (each commits to what
//! it received, a challenge from all commitments fixes a random combination, the combinations are
//! checked to lie on one polynomial of degree ≤ t); each node keeps the batch only if the check
//! passes and returns a receipt signed by its identity, binding the commitment to what it holds.
//! Every batch carries the dataset owner's signature, checked before anything else; a node
//! verifies first and stores after, and collects uploads left unregistered ([`collect`]).

pub mod collect;
pub mod service;
pub mod uploader;
pub mod wire;

/// The MPC session id of a batch's verification round.
pub fn session_id(dataset: &[u8; 32], batch: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("sharenet 2026 upload verification session");
    h.update(dataset);
    h.update(&batch.to_le_bytes());
    *h.finalize().as_bytes()
}

/// The context string bound into commitments and challenges.
pub fn verification_context(dataset: &[u8; 32], batch: u64) -> Vec<u8> {
    let mut c = b"sharenet upload ".to_vec();
    c.extend_from_slice(dataset);
    c.extend_from_slice(&batch.to_le_bytes());
    c
}
