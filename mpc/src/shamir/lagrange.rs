//! Lagrange coefficients for interpolating from a set of parties' shares, cached per party set.

use std::collections::HashMap;

use super::{MAX_PARTIES, ShamirError, eval_point};
use crate::field::{Field, batch_invert};

/// Cached Lagrange coefficients for the committees a protocol meets again and again.
///
/// `at_zero(parties)[k]` is `λ_k(0)` for the points of `parties` (in the given order), so that
/// `secret = Σ λ_k(0)·share_k`; `at_point(parties, j)` interpolates at party `j`'s point instead.
#[derive(Debug, Clone)]
pub struct LagrangeCache<F: Field> {
    n: usize,
    table: HashMap<(Vec<usize>, Option<usize>), Vec<F>>,
}

impl<F: Field> LagrangeCache<F> {
    /// An empty cache for a committee of `n` parties.
    pub fn new(n: usize) -> Self {
        LagrangeCache {
            n,
            table: HashMap::new(),
        }
    }

    /// Coefficients that interpolate the value at `x = 0` from `parties`' shares.
    pub fn at_zero(&mut self, parties: &[usize]) -> Result<&[F], ShamirError> {
        self.coefficients(parties, None)
    }

    /// Coefficients that interpolate the value at party `target`'s point from `parties`' shares.
    pub fn at_point(&mut self, parties: &[usize], target: usize) -> Result<&[F], ShamirError> {
        if target >= self.n {
            return Err(ShamirError::BadParty {
                party: target,
                n: self.n,
            });
        }
        self.coefficients(parties, Some(target))
    }

    fn coefficients(
        &mut self,
        parties: &[usize],
        target: Option<usize>,
    ) -> Result<&[F], ShamirError> {
        let key = (parties.to_vec(), target);
        if !self.table.contains_key(&key) {
            let lambdas = compute(self.n, parties, target)?;
            self.table.insert(key.clone(), lambdas);
        }
        Ok(self.table.get(&key).map(Vec::as_slice).unwrap_or(&[]))
    }
}

fn compute<F: Field>(
    n: usize,
    parties: &[usize],
    target: Option<usize>,
) -> Result<Vec<F>, ShamirError> {
    let mut seen = 0u128;
    for &p in parties {
        if p >= n || p >= MAX_PARTIES || seen & (1u128 << p) != 0 {
            return Err(ShamirError::BadParty { party: p, n });
        }
        seen |= 1u128 << p;
    }
    let x = target.map_or(F::ZERO, eval_point::<F>);
    let points: Vec<F> = parties.iter().map(|&p| eval_point(p)).collect();
    let mut numerators = Vec::with_capacity(points.len());
    let mut denominators = Vec::with_capacity(points.len());
    for (i, &xi) in points.iter().enumerate() {
        let mut num = F::ONE;
        let mut den = F::ONE;
        for (j, &xj) in points.iter().enumerate() {
            if i != j {
                num *= x - xj;
                den *= xi - xj;
            }
        }
        numerators.push(num);
        denominators.push(den);
    }
    // Distinct points make every denominator non-zero; the check above guarantees distinctness.
    if !batch_invert(&mut denominators) {
        return Err(ShamirError::BadParty {
            party: parties.first().copied().unwrap_or(0),
            n,
        });
    }
    Ok(numerators
        .into_iter()
        .zip(denominators)
        .map(|(num, inv_den)| num * inv_den)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Mp127;

    #[test]
    fn known_coefficients_for_three_parties() {
        // Points 1, 2, 3: λ(0) = (3, −3, 1).
        let mut cache = LagrangeCache::<Mp127>::new(3);
        let l = cache.at_zero(&[0, 1, 2]).unwrap().to_vec();
        assert_eq!(l, vec![Mp127::from_u64(3), -Mp127::from_u64(3), Mp127::ONE]);
        // Points 1, 2: λ(0) = (2, −1).
        let l = cache.at_zero(&[0, 1]).unwrap().to_vec();
        assert_eq!(l, vec![Mp127::from_u64(2), -Mp127::ONE]);
        // Interpolating at a member's own point selects that member.
        let l = cache.at_point(&[0, 2], 2).unwrap().to_vec();
        assert_eq!(l, vec![Mp127::ZERO, Mp127::ONE]);
        // Points 1, 2 at x = 3: λ = (−1, 2).
        let l = cache.at_point(&[0, 1], 2).unwrap().to_vec();
        assert_eq!(l, vec![-Mp127::ONE, Mp127::from_u64(2)]);
    }

    #[test]
    fn rejects_repeated_or_out_of_range_parties() {
        let mut cache = LagrangeCache::<Mp127>::new(3);
        assert!(cache.at_zero(&[0, 0]).is_err());
        assert!(cache.at_zero(&[0, 3]).is_err());
        assert!(cache.at_point(&[0, 1], 3).is_err());
    }
}
