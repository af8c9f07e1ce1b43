//! The sharenet simulator: N complete nodes in one process (the real libp2p stack over an in-memory
//! or loopback transport, the embedded chain), scenario files, fault injection, and a report.
//!
//! The simulator drives nodes only through the node crate's public API; nothing below it may depend
//! on the simulator.
//!
//! Modules: [`scale`] (scale mode: a DHT-level simulation of 1,000 nodes, routing and record
//! storage only, measuring lookup hops, committee agreement and record availability under churn).
//!
//! Status: being built (issue 6).

pub mod scale;
