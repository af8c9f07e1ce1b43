//! The session transcript: a running blake3 hash of everything every computing party of a session
//! sees identically — `n`, `t`, the field, the sequence of operations with their public parameters
//! and lengths, and every value opened to all parties (public openings, the kings' broadcasts of
//! masked products, masked comparison values, the revealed combinations of a dealer check).
//!
//! Values opened to one receiver only are not hashed (the other parties never see them); the
//! fact, the receiver and the length of such an opening are. The digest of an honest run is the
//! same at every honest party, so the committee can attest it on chain; see
//! `docs/protocol.md` for what it does and does not prove.
//!
//! Encoding: after the domain-separated key derivation, every record is a one-byte tag followed by
//! a layout fixed by the tag, whose variable parts are length-prefixed (`u64` little-endian), so
//! the hashed byte string determines the sequence of records. Vectors are hashed as their
//! canonical encodings, written straight into a block buffer in front of the hasher: blake3 only
//! ever sees whole blocks at block-aligned offsets, where it hashes many chunks in parallel
//! (small header writes between vectors would otherwise misalign every later update and cost
//! most of its SIMD speed). No allocation per element or per call.

use crate::field::Field;

/// blake3 `derive_key` context of the session transcript.
pub const TRANSCRIPT_CONTEXT: &str = "sharenet 2026 session transcript v1";

/// Bytes per `blake3::Hasher::update` call: 16 blake3 chunks, enough for its widest SIMD path.
const BLOCK_BYTES: usize = 16 * 1024;

/// What a transcript record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Record {
    /// Session start: field name, `n`, `t`.
    Start = 0,
    /// Input sharing: owner, length.
    Input = 1,
    /// Opening to all: length, opened values.
    Open = 2,
    /// Masked degree-`2t` values opened through the kings (multiplications, inner products):
    /// length, opened values.
    ProductOpen = 3,
    /// Opening to one receiver: receiver, length (no values).
    OpenTo = 4,
    /// Re-sharing from original evaluation points: the points, length.
    Reshare = 5,
    /// Batched dealer verification: context, number of values, the receivers' commitments and
    /// revealed combinations.
    VerifyDealing = 6,
}

/// The running hash of one party's view of what all parties see.
#[derive(Clone)]
pub(crate) struct Transcript {
    /// Everything before `pending`, always a whole number of blocks.
    hasher: blake3::Hasher,
    /// The bytes after the last whole block (fewer than [`BLOCK_BYTES`]).
    pending: Vec<u8>,
    /// One element's encoding, for an element that straddles a block boundary.
    element: Vec<u8>,
    records: u64,
}

impl core::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The hasher buffers hashed bytes (opened values): show only how many records there are.
        f.debug_struct("Transcript")
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl Transcript {
    /// A transcript for a session over `field` with `n` parties and threshold `t`.
    pub(crate) fn new(field: &str, n: usize, t: usize) -> Self {
        let mut transcript = Transcript {
            hasher: blake3::Hasher::new_derive_key(TRANSCRIPT_CONTEXT),
            pending: Vec::with_capacity(BLOCK_BYTES),
            element: Vec::new(),
            records: 0,
        };
        transcript.begin(Record::Start);
        transcript.bytes(field.as_bytes());
        transcript.word(n as u64);
        transcript.word(t as u64);
        transcript
    }

    /// Appends raw bytes to the hashed stream.
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = (BLOCK_BYTES - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            self.flush_full_block();
        }
    }

    /// Hashes the pending block if it is full.
    fn flush_full_block(&mut self) {
        if self.pending.len() == BLOCK_BYTES {
            self.hasher.update(&self.pending);
            self.pending.clear();
        }
    }

    /// Starts a record of `kind`; its fields follow.
    pub(crate) fn begin(&mut self, kind: Record) {
        self.records += 1;
        self.push(&[kind as u8]);
    }

    /// A fixed-size field of a record.
    pub(crate) fn word(&mut self, value: u64) {
        self.push(&value.to_le_bytes());
    }

    /// A field of a size fixed by the record's layout (a 32-byte commitment), not prefixed.
    pub(crate) fn fixed(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }

    /// A length-prefixed byte string.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        self.push(bytes);
    }

    /// A length-prefixed vector of field elements, as canonical encodings.
    pub(crate) fn elements<F: Field>(&mut self, values: &[F]) {
        self.word(values.len() as u64);
        let mut rest = values;
        while !rest.is_empty() {
            let room = (BLOCK_BYTES - self.pending.len()) / F::BYTES;
            if room == 0 {
                // The next element straddles the block boundary.
                self.element.resize(F::BYTES, 0);
                rest[0].write_bytes(&mut self.element);
                let element = core::mem::take(&mut self.element);
                self.push(&element);
                self.element = element;
                rest = &rest[1..];
                continue;
            }
            let (part, tail) = rest.split_at(room.min(rest.len()));
            let start = self.pending.len();
            self.pending.resize(start + part.len() * F::BYTES, 0);
            for (out, v) in self.pending[start..].chunks_exact_mut(F::BYTES).zip(part) {
                v.write_bytes(out);
            }
            self.flush_full_block();
            rest = tail;
        }
    }

    /// The digest of everything recorded so far (the transcript itself goes on).
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.pending);
        *hasher.finalize().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{Mp127, RistrettoScalar};

    /// The transcript's bytes for `vectors` opened in turn, built naively.
    fn naive<F: Field>(vectors: &[Vec<F>]) -> [u8; 32] {
        let mut h = blake3::Hasher::new_derive_key(TRANSCRIPT_CONTEXT);
        h.update(&[0]);
        h.update(&2u64.to_le_bytes());
        h.update(b"GF");
        h.update(&3u64.to_le_bytes());
        h.update(&1u64.to_le_bytes());
        for v in vectors {
            h.update(&[2]);
            h.update(&(v.len() as u64).to_le_bytes());
            h.update(&crate::field::encode_slice(v));
        }
        *h.finalize().as_bytes()
    }

    fn blocked_equals_naive<F: Field>() {
        // Lengths that cross several blocks with elements straddling their boundaries.
        let vectors: Vec<Vec<F>> = [3000u64, 1, 0, 1500, 777]
            .iter()
            .map(|&len| (0..len).map(|v| F::from_u64(v * 7919 + len)).collect())
            .collect();
        let mut t = Transcript::new("GF", 3, 1);
        for (k, v) in vectors.iter().enumerate() {
            t.begin(Record::Open);
            t.elements(v);
            // Digesting mid-stream neither disturbs the stream nor differs from a fresh hash.
            assert_eq!(t.digest(), naive(&vectors[..=k]));
        }
    }

    #[test]
    fn block_buffered_hashing_equals_hashing_the_whole_encoding() {
        blocked_equals_naive::<Mp127>();
        blocked_equals_naive::<RistrettoScalar>();
    }

    #[test]
    fn records_are_unambiguous() {
        // The same bytes split differently between records give different digests.
        let mut a = Transcript::new("GF", 3, 1);
        a.begin(Record::Open);
        a.elements(&[Mp127::ONE, Mp127::ONE]);
        let mut b = Transcript::new("GF", 3, 1);
        b.begin(Record::Open);
        b.elements(&[Mp127::ONE]);
        b.begin(Record::Open);
        b.elements(&[Mp127::ONE]);
        assert_ne!(a.digest(), b.digest());
        // Digesting does not consume the transcript.
        assert_eq!(a.digest(), a.digest());
    }
}
