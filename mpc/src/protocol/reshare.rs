//! Re-sharing from a live subset of a committee: values stored with degree-`t` Shamir sharings at
//! the committee's points `1..N` are turned, in one round, into fresh degree-`t` sharings at the
//! session's points `1..n` among the `n ≥ 2t + 1` members that are up.
//!
//! Session party `j` is the `j`-th live member in committee order and holds the share at its
//! original point `x_j`. With `λ_j = Π_{k≠j} x_k / (x_k − x_j)` the Lagrange coefficients at 0 of
//! the live points, the secret is `s = Σ_j λ_j·s_j`. Each party deals `λ_j·s_j` with a fresh random
//! degree-`t` polynomial `g_j` to all `n` parties and each party `i` sums what it receives:
//! `Σ_j g_j(i + 1)` is a degree-`t` sharing at the session's points whose constant term is
//! `Σ_j λ_j·s_j = s`. Any `t` parties see at most `t` points of each honest `g_j`, so they learn
//! nothing new (semi-honest security).
//!
//! A malicious member could deal `λ_j·s_j + e` and shift every value it re-shares. In a malicious
//! session (`n = 2t + 1` live members, so `t` more points than the degree needs) the dealt values
//! must lie on one polynomial of degree `t`: for each of the `t` parity checks
//! `s_m = Σ_{j≤t} ℓ_j(x_m)·s_j` (the polynomial through the first `t + 1` points, at each further
//! point) every party computes its share of the difference from the dealt sharings and records
//! the claim that it is zero; [`Session::verify`] checks the claims with the products, before
//! anything is released. Up to `t` wrong dealings cannot satisfy `t` independent parity checks.

use super::channel::MessageKind;
use super::{ProtocolError, Record, Session};
use crate::field::Field;
use crate::shamir::share_with_degree;
use crate::transport::Transport;

/// Blocks (messages) a party deals ahead of adding what it received.
const RESHARE_WINDOW: usize = 16;

/// Why a list of original evaluation points cannot be used for a re-sharing. Positions are
/// session party indices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointsError {
    /// Not exactly one original point per session party.
    #[error("{got} original evaluation points given for a session of {parties} parties")]
    Count {
        /// Parties in the session.
        parties: usize,
        /// Points given.
        got: usize,
    },
    /// An original point is zero (committee points are `1..N`; 0 is where the secret sits).
    #[error("original evaluation point of party {position} is zero")]
    Zero {
        /// The party whose point is zero.
        position: usize,
    },
    /// The points are not strictly ascending (session parties are the live members in committee
    /// order, so repeated or out-of-order points mean the caller mapped them wrongly).
    #[error("original evaluation points are not strictly ascending at party {position}")]
    NotAscending {
        /// The first party whose point is not above its predecessor's.
        position: usize,
    },
    /// Two points coincide modulo the field's prime (impossible for the fields of this crate,
    /// whose primes exceed 2^64).
    #[error("original evaluation point of party {position} coincides with another in the field")]
    Coincide {
        /// A party whose Lagrange coefficient is undefined.
        position: usize,
    },
}

/// Checks the points and tells whether they are the session's own points `1..n`.
fn check_points(parties: usize, points: &[u64]) -> Result<bool, PointsError> {
    if points.len() != parties {
        return Err(PointsError::Count {
            parties,
            got: points.len(),
        });
    }
    let mut previous = 0u64;
    for (position, &x) in points.iter().enumerate() {
        if x == 0 {
            return Err(PointsError::Zero { position });
        }
        if position > 0 && x <= previous {
            return Err(PointsError::NotAscending { position });
        }
        previous = x;
    }
    Ok(points
        .iter()
        .zip(1u64..)
        .all(|(&x, standard)| x == standard))
}

/// `λ_me(0) = Π_{k≠me} x_k / (x_k − x_me)` for distinct points.
fn lagrange_at_zero<F: Field>(points: &[u64], me: usize) -> Result<F, PointsError> {
    let x_me = points
        .get(me)
        .map(|&x| F::from_u64(x))
        .ok_or(PointsError::Count {
            parties: me + 1,
            got: points.len(),
        })?;
    let mut numerator = F::ONE;
    let mut denominator = F::ONE;
    for (k, &x) in points.iter().enumerate() {
        if k != me {
            let x_k = F::from_u64(x);
            numerator *= x_k;
            denominator *= x_k - x_me;
        }
    }
    let inverse = denominator
        .inverse()
        .ok_or(PointsError::Coincide { position: me })?;
    Ok(numerator * inverse)
}

/// The parity checks of the dealt values `d_j = λ_j·s_j`: row `m − t − 1` holds `c` with
/// `Σ_j c_j·d_j = s_m − Σ_{j≤t} ℓ_j(x_m)·s_j`, which is 0 when the `s_j` lie on one polynomial of
/// degree `t`.
fn parity_checks<F: Field>(points: &[u64], t: usize) -> Result<Vec<Vec<F>>, PointsError> {
    let n = points.len();
    let x = |j: usize| F::from_u64(points[j]);
    // 1/λ_j turns a dealt value back into the share it weights.
    let mut unweight = Vec::with_capacity(n);
    for j in 0..n {
        let lambda: F = lagrange_at_zero(points, j)?;
        unweight.push(
            lambda
                .inverse()
                .ok_or(PointsError::Coincide { position: j })?,
        );
    }
    let mut rows = Vec::with_capacity(n.saturating_sub(t + 1));
    for m in t + 1..n {
        let mut row = vec![F::ZERO; n];
        row[m] = unweight[m];
        for j in 0..=t {
            // ℓ_j(x_m) over the first t + 1 points.
            let mut basis = F::ONE;
            for k in (0..=t).filter(|&k| k != j) {
                let denominator = (x(j) - x(k))
                    .inverse()
                    .ok_or(PointsError::Coincide { position: j })?;
                basis *= (x(m) - x(k)) * denominator;
            }
            row[j] = F::ZERO - basis * unweight[j];
        }
        rows.push(row);
    }
    Ok(rows)
}

impl<F: Field, T: Transport> Session<F, T> {
    /// Turns this party's shares of a degree-`t` sharing at original evaluation points into its
    /// shares of a fresh degree-`t` sharing of the same values at the session's points `1..n`.
    ///
    /// `original_points[j]` is the evaluation point (`1..=N` in the committee that stored the
    /// values) of session party `j`'s shares: one per session party, non-zero and strictly
    /// ascending (session parties are the live members in committee order); every party passes
    /// the same list. `shares` are this party's shares, at `original_points[self.me()]`, with
    /// polynomials of degree `self.t()` (the session's threshold must be the one the values were
    /// stored with). The session itself guarantees `n ≥ 2t + 1`.
    ///
    /// One round: each party sends `shares.len()` elements to each other party; in a malicious
    /// session it also records `t` zero claims per value for [`Session::verify`]. As an
    /// optimisation, when the original points are already `1..n` (the live members are the first
    /// `n` of the committee) the shares are returned unchanged without any communication, which
    /// every party decides alike from the same list.
    pub fn reshare_from_points(
        &mut self,
        original_points: &[u64],
        shares: &[F],
    ) -> Result<Vec<F>, ProtocolError> {
        let (n, t, me) = (self.n(), self.t(), self.me());
        let identity = check_points(n, original_points)?;
        let lambda: F = lagrange_at_zero(original_points, me)?;
        self.transcript.begin(Record::Reshare);
        self.transcript.word(original_points.len() as u64);
        for &x in original_points {
            self.transcript.word(x);
        }
        self.transcript.word(shares.len() as u64);
        if identity {
            return Ok(shares.to_vec());
        }
        // Block by block (one message each): deal block k to everyone, and add everyone's block
        // k − WINDOW. Peak memory stays about one vector (the sum) plus one block per party, no
        // link ever holds more than WINDOW + 1 messages of this step (the transports queue
        // 256), and a long vector still costs only one latency per WINDOW blocks.
        let block = self.channel.chunk_elements().max(1);
        let len = shares.len();
        let blocks = len.div_ceil(block).max(1);
        let others: Vec<usize> = self.others().collect();
        let checks: Vec<Vec<F>> = if self.records_products() {
            parity_checks(original_points, t)?
        } else {
            Vec::new()
        };
        let mut sum: Vec<F> = Vec::with_capacity(len);
        let mut own_blocks: std::collections::VecDeque<Vec<F>> = std::collections::VecDeque::new();
        let mut weighted: Vec<F> = Vec::with_capacity(block.min(len));
        let mut received: Vec<Vec<F>> = vec![Vec::with_capacity(block.min(len)); n];
        let mut zeros: Vec<F> = Vec::new();
        let range = |k: usize| (k * block).min(len)..((k + 1) * block).min(len);
        for k in 0..blocks + RESHARE_WINDOW {
            if k < blocks {
                weighted.clear();
                weighted.extend(shares[range(k)].iter().map(|s| lambda * *s));
                let mut dealt = share_with_degree(n, t, &weighted, &mut self.rng);
                for &peer in &others {
                    self.channel
                        .send_elements(peer, MessageKind::Reshare, &dealt[peer])?;
                }
                own_blocks.push_back(std::mem::take(&mut dealt[me]));
            }
            let Some(done) = k.checked_sub(RESHARE_WINDOW) else {
                continue;
            };
            if done >= blocks {
                break;
            }
            let part = range(done);
            received[me] = own_blocks.pop_front().unwrap_or_default();
            for &dealer in &others {
                received[dealer].clear();
                self.channel.recv_elements_into(
                    dealer,
                    MessageKind::Reshare,
                    part.len(),
                    &mut received[dealer],
                )?;
            }
            sum.extend((0..part.len()).map(|e| {
                received.iter().fold(F::ZERO, |acc, dealt| {
                    acc + dealt.get(e).copied().unwrap_or(F::ZERO)
                })
            }));
            for row in &checks {
                zeros.extend((0..part.len()).map(|e| {
                    row.iter().zip(&received).fold(F::ZERO, |acc, (c, dealt)| {
                        acc + *c * dealt.get(e).copied().unwrap_or(F::ZERO)
                    })
                }));
            }
        }
        if !checks.is_empty() {
            self.pending.record_zeros(&zeros);
        }
        self.rounds += 1;
        Ok(sum)
    }

    /// [`Session::reshare_from_points`] for several columns at once (one round for all of them):
    /// returns the re-shared columns in the same order and lengths, ready for
    /// [`crate::ir::execute`].
    pub fn reshare_columns_from_points(
        &mut self,
        original_points: &[u64],
        columns: &[Vec<F>],
    ) -> Result<Vec<Vec<F>>, ProtocolError> {
        let all: Vec<F> = columns.iter().flatten().copied().collect();
        let mut reshared = self.reshare_from_points(original_points, &all)?.into_iter();
        Ok(columns
            .iter()
            .map(|c| reshared.by_ref().take(c.len()).collect())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Mp127;

    #[test]
    fn points_are_checked() {
        assert_eq!(check_points(3, &[1, 2, 3]), Ok(true));
        assert_eq!(check_points(3, &[1, 3, 4]), Ok(false));
        assert_eq!(check_points(3, &[2, 3, 4]), Ok(false));
        assert_eq!(
            check_points(3, &[1, 2]),
            Err(PointsError::Count { parties: 3, got: 2 })
        );
        assert_eq!(
            check_points(3, &[0, 2, 3]),
            Err(PointsError::Zero { position: 0 })
        );
        assert_eq!(
            check_points(3, &[1, 3, 3]),
            Err(PointsError::NotAscending { position: 2 })
        );
        assert_eq!(
            check_points(3, &[2, 1, 3]),
            Err(PointsError::NotAscending { position: 1 })
        );
    }

    #[test]
    fn lagrange_coefficients_interpolate_at_zero() {
        // f(x) = 5 + 3x at points 2, 5: λ = (5/3, −2/3), 5/3·11 − 2/3·20 = 5.
        let points = [2u64, 5];
        let l0: Mp127 = lagrange_at_zero(&points, 0).unwrap();
        let l1: Mp127 = lagrange_at_zero(&points, 1).unwrap();
        assert_eq!(
            l0 * Mp127::from_u64(11) + l1 * Mp127::from_u64(20),
            Mp127::from_u64(5)
        );
        assert_eq!(l0 + l1, Mp127::ONE);
    }
}
