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
//! This module is the core of malicious security; the IR executor, comparisons and random bits
//! do not use it yet (docs/protocol.md, "Malicious security").

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
