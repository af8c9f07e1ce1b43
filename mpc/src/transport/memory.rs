//! In-process transport over bounded channels, for tests and single-process runs.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded};

use super::{
    DEFAULT_RECV_TIMEOUT, MAX_MESSAGE_BYTES, Transport, TransportError, TransportStats, check_peer,
    check_send,
};

/// Messages that may wait in one direction of one link before a sender blocks.
pub const LINK_CAPACITY: usize = 256;

/// One endpoint of an in-memory session.
#[derive(Debug)]
pub struct MemoryTransport {
    me: usize,
    outgoing: Vec<Option<Sender<Vec<u8>>>>,
    incoming: Vec<Option<Receiver<Vec<u8>>>>,
    timeout: Duration,
    max_message: usize,
    stats: TransportStats,
}

impl MemoryTransport {
    /// Creates the `endpoints` connected endpoints of one session, in index order.
    pub fn network(endpoints: usize, timeout: Duration) -> Vec<MemoryTransport> {
        let mut outgoing: Vec<Vec<Option<Sender<Vec<u8>>>>> = (0..endpoints)
            .map(|_| (0..endpoints).map(|_| None).collect())
            .collect();
        let mut incoming: Vec<Vec<Option<Receiver<Vec<u8>>>>> = (0..endpoints)
            .map(|_| (0..endpoints).map(|_| None).collect())
            .collect();
        for from in 0..endpoints {
            for to in 0..endpoints {
                if from != to {
                    let (tx, rx) = bounded(LINK_CAPACITY);
                    outgoing[from][to] = Some(tx);
                    incoming[to][from] = Some(rx);
                }
            }
        }
        outgoing
            .into_iter()
            .zip(incoming)
            .enumerate()
            .map(|(me, (outgoing, incoming))| MemoryTransport {
                me,
                outgoing,
                incoming,
                timeout,
                max_message: MAX_MESSAGE_BYTES,
                stats: TransportStats::default(),
            })
            .collect()
    }

    /// Lowers the message size limit (tests of oversized messages).
    pub fn with_max_message(mut self, max_message: usize) -> Self {
        self.max_message = max_message;
        self
    }
}

impl Transport for MemoryTransport {
    fn me(&self) -> usize {
        self.me
    }

    fn endpoints(&self) -> usize {
        self.outgoing.len()
    }

    fn send(&mut self, to: usize, message: Vec<u8>) -> Result<(), TransportError> {
        check_send(
            self.me,
            to,
            self.endpoints(),
            message.len(),
            self.max_message,
        )?;
        let sender = self.outgoing[to]
            .as_ref()
            .ok_or(TransportError::Closed { peer: to })?;
        let size = message.len() as u64;
        match sender.send_timeout(message, self.timeout) {
            Ok(()) => {
                self.stats.messages_sent += 1;
                self.stats.bytes_sent += size;
                Ok(())
            }
            Err(SendTimeoutError::Timeout(_)) => Err(TransportError::Timeout {
                peer: to,
                timeout: self.timeout,
            }),
            Err(SendTimeoutError::Disconnected(_)) => Err(TransportError::Closed { peer: to }),
        }
    }

    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError> {
        check_peer(self.me, from, self.endpoints())?;
        let receiver = self.incoming[from]
            .as_ref()
            .ok_or(TransportError::Closed { peer: from })?;
        match receiver.recv_timeout(self.timeout) {
            Ok(message) if message.len() > self.max_message => Err(TransportError::TooLarge {
                peer: from,
                size: message.len(),
                max: self.max_message,
            }),
            Ok(message) => {
                self.stats.messages_received += 1;
                self.stats.bytes_received += message.len() as u64;
                Ok(message)
            }
            Err(RecvTimeoutError::Timeout) => Err(TransportError::Timeout {
                peer: from,
                timeout: self.timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(TransportError::Closed { peer: from }),
        }
    }

    fn stats(&self) -> TransportStats {
        self.stats
    }
}

/// Runs `party(transport)` for every endpoint of a fresh in-memory session, each on its own
/// thread, and returns the results in endpoint order.
pub fn run_in_memory<R, P>(endpoints: usize, party: P) -> Vec<R>
where
    R: Send,
    P: Fn(MemoryTransport) -> R + Sync,
{
    run_in_memory_with_timeout(endpoints, DEFAULT_RECV_TIMEOUT, party)
}

/// [`run_in_memory`] with an explicit receive timeout.
pub fn run_in_memory_with_timeout<R, P>(endpoints: usize, timeout: Duration, party: P) -> Vec<R>
where
    R: Send,
    P: Fn(MemoryTransport) -> R + Sync,
{
    let transports = MemoryTransport::network(endpoints, timeout);
    std::thread::scope(|scope| {
        let party = &party;
        let handles: Vec<_> = transports
            .into_iter()
            .map(|t| scope.spawn(move || party(t)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                // A panicking party is a bug in the caller's closure; re-raise it unchanged.
                Err(payload) => std::panic::resume_unwind(payload),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_in_order_per_link() {
        let results = run_in_memory(3, |mut t| {
            let me = t.me();
            for to in (0..3).filter(|&p| p != me) {
                for k in 0..5u8 {
                    t.send(to, vec![me as u8, k]).unwrap();
                }
            }
            let mut got = Vec::new();
            for from in (0..3).filter(|&p| p != me) {
                for _ in 0..5 {
                    got.push(t.recv(from).unwrap());
                }
            }
            got
        });
        for (me, got) in results.iter().enumerate() {
            let expected: Vec<Vec<u8>> = (0..3)
                .filter(|&p| p != me)
                .flat_map(|from| (0..5u8).map(move |k| vec![from as u8, k]))
                .collect();
            assert_eq!(got, &expected);
        }
    }

    #[test]
    fn bad_peers_timeouts_and_oversized_messages_are_errors() {
        let mut net = MemoryTransport::network(2, Duration::from_millis(20));
        let mut b = net.pop().unwrap();
        let mut a = net.pop().unwrap().with_max_message(4);
        assert_eq!(
            a.send(0, vec![]),
            Err(TransportError::BadPeer {
                peer: 0,
                endpoints: 2
            })
        );
        assert_eq!(
            a.send(9, vec![]),
            Err(TransportError::BadPeer {
                peer: 9,
                endpoints: 2
            })
        );
        assert!(matches!(
            a.send(1, vec![0; 5]),
            Err(TransportError::TooLarge { size: 5, .. })
        ));
        assert!(matches!(
            a.recv(1),
            Err(TransportError::Timeout { peer: 1, .. })
        ));
        b.send(0, vec![0; 8]).unwrap();
        assert!(matches!(
            a.recv(1),
            Err(TransportError::TooLarge {
                size: 8,
                max: 4,
                ..
            })
        ));
        drop(b);
        assert_eq!(a.recv(1), Err(TransportError::Closed { peer: 1 }));
    }
}
