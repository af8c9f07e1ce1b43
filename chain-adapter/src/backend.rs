//! The small raw interface each back-end implements; everything contract-specific is written once,
//! on top of it, in [`crate::ledger`].

use std::future::Future;

use alloy::primitives::{Address, B256, Bytes, Signature, U256};

use crate::error::ChainResult;
use crate::types::{EventCursor, RawLog, RawReceipt};

/// Raw chain access acting as one account.
pub trait Backend: Send + Sync {
    /// The account this back-end signs and sends as.
    fn account(&self) -> Address;

    /// Sends a transaction (`to = None` deploys `data`) and waits for its receipt. A revert comes
    /// back as [`crate::ChainError::Reverted`] with the decoded reason.
    fn send(
        &self,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> impl Future<Output = ChainResult<RawReceipt>> + Send;

    /// Runs a read-only call as this account against the latest state.
    fn call(&self, to: Address, data: Bytes) -> impl Future<Output = ChainResult<Bytes>> + Send;

    /// Logs of `addresses` at positions `>= from`, in chain order, and the cursor just after the
    /// last position scanned (so that the next call neither repeats nor misses a log).
    fn logs(
        &self,
        from: EventCursor,
        addresses: Vec<Address>,
    ) -> impl Future<Output = ChainResult<(Vec<RawLog>, EventCursor)>> + Send;

    /// Ether balance of an account.
    fn balance(&self, who: Address) -> impl Future<Output = ChainResult<U256>> + Send;

    /// The latest block's timestamp (unix seconds): the clock deadlines and expiries are
    /// judged by.
    fn timestamp(&self) -> impl Future<Output = ChainResult<u64>> + Send;

    /// Signs a 32-byte digest (EIP-712) with this account's key.
    fn sign_hash(&self, hash: B256) -> ChainResult<Signature>;
}
