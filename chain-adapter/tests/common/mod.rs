//! Shared fixtures of the adapter's tests, written against the `Ledger` trait so the same flows
//! run on both back-ends.
#![allow(dead_code)]

use alloy::primitives::{Address, B256, Bytes, U256};
use sharenet_chain_adapter::{
    ChainError, ChainResult, Ledger, NewDataset, NewGrant, NewJob, RevertReason,
};

/// Asserts that a result is a revert with the given custom error pattern.
#[macro_export]
macro_rules! assert_revert {
    ($res:expr, $pat:pat) => {
        match $res {
            Err(sharenet_chain_adapter::ChainError::Reverted(
                sharenet_chain_adapter::RevertReason::Contract($pat),
            )) => {}
            other => panic!("expected revert {}, got {:?}", stringify!($pat), other),
        }
    };
}

pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

pub fn peer_key(i: u8) -> B256 {
    B256::repeat_byte(i)
}

pub fn multiaddr(i: u8) -> String {
    format!("/ip4/127.0.0.1/tcp/{}", 4000 + u16::from(i))
}

pub fn salt(i: u8) -> B256 {
    let mut b = [0u8; 32];
    b[0] = 0x5a;
    b[31] = i;
    B256::from(b)
}

/// The id of `owner`'s dataset number `i` (registered with `salt(i)`).
pub fn dataset_id<L: Ledger>(owner: &L, i: u8) -> B256 {
    sharenet_chain_adapter::dataset_id_for(owner.account(), salt(i))
}

/// Dataset number `i` with its committee chosen at `epoch`.
pub fn new_dataset(i: u8, committee: Vec<Address>, threshold: u8, epoch: u64) -> NewDataset {
    NewDataset {
        salt: salt(i),
        committee_epoch: epoch,
        pool_key: B256::repeat_byte(0x70),
        pool: "hospitals".into(),
        schema_hash: B256::repeat_byte(0x5c),
        manifest_hash: B256::repeat_byte(0x3a),
        rows: 1000,
        committee,
        threshold,
    }
}

pub fn new_grant(grantee: Address, datasets: Vec<B256>, now: u64) -> NewGrant {
    NewGrant {
        grantee,
        datasets,
        kinds: 0b11, // kinds 0 and 1
        program_hashes: vec![B256::repeat_byte(0xab)],
        expiry: now + 3600,
        max_queries: 2,
    }
}

pub fn new_job(grant_id: U256, datasets: Vec<B256>, now: u64, fee: U256) -> NewJob {
    NewJob {
        grant_id,
        datasets,
        kind: 1,
        program_hash: B256::repeat_byte(0x11),
        program: "SELECT AVG(age) FROM patients".into(),
        output_key: Bytes::from(vec![7u8; 32]),
        deadline: now + 600,
        fee,
    }
}

pub fn is_revert(r: &ChainResult<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(ChainError::Reverted(RevertReason::Contract(_))))
}

/// Registers each ledger as a node with a distinct peer key and the given deposit.
pub async fn register_nodes<L: Ledger>(nodes: &[L], first_key: u8, deposit: U256) {
    for (i, n) in nodes.iter().enumerate() {
        let k = first_key + i as u8;
        n.register_node(peer_key(k), &multiaddr(k), deposit)
            .await
            .unwrap();
    }
}

/// `owner` registers its dataset number `i` at the current epoch; returns its id.
pub async fn register<L: Ledger>(owner: &L, i: u8, committee: Vec<Address>, threshold: u8) -> B256 {
    let epoch = owner.epoch().await.unwrap();
    let (_, id) = owner
        .register_dataset(&new_dataset(i, committee, threshold, epoch))
        .await
        .unwrap();
    assert_eq!(id, dataset_id(owner, i));
    id
}

/// Every ledger acknowledges holding its shares of dataset `id`.
pub async fn acknowledge_all<L: Ledger>(nodes: &[L], id: B256) {
    for n in nodes {
        n.acknowledge_dataset(id, B256::repeat_byte(0x0c))
            .await
            .unwrap();
    }
}

/// The clock of a test chain (embedded: advance the state; anvil: `evm_increaseTime`).
pub trait TestClock {
    fn advance(&self, seconds: u64) -> impl std::future::Future<Output = ()>;
    fn now(&self) -> impl std::future::Future<Output = u64>;
}

/// Accounts of the life-cycle flow: 5 nodes, owner, researcher, reporter.
pub struct Cast<L> {
    pub nodes: Vec<L>,
    pub owner: L,
    pub researcher: L,
    pub reporter: L,
}

pub const LIFE_CYCLE_UNBONDING: u64 = 100;

/// The whole life cycle, written once against `Ledger`, run on both back-ends: register nodes,
/// register a dataset, grant, submit a job, seal and reveal, payout, refund on timeout, slash refused
/// without a quorum and accepted with one, exit and withdraw, and the audit trail read back
/// through a resumed cursor. Deploy with min deposit 1 ether, unbonding `LIFE_CYCLE_UNBONDING`,
/// reporter reward 10 %, no treasury.
pub async fn life_cycle<L: Ledger, C: TestClock>(c: &Cast<L>, clock: &C) {
    use sharenet_chain_adapter::bindings::{JobMarket, NodeRegistry};
    use sharenet_chain_adapter::{
        ChainEventKind, ContractError, EventCursor, JobStatus, REVEAL_WINDOW_SECS, SlashEvidence,
        Vault, seal_for,
    };

    let reader = &c.reporter;
    let (_, cursor0) = reader.events_since(EventCursor::default()).await.unwrap();

    // Nodes join.
    register_nodes(&c.nodes, 1, ether(1)).await;
    let committee: Vec<Address> = c.nodes.iter().map(Ledger::account).collect();
    let mut active = reader.active_nodes().await.unwrap();
    active.sort();
    let mut expected = committee.clone();
    expected.sort();
    assert_eq!(active, expected);
    assert_eq!(reader.epoch().await.unwrap(), 5);
    crate::assert_revert!(
        c.nodes[0]
            .register_node(peer_key(1), &multiaddr(1), ether(1))
            .await,
        ContractError::AlreadyRegistered(_)
    );

    // Owner registers a dataset (its id derives from the owner and the salt) and grants the
    // researcher two queries.
    let d1 = register(&c.owner, 1, committee.clone(), 2).await;
    assert_eq!(
        c.owner
            .dataset_id_for(c.owner.account(), salt(1))
            .await
            .unwrap(),
        d1
    );
    acknowledge_all(&c.nodes, d1).await;
    let (_, gid) = c
        .owner
        .grant(&new_grant(
            c.researcher.account(),
            vec![d1],
            clock.now().await,
        ))
        .await
        .unwrap();

    // Job 1: every member seals (2t + 1 = 5 close the sealing), four seals open to the revealed
    // result, one is dissent; the fee is split among the four.
    let fee = U256::from(3_000_000_001u64);
    let (_, job1) = c
        .researcher
        .submit_job(&new_job(gid, vec![d1], clock.now().await, fee))
        .await
        .unwrap();
    crate::assert_revert!(
        c.owner.seal_result(job1, B256::repeat_byte(1)).await,
        ContractError::NotInCommittee(_)
    );
    let result = B256::repeat_byte(0x42);
    c.nodes[4]
        .seal_result(job1, seal_for(job1, committee[4], B256::repeat_byte(0x99)))
        .await
        .unwrap();
    for (n, account) in c.nodes[..4].iter().zip(&committee) {
        n.seal_result(job1, seal_for(job1, *account, result))
            .await
            .unwrap();
    }
    c.reporter.reveal_result(job1, result).await.unwrap();
    let info = reader.job_info(job1).await.unwrap();
    assert_eq!(
        JobStatus::from_u8(info.status).unwrap(),
        JobStatus::Completed
    );
    assert_eq!(info.result, result);
    let share = fee / U256::from(4);
    let paid0 = reader.balance_of(Vault::Jobs, committee[0]).await.unwrap();
    assert_eq!(paid0, share + (fee - share * U256::from(4)));
    assert_eq!(
        reader.balance_of(Vault::Jobs, committee[1]).await.unwrap(),
        share
    );
    assert_eq!(
        reader.dissent_count(committee[4]).await.unwrap(),
        U256::from(1)
    );
    c.nodes[0].withdraw(Vault::Jobs).await.unwrap();
    assert_eq!(
        reader.balance_of(Vault::Jobs, committee[0]).await.unwrap(),
        U256::ZERO
    );

    // Job 2: one seal by the deadline, no quorum in the reveal window; refunded.
    let (_, job2) = c
        .researcher
        .submit_job(&new_job(gid, vec![d1], clock.now().await, fee))
        .await
        .unwrap();
    c.nodes[0]
        .seal_result(job2, seal_for(job2, committee[0], result))
        .await
        .unwrap();
    crate::assert_revert!(
        c.researcher.claim_refund(job2).await,
        ContractError::DeadlineNotPassed(_)
    );
    // The ledger's chain clock is the clock the contracts judge deadlines by.
    let before = reader.chain_time().await.unwrap();
    assert_eq!(before, clock.now().await);
    clock.advance(601).await;
    crate::assert_revert!(
        c.nodes[0].reveal_result(job2, result).await,
        ContractError::NoQuorum(_)
    );
    crate::assert_revert!(
        c.researcher.claim_refund(job2).await,
        ContractError::DeadlineNotPassed(_)
    );
    clock.advance(REVEAL_WINDOW_SECS).await;
    c.researcher.claim_refund(job2).await.unwrap();
    assert!(reader.chain_time().await.unwrap() >= before + 601 + REVEAL_WINDOW_SECS);
    assert_eq!(
        JobStatus::from_u8(reader.job_info(job2).await.unwrap().status).unwrap(),
        JobStatus::Refunded
    );
    assert_eq!(
        reader
            .balance_of(Vault::Jobs, c.researcher.account())
            .await
            .unwrap(),
        fee
    );
    c.researcher.withdraw(Vault::Jobs).await.unwrap();
    // The grant's two queries are used up.
    crate::assert_revert!(
        c.researcher
            .submit_job(&new_job(gid, vec![d1], clock.now().await, fee))
            .await,
        ContractError::GrantExhausted(_)
    );

    // Slashing node 4: refused with two signatures, accepted with a majority of three, capped
    // at 10 % of its stake.
    let ev = SlashEvidence {
        node: committee[4],
        amount: ether(1),
        evidence: Bytes::from_static(b"node 4 sent a wrong share"),
        dataset_id: d1,
        reporter: c.reporter.account(),
        deadline: clock.now().await + 3600,
    };
    let mut sigs = Vec::new();
    for n in &c.nodes[..3] {
        sigs.push(n.sign_slash(&ev).await.unwrap());
    }
    crate::assert_revert!(
        c.reporter.slash(&ev, sigs[..2].to_vec()).await,
        ContractError::InsufficientSignatures(_)
    );
    c.reporter.slash(&ev, sigs).await.unwrap();
    assert_eq!(
        reader.node_info(committee[4]).await.unwrap().stake,
        ether(1) - ether(1) / U256::from(10)
    );
    assert_eq!(
        reader
            .balance_of(Vault::Registry, c.reporter.account())
            .await
            .unwrap(),
        ether(1) / U256::from(100)
    );
    assert!(!reader.active_nodes().await.unwrap().contains(&committee[4]));

    // Node 3 exits, waits out the unbonding period, withdraws its deposit.
    c.nodes[3].request_exit().await.unwrap();
    crate::assert_revert!(
        c.nodes[3].withdraw_stake().await,
        ContractError::UnbondingNotOver(_)
    );
    clock.advance(LIFE_CYCLE_UNBONDING).await;
    c.nodes[3].withdraw_stake().await.unwrap();
    assert_eq!(
        reader
            .balance_of(Vault::Registry, committee[3])
            .await
            .unwrap(),
        ether(1)
    );
    c.nodes[3].withdraw(Vault::Registry).await.unwrap();
    assert_eq!(reader.active_nodes().await.unwrap().len(), 3);

    // The audit trail, read in two pieces through a persisted cursor, equals one full read.
    let (first, mid) = reader.events_since(cursor0).await.unwrap();
    let saved = serde_json::to_string(&mid).unwrap();
    c.reporter.withdraw(Vault::Registry).await.unwrap();
    let resumed: EventCursor = serde_json::from_str(&saved).unwrap();
    let (second, _) = reader.events_since(resumed).await.unwrap();
    let (all, _) = reader.events_since(cursor0).await.unwrap();
    assert_eq!([first.clone(), second.clone()].concat(), all);
    assert!(!second.is_empty());
    let count = |f: &dyn Fn(&ChainEventKind) -> bool| all.iter().filter(|e| f(&e.kind)).count();
    use JobMarket::JobMarketEvents as J;
    use NodeRegistry::NodeRegistryEvents as N;
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Node(N::NodeRegistered(_)))),
        5
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Node(N::NodeSlashed(_)))),
        1
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Node(N::StakeReleased(_)))),
        1
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Job(J::JobSubmitted(_)))),
        2
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Job(J::ResultSealed(_)))),
        6
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Job(J::ResultAttested(_)))),
        4
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Job(J::JobCompleted(_)))),
        1
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Job(J::AttestationDissent(_)))),
        1
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Job(J::JobRefunded(_)))),
        1
    );
    assert_eq!(
        count(&|k| matches!(k, ChainEventKind::Job(J::Withdrawn(_)))),
        2
    );
}
