//! Security with abort for multiplications: SPDZ-wise Shamir (Chida, Genkin, Hamada, Ikarashi,
//! Kikuchi, Lindell, Nof, CRYPTO 2018; MP-SPDZ's `sy-shamir`).
//!
//! A Damgård–Nielsen multiplication has no redundancy: one member that sends its king a wrong
//! degree-`2t` share, or a king that sends everyone the same wrong opened value, leaves the
//! committee holding a *consistent* sharing of `x·y + e` for an error `e` the cheater chose, and
//! nothing downstream notices. Against such additive errors every value is carried twice: as
//! `[x]` and as `[r·x]` for a secret random MAC key `[r]` nobody knows. Inputs are authenticated
//! by one multiplication with `[r]`; a product is `([x·y], [r·x·y]) = ([x]·[y], [r·x]·[y])`, both
//! in one vectorised round. At the end a random linear combination, with coefficients fixed only
//! after every product is done, checks the whole batch at once:
//!
//! ```text
//!   u = Σ α_k [r·z_k],   w = Σ α_k [z_k],   open r,   open T = u − r·w,   abort unless T = 0
//! ```
//!
//! If some products carry errors, `T` is a non-zero polynomial in the (uniformly random,
//! independent of the errors) `α` and `r` except with probability at most `2 / |F|` — about
//! 2^-126 over GF(2^127 − 1) — so a cheater is caught with overwhelming probability (the proof
//! is Chida et al.'s Theorem 4.5: DN multiplication is secure up to additive attacks, and an
//! additive attack on both `[z]` and `[r·z]` survives the check only if the errors satisfy one
//! random linear equation). Openings of degree-`t` sharings need no MAC: every opening checks
//! all `n` shares against one polynomial, and `n − t ≥ t + 1` honest shares fix it.
//!
//! Nothing that depends on checked products may leave the committee (an output to the
//! requester, an attestation) before [`Session::mac_verify`] has passed. The key is opened by the
//! check, so a [`MacCheck`] verifies once; start another for more work.
//!
//! It also makes random bits that are checked to be bits ([`Session::random_bits_checked`]).
//! This module is the core of malicious security; the IR executor and the comparisons do not use
//! it yet (docs/protocol.md, "Malicious security").

use super::{ProtocolError, Session, check_lengths};
use crate::field::Field;
use crate::transport::Transport;

/// Domain separation of the coefficients' seed expansion.
const COEFFICIENTS_CONTEXT: &str = "sharenet 2026-12 spdz-wise check coefficients v1";

/// One party's state of an authenticated computation: its share of the MAC key and every
/// authenticated sharing so far (value and tag), waiting for the batch check.
///
/// `Debug` shows counts only: the fields are shares.
pub struct MacCheck<F: Field> {
    key: F,
    values: Vec<F>,
    tags: Vec<F>,
}

impl<F: Field> std::fmt::Debug for MacCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacCheck")
            .field("pending", &self.values.len())
            .finish_non_exhaustive()
    }
}

impl<F: Field> MacCheck<F> {
    /// Authenticated sharings recorded and not yet checked.
    pub fn pending(&self) -> usize {
        self.values.len()
    }

    fn record(&mut self, values: &[F], tags: &[F]) {
        self.values.extend_from_slice(values);
        self.tags.extend_from_slice(tags);
    }
}

impl<F: Field, T: Transport> Session<F, T> {
    /// Starts an authenticated computation: a fresh random MAC key `[r]` (degree `t`).
    pub fn mac_start(&mut self) -> Result<MacCheck<F>, ProtocolError> {
        let key = self
            .random_shares(1)?
            .pop()
            .ok_or(ProtocolError::Usage("no random sharing for the MAC key"))?;
        Ok(MacCheck {
            key,
            values: Vec::new(),
            tags: Vec::new(),
        })
    }

    /// The tags `[r·x]` of sharings `x` that enter the computation (inputs, dealt values): one
    /// multiplication each, all in one round. `x` and its tags are recorded for the check.
    pub fn mac_authenticate(
        &mut self,
        mac: &mut MacCheck<F>,
        x: &[F],
    ) -> Result<Vec<F>, ProtocolError> {
        let keys = vec![mac.key; x.len()];
        let tags = self.mul(&keys, x)?;
        mac.record(x, &tags);
        Ok(tags)
    }

    /// Authenticated products: `([x·y], [r·x·y])` from `x`, its tags `x_tags` and `y` (whose
    /// tags were recorded where `y` was made). One round of `2·len` multiplications; the
    /// products and their tags are recorded for the check.
    pub fn mac_mul(
        &mut self,
        mac: &mut MacCheck<F>,
        x: &[F],
        x_tags: &[F],
        y: &[F],
    ) -> Result<(Vec<F>, Vec<F>), ProtocolError> {
        check_lengths(x.len(), y.len())?;
        check_lengths(x.len(), x_tags.len())?;
        let len = x.len();
        let mut left = Vec::with_capacity(2 * len);
        left.extend_from_slice(x);
        left.extend_from_slice(x_tags);
        let mut right = Vec::with_capacity(2 * len);
        right.extend_from_slice(y);
        right.extend_from_slice(y);
        let mut products = self.mul(&left, &right)?;
        let tags = products.split_off(len);
        mac.record(&products, &tags);
        Ok((products, tags))
    }

    /// The batch check of everything `mac` recorded (two rounds): opens a random seed and the
    /// key, combines every value and tag with coefficients expanded from the seed, and opens
    /// `T = Σ α_k [r·z_k] − r·Σ α_k [z_k]`. Fails with [`ProtocolError::CheatingDetected`]
    /// unless `T = 0` (or with the opening's error if some member's shares are inconsistent).
    pub fn mac_verify(&mut self, mac: MacCheck<F>) -> Result<(), ProtocolError> {
        let seed_share = self.random_shares(1)?.pop().ok_or(ProtocolError::Usage(
            "no random sharing for the check's seed",
        ))?;
        // Seed and key are opened only now, after every recorded product was made.
        let opened = self.open(&[seed_share, mac.key])?;
        let (seed, key) = (opened[0], opened[1]);
        let mut coefficients = coefficient_stream(&seed);
        let (mut u, mut w) = (F::ZERO, F::ZERO);
        for (value, tag) in mac.values.iter().zip(&mac.tags) {
            let alpha = F::from_xof(&mut coefficients);
            u += alpha * *tag;
            w += alpha * *value;
        }
        let t = self.open(&[u - key * w])?;
        if t.first().is_none_or(|t| !t.is_zero()) {
            return Err(ProtocolError::CheatingDetected {
                check: "the multiplications' MAC check",
                checked: mac.values.len(),
            });
        }
        Ok(())
    }
}

/// The public coefficients, expanded from the opened seed.
fn coefficient_stream<F: Field>(seed: &F) -> blake3::OutputReader {
    let mut h = blake3::Hasher::new_derive_key(COEFFICIENTS_CONTEXT);
    h.update(&seed.to_bytes_vec());
    h.finalize_xof()
}

impl<T: Transport> Session<crate::field::Mp127, T> {
    /// Shares of `count` random bits that are checked to be bits, for a session with malicious
    /// members (the preprocessing of comparisons and truncations).
    ///
    /// [`Session::random_bits`] XORs the values of `t + 1` dealers and never checks them: a
    /// dealer who deals `1/2` makes every XOR `1/2`, and a comparison masked with such "bits"
    /// opens the low bits of the compared values to every member. Here the dealt values are
    /// authenticated, XORed with authenticated products, squared (`b·b`, also authenticated),
    /// the whole batch passes the MAC check, and only then is `Σ ρ_j (b_j − b_j²)` opened, with
    /// coefficients drawn after the check: it is 0 for bits, and non-zero except with
    /// probability `1/|F|` if any `b_j` is not a bit. Costs the bits' multiplications twice plus
    /// one authenticated square per bit and four rounds of checks.
    pub fn random_bits_checked(
        &mut self,
        count: usize,
    ) -> Result<Vec<crate::field::Mp127>, ProtocolError> {
        use rand_core::Rng;
        if count == 0 {
            return Ok(Vec::new());
        }
        let dealt = self.deal_from_rotating_dealers(count, |rng| {
            crate::field::Mp127::from_u64(u64::from(rng.next_u32() & 1))
        })?;
        self.checked_bits_from_dealt(count, dealt)
    }

    /// The checked XOR of what the dealers dealt (`dealt[j]`: the shares of what the `j`-th
    /// dealer of each chunk dealt).
    fn checked_bits_from_dealt(
        &mut self,
        count: usize,
        dealt: Vec<Vec<crate::field::Mp127>>,
    ) -> Result<Vec<crate::field::Mp127>, ProtocolError> {
        type F = crate::field::Mp127;
        let mut mac = self.mac_start()?;
        let all: Vec<F> = dealt.concat();
        let all_tags = self.mac_authenticate(&mut mac, &all)?;
        let mut operands: Vec<(Vec<F>, Vec<F>)> = all
            .chunks(count.max(1))
            .zip(all_tags.chunks(count.max(1)))
            .map(|(v, t)| (v.to_vec(), t.to_vec()))
            .collect();
        operands.truncate(dealt.len());
        // XOR pairwise, one authenticated multiplication per tree level:
        // a ⊕ b = a + b − 2ab, and the same linear map on the tags.
        while operands.len() > 1 {
            let pairs = operands.len() / 2;
            let (mut a, mut a_tags, mut b) = (Vec::new(), Vec::new(), Vec::new());
            let mut b_tags = Vec::new();
            for p in 0..pairs {
                a.extend_from_slice(&operands[2 * p].0);
                a_tags.extend_from_slice(&operands[2 * p].1);
                b.extend_from_slice(&operands[2 * p + 1].0);
                b_tags.extend_from_slice(&operands[2 * p + 1].1);
            }
            let (ab, ab_tags) = self.mac_mul(&mut mac, &a, &a_tags, &b)?;
            let xor = |x: &[F], y: &[F], xy: &[F]| -> Vec<F> {
                x.iter()
                    .zip(y)
                    .zip(xy)
                    .map(|((x, y), xy)| *x + *y - (*xy + *xy))
                    .collect()
            };
            let values = xor(&a, &b, &ab);
            let tags = xor(&a_tags, &b_tags, &ab_tags);
            let mut next: Vec<(Vec<F>, Vec<F>)> = values
                .chunks(count.max(1))
                .zip(tags.chunks(count.max(1)))
                .map(|(v, t)| (v.to_vec(), t.to_vec()))
                .collect();
            next.truncate(pairs);
            if operands.len() % 2 == 1
                && let Some(last) = operands.pop()
            {
                next.push(last);
            }
            operands = next;
        }
        let (bits, bit_tags) = operands
            .pop()
            .ok_or(ProtocolError::Usage("no dealt values to make bits from"))?;
        let (squares, _) = self.mac_mul(&mut mac, &bits, &bit_tags, &bits)?;
        self.mac_verify(mac)?;
        // The products are now known to be right, so b − b² is 0 exactly for bits.
        let seed = self.random_shares(1)?.pop().ok_or(ProtocolError::Usage(
            "no random sharing for the bit check's seed",
        ))?;
        let seed = self.open(&[seed])?;
        let mut coefficients = coefficient_stream(&seed[0]);
        let mut combined = F::ZERO;
        for (b, s) in bits.iter().zip(&squares) {
            combined += F::from_xof(&mut coefficients) * (*b - *s);
        }
        let opened = self.open(&[combined])?;
        if opened.first().is_none_or(|v| !v.is_zero()) {
            return Err(ProtocolError::CheatingDetected {
                check: "the random bits' check (a dealt value is not a bit)",
                checked: count,
            });
        }
        self.random_bits += count as u64;
        Ok(bits)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::field::Mp127;
    use crate::protocol::RandomnessSource;
    use crate::transport::memory::run_in_memory;

    /// Party `cheater` deals `1/2` in place of each of its random bits; everyone else is honest.
    /// `checked` picks the checked bits or the plain ones.
    fn bits_with_a_cheating_dealer(
        n: usize,
        t: usize,
        cheater: Option<usize>,
        checked: bool,
    ) -> Vec<Result<Vec<Mp127>, ProtocolError>> {
        let count = 40;
        run_in_memory(n, |tr| {
            let me = tr.me();
            let seed = me as u64 * 31 + 7;
            let mut s = Session::<Mp127, _>::with_rng(
                n,
                t,
                tr,
                RandomnessSource::Prss,
                StdRng::seed_from_u64(seed),
            )?;
            let half = Mp127::from_u64(2)
                .inverse()
                .ok_or(ProtocolError::Usage("2 has an inverse"))?;
            let bits = if cheater == Some(me) {
                // Same messages as an honest party, but every value it deals is 1/2.
                let dealt = s.deal_from_rotating_dealers(count, |_| half)?;
                if checked {
                    s.checked_bits_from_dealt(count, dealt)?
                } else {
                    s.xor_dealt_bits(count, dealt)?
                }
            } else if checked {
                s.random_bits_checked(count)?
            } else {
                s.random_bits(count)?
            };
            s.open(&bits)
        })
    }

    fn all_bits(values: &[Mp127]) -> bool {
        values.iter().all(|v| *v == Mp127::ZERO || *v == Mp127::ONE)
    }

    #[test]
    fn checked_bits_are_bits_and_vary() {
        for (n, t) in [(3, 1), (5, 2), (7, 3)] {
            let opened = bits_with_a_cheating_dealer(n, t, None, true);
            let first = opened[0].as_ref().unwrap();
            assert!(all_bits(first), "n={n}");
            assert!(first.contains(&Mp127::ZERO) && first.contains(&Mp127::ONE));
            for o in &opened {
                assert_eq!(o.as_ref().unwrap(), first);
            }
        }
    }

    #[test]
    fn a_dealer_of_halves_breaks_plain_bits_and_is_caught_by_the_check() {
        for (n, t) in [(3, 1), (5, 2)] {
            // The attack works on the unchecked bits: the opened "bits" are not bits.
            let plain = bits_with_a_cheating_dealer(n, t, Some(1), false);
            let values = plain[0].as_ref().unwrap();
            assert!(!all_bits(values), "n={n}: halves went through unchecked");
            // Checked: every party aborts.
            for (party, r) in bits_with_a_cheating_dealer(n, t, Some(1), true)
                .iter()
                .enumerate()
            {
                assert!(
                    matches!(r, Err(ProtocolError::CheatingDetected { .. })),
                    "party {party} n={n}: {r:?}"
                );
            }
        }
    }
}
