//! The sharenet simulator: N complete nodes in one process (the real libp2p stack over an in-memory
//! or loopback transport, the embedded chain), scenario files, fault injection, and a report.
//!
//! The simulator drives nodes only through the node crate's public API; nothing below it may depend
//! on the simulator.
//!
//! Built so far: the scenario format ([`scenario`]), synthetic data and CSV ([`generate`]), the
//! plaintext reference results ([`plaintext`]) and the report with its charts ([`report`]). The
//! engine that runs nodes, jobs and faults is next.

pub mod generate;
pub mod plaintext;
pub mod report;
pub mod scenario;
