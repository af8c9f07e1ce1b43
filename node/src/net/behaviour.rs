//! The node's network behaviour: identify, ping, Kademlia (server mode), and one request-response
//! protocol per kind of traffic, each with its own size limits.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::kad;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, identify, ping};
use sharenet_dht::PersistentRecordStore;

use super::codec::BytesCodec;

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

/// All behaviours of a sharenet node.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Exchanges listen addresses and keys.
    pub identify: identify::Behaviour,
    /// Liveness.
    pub ping: ping::Behaviour,
    /// Peer routing and small signed records (validated before they are stored, with a durable
    /// copy in the node's database).
    pub kad: kad::Behaviour<PersistentRecordStore>,
    /// Share uploads.
    pub upload: request_response::Behaviour<BytesCodec>,
    /// MPC messages.
    pub mpc: request_response::Behaviour<BytesCodec>,
    /// Job control.
    pub job: request_response::Behaviour<BytesCodec>,
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
        let rr = |protocol: StreamProtocol, max_request: usize| {
            request_response::Behaviour::with_codec(
                BytesCodec {
                    max_request,
                    max_response: MAX_RESPONSE,
                },
                [(protocol, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(256),
            )
        };
        let mut kad_config = kad::Config::new(KAD_PROTOCOL);
        kad_config.set_query_timeout(query_timeout);
        // Our records are at most `MAX_RECORD_SIZE` bytes; leave room for the closer peers
        // that travel in the same message.
        kad_config.set_max_packet_size(MAX_KAD_PACKET);
        let mut kad = kad::Behaviour::with_config(peer, store, kad_config);
        kad.set_mode(Some(kad::Mode::Server));
        Behaviour {
            identify: identify::Behaviour::new(identify::Config::new(
                "/sharenet/1".into(),
                key.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new()),
            kad,
            upload: rr(UPLOAD_PROTOCOL, MAX_UPLOAD_REQUEST),
            mpc: rr(MPC_PROTOCOL, MAX_MPC_MESSAGE),
            job: rr(JOB_PROTOCOL, MAX_JOB_MESSAGE),
        }
    }
}
