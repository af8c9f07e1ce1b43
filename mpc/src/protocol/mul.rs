//! Multiplication and inner products (Damgård–Nielsen): each party masks its degree-`2t` product
//! share with `[r]_2t`, the king of the gate opens the masked value from `2t + 1` shares and
//! sends it back in the clear, and everyone adds `[r]_t`. The gates of one call are split into
//! `n` contiguous chunks, chunk `k` led by party `k`, so the king's work and traffic rotate.

use super::channel::MessageKind;
use super::{DoubleRandomBatch, ProtocolError, Record, Session, check_lengths};
use crate::field::Field;
use crate::shamir::reconstruct;
use crate::transport::Transport;

impl<F: Field, T: Transport> Session<F, T> {
    /// Shares of `x[i]·y[i]` for every `i`, generating the double sharings it consumes. In a
    /// malicious session the products are recorded for [`Session::verify`].
    pub fn mul(&mut self, x: &[F], y: &[F]) -> Result<Vec<F>, ProtocolError> {
        check_lengths(x.len(), y.len())?;
        let randoms = self.double_randoms(x.len())?;
        self.mul_with(x, y, &randoms)
    }

    /// [`Session::mul`] without recording: the verification's own products.
    pub(super) fn mul_unrecorded(&mut self, x: &[F], y: &[F]) -> Result<Vec<F>, ProtocolError> {
        check_lengths(x.len(), y.len())?;
        let randoms = self.double_randoms(x.len())?;
        self.products_with(x, y, &randoms)
    }

    /// Shares of `x[i]·y[i]` for every `i`, consuming the given double sharings (one per gate).
    pub fn mul_with(
        &mut self,
        x: &[F],
        y: &[F],
        randoms: &DoubleRandomBatch<F>,
    ) -> Result<Vec<F>, ProtocolError> {
        check_lengths(x.len(), y.len())?;
        check_lengths(x.len(), randoms.len())?;
        if self.records_products() {
            self.verify_if_full()?;
        }
        let products = self.products_with(x, y, randoms)?;
        if self.records_products() {
            self.pending.record_products(x, y, &products);
        }
        Ok(products)
    }

    /// The products themselves, unrecorded (lengths checked by the callers).
    fn products_with(
        &mut self,
        x: &[F],
        y: &[F],
        randoms: &DoubleRandomBatch<F>,
    ) -> Result<Vec<F>, ProtocolError> {
        let masked: Vec<F> = x
            .iter()
            .zip(y)
            .zip(&randoms.r_2t)
            .map(|((a, b), r)| *a * *b - *r)
            .collect();
        self.finish_product(masked, randoms)
    }

    /// Shares of the inner products `Σ_k xs[i][k]·ys[i][k]`, one per row, for the communication
    /// of one multiplication per row whatever the rows' length. In a malicious session the terms
    /// are recorded for [`Session::verify`] (which costs one multiplication per term).
    pub fn dot(&mut self, xs: &[&[F]], ys: &[&[F]]) -> Result<Vec<F>, ProtocolError> {
        if self.records_products() {
            self.verify_if_full()?;
        }
        let products = self.dot_unrecorded(xs, ys)?;
        if self.records_products() {
            self.pending.record_dots(xs, ys, &products);
        }
        Ok(products)
    }

    /// [`Session::dot`] without recording.
    pub(super) fn dot_unrecorded(
        &mut self,
        xs: &[&[F]],
        ys: &[&[F]],
    ) -> Result<Vec<F>, ProtocolError> {
        check_lengths(xs.len(), ys.len())?;
        for (a, b) in xs.iter().zip(ys) {
            check_lengths(a.len(), b.len())?;
        }
        let randoms = self.double_randoms(xs.len())?;
        let masked: Vec<F> = xs
            .iter()
            .zip(ys)
            .zip(&randoms.r_2t)
            .map(|((a, b), r)| F::dot(a, b) - *r)
            .collect();
        self.finish_product(masked, &randoms)
    }

    /// Opens the masked degree-`2t` values through the rotating kings and unmasks with `[r]_t`.
    fn finish_product(
        &mut self,
        masked: Vec<F>,
        randoms: &DoubleRandomBatch<F>,
    ) -> Result<Vec<F>, ProtocolError> {
        self.multiplications += masked.len() as u64;
        let opened = self.open_via_kings(&masked)?;
        Ok(opened
            .into_iter()
            .zip(&randoms.r_t)
            .map(|(d, r)| d + *r)
            .collect())
    }

    /// Gates `[start, end)` led by king `k`.
    pub(crate) fn king_range(&self, len: usize, king: usize) -> core::ops::Range<usize> {
        let n = self.n();
        (king * len / n)..((king + 1) * len / n)
    }

    /// Whether `party` is one of the `2t + 1` parties whose shares king `king` interpolates from:
    /// the king and the `2t` parties after it, cyclically.
    fn helps_king(&self, party: usize, king: usize) -> bool {
        let n = self.n();
        (party + n - king) % n <= 2 * self.t()
    }

    /// Opens degree-`2t` sharings: two rounds, `2t + 1` shares to each chunk's king, the opened
    /// chunk back from the king to everyone. Every party ends with the same opened vector, which
    /// goes into the transcript.
    fn open_via_kings(&mut self, shares: &[F]) -> Result<Vec<F>, ProtocolError> {
        let (n, t, me) = (self.n(), self.t(), self.me());
        let len = shares.len();
        for king in self.others() {
            if self.helps_king(me, king) {
                let range = self.king_range(len, king);
                self.channel
                    .send_elements(king, MessageKind::ToKing, &shares[range])?;
            }
        }
        let mine = self.king_range(len, me);
        let helpers: Vec<usize> = (0..=2 * t).map(|j| (me + j) % n).collect();
        let mut collected: Vec<Vec<F>> = Vec::with_capacity(helpers.len());
        collected.push(shares[mine.clone()].to_vec());
        for &helper in &helpers[1..] {
            collected.push(
                self.channel
                    .recv_elements(helper, MessageKind::ToKing, mine.len())?,
            );
        }
        let views: Vec<&[F]> = collected.iter().map(Vec::as_slice).collect();
        let opened_mine = reconstruct(&mut self.lagrange, n, 2 * t, &helpers, &views)?;
        for peer in self.others() {
            self.channel
                .send_elements(peer, MessageKind::FromKing, &opened_mine)?;
        }
        let mut opened = Vec::with_capacity(len);
        for king in 0..n {
            if king == me {
                opened.extend_from_slice(&opened_mine);
            } else {
                let count = self.king_range(len, king).len();
                self.channel
                    .recv_elements_into(king, MessageKind::FromKing, count, &mut opened)?;
            }
        }
        self.rounds += 2;
        self.transcript.begin(Record::ProductOpen);
        self.transcript.elements(&opened);
        Ok(opened)
    }
}
