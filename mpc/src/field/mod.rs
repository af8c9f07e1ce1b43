//! Prime fields: the small trait every sharing and protocol routine is generic over, and its two
//! implementations — the Mersenne prime 2^127 − 1 for data ([`Mp127`]) and the Ristretto255
//! scalar field for group-based protocols ([`RistrettoScalar`]).

mod mersenne;
mod ristretto;

use core::fmt::Debug;
use core::iter::Sum;
use core::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

pub use mersenne::Mp127;
pub use ristretto::RistrettoScalar;

/// Why bytes could not be decoded into a field element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The input did not have the field's fixed encoding length.
    #[error("a {field} element is {expected} bytes, got {got}")]
    WrongLength {
        /// The field's name.
        field: &'static str,
        /// The encoding length of the field.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// The bytes encode an integer that is not reduced modulo the field's prime.
    #[error("non-canonical {field} element: the encoded integer is not below the modulus")]
    NonCanonical {
        /// The field's name.
        field: &'static str,
    },
}

/// A prime field, as used by Shamir sharing and the MPC protocols.
///
/// Elements are small `Copy` values; arithmetic is total (no panics). Encoding is fixed-length
/// little-endian and decoding rejects non-canonical encodings, so that one element has exactly
/// one encoding (commitments and hashes over shares depend on it).
pub trait Field:
    Copy
    + Clone
    + Debug
    + Default
    + PartialEq
    + Eq
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// Length of the canonical encoding in bytes.
    const BYTES: usize;
    /// A short human name, used in error messages.
    const NAME: &'static str;

    /// The element `v mod p`.
    fn from_u64(v: u64) -> Self;

    /// The element `v mod p` for a signed integer (negative values map to `p − |v|`).
    fn from_i64(v: i64) -> Self {
        let magnitude = Self::from_u64(v.unsigned_abs());
        if v < 0 { -magnitude } else { magnitude }
    }

    /// The multiplicative inverse, or `None` for zero.
    fn inverse(&self) -> Option<Self>;

    /// Whether this is the zero element.
    fn is_zero(&self) -> bool {
        *self == Self::ZERO
    }

    /// A uniformly random element.
    fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self;

    /// A uniformly random element read from an extendable-output hash (challenges).
    fn from_xof(reader: &mut blake3::OutputReader) -> Self;

    /// Bytes of pseudo-random function output consumed per element by [`Field::from_prf_bytes`]
    /// (a multiple of 16, the AES block size).
    const PRF_BYTES: usize;

    /// An element from `PRF_BYTES` bytes of PRF output, statistically close to uniform (the
    /// same bytes always give the same element, so that parties holding one key agree).
    fn from_prf_bytes(bytes: &[u8]) -> Self;

    /// Writes the canonical encoding into `out`, which must be exactly [`Field::BYTES`] long.
    fn write_bytes(&self, out: &mut [u8]);

    /// Decodes a canonical encoding.
    fn read_bytes(bytes: &[u8]) -> Result<Self, FieldError>;

    /// The canonical encoding as a new vector.
    fn to_bytes_vec(&self) -> Vec<u8> {
        let mut out = vec![0u8; Self::BYTES];
        self.write_bytes(&mut out);
        out
    }

    /// The inner product `Σ a_i·b_i` of two slices (over the shorter length). Fields override it
    /// to delay modular reduction.
    fn dot(a: &[Self], b: &[Self]) -> Self {
        a.iter().zip(b).map(|(x, y)| *x * *y).sum()
    }

    /// `self^exp` by square-and-multiply.
    fn pow(&self, mut exp: u128) -> Self {
        let mut base = *self;
        let mut acc = Self::ONE;
        while exp > 0 {
            if exp & 1 == 1 {
                acc *= base;
            }
            base *= base;
            exp >>= 1;
        }
        acc
    }
}

/// Inverts every element of `values` in place with one field inversion (Montgomery's trick).
///
/// Returns `false` and leaves `values` unchanged if any element is zero.
pub fn batch_invert<F: Field>(values: &mut [F]) -> bool {
    if values.iter().any(|v| v.is_zero()) {
        return false;
    }
    let mut prefix = Vec::with_capacity(values.len());
    let mut acc = F::ONE;
    for v in values.iter() {
        prefix.push(acc);
        acc *= *v;
    }
    let Some(mut inv) = acc.inverse() else {
        return false;
    };
    for (v, before) in values.iter_mut().zip(prefix).rev() {
        let next = inv * *v;
        *v = inv * before;
        inv = next;
    }
    true
}

/// Encodes a slice of elements back to back.
pub fn encode_slice<F: Field>(values: &[F]) -> Vec<u8> {
    let mut out = vec![0u8; values.len() * F::BYTES];
    for (chunk, v) in out.chunks_exact_mut(F::BYTES).zip(values) {
        v.write_bytes(chunk);
    }
    out
}

/// Decodes back-to-back canonical encodings; the length must be a multiple of [`Field::BYTES`].
pub fn decode_slice<F: Field>(bytes: &[u8]) -> Result<Vec<F>, FieldError> {
    if !bytes.len().is_multiple_of(F::BYTES) {
        return Err(FieldError::WrongLength {
            field: F::NAME,
            expected: F::BYTES,
            got: bytes.len() % F::BYTES,
        });
    }
    bytes.chunks_exact(F::BYTES).map(F::read_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn check_batch_invert<F: Field>() {
        let mut rng = StdRng::seed_from_u64(7);
        let values: Vec<F> = (0..33).map(|_| F::random(&mut rng)).collect();
        let mut inverted = values.clone();
        assert!(batch_invert(&mut inverted));
        for (v, inv) in values.iter().zip(&inverted) {
            assert_eq!(*v * *inv, F::ONE);
        }
        let mut with_zero = values.clone();
        with_zero[5] = F::ZERO;
        let before = with_zero.clone();
        assert!(!batch_invert(&mut with_zero));
        assert_eq!(with_zero, before);
    }

    #[test]
    fn batch_inversion_matches_single_inversion() {
        check_batch_invert::<Mp127>();
        check_batch_invert::<RistrettoScalar>();
    }

    #[test]
    fn slice_codec_round_trips_and_rejects_ragged_input() {
        let values: Vec<Mp127> = (0..10u64).map(Mp127::from_u64).collect();
        let bytes = encode_slice(&values);
        assert_eq!(decode_slice::<Mp127>(&bytes).unwrap(), values);
        assert!(matches!(
            decode_slice::<Mp127>(&bytes[..bytes.len() - 1]),
            Err(FieldError::WrongLength { .. })
        ));
    }
}
