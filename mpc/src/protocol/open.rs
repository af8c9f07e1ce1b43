//! Openings: to every party (each sends its shares to all, one round), and to one receiver only
//! (each sends its shares to the receiver, who may be an outside party such as the researcher).
//! Receivers check that all `n` shares lie on one polynomial of degree `t`.
//!
//! Values opened to everyone go into the session transcript; an opening to one receiver records
//! only its receiver and length.
//!
//! In a malicious session both public openings verify every pending product first
//! ([`Session::verify`]): what they open may depend on secret data. The protocols of this module
//! that open values masked with checked randomness (comparisons, truncations) use
//! `open_unverified`.

use super::channel::MessageKind;
use super::{ProtocolError, Record, Session};
use crate::field::Field;
use crate::shamir::reconstruct_checked;
use crate::transport::Transport;

impl<F: Field, T: Transport> Session<F, T> {
    /// Opens degree-`t` sharings to every party; fails if the `n` shares are inconsistent. In a
    /// malicious session, verifies every pending product first.
    pub fn open(&mut self, shares: &[F]) -> Result<Vec<F>, ProtocolError> {
        self.verify()?;
        self.open_unverified(shares)
    }

    /// [`Session::open`] without the verification: only for values that reveal nothing even if
    /// a pending product is wrong (masked by checked random values, or random themselves).
    pub(super) fn open_unverified(&mut self, shares: &[F]) -> Result<Vec<F>, ProtocolError> {
        for peer in self.others() {
            self.channel
                .send_elements(peer, MessageKind::Open, shares)?;
        }
        let values = self.collect_and_reconstruct(MessageKind::Open, shares)?;
        self.rounds += 1;
        self.transcript.begin(Record::Open);
        self.transcript.elements(&values);
        Ok(values)
    }

    /// Opens degree-`t` sharings to `receiver` only: returns the values at the receiver (if it is
    /// a computing party) and `None` everywhere else. An outside receiver uses
    /// [`super::OutsideParty::receive_output`]. In a malicious session, verifies every pending
    /// product first: nothing leaves before the check.
    pub fn open_to(
        &mut self,
        receiver: usize,
        shares: &[F],
    ) -> Result<Option<Vec<F>>, ProtocolError> {
        self.verify()?;
        let endpoints = self.channel.endpoints();
        if receiver >= endpoints {
            return Err(ProtocolError::BadParty {
                party: receiver,
                endpoints,
            });
        }
        self.rounds += 1;
        self.transcript.begin(Record::OpenTo);
        self.transcript.word(receiver as u64);
        self.transcript.word(shares.len() as u64);
        if receiver != self.me() {
            self.channel
                .send_elements(receiver, MessageKind::OpenTo, shares)?;
            return Ok(None);
        }
        self.collect_and_reconstruct(MessageKind::OpenTo, shares)
            .map(Some)
    }

    fn collect_and_reconstruct(
        &mut self,
        kind: MessageKind,
        own: &[F],
    ) -> Result<Vec<F>, ProtocolError> {
        let (n, t, me) = (self.n(), self.t(), self.me());
        let mut collected: Vec<Vec<F>> = Vec::with_capacity(n);
        for party in 0..n {
            if party == me {
                collected.push(own.to_vec());
            } else {
                collected.push(self.channel.recv_elements(party, kind, own.len())?);
            }
        }
        let parties: Vec<usize> = (0..n).collect();
        let views: Vec<&[F]> = collected.iter().map(Vec::as_slice).collect();
        Ok(reconstruct_checked(
            &mut self.lagrange,
            n,
            t,
            &parties,
            &views,
        )?)
    }
}
