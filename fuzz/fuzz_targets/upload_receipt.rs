//! `/sharenet/upload/1` response: a node's signed receipt (`node/src/upload/wire.rs`).
//! Whatever decodes re-encodes to the same bytes; verifying it never panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey};
use sharenet_node::upload::wire::Receipt;

fuzz_target!(|data: &[u8]| {
    let Ok(receipt) = Receipt::decode(data) else {
        return;
    };
    assert_eq!(
        receipt.encode(),
        data,
        "a receipt re-encodes to other bytes"
    );
    let _ = receipt.hash();
    // The uploader checks the receipt against the member it asked: the signer's own peer id
    // when the key decodes (the signature is still checked), else any peer.
    let peer = match PublicKey::try_decode_protobuf(&receipt.signer) {
        Ok(pk) => pk.to_peer_id(),
        Err(_) => some_peer(),
    };
    let _ = receipt.verify(&peer);
});

/// A fixed peer (deterministic, so that a crash reproduces).
fn some_peer() -> PeerId {
    static PEER: OnceLock<PeerId> = OnceLock::new();
    *PEER.get_or_init(|| match Keypair::ed25519_from_bytes(&mut [7u8; 32]) {
        Ok(key) => key.public().to_peer_id(),
        Err(_) => unreachable!("32 bytes are an ed25519 secret key"),
    })
}
