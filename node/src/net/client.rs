//! The handle the rest of the node (and clients) use to talk to the swarm: a cloneable [`Client`]
//! that sends [`Command`]s over a bounded channel to the event loop, which owns the `Swarm`.

use std::collections::HashSet;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use sharenet_dht::{DatasetManifest, Key, NodeAnnouncement, SignedRecord, ValidRecord};
use tokio::sync::{mpsc, oneshot};

use super::NetError;
use super::codec::Reservation;
use super::dht::DhtCounters;
use super::mpc::{MpcRouter, SessionId, SwarmTransport};

/// The request-response protocols of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Share uploads (client → node).
    Upload,
    /// Job control (requester → committee member).
    Job,
}

/// Traffic and refusal counters, exported as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// Connected peers.
    pub peers: u64,
    /// Bytes received in requests, per protocol: upload, mpc, job.
    pub bytes_in: [u64; 3],
    /// Bytes sent in requests, per protocol: upload, mpc, job.
    pub bytes_out: [u64; 3],
    /// MPC messages refused because the sender is not an active node on chain (before their
    /// body was read).
    pub refused_unregistered: u64,
    /// Requests refused before their body was read because the sender's budget (or the total)
    /// for the protocol was used up, per protocol: upload, mpc, job.
    pub refused_busy: [u64; 3],
    /// Requests refused before their body was read because they announced more than the
    /// protocol's limit, per protocol: upload, mpc, job.
    pub refused_too_large: [u64; 3],
    /// MPC messages the router refused (answered with a refusal, not an acknowledgement):
    /// malformed, or over its bounds.
    pub mpc_refused: u64,
    /// MPC messages this node sent that the receiver refused (retried while it is busy).
    pub mpc_refused_by_peer: u64,
    /// Messages dropped: every inbound request that failed (refused as above, malformed,
    /// timed out), and requests for a service whose queue was full.
    pub dropped: u64,
    /// Outbound requests that failed.
    pub outbound_failures: u64,
    /// The DHT's counters (record store, persistence writer, queries).
    pub dht: DhtCounters,
}

/// A record found by [`Client::get_signed_records`]: the envelope, what validation found in it,
/// and the peer that returned it (`None` for the local store).
#[derive(Debug, Clone)]
pub struct FoundRecord {
    /// The signed envelope as found.
    pub record: SignedRecord,
    /// Its validated content.
    pub valid: ValidRecord,
    /// Who returned it.
    pub peer: Option<PeerId>,
}

/// A request from a peer that a service must answer.
pub struct InboundRequest {
    /// Which protocol.
    pub protocol: Protocol,
    /// The peer that sent it (authenticated by Noise).
    pub peer: PeerId,
    /// The request bytes.
    pub payload: Vec<u8>,
    /// Where the response goes.
    pub channel: ResponseChannel<Vec<u8>>,
    /// The request's share of the protocol's inbound budgets, held until it is answered or
    /// dropped.
    pub(crate) _reservation: Option<Reservation>,
}

/// Protocol, peer and size only: the payload carries shares and MPC messages.
impl std::fmt::Debug for InboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundRequest")
            .field("protocol", &self.protocol)
            .field("peer", &self.peer)
            .field("payload", &self.payload.len())
            .finish_non_exhaustive()
    }
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
    /// An MPC envelope whose simulated link delay has passed (fault injection only): sent
    /// without drawing a delay again.
    DeliverMpc {
        /// To whom.
        peer: PeerId,
        /// The envelope.
        envelope: Vec<u8>,
        /// Which attempt this is.
        attempt: u32,
    },
    /// A request whose simulated link delay has passed (fault injection only).
    DeliverRequest {
        /// Which protocol.
        protocol: Protocol,
        /// To whom.
        peer: PeerId,
        /// The request.
        payload: Vec<u8>,
        /// The response or the failure.
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    },
    /// Validate a signed record, store it locally and put it at the closest peers (quorum one).
    PutRecord {
        /// The record.
        record: SignedRecord,
        /// `Ok` once at least one peer stored it.
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    /// Look a key up in the DHT; every record found is validated, invalid ones are dropped.
    GetRecord {
        /// The key.
        key: Key,
        /// The valid records found (deduplicated), or why the lookup failed.
        reply: oneshot::Sender<Result<Vec<FoundRecord>, NetError>>,
    },
    /// The record the local store holds under a key.
    LocalRecord {
        /// The key.
        key: Key,
        /// The record's envelope, if one is held.
        reply: oneshot::Sender<Option<SignedRecord>>,
    },
    /// Remove the record the local store holds under a key (e.g. a manifest that contradicts
    /// the chain); the removal reaches the database too.
    RemoveLocalRecord {
        /// The key.
        key: Key,
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

/// The longest a [`Client::dial`] waits. The swarm gives up on a connection attempt after
/// [`super::CONNECTION_TIMEOUT`]; this bounds the wait for its answer too.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(15);

/// A cloneable handle to a running swarm.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) router: MpcRouter,
    pub(crate) local_peer: PeerId,
    pub(crate) keypair: Keypair,
    /// How long a DHT call waits for the event loop's answer (the query timeout plus a margin).
    pub(crate) dht_timeout: Duration,
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

    /// Connects to `peer` at `addr` (with or without a trailing `/p2p/<peer>`; an address that
    /// names another peer fails at once). The connection is made only with `peer`: reaching
    /// another peer at that address is a failure. Fails after [`DIAL_TIMEOUT`] at the latest.
    pub async fn dial(&self, peer: PeerId, addr: Multiaddr) -> Result<(), NetError> {
        match tokio::time::timeout(
            DIAL_TIMEOUT,
            self.call(|reply| Command::Dial { peer, addr, reply }),
        )
        .await
        {
            Ok(result) => result?,
            Err(_) => Err(NetError::Timeout {
                what: "dial",
                after: DIAL_TIMEOUT,
            }),
        }
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

    /// Signs a dataset manifest with this client's identity (the owner's client key).
    pub fn sign_manifest(&self, manifest: &DatasetManifest) -> Result<SignedRecord, NetError> {
        SignedRecord::sign_manifest(manifest, &self.keypair).map_err(NetError::InvalidRecord)
    }

    /// Signs this node's announcement (its peer key must be this client's identity).
    pub fn sign_announcement(
        &self,
        announcement: &NodeAnnouncement,
    ) -> Result<SignedRecord, NetError> {
        SignedRecord::sign_announcement(announcement, &self.keypair)
            .map_err(NetError::InvalidRecord)
    }

    /// This client's raw ed25519 public key (the `peer_key` of its announcements), if its
    /// identity is an ed25519 key.
    pub fn peer_key(&self) -> Option<[u8; 32]> {
        self.keypair
            .public()
            .try_into_ed25519()
            .ok()
            .map(|pk| pk.to_bytes())
    }

    async fn call_dht<T>(
        &self,
        what: &'static str,
        make: impl FnOnce(oneshot::Sender<Result<T, NetError>>) -> Command,
    ) -> Result<T, NetError> {
        match tokio::time::timeout(self.dht_timeout, self.call(make)).await {
            Ok(result) => result?,
            Err(_) => Err(NetError::Timeout {
                what,
                after: self.dht_timeout,
            }),
        }
    }

    /// Validates `record`, stores it in the local record store and puts it at the peers closest
    /// to its key; `Ok` once at least one peer stored it. An invalid record is refused before
    /// anything is stored ([`NetError::InvalidRecord`]); a record the local store refuses (an
    /// older version, another signer of the same manifest, store full) is
    /// [`NetError::RecordRefused`]; if no peer took it, it is still held (and served) locally
    /// and Kademlia re-replicates it later ([`NetError::NotPublished`]).
    pub async fn put_record(&self, record: SignedRecord) -> Result<(), NetError> {
        self.call_dht("DHT put", |reply| Command::PutRecord { record, reply })
            .await
    }

    /// Looks `key` up in the DHT (local store first, then the closest peers) and returns the
    /// records that pass validation, each once, with their envelopes and who returned them.
    /// Records that fail validation are dropped and counted (`sharenet_dht_get_invalid_total`).
    /// Nothing found is `Ok(vec![])`.
    pub async fn get_signed_records(&self, key: Key) -> Result<Vec<FoundRecord>, NetError> {
        self.call_dht("DHT get", |reply| Command::GetRecord { key, reply })
            .await
    }

    /// [`Client::get_signed_records`], the validated contents only.
    pub async fn get_record(&self, key: Key) -> Result<Vec<ValidRecord>, NetError> {
        Ok(self
            .get_signed_records(key)
            .await?
            .into_iter()
            .map(|f| f.valid)
            .collect())
    }

    /// The record this node's own store holds under `key` (no network lookup).
    pub async fn local_record(&self, key: Key) -> Result<Option<SignedRecord>, NetError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::LocalRecord { key, reply: tx })
            .await
            .map_err(|_| NetError::Closed)?;
        match tokio::time::timeout(self.dht_timeout, rx).await {
            Ok(r) => r.map_err(|_| NetError::Closed),
            Err(_) => Err(NetError::Timeout {
                what: "DHT local lookup",
                after: self.dht_timeout,
            }),
        }
    }

    /// Removes the record this node's own store holds under `key` (and its durable copy). Use it
    /// for a record known to be wrong, such as a manifest that contradicts the chain.
    pub async fn remove_local_record(&self, key: Key) -> Result<(), NetError> {
        self.commands
            .send(Command::RemoveLocalRecord { key })
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

    /// Bytes this node sent in the given MPC sessions (among the most recent
    /// [`super::mpc::SENT_LOG`] it took part in): what a job cost this node.
    pub fn mpc_bytes_sent(&self, sessions: &[SessionId]) -> u64 {
        self.router.bytes_sent(sessions)
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
