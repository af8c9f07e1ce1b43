//! Batched dealer verification: one check for a whole uploaded batch instead of one commitment
//! per value.
//!
//! The dealer shares a vector `v` (one degree-`t` polynomial per value) and one random mask `ρ`.
//! Every receiver `i` commits to what it received, `c_i = blake3(context, i, shares_i, ρ_i)`.
//! From all `n` commitments a challenge key is derived, which expands into coefficients
//! `γ_1..γ_m`; receiver `i` reveals `y_i = ρ_i + Σ_k γ_k·v_{k,i}`, and anyone checks that
//! `y_1..y_n` lie on one polynomial of degree ≤ `t`. If any single value's shares do not, the
//! combination does with probability at most `1/p`; the mask makes the revealed combination a
//! uniformly random value, so it says nothing about `v`.

use rand_core::CryptoRng;

use crate::field::Field;
use crate::prf::{Prf, PrfDomain};
use crate::protocol::{MessageKind, ProtocolError, Record, Session};
use crate::shamir::{LagrangeCache, ShamirError, ShamirParams, reconstruct_checked, share};
use crate::transport::Transport;

const COMMIT_DOMAIN: &str = "sharenet 2026 batch dealer verification: receiver commitment";
const CHALLENGE_DOMAIN: &str = "sharenet 2026 batch dealer verification: challenge";

/// Why a dealt batch was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchVerifyError {
    /// The combined shares do not lie on one polynomial of degree ≤ t: the dealer handed out
    /// inconsistent shares (or a receiver lied about its combination).
    #[error(
        "the dealer's shares are inconsistent: the combined shares of {parties} receivers lie on no polynomial of degree {t}"
    )]
    Inconsistent {
        /// Number of combined shares checked.
        parties: usize,
        /// The threshold.
        t: usize,
    },
    /// The verification round failed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Invalid parameters or share set.
    #[error(transparent)]
    Shamir(#[from] ShamirError),
}

/// A receiver's binding commitment to the shares it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShareCommitment(pub [u8; 32]);

/// What one receiver gets from the dealer: its share of every value and of the mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealtShares<F: Field> {
    /// Shares of the values, in order.
    pub shares: Vec<F>,
    /// Share of the random mask.
    pub mask: F,
}

/// Deals `values` plus a fresh random mask to `params.n()` receivers.
pub fn deal<F: Field, R: CryptoRng + ?Sized>(
    params: ShamirParams,
    values: &[F],
    rng: &mut R,
) -> Vec<DealtShares<F>> {
    let mask = F::random(rng);
    let mask_shares = share(params, &[mask], rng);
    share(params, values, rng)
        .into_iter()
        .zip(mask_shares)
        .map(|(shares, m)| DealtShares {
            shares,
            mask: m.first().copied().unwrap_or(F::ZERO),
        })
        .collect()
}

/// Receiver `party`'s commitment to its dealt shares; `context` names the batch (dataset, dealer,
/// batch number) so that a commitment cannot be replayed for another batch.
pub fn commit<F: Field>(context: &[u8], party: usize, dealt: &DealtShares<F>) -> ShareCommitment {
    let mut hasher = blake3::Hasher::new_derive_key(COMMIT_DOMAIN);
    hasher.update(&(context.len() as u64).to_le_bytes());
    hasher.update(context);
    hasher.update(&(party as u64).to_le_bytes());
    hasher.update(&(dealt.shares.len() as u64).to_le_bytes());
    let mut buf = vec![0u8; F::BYTES];
    for v in dealt.shares.iter().chain(core::iter::once(&dealt.mask)) {
        v.write_bytes(&mut buf);
        hasher.update(&buf);
    }
    ShareCommitment(*hasher.finalize().as_bytes())
}

/// The challenge coefficients `γ_1..γ_count` fixed by all receivers' commitments (in party order).
pub fn challenge<F: Field>(
    context: &[u8],
    commitments: &[ShareCommitment],
    count: usize,
) -> Vec<F> {
    let mut hasher = blake3::Hasher::new_derive_key(CHALLENGE_DOMAIN);
    hasher.update(&(context.len() as u64).to_le_bytes());
    hasher.update(context);
    hasher.update(&(commitments.len() as u64).to_le_bytes());
    for c in commitments {
        hasher.update(&c.0);
    }
    let digest = hasher.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest.as_bytes()[..16]);
    let mut out = Vec::with_capacity(count);
    Prf::new(key).expand_into(
        PrfDomain::BatchChallenge,
        0,
        count,
        1,
        &mut Vec::new(),
        &mut out,
    );
    out
}

/// The combination `ρ_i + Σ_k γ_k·v_{k,i}` that receiver `i` reveals.
pub fn combine<F: Field>(dealt: &DealtShares<F>, coefficients: &[F]) -> F {
    dealt.mask + F::dot(coefficients, &dealt.shares)
}

/// Checks that the revealed combinations of `parties` lie on one polynomial of degree ≤ `t`.
pub fn check_combinations<F: Field>(
    cache: &mut LagrangeCache<F>,
    n: usize,
    t: usize,
    parties: &[usize],
    combined: &[F],
) -> Result<(), BatchVerifyError> {
    let columns: Vec<[F; 1]> = combined.iter().map(|c| [*c]).collect();
    let views: Vec<&[F]> = columns.iter().map(|c| c.as_slice()).collect();
    match reconstruct_checked(cache, n, t, parties, &views) {
        Ok(_) => Ok(()),
        Err(ShamirError::Inconsistent { .. }) => Err(BatchVerifyError::Inconsistent {
            parties: parties.len(),
            t,
        }),
        Err(e) => Err(e.into()),
    }
}

impl<F: Field, T: Transport> Session<F, T> {
    /// Runs the batch check among the committee for shares this party received from a dealer:
    /// one round to exchange commitments, one to exchange combinations. Every honest party
    /// accepts or rejects the same batch.
    pub fn verify_dealing(
        &mut self,
        context: &[u8],
        dealt: &DealtShares<F>,
    ) -> Result<(), BatchVerifyError> {
        let (n, t, me) = (self.n(), self.t(), self.me());
        let mine = commit(context, me, dealt);
        let others: Vec<usize> = (0..n).filter(|&p| p != me).collect();
        for &peer in &others {
            self.channel_mut()
                .send_bytes(peer, MessageKind::VssCommitment, &mine.0)?;
        }
        let mut commitments = Vec::with_capacity(n);
        for party in 0..n {
            if party == me {
                commitments.push(mine);
                continue;
            }
            let bytes = self
                .channel_mut()
                .recv_bytes(party, MessageKind::VssCommitment)?;
            let array: [u8; 32] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| ProtocolError::WrongLength {
                        from: party,
                        expected_bytes: 32,
                        got_bytes: bytes.len(),
                    })?;
            commitments.push(ShareCommitment(array));
        }
        let coefficients: Vec<F> = challenge(context, &commitments, dealt.shares.len());
        let combined = combine(dealt, &coefficients);
        for &peer in &others {
            self.channel_mut()
                .send_elements(peer, MessageKind::VssCombined, &[combined])?;
        }
        let mut all = Vec::with_capacity(n);
        for party in 0..n {
            if party == me {
                all.push(combined);
            } else {
                let v =
                    self.channel_mut()
                        .recv_elements::<F>(party, MessageKind::VssCombined, 1)?;
                all.extend(v);
            }
        }
        self.add_rounds(2);
        // Commitments and combinations are what every receiver sees identically.
        let transcript = self.transcript_mut();
        transcript.begin(Record::VerifyDealing);
        transcript.bytes(context);
        transcript.word(dealt.shares.len() as u64);
        transcript.word(commitments.len() as u64);
        for c in &commitments {
            transcript.fixed(&c.0);
        }
        transcript.elements(&all);
        let parties: Vec<usize> = (0..n).collect();
        check_combinations(&mut LagrangeCache::new(n), n, t, &parties, &all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Mp127;
    use crate::shamir::share_with_degree;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Runs the check as pure functions, as the committee would.
    fn accepts(t: usize, dealt: &[DealtShares<Mp127>]) -> bool {
        let n = dealt.len();
        let ctx = b"dataset 7 / batch 0";
        let commitments: Vec<_> = dealt
            .iter()
            .enumerate()
            .map(|(i, d)| commit(ctx, i, d))
            .collect();
        let gamma: Vec<Mp127> = challenge(ctx, &commitments, dealt[0].shares.len());
        let combined: Vec<Mp127> = dealt.iter().map(|d| combine(d, &gamma)).collect();
        let parties: Vec<usize> = (0..n).collect();
        check_combinations(&mut LagrangeCache::new(n), n, t, &parties, &combined).is_ok()
    }

    fn honest(n: usize, t: usize, m: usize, seed: u64) -> (Vec<Mp127>, Vec<DealtShares<Mp127>>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let values: Vec<Mp127> = (0..m).map(|_| Mp127::random(&mut rng)).collect();
        let params = ShamirParams::honest_majority(n, t).unwrap();
        let dealt = deal(params, &values, &mut rng);
        (values, dealt)
    }

    #[test]
    fn honest_dealing_is_accepted() {
        for (n, t) in [(3, 1), (5, 2), (7, 3)] {
            let (_, dealt) = honest(n, t, 500, n as u64);
            assert!(accepts(t, &dealt));
        }
    }

    #[test]
    fn one_wrong_share_is_caught() {
        for (n, t) in [(3, 1), (5, 2), (7, 3)] {
            for victim in 0..n {
                let (_, mut dealt) = honest(n, t, 200, 10 + victim as u64);
                dealt[victim].shares[137] += Mp127::ONE;
                assert!(!accepts(t, &dealt), "n={n} victim={victim}");
            }
        }
    }

    #[test]
    fn a_value_shared_with_too_high_a_degree_is_caught() {
        for (n, t) in [(3, 1), (5, 2), (7, 3)] {
            let (values, mut dealt) = honest(n, t, 200, 20);
            let mut rng = StdRng::seed_from_u64(21);
            let high = share_with_degree(n, t + 1, &[values[42]], &mut rng);
            for (d, h) in dealt.iter_mut().zip(&high) {
                d.shares[42] = h[0];
            }
            assert!(!accepts(t, &dealt), "n={n}");
        }
    }

    #[test]
    fn shares_of_two_different_vectors_are_caught() {
        // The first t+1 receivers get shares of v, the rest shares of v' (v' differs in one
        // place): each group alone looks consistent, the committee as a whole is not.
        for (n, t) in [(3, 1), (5, 2), (7, 3)] {
            let (mut values, dealt_v) = honest(n, t, 100, 30);
            values[99] += Mp127::from_u64(5);
            let params = ShamirParams::honest_majority(n, t).unwrap();
            let dealt_w = deal(params, &values, &mut StdRng::seed_from_u64(31));
            let mixed: Vec<_> = (0..n)
                .map(|i| {
                    if i <= t {
                        dealt_v[i].clone()
                    } else {
                        dealt_w[i].clone()
                    }
                })
                .collect();
            assert!(!accepts(t, &mixed), "n={n}");
        }
    }

    #[test]
    fn the_mask_hides_the_combination() {
        // Same values, same challenge inputs except the dealer's randomness: the revealed
        // combination differs, so it is not a function of the values alone.
        let values: Vec<Mp127> = (0..10u64).map(Mp127::from_u64).collect();
        let params = ShamirParams::honest_majority(3, 1).unwrap();
        let a = deal(params, &values, &mut StdRng::seed_from_u64(1));
        let b = deal(params, &values, &mut StdRng::seed_from_u64(2));
        let gamma: Vec<Mp127> = challenge(b"ctx", &[ShareCommitment([0; 32])], 10);
        let open = |d: &[DealtShares<Mp127>]| {
            let c: Vec<Mp127> = d.iter().map(|x| combine(x, &gamma)).collect();
            let views: Vec<[Mp127; 1]> = c.iter().map(|v| [*v]).collect();
            let v: Vec<&[Mp127]> = views.iter().map(|x| x.as_slice()).collect();
            crate::shamir::reconstruct(&mut LagrangeCache::new(3), 3, 1, &[0, 1, 2], &v).unwrap()
        };
        assert_ne!(open(&a), open(&b));
    }

    #[test]
    fn commitments_bind_context_party_and_contents() {
        let (_, dealt) = honest(3, 1, 4, 40);
        let c = commit(b"a", 0, &dealt[0]);
        assert_ne!(c, commit(b"b", 0, &dealt[0]));
        assert_ne!(c, commit(b"a", 1, &dealt[0]));
        let mut changed = dealt[0].clone();
        changed.mask += Mp127::ONE;
        assert_ne!(c, commit(b"a", 0, &changed));
    }
}
