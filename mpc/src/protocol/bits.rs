//! Shared random bits and bounded random integers, the preprocessing of comparisons and
//! truncations.
//!
//! Both come from a rotating dealer set: the values of chunk `k` (of `n` chunks) are dealt by the
//! `t + 1` parties `k, k+1, …, k+t (mod n)`, each dealing its own random value, and the dealt values
//! are combined — XORed for bits (`a ⊕ b = a + b − 2ab`, `t` multiplications in `⌈log2(t+1)⌉`
//! levels), added for bounded integers (free). At least one of the `t + 1` dealers is honest, so
//! the result is uniformly random to any `t` parties; dealing rotates so that every party deals
//! the same share of the values.
//!
//! In a malicious session a dealer could deal `1/2` (every XOR with it is then `1/2`, and a
//! comparison masked with such "bits" opens the low bits of what it compares) or an integer out
//! of range. So there the bits are claimed to be their own squares (`b = b·b` holds exactly for
//! bits) and verified with every XOR before they are returned ([`Session::verify`]), and bounded
//! integers come from the PRSS keys instead of dealers (no dealer to cheat; the sum of the
//! `C(n, t)` key sets' values in `[0, 2^bits)`).

use rand_core::Rng;

use super::channel::MessageKind;
use super::{ProtocolError, Session};
use crate::field::{Field, Mp127};
use crate::shamir::share_with_degree;
use crate::transport::Transport;

impl<T: Transport> Session<Mp127, T> {
    /// Every dealer set deals `count` values drawn by `draw`; returns, for each dealer position
    /// `j ∈ 0..=t`, the shares of what the `j`-th dealer of each chunk dealt (length `count`).
    pub(super) fn deal_from_rotating_dealers(
        &mut self,
        count: usize,
        mut draw: impl FnMut(&mut rand::rngs::StdRng) -> Mp127,
    ) -> Result<Vec<Vec<Mp127>>, ProtocolError> {
        let (n, t, me) = (self.n(), self.t(), self.me());
        let dealers = |chunk: usize| (0..=t).map(move |j| (chunk + j) % n);
        let mut mine: Vec<Vec<Mp127>> = vec![Vec::new(); n];
        for (chunk, own) in mine.iter_mut().enumerate() {
            if !dealers(chunk).any(|d| d == me) {
                continue;
            }
            let len = self.king_range(count, chunk).len();
            let values: Vec<Mp127> = (0..len).map(|_| draw(&mut self.rng)).collect();
            let mut shares = share_with_degree(n, t, &values, &mut self.rng);
            for peer in self.others() {
                self.channel
                    .send_elements(peer, MessageKind::RandomDeal, &shares[peer])?;
            }
            *own = std::mem::take(&mut shares[me]);
        }
        let mut operands: Vec<Vec<Mp127>> = vec![Vec::with_capacity(count); t + 1];
        for (chunk, own) in mine.iter_mut().enumerate() {
            let len = self.king_range(count, chunk).len();
            for (j, dealer) in dealers(chunk).enumerate() {
                if dealer == me {
                    operands[j].append(own);
                } else {
                    self.channel.recv_elements_into(
                        dealer,
                        MessageKind::RandomDeal,
                        len,
                        &mut operands[j],
                    )?;
                }
            }
        }
        self.rounds += 1;
        Ok(operands)
    }

    /// Shares of `count` uniformly random bits; in a malicious session, verified to be bits (and
    /// every pending product verified) before they are returned.
    ///
    /// A malicious session makes its bits in batches (1,024 at first, doubling at each refill up
    /// to 65,536, or what the call asks for if more) and keeps the rest for later calls: each
    /// batch costs one verification (eight rounds), and the secret-float finishers ask for a few
    /// bits at a time hundreds of times in a row.
    pub fn random_bits(&mut self, count: usize) -> Result<Vec<Mp127>, ProtocolError> {
        self.random_bits += count as u64;
        if !self.records_products() {
            return self.dealt_bits(count);
        }
        let pool = &mut self.bit_pool;
        if pool.bits.len() < count {
            let more = (count - pool.bits.len()).max(pool.next_batch);
            pool.next_batch = (pool.next_batch * 2).min(super::verify::MAX_BIT_BATCH);
            let mut fresh = self.dealt_bits(more)?;
            // Oldest first: the pool is drawn from its end.
            fresh.append(&mut self.bit_pool.bits);
            self.bit_pool.bits = fresh;
        }
        let keep = self.bit_pool.bits.len() - count;
        Ok(self.bit_pool.bits.split_off(keep))
    }

    /// `count` fresh bits from the rotating dealers (verified in a malicious session).
    pub(super) fn dealt_bits(&mut self, count: usize) -> Result<Vec<Mp127>, ProtocolError> {
        let operands = self
            .deal_from_rotating_dealers(count, |rng| Mp127::from_u64(rng.next_u32() as u64 & 1))?;
        self.bits_from_dealt(count, operands)
    }

    /// The XOR of the dealt values, checked in a malicious session.
    pub(super) fn bits_from_dealt(
        &mut self,
        count: usize,
        operands: Vec<Vec<Mp127>>,
    ) -> Result<Vec<Mp127>, ProtocolError> {
        let bits = self.xor_dealt_bits(count, operands)?;
        if self.records_products() {
            self.pending.record_products(&bits, &bits, &bits);
            self.verify()?;
        }
        Ok(bits)
    }

    /// The XOR of what the dealers dealt (`operands[j]`: what the `j`-th dealer of each chunk
    /// dealt), unchecked.
    pub(super) fn xor_dealt_bits(
        &mut self,
        count: usize,
        mut operands: Vec<Vec<Mp127>>,
    ) -> Result<Vec<Mp127>, ProtocolError> {
        // XOR the t + 1 dealt bits pairwise, one vectorised multiplication per tree level.
        while operands.len() > 1 {
            let pairs = operands.len() / 2;
            let mut left = Vec::with_capacity(pairs * count);
            let mut right = Vec::with_capacity(pairs * count);
            for p in 0..pairs {
                left.extend_from_slice(&operands[2 * p]);
                right.extend_from_slice(&operands[2 * p + 1]);
            }
            let products = self.mul(&left, &right)?;
            let mut next: Vec<Vec<Mp127>> = (0..pairs)
                .map(|p| {
                    let range = p * count..(p + 1) * count;
                    left[range.clone()]
                        .iter()
                        .zip(&right[range.clone()])
                        .zip(&products[range])
                        .map(|((a, b), ab)| *a + *b - (*ab + *ab))
                        .collect()
                })
                .collect();
            if operands.len() % 2 == 1 {
                next.push(operands.pop().unwrap_or_default());
            }
            operands = next;
        }
        Ok(operands.pop().unwrap_or_default())
    }

    /// Shares of `count` random integers in `[0, (t + 1)·2^bits)`, each the sum of `t + 1`
    /// independent uniform values in `[0, 2^bits)` (one of which no coalition of `t` knows). In a
    /// malicious session: in `[0, C(n, t)·2^bits)`, the sum of the PRSS key sets' values.
    pub fn random_bounded(&mut self, count: usize, bits: u32) -> Result<Vec<Mp127>, ProtocolError> {
        if bits > 120 {
            return Err(ProtocolError::Usage(
                "bounded random integers are limited to 120 bits",
            ));
        }
        if self.records_products() {
            let prss = self.prss.as_mut().ok_or(ProtocolError::Usage(
                "a malicious session has PRSS keys (set_security sets them up)",
            ))?;
            return Ok(prss.random_bounded(count, bits));
        }
        let mask = (1u128 << bits) - 1;
        let operands = self.deal_from_rotating_dealers(count, |rng| {
            let v = ((rng.next_u64() as u128) << 64 | rng.next_u64() as u128) & mask;
            Mp127::new(v)
        })?;
        let mut sum = vec![Mp127::ZERO; count];
        for op in &operands {
            for (s, v) in sum.iter_mut().zip(op) {
                *s += *v;
            }
        }
        Ok(sum)
    }
}
