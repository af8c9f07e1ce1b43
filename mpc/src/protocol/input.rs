//! Input sharing: the owner of a vector (a computing party or an outside dealer) deals it with
//! fresh degree-`t` polynomials and sends each party only its own shares.

use super::channel::MessageKind;
use super::{ProtocolError, Record, Session};
use crate::field::Field;
use crate::shamir::share_with_degree;
use crate::transport::Transport;

impl<F: Field, T: Transport> Session<F, T> {
    /// Shares of a vector of `len` values owned by endpoint `owner`. The owner passes
    /// `Some(values)` (of length `len`), everyone else `None`. An outside owner deals with
    /// [`super::OutsideParty::deal`].
    pub fn input(
        &mut self,
        owner: usize,
        values: Option<&[F]>,
        len: usize,
    ) -> Result<Vec<F>, ProtocolError> {
        let endpoints = self.channel.endpoints();
        if owner >= endpoints {
            return Err(ProtocolError::BadParty {
                party: owner,
                endpoints,
            });
        }
        self.rounds += 1;
        self.transcript.begin(Record::Input);
        self.transcript.word(owner as u64);
        self.transcript.word(len as u64);
        if owner != self.me() {
            if values.is_some() {
                return Err(ProtocolError::Usage("only the input's owner passes values"));
            }
            return self.channel.recv_elements(owner, MessageKind::Input, len);
        }
        let values = values.ok_or(ProtocolError::Usage("the input's owner must pass values"))?;
        if values.len() != len {
            return Err(ProtocolError::LengthMismatch {
                left: values.len(),
                right: len,
            });
        }
        let mut shares = share_with_degree(self.n(), self.t(), values, &mut self.rng);
        for peer in self.others() {
            self.channel
                .send_elements(peer, MessageKind::Input, &shares[peer])?;
        }
        Ok(std::mem::take(&mut shares[self.me()]))
    }
}
