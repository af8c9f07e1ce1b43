//! The Ristretto255 scalar field (prime order ℓ = 2^252 + 27742317777372353535851937790883648493),
//! used where shares must live in the exponent of a group: Pedersen commitments, DKG, threshold
//! ElGamal.

use core::iter::Sum;
use core::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use curve25519_dalek::scalar::Scalar;

use super::{Field, FieldError};

/// A scalar of the Ristretto255 group.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct RistrettoScalar(pub Scalar);

impl core::fmt::Debug for RistrettoScalar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RistrettoScalar({:02x?})", self.0.as_bytes())
    }
}

impl Add for RistrettoScalar {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        RistrettoScalar(self.0 + rhs.0)
    }
}

impl Sub for RistrettoScalar {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        RistrettoScalar(self.0 - rhs.0)
    }
}

impl Mul for RistrettoScalar {
    type Output = Self;
    fn mul(self, rhs: Self) -> Self {
        RistrettoScalar(self.0 * rhs.0)
    }
}

impl Neg for RistrettoScalar {
    type Output = Self;
    fn neg(self) -> Self {
        RistrettoScalar(-self.0)
    }
}

impl AddAssign for RistrettoScalar {
    fn add_assign(&mut self, rhs: Self) {
        self.0 += rhs.0;
    }
}

impl SubAssign for RistrettoScalar {
    fn sub_assign(&mut self, rhs: Self) {
        self.0 -= rhs.0;
    }
}

impl MulAssign for RistrettoScalar {
    fn mul_assign(&mut self, rhs: Self) {
        self.0 *= rhs.0;
    }
}

impl Sum for RistrettoScalar {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        RistrettoScalar(iter.map(|s| s.0).sum())
    }
}

impl Field for RistrettoScalar {
    const ZERO: Self = RistrettoScalar(Scalar::ZERO);
    const ONE: Self = RistrettoScalar(Scalar::ONE);
    const BYTES: usize = 32;
    const NAME: &'static str = "Ristretto255 scalar";

    fn from_u64(v: u64) -> Self {
        RistrettoScalar(Scalar::from(v))
    }

    fn inverse(&self) -> Option<Self> {
        if self.0 == Scalar::ZERO {
            None
        } else {
            Some(RistrettoScalar(self.0.invert()))
        }
    }

    fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        RistrettoScalar(Scalar::random(rng))
    }

    fn from_xof(reader: &mut blake3::OutputReader) -> Self {
        // 512 bits reduced modulo ℓ: statistically uniform (bias < 2^-250).
        let mut wide = [0u8; 64];
        reader.fill(&mut wide);
        RistrettoScalar(Scalar::from_bytes_mod_order_wide(&wide))
    }

    const PRF_BYTES: usize = 64;

    fn from_prf_bytes(bytes: &[u8]) -> Self {
        let mut wide = [0u8; 64];
        for (dst, src) in wide.iter_mut().zip(bytes) {
            *dst = *src;
        }
        RistrettoScalar(Scalar::from_bytes_mod_order_wide(&wide))
    }

    fn write_bytes(&self, out: &mut [u8]) {
        out.copy_from_slice(self.0.as_bytes());
    }

    fn read_bytes(bytes: &[u8]) -> Result<Self, FieldError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| FieldError::WrongLength {
            field: Self::NAME,
            expected: Self::BYTES,
            got: bytes.len(),
        })?;
        Option::<Scalar>::from(Scalar::from_canonical_bytes(array))
            .map(RistrettoScalar)
            .ok_or(FieldError::NonCanonical { field: Self::NAME })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    fn order() -> BigUint {
        BigUint::parse_bytes(
            b"7237005577332262213973186563042994240857116359379907606001950938285454250989",
            10,
        )
        .unwrap()
    }

    fn big(x: RistrettoScalar) -> BigUint {
        BigUint::from_bytes_le(x.0.as_bytes())
    }

    fn element() -> impl Strategy<Value = RistrettoScalar> {
        prop_oneof![
            any::<[u8; 32]>().prop_map(|b| RistrettoScalar(Scalar::from_bytes_mod_order(b))),
            Just(RistrettoScalar::ZERO),
            Just(-RistrettoScalar::ONE),
        ]
    }

    #[test]
    fn known_answers_and_codec() {
        let minus_one = -RistrettoScalar::ONE;
        assert_eq!(big(minus_one), order() - 1u8);
        assert_eq!(minus_one * minus_one, RistrettoScalar::ONE);
        assert_eq!(RistrettoScalar::ZERO.inverse(), None);
        // The order itself is not a canonical encoding.
        let mut l = order().to_bytes_le();
        l.resize(32, 0);
        assert_eq!(
            RistrettoScalar::read_bytes(&l),
            Err(FieldError::NonCanonical {
                field: RistrettoScalar::NAME
            })
        );
        assert!(RistrettoScalar::read_bytes(&[1u8; 31]).is_err());
    }

    proptest! {
        #[test]
        fn arithmetic_matches_bigint(a in element(), b in element()) {
            let l = order();
            prop_assert_eq!(big(a + b), (big(a) + big(b)) % &l);
            prop_assert_eq!(big(a * b), (big(a) * big(b)) % &l);
            prop_assert_eq!(big(a - b), (big(a) + &l - big(b)) % &l);
            if let Some(inv) = a.inverse() {
                prop_assert_eq!(a * inv, RistrettoScalar::ONE);
            }
            prop_assert_eq!(RistrettoScalar::read_bytes(&a.to_bytes_vec()), Ok(a));
        }
    }
}
