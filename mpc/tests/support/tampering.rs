//! A transport that corrupts one received message, for the transcript tests of `sharenet-mpc`
//! (`mpc/tests/transcript.rs`) and of whole query runs (`query/tests/transcript.rs`), which include
//! this file by path.

use sharenet_mpc::transport::{Transport, TransportError, TransportStats};

/// Framing of a protocol message: version, kind, sequence number (see
/// `mpc/src/protocol/channel.rs`).
const HEADER_BYTES: usize = 10;
/// The kind of a king's broadcast of opened masked values.
pub const FROM_KING: u8 = 5;

/// Flip the lowest bit of the first element of the `nth` (from 1) non-empty message of `kind`
/// that this endpoint receives from `from`.
#[derive(Debug, Clone, Copy)]
pub struct TamperRule {
    pub from: usize,
    pub kind: u8,
    pub nth: usize,
}

/// A transport that corrupts one received message according to its rule (if any).
pub struct Tampering<T> {
    pub inner: T,
    pub rule: Option<TamperRule>,
    pub seen: usize,
}

impl<T: Transport> Transport for Tampering<T> {
    fn me(&self) -> usize {
        self.inner.me()
    }
    fn endpoints(&self) -> usize {
        self.inner.endpoints()
    }
    fn send(&mut self, to: usize, message: Vec<u8>) -> Result<(), TransportError> {
        self.inner.send(to, message)
    }
    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError> {
        let mut message = self.inner.recv(from)?;
        if let Some(rule) = self.rule
            && rule.from == from
            && message.len() > HEADER_BYTES
            && message[1] == rule.kind
        {
            self.seen += 1;
            if self.seen == rule.nth {
                message[HEADER_BYTES] ^= 1;
            }
        }
        Ok(message)
    }
    fn stats(&self) -> TransportStats {
        self.inner.stats()
    }
}
