//! The transport abstraction the protocols run over: ordered, reliable, size-bounded messages
//! between numbered endpoints of one session, every receive bounded by a timeout.
//!
//! It is deliberately blocking and tiny (send to one endpoint, receive from one endpoint): each
//! party of a session runs its protocol as straight-line code on its own thread, and the node
//! bridges this trait to its libp2p swarm with bounded channels. Endpoints `0..n` are the
//! computing parties; higher indices are outside parties (an uploading client, the researcher who
//! receives outputs).

pub mod memory;
pub mod tcp;

use std::time::Duration;

/// Largest message any transport in this crate accepts (64 MiB). Protocols split longer vectors.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// How long a receive waits by default before failing with [`TransportError::Timeout`].
pub const DEFAULT_RECV_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a message could not be sent or received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Nothing arrived from `peer` within the timeout.
    #[error("no message from endpoint {peer} within {timeout:?}")]
    Timeout {
        /// The endpoint we waited for.
        peer: usize,
        /// How long we waited.
        timeout: Duration,
    },
    /// The connection to `peer` is closed.
    #[error("the connection to endpoint {peer} is closed")]
    Closed {
        /// The endpoint.
        peer: usize,
    },
    /// A message (or an announced frame) is larger than the limit.
    #[error("message of {size} bytes to or from endpoint {peer} exceeds the limit of {max} bytes")]
    TooLarge {
        /// The endpoint.
        peer: usize,
        /// Size of the message or announced frame.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The endpoint index is not part of this session, or is this endpoint itself.
    #[error("endpoint {peer} is not a peer in a session of {endpoints} endpoints")]
    BadPeer {
        /// The index given.
        peer: usize,
        /// Number of endpoints in the session.
        endpoints: usize,
    },
    /// An I/O error on the connection to `peer`.
    #[error("I/O error with endpoint {peer}: {kind:?}: {detail}")]
    Io {
        /// The endpoint.
        peer: usize,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The error's text (never contains message contents).
        detail: String,
    },
    /// Setting up the connections failed (wrong hello, duplicate or unknown endpoint).
    #[error("session set-up failed: {0}")]
    Handshake(String),
}

/// Per-endpoint traffic counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Messages sent.
    pub messages_sent: u64,
    /// Bytes sent, framing included.
    pub bytes_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Bytes received, framing included.
    pub bytes_received: u64,
}

/// Ordered, reliable, size-bounded message passing between the endpoints of one session.
pub trait Transport {
    /// This endpoint's index.
    fn me(&self) -> usize;

    /// Number of endpoints in the session (computing parties plus outside parties).
    fn endpoints(&self) -> usize;

    /// Sends one message to endpoint `to`. May block while the peer's queue is full, but never
    /// longer than the transport's timeout.
    fn send(&mut self, to: usize, message: Vec<u8>) -> Result<(), TransportError>;

    /// Receives the next message from endpoint `from`, waiting at most the transport's timeout.
    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError>;

    /// Traffic so far.
    fn stats(&self) -> TransportStats;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn me(&self) -> usize {
        (**self).me()
    }
    fn endpoints(&self) -> usize {
        (**self).endpoints()
    }
    fn send(&mut self, to: usize, message: Vec<u8>) -> Result<(), TransportError> {
        (**self).send(to, message)
    }
    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError> {
        (**self).recv(from)
    }
    fn stats(&self) -> TransportStats {
        (**self).stats()
    }
}

/// Checks that `peer` is another endpoint of a session of `endpoints` endpoints.
pub(crate) fn check_peer(me: usize, peer: usize, endpoints: usize) -> Result<(), TransportError> {
    if peer >= endpoints || peer == me {
        return Err(TransportError::BadPeer { peer, endpoints });
    }
    Ok(())
}

/// The checks every transport makes before sending `size` bytes to `to`: a peer of the session
/// other than this endpoint, and a message within the size limit `max`.
pub fn check_send(
    me: usize,
    to: usize,
    endpoints: usize,
    size: usize,
    max: usize,
) -> Result<(), TransportError> {
    check_peer(me, to, endpoints)?;
    if size > max {
        return Err(TransportError::TooLarge {
            peer: to,
            size,
            max,
        });
    }
    Ok(())
}
