//! The sharenet simulator: N complete nodes in one process (each with the real libp2p stack over
//! loopback TCP and its own encrypted store, on the embedded chain), scenario files, fault
//! injection, and a report.
//!
//! The simulator drives nodes only through the node crate's public API; nothing below it may depend
//! on the simulator.
//!
//! Parts: the scenario format ([`scenario`]), synthetic data and CSV ([`generate`]), the
//! plaintext reference results ([`plaintext`]), the engine that runs a scenario on a real
//! network of in-process nodes with its faults ([`engine`]), the report with its charts
//! ([`report`]), and scale mode ([`scale`]: a DHT-level simulation of 1,000 nodes, routing and
//! record storage only, measuring lookup hops, committee agreement and record availability under
//! churn). `docs/simulator.md` is the user's guide.

pub mod engine;
pub mod generate;
pub mod plaintext;
pub mod report;
pub mod scale;
pub mod scenario;
