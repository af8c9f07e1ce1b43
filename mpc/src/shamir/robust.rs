//! Robust reconstruction: detect shares that do not lie on one polynomial and, when that is
//! sound, correct the value and name the parties whose shares were wrong (Berlekamp–Welch).
//!
//! The sharing has degree `d = t` and at most `t` of its holders are corrupt. With `m` shares,
//! up to `⌊(m − t − 1)/2⌋` wrong shares can be corrected, but only when that radius is at least
//! `t`, i.e. `m ≥ 3t + 1`, is the correction sound: the true polynomial is then the only one
//! within the radius, whatever the corrupt parties send. Below that, `t` colluders can make
//! their shares agree with all but a few honest ones on *another* polynomial (at `m = 5`,
//! `t = 2`: two colluders and two honest parties on one polynomial, one honest party off it), so
//! a decoder with radius `⌊(m − t − 1)/2⌋` would return their value and name an honest party.
//! There an inconsistency is only detected, and nobody is named.

use super::{LagrangeCache, Polynomial, ShamirError, check_share_set, eval_point, reconstruct};
use crate::field::Field;

/// Values recovered by [`robust_reconstruct`] and the parties caught with wrong shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobustOutput<F: Field> {
    /// The reconstructed values.
    pub values: Vec<F>,
    /// Parties (sorted, distinct) whose share of at least one value was wrong.
    pub faulty: Vec<usize>,
}

/// Reconstructs every value from all the given shares of a degree-`degree` sharing of which at
/// most `degree` holders are corrupt. With `m ≥ 3·degree + 1` shares it corrects up to
/// `⌊(m − degree − 1)/2⌋` wrong shares per value and reports whose they were; with fewer it
/// corrects nothing (see the module documentation).
///
/// Fails with [`ShamirError::Inconsistent`] when a value's shares are inconsistent and are not
/// corrected (too many errors, or too few shares for a sound correction); nobody is named then.
pub fn robust_reconstruct<F: Field>(
    cache: &mut LagrangeCache<F>,
    n: usize,
    degree: usize,
    parties: &[usize],
    shares: &[&[F]],
) -> Result<RobustOutput<F>, ShamirError> {
    let len = check_share_set(n, degree + 1, parties, shares)?;
    let mut values = reconstruct(cache, n, degree, parties, shares)?;
    let max_errors = sound_radius(parties.len(), degree);
    let base = &parties[..degree + 1];
    let predictors: Vec<Vec<F>> = parties[degree + 1..]
        .iter()
        .map(|&extra| cache.at_point(base, extra).map(<[F]>::to_vec))
        .collect::<Result<_, _>>()?;
    let mut faulty = 0u128;
    let mut column = vec![F::ZERO; parties.len()];
    for index in 0..len {
        let consistent = predictors.iter().enumerate().all(|(k, lambdas)| {
            let predicted: F = lambdas.iter().zip(shares).map(|(l, s)| *l * s[index]).sum();
            predicted == shares[degree + 1 + k][index]
        });
        if consistent {
            continue;
        }
        let inconsistent = ShamirError::Inconsistent {
            index,
            degree,
            shares: parties.len(),
        };
        if max_errors == 0 {
            return Err(inconsistent);
        }
        for (c, s) in column.iter_mut().zip(shares) {
            *c = s[index];
        }
        let poly = berlekamp_welch(parties, &column, degree, max_errors).ok_or(inconsistent)?;
        for (&p, &y) in parties.iter().zip(&column) {
            if poly.eval(eval_point(p)) != y {
                faulty |= 1u128 << p;
            }
        }
        values[index] = poly.eval(F::ZERO);
    }
    let faulty = (0..n).filter(|&p| faulty & (1u128 << p) != 0).collect();
    Ok(RobustOutput { values, faulty })
}

/// How many wrong shares among `shares` of a degree-`degree` sharing can be corrected soundly
/// when up to `degree` holders are corrupt: `⌊(shares − degree − 1)/2⌋` if that is at least
/// `degree` (`shares ≥ 3·degree + 1`), otherwise none.
pub fn sound_radius(shares: usize, degree: usize) -> usize {
    if shares > 3 * degree {
        (shares - degree - 1) / 2
    } else {
        0
    }
}

/// Finds the polynomial of degree ≤ `degree` that agrees with all but at most `errors` of the
/// points `(party + 1, y)`, or `None` if there is none.
fn berlekamp_welch<F: Field>(
    parties: &[usize],
    ys: &[F],
    degree: usize,
    errors: usize,
) -> Option<Polynomial<F>> {
    // Unknowns: E = x^e + Σ_{k<e} a_k x^k (error locator) and Q = Σ_{k≤e+d} b_k x^k, with
    // Q(x_i) = y_i·E(x_i) at every point. Columns: a_0..a_{e−1}, then b_0..b_{e+d}.
    let unknowns = errors + errors + degree + 1;
    let mut rows: Vec<Vec<F>> = Vec::with_capacity(parties.len());
    for (&p, &y) in parties.iter().zip(ys) {
        let x: F = eval_point(p);
        let mut row = vec![F::ZERO; unknowns + 1];
        let mut power = F::ONE;
        for k in 0..=(errors + degree) {
            if k < errors {
                row[k] = -(y * power);
            }
            row[errors + k] = power;
            if k == errors {
                row[unknowns] = y * power;
            }
            power *= x;
        }
        rows.push(row);
    }
    let solution = solve(rows, unknowns)?;
    let mut locator = solution[..errors].to_vec();
    locator.push(F::ONE);
    let q = Polynomial::new(solution[errors..].to_vec());
    let (p, r) = q.div_rem(&Polynomial::new(locator))?;
    if r.degree().is_some() || p.degree().is_some_and(|d| d > degree) {
        return None;
    }
    let disagreements = parties
        .iter()
        .zip(ys)
        .filter(|&(&party, &y)| p.eval(eval_point(party)) != y)
        .count();
    (disagreements <= errors).then_some(p)
}

/// Solves an augmented linear system by Gauss–Jordan elimination, setting free variables to zero;
/// `None` if it is inconsistent.
fn solve<F: Field>(mut rows: Vec<Vec<F>>, unknowns: usize) -> Option<Vec<F>> {
    let mut pivot_cols = Vec::new();
    let mut r = 0;
    for col in 0..unknowns {
        let Some(pivot) = (r..rows.len()).find(|&i| !rows[i][col].is_zero()) else {
            continue;
        };
        rows.swap(r, pivot);
        let inv = rows[r][col].inverse()?;
        for v in rows[r].iter_mut() {
            *v *= inv;
        }
        let pivot_row = rows[r].clone();
        for (i, row) in rows.iter_mut().enumerate() {
            if i != r && !row[col].is_zero() {
                let factor = row[col];
                for (v, pv) in row.iter_mut().zip(&pivot_row) {
                    *v -= factor * *pv;
                }
            }
        }
        pivot_cols.push(col);
        r += 1;
        if r == rows.len() {
            break;
        }
    }
    if rows[r..].iter().any(|row| !row[unknowns].is_zero()) {
        return None;
    }
    let mut solution = vec![F::ZERO; unknowns];
    for (row, &col) in rows.iter().zip(&pivot_cols) {
        solution[col] = row[unknowns];
    }
    Some(solution)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Mp127;
    use crate::shamir::share_with_degree;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn corrects_up_to_t_errors_when_n_is_3t_plus_1() {
        for (n, t) in [(4, 1), (7, 2), (10, 3)] {
            let mut rng = StdRng::seed_from_u64(n as u64);
            let secrets: Vec<Mp127> = (0..9).map(|_| Mp127::random(&mut rng)).collect();
            let mut shares = share_with_degree(n, t, &secrets, &mut rng);
            // Corrupt t parties, each on a different subset of values (party 0 included, so
            // the first t+1 shares used for the fast path are wrong too).
            let bad: Vec<usize> = (0..t).map(|k| k * 2).collect();
            for (k, &p) in bad.iter().enumerate() {
                for v in (k..9).step_by(2) {
                    shares[p][v] += Mp127::from_u64(1 + v as u64);
                }
            }
            let parties: Vec<usize> = (0..n).collect();
            let views: Vec<&[Mp127]> = shares.iter().map(Vec::as_slice).collect();
            let mut cache = LagrangeCache::new(n);
            let out = robust_reconstruct(&mut cache, n, t, &parties, &views).unwrap();
            assert_eq!(out.values, secrets, "n={n} t={t}");
            assert_eq!(out.faulty, bad, "n={n} t={t}");
        }
    }

    #[test]
    fn detects_but_cannot_correct_with_honest_majority_only() {
        let mut rng = StdRng::seed_from_u64(3);
        let secrets = [Mp127::from_u64(11), Mp127::from_u64(12)];
        let mut shares = share_with_degree(3, 1, &secrets, &mut rng);
        shares[1][1] += Mp127::ONE;
        let views: Vec<&[Mp127]> = shares.iter().map(Vec::as_slice).collect();
        let mut cache = LagrangeCache::new(3);
        assert_eq!(
            robust_reconstruct(&mut cache, 3, 1, &[0, 1, 2], &views),
            Err(ShamirError::Inconsistent {
                index: 1,
                degree: 1,
                shares: 3
            })
        );
    }

    #[test]
    fn too_many_errors_are_reported_not_miscorrected() {
        // n = 4, t = 1 corrects one error; with two wrong shares BW either fails or finds a
        // polynomial that disagrees with > 1 point, which is rejected.
        let mut rng = StdRng::seed_from_u64(4);
        let mut shares = share_with_degree(4, 1, &[Mp127::from_u64(5)], &mut rng);
        shares[0][0] += Mp127::ONE;
        shares[3][0] += Mp127::from_u64(9);
        let views: Vec<&[Mp127]> = shares.iter().map(Vec::as_slice).collect();
        let mut cache = LagrangeCache::new(4);
        let out = robust_reconstruct(&mut cache, 4, 1, &[0, 1, 2, 3], &views);
        assert!(
            matches!(out, Err(ShamirError::Inconsistent { index: 0, .. })),
            "{out:?}"
        );
    }

    #[test]
    fn two_colluders_at_n5_t2_cannot_frame_an_honest_party() {
        // n = 5, t = 2: parties 3 and 4 collude. They replace their shares of f by shares of
        // f' = f + (x − x_0)(x − x_1), which agrees with f at honest parties 0 and 1: four of the
        // five shares lie on f', so a decoder with radius ⌊(5 − 2 − 1)/2⌋ = 1 would "correct"
        // the value to f'(0) = f(0) + x_0·x_1 and name honest party 2.
        let mut rng = StdRng::seed_from_u64(5);
        let secrets = [Mp127::from_u64(1000), Mp127::from_u64(7)];
        let mut shares = share_with_degree(5, 2, &secrets, &mut rng);
        let (x0, x1) = (Mp127::from_u64(1), Mp127::from_u64(2));
        for colluder in [3usize, 4] {
            let x = Mp127::from_u64(colluder as u64 + 1);
            shares[colluder][0] += (x - x0) * (x - x1);
        }
        let views: Vec<&[Mp127]> = shares.iter().map(Vec::as_slice).collect();
        let mut cache = LagrangeCache::new(5);
        let out = robust_reconstruct(&mut cache, 5, 2, &[0, 1, 2, 3, 4], &views);
        assert_eq!(
            out,
            Err(ShamirError::Inconsistent {
                index: 0,
                degree: 2,
                shares: 5
            }),
            "detected, nobody named, no shifted value"
        );
        // The same holds for a single wrong share: below 3t + 1 shares nothing is corrected.
        let mut shares = share_with_degree(5, 2, &secrets, &mut rng);
        shares[4][1] += Mp127::ONE;
        let views: Vec<&[Mp127]> = shares.iter().map(Vec::as_slice).collect();
        assert!(matches!(
            robust_reconstruct(&mut cache, 5, 2, &[0, 1, 2, 3, 4], &views),
            Err(ShamirError::Inconsistent { index: 1, .. })
        ));
    }

    proptest! {
        #[test]
        fn random_corruptions_within_bound_are_corrected(
            seed in any::<u64>(),
            t in 1usize..4,
            corrupt_mask in any::<u16>(),
            deltas in proptest::collection::vec(1u64.., 16),
        ) {
            let n = 3 * t + 1;
            let mut rng = StdRng::seed_from_u64(seed);
            let secret = Mp127::random(&mut rng);
            let mut shares = share_with_degree(n, t, &[secret], &mut rng);
            let bad: Vec<usize> = (0..n).filter(|p| corrupt_mask & (1 << p) != 0).take(t).collect();
            for (&p, &d) in bad.iter().zip(&deltas) {
                shares[p][0] += Mp127::from_u64(d);
            }
            let parties: Vec<usize> = (0..n).collect();
            let views: Vec<&[Mp127]> = shares.iter().map(Vec::as_slice).collect();
            let mut cache = LagrangeCache::new(n);
            let out = robust_reconstruct(&mut cache, n, t, &parties, &views).unwrap();
            prop_assert_eq!(out.values, vec![secret]);
            prop_assert_eq!(out.faulty, bad);
        }
    }
}
