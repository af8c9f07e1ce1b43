//! Shamir secret sharing of whole vectors over any [`Field`]: party `i` (0-based) holds the
//! evaluation at `x = i + 1` of one random polynomial per value whose constant term is the value.
//!
//! Shares are laid out party-major (`shares[party][value]`) because a party's whole vector is what
//! travels in one message.

mod lagrange;
mod poly;
mod robust;

use rand_core::CryptoRng;

use crate::field::Field;

pub use lagrange::LagrangeCache;
pub use poly::Polynomial;
pub use robust::{RobustOutput, robust_reconstruct, sound_radius};

/// Why a sharing or reconstruction could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShamirError {
    /// The threshold and the number of parties do not make a valid scheme.
    #[error(
        "invalid sharing parameters: n = {n}, t = {t} (need 1 <= n <= {max}, t < n{extra})",
        extra = if *honest_majority { ", and 2t < n for honest-majority MPC" } else { "" }
    )]
    InvalidParameters {
        /// Number of parties.
        n: usize,
        /// Threshold (polynomial degree).
        t: usize,
        /// The largest supported committee size.
        max: usize,
        /// Whether the honest-majority bound `2t < n` was requested.
        honest_majority: bool,
    },
    /// A party index is outside `0..n`, or appears twice.
    #[error("party index {party} is out of range for n = {n} or repeated")]
    BadParty {
        /// The offending index.
        party: usize,
        /// Number of parties.
        n: usize,
    },
    /// Fewer shares than needed were supplied.
    #[error("need at least {needed} shares, got {got}")]
    TooFewShares {
        /// Shares needed.
        needed: usize,
        /// Shares given.
        got: usize,
    },
    /// The supplied share vectors do not all have the same length.
    #[error("share vector of party {party} has {got} values, expected {expected}")]
    LengthMismatch {
        /// The party whose vector is off.
        party: usize,
        /// Its length.
        got: usize,
        /// The expected length.
        expected: usize,
    },
    /// The shares of a value do not lie on one polynomial of the expected degree, and there are
    /// not enough shares to correct them.
    #[error(
        "shares of value #{index} are inconsistent (not on one polynomial of degree {degree}) and cannot be corrected with {shares} shares"
    )]
    Inconsistent {
        /// Position of the first inconsistent value in the vector.
        index: usize,
        /// Expected degree.
        degree: usize,
        /// Number of shares available.
        shares: usize,
    },
}

/// The largest committee this implementation accepts; party sets are cached by a 128-bit mask.
pub const MAX_PARTIES: usize = 128;

/// Validated `(n, t)` for a sharing: `n` parties, polynomials of degree `t`, any `t + 1` shares
/// reconstruct and any `t` reveal nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShamirParams {
    n: usize,
    t: usize,
}

impl ShamirParams {
    /// Parameters for a plain `(t, n)` sharing: `t < n`.
    pub fn new(n: usize, t: usize) -> Result<Self, ShamirError> {
        if n == 0 || n > MAX_PARTIES || t >= n {
            return Err(ShamirError::InvalidParameters {
                n,
                t,
                max: MAX_PARTIES,
                honest_majority: false,
            });
        }
        Ok(ShamirParams { n, t })
    }

    /// Parameters for honest-majority MPC: additionally `2t < n`, so that products of two
    /// sharings (degree `2t`) can still be reconstructed.
    pub fn honest_majority(n: usize, t: usize) -> Result<Self, ShamirError> {
        if n == 0 || n > MAX_PARTIES || 2 * t >= n {
            return Err(ShamirError::InvalidParameters {
                n,
                t,
                max: MAX_PARTIES,
                honest_majority: true,
            });
        }
        Ok(ShamirParams { n, t })
    }

    /// Number of parties.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Threshold (degree of the sharing polynomials).
    pub fn t(&self) -> usize {
        self.t
    }
}

/// The evaluation point of party `party` (0-based): `party + 1`.
#[inline]
pub fn eval_point<F: Field>(party: usize) -> F {
    F::from_u64(party as u64 + 1)
}

/// Shares every value of `secrets` with a fresh random polynomial of degree `degree`.
///
/// Returns `shares[party][value]` for `n` parties.
pub fn share_with_degree<F: Field, R: CryptoRng + ?Sized>(
    n: usize,
    degree: usize,
    secrets: &[F],
    rng: &mut R,
) -> Vec<Vec<F>> {
    let mut shares = vec![Vec::with_capacity(secrets.len()); n];
    let points: Vec<F> = (0..n).map(eval_point).collect();
    let mut coefficients = vec![F::ZERO; degree];
    for &secret in secrets {
        for c in coefficients.iter_mut() {
            *c = F::random(rng);
        }
        for (party_shares, &x) in shares.iter_mut().zip(&points) {
            // Horner from the top coefficient down to the secret.
            let mut acc = F::ZERO;
            for &c in coefficients.iter().rev() {
                acc = (acc + c) * x;
            }
            party_shares.push(acc + secret);
        }
    }
    shares
}

/// Shares every value of `secrets` with threshold `params.t()`; returns `shares[party][value]`.
pub fn share<F: Field, R: CryptoRng + ?Sized>(
    params: ShamirParams,
    secrets: &[F],
    rng: &mut R,
) -> Vec<Vec<F>> {
    share_with_degree(params.n, params.t, secrets, rng)
}

/// Checks a set of share vectors: indices distinct and in range, equal lengths, enough of them.
/// Returns the common vector length.
pub(crate) fn check_share_set<F: Field>(
    n: usize,
    needed: usize,
    parties: &[usize],
    shares: &[&[F]],
) -> Result<usize, ShamirError> {
    if parties.len() != shares.len() || parties.len() < needed {
        return Err(ShamirError::TooFewShares {
            needed,
            got: parties.len().min(shares.len()),
        });
    }
    let mut seen = 0u128;
    for &p in parties {
        if p >= n || p >= MAX_PARTIES || seen & (1u128 << p) != 0 {
            return Err(ShamirError::BadParty { party: p, n });
        }
        seen |= 1u128 << p;
    }
    let expected = shares.first().map_or(0, |s| s.len());
    for (&p, s) in parties.iter().zip(shares) {
        if s.len() != expected {
            return Err(ShamirError::LengthMismatch {
                party: p,
                got: s.len(),
                expected,
            });
        }
    }
    Ok(expected)
}

/// Reconstructs each value from the first `degree + 1` of the given share vectors, without
/// checking the others (see [`reconstruct_checked`]).
pub fn reconstruct<F: Field>(
    cache: &mut LagrangeCache<F>,
    n: usize,
    degree: usize,
    parties: &[usize],
    shares: &[&[F]],
) -> Result<Vec<F>, ShamirError> {
    let len = check_share_set(n, degree + 1, parties, shares)?;
    let used = &parties[..degree + 1];
    let lambdas = cache.at_zero(used)?;
    let mut out = vec![F::ZERO; len];
    for (lambda, s) in lambdas.iter().zip(shares) {
        for (o, v) in out.iter_mut().zip(s.iter()) {
            *o += *lambda * *v;
        }
    }
    Ok(out)
}

/// Reconstructs each value and checks that all the given shares lie on one polynomial of degree
/// `degree`; the first value where they do not gives [`ShamirError::Inconsistent`].
pub fn reconstruct_checked<F: Field>(
    cache: &mut LagrangeCache<F>,
    n: usize,
    degree: usize,
    parties: &[usize],
    shares: &[&[F]],
) -> Result<Vec<F>, ShamirError> {
    let values = reconstruct(cache, n, degree, parties, shares)?;
    if let Some(index) = first_inconsistency(cache, degree, parties, shares)? {
        return Err(ShamirError::Inconsistent {
            index,
            degree,
            shares: parties.len(),
        });
    }
    Ok(values)
}

/// The index of the first value whose shares do not lie on one polynomial of degree `degree`.
pub(crate) fn first_inconsistency<F: Field>(
    cache: &mut LagrangeCache<F>,
    degree: usize,
    parties: &[usize],
    shares: &[&[F]],
) -> Result<Option<usize>, ShamirError> {
    let base = &parties[..degree + 1];
    let len = shares.first().map_or(0, |s| s.len());
    let mut first_bad: Option<usize> = None;
    for (extra_pos, &extra) in parties.iter().enumerate().skip(degree + 1) {
        let lambdas = cache.at_point(base, extra)?;
        let limit = first_bad.unwrap_or(len);
        for index in 0..limit {
            let predicted: F = lambdas.iter().zip(shares).map(|(l, s)| *l * s[index]).sum();
            if predicted != shares[extra_pos][index] {
                first_bad = Some(index);
                break;
            }
        }
    }
    Ok(first_bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{Mp127, RistrettoScalar};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn round_trip<F: Field>(n: usize, t: usize, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let params = ShamirParams::new(n, t).unwrap();
        let secrets: Vec<F> = (0..17).map(|_| F::random(&mut rng)).collect();
        let shares = share(params, &secrets, &mut rng);
        let mut cache = LagrangeCache::new(n);
        // Every window of t+1 consecutive parties reconstructs.
        for start in 0..=(n - t - 1) {
            let parties: Vec<usize> = (start..start + t + 1).collect();
            let views: Vec<&[F]> = parties.iter().map(|&p| shares[p].as_slice()).collect();
            assert_eq!(
                reconstruct(&mut cache, n, t, &parties, &views).unwrap(),
                secrets
            );
        }
        let all: Vec<usize> = (0..n).rev().collect();
        let views: Vec<&[F]> = all.iter().map(|&p| shares[p].as_slice()).collect();
        assert_eq!(
            reconstruct_checked(&mut cache, n, t, &all, &views).unwrap(),
            secrets
        );
    }

    #[test]
    fn share_and_reconstruct_round_trip() {
        for (n, t) in [(1, 0), (3, 1), (5, 2), (7, 3), (4, 3), (10, 4)] {
            round_trip::<Mp127>(n, t, n as u64);
            round_trip::<RistrettoScalar>(n, t, 100 + n as u64);
        }
    }

    #[test]
    fn parameters_are_validated() {
        assert!(ShamirParams::new(3, 3).is_err());
        assert!(ShamirParams::new(0, 0).is_err());
        assert!(ShamirParams::new(MAX_PARTIES + 1, 1).is_err());
        assert!(ShamirParams::honest_majority(4, 2).is_err());
        assert!(ShamirParams::honest_majority(5, 2).is_ok());
        let err = ShamirParams::honest_majority(4, 2).unwrap_err();
        assert!(err.to_string().contains("2t < n"), "{err}");
    }

    #[test]
    fn bad_share_sets_are_rejected() {
        let mut rng = StdRng::seed_from_u64(1);
        let shares = share_with_degree::<Mp127, _>(3, 1, &[Mp127::ONE; 4], &mut rng);
        let mut cache = LagrangeCache::new(3);
        let views: Vec<&[Mp127]> = shares.iter().map(Vec::as_slice).collect();
        assert!(matches!(
            reconstruct(&mut cache, 3, 1, &[0, 0], &views[..2]),
            Err(ShamirError::BadParty { party: 0, .. })
        ));
        assert!(matches!(
            reconstruct(&mut cache, 3, 1, &[0, 7], &views[..2]),
            Err(ShamirError::BadParty { party: 7, .. })
        ));
        assert!(matches!(
            reconstruct(&mut cache, 3, 1, &[0], &views[..1]),
            Err(ShamirError::TooFewShares { needed: 2, got: 1 })
        ));
        let short = &shares[1][..3];
        assert!(matches!(
            reconstruct(&mut cache, 3, 1, &[0, 1], &[views[0], short]),
            Err(ShamirError::LengthMismatch { party: 1, .. })
        ));
        let mut tampered = shares[2].clone();
        tampered[3] += Mp127::ONE;
        assert_eq!(
            reconstruct_checked(
                &mut cache,
                3,
                1,
                &[0, 1, 2],
                &[views[0], views[1], &tampered]
            ),
            Err(ShamirError::Inconsistent {
                index: 3,
                degree: 1,
                shares: 3
            })
        );
    }

    proptest! {
        #[test]
        fn any_t_plus_one_parties_reconstruct(
            secrets in proptest::collection::vec(any::<u128>().prop_map(Mp127::new), 1..20),
            (n, t) in (2usize..9).prop_flat_map(|n| (Just(n), 0..n)),
            seed in any::<u64>(),
            pick in any::<u64>(),
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let shares = share_with_degree(n, t, &secrets, &mut rng);
            // A pseudo-random subset of t+1 parties, in a pseudo-random order.
            let mut parties: Vec<usize> = (0..n).collect();
            let mut state = pick;
            for i in (1..n).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                parties.swap(i, (state >> 33) as usize % (i + 1));
            }
            parties.truncate(t + 1);
            let views: Vec<&[Mp127]> = parties.iter().map(|&p| shares[p].as_slice()).collect();
            let mut cache = LagrangeCache::new(n);
            prop_assert_eq!(reconstruct(&mut cache, n, t, &parties, &views).unwrap(), secrets);
        }
    }
}
