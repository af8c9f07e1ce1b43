//! The Mersenne prime field p = 2^127 − 1.
//!
//! Why this prime: reduction is a shift and an add (2^127 ≡ 1), elements fit in one `u128`, and
//! there is room for 64-bit integers plus 40 bits of statistical masking in comparisons.

use core::iter::Sum;
use core::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use super::{Field, FieldError};

/// The modulus 2^127 − 1.
pub const MODULUS: u128 = (1u128 << 127) - 1;

/// An element of GF(2^127 − 1), always kept reduced to `[0, p)`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mp127(u128);

impl core::fmt::Debug for Mp127 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Field elements in this crate are usually shares; Debug prints them only in tests and
        // the type is never logged by the node (tracing fields carry ids and sizes).
        write!(f, "Mp127({:#x})", self.0)
    }
}

/// Reduces any `x < 2^128` to `[0, p)`.
#[inline(always)]
const fn reduce_u128(x: u128) -> u128 {
    let folded = (x & MODULUS) + (x >> 127);
    // folded <= p + 1, so one conditional subtraction suffices.
    if folded >= MODULUS {
        folded - MODULUS
    } else {
        folded
    }
}

/// The 256-bit product `a·b` as (high, low) 128-bit halves, for `a, b < 2^127`.
#[inline(always)]
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    let (a0, a1) = (a as u64 as u128, a >> 64);
    let (b0, b1) = (b as u64 as u128, b >> 64);
    let lo_lo = a0 * b0;
    // a1, b1 < 2^63, so each cross term is < 2^127 and their sum fits in a u128.
    let mid = a0 * b1 + a1 * b0;
    let hi_hi = a1 * b1;
    let (lo, carry) = lo_lo.overflowing_add(mid << 64);
    let hi = hi_hi + (mid >> 64) + carry as u128;
    (hi, lo)
}

/// Reduces a 256-bit value `hi·2^128 + lo` with `hi < 2^126` (a product of two reduced elements).
#[inline(always)]
fn reduce_wide(hi: u128, lo: u128) -> u128 {
    // hi·2^128 + lo = (2·hi + lo_top)·2^127 + lo_low ≡ 2·hi + lo_top + lo_low.
    let upper = (hi << 1) | (lo >> 127);
    reduce_u128((lo & MODULUS) + upper)
}

impl Mp127 {
    /// The element with the given representative, reduced modulo p.
    pub const fn new(value: u128) -> Self {
        Mp127(reduce_u128(value))
    }

    /// The canonical representative in `[0, p)`.
    pub const fn value(self) -> u128 {
        self.0
    }

    /// Interprets the element as a signed integer in `(−p/2, p/2]`, if it fits in an `i128`.
    pub fn to_signed(self) -> i128 {
        if self.0 > MODULUS / 2 {
            -((MODULUS - self.0) as i128)
        } else {
            self.0 as i128
        }
    }
}

impl Add for Mp127 {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        // Both < 2^127 so the sum fits in a u128.
        Mp127(reduce_u128(self.0 + rhs.0))
    }
}

impl Sub for Mp127 {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        let (d, borrow) = self.0.overflowing_sub(rhs.0);
        Mp127(if borrow { d.wrapping_add(MODULUS) } else { d })
    }
}

impl Neg for Mp127 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        if self.0 == 0 {
            self
        } else {
            Mp127(MODULUS - self.0)
        }
    }
}

impl Mul for Mp127 {
    type Output = Self;
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        let (hi, lo) = wide_mul(self.0, rhs.0);
        Mp127(reduce_wide(hi, lo))
    }
}

impl AddAssign for Mp127 {
    #[inline(always)]
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Mp127 {
    #[inline(always)]
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl MulAssign for Mp127 {
    #[inline(always)]
    fn mul_assign(&mut self, rhs: Self) {
        *self = *self * rhs;
    }
}

impl Sum for Mp127 {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Mp127(0), |a, b| a + b)
    }
}

impl Field for Mp127 {
    const ZERO: Self = Mp127(0);
    const ONE: Self = Mp127(1);
    const BYTES: usize = 16;
    const NAME: &'static str = "GF(2^127-1)";

    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        Mp127(v as u128)
    }

    fn inverse(&self) -> Option<Self> {
        if self.0 == 0 {
            return None;
        }
        // Fermat: a^(p−2).
        Some(self.pow(MODULUS - 2))
    }

    fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            let v = u128::from_le_bytes(bytes) & MODULUS;
            // Rejecting the single value p keeps the distribution exactly uniform.
            if v != MODULUS {
                return Mp127(v);
            }
        }
    }

    fn from_xof(reader: &mut blake3::OutputReader) -> Self {
        loop {
            let mut bytes = [0u8; 16];
            reader.fill(&mut bytes);
            let v = u128::from_le_bytes(bytes) & MODULUS;
            if v != MODULUS {
                return Mp127(v);
            }
        }
    }

    // One final modular reduction: each product is only folded below 2^128 and added with a
    // carry count, which is what makes inner products cost about one multiplication per term.
    fn dot(a: &[Mp127], b: &[Mp127]) -> Mp127 {
        let mut acc_lo: u128 = 0;
        let mut acc_hi: u128 = 0;
        for (x, y) in a.iter().zip(b) {
            let (hi, lo) = wide_mul(x.0, y.0);
            // Fold each product to < 2^128 before accumulating so that the accumulator
            // never overflows: r < 2^128 and acc_hi counts the carries.
            let folded = (lo & MODULUS) + ((hi << 1) | (lo >> 127));
            let (sum, carry) = acc_lo.overflowing_add(folded);
            acc_lo = sum;
            acc_hi += carry as u128;
        }
        // acc = acc_hi·2^128 + acc_lo, and 2^128 ≡ 2 (mod p).
        Mp127(reduce_u128(reduce_u128(acc_lo) + reduce_u128(acc_hi << 1)))
    }

    const PRF_BYTES: usize = 16;

    #[inline(always)]
    fn from_prf_bytes(bytes: &[u8]) -> Self {
        let mut array = [0u8; 16];
        for (dst, src) in array.iter_mut().zip(bytes) {
            *dst = *src;
        }
        // 127 uniform bits reduced modulo 2^127 − 1: only the value p maps onto 0 (bias 2^-127).
        Mp127::new(u128::from_le_bytes(array) & MODULUS)
    }

    #[inline]
    fn write_bytes(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.0.to_le_bytes());
    }

    fn read_bytes(bytes: &[u8]) -> Result<Self, FieldError> {
        let array: [u8; 16] = bytes.try_into().map_err(|_| FieldError::WrongLength {
            field: Self::NAME,
            expected: Self::BYTES,
            got: bytes.len(),
        })?;
        let v = u128::from_le_bytes(array);
        if v >= MODULUS {
            return Err(FieldError::NonCanonical { field: Self::NAME });
        }
        Ok(Mp127(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    fn big(x: Mp127) -> BigUint {
        BigUint::from(x.value())
    }

    fn p() -> BigUint {
        BigUint::from(MODULUS)
    }

    fn from_big(x: &BigUint) -> u128 {
        let digits = (x % p()).to_u64_digits();
        digits
            .iter()
            .rev()
            .fold(0u128, |acc, d| (acc << 64) | *d as u128)
    }

    fn element() -> impl Strategy<Value = Mp127> {
        prop_oneof![
            any::<u128>().prop_map(Mp127::new),
            Just(Mp127::ZERO),
            Just(Mp127::ONE),
            Just(Mp127(MODULUS - 1)),
            Just(Mp127(MODULUS / 2)),
            Just(Mp127((1u128 << 64) - 1)),
        ]
    }

    #[test]
    fn known_answers() {
        let minus_one = Mp127(MODULUS - 1);
        assert_eq!(minus_one + Mp127::ONE, Mp127::ZERO);
        assert_eq!(minus_one * minus_one, Mp127::ONE);
        assert_eq!(Mp127::ZERO - Mp127::ONE, minus_one);
        assert_eq!(-Mp127::ONE, minus_one);
        // 2^64 · 2^64 = 2^128 ≡ 2.
        let two64 = Mp127(1u128 << 64);
        assert_eq!(two64 * two64, Mp127(2));
        // 2^126 · 2 = 2^127 ≡ 1.
        assert_eq!(Mp127(1u128 << 126) * Mp127(2), Mp127::ONE);
        // Inverse of 2 is (p + 1) / 2 = 2^126.
        assert_eq!(Mp127(2).inverse(), Some(Mp127(1u128 << 126)));
        assert_eq!(Mp127::ZERO.inverse(), None);
        assert_eq!(Mp127::new(MODULUS), Mp127::ZERO);
        assert_eq!(Mp127::new(u128::MAX), Mp127::ONE);
        assert_eq!(Mp127::from_i64(-5).to_signed(), -5);
        assert_eq!(Mp127::from_i64(i64::MIN).to_signed(), i64::MIN as i128);
    }

    #[test]
    fn decoding_rejects_non_canonical_and_wrong_length() {
        assert_eq!(
            Mp127::read_bytes(&MODULUS.to_le_bytes()),
            Err(FieldError::NonCanonical { field: Mp127::NAME })
        );
        assert!(Mp127::read_bytes(&u128::MAX.to_le_bytes()).is_err());
        assert!(matches!(
            Mp127::read_bytes(&[0u8; 15]),
            Err(FieldError::WrongLength { got: 15, .. })
        ));
        let max = Mp127(MODULUS - 1);
        assert_eq!(Mp127::read_bytes(&max.to_bytes_vec()), Ok(max));
    }

    proptest! {
        #[test]
        fn arithmetic_matches_bigint(a in element(), b in element()) {
            prop_assert_eq!((a + b).value(), from_big(&(big(a) + big(b))));
            prop_assert_eq!((a * b).value(), from_big(&(big(a) * big(b))));
            prop_assert_eq!((a - b).value(), from_big(&(big(a) + p() - big(b))));
            prop_assert_eq!((-a).value(), from_big(&(p() - big(a))));
        }

        #[test]
        fn new_reduces_like_bigint(x in any::<u128>()) {
            prop_assert_eq!(Mp127::new(x).value(), from_big(&BigUint::from(x)));
        }

        #[test]
        fn inverse_is_inverse(a in element()) {
            match a.inverse() {
                Some(inv) => prop_assert_eq!(a * inv, Mp127::ONE),
                None => prop_assert_eq!(a, Mp127::ZERO),
            }
        }

        #[test]
        fn dot_matches_bigint(v in proptest::collection::vec((element(), element()), 0..64)) {
            let (a, b): (Vec<_>, Vec<_>) = v.into_iter().unzip();
            let expect = a.iter().zip(&b).fold(BigUint::from(0u8), |acc, (x, y)| acc + big(*x) * big(*y));
            prop_assert_eq!(Mp127::dot(&a, &b).value(), from_big(&expect));
        }

        #[test]
        fn encoding_round_trips(a in element()) {
            prop_assert_eq!(Mp127::read_bytes(&a.to_bytes_vec()), Ok(a));
        }
    }
}
