//! At-rest encryption of share columns.
//!
//! * Cipher: XChaCha20-Poly1305 with a fresh random 24-byte nonce per ciphertext. Random
//!   192-bit nonces need no counter state, so restoring a backup or crashing between a counter
//!   update and a write can never reuse a nonce.
//! * Keys: the AEAD key and the batch-digest key are derived from the [`AtRestKey`] with
//!   blake3's `derive_key` under distinct contexts; neither is stored.
//! * Associated data ([`ShareAad`]): dataset id, column index, batch index, share format
//!   version, party index, first row and row count, so a ciphertext moved to another slot, or
//!   a batch header edited, fails authentication.
//! * Stored value: `nonce (24 bytes) || ciphertext (16·rows bytes) || tag (16 bytes)`.

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sharenet_mpc::field::{Field, Mp127};
use zeroize::{Zeroize, Zeroizing};

use super::error::{DamageKind, StoreError};
use super::key::AtRestKey;
use super::types::DatasetId;

/// Bytes of the nonce stored in front of each ciphertext.
pub(crate) const NONCE_BYTES: usize = 24;
/// Bytes of the Poly1305 tag at the end of each ciphertext.
pub(crate) const TAG_BYTES: usize = 16;
/// Bytes of one encoded share value.
pub(crate) const VALUE_BYTES: usize = 16;

const AEAD_CONTEXT: &str = "sharenet share store v1 2026-11 share column AEAD key";
const DIGEST_CONTEXT: &str = "sharenet share store v1 2026-11 batch content digest key";
const AAD_DOMAIN: &[u8; 16] = b"sharenet-share-1";
const KEY_CHECK_AAD: &[u8] = b"sharenet share store v1 key check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"sharenet share store key check, not a secret";
const DIGEST_DOMAIN: &[u8] = b"sharenet share store v1 batch digest";

/// Where a column ciphertext belongs; authenticated as the AEAD's associated data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShareAad {
    pub dataset: DatasetId,
    pub column: u32,
    pub batch: u64,
    pub share_format: u16,
    pub party: u32,
    pub first_row: u64,
    pub rows: u32,
}

/// Length of [`ShareAad::encode`]'s output.
pub(crate) const AAD_BYTES: usize = 16 + 32 + 4 + 8 + 2 + 4 + 8 + 4;

impl ShareAad {
    /// `"sharenet-share-1" || dataset id || column u32 LE || batch u64 LE || share format u16 LE
    /// || party u32 LE || first row u64 LE || rows u32 LE` (78 bytes).
    pub(crate) fn encode(&self) -> [u8; AAD_BYTES] {
        let mut out = [0u8; AAD_BYTES];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(AAD_DOMAIN);
        put(self.dataset.as_bytes());
        put(&self.column.to_le_bytes());
        put(&self.batch.to_le_bytes());
        put(&self.share_format.to_le_bytes());
        put(&self.party.to_le_bytes());
        put(&self.first_row.to_le_bytes());
        put(&self.rows.to_le_bytes());
        out
    }
}

/// The ciphers derived from the at-rest key. Key material is zeroized on drop.
pub(crate) struct StoreCipher {
    aead: XChaCha20Poly1305,
    digest_key: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for StoreCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StoreCipher(<redacted>)")
    }
}

impl StoreCipher {
    pub(crate) fn new(key: &AtRestKey) -> Self {
        let mut aead_bytes = blake3::derive_key(AEAD_CONTEXT, key.expose());
        let mut aead_key = Key::from(aead_bytes);
        aead_bytes.zeroize();
        let aead = XChaCha20Poly1305::new(&aead_key);
        aead_key.as_mut_slice().zeroize();
        let digest_key = Zeroizing::new(blake3::derive_key(DIGEST_CONTEXT, key.expose()));
        StoreCipher { aead, digest_key }
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = XNonce::try_generate().map_err(|_| StoreError::Rng)?;
        self.seal_with_nonce(&nonce, aad, plaintext)
    }

    /// [`StoreCipher::seal`] with a given nonce, which must never repeat under one key: only
    /// `seal` (a fresh random nonce) and the known-answer tests call it.
    pub(super) fn seal_with_nonce(
        &self,
        nonce: &XNonce,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let ciphertext = self
            .aead
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| StoreError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    fn unseal(&self, aad: &[u8], stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, DamageKind> {
        if stored.len() < NONCE_BYTES + TAG_BYTES {
            return Err(DamageKind::Malformed);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| DamageKind::Malformed)?;
        self.aead
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| DamageKind::Unauthenticated)
    }

    /// Encrypts one column of a batch.
    #[cfg(test)]
    pub(crate) fn seal_column(
        &self,
        aad: &ShareAad,
        values: &[Mp127],
    ) -> Result<Vec<u8>, StoreError> {
        self.seal_encoded(aad, &encode_values(values))
    }

    /// Encrypts one column of a batch already encoded by [`encode_values`].
    pub(crate) fn seal_encoded(
        &self,
        aad: &ShareAad,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.seal(&aad.encode(), plaintext)
    }

    /// Decrypts one column of a batch to its encoding, checking its length against `aad.rows`.
    pub(crate) fn unseal_encoded(
        &self,
        aad: &ShareAad,
        stored: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, DamageKind> {
        let rows = aad.rows as usize;
        if stored.len() != NONCE_BYTES + rows.saturating_mul(VALUE_BYTES) + TAG_BYTES {
            return Err(DamageKind::Malformed);
        }
        self.unseal(&aad.encode(), stored)
    }

    /// Decrypts and decodes one column of a batch.
    pub(crate) fn unseal_column(
        &self,
        aad: &ShareAad,
        stored: &[u8],
    ) -> Result<Vec<Mp127>, DamageKind> {
        decode_values(&self.unseal_encoded(aad, stored)?)
    }

    /// The value of the key check record.
    pub(crate) fn key_check(&self) -> Result<Vec<u8>, StoreError> {
        self.seal(KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT)
    }

    /// Whether `stored` is a key check record sealed under this key.
    pub(crate) fn verify_key_check(&self, stored: &[u8]) -> bool {
        self.unseal(KEY_CHECK_AAD, stored)
            .is_ok_and(|p| p.as_slice() == KEY_CHECK_PLAINTEXT)
    }

    /// Starts the keyed digest of a whole batch (all its columns, in column order, fed to
    /// [`BatchDigest::update`] as their encodings). Stored in the batch header, it lets a retry
    /// be recognised as identical without decrypting, and ties the columns of a batch together.
    pub(crate) fn digest_start(&self, header: &ShareAad, columns: u32) -> BatchDigest {
        let mut hasher = blake3::Hasher::new_keyed(&self.digest_key);
        hasher.update(DIGEST_DOMAIN);
        let mut aad = *header;
        aad.column = columns;
        hasher.update(&aad.encode());
        BatchDigest(hasher)
    }
}

/// A batch digest being computed; its state (which holds plaintext) is zeroized on drop.
pub(crate) struct BatchDigest(blake3::Hasher);

impl BatchDigest {
    /// Feeds the encoding of the next column.
    pub(crate) fn update(&mut self, encoded_column: &[u8]) {
        self.0.update(encoded_column);
    }

    /// The digest.
    pub(crate) fn finish(&mut self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

impl Drop for BatchDigest {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Compares two digests in constant time.
pub(crate) fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    blake3::Hash::from_bytes(*a) == blake3::Hash::from_bytes(*b)
}

/// The share encoding of a column: each value's 16-byte canonical little-endian encoding.
pub(crate) fn encode_values(values: &[Mp127]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; values.len() * VALUE_BYTES]);
    for (chunk, value) in out.chunks_exact_mut(VALUE_BYTES).zip(values) {
        value.write_bytes(chunk);
    }
    out
}

/// Checks a column encoding without decoding it into a vector.
pub(crate) fn check_values(bytes: &[u8]) -> Result<(), DamageKind> {
    let canonical = bytes.len().is_multiple_of(VALUE_BYTES)
        && bytes
            .chunks_exact(VALUE_BYTES)
            .all(|chunk| Mp127::read_bytes(chunk).is_ok());
    if canonical {
        Ok(())
    } else {
        Err(DamageKind::Malformed)
    }
}

/// Decodes a column encoding, refusing non-canonical values.
pub(crate) fn decode_values(bytes: &[u8]) -> Result<Vec<Mp127>, DamageKind> {
    if !bytes.len().is_multiple_of(VALUE_BYTES) {
        return Err(DamageKind::Malformed);
    }
    bytes
        .chunks_exact(VALUE_BYTES)
        .map(|chunk| Mp127::read_bytes(chunk).map_err(|_| DamageKind::Malformed))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn aad(batch: u64) -> ShareAad {
        ShareAad {
            dataset: DatasetId([7; 32]),
            column: 1,
            batch,
            share_format: 1,
            party: 3,
            first_row: 100,
            rows: 2,
        }
    }

    #[test]
    fn column_round_trip_and_aad_binding() {
        let cipher = StoreCipher::new(&AtRestKey::from_bytes([1; 32]));
        let values = [Mp127::new(5), Mp127::new(u128::MAX >> 2)];
        let stored = cipher.seal_column(&aad(4), &values).unwrap();
        assert_eq!(stored.len(), NONCE_BYTES + 2 * VALUE_BYTES + TAG_BYTES);
        assert_eq!(cipher.unseal_column(&aad(4), &stored).unwrap(), values);
        assert_eq!(
            cipher.unseal_column(&aad(5), &stored),
            Err(DamageKind::Unauthenticated)
        );
        let mut other = aad(4);
        other.party = 2;
        assert_eq!(
            cipher.unseal_column(&other, &stored),
            Err(DamageKind::Unauthenticated)
        );
        let wrong = StoreCipher::new(&AtRestKey::from_bytes([2; 32]));
        assert_eq!(
            wrong.unseal_column(&aad(4), &stored),
            Err(DamageKind::Unauthenticated)
        );
        assert_eq!(
            cipher.unseal_column(&aad(4), &stored[1..]),
            Err(DamageKind::Malformed)
        );
    }

    #[test]
    fn key_check_distinguishes_keys() {
        let a = StoreCipher::new(&AtRestKey::from_bytes([1; 32]));
        let b = StoreCipher::new(&AtRestKey::from_bytes([2; 32]));
        let check = a.key_check().unwrap();
        assert!(a.verify_key_check(&check));
        assert!(!b.verify_key_check(&check));
    }

    #[test]
    fn aad_layout() {
        let bytes = aad(0x0102).encode();
        assert_eq!(&bytes[..16], b"sharenet-share-1");
        assert_eq!(&bytes[16..48], &[7u8; 32]);
        assert_eq!(&bytes[48..52], &1u32.to_le_bytes());
        assert_eq!(&bytes[52..60], &0x0102u64.to_le_bytes());
        assert_eq!(&bytes[60..62], &1u16.to_le_bytes());
        assert_eq!(&bytes[62..66], &3u32.to_le_bytes());
        assert_eq!(&bytes[66..74], &100u64.to_le_bytes());
        assert_eq!(&bytes[74..78], &2u32.to_le_bytes());
    }
}
