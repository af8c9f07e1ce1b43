//! `/sharenet/mpc/1`: the envelope (session id, sequence number, payload), the verdict
//! answered to it, and the router that queues envelopes for sessions (`node/src/net/mpc.rs`).
//!
//! The input is a script of router operations from three peers: deliver an envelope, close a
//! link, close a peer, release a session. Checked: envelopes round-trip; a sequence number
//! delivered once is refused as a duplicate; the router never holds more than its bound; and
//! once every session seen is released it holds nothing (no byte or session leaks).
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use libp2p::PeerId;
use libp2p::identity::Keypair;
use sharenet_node::net::mpc::{
    MAX_ROUTER_BYTES, MpcRouter, MpcVerdict, RouteError, decode_envelope, encode_envelope,
};

/// Three fixed peers (deterministic, so that a crash reproduces), derived once.
fn peers() -> &'static [PeerId; 3] {
    static PEERS: OnceLock<[PeerId; 3]> = OnceLock::new();
    PEERS.get_or_init(|| {
        [1u8, 2, 3].map(|i| match Keypair::ed25519_from_bytes(&mut [i; 32]) {
            Ok(key) => key.public().to_peer_id(),
            Err(_) => unreachable!("32 bytes are an ed25519 secret key"),
        })
    })
}

fuzz_target!(|data: &[u8]| {
    // The whole input as one envelope, and as a verdict.
    if let Ok((session, seq, payload)) = decode_envelope(data) {
        assert_eq!(encode_envelope(&session, seq, payload), data);
    } else {
        assert!(data.len() < 40);
    }
    let verdict = MpcVerdict::decode(data);
    if verdict != MpcVerdict::Malformed {
        assert_eq!(verdict.encode(), data);
    }

    // A script: [op, arg, len u16 LE, bytes...]*.
    let peers = peers();
    let router = MpcRouter::default();
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    let mut accepted: HashSet<(usize, [u8; 32], u64)> = HashSet::new();
    let mut rest = data;
    while rest.len() >= 4 {
        let (op, arg) = (rest[0], rest[1]);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let body = &rest[4..4 + len];
        rest = &rest[4 + len..];
        let from = usize::from(arg % 3);
        let session_of = |b: &[u8]| {
            let mut s = [0u8; 32];
            let n = b.len().min(32);
            s[..n].copy_from_slice(&b[..n]);
            s
        };
        match op % 4 {
            0 => {
                let result = router.deliver(peers[from], body.to_vec());
                match decode_envelope(body) {
                    Err(_) => assert_eq!(result, Err(RouteError::Malformed)),
                    Ok((session, seq, _)) => {
                        seen.insert(session);
                        if result.is_ok() {
                            assert!(
                                accepted.insert((from, session, seq)),
                                "a sequence number accepted twice"
                            );
                        } else if accepted.contains(&(from, session, seq)) {
                            assert_eq!(result, Err(RouteError::Duplicate));
                        }
                    }
                }
            }
            1 => router.close_link(&session_of(body), peers[from]),
            2 => {
                let _ = router.close_peer(peers[from]);
            }
            _ => {
                let session = session_of(body);
                router.release(&session);
                // A released session starts afresh: its sequence numbers may come again.
                accepted.retain(|(_, s, _)| *s != session);
            }
        }
        assert!(router.held_bytes() <= MAX_ROUTER_BYTES);
    }
    for session in &seen {
        router.release(session);
    }
    assert_eq!(
        router.sessions(),
        0,
        "sessions left after all were released"
    );
    assert_eq!(
        router.held_bytes(),
        0,
        "bytes held after all sessions were released"
    );
});
