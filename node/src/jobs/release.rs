//! The last check before a committee member releases a job's outputs: a transport wrapper that,
//! at the first message to the requester's endpoint (the outputs' gate bits, or the outputs when
//! there are no gates), asks whether the job may still release (`query::may_release`, the same
//! check as at `Hello` and `Start`), and refuses that message and every later one to the
//! requester if not. The computation runs for as long as a session takes; the job may be
//! refunded, its grant revoked or its deadline passed in the meantime.
//!
//! Messages between the computing parties pass unchecked: they reveal nothing on their own.

use std::sync::{Arc, OnceLock};

use sharenet_mpc::transport::{Transport, TransportError, TransportStats};

/// Why a gate withheld the outputs (set at most once).
#[derive(Debug, Clone, Default)]
pub struct Refusal(Arc<OnceLock<String>>);

impl Refusal {
    /// The reason, if the gate refused.
    pub fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// Where the gate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Nothing sent to the receiver yet.
    Unchecked,
    /// Checked and allowed.
    Open,
    /// Checked and refused: nothing goes to the receiver.
    Closed,
}

/// A transport whose messages to `receiver` pass only if `check` allows it at the first one.
pub struct ReleaseGate<T, C> {
    inner: T,
    receiver: usize,
    check: C,
    gate: Gate,
    refusal: Refusal,
}

impl<T, C> ReleaseGate<T, C>
where
    T: Transport,
    C: FnMut() -> Result<(), String>,
{
    /// Wraps `inner`; `check` runs once, before the first message to endpoint `receiver`.
    pub fn new(inner: T, receiver: usize, check: C) -> (Self, Refusal) {
        let refusal = Refusal::default();
        let gate = ReleaseGate {
            inner,
            receiver,
            check,
            gate: Gate::Unchecked,
            refusal: refusal.clone(),
        };
        (gate, refusal)
    }
}

impl<T, C> Transport for ReleaseGate<T, C>
where
    T: Transport,
    C: FnMut() -> Result<(), String>,
{
    fn me(&self) -> usize {
        self.inner.me()
    }

    fn endpoints(&self) -> usize {
        self.inner.endpoints()
    }

    fn send(&mut self, to: usize, message: Vec<u8>) -> Result<(), TransportError> {
        if to == self.receiver {
            if self.gate == Gate::Unchecked {
                self.gate = match (self.check)() {
                    Ok(()) => Gate::Open,
                    Err(reason) => {
                        let _ = self.refusal.0.set(reason);
                        Gate::Closed
                    }
                };
            }
            if self.gate == Gate::Closed {
                return Err(TransportError::Closed { peer: to });
            }
        }
        self.inner.send(to, message)
    }

    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError> {
        self.inner.recv(from)
    }

    fn stats(&self) -> TransportStats {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Duration;

    use sharenet_mpc::transport::memory::MemoryTransport;

    use super::*;

    /// A gated endpoint, its refusal, the other endpoints and the count of checks made.
    type Gated<C> = (
        ReleaseGate<MemoryTransport, C>,
        Refusal,
        Vec<MemoryTransport>,
        Arc<std::sync::atomic::AtomicUsize>,
    );

    /// Three endpoints: party 0 (gated), party 1, receiver 2.
    fn gated(verdict: Result<(), String>) -> Gated<impl FnMut() -> Result<(), String>> {
        let mut net = MemoryTransport::network(3, Duration::from_secs(5));
        let party0 = net.remove(0);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let (gate, refusal) = ReleaseGate::new(party0, 2, move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            verdict.clone()
        });
        (gate, refusal, net, calls)
    }

    #[test]
    fn a_refused_check_withholds_every_message_to_the_receiver_only() {
        let (mut gate, refusal, mut others, calls) = gated(Err("the job was refunded".into()));
        gate.send(1, b"to a party".to_vec()).unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(
            gate.send(2, b"output".to_vec()),
            Err(TransportError::Closed { peer: 2 })
        );
        assert_eq!(
            gate.send(2, b"more output".to_vec()),
            Err(TransportError::Closed { peer: 2 })
        );
        assert_eq!(refusal.reason(), Some("the job was refunded"));
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        // Only the message to party 1 left the gated endpoint.
        assert_eq!(gate.stats().messages_sent, 1);
        assert_eq!(others[0].recv(0).unwrap(), b"to a party".to_vec());
    }

    #[test]
    fn an_allowed_check_runs_once_and_lets_the_outputs_through() {
        let (mut gate, refusal, mut others, calls) = gated(Ok(()));
        gate.send(2, b"gate bits".to_vec()).unwrap();
        gate.send(2, b"outputs".to_vec()).unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(refusal.reason(), None);
        assert_eq!(others[1].recv(0).unwrap(), b"gate bits".to_vec());
        assert_eq!(others[1].recv(0).unwrap(), b"outputs".to_vec());
    }
}
