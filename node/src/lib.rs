//! The sharenet node: durable share storage, the libp2p swarm, the services (upload intake, job
//! watcher and runner, attestations), the client SDK used by the CLI and the simulator, and the
//! health and metrics endpoint.
//!
//! The node must never log, print or return in an error a secret, a share, a key or a plaintext
//! value; it must never accept protocol messages from a peer that is not registered on chain.
//!
//! Parts: networking with the DHT ([`net`]), keys, configuration, the daemon's chain
//! registration, allow-list and acknowledgements, health/metrics, CSV encoding ([`table`]), the
//! encrypted share store ([`store`]), verified uploads and appends ([`upload`], [`owner`]), and
//! jobs: queries run by a committee and opened only by their requester ([`jobs`]).

pub mod config;
pub mod daemon;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod local;
pub mod net;
pub mod owner;
pub mod store;
pub mod table;
pub mod upload;
