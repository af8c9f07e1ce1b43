//! The node's network behaviour: connection limits, identify, ping, Kademlia (server mode), and
//! one request-response protocol per kind of traffic, each with its own size limit and inbound
//! budgets ([`super::codec`]).

use std::sync::Arc;
use std::time::Duration;

use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::identity::Keypair;
use libp2p::kad;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, identify, ping};
use sharenet_dht::PersistentRecordStore;

use super::codec::{Admission, Budget, BytesCodec, PeerTagged};

/// Share upload, client → node.
pub const UPLOAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/sharenet/upload/1");
/// MPC protocol messages, node ↔ node.
pub const MPC_PROTOCOL: StreamProtocol = StreamProtocol::new("/sharenet/mpc/1");
/// Job control, requester → committee member (`jobs::wire`). Output shares travel over the MPC
/// protocol, as the session's outside endpoint.
pub const JOB_PROTOCOL: StreamProtocol = StreamProtocol::new("/sharenet/job/1");
/// Kademlia protocol name of the sharenet DHT.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/sharenet/kad/1");

/// Largest upload request (one batch of shares): 64 MiB.
pub const MAX_UPLOAD_REQUEST: usize = 64 << 20;
/// Largest MPC message: a 2^16-element chunk of 16-byte elements plus headers, with room.
pub const MAX_MPC_MESSAGE: usize = (1 << 20) + (1 << 12) + 64;
/// Largest job request.
pub const MAX_JOB_MESSAGE: usize = crate::jobs::wire::MAX_JOB_REQUEST;
/// Largest Kademlia message: a record of the largest size plus room for closer peers.
pub const MAX_KAD_PACKET: usize = sharenet_dht::record::MAX_RECORD_SIZE + (16 << 10);
/// Largest response of any protocol (acks, receipts).
pub const MAX_RESPONSE: usize = 64 << 10;

/// Inbound upload requests: from anyone (owners' clients are not nodes), at most four batches of
/// one peer at a time and 128 MiB (two of the largest) of one peer, 512 MiB in all.
pub const UPLOAD_BUDGET: Budget = Budget {
    requests_per_peer: 4,
    bytes_per_peer: 2 * MAX_UPLOAD_REQUEST,
    bytes_total: 8 * MAX_UPLOAD_REQUEST,
};
/// Inbound job requests: from anyone (requesters are not nodes; every request is checked against
/// the chain), at most four of one peer at a time, 4 MiB in all.
pub const JOB_BUDGET: Budget = Budget {
    requests_per_peer: 4,
    bytes_per_peer: 4 * MAX_JOB_MESSAGE,
    bytes_total: 4 << 20,
};
/// Inbound MPC messages: from allow-listed peers only (the active nodes; a requester allows its
/// job's committee), 64 MiB of one peer being read at a time, 512 MiB in all. What the router
/// buffers has its own bounds (`mpc::MAX_PEER_BYTES`, `mpc::MAX_SESSION_BYTES`).
pub const MPC_BUDGET: Budget = Budget {
    requests_per_peer: 256,
    bytes_per_peer: 64 << 20,
    bytes_total: 512 << 20,
};

/// Connections being set up (before the peer is known) at once.
pub const MAX_PENDING_INCOMING: u32 = 64;
/// Inbound connections at once; a peer on the allow-list is never refused by this limit (nor by
/// the per-peer one), so strangers cannot lock the active nodes out.
pub const MAX_ESTABLISHED_INCOMING: u32 = 256;
/// Connections with one peer at once (peers on the allow-list excepted).
pub const MAX_CONNECTIONS_PER_PEER: u32 = 4;

/// All behaviours of a sharenet node.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Refuses connections beyond the limits above (first, so that a refused connection never
    /// reaches the other behaviours).
    pub limits: connection_limits::Behaviour,
    /// Exchanges listen addresses and keys.
    pub identify: identify::Behaviour,
    /// Liveness.
    pub ping: ping::Behaviour,
    /// Peer routing and small signed records (validated before they are stored, with a durable
    /// copy in the node's database).
    pub kad: kad::Behaviour<PersistentRecordStore>,
    /// Share uploads.
    pub upload: PeerTagged,
    /// MPC messages.
    pub mpc: PeerTagged,
    /// Job control.
    pub job: PeerTagged,
}

impl Behaviour {
    /// Builds the behaviour for `key`'s identity, with `store` as Kademlia's record store.
    pub fn new(
        key: &Keypair,
        request_timeout: Duration,
        store: PersistentRecordStore,
        query_timeout: Duration,
    ) -> Self {
        let peer = key.public().to_peer_id();
        let rr = |protocol: StreamProtocol, admission: Arc<Admission>| {
            let inner = request_response::Behaviour::with_codec(
                BytesCodec::new(admission.clone(), MAX_RESPONSE),
                [(protocol, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(256),
            );
            PeerTagged::new(inner, admission)
        };
        let mut kad_config = kad::Config::new(KAD_PROTOCOL);
        kad_config.set_query_timeout(query_timeout);
        // Our records are at most `MAX_RECORD_SIZE` bytes; leave room for the closer peers
        // that travel in the same message.
        kad_config.set_max_packet_size(MAX_KAD_PACKET);
        let mut kad = kad::Behaviour::with_config(peer, store, kad_config);
        kad.set_mode(Some(kad::Mode::Server));
        let limits = ConnectionLimits::default()
            .with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
            .with_max_established_incoming(Some(MAX_ESTABLISHED_INCOMING))
            .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER));
        Behaviour {
            limits: connection_limits::Behaviour::new(limits),
            identify: identify::Behaviour::new(identify::Config::new(
                "/sharenet/1".into(),
                key.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new()),
            kad,
            upload: rr(
                UPLOAD_PROTOCOL,
                Admission::new(MAX_UPLOAD_REQUEST, false, UPLOAD_BUDGET),
            ),
            mpc: rr(
                MPC_PROTOCOL,
                Admission::new(MAX_MPC_MESSAGE, true, MPC_BUDGET),
            ),
            job: rr(
                JOB_PROTOCOL,
                Admission::new(MAX_JOB_MESSAGE, false, JOB_BUDGET),
            ),
        }
    }
}
