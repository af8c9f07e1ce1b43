//! The node's libp2p networking (rust-libp2p's Client/EventLoop pattern): TCP + Noise + Yamux and
//! QUIC, identify, ping, Kademlia in server mode, and request-response protocols for share
//! uploads, MPC messages (outputs included) and job control, each with its own size limit and
//! inbound budgets checked before a request's body is read ([`codec`]), and connection limits
//! that peers on the allow-list bypass. The event loop task owns the `Swarm`; everything else
//! holds a [`Client`]. Every channel between them is bounded, every dial has a timeout. MPC
//! messages are accepted only from peers on the allow-list, which the node keeps equal to the
//! active nodes on chain. Kademlia stores its records in sharenet's validating
//! [`sharenet_dht::PersistentRecordStore`], whose durable copy [`dht`] keeps in the node's
//! database; the [`Client`] puts and gets signed records (`docs/dht.md` §6).

mod behaviour;
mod client;
pub mod codec;
pub mod dht;
mod event_loop;
pub mod faults;
pub mod mpc;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId, SwarmBuilder, noise, tcp, yamux};
use sharenet_dht::{PersistentRecordStore, RecordError, persist_channel};
use tokio::sync::mpsc;

pub use behaviour::{
    JOB_BUDGET, JOB_PROTOCOL, KAD_PROTOCOL, MAX_CONNECTIONS_PER_PEER, MAX_ESTABLISHED_INCOMING,
    MAX_JOB_MESSAGE, MAX_KAD_PACKET, MAX_MPC_MESSAGE, MAX_PENDING_INCOMING, MAX_RESPONSE,
    MAX_UPLOAD_REQUEST, MPC_BUDGET, MPC_PROTOCOL, UPLOAD_BUDGET, UPLOAD_PROTOCOL,
};
pub use client::{
    Client, Command, DIAL_TIMEOUT, FoundRecord, InboundRequest, NetCounters, Protocol,
};
pub use codec::{Budget, BytesCodec};
pub use dht::{DhtConfig, DhtCounters, PersistWriter, Persistence};
use event_loop::EventLoop;
pub use faults::{CorruptTarget, FaultCounters, LinkFault, LinkFaults, OutputShift};

/// Commands queued to the event loop before senders wait.
pub const COMMAND_QUEUE: usize = 1024;
/// How much longer than a Kademlia query a DHT call waits for the event loop's answer.
const DHT_REPLY_MARGIN: Duration = Duration::from_secs(2);
/// Inbound requests queued for the node's services before new ones are dropped (and counted).
pub const INBOUND_QUEUE: usize = 256;
/// How long the swarm tries to set up one connection (transport, Noise, Yamux) before it fails.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a network operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The transport could not be built.
    #[error("could not build the libp2p transport: {0}")]
    Transport(String),
    /// A listen address could not be used.
    #[error("could not listen: {0}")]
    Listen(String),
    /// A peer could not be reached.
    #[error("could not connect to {peer}: {reason}")]
    Dial {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// A request failed.
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// The event loop has stopped.
    #[error("the network event loop has stopped")]
    Closed,
    /// A DHT record failed validation (or could not be signed); nothing was stored or sent.
    #[error("invalid DHT record: {0}")]
    InvalidRecord(RecordError),
    /// The local record store refused a valid record.
    #[error("the local DHT store refused the record: {reason}")]
    RecordRefused {
        /// Why (an older version, another signer of the same manifest, the store is full).
        reason: String,
    },
    /// No peer stored the record; it is held and served locally, and Kademlia re-replicates it.
    #[error("the DHT record is stored locally but no peer took it: {reason}")]
    NotPublished {
        /// Why.
        reason: String,
    },
    /// A wait ran out.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was waited for.
        what: &'static str,
        /// How long.
        after: Duration,
    },
}

/// How to start the swarm.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The node's identity.
    pub keypair: Keypair,
    /// Addresses to listen on (e.g. `/ip4/127.0.0.1/tcp/0`, `/ip4/127.0.0.1/udp/0/quic-v1`).
    pub listen: Vec<Multiaddr>,
    /// Peers to connect to at start.
    pub bootstrap: Vec<(PeerId, Multiaddr)>,
    /// How long a request waits for its response.
    pub request_timeout: Duration,
}

/// Starts the swarm on the current tokio runtime with a DHT record store that keeps no durable
/// copy ([`DhtConfig::ephemeral`]; clients and tests). Returns the client and the stream of
/// inbound upload and job requests for the node's services.
pub fn start(config: NetworkConfig) -> Result<(Client, mpsc::Receiver<InboundRequest>), NetError> {
    start_with(config, DhtConfig::ephemeral())
}

/// Starts the swarm with the given DHT configuration: the records loaded from the node's
/// database and the persistence writer that keeps its durable copy ([`dht::open`]).
pub fn start_with(
    config: NetworkConfig,
    dht: DhtConfig,
) -> Result<(Client, mpsc::Receiver<InboundRequest>), NetError> {
    start_with_faults(config, dht, None)
}

/// [`start_with`], with the simulator's fault injection on this node's outgoing links
/// ([`faults`]; `None` for a real node).
pub fn start_with_faults(
    config: NetworkConfig,
    dht: DhtConfig,
    faults: Option<LinkFaults>,
) -> Result<(Client, mpsc::Receiver<InboundRequest>), NetError> {
    let timeout = config.request_timeout;
    let local = config.keypair.public().to_peer_id();
    let (persist, discard, writer_counters) = match dht.persistence {
        Persistence::Writer { sender, counters } => (sender, None, Some(counters)),
        Persistence::Discard => {
            let (tx, rx) = persist_channel(dht::PERSIST_CHANNEL);
            (tx, Some(rx), None)
        }
    };
    let store = PersistentRecordStore::load(local, dht.store, persist, dht.records);
    let store_counters = store.counters();
    let query_timeout = dht.query_timeout;
    let mut swarm = SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_quic()
        .with_behaviour(|key| behaviour::Behaviour::new(key, timeout, store, query_timeout))
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
        .with_connection_timeout(CONNECTION_TIMEOUT)
        .build();
    for addr in config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen(format!("{addr}: {e}")))?;
    }
    for (peer, addr) in &config.bootstrap {
        swarm.behaviour_mut().kad.add_address(peer, addr.clone());
        let _ = swarm.dial(addr.clone());
    }
    let local_peer = *swarm.local_peer_id();
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    let router = mpc::MpcRouter::default();
    let event_loop = EventLoop {
        swarm,
        commands: commands_rx,
        inbound: inbound_tx,
        router: router.clone(),
        allowed: HashSet::new(),
        pending_requests: HashMap::new(),
        pending_dials: HashMap::new(),
        pending_mpc: HashMap::new(),
        retry: commands_tx.clone(),
        counters: NetCounters::default(),
        pending_puts: HashMap::new(),
        pending_gets: HashMap::new(),
        store_counters,
        writer_counters,
        discard,
        flush_interval: dht.flush_interval,
        faults,
    };
    tokio::spawn(event_loop.run());
    Ok((
        Client {
            commands: commands_tx,
            router,
            local_peer,
            keypair: config.keypair,
            dht_timeout: query_timeout + DHT_REPLY_MARGIN,
        },
        inbound_rx,
    ))
}
