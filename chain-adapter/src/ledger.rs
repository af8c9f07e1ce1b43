//! The [`Ledger`] interface and its single implementation over any [`Backend`].

use std::future::Future;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolCall, SolConstructor};

use crate::backend::Backend;
use crate::bindings::{AccessGrants, DatasetRegistry, JobMarket, NodeRegistry};
use crate::error::{ChainError, ChainResult};
use crate::types::{
    ChainEvent, ChainEventKind, ContractAddresses, DatasetInfo, DeployParams, EventCursor,
    GrantInfo, GrantVerdict, JobInfo, NewDataset, NewGrant, NewJob, NodeInfo, RawReceipt,
    SlashEvidence, TxReceipt, Vault,
};

/// Everything nodes and clients do on chain, as one account.
///
/// Every method's future is `Send`, so a ledger can be used from any tokio task.
pub trait Ledger: Send + Sync {
    /// The account this ledger acts as.
    fn account(&self) -> Address;
    /// The contracts it talks to.
    fn addresses(&self) -> &ContractAddresses;
    /// Signs `message` as this account the way a wallet's `personal_sign` does (EIP-191
    /// version 0x45: `keccak256("\x19Ethereum Signed Message:\n" ‖ length ‖ message)`), so the
    /// signature can never be taken for a transaction's or an EIP-712 struct's. Returns the
    /// 65-byte form r ‖ s ‖ v. Off-chain statements of the account (an upload batch) use it.
    fn sign_message(&self, message: &[u8]) -> ChainResult<[u8; 65]>;

    // ---- node registry ----

    /// Registers this account as a node with its ed25519 peer key and multiaddr, staking `deposit`.
    fn register_node(
        &self,
        peer_key: B256,
        network_address: &str,
        deposit: U256,
    ) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Adds `amount` to this node's deposit.
    fn top_up(&self, amount: U256) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Leaves the active set; the deposit is released after the unbonding period.
    fn request_exit(&self) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// After unbonding, moves the deposit to this account's registry balance (then [`Ledger::withdraw`]).
    fn withdraw_stake(&self) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Signs slashing evidence (EIP-712, valid until `evidence.deadline`) as a committee member.
    fn sign_slash(
        &self,
        evidence: &SlashEvidence,
    ) -> impl Future<Output = ChainResult<Bytes>> + Send;
    /// Submits slashing evidence with the signatures of a majority of the committee (65 bytes
    /// each, r‖s‖v).
    fn slash(
        &self,
        evidence: &SlashEvidence,
        signatures: Vec<Bytes>,
    ) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// The active nodes' accounts.
    fn active_nodes(&self) -> impl Future<Output = ChainResult<Vec<Address>>> + Send;
    /// The current epoch (changes whenever the active set changes).
    fn epoch(&self) -> impl Future<Output = ChainResult<u64>> + Send;
    /// A node's record (`registered == false` if unknown).
    fn node_info(&self, node: Address) -> impl Future<Output = ChainResult<NodeInfo>> + Send;

    // ---- datasets ----

    /// Registers this account's dataset [`crate::dataset_id_for`]`(account, d.salt)` with its
    /// committee; returns the receipt and the id.
    fn register_dataset(
        &self,
        d: &NewDataset,
    ) -> impl Future<Output = ChainResult<(TxReceipt, B256)>> + Send;
    /// The id `owner` gets when it registers with `salt`, from the contract
    /// (`DatasetRegistry.datasetIdFor`; [`crate::dataset_id_for`] computes the same locally).
    fn dataset_id_for(
        &self,
        owner: Address,
        salt: B256,
    ) -> impl Future<Output = ChainResult<B256>> + Send;
    /// Records appended rows: the new total and manifest hash.
    fn append_rows(
        &self,
        id: B256,
        rows: u64,
        manifest_hash: B256,
    ) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Retires a dataset.
    fn retire_dataset(&self, id: B256) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// As a committee node, confirms holding verified shares of a dataset (`receipt_hash`: hash of
    /// the upload receipt). Required before the node can be slashed on, or sign evidence about,
    /// that dataset's committee.
    fn acknowledge_dataset(
        &self,
        id: B256,
        receipt_hash: B256,
    ) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Whether `node` acknowledged dataset `id`.
    fn has_acknowledged(
        &self,
        id: B256,
        node: Address,
    ) -> impl Future<Output = ChainResult<bool>> + Send;
    /// A dataset's record (`owner == 0` if unknown).
    fn dataset_info(&self, id: B256) -> impl Future<Output = ChainResult<DatasetInfo>> + Send;

    // ---- grants ----

    /// Grants access; returns the receipt and the new grant id.
    fn grant(&self, g: &NewGrant) -> impl Future<Output = ChainResult<(TxReceipt, U256)>> + Send;
    /// Revokes a grant.
    fn revoke(&self, grant_id: U256) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Lets `delegate` grant access to dataset `dataset` (owner only), or withdraws that.
    fn set_grant_delegate(
        &self,
        dataset: B256,
        delegate: Address,
        allowed: bool,
    ) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// May `who` run a query of `kind` / program `program_hash` on `datasets` under `grant_id` now?
    fn may_run(
        &self,
        grant_id: U256,
        who: Address,
        datasets: &[B256],
        kind: u8,
        program_hash: B256,
    ) -> impl Future<Output = ChainResult<GrantVerdict>> + Send;
    /// A grant's record (`owner == 0` if unknown).
    fn grant_info(&self, grant_id: U256) -> impl Future<Output = ChainResult<GrantInfo>> + Send;

    // ---- jobs ----

    /// Submits a job, paying its fee into escrow; returns the receipt and the job id.
    fn submit_job(&self, j: &NewJob)
    -> impl Future<Output = ChainResult<(TxReceipt, U256)>> + Send;
    /// Seals a job's result commitment as a committee node: `seal` is
    /// [`seal_for`](crate::seal_for)`(job_id, this account, commitment)`, which binds the
    /// commitment to this member and tells nobody what it is.
    fn seal_result(
        &self,
        job_id: U256,
        seal: B256,
    ) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Reveals a job's result commitment once its sealing is closed (`2t + 1` seals, or the
    /// deadline passed): completes the job if `t + 1` seals open to it, and pays their members.
    fn reveal_result(
        &self,
        job_id: U256,
        commitment: B256,
    ) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// After the deadline and its reveal window without a quorum, credits the fee back to the
    /// requester.
    fn claim_refund(&self, job_id: U256) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// A job's record (status 0 if unknown).
    fn job_info(&self, job_id: U256) -> impl Future<Output = ChainResult<JobInfo>> + Send;
    /// The commitment `node` attested for a job: the result, once its seal opened to it (zero
    /// otherwise).
    fn attestation(
        &self,
        job_id: U256,
        node: Address,
    ) -> impl Future<Output = ChainResult<B256>> + Send;
    /// The seal `node` made for a job (zero if none): lets a restarted node see that it already
    /// took part.
    fn seal_of(
        &self,
        job_id: U256,
        node: Address,
    ) -> impl Future<Output = ChainResult<B256>> + Send;
    /// How many times `node` attested a result that differed from the quorum.
    fn dissent_count(&self, node: Address) -> impl Future<Output = ChainResult<U256>> + Send;

    // ---- balances ----

    /// Pull balance of `who` in a contract.
    fn balance_of(
        &self,
        vault: Vault,
        who: Address,
    ) -> impl Future<Output = ChainResult<U256>> + Send;
    /// Withdraws this account's whole balance from a contract.
    fn withdraw(&self, vault: Vault) -> impl Future<Output = ChainResult<TxReceipt>> + Send;
    /// Ether balance of an account.
    fn eth_balance(&self, who: Address) -> impl Future<Output = ChainResult<U256>> + Send;
    /// The chain's clock: the latest block's timestamp (unix seconds). Deadlines and expiries
    /// are judged by it, not by the local clock.
    fn chain_time(&self) -> impl Future<Output = ChainResult<u64>> + Send;

    // ---- audit trail ----

    /// All events of our contracts at or after `cursor`, and the cursor to resume from.
    fn events_since(
        &self,
        cursor: EventCursor,
    ) -> impl Future<Output = ChainResult<(Vec<ChainEvent>, EventCursor)>> + Send;
}

/// The [`Ledger`] over a [`Backend`]: encodes calls with the generated bindings, decodes results,
/// reverts and events. Both back-ends share it, so they behave identically.
#[derive(Debug, Clone)]
pub struct Client<B> {
    backend: B,
    addresses: ContractAddresses,
}

impl<B: Backend> Client<B> {
    /// A client acting through `backend` on the contracts at `addresses`.
    pub fn new(backend: B, addresses: ContractAddresses) -> Self {
        Self { backend, addresses }
    }

    /// The back-end.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    async fn tx(&self, to: Address, data: Vec<u8>, value: U256) -> ChainResult<TxReceipt> {
        let raw = self.backend.send(Some(to), data.into(), value).await?;
        decode_receipt(raw, &self.addresses)
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> ChainResult<C::Return> {
        let out = self.backend.call(to, call.abi_encode().into()).await?;
        C::abi_decode_returns(&out).map_err(|e| ChainError::decode(C::SIGNATURE, e))
    }
}

pub(crate) fn decode_receipt(raw: RawReceipt, a: &ContractAddresses) -> ChainResult<TxReceipt> {
    let mut events = Vec::with_capacity(raw.logs.len());
    for l in &raw.logs {
        if let Some(e) = l.decode(a)? {
            events.push(e);
        }
    }
    Ok(TxReceipt {
        tx_hash: raw.tx_hash,
        block: raw.block,
        gas_used: raw.gas_used,
        events,
    })
}

/// Deploys the four contracts as `backend`'s account and links them (the deploy order:
/// NodeRegistry, DatasetRegistry(nodes), AccessGrants(datasets), JobMarket(datasets, grants),
/// then `NodeRegistry.linkDatasets` and `AccessGrants.linkJobMarket`). Returns their addresses
/// and the gas each step used.
pub async fn deploy<B: Backend>(
    backend: &B,
    params: &DeployParams,
) -> ChainResult<(ContractAddresses, Vec<(&'static str, u64)>)> {
    let mut gas = Vec::new();
    let args = NodeRegistry::constructorCall {
        minDeposit_: params.min_deposit,
        unbondingPeriod_: params.unbonding_period,
        reporterRewardBps_: U256::from(params.reporter_reward_bps),
        treasury_: params.treasury,
    }
    .abi_encode();
    let node_registry = create_contract(
        backend,
        &mut gas,
        "deploy NodeRegistry",
        &NodeRegistry::BYTECODE,
        args,
    )
    .await?;
    let args = DatasetRegistry::constructorCall {
        nodes_: node_registry,
    }
    .abi_encode();
    let dataset_registry = create_contract(
        backend,
        &mut gas,
        "deploy DatasetRegistry",
        &DatasetRegistry::BYTECODE,
        args,
    )
    .await?;
    let args = AccessGrants::constructorCall {
        datasets_: dataset_registry,
    }
    .abi_encode();
    let access_grants = create_contract(
        backend,
        &mut gas,
        "deploy AccessGrants",
        &AccessGrants::BYTECODE,
        args,
    )
    .await?;
    let args = JobMarket::constructorCall {
        datasets_: dataset_registry,
        grants_: access_grants,
    }
    .abi_encode();
    let job_market = create_contract(
        backend,
        &mut gas,
        "deploy JobMarket",
        &JobMarket::BYTECODE,
        args,
    )
    .await?;

    let call = NodeRegistry::linkDatasetsCall {
        datasets_: dataset_registry,
    }
    .abi_encode();
    let r = backend
        .send(Some(node_registry), call.into(), U256::ZERO)
        .await?;
    gas.push(("NodeRegistry.linkDatasets", r.gas_used));
    let call = AccessGrants::linkJobMarketCall {
        jobMarket_: job_market,
    }
    .abi_encode();
    let r = backend
        .send(Some(access_grants), call.into(), U256::ZERO)
        .await?;
    gas.push(("AccessGrants.linkJobMarket", r.gas_used));

    Ok((
        ContractAddresses {
            node_registry,
            dataset_registry,
            access_grants,
            job_market,
        },
        gas,
    ))
}

/// Creates one contract (`code` followed by its encoded constructor `args`) and records the gas
/// used by `step`.
async fn create_contract<B: Backend>(
    backend: &B,
    gas: &mut Vec<(&'static str, u64)>,
    step: &'static str,
    code: &[u8],
    args: Vec<u8>,
) -> ChainResult<Address> {
    let mut data = code.to_vec();
    data.extend_from_slice(&args);
    let r = backend.send(None, Bytes::from(data), U256::ZERO).await?;
    gas.push((step, r.gas_used));
    r.contract_address.ok_or(ChainError::Decode {
        what: step,
        detail: "no contract address in the deployment receipt".into(),
    })
}

impl<B: Backend> Ledger for Client<B> {
    fn account(&self) -> Address {
        self.backend.account()
    }

    fn sign_message(&self, message: &[u8]) -> ChainResult<[u8; 65]> {
        let sig = self
            .backend
            .sign_hash(alloy::primitives::eip191_hash_message(message))?;
        Ok(sig.as_bytes())
    }

    fn addresses(&self) -> &ContractAddresses {
        &self.addresses
    }

    async fn register_node(
        &self,
        peer_key: B256,
        network_address: &str,
        deposit: U256,
    ) -> ChainResult<TxReceipt> {
        let call = NodeRegistry::registerCall {
            peerKey: peer_key,
            networkAddress: network_address.to_owned(),
        };
        self.tx(self.addresses.node_registry, call.abi_encode(), deposit)
            .await
    }

    async fn top_up(&self, amount: U256) -> ChainResult<TxReceipt> {
        let call = NodeRegistry::topUpCall {};
        self.tx(self.addresses.node_registry, call.abi_encode(), amount)
            .await
    }

    async fn request_exit(&self) -> ChainResult<TxReceipt> {
        let call = NodeRegistry::requestExitCall {};
        self.tx(self.addresses.node_registry, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn withdraw_stake(&self) -> ChainResult<TxReceipt> {
        let call = NodeRegistry::withdrawStakeCall {};
        self.tx(self.addresses.node_registry, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn sign_slash(&self, ev: &SlashEvidence) -> ChainResult<Bytes> {
        // The digest comes from the contract itself, so the domain (chain id, address) is
        // always the one the contract will check.
        let digest = self
            .view(
                self.addresses.node_registry,
                NodeRegistry::slashDigestCall {
                    node: ev.node,
                    amount: ev.amount,
                    evidenceHash: ev.evidence_hash(),
                    datasetId: ev.dataset_id,
                    reporter: ev.reporter,
                    deadline: ev.deadline,
                },
            )
            .await?;
        let sig = self.backend.sign_hash(digest)?;
        Ok(Bytes::from(sig.as_bytes().to_vec()))
    }

    async fn slash(&self, ev: &SlashEvidence, signatures: Vec<Bytes>) -> ChainResult<TxReceipt> {
        let call = NodeRegistry::slashCall {
            node: ev.node,
            amount: ev.amount,
            evidence: ev.evidence.clone(),
            datasetId: ev.dataset_id,
            reporter: ev.reporter,
            deadline: ev.deadline,
            signatures,
        };
        self.tx(self.addresses.node_registry, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn active_nodes(&self) -> ChainResult<Vec<Address>> {
        self.view(
            self.addresses.node_registry,
            NodeRegistry::activeNodesCall {},
        )
        .await
    }

    async fn epoch(&self) -> ChainResult<u64> {
        self.view(self.addresses.node_registry, NodeRegistry::epochCall {})
            .await
    }

    async fn node_info(&self, node: Address) -> ChainResult<NodeInfo> {
        self.view(
            self.addresses.node_registry,
            NodeRegistry::getNodeCall { account: node },
        )
        .await
    }

    async fn register_dataset(&self, d: &NewDataset) -> ChainResult<(TxReceipt, B256)> {
        let call = DatasetRegistry::registerDatasetCall {
            salt: d.salt,
            committeeEpoch: d.committee_epoch,
            poolKey: d.pool_key,
            pool: d.pool.clone(),
            schemaHash: d.schema_hash,
            manifestHash: d.manifest_hash,
            rows: d.rows,
            committee: d.committee.clone(),
            threshold: d.threshold,
        };
        let r = self
            .tx(
                self.addresses.dataset_registry,
                call.abi_encode(),
                U256::ZERO,
            )
            .await?;
        let id = r
            .events
            .iter()
            .find_map(|e| match &e.kind {
                ChainEventKind::Dataset(
                    DatasetRegistry::DatasetRegistryEvents::DatasetRegistered(d),
                ) => Some(d.datasetId),
                _ => None,
            })
            .ok_or(ChainError::MissingEvent("DatasetRegistered"))?;
        Ok((r, id))
    }

    async fn dataset_id_for(&self, owner: Address, salt: B256) -> ChainResult<B256> {
        self.view(
            self.addresses.dataset_registry,
            DatasetRegistry::datasetIdForCall { owner, salt },
        )
        .await
    }

    async fn append_rows(
        &self,
        id: B256,
        rows: u64,
        manifest_hash: B256,
    ) -> ChainResult<TxReceipt> {
        let call = DatasetRegistry::appendRowsCall {
            datasetId: id,
            newRows: rows,
            newManifestHash: manifest_hash,
        };
        self.tx(
            self.addresses.dataset_registry,
            call.abi_encode(),
            U256::ZERO,
        )
        .await
    }

    async fn retire_dataset(&self, id: B256) -> ChainResult<TxReceipt> {
        let call = DatasetRegistry::retireDatasetCall { datasetId: id };
        self.tx(
            self.addresses.dataset_registry,
            call.abi_encode(),
            U256::ZERO,
        )
        .await
    }

    async fn acknowledge_dataset(&self, id: B256, receipt_hash: B256) -> ChainResult<TxReceipt> {
        let call = DatasetRegistry::acknowledgeDatasetCall {
            datasetId: id,
            receiptHash: receipt_hash,
        };
        self.tx(
            self.addresses.dataset_registry,
            call.abi_encode(),
            U256::ZERO,
        )
        .await
    }

    async fn has_acknowledged(&self, id: B256, node: Address) -> ChainResult<bool> {
        let call = DatasetRegistry::hasAcknowledgedCall {
            datasetId: id,
            node,
        };
        self.view(self.addresses.dataset_registry, call).await
    }

    async fn dataset_info(&self, id: B256) -> ChainResult<DatasetInfo> {
        self.view(
            self.addresses.dataset_registry,
            DatasetRegistry::getDatasetCall { datasetId: id },
        )
        .await
    }

    async fn grant(&self, g: &NewGrant) -> ChainResult<(TxReceipt, U256)> {
        let call = AccessGrants::grantCall {
            grantee: g.grantee,
            datasetIds: g.datasets.clone(),
            kinds: g.kinds,
            programHashes: g.program_hashes.clone(),
            expiry: g.expiry,
            maxQueries: g.max_queries,
        };
        let r = self
            .tx(self.addresses.access_grants, call.abi_encode(), U256::ZERO)
            .await?;
        let id = r
            .events
            .iter()
            .find_map(|e| match &e.kind {
                ChainEventKind::Grant(AccessGrants::AccessGrantsEvents::AccessGranted(g)) => {
                    Some(g.grantId)
                }
                _ => None,
            })
            .ok_or(ChainError::MissingEvent("AccessGranted"))?;
        Ok((r, id))
    }

    async fn revoke(&self, grant_id: U256) -> ChainResult<TxReceipt> {
        let call = AccessGrants::revokeCall { grantId: grant_id };
        self.tx(self.addresses.access_grants, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn set_grant_delegate(
        &self,
        dataset: B256,
        delegate: Address,
        allowed: bool,
    ) -> ChainResult<TxReceipt> {
        let call = AccessGrants::setGrantDelegateCall {
            datasetId: dataset,
            delegate,
            allowed,
        };
        self.tx(self.addresses.access_grants, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn may_run(
        &self,
        grant_id: U256,
        who: Address,
        datasets: &[B256],
        kind: u8,
        program_hash: B256,
    ) -> ChainResult<GrantVerdict> {
        let r = self
            .view(
                self.addresses.access_grants,
                AccessGrants::checkCall {
                    grantId: grant_id,
                    who,
                    datasetIds: datasets.to_vec(),
                    kind,
                    programHash: program_hash,
                },
            )
            .await?;
        GrantVerdict::from_parts(r.verdict, r.offendingDataset)
    }

    async fn grant_info(&self, grant_id: U256) -> ChainResult<GrantInfo> {
        self.view(
            self.addresses.access_grants,
            AccessGrants::getGrantCall { grantId: grant_id },
        )
        .await
    }

    async fn submit_job(&self, j: &NewJob) -> ChainResult<(TxReceipt, U256)> {
        let call = JobMarket::submitJobCall {
            grantId: j.grant_id,
            datasetIds: j.datasets.clone(),
            kind: j.kind,
            programHash: j.program_hash,
            program: j.program.clone(),
            outputKey: j.output_key.clone(),
            deadline: j.deadline,
        };
        let r = self
            .tx(self.addresses.job_market, call.abi_encode(), j.fee)
            .await?;
        let id = r
            .events
            .iter()
            .find_map(|e| match &e.kind {
                ChainEventKind::Job(JobMarket::JobMarketEvents::JobSubmitted(s)) => Some(s.jobId),
                _ => None,
            })
            .ok_or(ChainError::MissingEvent("JobSubmitted"))?;
        Ok((r, id))
    }

    async fn seal_result(&self, job_id: U256, seal: B256) -> ChainResult<TxReceipt> {
        let call = JobMarket::sealCall {
            jobId: job_id,
            sealHash: seal,
        };
        self.tx(self.addresses.job_market, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn reveal_result(&self, job_id: U256, commitment: B256) -> ChainResult<TxReceipt> {
        let call = JobMarket::revealCall {
            jobId: job_id,
            commitment,
        };
        self.tx(self.addresses.job_market, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn claim_refund(&self, job_id: U256) -> ChainResult<TxReceipt> {
        let call = JobMarket::claimRefundCall { jobId: job_id };
        self.tx(self.addresses.job_market, call.abi_encode(), U256::ZERO)
            .await
    }

    async fn job_info(&self, job_id: U256) -> ChainResult<JobInfo> {
        self.view(
            self.addresses.job_market,
            JobMarket::getJobCall { jobId: job_id },
        )
        .await
    }

    async fn attestation(&self, job_id: U256, node: Address) -> ChainResult<B256> {
        let call = JobMarket::attestationCall {
            jobId: job_id,
            node,
        };
        self.view(self.addresses.job_market, call).await
    }

    async fn seal_of(&self, job_id: U256, node: Address) -> ChainResult<B256> {
        let call = JobMarket::sealOfNodeCall {
            jobId: job_id,
            node,
        };
        self.view(self.addresses.job_market, call).await
    }

    async fn dissent_count(&self, node: Address) -> ChainResult<U256> {
        self.view(self.addresses.job_market, JobMarket::dissentCountCall(node))
            .await
    }

    async fn balance_of(&self, vault: Vault, who: Address) -> ChainResult<U256> {
        match vault {
            Vault::Registry => {
                self.view(
                    self.addresses.node_registry,
                    NodeRegistry::balanceOfCall(who),
                )
                .await
            }
            Vault::Jobs => {
                self.view(self.addresses.job_market, JobMarket::balanceOfCall(who))
                    .await
            }
        }
    }

    async fn withdraw(&self, vault: Vault) -> ChainResult<TxReceipt> {
        let to = match vault {
            Vault::Registry => self.addresses.node_registry,
            Vault::Jobs => self.addresses.job_market,
        };
        self.tx(to, NodeRegistry::withdrawCall {}.abi_encode(), U256::ZERO)
            .await
    }

    async fn eth_balance(&self, who: Address) -> ChainResult<U256> {
        self.backend.balance(who).await
    }

    async fn chain_time(&self) -> ChainResult<u64> {
        self.backend.timestamp().await
    }

    async fn events_since(
        &self,
        cursor: EventCursor,
    ) -> ChainResult<(Vec<ChainEvent>, EventCursor)> {
        let (raw, next) = self
            .backend
            .logs(cursor, self.addresses.all().to_vec())
            .await?;
        let mut out = Vec::with_capacity(raw.len());
        for l in &raw {
            if let Some(e) = l.decode(&self.addresses)? {
                out.push(e);
            }
        }
        Ok((out, next))
    }
}
