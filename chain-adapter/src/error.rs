//! Typed errors. A contract revert is decoded into the specific custom error the contract raised,
//! identically for both back-ends.

use alloy::primitives::Bytes;
use alloy::sol_types::{Revert, SolError, SolInterface};

pub use crate::bindings::ISharenetErrors::ISharenetErrorsErrors as ContractError;

/// Why a transaction or a view reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevertReason {
    /// One of the sharenet contracts' custom errors, with its arguments (e.g.
    /// `Contract(ContractError::GrantExpired(..))`).
    Contract(ContractError),
    /// A plain `revert("...")` / `require(.., "...")` string.
    Message(String),
    /// A Solidity panic (overflow, division by zero, array out of bounds ...) with its code.
    Panic(u64),
    /// Revert data that matches nothing we know (raw bytes kept for diagnosis).
    Unknown(Bytes),
}

impl RevertReason {
    /// Decodes revert data returned by the EVM.
    #[must_use]
    pub fn decode(data: &[u8]) -> Self {
        if let Ok(e) = ContractError::abi_decode(data) {
            return Self::Contract(e);
        }
        if let Ok(r) = Revert::abi_decode(data) {
            return Self::Message(r.reason);
        }
        if let Ok(p) = alloy::sol_types::Panic::abi_decode(data) {
            return Self::Panic(u64::try_from(p.code).unwrap_or(u64::MAX));
        }
        Self::Unknown(Bytes::copy_from_slice(data))
    }

    /// The custom error, if the revert was one of ours.
    #[must_use]
    pub fn contract(&self) -> Option<&ContractError> {
        match self {
            Self::Contract(e) => Some(e),
            _ => None,
        }
    }
}

impl std::fmt::Display for RevertReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Contract(e) => write!(f, "{e:?}"),
            Self::Message(m) => write!(f, "revert: {m}"),
            Self::Panic(c) => write!(f, "panic code {c:#x}"),
            Self::Unknown(b) => write!(f, "unknown revert data {b}"),
        }
    }
}

/// Everything that can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The contract refused the call; the reason says which check failed.
    #[error("reverted: {0}")]
    Reverted(RevertReason),
    /// The EVM stopped the transaction without a revert (out of gas, invalid opcode ...).
    #[error("transaction halted: {0}")]
    Halted(String),
    /// The transaction was mined but failed, and no reason could be obtained.
    #[error("transaction {tx_hash} failed on chain without a reason")]
    FailedWithoutReason {
        /// Hash of the failed transaction.
        tx_hash: String,
    },
    /// The node or the embedded EVM rejected the transaction before executing it (bad nonce,
    /// insufficient funds for the value ...).
    #[error("transaction rejected: {0}")]
    Rejected(String),
    /// Transport or node error (connection refused, bad response ...).
    #[error("rpc: {0}")]
    Rpc(String),
    /// A wait (receipt, startup, request) did not finish in time.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// What we waited for.
        what: &'static str,
        /// How long we waited.
        seconds: u64,
    },
    /// The chain answered with data that does not decode as the ABI says.
    #[error("cannot decode {what}: {detail}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// A transaction succeeded but did not emit the event its result is read from.
    #[error("transaction succeeded but emitted no {0} event")]
    MissingEvent(&'static str),
    /// Invalid argument given to the adapter (checked before anything is sent).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// Internal state of the embedded chain is unusable (a thread panicked holding its lock).
    #[error("embedded chain state poisoned")]
    Poisoned,
    /// Starting or talking to a local dev chain process failed.
    #[error("dev chain: {0}")]
    DevChain(String),
}

impl ChainError {
    /// The decoded revert reason, if this is a revert.
    #[must_use]
    pub fn revert_reason(&self) -> Option<&RevertReason> {
        match self {
            Self::Reverted(r) => Some(r),
            _ => None,
        }
    }

    /// The contract's custom error, if this is a revert with one of ours.
    #[must_use]
    pub fn contract_error(&self) -> Option<&ContractError> {
        self.revert_reason().and_then(RevertReason::contract)
    }

    pub(crate) fn decode(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Decode {
            what,
            detail: e.to_string(),
        }
    }
}

/// Result alias for chain operations.
pub type ChainResult<T> = Result<T, ChainError>;
