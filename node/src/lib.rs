//! The sharenet node: durable share storage, the libp2p swarm, the services (upload intake, job
//! watcher and runner, attestations), the client SDK used by the CLI and the simulator, and the
//! health and metrics endpoint.
//!
//! The node must never log, print or return in an error a secret, a share, a key or a plaintext
//! value; it must never accept protocol messages from a peer that is not registered on chain.
//!
//! Status: issue 4 in progress. Built so far: [`store`], the durable encrypted share store.

pub mod store;
