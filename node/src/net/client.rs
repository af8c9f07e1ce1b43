//! The handle the rest of the node (and clients) use to talk to the swarm: a cloneable [`Client`]
//! that sends [`Command`]s over a bounded channel to the event loop, which owns the `Swarm`.

use std::collections::HashSet;
use std::time::Duration;

use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::NetError;
use super::mpc::{MpcRouter, SessionId, SwarmTransport};

/// The request-response protocols of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Share uploads (client → node).
    Upload,
    /// Output delivery (node → client).
    Output,
}

/// Traffic and refusal counters, exported as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// Connected peers.
    pub peers: u64,
    /// Bytes received in requests, per protocol: upload, mpc, output.
    pub bytes_in: [u64; 3],
    /// Bytes sent in requests, per protocol: upload, mpc, output.
    pub bytes_out: [u64; 3],
    /// MPC messages refused because the sender is not an active node on chain.
    pub refused_unregistered: u64,
    /// Messages dropped: malformed, oversized, duplicate, or a full queue.
    pub dropped: u64,
    /// Outbound requests that failed.
    pub outbound_failures: u64,
}

/// A request from a peer that a service must answer.
#[derive(Debug)]
pub struct InboundRequest {
    /// Which protocol.
    pub protocol: Protocol,
    /// The peer that sent it (authenticated by Noise).
    pub peer: PeerId,
    /// The request bytes.
    pub payload: Vec<u8>,
    /// Where the response goes.
    pub channel: ResponseChannel<Vec<u8>>,
}

/// What the event loop is asked to do.
#[derive(Debug)]
pub enum Command {
    /// Connect to a peer at an address.
    Dial {
        /// The peer.
        peer: PeerId,
        /// Its address.
        addr: Multiaddr,
        /// Told when connected or failed.
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    /// A request that wants its response.
    Request {
        /// Which protocol.
        protocol: Protocol,
        /// To whom.
        peer: PeerId,
        /// The request.
        payload: Vec<u8>,
        /// The response or the failure.
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    },
    /// Answer an inbound request.
    Respond {
        /// Which protocol.
        protocol: Protocol,
        /// The channel from [`InboundRequest`].
        channel: ResponseChannel<Vec<u8>>,
        /// The response.
        payload: Vec<u8>,
    },
    /// An MPC envelope, fire and forget (failures are counted; the session times out).
    SendMpc {
        /// To whom.
        peer: PeerId,
        /// The envelope.
        envelope: Vec<u8>,
    },
    /// A new attempt at an MPC envelope whose delivery failed.
    RetryMpc {
        /// To whom.
        peer: PeerId,
        /// The envelope.
        envelope: Vec<u8>,
        /// Which attempt this is (from 2).
        attempt: u32,
    },
    /// Replace the set of peers allowed to send MPC messages (the active nodes on chain).
    SetAllowed(HashSet<PeerId>),
    /// The addresses the swarm listens on.
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    /// The counters.
    Counters(oneshot::Sender<NetCounters>),
    /// Stop the event loop.
    Shutdown,
}

/// A cloneable handle to a running swarm.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) router: MpcRouter,
    pub(crate) local_peer: PeerId,
}

impl Client {
    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| NetError::Closed)?;
        rx.await.map_err(|_| NetError::Closed)
    }

    /// The addresses the swarm listens on (waits briefly for the first one to be bound).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        for _ in 0..100 {
            let addrs = self.call(Command::ListenAddrs).await?;
            if !addrs.is_empty() {
                return Ok(addrs);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(NetError::Listen(
            "no listen address was bound within 2 s".into(),
        ))
    }

    /// Connects to `peer` at `addr`.
    pub async fn dial(&self, peer: PeerId, addr: Multiaddr) -> Result<(), NetError> {
        self.call(|reply| Command::Dial { peer, addr, reply })
            .await?
    }

    /// Sends a request and waits for the response.
    pub async fn request(
        &self,
        protocol: Protocol,
        peer: PeerId,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, NetError> {
        self.call(|reply| Command::Request {
            protocol,
            peer,
            payload,
            reply,
        })
        .await?
    }

    /// Answers an inbound request.
    pub async fn respond(&self, request: InboundRequest, payload: Vec<u8>) -> Result<(), NetError> {
        self.commands
            .send(Command::Respond {
                protocol: request.protocol,
                channel: request.channel,
                payload,
            })
            .await
            .map_err(|_| NetError::Closed)
    }

    /// Replaces the peers allowed to send MPC messages.
    pub async fn set_allowed(&self, peers: HashSet<PeerId>) -> Result<(), NetError> {
        self.commands
            .send(Command::SetAllowed(peers))
            .await
            .map_err(|_| NetError::Closed)
    }

    /// Traffic and refusal counters.
    pub async fn counters(&self) -> Result<NetCounters, NetError> {
        self.call(Command::Counters).await
    }

    /// Stops the swarm.
    pub async fn shutdown(&self) -> Result<(), NetError> {
        self.commands
            .send(Command::Shutdown)
            .await
            .map_err(|_| NetError::Closed)
    }

    /// The transport for party `me` of MPC session `session`, whose parties are `peers` in party
    /// order. Use it from a blocking thread (`spawn_blocking`), never on the async runtime.
    pub fn mpc_transport(
        &self,
        session: SessionId,
        me: usize,
        peers: Vec<PeerId>,
        timeout: Duration,
    ) -> SwarmTransport {
        SwarmTransport::new(
            session,
            me,
            peers,
            self.commands.clone(),
            self.router.clone(),
            timeout,
        )
    }
}
