//! The embedded back-end: the contracts run in an in-process EVM (revm), deployed at genesis.
//!
//! One [`EmbeddedChain`] is the chain (state, blocks, logs, a clock that tests and the simulator
//! advance); any number of [`EmbeddedLedger`]s act on it, one account each. Every successful
//! transaction is mined alone in a new block (like anvil's auto-mining); a reverted transaction is
//! not mined (like a JSON-RPC node refusing it at gas estimation), so both back-ends leave the same
//! trail. Gas is metered but costs nothing (gas price and base fee are zero), so ether balances
//! change only by the values sent: tests can check payouts to the wei.

use std::sync::{Arc, Mutex, MutexGuard};

use alloy::primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use revm::context::result::ExecutionResult;
use revm::context::{Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::database_interface::DatabaseRef;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::state::AccountInfo;
use revm::{ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use crate::backend::Backend;
use crate::error::{ChainError, ChainResult, RevertReason};
use crate::ledger::{Client, deploy};
use crate::types::{ContractAddresses, DeployParams, EventCursor, RawLog, RawReceipt};

/// Chain id of the embedded chain (anvil's default, so signatures look the same on both).
pub const EMBEDDED_CHAIN_ID: u64 = 31_337;
/// Timestamp of the genesis block.
pub const GENESIS_TIMESTAMP: u64 = 1_700_000_000;
/// Ether each dev account starts with (10^6 ether).
pub const DEV_BALANCE_ETHER: u64 = 1_000_000;
// Below the 2^24 per-transaction cap of recent forks.
const TX_GAS_LIMIT: u64 = 15_000_000;

type Db = CacheDB<EmptyDB>;

struct State {
    // Only the database lives between transactions: revm's EVM object is not `Send`, so one is
    // built per transaction around the database moved out of here (cheap: no state is copied).
    db: Db,
    block: u64,
    timestamp: u64,
    logs: Vec<RawLog>,
}

/// A ledger acting on an [`EmbeddedChain`] as one account.
pub type EmbeddedLedger = Client<EmbeddedBackend>;

/// Shared handle to one in-process chain; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedChain {
    state: Arc<Mutex<State>>,
    addresses: ContractAddresses,
    keys: Arc<Vec<PrivateKeySigner>>,
    deploy_gas: Arc<Vec<(&'static str, u64)>>,
}

impl std::fmt::Debug for EmbeddedChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedChain")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

/// Deterministic private key of dev account `i` (test and simulator use only: anyone can derive it).
pub fn dev_key(i: usize) -> ChainResult<PrivateKeySigner> {
    let seed = keccak256(format!("sharenet embedded dev account {i}"));
    PrivateKeySigner::from_bytes(&seed).map_err(|e| ChainError::Signing(e.to_string()))
}

impl EmbeddedChain {
    /// A fresh chain with `accounts` funded dev accounts (at least 1; account 0 deploys the
    /// contracts and is the deployer recorded in them).
    pub async fn new(params: DeployParams, accounts: usize) -> ChainResult<Self> {
        if accounts == 0 {
            return Err(ChainError::InvalidArgument(
                "need at least one dev account".into(),
            ));
        }
        let keys = (0..accounts)
            .map(dev_key)
            .collect::<ChainResult<Vec<_>>>()?;
        let mut db = CacheDB::new(EmptyDB::default());
        let balance = U256::from(DEV_BALANCE_ETHER) * U256::from(10u64).pow(U256::from(18u64));
        for k in &keys {
            db.insert_account_info(
                k.address(),
                AccountInfo {
                    balance,
                    ..Default::default()
                },
            );
        }
        let state = State {
            db,
            block: 0,
            timestamp: GENESIS_TIMESTAMP,
            logs: Vec::new(),
        };
        let state = Arc::new(Mutex::new(state));
        let deployer_key = keys
            .first()
            .cloned()
            .ok_or_else(|| ChainError::InvalidArgument("need at least one dev account".into()))?;
        let deployer = EmbeddedBackend {
            state: Arc::clone(&state),
            signer: deployer_key,
        };
        let (addresses, deploy_gas) = deploy(&deployer, &params).await?;
        Ok(Self {
            state,
            addresses,
            keys: Arc::new(keys),
            deploy_gas: Arc::new(deploy_gas),
        })
    }

    /// The contracts' addresses.
    pub fn addresses(&self) -> ContractAddresses {
        self.addresses
    }

    /// Gas used by each deployment step at genesis.
    pub fn deploy_gas(&self) -> &[(&'static str, u64)] {
        &self.deploy_gas
    }

    /// The dev accounts, in index order.
    pub fn dev_accounts(&self) -> Vec<Address> {
        self.keys.iter().map(PrivateKeySigner::address).collect()
    }

    /// A ledger acting as dev account `index`.
    pub fn ledger(&self, index: usize) -> ChainResult<EmbeddedLedger> {
        let signer = self.keys.get(index).cloned().ok_or_else(|| {
            ChainError::InvalidArgument(format!(
                "dev account {index} does not exist ({} accounts)",
                self.keys.len()
            ))
        })?;
        Ok(self.ledger_with_signer(signer))
    }

    /// A ledger acting as the account of `signer` (fund it with [`EmbeddedChain::set_balance`]).
    pub fn ledger_with_signer(&self, signer: PrivateKeySigner) -> EmbeddedLedger {
        Client::new(
            EmbeddedBackend {
                state: Arc::clone(&self.state),
                signer,
            },
            self.addresses,
        )
    }

    /// Sets an account's ether balance.
    pub fn set_balance(&self, who: Address, balance: U256) -> ChainResult<()> {
        let mut st = lock(&self.state)?;
        let db = &mut st.db;
        let mut info = db.basic_ref(who).ok().flatten().unwrap_or_default();
        info.balance = balance;
        db.insert_account_info(who, info);
        Ok(())
    }

    /// Moves the clock forward: the next block gets a timestamp `seconds` later.
    pub fn advance_time(&self, seconds: u64) -> ChainResult<()> {
        let mut st = lock(&self.state)?;
        st.timestamp = st.timestamp.saturating_add(seconds);
        Ok(())
    }

    /// Mines `n` empty blocks.
    pub fn advance_blocks(&self, n: u64) -> ChainResult<()> {
        let mut st = lock(&self.state)?;
        st.block = st.block.saturating_add(n);
        Ok(())
    }

    /// Number of the latest block.
    pub fn block_number(&self) -> ChainResult<u64> {
        Ok(lock(&self.state)?.block)
    }

    /// Timestamp the next block (and views) see.
    pub fn timestamp(&self) -> ChainResult<u64> {
        Ok(lock(&self.state)?.timestamp)
    }
}

fn build_evm(db: Db, block: u64, timestamp: u64) -> MainnetEvm<MainnetContext<Db>> {
    Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|c| {
            c.chain_id = EMBEDDED_CHAIN_ID;
            c.disable_nonce_check = true;
        })
        .modify_block_chained(|b| {
            b.number = U256::from(block);
            b.timestamp = U256::from(timestamp);
            b.basefee = 0;
            b.gas_limit = 30_000_000;
        })
        .build_mainnet()
}

/// Runs `tx` at (`block`, `timestamp`), committing its state only if it succeeded and `commit`.
fn execute(st: &mut State, tx: TxEnv, block: u64, commit: bool) -> ChainResult<ExecutionResult> {
    let mut evm = build_evm(std::mem::take(&mut st.db), block, st.timestamp);
    let out = evm.transact(tx);
    let result = match out {
        Ok(out) => {
            if commit && out.result.is_success() {
                evm.commit(out.state);
            }
            Ok(out.result)
        }
        Err(e) => Err(ChainError::Rejected(e.to_string())),
    };
    // Always put the database back, whatever happened.
    st.db = evm.ctx.journaled_state.database;
    result
}

fn lock(state: &Mutex<State>) -> ChainResult<MutexGuard<'_, State>> {
    state.lock().map_err(|_| ChainError::Poisoned)
}

/// Raw access to an [`EmbeddedChain`] as one account.
#[derive(Clone)]
pub struct EmbeddedBackend {
    state: Arc<Mutex<State>>,
    signer: PrivateKeySigner,
}

impl std::fmt::Debug for EmbeddedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBackend")
            .field("account", &self.signer.address())
            .finish()
    }
}

impl EmbeddedBackend {
    fn tx_env(&self, kind: TxKind, data: Bytes, value: U256) -> ChainResult<TxEnv> {
        TxEnv::builder()
            .caller(self.signer.address())
            .kind(kind)
            .data(data)
            .value(value)
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .chain_id(Some(EMBEDDED_CHAIN_ID))
            .build()
            .map_err(|e| ChainError::Rejected(format!("{e:?}")))
    }

    fn send_sync(&self, to: Option<Address>, data: Bytes, value: U256) -> ChainResult<RawReceipt> {
        let kind = to.map_or(TxKind::Create, TxKind::Call);
        let tx = self.tx_env(kind, data, value)?;
        let mut st = lock(&self.state)?;
        let block = st.block + 1;
        match execute(&mut st, tx, block, true)? {
            ExecutionResult::Success {
                gas, logs, output, ..
            } => {
                st.block = block;
                let mut pre = block.to_be_bytes().to_vec();
                pre.extend_from_slice(self.signer.address().as_slice());
                let tx_hash = keccak256(pre);
                let raw: Vec<RawLog> = logs
                    .into_iter()
                    .enumerate()
                    .map(|(i, log)| RawLog {
                        block,
                        log_index: i as u64,
                        tx_hash,
                        log,
                    })
                    .collect();
                st.logs.extend(raw.iter().cloned());
                let contract_address = match output {
                    revm::context::result::Output::Create(_, a) => a,
                    revm::context::result::Output::Call(_) => None,
                };
                Ok(RawReceipt {
                    tx_hash,
                    block,
                    gas_used: gas.tx_gas_used(),
                    contract_address,
                    logs: raw,
                })
            }
            ExecutionResult::Revert { output, .. } => {
                Err(ChainError::Reverted(RevertReason::decode(&output)))
            }
            ExecutionResult::Halt { reason, .. } => Err(ChainError::Halted(format!("{reason:?}"))),
        }
    }

    fn call_sync(&self, to: Address, data: Bytes) -> ChainResult<Bytes> {
        let tx = self.tx_env(TxKind::Call(to), data, U256::ZERO)?;
        let mut st = lock(&self.state)?;
        let block = st.block;
        // Not committed: the state changes of a view are thrown away.
        match execute(&mut st, tx, block, false)? {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => {
                Err(ChainError::Reverted(RevertReason::decode(&output)))
            }
            ExecutionResult::Halt { reason, .. } => Err(ChainError::Halted(format!("{reason:?}"))),
        }
    }
}

impl Backend for EmbeddedBackend {
    fn account(&self) -> Address {
        self.signer.address()
    }

    async fn send(&self, to: Option<Address>, data: Bytes, value: U256) -> ChainResult<RawReceipt> {
        self.send_sync(to, data, value)
    }

    async fn call(&self, to: Address, data: Bytes) -> ChainResult<Bytes> {
        self.call_sync(to, data)
    }

    async fn logs(
        &self,
        from: EventCursor,
        addresses: Vec<Address>,
    ) -> ChainResult<(Vec<RawLog>, EventCursor)> {
        let st = lock(&self.state)?;
        // Logs are stored in chain order, so the ones at or after `from` are a suffix.
        let start = st
            .logs
            .partition_point(|l| (l.block, l.log_index) < (from.block, from.log_index));
        let logs: Vec<RawLog> = st.logs[start..]
            .iter()
            .filter(|l| addresses.contains(&l.log.address))
            .cloned()
            .collect();
        let next = EventCursor {
            block: st.block.saturating_add(1),
            log_index: 0,
        }
        .max(from);
        Ok((logs, next))
    }

    async fn balance(&self, who: Address) -> ChainResult<U256> {
        let st = lock(&self.state)?;
        let info = st
            .db
            .basic_ref(who)
            .map_err(|e| ChainError::Rpc(e.to_string()))?;
        Ok(info.map(|i| i.balance).unwrap_or_default())
    }

    async fn timestamp(&self) -> ChainResult<u64> {
        Ok(lock(&self.state)?.timestamp)
    }

    fn sign_hash(&self, hash: B256) -> ChainResult<Signature> {
        self.signer
            .sign_hash_sync(&hash)
            .map_err(|e| ChainError::Signing(e.to_string()))
    }
}
