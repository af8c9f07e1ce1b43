//! Plain data the adapter takes and returns.

use alloy::primitives::{Address, B256, Bytes, Log, U256, keccak256};
use alloy::sol_types::{SolEventInterface, SolValue};
use serde::{Deserialize, Serialize};

use crate::bindings::{AccessGrants, DatasetRegistry, JobMarket, NodeRegistry};
use crate::error::{ChainError, ChainResult};

/// Where the four contracts live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractAddresses {
    /// `NodeRegistry`.
    pub node_registry: Address,
    /// `DatasetRegistry`.
    pub dataset_registry: Address,
    /// `AccessGrants`.
    pub access_grants: Address,
    /// `JobMarket`.
    pub job_market: Address,
}

impl ContractAddresses {
    /// The four addresses, for log filters.
    #[must_use]
    pub fn all(&self) -> [Address; 4] {
        [
            self.node_registry,
            self.dataset_registry,
            self.access_grants,
            self.job_market,
        ]
    }
}

/// Deployment parameters of the node registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployParams {
    /// Minimum deposit (wei) for a node to be active.
    pub min_deposit: U256,
    /// Seconds between an exit request and the release of the deposit.
    pub unbonding_period: u64,
    /// Share of a slash paid to the reporter, in basis points (at most 10 000).
    pub reporter_reward_bps: u64,
    /// Receives the rest of a slash; `Address::ZERO` burns it.
    pub treasury: Address,
}

impl Default for DeployParams {
    fn default() -> Self {
        Self {
            // 1 ether: large enough to matter, small enough for dev accounts.
            min_deposit: U256::from(10u64).pow(U256::from(18u64)),
            unbonding_period: 7 * 24 * 3600,
            reporter_reward_bps: 1_000,
            treasury: Address::ZERO,
        }
    }
}

/// A position in the chain's log stream: the next (block, log index in block) to read. A node
/// persists it (it is serde-serialisable) and resumes from it after a restart.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct EventCursor {
    /// Block number of the next event to read.
    pub block: u64,
    /// Index (within that block) of the next event to read.
    pub log_index: u64,
}

impl EventCursor {
    /// The cursor just after an event at (`block`, `log_index`).
    #[must_use]
    pub fn after(block: u64, log_index: u64) -> Self {
        Self {
            block,
            log_index: log_index.saturating_add(1),
        }
    }
}

/// A decoded contract event: the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainEventKind {
    /// From the node registry.
    Node(NodeRegistry::NodeRegistryEvents),
    /// From the dataset registry.
    Dataset(DatasetRegistry::DatasetRegistryEvents),
    /// From the access grants.
    Grant(AccessGrants::AccessGrantsEvents),
    /// From the job market.
    Job(JobMarket::JobMarketEvents),
}

/// One event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    /// Block that holds it.
    pub block: u64,
    /// Index of the log within its block.
    pub log_index: u64,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// The contract that emitted it.
    pub address: Address,
    /// What happened.
    pub kind: ChainEventKind,
}

/// A log as a back-end returns it, before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLog {
    /// Block that holds it.
    pub block: u64,
    /// Index of the log within its block.
    pub log_index: u64,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// Emitting address, topics and data.
    pub log: Log,
}

impl RawLog {
    /// Decodes the log if it comes from one of our contracts. Logs from other addresses give
    /// `Ok(None)`; a log from our contract that does not decode is an error (wrong ABI).
    pub fn decode(&self, a: &ContractAddresses) -> ChainResult<Option<ChainEvent>> {
        let topics = self.log.topics();
        let data = &self.log.data.data;
        let addr = self.log.address;
        let kind = if addr == a.node_registry {
            ChainEventKind::Node(
                NodeRegistry::NodeRegistryEvents::decode_raw_log(topics, data)
                    .map_err(|e| ChainError::decode("NodeRegistry event", e))?,
            )
        } else if addr == a.dataset_registry {
            ChainEventKind::Dataset(
                DatasetRegistry::DatasetRegistryEvents::decode_raw_log(topics, data)
                    .map_err(|e| ChainError::decode("DatasetRegistry event", e))?,
            )
        } else if addr == a.access_grants {
            ChainEventKind::Grant(
                AccessGrants::AccessGrantsEvents::decode_raw_log(topics, data)
                    .map_err(|e| ChainError::decode("AccessGrants event", e))?,
            )
        } else if addr == a.job_market {
            ChainEventKind::Job(
                JobMarket::JobMarketEvents::decode_raw_log(topics, data)
                    .map_err(|e| ChainError::decode("JobMarket event", e))?,
            )
        } else {
            return Ok(None);
        };
        Ok(Some(ChainEvent {
            block: self.block,
            log_index: self.log_index,
            tx_hash: self.tx_hash,
            address: addr,
            kind,
        }))
    }
}

/// A back-end's receipt of a successful transaction, before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReceipt {
    /// Transaction hash (synthetic but unique on the embedded chain).
    pub tx_hash: B256,
    /// Block it was mined in.
    pub block: u64,
    /// Gas the transaction used.
    pub gas_used: u64,
    /// Address created by a deployment.
    pub contract_address: Option<Address>,
    /// Its logs.
    pub logs: Vec<RawLog>,
}

/// Receipt of a successful transaction, with its decoded events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReceipt {
    /// Transaction hash.
    pub tx_hash: B256,
    /// Block it was mined in.
    pub block: u64,
    /// Gas the transaction used.
    pub gas_used: u64,
    /// The events it emitted.
    pub events: Vec<ChainEvent>,
}

/// A node's record. `registered` is false if the account is unknown.
pub type NodeInfo = NodeRegistry::Node;
/// A dataset's record. `owner` is zero if the dataset is unknown.
pub type DatasetInfo = DatasetRegistry::Dataset;
/// A grant's record. `owner` is zero if the grant is unknown.
pub type GrantInfo = AccessGrants::Grant;
/// A job's record. `status` is 0 (none) if the job is unknown; see [`JobStatus`].
pub type JobInfo = JobMarket::Job;

/// A job's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JobStatus {
    /// No such job.
    None,
    /// Submitted, waiting for a quorum of attestations.
    Open,
    /// A quorum agreed on the result; the fee was paid.
    Completed,
    /// The deadline passed without a quorum; the fee was refunded.
    Refunded,
}

impl JobStatus {
    /// From the contract's enum value.
    pub fn from_u8(v: u8) -> ChainResult<Self> {
        match v {
            0 => Ok(Self::None),
            1 => Ok(Self::Open),
            2 => Ok(Self::Completed),
            3 => Ok(Self::Refunded),
            other => Err(ChainError::decode(
                "job status",
                format!("unknown value {other}"),
            )),
        }
    }
}

/// The answer to "may X run Q on D now" (`Ok` means yes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GrantVerdict {
    /// Allowed.
    Ok,
    /// No such grant.
    UnknownGrant,
    /// The owner revoked it.
    Revoked,
    /// The asker is not the grantee.
    NotGrantee,
    /// Past its expiry.
    Expired,
    /// All its queries are used.
    Exhausted,
    /// One of the datasets (given) is not covered.
    DatasetNotInGrant(B256),
    /// Neither the query kind nor the program hash is allowed.
    QueryNotAllowed,
    /// The query kind is outside 0..64.
    BadQueryKind,
}

impl GrantVerdict {
    pub(crate) fn from_parts(v: u8, dataset: B256) -> ChainResult<Self> {
        Ok(match v {
            0 => Self::Ok,
            1 => Self::UnknownGrant,
            2 => Self::Revoked,
            3 => Self::NotGrantee,
            4 => Self::Expired,
            5 => Self::Exhausted,
            6 => Self::DatasetNotInGrant(dataset),
            7 => Self::QueryNotAllowed,
            8 => Self::BadQueryKind,
            other => {
                return Err(ChainError::decode(
                    "grant verdict",
                    format!("unknown {other}"),
                ));
            }
        })
    }
}

/// The id of the dataset `owner` registers with `salt`, as `DatasetRegistry.datasetIdFor`
/// computes it: `keccak256(abi.encode(owner, salt))`. A client derives it before uploading (the
/// upload batches name the owner and the salt); only `owner` can register it.
#[must_use]
pub fn dataset_id_for(owner: Address, salt: B256) -> B256 {
    keccak256((owner, salt).abi_encode())
}

/// `JobMarket.REVEAL_WINDOW`: seconds after a job's deadline in which its seals may still be
/// revealed; the fee is refundable only after it.
pub const REVEAL_WINDOW_SECS: u64 = 600;

/// `JobMarket.sealsToClose`: the seals that close a job's sealing at threshold `t`, `2t + 1`
/// (the fewest members a session runs with). Before that (or the deadline) nobody may reveal.
#[must_use]
pub fn seals_to_close(threshold: u8) -> u16 {
    2 * u16::from(threshold) + 1
}

/// What committee member `node` seals for the result `commitment` of job `job_id`, as
/// `JobMarket.sealFor` computes it: `keccak256(abi.encode(job_id, node, commitment))`. Bound to
/// the member, so another member cannot reuse it; computed locally, so the commitment never
/// leaves the node before sealing is closed.
#[must_use]
pub fn seal_for(job_id: U256, node: Address, commitment: B256) -> B256 {
    keccak256((job_id, node, commitment).abi_encode())
}

/// A dataset to register (as the calling account: its id is
/// [`dataset_id_for`]`(caller, salt)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDataset {
    /// The salt the id derives from (random; one id per owner and salt).
    pub salt: B256,
    /// The epoch whose active set the committee was chosen from: must be the chain's current
    /// epoch when the registration is mined.
    pub committee_epoch: u64,
    /// Placement key of the pool (blake3 of the pool id, computed off chain).
    pub pool_key: B256,
    /// Human-readable pool name.
    pub pool: String,
    /// Hash of the declared schema.
    pub schema_hash: B256,
    /// Hash of the signed manifest.
    pub manifest_hash: B256,
    /// Number of rows.
    pub rows: u64,
    /// Accounts of the committee nodes holding the shares, in share order.
    pub committee: Vec<Address>,
    /// Sharing threshold t (at most t nodes may collude; 2t < n).
    pub threshold: u8,
}

/// A grant to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    /// Who may run queries.
    pub grantee: Address,
    /// On which datasets (all owned by the granter).
    pub datasets: Vec<B256>,
    /// Bit set of allowed query kinds (bit k allows kind k).
    pub kinds: u64,
    /// Exact program hashes allowed in addition to the kinds.
    pub program_hashes: Vec<B256>,
    /// Unix time after which the grant is void.
    pub expiry: u64,
    /// How many queries it allows.
    pub max_queries: u32,
}

/// A job to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The grant it uses (one query of it).
    pub grant_id: U256,
    /// Datasets it reads (all of one committee).
    pub datasets: Vec<B256>,
    /// Query kind (0..64).
    pub kind: u8,
    /// Hash of the program text.
    pub program_hash: B256,
    /// Program text, or a pointer to it.
    pub program: String,
    /// Public key the outputs are for.
    pub output_key: Bytes,
    /// Unix time after which, without a quorum, the fee is refundable.
    pub deadline: u64,
    /// Fee put in escrow (wei).
    pub fee: U256,
}

/// Slashing evidence, as signed (EIP-712) by a majority of the committee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashEvidence {
    /// The accused node's account.
    pub node: Address,
    /// Amount to slash (capped at `MAX_SLASH_BPS` of its stake).
    pub amount: U256,
    /// The evidence itself (1 to `MAX_EVIDENCE` bytes). It is published on chain, so it must
    /// hold only what may be public: never a share, a secret or a plaintext value.
    pub evidence: Bytes,
    /// Dataset whose committee judges (the accused must be in it and have acknowledged it).
    pub dataset_id: B256,
    /// Who receives the reporter's reward (named by the signers).
    pub reporter: Address,
    /// Chain time (unix seconds) after which the signatures are void.
    pub deadline: u64,
}

impl SlashEvidence {
    /// `keccak256(evidence)`, the hash the signers sign and the contract recomputes.
    #[must_use]
    pub fn evidence_hash(&self) -> B256 {
        keccak256(&self.evidence)
    }
}

/// Which contract's pull balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vault {
    /// Released stakes and slashing rewards (`NodeRegistry`).
    Registry,
    /// Job payouts and refunds (`JobMarket`).
    Jobs,
}
