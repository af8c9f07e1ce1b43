//! Random double sharings `([r]_t, [r]_2t)`: the preprocessing that each multiplication consumes.
//!
//! Without PRSS they come from Damgård–Nielsen's batch: each party deals one random pair per
//! column, and everyone applies the `(n − t) × n` Vandermonde matrix `M[r][i] = x_i^r` to the
//! pairs it received. Any `n − t` columns of it form an invertible Vandermonde matrix, so the
//! `n − t` outputs are uniformly random as long as the `n − t` honest parties' pairs are, whatever
//! the `t` others dealt.

use super::channel::MessageKind;
use super::{ProtocolError, Session};
use crate::field::Field;
use crate::shamir::{eval_point, share_with_degree};
use crate::transport::Transport;

/// This party's shares of a batch of random double sharings: `r_t[k]` and `r_2t[k]` are shares
/// of the same random value, with polynomials of degree `t` and `2t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoubleRandomBatch<F: Field> {
    /// Degree-`t` shares.
    pub r_t: Vec<F>,
    /// Degree-`2t` shares of the same values.
    pub r_2t: Vec<F>,
}

impl<F: Field> DoubleRandomBatch<F> {
    /// Number of double sharings in the batch.
    pub fn len(&self) -> usize {
        self.r_t.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.r_t.is_empty()
    }
}

impl<F: Field, T: Transport> Session<F, T> {
    /// Shares of `count` random double sharings, from PRSS (no communication) or from one round
    /// of hyper-invertible batches.
    pub fn double_randoms(&mut self, count: usize) -> Result<DoubleRandomBatch<F>, ProtocolError> {
        if let Some(prss) = self.prss.as_mut().filter(|_| self.prss_doubles) {
            return Ok(prss.double_randoms(count));
        }
        self.double_randoms_hyper_invertible(count)
    }

    /// Shares of `count` random values (degree `t`), from PRSS or from hyper-invertible batches.
    pub fn random_shares(&mut self, count: usize) -> Result<Vec<F>, ProtocolError> {
        if let Some(prss) = self.prss.as_mut().filter(|_| self.prss_doubles) {
            return Ok(prss.random_shares(count));
        }
        Ok(self.double_randoms_hyper_invertible(count)?.r_t)
    }

    fn double_randoms_hyper_invertible(
        &mut self,
        count: usize,
    ) -> Result<DoubleRandomBatch<F>, ProtocolError> {
        let (n, t, me) = (self.n(), self.t(), self.me());
        let per_column = n - t;
        let columns = count.div_ceil(per_column);
        let secrets: Vec<F> = (0..columns).map(|_| F::random(&mut self.rng)).collect();
        let dealt_t = share_with_degree(n, t, &secrets, &mut self.rng);
        let dealt_2t = share_with_degree(n, 2 * t, &secrets, &mut self.rng);
        let mut message = Vec::with_capacity(2 * columns);
        for peer in self.others() {
            message.clear();
            message.extend_from_slice(&dealt_t[peer]);
            message.extend_from_slice(&dealt_2t[peer]);
            self.channel
                .send_elements(peer, MessageKind::DoubleRandomDeal, &message)?;
        }
        let mut received: Vec<Vec<F>> = Vec::with_capacity(n);
        for dealer in 0..n {
            if dealer == me {
                let mut own = dealt_t[me].clone();
                own.extend_from_slice(&dealt_2t[me]);
                received.push(own);
            } else {
                received.push(self.channel.recv_elements(
                    dealer,
                    MessageKind::DoubleRandomDeal,
                    2 * columns,
                )?);
            }
        }
        self.rounds += 1;
        let mut r_t = vec![F::ZERO; columns * per_column];
        let mut r_2t = vec![F::ZERO; columns * per_column];
        for (dealer, pairs) in received.iter().enumerate() {
            let (from_t, from_2t) = pairs.split_at(columns);
            let x: F = eval_point(dealer);
            let mut coefficient = F::ONE;
            for row in 0..per_column {
                for k in 0..columns {
                    r_t[k * per_column + row] += coefficient * from_t[k];
                    r_2t[k * per_column + row] += coefficient * from_2t[k];
                }
                coefficient *= x;
            }
        }
        r_t.truncate(count);
        r_2t.truncate(count);
        Ok(DoubleRandomBatch { r_t, r_2t })
    }
}
