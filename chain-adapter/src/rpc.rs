//! The JSON-RPC back-end: alloy with a local private-key signer, for anvil and any EVM chain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, Signature, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::TransportError;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{ChainError, ChainResult, RevertReason};
use crate::ledger::Client;
use crate::types::{ContractAddresses, EventCursor, RawLog, RawReceipt};

/// How to reach a JSON-RPC node and how patient to be with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcConfig {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8545`.
    pub endpoint: String,
    /// Limit on every request and on waiting for a receipt.
    pub timeout: Duration,
    /// Blocks behind the head that the event stream stays, so a reorg shallower than this never
    /// changes events already handed out (0 on anvil, which does not reorg).
    pub confirmations: u64,
    /// Most blocks asked for in one `eth_getLogs` (nodes cap the range).
    pub max_log_range: u64,
}

impl RpcConfig {
    /// Defaults for a local dev chain at `endpoint`.
    pub fn local(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            timeout: Duration::from_secs(30),
            confirmations: 0,
            max_log_range: 10_000,
        }
    }
}

/// A ledger over JSON-RPC.
pub type RpcLedger = Client<RpcBackend>;

/// Raw JSON-RPC access as the account of a local signer.
#[derive(Clone)]
pub struct RpcBackend {
    provider: DynProvider,
    signer: PrivateKeySigner,
    config: RpcConfig,
    // Held from nonce lookup until the node has the transaction: two concurrent sends of one
    // account (clones share this) would otherwise read the same pending nonce.
    send_lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for RpcBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcBackend")
            .field("account", &self.signer.address())
            .field("endpoint", &self.config.endpoint)
            .finish()
    }
}

fn rpc_err(e: TransportError) -> ChainError {
    // A node answers a call or gas estimation that reverts with the revert data in the error.
    if let Some(data) = e.as_error_resp().and_then(|p| p.as_revert_data()) {
        return ChainError::Reverted(RevertReason::decode(&data));
    }
    ChainError::Rpc(e.to_string())
}

impl RpcBackend {
    /// Connects to `config.endpoint`, signing as `signer` (nothing is sent until first use).
    pub fn connect(config: RpcConfig, signer: PrivateKeySigner) -> ChainResult<Self> {
        let url = config.endpoint.parse().map_err(|e| {
            ChainError::InvalidArgument(format!("endpoint {:?}: {e}", config.endpoint))
        })?;
        // Simple (not cached) nonces: a cached nonce is taken before gas estimation, so a call
        // refused at estimation (a revert) would leave a gap and every later transaction of the
        // account would wait forever behind it.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_simple_nonce_management()
            .with_gas_estimation()
            .fetch_chain_id()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_http(url)
            .erased();
        Ok(Self {
            provider,
            signer,
            config,
            send_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// A ledger over this back-end on the contracts at `addresses`.
    pub fn into_ledger(self, addresses: ContractAddresses) -> RpcLedger {
        Client::new(self, addresses)
    }

    /// The account this back-end signs as.
    pub fn signer_address(&self) -> Address {
        self.signer.address()
    }

    /// The underlying alloy provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    async fn timed<T>(
        &self,
        what: &'static str,
        f: impl Future<Output = ChainResult<T>>,
    ) -> ChainResult<T> {
        tokio::time::timeout(self.config.timeout, f)
            .await
            .map_err(|_| ChainError::Timeout {
                what,
                seconds: self.config.timeout.as_secs(),
            })?
    }

    /// Number of the latest block.
    pub async fn block_number(&self) -> ChainResult<u64> {
        self.timed("block number", async {
            self.provider.get_block_number().await.map_err(rpc_err)
        })
        .await
    }

    /// Timestamp of the latest block.
    pub async fn latest_timestamp(&self) -> ChainResult<u64> {
        self.timed("latest block", async {
            let b = self
                .provider
                .get_block_by_number(BlockNumberOrTag::Latest)
                .await
                .map_err(rpc_err)?
                .ok_or(ChainError::Rpc("node has no latest block".into()))?;
            Ok(b.header.timestamp)
        })
        .await
    }

    /// Dev chains only (anvil): moves the clock forward by `seconds` and mines a block.
    pub async fn dev_increase_time(&self, seconds: u64) -> ChainResult<()> {
        self.timed("evm_increaseTime", async {
            let _: serde_json::Value = self
                .provider
                .raw_request("evm_increaseTime".into(), (seconds,))
                .await
                .map_err(rpc_err)?;
            let _: serde_json::Value = self
                .provider
                .raw_request("evm_mine".into(), ())
                .await
                .map_err(rpc_err)?;
            Ok(())
        })
        .await
    }

    /// Dev chains only (anvil): sets an account's ether balance.
    pub async fn dev_set_balance(&self, who: Address, balance: U256) -> ChainResult<()> {
        self.timed("anvil_setBalance", async {
            let _: serde_json::Value = self
                .provider
                .raw_request("anvil_setBalance".into(), (who, balance))
                .await
                .map_err(rpc_err)?;
            Ok(())
        })
        .await
    }
}

/// Extra gas over an estimate, at least.
const GAS_HEADROOM: u64 = 150_000;
/// Never ask for more than this (well under a block's gas limit).
const MAX_GAS_LIMIT: u64 = 15_000_000;

fn raw_log(l: &alloy::rpc::types::Log) -> ChainResult<RawLog> {
    let missing = |what: &'static str| ChainError::decode("log", format!("node omitted {what}"));
    Ok(RawLog {
        block: l.block_number.ok_or_else(|| missing("block number"))?,
        log_index: l.log_index.ok_or_else(|| missing("log index"))?,
        tx_hash: l
            .transaction_hash
            .ok_or_else(|| missing("transaction hash"))?,
        log: l.inner.clone(),
    })
}

impl Backend for RpcBackend {
    fn account(&self) -> Address {
        self.signer.address()
    }

    async fn send(&self, to: Option<Address>, data: Bytes, value: U256) -> ChainResult<RawReceipt> {
        let mut req = TransactionRequest::default()
            .with_from(self.signer.address())
            .with_input(data)
            .with_value(value);
        match to {
            Some(to) => req = req.with_to(to),
            None => req.set_create(),
        }
        let timeout = self.config.timeout;
        let receipt = self
            .timed("transaction receipt", async {
                // Gas estimation runs the call first: a revert is refused here, with its data,
                // and nothing is mined (the embedded chain behaves the same).
                let pending = {
                    let _guard = self.send_lock.lock().await;
                    // Headroom over the estimate: the state can change between estimation and
                    // mining (the attestation that completes a job's quorum pays everyone out and
                    // costs almost twice the one estimated before it). Unused gas is not paid.
                    let estimate = self
                        .provider
                        .estimate_gas(req.clone())
                        .await
                        .map_err(rpc_err)?;
                    let limit = estimate
                        .saturating_mul(2)
                        .max(estimate.saturating_add(GAS_HEADROOM))
                        .min(MAX_GAS_LIMIT);
                    self.provider
                        .send_transaction(req.with_gas_limit(limit))
                        .await
                        .map_err(rpc_err)?
                };
                pending
                    .with_timeout(Some(timeout))
                    .get_receipt()
                    .await
                    .map_err(|e| ChainError::Rpc(e.to_string()))
            })
            .await?;
        let tx_hash = receipt.transaction_hash;
        if !receipt.status() {
            return Err(ChainError::FailedWithoutReason {
                tx_hash: tx_hash.to_string(),
            });
        }
        let logs = receipt
            .inner
            .logs()
            .iter()
            .map(raw_log)
            .collect::<ChainResult<Vec<_>>>()?;
        Ok(RawReceipt {
            tx_hash,
            block: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            contract_address: receipt.contract_address,
            logs,
        })
    }

    async fn call(&self, to: Address, data: Bytes) -> ChainResult<Bytes> {
        let req = TransactionRequest::default()
            .with_from(self.signer.address())
            .with_to(to)
            .with_input(data);
        self.timed("eth_call", async {
            self.provider.call(req).await.map_err(rpc_err)
        })
        .await
    }

    async fn logs(
        &self,
        from: EventCursor,
        addresses: Vec<Address>,
    ) -> ChainResult<(Vec<RawLog>, EventCursor)> {
        let head = self.block_number().await?;
        let Some(safe) = head.checked_sub(self.config.confirmations) else {
            return Ok((Vec::new(), from));
        };
        if from.block > safe {
            return Ok((Vec::new(), from));
        }
        let to = safe.min(
            from.block
                .saturating_add(self.config.max_log_range.max(1) - 1),
        );
        let filter = Filter::new()
            .address(addresses)
            .from_block(from.block)
            .to_block(to);
        let logs = self
            .timed("eth_getLogs", async {
                self.provider.get_logs(&filter).await.map_err(rpc_err)
            })
            .await?;
        let mut out = logs
            .iter()
            .map(raw_log)
            .collect::<ChainResult<Vec<_>>>()?
            .into_iter()
            .filter(|l| (l.block, l.log_index) >= (from.block, from.log_index))
            .collect::<Vec<_>>();
        out.sort_by_key(|l| (l.block, l.log_index));
        Ok((
            out,
            EventCursor {
                block: to.saturating_add(1),
                log_index: 0,
            },
        ))
    }

    async fn balance(&self, who: Address) -> ChainResult<U256> {
        self.timed("eth_getBalance", async {
            self.provider.get_balance(who).await.map_err(rpc_err)
        })
        .await
    }

    async fn timestamp(&self) -> ChainResult<u64> {
        self.latest_timestamp().await
    }

    fn sign_hash(&self, hash: B256) -> ChainResult<Signature> {
        self.signer
            .sign_hash_sync(&hash)
            .map_err(|e| ChainError::Signing(e.to_string()))
    }
}
