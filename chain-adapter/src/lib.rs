//! The chain adapter: one interface for everything sharenet nodes and clients do on the controlling
//! Ethereum chain (node registry and deposits, dataset registry, access grants, the job market and
//! its audit events), with two back-ends over the same compiled contract bytecode: an embedded EVM
//! (revm) for the simulator and single-process runs, and Ethereum JSON-RPC (alloy) for a real chain.
//!
//! This crate must never put a secret, a share or a plaintext value on chain: the chain is trusted
//! for integrity and ordering, not for secrecy.
//!
//! The contracts, the `Ledger` trait, its two back-ends and the resumable event stream are
//! described in `docs/contracts.md`.

pub mod backend;
pub mod bindings;
pub mod devchain;
pub mod embedded;
pub mod error;
pub mod ledger;
pub mod rpc;
pub mod types;

pub use backend::Backend;
pub use embedded::{EmbeddedBackend, EmbeddedChain, EmbeddedLedger};
pub use error::{ChainError, ChainResult, ContractError, RevertReason};
pub use ledger::{Client, Ledger, deploy};
pub use rpc::{RpcBackend, RpcConfig, RpcLedger};
pub use types::*;
