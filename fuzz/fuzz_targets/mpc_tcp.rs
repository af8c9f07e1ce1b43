//! The loopback TCP transport of the mpc crate (`mpc/src/transport/tcp.rs`): the hello a
//! connecting endpoint sends, then length-prefixed frames.
//!
//! Input: the 28-byte hello (for endpoint 0 of a session of 8, with the session tag of the
//! format vectors), then the stream of frames. Checked: an accepted hello names an endpoint of
//! the session and is the canonical hello for it; every frame read is the announced bytes,
//! within the limit.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sharenet_mpc::transport::MAX_MESSAGE_BYTES;
use sharenet_mpc::transport::tcp::{HELLO_BYTES, decode_hello, read_frame};

/// The session tag of `mpc/tests/vectors/channel.json` ("tcp"."session").
const SESSION: [u8; 16] = [
    0x0c, 0xc8, 0x9b, 0xba, 0xff, 0x6a, 0xe2, 0xae, 0xfc, 0xd7, 0x4a, 0xcb, 0x41, 0xe8, 0x1a, 0xf7,
];
const ENDPOINTS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let hello = &data[..data.len().min(HELLO_BYTES)];
    if let Ok(j) = decode_hello(hello, SESSION, 0, ENDPOINTS) {
        assert!((1..ENDPOINTS).contains(&j));
        let mut canonical = b"SNMPCv1\0".to_vec();
        canonical.extend_from_slice(&SESSION);
        canonical.extend_from_slice(&(j as u32).to_le_bytes());
        assert_eq!(hello, canonical.as_slice());
    }
    let frames = data.get(HELLO_BYTES..).unwrap_or_default();
    let mut stream = Cursor::new(frames);
    let mut at = 0usize;
    while let Ok(frame) = read_frame(1, &mut stream, MAX_MESSAGE_BYTES) {
        assert!(frame.len() <= MAX_MESSAGE_BYTES);
        assert_eq!(
            &frames[at..at + 4],
            (frame.len() as u32).to_le_bytes().as_slice()
        );
        assert_eq!(&frames[at + 4..at + 4 + frame.len()], frame.as_slice());
        at += 4 + frame.len();
    }
});
