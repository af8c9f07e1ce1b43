//! The request-response framing of the node's protocols (`node/src/net/codec.rs`): a 4-byte
//! little-endian length, then the body, read only after the admission reserved the announced
//! length against the protocol's budgets.
//!
//! The first byte picks the protocol (upload, MPC, job: requests; or a response); the rest is
//! what the peer sends on the stream. Checked: a frame that is read is exactly the announced
//! bytes, within the limit; writing it back gives the same bytes; every reservation is released
//! once the request is dropped, whether it was read or refused.
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use futures::executor::block_on;
use futures::io::Cursor;
use libfuzzer_sys::fuzz_target;
use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::request_response::Codec;
use sharenet_node::net::codec::Admission;
use sharenet_node::net::{
    BytesCodec, JOB_BUDGET, JOB_PROTOCOL, MAX_JOB_MESSAGE, MAX_MPC_MESSAGE, MAX_RESPONSE,
    MAX_UPLOAD_REQUEST, MPC_BUDGET, MPC_PROTOCOL, UPLOAD_BUDGET, UPLOAD_PROTOCOL,
};

/// A fixed peer, derived once.
fn peer() -> PeerId {
    static PEER: OnceLock<PeerId> = OnceLock::new();
    *PEER.get_or_init(|| match Keypair::ed25519_from_bytes(&mut [3u8; 32]) {
        Ok(key) => key.public().to_peer_id(),
        Err(_) => unreachable!("32 bytes are an ed25519 secret key"),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let (protocol, max, budget, allow_listed) = match selector % 4 {
        0 => (UPLOAD_PROTOCOL, MAX_UPLOAD_REQUEST, UPLOAD_BUDGET, false),
        1 => (MPC_PROTOCOL, MAX_MPC_MESSAGE, MPC_BUDGET, true),
        2 => (JOB_PROTOCOL, MAX_JOB_MESSAGE, JOB_BUDGET, false),
        _ => (JOB_PROTOCOL, MAX_JOB_MESSAGE, JOB_BUDGET, false),
    };
    let me = peer();
    let admission = Admission::new(max, allow_listed, budget);
    admission.set_allowed(&HashSet::from([me]));
    let mut codec = BytesCodec::for_peer(admission.clone(), MAX_RESPONSE, me);
    let announced = stream
        .get(..4)
        .map(|h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize);

    let body = if selector % 4 == 3 {
        let read = block_on(codec.read_response(&protocol, &mut Cursor::new(stream)));
        read.ok()
            .inspect(|body| assert!(body.len() <= MAX_RESPONSE))
    } else {
        let read = block_on(codec.read_request(&protocol, &mut Cursor::new(stream)));
        match read {
            Ok(frame) => {
                assert!(frame.bytes.len() <= max);
                assert_eq!(admission.held_bytes(), frame.bytes.len());
                let bytes = frame.bytes.clone();
                drop(frame);
                Some(bytes)
            }
            Err(_) => None,
        }
    };
    assert_eq!(
        admission.held_bytes(),
        0,
        "a reservation outlived its request"
    );
    let Some(body) = body else {
        return;
    };
    assert_eq!(Some(body.len()), announced);
    assert_eq!(&stream[4..4 + body.len()], body.as_slice());

    // Writing it back gives the bytes that were read.
    let mut out = Cursor::new(Vec::new());
    let written = if selector % 4 == 3 {
        block_on(codec.write_response(&protocol, &mut out, body.clone()))
    } else {
        block_on(codec.write_request(&protocol, &mut out, body.clone().into()))
    };
    assert!(written.is_ok(), "a frame that was read cannot be written");
    assert_eq!(out.get_ref().as_slice(), &stream[..4 + body.len()]);
});
