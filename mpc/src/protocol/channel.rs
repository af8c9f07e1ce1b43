//! Framing of protocol messages on top of a [`Transport`]: every message carries a kind and a
//! per-link sequence number, and a vector longer than one chunk travels as several messages, so
//! that a receiver always knows exactly what it expects and rejects anything else.
//!
//! Header (10 bytes): version (1), kind (1), sequence number (8, little-endian); then the
//! elements, each in its canonical fixed-length encoding.

use crate::field::{Field, FieldError};
use crate::transport::{MAX_MESSAGE_BYTES, Transport, TransportStats};

use super::ProtocolError;

const VERSION: u8 = 1;
const HEADER_BYTES: usize = 10;

/// What a protocol message is, so that one arriving at the wrong step is caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[repr(u8)]
pub enum MessageKind {
    /// Shares dealt by an input owner.
    Input = 1,
    /// PRSS key distribution at session start.
    PrssKeys = 2,
    /// A party's dealt pair of sharings for hyper-invertible double-random generation.
    DoubleRandomDeal = 3,
    /// Degree-2t shares sent to the king of a multiplication chunk.
    ToKing = 4,
    /// Opened values broadcast by a king.
    FromKing = 5,
    /// Shares of an opening to every party.
    Open = 6,
    /// Shares of an opening to one receiver.
    OpenTo = 7,
    /// A receiver's commitment in batched dealer verification.
    VssCommitment = 8,
    /// A receiver's revealed combination in batched dealer verification.
    VssCombined = 9,
    /// Random values dealt by a rotating dealer set (random bits, bounded random integers).
    RandomDeal = 10,
    /// A live member's fresh sharing of its Lagrange-weighted share (re-sharing from the original
    /// evaluation points of a committee to the session's points).
    Reshare = 11,
    /// Digests of the PRSS keys two members both hold (malicious sessions).
    PrssConfirm = 12,
    /// The sender stopped the session (a check failed, or it could not go on): empty payload.
    /// Received where any other kind is expected, it ends the receiver's step with
    /// [`ProtocolError::Aborted`] instead of a wait for its timeout.
    Abort = 13,
}

impl MessageKind {
    fn name(byte: u8) -> &'static str {
        match byte {
            1 => "Input",
            2 => "PrssKeys",
            3 => "DoubleRandomDeal",
            4 => "ToKing",
            5 => "FromKing",
            6 => "Open",
            7 => "OpenTo",
            8 => "VssCommitment",
            9 => "VssCombined",
            10 => "RandomDeal",
            11 => "Reshare",
            12 => "PrssConfirm",
            13 => "Abort",
            _ => "unknown",
        }
    }
}

/// A transport with per-link sequence numbers and chunked, typed element vectors.
#[derive(Debug)]
pub struct Channel<T: Transport> {
    transport: T,
    next_send: Vec<u64>,
    next_recv: Vec<u64>,
    chunk_elements: usize,
}

impl<T: Transport> Channel<T> {
    /// Wraps a fresh transport (sequence numbers start at zero on every link).
    pub fn new<F: Field>(transport: T) -> Self {
        let endpoints = transport.endpoints();
        Channel {
            transport,
            next_send: vec![0; endpoints],
            next_recv: vec![0; endpoints],
            chunk_elements: ((MAX_MESSAGE_BYTES - HEADER_BYTES) / F::BYTES).min(1 << 16),
        }
    }

    /// This endpoint's index.
    pub fn me(&self) -> usize {
        self.transport.me()
    }

    /// Number of endpoints.
    pub fn endpoints(&self) -> usize {
        self.transport.endpoints()
    }

    /// Traffic so far.
    pub fn stats(&self) -> TransportStats {
        self.transport.stats()
    }

    /// Elements per message: a vector sent as several [`Channel::send_elements`] calls of
    /// exactly this many elements (the last one shorter) is framed exactly like one call.
    pub(crate) fn chunk_elements(&self) -> usize {
        self.chunk_elements
    }

    fn chunks(&self, count: usize) -> usize {
        count.div_ceil(self.chunk_elements).max(1)
    }

    /// Sends raw bytes as one message of `kind`.
    pub fn send_bytes(
        &mut self,
        to: usize,
        kind: MessageKind,
        payload: &[u8],
    ) -> Result<(), ProtocolError> {
        let seq = self
            .next_send
            .get(to)
            .copied()
            .ok_or(ProtocolError::BadParty {
                party: to,
                endpoints: self.endpoints(),
            })?;
        let mut message = Vec::with_capacity(HEADER_BYTES + payload.len());
        message.push(VERSION);
        message.push(kind as u8);
        message.extend_from_slice(&seq.to_le_bytes());
        message.extend_from_slice(payload);
        self.transport.send(to, message)?;
        self.next_send[to] = seq + 1;
        Ok(())
    }

    /// Receives one message of `kind` from `from` and returns its payload.
    pub fn recv_bytes(&mut self, from: usize, kind: MessageKind) -> Result<Vec<u8>, ProtocolError> {
        let expected_seq = self
            .next_recv
            .get(from)
            .copied()
            .ok_or(ProtocolError::BadParty {
                party: from,
                endpoints: self.endpoints(),
            })?;
        let mut message = self.transport.recv(from)?;
        if message.len() < HEADER_BYTES || message[0] != VERSION {
            return Err(ProtocolError::Malformed {
                from,
                reason: "short message or unknown version",
            });
        }
        if message[1] == MessageKind::Abort as u8 && kind != MessageKind::Abort {
            return Err(ProtocolError::Aborted { from });
        }
        if message[1] != kind as u8 {
            return Err(ProtocolError::UnexpectedMessage {
                from,
                expected: MessageKind::name(kind as u8),
                got: MessageKind::name(message[1]),
            });
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&message[2..HEADER_BYTES]);
        let seq = u64::from_le_bytes(seq);
        if seq != expected_seq {
            return Err(ProtocolError::OutOfOrder {
                from,
                expected: expected_seq,
                got: seq,
            });
        }
        self.next_recv[from] = expected_seq + 1;
        message.drain(..HEADER_BYTES);
        Ok(message)
    }

    /// Sends a vector of elements as one or more messages of `kind`.
    pub fn send_elements<F: Field>(
        &mut self,
        to: usize,
        kind: MessageKind,
        values: &[F],
    ) -> Result<(), ProtocolError> {
        let chunk = self.chunk_elements;
        if values.is_empty() {
            return self.send_bytes(to, kind, &[]);
        }
        let mut buffer = Vec::new();
        for part in values.chunks(chunk) {
            buffer.clear();
            buffer.resize(part.len() * F::BYTES, 0);
            for (out, v) in buffer.chunks_exact_mut(F::BYTES).zip(part) {
                v.write_bytes(out);
            }
            self.send_bytes(to, kind, &buffer)?;
        }
        Ok(())
    }

    /// Receives exactly `count` elements of `kind` from `from`, appending them to `out`.
    pub fn recv_elements_into<F: Field>(
        &mut self,
        from: usize,
        kind: MessageKind,
        count: usize,
        out: &mut Vec<F>,
    ) -> Result<(), ProtocolError> {
        let chunks = self.chunks(count);
        let mut left = count;
        out.reserve(count);
        for _ in 0..chunks {
            let expected = left.min(self.chunk_elements);
            let payload = self.recv_bytes(from, kind)?;
            if payload.len() != expected * F::BYTES {
                return Err(ProtocolError::WrongLength {
                    from,
                    expected_bytes: expected * F::BYTES,
                    got_bytes: payload.len(),
                });
            }
            for bytes in payload.chunks_exact(F::BYTES) {
                out.push(
                    F::read_bytes(bytes)
                        .map_err(|source: FieldError| ProtocolError::Field { from, source })?,
                );
            }
            left -= expected;
        }
        Ok(())
    }

    /// Receives exactly `count` elements of `kind` from `from`.
    pub fn recv_elements<F: Field>(
        &mut self,
        from: usize,
        kind: MessageKind,
        count: usize,
    ) -> Result<Vec<F>, ProtocolError> {
        let mut out = Vec::with_capacity(count);
        self.recv_elements_into(from, kind, count, &mut out)?;
        Ok(out)
    }
}
