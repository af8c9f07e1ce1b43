//! The outside party of a session: a client that deals inputs to the committee and receives the
//! outputs opened to it, without being one of the computing parties.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::ProtocolError;
use super::channel::{Channel, MessageKind};
use crate::field::Field;
use crate::shamir::{LagrangeCache, ShamirError, ShamirParams, robust_reconstruct, share};
use crate::transport::Transport;

/// A client endpoint (index `≥ n`) of a session with a committee of `n` parties.
#[derive(Debug)]
pub struct OutsideParty<F: Field, T: Transport> {
    params: ShamirParams,
    channel: Channel<T>,
    lagrange: LagrangeCache<F>,
    rng: StdRng,
}

impl<F: Field, T: Transport> OutsideParty<F, T> {
    /// The outside endpoint `transport.me()` of a session with `n` computing parties, threshold
    /// `t` (`2t < n`).
    pub fn new(n: usize, t: usize, transport: T) -> Result<Self, ProtocolError> {
        let params = ShamirParams::honest_majority(n, t)?;
        let endpoints = transport.endpoints();
        if transport.me() < n || transport.me() >= endpoints {
            return Err(ProtocolError::BadParty {
                party: transport.me(),
                endpoints,
            });
        }
        Ok(OutsideParty {
            params,
            channel: Channel::new::<F>(transport),
            lagrange: LagrangeCache::new(n),
            rng: StdRng::from_rng(&mut rand::rng()),
        })
    }

    /// Deals `values` to the committee: each party receives only its own shares.
    pub fn deal(&mut self, values: &[F]) -> Result<(), ProtocolError> {
        let shares = share(self.params, values, &mut self.rng);
        for (party, party_shares) in shares.iter().enumerate() {
            self.channel
                .send_elements(party, MessageKind::Input, party_shares)?;
        }
        Ok(())
    }

    /// Receives `count` outputs opened to this endpoint: collects all `n` shares, checks they lie
    /// on one polynomial of degree `t`, and returns the values with the parties whose shares were
    /// corrected. Wrong shares are corrected (and their senders named) only where that is sound,
    /// `n ≥ 3t + 1`; otherwise an inconsistency fails with
    /// [`ProtocolError::InconsistentOutput`], which names nobody.
    pub fn receive_output(&mut self, count: usize) -> Result<(Vec<F>, Vec<usize>), ProtocolError> {
        let n = self.params.n();
        let mut collected: Vec<Vec<F>> = Vec::with_capacity(n);
        for party in 0..n {
            collected.push(
                self.channel
                    .recv_elements(party, MessageKind::OpenTo, count)?,
            );
        }
        let parties: Vec<usize> = (0..n).collect();
        let views: Vec<&[F]> = collected.iter().map(Vec::as_slice).collect();
        let out = robust_reconstruct(&mut self.lagrange, n, self.params.t(), &parties, &views)
            .map_err(|e| match e {
                ShamirError::Inconsistent {
                    index,
                    degree,
                    shares,
                } => ProtocolError::InconsistentOutput {
                    index,
                    degree,
                    shares,
                },
                other => ProtocolError::Shamir(other),
            })?;
        Ok((out.values, out.faulty))
    }
}
