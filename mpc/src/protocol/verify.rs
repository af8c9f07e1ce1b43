//! Security with abort against malicious members (honest majority, `n = 2t + 1`): every product
//! is verified after the fact with a secret random key, and nothing that depends on secret data
//! is opened before the check has passed.
//!
//! A Damgård–Nielsen multiplication has no redundancy: a member that sends its king a wrong
//! degree-`2t` share, or a king that broadcasts a wrong opened value, leaves the committee with
//! a consistent sharing of `x·y + e` for an error `e` the cheater chose (an *additive attack*:
//! `e` cannot depend on the secrets, which the cheater only sees masked). Chida, Genkin, Hamada,
//! Ikarashi, Kikuchi, Lindell and Nof (CRYPTO 2018, "SPDZ-wise Shamir", MP-SPDZ's `sy-shamir`)
//! catch such errors by running every product also on `[r·x]` for a secret key `[r]` and
//! checking one random linear combination. We use their check with the key applied only at
//! verification time, so no value carries a tag while the query runs (the protocols above are
//! unchanged): in a session with [`Security::Malicious`] each multiplication gate records its
//! operands and product `(x_j, y_j, z_k)` (an inner product records its terms), and
//! [`Session::verify`] checks the whole batch:
//!
//! ```text
//!   [r] random (never opened);  [s_j] = [r]·[x_j] for every term            (one round of DN)
//!   α opened (fixed only now: every product is already made)
//!   [D] = Σ_k α^k Σ_{j∈k} [s_j]·[y_j]  and  [R] = [r]·Σ_k α^k [z_k]        (two DN gates)
//!   [T] = [D] − [R];  open β·T for a fresh random [β]; abort unless it is 0
//! ```
//!
//! With additive errors `e_k` in the products, `f_j` in the `s_j`, `g` and `h` in `D` and `R`:
//! `T = Σ_k α^k Σ_j f_j·y_j + g − h − r·Σ_k α^k e_k`. If some `e_k ≠ 0`, the polynomial
//! `Σ α^k e_k` in the random `α` is non-zero except with probability `K/|F|` (`K` recorded
//! gates); then `T = 0` only if `r` equals one value fixed before anything about `r` was
//! revealed (nothing ever is): probability `1/|F|`. Opening `β·T` instead of `T` hides what a
//! cheater's `f_j` would otherwise reveal (`Σ α^k f_j y_j`): a non-zero `T` opens to a uniform
//! value, zero with probability `1/|F|` whatever error the cheater adds to that last product.
//! Over GF(2^127 − 1) with at most [`VERIFY_BATCH`] gates per check a deviation survives with
//! probability below 2^-105.
//!
//! A *claim* `z = x·y` needs no multiplication at all, so the same check also proves that random
//! bits are bits (`b = b·b`, see [`Session::random_bits`]) and that re-shared inputs lie on one
//! polynomial (`s = 0·0` for each parity check, see [`Session::reshare_from_points`]).
//!
//! Openings of degree-`t` sharings check all `n` shares against one polynomial, and `t + 1`
//! honest shares fix it, so an opening itself cannot be falsified. Values opened *during* a
//! computation are masked by checked randomness and reveal nothing even if an earlier product was
//! wrong; every other opening ([`Session::open`], [`Session::open_to`]: gates, outputs) runs
//! [`Session::verify`] first.

use super::{ProtocolError, Session};
use crate::field::Field;
use crate::transport::Transport;

/// At most this many recorded terms are verified at once: the next multiplication verifies the
/// batch first. Bounds the memory of a long computation (three elements per term) and keeps the
/// check's soundness error below `(VERIFY_BATCH + 2)/|F|`.
pub const VERIFY_BATCH: usize = 1 << 21;

/// What a session defends against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Security {
    /// Members follow the protocol (they may try to learn from what they see): the fastest.
    SemiHonest,
    /// Up to `t` members may deviate arbitrarily: a deviation makes the session abort with
    /// [`ProtocolError::CheatingDetected`] before anything that depends on it is released.
    /// Needs `n = 2t + 1`.
    #[default]
    Malicious,
}

impl Security {
    /// The name used in configuration, on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::SemiHonest => "semi-honest",
            Security::Malicious => "malicious",
        }
    }
}

impl core::fmt::Display for Security {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Security {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "semi-honest" => Ok(Security::SemiHonest),
            "malicious" => Ok(Security::Malicious),
            other => Err(format!(
                "unknown security level `{other}` (expected `malicious` or `semi-honest`)"
            )),
        }
    }
}

/// Verified random bits made and not used yet, and how many to make at the next refill (which
/// doubles from [`FIRST_BIT_BATCH`] up to [`MAX_BIT_BATCH`]: a short session wastes little, a
/// long run of small requests costs few verifications). `Debug` shows counts, never shares.
pub(crate) struct BitPool<F> {
    pub(crate) bits: Vec<F>,
    pub(crate) next_batch: usize,
}

impl<F> Default for BitPool<F> {
    fn default() -> Self {
        BitPool {
            bits: Vec::new(),
            next_batch: FIRST_BIT_BATCH,
        }
    }
}

impl<F> core::fmt::Debug for BitPool<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BitPool")
            .field("bits", &self.bits.len())
            .field("next_batch", &self.next_batch)
            .finish()
    }
}

/// The first refill of a malicious session's random bits.
pub const FIRST_BIT_BATCH: usize = 1 << 10;
/// The largest refill beyond what a call asks for.
pub const MAX_BIT_BATCH: usize = 1 << 16;

/// Gates recorded since the last verification. Runs of gates with the same number of terms are
/// stored as one span, so a vector of `len` multiplications costs one span, not `len`.
///
/// `Debug` shows counts only: the fields are shares.
#[derive(Default)]
pub(crate) struct PendingProducts<F> {
    /// Left operands of every term, in order.
    x: Vec<F>,
    /// Right operands of every term.
    y: Vec<F>,
    /// One claimed product per gate.
    z: Vec<F>,
    /// `(gates, terms per gate)`, in order.
    spans: Vec<(usize, usize)>,
}

impl<F> core::fmt::Debug for PendingProducts<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PendingProducts")
            .field("gates", &self.z.len())
            .field("terms", &self.x.len())
            .finish_non_exhaustive()
    }
}

impl<F: Field> PendingProducts<F> {
    pub(crate) fn terms(&self) -> usize {
        self.x.len()
    }

    fn push_span(&mut self, gates: usize, terms_per_gate: usize) {
        match self.spans.last_mut() {
            Some((count, per)) if *per == terms_per_gate => *count += gates,
            _ => self.spans.push((gates, terms_per_gate)),
        }
    }

    /// Records `z[i] = x[i]·y[i]`.
    pub(crate) fn record_products(&mut self, x: &[F], y: &[F], z: &[F]) {
        self.x.extend_from_slice(x);
        self.y.extend_from_slice(y);
        self.z.extend_from_slice(z);
        self.push_span(z.len(), 1);
    }

    /// Records `z[i] = Σ_k xs[i][k]·ys[i][k]`.
    pub(crate) fn record_dots(&mut self, xs: &[&[F]], ys: &[&[F]], z: &[F]) {
        for ((row_x, row_y), z) in xs.iter().zip(ys).zip(z) {
            self.x.extend_from_slice(row_x);
            self.y.extend_from_slice(row_y);
            self.z.push(*z);
            self.push_span(1, row_x.len());
        }
    }

    /// Records the claim that each `z[i]` is zero (a product with no terms).
    pub(crate) fn record_zeros(&mut self, z: &[F]) {
        self.z.extend_from_slice(z);
        self.push_span(z.len(), 0);
    }
}

impl<F: Field, T: Transport> Session<F, T> {
    /// What this session defends against.
    pub fn security(&self) -> Security {
        self.security
    }

    /// Makes this session secure with abort against up to `t` malicious members (the default is
    /// [`Security::SemiHonest`]). Every party must call it at the same point, before anything
    /// else: it takes one round (confirming the PRSS keys, see below).
    ///
    /// Needs `n = 2t + 1` (the honest members' `t + 1` shares then define every sharing, so a
    /// cheating king or dealer can only add errors, which the check catches) and the PRSS keys
    /// (set up now if the session draws its randomness from hyper-invertible batches): bounded
    /// random integers come from them, so a dealer cannot deal a mask out of range. The holders
    /// of each key confirm they hold the same one. Fails with [`ProtocolError::Usage`] for a
    /// committee too large for PRSS ([`MALICIOUS_MAX_KEY_SETS`]).
    pub fn set_security(&mut self, security: Security) -> Result<(), ProtocolError> {
        if security == self.security {
            return Ok(());
        }
        if self.rounds > self.setup_rounds || !self.pending.z.is_empty() {
            return Err(ProtocolError::Usage(
                "the security level must be set before the session computes anything",
            ));
        }
        if security == Security::Malicious {
            let (n, t) = (self.n(), self.t());
            if n != 2 * t + 1 {
                return Err(ProtocolError::Usage(
                    "malicious security needs a session of exactly 2t + 1 members",
                ));
            }
            if super::prss::key_sets(n, t) > MALICIOUS_MAX_KEY_SETS {
                return Err(ProtocolError::Usage(
                    "malicious security needs PRSS keys, and this committee is too large for them",
                ));
            }
            if self.prss.is_none() {
                self.prss = Some(super::Prss::setup(self)?);
                self.prss_doubles = false;
            }
            super::prss::confirm_keys(self)?;
        }
        self.security = security;
        Ok(())
    }

    /// Terms recorded and not yet verified.
    pub fn pending_verification(&self) -> usize {
        self.pending.z.len()
    }

    /// Checks every product and claim recorded since the last check (eight rounds with PRSS double
    /// sharings, thirteen with hyper-invertible batches; one multiplication per recorded term,
    /// plus three). Fails with [`ProtocolError::CheatingDetected`] if any of them is wrong; after
    /// a failure the session must be abandoned. Does nothing in a semi-honest session or when
    /// nothing is pending.
    pub fn verify(&mut self) -> Result<(), ProtocolError> {
        if self.security != Security::Malicious || self.pending.z.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let gates = pending.z.len();
        let randoms = self.random_shares(2)?;
        let (key, blind) = match randoms.as_slice() {
            [key, blind] => (*key, *blind),
            _ => return Err(ProtocolError::Usage("no random sharings for the check")),
        };
        // [s_j] = [r]·[x_j]: the key applied to every left operand.
        let keys = vec![key; pending.x.len()];
        let keyed = self.mul_unrecorded(&keys, &pending.x)?;
        // The coefficients are fixed only now, after every recorded product was made.
        let seed_share = self.random_shares(1)?;
        let alpha = self
            .open_unverified(&seed_share)?
            .pop()
            .ok_or(ProtocolError::Usage("no seed for the check"))?;
        // Left side: Σ_k α^k Σ_{j∈k} s_j·y_j as one inner product; right side: r·Σ_k α^k z_k.
        let mut weighted_y = Vec::with_capacity(pending.y.len());
        let mut combined_z = F::ZERO;
        let mut power = F::ONE;
        let (mut term, mut gate) = (0usize, 0usize);
        for &(count, per_gate) in &pending.spans {
            for _ in 0..count {
                power *= alpha;
                combined_z += power * pending.z[gate];
                for y in &pending.y[term..term + per_gate] {
                    weighted_y.push(power * *y);
                }
                term += per_gate;
                gate += 1;
            }
        }
        let sides = self.dot_unrecorded(&[&keyed, &[key]], &[&weighted_y, &[combined_z]])?;
        let difference = match sides.as_slice() {
            [left, right] => *left - *right,
            _ => {
                return Err(ProtocolError::Usage(
                    "the check's inner products are missing",
                ));
            }
        };
        // Opening β·T, not T: a non-zero T opens to a uniform value whatever it is made of.
        let blinded = self.mul_unrecorded(&[blind], &[difference])?;
        let opened = self.open_unverified(&blinded)?;
        if opened.first().is_none_or(|v| !v.is_zero()) {
            return Err(ProtocolError::CheatingDetected {
                check: "the products' verification",
                checked: gates,
            });
        }
        Ok(())
    }

    /// Verifies the pending batch if it has reached [`VERIFY_BATCH`] terms (every party reaches it
    /// at the same gate).
    pub(crate) fn verify_if_full(&mut self) -> Result<(), ProtocolError> {
        if self.pending.terms() + self.pending.z.len() >= VERIFY_BATCH {
            self.verify()?;
        }
        Ok(())
    }

    /// Whether products must be recorded for verification.
    pub(crate) fn records_products(&self) -> bool {
        self.security == Security::Malicious
    }
}

/// Largest number of PRSS key sets (`C(n, t)`) a malicious session accepts: up to 9 members.
pub const MALICIOUS_MAX_KEY_SETS: usize = 126;

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::field::Mp127;
    use crate::protocol::RandomnessSource;
    use crate::transport::memory::run_in_memory;

    /// Party `cheater` deals `1/2` in place of each of its random bits; everyone else is honest.
    fn bits_with_a_dealer_of_halves(
        n: usize,
        t: usize,
        cheater: Option<usize>,
        security: Security,
    ) -> Vec<Result<Vec<Mp127>, ProtocolError>> {
        let count = 40;
        run_in_memory(n, |tr| {
            let me = tr.me();
            let rng = StdRng::seed_from_u64(me as u64 * 31 + 7);
            let mut s = Session::<Mp127, _>::with_rng(n, t, tr, RandomnessSource::Prss, rng)?;
            s.set_security(security)?;
            let bits = if cheater == Some(me) {
                let half = Mp127::from_u64(2)
                    .inverse()
                    .ok_or(ProtocolError::Usage("2 has an inverse"))?;
                // Same messages as an honest party, but every value it deals is 1/2.
                let dealt = s.deal_from_rotating_dealers(count, |_| half)?;
                s.bits_from_dealt(count, dealt)?
            } else {
                s.dealt_bits(count)?
            };
            s.open(&bits)
        })
    }

    fn all_bits(values: &[Mp127]) -> bool {
        values.iter().all(|v| *v == Mp127::ZERO || *v == Mp127::ONE)
    }

    #[test]
    fn malicious_random_bits_are_bits_and_vary() {
        for (n, t) in [(3, 1), (5, 2), (7, 3)] {
            let opened = bits_with_a_dealer_of_halves(n, t, None, Security::Malicious);
            let first = opened[0].as_ref().unwrap();
            assert!(all_bits(first), "n={n}");
            assert!(first.contains(&Mp127::ZERO) && first.contains(&Mp127::ONE));
            for o in &opened {
                assert_eq!(o.as_ref().unwrap(), first);
            }
        }
    }

    #[test]
    fn a_dealer_of_halves_breaks_semi_honest_bits_and_is_caught_when_malicious() {
        for (n, t) in [(3, 1), (5, 2)] {
            let plain = bits_with_a_dealer_of_halves(n, t, Some(1), Security::SemiHonest);
            let values = plain[0].as_ref().unwrap();
            assert!(!all_bits(values), "n={n}: halves went through unchecked");
            let checked = bits_with_a_dealer_of_halves(n, t, Some(1), Security::Malicious);
            for (party, r) in checked.iter().enumerate() {
                assert!(
                    matches!(r, Err(ProtocolError::CheatingDetected { .. })),
                    "party {party} n={n}: {r:?}"
                );
            }
        }
    }

    #[test]
    fn malicious_sessions_need_2t_plus_1_members_and_a_fresh_session() {
        let results = run_in_memory(4, |tr| {
            let rng = StdRng::seed_from_u64(tr.me() as u64);
            let mut s = Session::<Mp127, _>::with_rng(4, 1, tr, RandomnessSource::Prss, rng)?;
            s.set_security(Security::Malicious)
        });
        for r in results {
            assert!(matches!(r, Err(ProtocolError::Usage(_))), "{r:?}");
        }
        let results = run_in_memory(3, |tr| {
            let rng = StdRng::seed_from_u64(tr.me() as u64);
            let mut s = Session::<Mp127, _>::with_rng(3, 1, tr, RandomnessSource::Prss, rng)?;
            let r = s.random_shares(1)?;
            s.open(&r)?;
            s.set_security(Security::Malicious)
        });
        for r in results {
            assert!(matches!(r, Err(ProtocolError::Usage(_))), "{r:?}");
        }
    }

    #[test]
    fn security_names_round_trip() {
        for s in [Security::SemiHonest, Security::Malicious] {
            assert_eq!(s.as_str().parse::<Security>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert!("paranoid".parse::<Security>().is_err());
        assert_eq!(Security::default(), Security::Malicious);
    }

    #[test]
    fn spans_merge_runs_of_equal_gates() {
        use crate::field::Mp127;
        let one = [Mp127::ONE; 3];
        let mut p = PendingProducts::<Mp127>::default();
        p.record_products(&one, &one, &one);
        p.record_products(&one[..2], &one[..2], &one[..2]);
        p.record_dots(&[&one, &one], &[&one, &one], &one[..2]);
        p.record_zeros(&one[..1]);
        assert_eq!(p.spans, vec![(5, 1), (2, 3), (1, 0)]);
        assert_eq!(p.terms(), 11);
        assert_eq!(p.z.len(), 8);
    }
}
