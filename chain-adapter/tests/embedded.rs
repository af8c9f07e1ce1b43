//! Contract tests on the embedded EVM: every function's happy path and every revert path, plus
//! the event cursor. One test binary so the suite stays fast.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolCall, SolConstructor, SolStruct, SolValue, eip712_domain};
use common::*;
use sharenet_chain_adapter::bindings::{
    AccessGrants, JobMarket, NodeRegistry, TestReceiver, eip712,
};
use sharenet_chain_adapter::embedded::EMBEDDED_CHAIN_ID;
use sharenet_chain_adapter::{
    Backend, ChainEventKind, ContractError, DeployParams, EmbeddedChain, EmbeddedLedger,
    EventCursor, GrantVerdict, JobStatus, Ledger, REVEAL_WINDOW_SECS, SlashEvidence, TxReceipt,
    Vault, seal_for,
};

const UNBONDING: u64 = 100;

fn params() -> DeployParams {
    DeployParams {
        min_deposit: ether(1),
        unbonding_period: UNBONDING,
        reporter_reward_bps: 1_000,
        treasury: Address::ZERO,
    }
}

struct World {
    chain: EmbeddedChain,
    deployer: EmbeddedLedger,
    nodes: Vec<EmbeddedLedger>,
    owner: EmbeddedLedger,
    researcher: EmbeddedLedger,
    reporter: EmbeddedLedger,
    outsider: EmbeddedLedger,
    spare: EmbeddedLedger,
}

/// The id of the owner's dataset number `i`.
fn did(w: &World, i: u8) -> B256 {
    dataset_id(&w.owner, i)
}

impl World {
    fn node_accounts(&self) -> Vec<Address> {
        self.nodes.iter().map(Ledger::account).collect()
    }
    fn now(&self) -> u64 {
        self.chain.timestamp().unwrap()
    }
}

async fn world_with(p: DeployParams) -> World {
    let chain = EmbeddedChain::new(p, 12).await.unwrap();
    let l = |i| chain.ledger(i).unwrap();
    World {
        deployer: l(0),
        nodes: (1..=5).map(l).collect(),
        owner: l(6),
        researcher: l(7),
        reporter: l(8),
        outsider: l(9),
        spare: l(10),
        chain,
    }
}

async fn world() -> World {
    world_with(params()).await
}

/// Five registered nodes, dataset 1 on all five with t = 2 (quorum 3), a grant to the researcher.
async fn ready() -> (World, U256) {
    ready_with_threshold(2).await
}

/// A world with five registered nodes, the owner's dataset 1 on all of them at threshold `t`,
/// acknowledged, and a grant of it to the researcher.
async fn ready_with_threshold(t: u8) -> (World, U256) {
    let w = world().await;
    register_nodes(&w.nodes, 1, ether(1)).await;
    register(&w.owner, 1, w.node_accounts(), t).await;
    acknowledge_all(&w.nodes, did(&w, 1)).await;
    let (_, gid) = w
        .owner
        .grant(&new_grant(
            w.researcher.account(),
            vec![did(&w, 1)],
            w.now(),
        ))
        .await
        .unwrap();
    (w, gid)
}

async fn raw_send<C: SolCall>(
    l: &EmbeddedLedger,
    to: Address,
    call: C,
    value: U256,
) -> sharenet_chain_adapter::ChainResult<sharenet_chain_adapter::RawReceipt> {
    l.backend()
        .send(Some(to), call.abi_encode().into(), value)
        .await
}

// ------------------------------------------------------------------------------------------
// deployment and wiring

#[tokio::test]
async fn deployment_links_are_one_time_and_deployer_only() {
    let w = world().await;
    let a = w.chain.addresses();
    let link = NodeRegistry::linkDatasetsCall {
        datasets_: a.dataset_registry,
    };
    assert_revert!(
        raw_send(&w.outsider, a.node_registry, link.clone(), U256::ZERO).await,
        ContractError::NotDeployer(_)
    );
    assert_revert!(
        raw_send(&w.deployer, a.node_registry, link, U256::ZERO).await,
        ContractError::AlreadyLinked(_)
    );
    let link = AccessGrants::linkJobMarketCall {
        jobMarket_: a.job_market,
    };
    assert_revert!(
        raw_send(&w.outsider, a.access_grants, link.clone(), U256::ZERO).await,
        ContractError::NotDeployer(_)
    );
    assert_revert!(
        raw_send(&w.deployer, a.access_grants, link, U256::ZERO).await,
        ContractError::AlreadyLinked(_)
    );
    // Only the job market may consume a grant's queries.
    let consume = AccessGrants::consumeCall {
        grantId: U256::from(1),
        who: w.outsider.account(),
        datasetIds: vec![],
        kind: 0,
        programHash: B256::ZERO,
        jobId: U256::from(1),
    };
    assert_revert!(
        raw_send(&w.outsider, a.access_grants, consume, U256::ZERO).await,
        ContractError::NotJobMarket(_)
    );
}

#[tokio::test]
async fn bad_reward_bps_and_unlinked_registry_revert() {
    let w = world().await;
    let mk = |bps: u64| {
        let mut code = NodeRegistry::BYTECODE.to_vec();
        code.extend(
            NodeRegistry::constructorCall {
                minDeposit_: ether(1),
                unbondingPeriod_: 1,
                reporterRewardBps_: U256::from(bps),
                treasury_: Address::ZERO,
            }
            .abi_encode(),
        );
        Bytes::from(code)
    };
    assert_revert!(
        w.deployer
            .backend()
            .send(None, mk(10_001), U256::ZERO)
            .await,
        ContractError::BadRewardBps(_)
    );
    let r = w
        .deployer
        .backend()
        .send(None, mk(10_000), U256::ZERO)
        .await
        .unwrap();
    let unlinked = r.contract_address.unwrap();
    let slash = NodeRegistry::slashCall {
        node: w.outsider.account(),
        amount: U256::from(1),
        evidence: Bytes::from_static(b"x"),
        datasetId: B256::ZERO,
        reporter: w.outsider.account(),
        deadline: u64::MAX,
        signatures: vec![],
    };
    assert_revert!(
        raw_send(&w.outsider, unlinked, slash, U256::ZERO).await,
        ContractError::NotLinked(_)
    );
}

// ------------------------------------------------------------------------------------------
// node registry

#[tokio::test]
async fn register_node_happy_path_and_active_set() {
    let w = world().await;
    assert_eq!(w.nodes[0].epoch().await.unwrap(), 0);
    let r = w.nodes[0]
        .register_node(peer_key(1), &multiaddr(1), ether(2))
        .await
        .unwrap();
    assert!(r.gas_used > 0);
    assert!(r.events.iter().any(|e| matches!(
        &e.kind,
        ChainEventKind::Node(NodeRegistry::NodeRegistryEvents::NodeRegistered(_))
    )));
    let info = w.nodes[0].node_info(w.nodes[0].account()).await.unwrap();
    assert!(info.registered);
    assert_eq!(info.peerKey, peer_key(1));
    assert_eq!(info.networkAddress, multiaddr(1));
    assert_eq!(info.stake, ether(2));
    assert_eq!(
        w.nodes[0].active_nodes().await.unwrap(),
        vec![w.nodes[0].account()]
    );
    assert_eq!(w.nodes[0].epoch().await.unwrap(), 1);
    assert_eq!(w.chain.dev_accounts().len(), 12);
    let unknown = w.nodes[0].node_info(w.outsider.account()).await.unwrap();
    assert!(!unknown.registered);
}

#[tokio::test]
async fn register_node_reverts() {
    let w = world().await;
    let n = &w.nodes[0];
    n.register_node(peer_key(1), &multiaddr(1), ether(1))
        .await
        .unwrap();
    assert_revert!(
        n.register_node(peer_key(2), &multiaddr(2), ether(1)).await,
        ContractError::AlreadyRegistered(_)
    );
    assert_revert!(
        w.nodes[1]
            .register_node(peer_key(1), &multiaddr(2), ether(1))
            .await,
        ContractError::PeerKeyTaken(_)
    );
    assert_revert!(
        w.nodes[1]
            .register_node(B256::ZERO, &multiaddr(2), ether(1))
            .await,
        ContractError::ZeroPeerKey(_)
    );
    assert_revert!(
        w.nodes[1].register_node(peer_key(2), "", ether(1)).await,
        ContractError::BadNetworkAddress(_)
    );
    assert_revert!(
        w.nodes[1]
            .register_node(peer_key(2), &"x".repeat(257), ether(1))
            .await,
        ContractError::BadNetworkAddress(_)
    );
    match w.nodes[1]
        .register_node(peer_key(2), &multiaddr(2), ether(1) - U256::from(1))
        .await
    {
        Err(e) => match e.contract_error() {
            Some(ContractError::DepositTooLow(d)) => {
                assert_eq!(d.sent, ether(1) - U256::from(1));
                assert_eq!(d.minimum, ether(1));
            }
            other => panic!("{other:?}"),
        },
        Ok(r) => panic!("{r:?}"),
    }
    // A revert is not mined and leaves no state behind.
    assert!(
        !w.nodes[1]
            .node_info(w.nodes[1].account())
            .await
            .unwrap()
            .registered
    );
}

#[tokio::test]
async fn top_up_exit_and_withdraw_stake() {
    let w = world().await;
    let n = &w.nodes[0];
    assert_revert!(n.top_up(ether(1)).await, ContractError::NotRegistered(_));
    assert_revert!(n.request_exit().await, ContractError::NotRegistered(_));
    assert_revert!(n.withdraw_stake().await, ContractError::NotRegistered(_));
    n.register_node(peer_key(1), &multiaddr(1), ether(1))
        .await
        .unwrap();
    assert_revert!(n.top_up(U256::ZERO).await, ContractError::ZeroValue(_));
    n.top_up(ether(2)).await.unwrap();
    assert_eq!(n.node_info(n.account()).await.unwrap().stake, ether(3));
    assert_eq!(
        n.epoch().await.unwrap(),
        1,
        "top-up of an active node does not change the set"
    );
    assert_revert!(n.withdraw_stake().await, ContractError::NotExiting(_));

    n.request_exit().await.unwrap();
    assert_eq!(n.epoch().await.unwrap(), 2);
    assert!(n.active_nodes().await.unwrap().is_empty());
    assert_revert!(n.request_exit().await, ContractError::AlreadyExiting(_));
    assert_revert!(n.withdraw_stake().await, ContractError::UnbondingNotOver(_));
    w.chain.advance_time(UNBONDING - 1).unwrap();
    assert_revert!(n.withdraw_stake().await, ContractError::UnbondingNotOver(_));
    w.chain.advance_time(1).unwrap();
    n.withdraw_stake().await.unwrap();
    assert!(!n.node_info(n.account()).await.unwrap().registered);
    assert_eq!(
        n.balance_of(Vault::Registry, n.account()).await.unwrap(),
        ether(3)
    );

    let before = n.eth_balance(n.account()).await.unwrap();
    n.withdraw(Vault::Registry).await.unwrap();
    assert_eq!(n.eth_balance(n.account()).await.unwrap(), before + ether(3));
    assert_revert!(
        n.withdraw(Vault::Registry).await,
        ContractError::NothingToWithdraw(_)
    );
    assert_revert!(
        n.withdraw(Vault::Jobs).await,
        ContractError::NothingToWithdraw(_)
    );
    // The peer key is free again after leaving.
    w.nodes[1]
        .register_node(peer_key(1), &multiaddr(2), ether(1))
        .await
        .unwrap();
}

#[tokio::test]
async fn withdraw_to_a_refusing_or_reentrant_contract() {
    let w = world().await;
    let a = w.chain.addresses();
    let mut code = TestReceiver::BYTECODE.to_vec();
    code.extend(
        TestReceiver::constructorCall {
            target_: a.node_registry,
        }
        .abi_encode(),
    );
    let recv = w
        .outsider
        .backend()
        .send(None, code.into(), U256::ZERO)
        .await
        .unwrap()
        .contract_address
        .unwrap();
    let o = &w.outsider;
    raw_send(
        o,
        recv,
        TestReceiver::registerCall {
            peerKey: peer_key(9),
            networkAddress: multiaddr(9),
        },
        ether(1),
    )
    .await
    .unwrap();
    raw_send(o, recv, TestReceiver::requestExitCall {}, U256::ZERO)
        .await
        .unwrap();
    w.chain.advance_time(UNBONDING).unwrap();
    raw_send(o, recv, TestReceiver::withdrawStakeCall {}, U256::ZERO)
        .await
        .unwrap();

    raw_send(o, recv, TestReceiver::setModeCall { m: 1 }, U256::ZERO)
        .await
        .unwrap();
    assert_revert!(
        raw_send(o, recv, TestReceiver::withdrawCall {}, U256::ZERO).await,
        ContractError::TransferFailed(_)
    );

    raw_send(o, recv, TestReceiver::setModeCall { m: 2 }, U256::ZERO)
        .await
        .unwrap();
    raw_send(o, recv, TestReceiver::withdrawCall {}, U256::ZERO)
        .await
        .unwrap();
    let last = o
        .backend()
        .call(recv, TestReceiver::lastRevertCall {}.abi_encode().into())
        .await
        .unwrap();
    let last = <Bytes as SolValue>::abi_decode(&last).unwrap();
    assert!(matches!(
        sharenet_chain_adapter::RevertReason::decode(&last),
        sharenet_chain_adapter::RevertReason::Contract(ContractError::Reentrancy(_))
    ));
    assert_eq!(o.eth_balance(recv).await.unwrap(), ether(1));
    assert_eq!(
        o.balance_of(Vault::Registry, recv).await.unwrap(),
        U256::ZERO
    );
}

// ------------------------------------------------------------------------------------------
// slashing

fn evidence(w: &World, accused: usize, amount: U256, tag: u8) -> SlashEvidence {
    SlashEvidence {
        node: w.nodes[accused].account(),
        amount,
        evidence: Bytes::from(format!("evidence {tag} against node {accused}").into_bytes()),
        dataset_id: did(w, 1),
        reporter: w.reporter.account(),
        deadline: w.now() + 3600,
    }
}

async fn sigs(w: &World, ev: &SlashEvidence, signers: &[usize]) -> Vec<Bytes> {
    let mut out = Vec::new();
    for &i in signers {
        out.push(w.nodes[i].sign_slash(ev).await.unwrap());
    }
    out
}

fn slashed_event(r: &sharenet_chain_adapter::TxReceipt) -> NodeRegistry::NodeSlashed {
    r.events
        .iter()
        .find_map(|e| match &e.kind {
            ChainEventKind::Node(NodeRegistry::NodeRegistryEvents::NodeSlashed(s)) => {
                Some(s.clone())
            }
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn slash_digest_is_eip712() {
    let (w, _) = ready().await;
    let ev = evidence(&w, 0, ether(1), 1);
    let domain = eip712_domain! {
        name: "sharenet NodeRegistry",
        version: "1",
        chain_id: EMBEDDED_CHAIN_ID,
        verifying_contract: w.chain.addresses().node_registry,
    };
    let s = eip712::Slash {
        node: ev.node,
        amount: ev.amount,
        evidenceHash: alloy::primitives::keccak256(&ev.evidence),
        datasetId: ev.dataset_id,
        reporter: ev.reporter,
        deadline: ev.deadline,
    };
    let local = s.eip712_signing_hash(&domain);
    let out = w
        .reporter
        .backend()
        .call(
            w.chain.addresses().node_registry,
            NodeRegistry::slashDigestCall {
                node: ev.node,
                amount: ev.amount,
                evidenceHash: ev.evidence_hash(),
                datasetId: ev.dataset_id,
                reporter: ev.reporter,
                deadline: ev.deadline,
            }
            .abi_encode()
            .into(),
        )
        .await
        .unwrap();
    assert_eq!(B256::abi_decode(&out).unwrap(), local);
}

#[tokio::test]
async fn slash_with_quorum_splits_reward_and_burn_and_publishes_the_evidence() {
    let (w, _) = ready().await;
    let ev = evidence(&w, 0, ether(1) / U256::from(30), 1);
    let s = sigs(&w, &ev, &[1, 2, 3]).await;
    let epoch = w.reporter.epoch().await.unwrap();
    // Anyone may relay the call; the reward goes to the reporter the signers named.
    let r = w.outsider.slash(&ev, s).await.unwrap();
    let slashed = slashed_event(&r);
    assert_eq!(slashed.amount, ev.amount);
    assert_eq!(
        slashed.reporterReward + slashed.remainder,
        ev.amount,
        "no dust lost"
    );
    assert_eq!(slashed.reporterReward, ev.amount / U256::from(10));
    assert_eq!(slashed.reporter, w.reporter.account());
    assert_eq!(slashed.evidence, ev.evidence, "the evidence is on chain");
    assert_eq!(
        slashed.evidenceHash,
        alloy::primitives::keccak256(&ev.evidence)
    );
    let mut signers = slashed.signers.clone();
    signers.sort();
    let mut expected: Vec<Address> = [1, 2, 3].iter().map(|&i| w.nodes[i].account()).collect();
    expected.sort();
    assert_eq!(signers, expected);
    assert_eq!(
        w.reporter
            .balance_of(Vault::Registry, w.reporter.account())
            .await
            .unwrap(),
        slashed.reporterReward
    );
    assert_eq!(
        w.reporter
            .balance_of(Vault::Registry, w.outsider.account())
            .await
            .unwrap(),
        U256::ZERO
    );
    let info = w.reporter.node_info(ev.node).await.unwrap();
    assert_eq!(info.stake, ether(1) - ev.amount);
    assert_eq!(info.slashCount, 1);
    // Below the minimum: out of the active set, new epoch.
    assert!(!w.reporter.active_nodes().await.unwrap().contains(&ev.node));
    assert_eq!(w.reporter.epoch().await.unwrap(), epoch + 1);
    // Topping up brings it back.
    w.nodes[0].top_up(ev.amount).await.unwrap();
    assert!(w.reporter.active_nodes().await.unwrap().contains(&ev.node));
    assert_eq!(w.reporter.epoch().await.unwrap(), epoch + 2);
}

#[tokio::test]
async fn slash_takes_at_most_a_tenth_of_the_stake_once_per_dataset_and_pays_treasury() {
    let treasury = sharenet_chain_adapter::embedded::dev_key(11)
        .unwrap()
        .address();
    let w = world_with(DeployParams {
        treasury,
        ..params()
    })
    .await;
    register_nodes(&w.nodes, 1, ether(10)).await;
    let d1 = register(&w.owner, 1, w.node_accounts(), 2).await;
    acknowledge_all(&w.nodes, d1).await;
    // Asked for more than the whole stake: a tenth of it is taken.
    let ev = evidence(&w, 4, ether(50), 2);
    let s = sigs(&w, &ev, &[0, 1, 2]).await;
    let slashed = slashed_event(&w.reporter.slash(&ev, s).await.unwrap());
    assert_eq!(slashed.amount, ether(1));
    assert_eq!(w.reporter.node_info(ev.node).await.unwrap().stake, ether(9));
    assert_eq!(
        w.reporter
            .balance_of(Vault::Registry, w.reporter.account())
            .await
            .unwrap(),
        ether(1) / U256::from(10)
    );
    assert_eq!(
        w.reporter
            .balance_of(Vault::Registry, treasury)
            .await
            .unwrap(),
        ether(1) * U256::from(9) / U256::from(10)
    );
    // The same committee cannot slash it again, whatever the evidence.
    let ev2 = evidence(&w, 4, ether(1), 3);
    let s = sigs(&w, &ev2, &[0, 1, 2]).await;
    assert_revert!(
        w.reporter.slash(&ev2, s).await,
        ContractError::AlreadySlashedOn(_)
    );
    // Another dataset's committee can: a tenth of what is left.
    let d2 = register(&w.owner, 2, w.node_accounts(), 2).await;
    acknowledge_all(&w.nodes, d2).await;
    let ev3 = SlashEvidence {
        dataset_id: d2,
        ..evidence(&w, 4, ether(50), 4)
    };
    let s = sigs(&w, &ev3, &[0, 1, 2]).await;
    let slashed = slashed_event(&w.reporter.slash(&ev3, s).await.unwrap());
    assert_eq!(slashed.amount, ether(9) / U256::from(10));
}

#[tokio::test]
async fn a_stake_too_small_to_take_a_tenth_of_is_not_slashed() {
    let w = world_with(DeployParams {
        min_deposit: U256::from(5),
        ..params()
    })
    .await;
    register_nodes(&w.nodes, 1, U256::from(9)).await;
    let d1 = register(&w.owner, 1, w.node_accounts(), 2).await;
    acknowledge_all(&w.nodes, d1).await;
    let ev = evidence(&w, 0, U256::from(9), 1);
    let s = sigs(&w, &ev, &[1, 2, 3]).await;
    assert_revert!(
        w.reporter.slash(&ev, s).await,
        ContractError::NothingToSlash(_)
    );
}

#[tokio::test]
async fn slash_without_quorum_or_with_bad_signatures_reverts() {
    let (w, _) = ready().await;
    let ev = evidence(&w, 0, ether(1), 1);
    let r = &w.reporter;
    // Quorum is a strict majority of the committee of 5: 3 signatures.
    let two = sigs(&w, &ev, &[1, 2]).await;
    assert_revert!(
        r.slash(&ev, two).await,
        ContractError::InsufficientSignatures(_)
    );
    assert_revert!(
        r.slash(&ev, vec![]).await,
        ContractError::InsufficientSignatures(_)
    );
    let six = sigs(&w, &ev, &[1, 2, 3, 4, 1, 2]).await;
    assert_revert!(
        r.slash(&ev, six).await,
        ContractError::InsufficientSignatures(_)
    );

    let good = sigs(&w, &ev, &[1, 2, 3]).await;
    let mut bad = good.clone();
    bad[1] = Bytes::from(good[1][..64].to_vec());
    assert_revert!(
        r.slash(&ev, bad).await,
        ContractError::BadSignatureLength(_)
    );
    let mut bad = good.clone();
    let mut b = good[2].to_vec();
    b[64] = 29;
    bad[2] = b.into();
    assert_revert!(r.slash(&ev, bad).await, ContractError::BadSignatureV(_));
    // The malleable twin (n - s, flipped v) of a valid signature.
    let n = U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let mut b = good[0].to_vec();
    let s = U256::from_be_slice(&b[32..64]);
    b[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    b[64] = if b[64] == 27 { 28 } else { 27 };
    let mut bad = good.clone();
    bad[0] = b.into();
    assert_revert!(
        r.slash(&ev, bad).await,
        ContractError::SignatureSUpperHalf(_)
    );
    let mut bad = good.clone();
    let mut b = vec![0u8; 65];
    b[63] = 1;
    b[64] = 27;
    bad[0] = b.into();
    assert_revert!(r.slash(&ev, bad).await, ContractError::InvalidSignature(_));
    let dup = sigs(&w, &ev, &[1, 2, 1]).await;
    assert_revert!(r.slash(&ev, dup).await, ContractError::DuplicateSigner(_));
    let with_accused = sigs(&w, &ev, &[1, 0, 2]).await;
    assert_revert!(
        r.slash(&ev, with_accused).await,
        ContractError::SignerIsAccused(_)
    );
    let mut outside = sigs(&w, &ev, &[1, 2]).await;
    outside.push(w.outsider.sign_slash(&ev).await.unwrap());
    assert_revert!(
        r.slash(&ev, outside).await,
        ContractError::SignerNotInCommittee(_)
    );
    // Signatures over different evidence, another reporter or another deadline recover to
    // other addresses.
    for other in [
        evidence(&w, 0, ether(1), 9),
        SlashEvidence {
            reporter: w.outsider.account(),
            ..ev.clone()
        },
        SlashEvidence {
            deadline: ev.deadline + 1,
            ..ev.clone()
        },
    ] {
        let wrong = sigs(&w, &other, &[1, 2, 3]).await;
        assert_revert!(
            r.slash(&ev, wrong).await,
            ContractError::SignerNotInCommittee(_)
        );
    }

    assert_revert!(
        r.slash(&evidence(&w, 0, U256::ZERO, 1), good.clone()).await,
        ContractError::ZeroSlashAmount(_)
    );
    for len in [0, 16_385] {
        let sized = SlashEvidence {
            evidence: Bytes::from(vec![7u8; len]),
            ..ev.clone()
        };
        assert_revert!(
            r.slash(&sized, good.clone()).await,
            ContractError::BadEvidenceLength(_)
        );
    }
    let nobody = SlashEvidence {
        reporter: Address::ZERO,
        ..ev.clone()
    };
    assert_revert!(
        r.slash(&nobody, good.clone()).await,
        ContractError::ZeroReporter(_)
    );
    let stranger = SlashEvidence {
        node: w.outsider.account(),
        ..ev.clone()
    };
    assert_revert!(
        r.slash(&stranger, good.clone()).await,
        ContractError::NotRegistered(_)
    );
    w.spare
        .register_node(peer_key(20), &multiaddr(20), ether(1))
        .await
        .unwrap();
    let not_member = SlashEvidence {
        node: w.spare.account(),
        ..ev.clone()
    };
    let s = sigs(&w, &not_member, &[1, 2, 3]).await;
    assert_revert!(
        r.slash(&not_member, s).await,
        ContractError::AccusedNotInCommittee(_)
    );
    let no_dataset = SlashEvidence {
        dataset_id: did(&w, 77),
        ..ev.clone()
    };
    let s = sigs(&w, &no_dataset, &[1, 2, 3]).await;
    assert_revert!(
        r.slash(&no_dataset, s).await,
        ContractError::UnknownDataset(_)
    );

    r.slash(&ev, good.clone()).await.unwrap();
    w.nodes[0].top_up(ether(1)).await.unwrap();
    assert_revert!(r.slash(&ev, good).await, ContractError::AlreadySlashedOn(_));
}

#[tokio::test]
async fn attack_a_committee_minority_cannot_slash_and_a_majority_takes_a_tenth() {
    // Issue 13: with n = 5 and t = 1 the old quorum was t + 1 = 2 signers, a minority of the
    // committee, and it took the whole stake.
    let w = world().await;
    register_nodes(&w.nodes, 1, ether(1)).await;
    let d1 = register(&w.owner, 1, w.node_accounts(), 1).await;
    acknowledge_all(&w.nodes, d1).await;
    let ev = evidence(&w, 0, ether(1), 1);
    let two = sigs(&w, &ev, &[1, 2]).await;
    match w.reporter.slash(&ev, two).await {
        Err(e) => match e.contract_error() {
            Some(ContractError::InsufficientSignatures(x)) => {
                assert_eq!((x.valid, x.required), (U256::from(2), U256::from(3)));
            }
            other => panic!("expected InsufficientSignatures, got {other:?}"),
        },
        Ok(_) => panic!("two of five members slashed a node"),
    }
    assert_eq!(w.reporter.node_info(ev.node).await.unwrap().stake, ether(1));
    let three = sigs(&w, &ev, &[1, 2, 3]).await;
    w.reporter.slash(&ev, three).await.unwrap();
    assert_eq!(
        w.reporter.node_info(ev.node).await.unwrap().stake,
        ether(1) - ether(1) / U256::from(10)
    );
}

#[tokio::test]
async fn attack_slash_signatures_expire_at_their_deadline() {
    // Issue 13: an approval signed once used to stay valid for ever.
    let (w, _) = ready().await;
    let ev = evidence(&w, 0, ether(1) / U256::from(10), 1);
    let s = sigs(&w, &ev, &[1, 2, 3]).await;
    w.chain.advance_time(3601).unwrap();
    match w.reporter.slash(&ev, s).await {
        Err(e) => match e.contract_error() {
            Some(ContractError::SlashExpired(x)) => {
                assert_eq!(x.deadline, ev.deadline);
                assert!(x.nowTs > ev.deadline);
            }
            other => panic!("expected SlashExpired, got {other:?}"),
        },
        Ok(_) => panic!("an expired approval slashed a node"),
    }
    assert_eq!(w.reporter.node_info(ev.node).await.unwrap().stake, ether(1));
}

// ------------------------------------------------------------------------------------------
// datasets

#[tokio::test]
async fn dataset_register_append_retire() {
    let w = world().await;
    register_nodes(&w.nodes, 1, ether(1)).await;
    let o = &w.owner;
    let id = register(o, 1, w.node_accounts(), 2).await;
    let info = o.dataset_info(id).await.unwrap();
    assert_eq!(info.owner, o.account());
    assert_eq!(info.committee, w.node_accounts());
    assert_eq!(info.threshold, 2);
    assert_eq!(info.rows, 1000);
    assert_eq!(info.pool, "hospitals");
    assert_eq!((info.salt, info.committeeEpoch), (salt(1), 5));
    o.append_rows(id, 1500, B256::repeat_byte(0x3b))
        .await
        .unwrap();
    let info = o.dataset_info(id).await.unwrap();
    assert_eq!(
        (info.rows, info.manifestHash),
        (1500, B256::repeat_byte(0x3b))
    );
    assert_revert!(
        o.append_rows(id, 1500, B256::ZERO).await,
        ContractError::RowCountNotIncreasing(_)
    );
    assert_revert!(
        w.outsider.append_rows(id, 2000, B256::ZERO).await,
        ContractError::NotDatasetOwner(_)
    );
    assert_revert!(
        w.outsider.retire_dataset(id).await,
        ContractError::NotDatasetOwner(_)
    );
    assert_revert!(
        o.append_rows(did(&w, 9), 2000, B256::ZERO).await,
        ContractError::UnknownDataset(_)
    );
    assert_revert!(
        o.retire_dataset(did(&w, 9)).await,
        ContractError::UnknownDataset(_)
    );
    o.retire_dataset(id).await.unwrap();
    assert!(o.dataset_info(id).await.unwrap().retired);
    assert_revert!(
        o.retire_dataset(id).await,
        ContractError::DatasetIsRetired(_)
    );
    assert_revert!(
        o.append_rows(id, 3000, B256::ZERO).await,
        ContractError::DatasetIsRetired(_)
    );
    assert_eq!(
        o.dataset_info(did(&w, 9)).await.unwrap().owner,
        Address::ZERO
    );
}

#[tokio::test]
async fn dataset_register_reverts() {
    let w = world().await;
    register_nodes(&w.nodes, 1, ether(1)).await;
    let o = &w.owner;
    let c = w.node_accounts();
    let epoch = o.epoch().await.unwrap();
    let ok = new_dataset(1, c.clone(), 2, epoch);
    assert_revert!(
        o.register_dataset(&sharenet_chain_adapter::NewDataset {
            pool_key: B256::ZERO,
            ..ok.clone()
        })
        .await,
        ContractError::ZeroPoolKey(_)
    );
    assert_revert!(
        o.register_dataset(&new_dataset(1, vec![], 0, epoch)).await,
        ContractError::BadCommitteeSize(_)
    );
    assert_revert!(
        o.register_dataset(&new_dataset(1, vec![c[0]; 65], 1, epoch))
            .await,
        ContractError::BadCommitteeSize(_)
    );
    assert_revert!(
        o.register_dataset(&new_dataset(1, c.clone(), 0, epoch))
            .await,
        ContractError::BadThreshold(_)
    );
    assert_revert!(
        o.register_dataset(&new_dataset(1, c[..4].to_vec(), 2, epoch))
            .await,
        ContractError::BadThreshold(_)
    );
    assert_revert!(
        o.register_dataset(&sharenet_chain_adapter::NewDataset {
            pool: "p".repeat(129),
            ..ok.clone()
        })
        .await,
        ContractError::BadPoolName(_)
    );
    let mut with_outsider = c.clone();
    with_outsider[4] = w.outsider.account();
    assert_revert!(
        o.register_dataset(&new_dataset(1, with_outsider, 2, epoch))
            .await,
        ContractError::CommitteeMemberNotActive(_)
    );
    let mut dup = c.clone();
    dup[4] = c[0];
    assert_revert!(
        o.register_dataset(&new_dataset(1, dup, 2, epoch)).await,
        ContractError::DuplicateCommitteeMember(_)
    );
    // A committee chosen at another epoch than the current one.
    for stale in [epoch - 1, epoch + 1] {
        match o
            .register_dataset(&new_dataset(1, c.clone(), 2, stale))
            .await
        {
            Err(e) => match e.contract_error() {
                Some(ContractError::StaleCommitteeEpoch(s)) => {
                    assert_eq!((s.committeeEpoch, s.current), (stale, epoch));
                }
                other => panic!("expected StaleCommitteeEpoch, got {other:?}"),
            },
            Ok(_) => panic!("a stale epoch was accepted"),
        }
    }
    o.register_dataset(&ok).await.unwrap();
    // One id per owner and salt.
    assert_revert!(
        o.register_dataset(&ok).await,
        ContractError::DatasetExists(_)
    );
    // An exiting node may not join a new committee.
    w.nodes[0].request_exit().await.unwrap();
    assert_revert!(
        o.register_dataset(&new_dataset(2, c, 2, epoch + 1)).await,
        ContractError::CommitteeMemberNotActive(_)
    );
}

#[tokio::test]
async fn attack_a_front_runner_cannot_take_an_owners_dataset_id() {
    // Issue 13: ids used to be picked by the client, first come first served: whoever saw an
    // upload or a pending registration could register its id first and own the shares.
    let w = world().await;
    register_nodes(&w.nodes, 1, ether(1)).await;
    let (o, squatter) = (&w.owner, &w.outsider);
    let epoch = o.epoch().await.unwrap();
    // The owner's registration as the squatter sees it in the mempool (the salt is also in
    // every upload batch).
    let d = new_dataset(1, w.node_accounts(), 2, epoch);
    let mut preimage = vec![0u8; 12];
    preimage.extend_from_slice(o.account().as_slice());
    preimage.extend_from_slice(d.salt.as_slice());
    let intended = alloy::primitives::keccak256(&preimage);
    assert_eq!(
        o.dataset_id_for(o.account(), d.salt).await.unwrap(),
        intended
    );
    assert_eq!(
        sharenet_chain_adapter::dataset_id_for(o.account(), d.salt),
        intended
    );
    // The squatter's copy is mined first: it registers a dataset of its own, under its own id.
    let (_, squatted) = squatter.register_dataset(&d).await.unwrap();
    assert_ne!(squatted, intended);
    assert_eq!(squatted, dataset_id(squatter, 1));
    // The owner's registration still goes through, under the id its upload named.
    let (_, id) = o.register_dataset(&d).await.unwrap();
    assert_eq!(id, intended);
    assert_eq!(o.dataset_info(id).await.unwrap().owner, o.account());
    // The squatter cannot grant, delegate, append to or retire the owner's dataset.
    assert_revert!(
        squatter
            .grant(&new_grant(squatter.account(), vec![id], w.now()))
            .await,
        ContractError::NotDatasetOwner(_)
    );
    assert_revert!(
        squatter
            .set_grant_delegate(id, squatter.account(), true)
            .await,
        ContractError::NotDatasetOwner(_)
    );
    assert_revert!(
        squatter.append_rows(id, 2000, B256::ZERO).await,
        ContractError::NotDatasetOwner(_)
    );
    assert_revert!(
        squatter.retire_dataset(id).await,
        ContractError::NotDatasetOwner(_)
    );
}

// ------------------------------------------------------------------------------------------
// grants

#[tokio::test]
async fn grant_revoke_and_may_run() {
    let (w, gid) = ready().await;
    let (o, r) = (&w.owner, &w.researcher);
    let ds = [did(&w, 1)];
    let g = o.grant_info(gid).await.unwrap();
    assert_eq!(
        (g.owner, g.grantee, g.maxQueries, g.used, g.kinds),
        (o.account(), r.account(), 2, 0, 0b11)
    );
    let may = |who: Address, kind: u8, ph: B256| {
        let r = r.clone();
        async move { r.may_run(gid, who, &ds, kind, ph).await.unwrap() }
    };
    assert_eq!(may(r.account(), 1, B256::ZERO).await, GrantVerdict::Ok);
    assert_eq!(
        may(r.account(), 5, B256::repeat_byte(0xab)).await,
        GrantVerdict::Ok,
        "listed program hash"
    );
    assert_eq!(
        may(r.account(), 5, B256::ZERO).await,
        GrantVerdict::QueryNotAllowed
    );
    assert_eq!(
        may(r.account(), 64, B256::ZERO).await,
        GrantVerdict::BadQueryKind
    );
    assert_eq!(
        may(w.outsider.account(), 1, B256::ZERO).await,
        GrantVerdict::NotGrantee
    );
    assert_eq!(
        r.may_run(gid, r.account(), &[did(&w, 2)], 1, B256::ZERO)
            .await
            .unwrap(),
        GrantVerdict::DatasetNotInGrant(did(&w, 2))
    );
    assert_eq!(
        r.may_run(U256::from(99), r.account(), &ds, 1, B256::ZERO)
            .await
            .unwrap(),
        GrantVerdict::UnknownGrant
    );
    // Two queries used: exhausted.
    for _ in 0..2 {
        r.submit_job(&new_job(gid, ds.to_vec(), w.now(), ether(1)))
            .await
            .unwrap();
    }
    assert_eq!(
        may(r.account(), 1, B256::ZERO).await,
        GrantVerdict::Exhausted
    );
    w.chain.advance_time(3600).unwrap();
    assert_eq!(may(r.account(), 1, B256::ZERO).await, GrantVerdict::Expired);

    let (_, g2) = o
        .grant(&new_grant(r.account(), ds.to_vec(), w.now()))
        .await
        .unwrap();
    assert_eq!(g2, gid + U256::from(1));
    assert_revert!(w.outsider.revoke(g2).await, ContractError::NotGrantOwner(_));
    assert_revert!(
        o.revoke(U256::from(99)).await,
        ContractError::UnknownGrant(_)
    );
    o.revoke(g2).await.unwrap();
    assert!(o.grant_info(g2).await.unwrap().revoked);
    assert_revert!(o.revoke(g2).await, ContractError::GrantAlreadyRevoked(_));
    assert_eq!(
        r.may_run(g2, r.account(), &ds, 1, B256::ZERO)
            .await
            .unwrap(),
        GrantVerdict::Revoked
    );
}

#[tokio::test]
async fn grant_reverts() {
    let (w, _) = ready().await;
    let o = &w.owner;
    let now = w.now();
    let ok = new_grant(w.researcher.account(), vec![did(&w, 1)], now);
    use sharenet_chain_adapter::NewGrant;
    assert_revert!(
        o.grant(&NewGrant {
            grantee: Address::ZERO,
            ..ok.clone()
        })
        .await,
        ContractError::ZeroGrantee(_)
    );
    assert_revert!(
        o.grant(&NewGrant {
            datasets: vec![],
            ..ok.clone()
        })
        .await,
        ContractError::BadDatasetCount(_)
    );
    assert_revert!(
        o.grant(&NewGrant {
            datasets: vec![did(&w, 1); 17],
            ..ok.clone()
        })
        .await,
        ContractError::BadDatasetCount(_)
    );
    assert_revert!(
        o.grant(&NewGrant {
            program_hashes: vec![B256::ZERO; 17],
            ..ok.clone()
        })
        .await,
        ContractError::TooManyProgramHashes(_)
    );
    assert_revert!(
        o.grant(&NewGrant {
            kinds: 0,
            program_hashes: vec![],
            ..ok.clone()
        })
        .await,
        ContractError::NothingAllowed(_)
    );
    assert_revert!(
        o.grant(&NewGrant {
            expiry: now,
            ..ok.clone()
        })
        .await,
        ContractError::ExpiryInPast(_)
    );
    assert_revert!(
        o.grant(&NewGrant {
            max_queries: 0,
            ..ok.clone()
        })
        .await,
        ContractError::ZeroMaxQueries(_)
    );
    assert_revert!(
        o.grant(&NewGrant {
            datasets: vec![did(&w, 5)],
            ..ok.clone()
        })
        .await,
        ContractError::UnknownDataset(_)
    );
    assert_revert!(
        w.outsider.grant(&ok).await,
        ContractError::NotDatasetOwner(_)
    );
    o.retire_dataset(did(&w, 1)).await.unwrap();
    assert_revert!(o.grant(&ok).await, ContractError::DatasetIsRetired(_));
}

#[tokio::test]
async fn a_grant_delegate_grants_across_owners_and_each_owner_can_revoke() {
    let w = world().await;
    register_nodes(&w.nodes, 1, ether(1)).await;
    // Two owners (owner, spare) with one dataset each in one committee.
    let (a, b) = (&w.owner, &w.spare);
    let d1 = register(a, 1, w.node_accounts(), 2).await;
    let d2 = register(b, 2, w.node_accounts(), 2).await;
    let both = vec![d1, d2];
    let g = new_grant(w.researcher.account(), both.clone(), w.now());
    // Without delegation, a cannot grant b's dataset.
    assert_revert!(a.grant(&g).await, ContractError::NotDatasetOwner(_));
    // Only the owner may delegate, to a real other account.
    assert_revert!(
        a.set_grant_delegate(d2, a.account(), true).await,
        ContractError::NotDatasetOwner(_)
    );
    assert_revert!(
        b.set_grant_delegate(d2, b.account(), true).await,
        ContractError::BadDelegate(_)
    );
    assert_revert!(
        b.set_grant_delegate(d2, Address::ZERO, true).await,
        ContractError::BadDelegate(_)
    );
    assert_revert!(
        b.set_grant_delegate(dataset_id(b, 9), a.account(), true)
            .await,
        ContractError::UnknownDataset(_)
    );
    let receipt = b.set_grant_delegate(d2, a.account(), true).await.unwrap();
    assert!(receipt.events.iter().any(|e| matches!(
        &e.kind,
        ChainEventKind::Grant(AccessGrants::AccessGrantsEvents::GrantDelegateSet(d))
            if d.datasetId == d2 && d.delegate == a.account() && d.allowed
    )));
    let (_, gid) = a.grant(&g).await.unwrap();
    let info = a.grant_info(gid).await.unwrap();
    assert_eq!((info.owner, info.datasetIds.clone()), (a.account(), both));
    // A stranger cannot revoke; b, owner of a covered dataset, can.
    assert_revert!(
        w.outsider.revoke(gid).await,
        ContractError::NotGrantOwner(_)
    );
    b.revoke(gid).await.unwrap();
    assert!(a.grant_info(gid).await.unwrap().revoked);
    // Withdrawn delegation: a can no longer grant b's dataset.
    b.set_grant_delegate(d2, a.account(), false).await.unwrap();
    assert_revert!(a.grant(&g).await, ContractError::NotDatasetOwner(_));
}

// ------------------------------------------------------------------------------------------
// jobs

/// Seals `commitment` for job `job` as `node`.
async fn seal(node: &EmbeddedLedger, job: U256, commitment: B256) -> TxReceipt {
    node.seal_result(job, seal_for(job, node.account(), commitment))
        .await
        .unwrap()
}

fn job_status(info: &sharenet_chain_adapter::JobInfo) -> JobStatus {
    JobStatus::from_u8(info.status).unwrap()
}

#[tokio::test]
async fn a_revealed_commitment_completes_the_job_and_pays_its_sealers_without_dust() {
    let (w, gid) = ready().await;
    let fee = U256::from(1_000_000_007u64);
    let (_, job) = w
        .researcher
        .submit_job(&new_job(gid, vec![did(&w, 1)], w.now(), fee))
        .await
        .unwrap();
    assert_eq!(job, U256::from(1));
    let info = w.researcher.job_info(job).await.unwrap();
    assert_eq!(job_status(&info), JobStatus::Open);
    assert_eq!(info.fee, fee);
    assert_eq!(w.owner.grant_info(gid).await.unwrap().used, 1);

    let good = B256::repeat_byte(0x60);
    let bad = B256::repeat_byte(0x66);
    seal(&w.nodes[3], job, bad).await; // a dissenter
    seal(&w.nodes[0], job, good).await;
    seal(&w.nodes[1], job, good).await;
    seal(&w.nodes[2], job, good).await;
    // Four seals of 2t + 1 = 5: sealing is open, nobody may reveal yet (not even a quorum).
    assert_revert!(
        w.nodes[0].reveal_result(job, good).await,
        ContractError::SealingOpen(_)
    );
    seal(&w.nodes[4], job, good).await;
    assert_eq!(w.researcher.job_info(job).await.unwrap().seals, 5);
    // A commitment fewer than t + 1 seals open to does not complete the job.
    assert_revert!(
        w.nodes[3].reveal_result(job, bad).await,
        ContractError::NoQuorum(_)
    );
    // Anyone may reveal once sealing is closed: here an outsider.
    let r = w.outsider.reveal_result(job, good).await.unwrap();
    assert!(r.events.iter().any(|e| matches!(
        &e.kind,
        ChainEventKind::Job(JobMarket::JobMarketEvents::JobCompleted(_))
    )));
    let info = w.researcher.job_info(job).await.unwrap();
    assert_eq!(job_status(&info), JobStatus::Completed);
    assert_eq!(info.result, good);
    assert_eq!(info.attestations, 4);
    let attested = |i: usize| w.researcher.attestation(job, w.nodes[i].account());
    assert_eq!(attested(0).await.unwrap(), good);
    assert_eq!(attested(4).await.unwrap(), good);
    assert_eq!(attested(3).await.unwrap(), B256::ZERO);
    assert_eq!(
        w.researcher
            .seal_of(job, w.nodes[3].account())
            .await
            .unwrap(),
        seal_for(job, w.nodes[3].account(), bad)
    );

    // Paid in sealing order (0, 1, 2, 4); the first gets the remainder.
    let share = fee / U256::from(4);
    let rem = fee - share * U256::from(4);
    assert_eq!(rem, U256::from(3), "the test picks a fee with a remainder");
    let bal = |i: usize| w.nodes[i].balance_of(Vault::Jobs, w.nodes[i].account());
    assert_eq!(bal(0).await.unwrap(), share + rem);
    assert_eq!(bal(1).await.unwrap(), share);
    assert_eq!(bal(2).await.unwrap(), share);
    assert_eq!(bal(4).await.unwrap(), share);
    assert_eq!(bal(3).await.unwrap(), U256::ZERO);
    assert_eq!(
        w.nodes[0]
            .dissent_count(w.nodes[3].account())
            .await
            .unwrap(),
        U256::from(1)
    );
    assert_revert!(
        w.nodes[1].reveal_result(job, good).await,
        ContractError::JobNotOpen(_)
    );
    assert_revert!(
        w.researcher.claim_refund(job).await,
        ContractError::JobNotOpen(_)
    );

    let before = w.nodes[1].eth_balance(w.nodes[1].account()).await.unwrap();
    w.nodes[1].withdraw(Vault::Jobs).await.unwrap();
    assert_eq!(
        w.nodes[1].eth_balance(w.nodes[1].account()).await.unwrap(),
        before + share
    );
}

/// The attack: a committee member that did not compute reads what the others put on chain and
/// attests it, to be paid with them. With plain attestations it copied the commitment from an
/// attestation event (or the mempool) and was paid (this test, written against `attest`, failed:
/// "the member that copied the commitment was paid"). Now the chain shows only seals bound to
/// their members, and nobody may reveal before sealing closes, after which nobody may seal.
#[tokio::test]
async fn attack_a_member_that_copies_a_commitment_is_not_paid() {
    let (w, gid) = ready().await;
    let fee = ether(1);
    let (_, job) = w
        .researcher
        .submit_job(&new_job(gid, vec![did(&w, 1)], w.now(), fee))
        .await
        .unwrap();
    let computed = B256::repeat_byte(0x5e);
    // Three members computed and seal; the lazy member 4 copies the seal it reads off the chain.
    let mut seen = Vec::new();
    for i in [0, 1, 2] {
        for e in seal(&w.nodes[i], job, computed).await.events {
            if let ChainEventKind::Job(JobMarket::JobMarketEvents::ResultSealed(s)) = e.kind {
                seen.push(s.seal);
            }
        }
    }
    assert_eq!(seen.len(), 3);
    assert!(
        !seen.contains(&computed),
        "a seal does not show the commitment"
    );
    w.nodes[4].seal_result(job, seen[0]).await.unwrap();
    // The fifth member closes the sealing; the commitment is revealed.
    seal(&w.nodes[3], job, computed).await;
    w.nodes[0].reveal_result(job, computed).await.unwrap();
    assert_eq!(
        w.nodes[4]
            .balance_of(Vault::Jobs, w.nodes[4].account())
            .await
            .unwrap(),
        U256::ZERO,
        "the member that copied the commitment was paid"
    );
    assert_eq!(
        w.nodes[0]
            .balance_of(Vault::Jobs, w.nodes[0].account())
            .await
            .unwrap(),
        fee / U256::from(4),
        "the four members that computed share the fee"
    );
    assert_eq!(
        w.nodes[0]
            .dissent_count(w.nodes[4].account())
            .await
            .unwrap(),
        U256::from(1)
    );

    // With a smaller threshold the lazy member waits for the reveal and seals the commitment
    // itself: too late, the sealing closed at 2t + 1.
    let (w, gid) = ready_with_threshold(1).await;
    let (_, job) = w
        .researcher
        .submit_job(&new_job(gid, vec![did(&w, 1)], w.now(), fee))
        .await
        .unwrap();
    for i in [0, 1, 2] {
        seal(&w.nodes[i], job, computed).await;
    }
    assert_revert!(
        w.nodes[4]
            .seal_result(job, seal_for(job, w.nodes[4].account(), computed))
            .await,
        ContractError::SealingClosed(_)
    );
    w.nodes[1].reveal_result(job, computed).await.unwrap();
    assert_revert!(
        w.nodes[4]
            .seal_result(job, seal_for(job, w.nodes[4].account(), computed))
            .await,
        ContractError::JobNotOpen(_)
    );
    assert_eq!(
        w.nodes[4]
            .balance_of(Vault::Jobs, w.nodes[4].account())
            .await
            .unwrap(),
        U256::ZERO
    );
}

/// Members that withhold their seals cannot stop a job: at the deadline sealing closes, and the
/// t + 1 seals made by then are revealed in the reveal window.
#[tokio::test]
async fn a_job_completes_in_the_reveal_window_when_members_withhold_their_seals() {
    let (w, gid) = ready().await;
    let fee = ether(1);
    let (_, job) = w
        .researcher
        .submit_job(&new_job(gid, vec![did(&w, 1)], w.now(), fee))
        .await
        .unwrap();
    let good = B256::repeat_byte(0x70);
    for i in [0, 1, 2] {
        seal(&w.nodes[i], job, good).await;
    }
    assert_revert!(
        w.nodes[0].reveal_result(job, good).await,
        ContractError::SealingOpen(_)
    );
    w.chain.advance_time(601).unwrap();
    assert_revert!(
        w.nodes[3]
            .seal_result(job, seal_for(job, w.nodes[3].account(), good))
            .await,
        ContractError::DeadlinePassed(_)
    );
    assert_revert!(
        w.researcher.claim_refund(job).await,
        ContractError::DeadlineNotPassed(_)
    );
    w.nodes[2].reveal_result(job, good).await.unwrap();
    let info = w.researcher.job_info(job).await.unwrap();
    assert_eq!(job_status(&info), JobStatus::Completed);
    assert_eq!(info.attestations, 3);
    assert_eq!(
        w.nodes[1]
            .balance_of(Vault::Jobs, w.nodes[1].account())
            .await
            .unwrap(),
        fee / U256::from(3)
    );
}

#[tokio::test]
async fn job_refund_after_the_reveal_window_without_quorum() {
    let (w, gid) = ready().await;
    let fee = ether(1);
    let j = new_job(gid, vec![did(&w, 1)], w.now(), fee);
    let (_, job) = w.researcher.submit_job(&j).await.unwrap();
    seal(&w.nodes[0], job, B256::repeat_byte(1)).await;
    seal(&w.nodes[1], job, B256::repeat_byte(2)).await;
    assert_revert!(
        w.outsider.claim_refund(job).await,
        ContractError::DeadlineNotPassed(_)
    );
    w.chain.advance_time(601).unwrap();
    assert_revert!(
        w.nodes[2]
            .seal_result(
                job,
                seal_for(job, w.nodes[2].account(), B256::repeat_byte(1))
            )
            .await,
        ContractError::DeadlinePassed(_)
    );
    assert_revert!(
        w.nodes[0].reveal_result(job, B256::repeat_byte(1)).await,
        ContractError::NoQuorum(_)
    );
    // Within the reveal window the fee is not refundable yet.
    assert_revert!(
        w.outsider.claim_refund(job).await,
        ContractError::DeadlineNotPassed(_)
    );
    w.chain.advance_time(REVEAL_WINDOW_SECS).unwrap();
    assert_revert!(
        w.nodes[0].reveal_result(job, B256::repeat_byte(1)).await,
        ContractError::DeadlinePassed(_)
    );
    // Anyone may trigger the refund; it goes to the requester.
    w.outsider.claim_refund(job).await.unwrap();
    assert_eq!(
        job_status(&w.researcher.job_info(job).await.unwrap()),
        JobStatus::Refunded
    );
    assert_eq!(
        w.researcher
            .balance_of(Vault::Jobs, w.researcher.account())
            .await
            .unwrap(),
        fee
    );
    assert_revert!(
        w.outsider.claim_refund(job).await,
        ContractError::JobNotOpen(_)
    );
    assert_revert!(
        w.nodes[0].reveal_result(job, B256::repeat_byte(1)).await,
        ContractError::JobNotOpen(_)
    );
    assert_revert!(
        w.nodes[2]
            .seal_result(
                job,
                seal_for(job, w.nodes[2].account(), B256::repeat_byte(1))
            )
            .await,
        ContractError::JobNotOpen(_)
    );
    let before = w
        .researcher
        .eth_balance(w.researcher.account())
        .await
        .unwrap();
    w.researcher.withdraw(Vault::Jobs).await.unwrap();
    assert_eq!(
        w.researcher
            .eth_balance(w.researcher.account())
            .await
            .unwrap(),
        before + fee
    );
}

#[tokio::test]
async fn seal_and_reveal_reverts() {
    let (w, gid) = ready().await;
    let (_, job) = w
        .researcher
        .submit_job(&new_job(gid, vec![did(&w, 1)], w.now(), ether(1)))
        .await
        .unwrap();
    let c = B256::repeat_byte(1);
    assert_revert!(
        w.nodes[0].seal_result(U256::from(99), c).await,
        ContractError::UnknownJob(_)
    );
    assert_revert!(
        w.nodes[0].seal_result(job, B256::ZERO).await,
        ContractError::ZeroCommitment(_)
    );
    assert_revert!(
        w.outsider.seal_result(job, c).await,
        ContractError::NotInCommittee(_)
    );
    w.spare
        .register_node(peer_key(30), &multiaddr(30), ether(1))
        .await
        .unwrap();
    assert_revert!(
        w.spare.seal_result(job, c).await,
        ContractError::NotInCommittee(_)
    );
    w.nodes[0].seal_result(job, c).await.unwrap();
    assert_revert!(
        w.nodes[0].seal_result(job, c).await,
        ContractError::AlreadyAttested(_)
    );
    assert_revert!(
        w.nodes[0].reveal_result(U256::from(99), c).await,
        ContractError::UnknownJob(_)
    );
    assert_revert!(
        w.nodes[0].reveal_result(job, B256::ZERO).await,
        ContractError::ZeroCommitment(_)
    );
    assert_revert!(
        w.outsider.claim_refund(U256::from(99)).await,
        ContractError::UnknownJob(_)
    );
    assert_eq!(w.outsider.job_info(U256::from(99)).await.unwrap().status, 0);
}

#[tokio::test]
async fn submit_job_reverts() {
    let (w, gid) = ready().await;
    let r = &w.researcher;
    let now = w.now();
    let ok = new_job(gid, vec![did(&w, 1)], now, ether(1));
    use sharenet_chain_adapter::NewJob;
    assert_revert!(
        r.submit_job(&NewJob {
            fee: U256::ZERO,
            ..ok.clone()
        })
        .await,
        ContractError::ZeroFee(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            datasets: vec![],
            ..ok.clone()
        })
        .await,
        ContractError::BadDatasetCount(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            program: "x".repeat(8193),
            ..ok.clone()
        })
        .await,
        ContractError::ProgramTooLong(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            output_key: Bytes::new(),
            ..ok.clone()
        })
        .await,
        ContractError::BadOutputKey(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            output_key: vec![1u8; 129].into(),
            ..ok.clone()
        })
        .await,
        ContractError::BadOutputKey(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            deadline: now,
            ..ok.clone()
        })
        .await,
        ContractError::BadDeadline(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            deadline: now + 31 * 24 * 3600,
            ..ok.clone()
        })
        .await,
        ContractError::BadDeadline(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            datasets: vec![did(&w, 5)],
            ..ok.clone()
        })
        .await,
        ContractError::UnknownDataset(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            datasets: vec![did(&w, 1), did(&w, 5)],
            ..ok.clone()
        })
        .await,
        ContractError::UnknownDataset(_)
    );
    // Grant checks, surfaced from AccessGrants through the job market.
    assert_revert!(
        r.submit_job(&NewJob {
            grant_id: U256::from(99),
            ..ok.clone()
        })
        .await,
        ContractError::UnknownGrant(_)
    );
    assert_revert!(
        w.outsider.submit_job(&ok).await,
        ContractError::NotGrantee(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            kind: 5,
            ..ok.clone()
        })
        .await,
        ContractError::QueryNotAllowed(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            kind: 64,
            ..ok.clone()
        })
        .await,
        ContractError::BadQueryKind(_)
    );
    r.submit_job(&NewJob {
        kind: 5,
        program_hash: B256::repeat_byte(0xab),
        ..ok.clone()
    })
    .await
    .unwrap();
    r.submit_job(&ok).await.unwrap();
    assert_revert!(r.submit_job(&ok).await, ContractError::GrantExhausted(_));

    // Datasets on a different committee cannot be combined; a dataset outside the grant is refused.
    w.spare
        .register_node(peer_key(40), &multiaddr(40), ether(1))
        .await
        .unwrap();
    let mut c2 = w.node_accounts();
    c2[4] = w.spare.account();
    register(&w.owner, 2, c2, 2).await;
    register(&w.owner, 3, w.node_accounts(), 2).await;
    let (_, g2) = w
        .owner
        .grant(&new_grant(r.account(), vec![did(&w, 1), did(&w, 2)], now))
        .await
        .unwrap();
    assert_revert!(
        r.submit_job(&NewJob {
            grant_id: g2,
            datasets: vec![did(&w, 1), did(&w, 2)],
            ..ok.clone()
        })
        .await,
        ContractError::CommitteeMismatch(_)
    );
    assert_revert!(
        r.submit_job(&NewJob {
            grant_id: g2,
            datasets: vec![did(&w, 1), did(&w, 3)],
            ..ok.clone()
        })
        .await,
        ContractError::DatasetNotInGrant(_)
    );
    w.owner.revoke(g2).await.unwrap();
    assert_revert!(
        r.submit_job(&NewJob {
            grant_id: g2,
            ..ok.clone()
        })
        .await,
        ContractError::GrantRevoked(_)
    );
    let (_, g3) = w
        .owner
        .grant(&new_grant(r.account(), vec![did(&w, 1), did(&w, 3)], now))
        .await
        .unwrap();
    r.submit_job(&NewJob {
        grant_id: g3,
        datasets: vec![did(&w, 1), did(&w, 3)],
        ..ok.clone()
    })
    .await
    .unwrap();
    w.owner.retire_dataset(did(&w, 3)).await.unwrap();
    assert_revert!(
        r.submit_job(&NewJob {
            grant_id: g3,
            datasets: vec![did(&w, 1), did(&w, 3)],
            ..ok.clone()
        })
        .await,
        ContractError::DatasetIsRetired(_)
    );
    w.chain.advance_time(3600).unwrap();
    assert_revert!(
        r.submit_job(&NewJob {
            grant_id: g3,
            deadline: w.now() + 10,
            ..ok.clone()
        })
        .await,
        ContractError::GrantExpired(_)
    );
}

// ------------------------------------------------------------------------------------------
// events

#[tokio::test]
async fn event_stream_resumes_from_a_persisted_cursor_without_gaps_or_repeats() {
    let (w, gid) = ready().await;
    let reader = w.chain.ledger(11).unwrap();
    let (first, cursor) = reader.events_since(EventCursor::default()).await.unwrap();
    assert!(first.len() > 10);
    // Persist the cursor as a node would, then resume with a fresh client.
    let saved = serde_json::to_string(&cursor).unwrap();
    let (none, same) = reader.events_since(cursor).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(same, cursor);

    let (_, job) = w
        .researcher
        .submit_job(&new_job(gid, vec![did(&w, 1)], w.now(), ether(1)))
        .await
        .unwrap();
    for n in &w.nodes {
        seal(n, job, B256::repeat_byte(3)).await;
    }
    w.nodes[0]
        .reveal_result(job, B256::repeat_byte(3))
        .await
        .unwrap();
    w.chain.advance_blocks(5).unwrap();
    let resumed: EventCursor = serde_json::from_str(&saved).unwrap();
    let fresh = w.chain.ledger(11).unwrap();
    let (second, _) = fresh.events_since(resumed).await.unwrap();
    // A cursor in the middle of a block (after its first log) resumes inside that block.
    let (all, _) = fresh.events_since(EventCursor::default()).await.unwrap();
    assert_eq!(all.len(), first.len() + second.len());
    assert_eq!([first.clone(), second.clone()].concat(), all);
    let mid = &all[all.len() - 2];
    let (tail, _) = fresh
        .events_since(EventCursor::after(mid.block, mid.log_index))
        .await
        .unwrap();
    assert_eq!(tail, all[all.len() - 1..].to_vec());
    // Positions strictly increase: nothing repeats.
    assert!(
        all.windows(2)
            .all(|p| (p[0].block, p[0].log_index) < (p[1].block, p[1].log_index))
    );
    assert!(second.iter().any(|e| matches!(
        &e.kind,
        ChainEventKind::Job(JobMarket::JobMarketEvents::JobCompleted(_))
    )));
    assert!(second.iter().any(|e| matches!(
        &e.kind,
        ChainEventKind::Grant(AccessGrants::AccessGrantsEvents::QueryConsumed(_))
    )));
}

// ------------------------------------------------------------------------------------------
// the life cycle shared with the anvil tests

struct EmbeddedClock(EmbeddedChain);

impl TestClock for EmbeddedClock {
    async fn advance(&self, seconds: u64) {
        self.0.advance_time(seconds).unwrap();
    }
    async fn now(&self) -> u64 {
        self.0.timestamp().unwrap()
    }
}

#[tokio::test]
async fn full_life_cycle() {
    let w = world_with(DeployParams {
        unbonding_period: LIFE_CYCLE_UNBONDING,
        ..params()
    })
    .await;
    let cast = Cast {
        nodes: w.nodes.clone(),
        owner: w.owner.clone(),
        researcher: w.researcher.clone(),
        reporter: w.reporter.clone(),
    };
    life_cycle(&cast, &EmbeddedClock(w.chain.clone())).await;
}

#[tokio::test]
async fn acknowledgements_gate_slashing() {
    let (w, _) = ready().await;
    let o = &w.owner;
    assert!(
        o.has_acknowledged(did(&w, 1), w.nodes[0].account())
            .await
            .unwrap()
    );
    assert_revert!(
        w.nodes[0].acknowledge_dataset(did(&w, 1), B256::ZERO).await,
        ContractError::AlreadyAcknowledged(_)
    );
    assert_revert!(
        w.outsider.acknowledge_dataset(did(&w, 1), B256::ZERO).await,
        ContractError::NotCommitteeMember(_)
    );
    assert_revert!(
        w.nodes[0].acknowledge_dataset(did(&w, 9), B256::ZERO).await,
        ContractError::UnknownDataset(_)
    );
    // Dataset 2: same committee, only nodes 1..=3 acknowledged.
    register(o, 2, w.node_accounts(), 2).await;
    let r = w.nodes[1]
        .acknowledge_dataset(did(&w, 2), B256::repeat_byte(5))
        .await
        .unwrap();
    assert!(r.events.iter().any(|e| matches!(
        &e.kind,
        ChainEventKind::Dataset(
            sharenet_chain_adapter::bindings::DatasetRegistry::DatasetRegistryEvents::DatasetAcknowledged(_)
        )
    )));
    w.nodes[2]
        .acknowledge_dataset(did(&w, 2), B256::ZERO)
        .await
        .unwrap();
    w.nodes[3]
        .acknowledge_dataset(did(&w, 2), B256::ZERO)
        .await
        .unwrap();
    let ev = SlashEvidence {
        dataset_id: did(&w, 2),
        ..evidence(&w, 0, ether(1), 1)
    };
    let s = sigs(&w, &ev, &[1, 2, 3]).await;
    assert_revert!(
        w.reporter.slash(&ev, s.clone()).await,
        ContractError::AccusedHasNotAcknowledged(_)
    );
    w.nodes[0]
        .acknowledge_dataset(did(&w, 2), B256::ZERO)
        .await
        .unwrap();
    let s4 = sigs(&w, &ev, &[1, 2, 4]).await;
    assert_revert!(
        w.reporter.slash(&ev, s4).await,
        ContractError::SignerHasNotAcknowledged(_)
    );
    w.reporter.slash(&ev, s).await.unwrap();
    o.retire_dataset(did(&w, 2)).await.unwrap();
    assert_revert!(
        w.nodes[4].acknowledge_dataset(did(&w, 2), B256::ZERO).await,
        ContractError::DatasetIsRetired(_)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgers_are_usable_from_concurrent_tokio_tasks() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<EmbeddedLedger>();
    assert_send_sync::<EmbeddedChain>();
    assert_send_sync::<sharenet_chain_adapter::RpcLedger>();
    let w = world().await;
    let mut tasks = Vec::new();
    for (i, n) in w.nodes.iter().enumerate() {
        let n = n.clone();
        let k = u8::try_from(i + 1).unwrap();
        tasks.push(tokio::spawn(async move {
            n.register_node(peer_key(k), &multiaddr(k), ether(1)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(w.owner.active_nodes().await.unwrap().len(), 5);
    assert_eq!(w.owner.epoch().await.unwrap(), 5);
}

#[tokio::test]
async fn sending_more_than_the_balance_is_rejected_before_execution() {
    let w = world().await;
    let poor = w
        .chain
        .ledger_with_signer(alloy::signers::local::PrivateKeySigner::random());
    let r = poor
        .register_node(peer_key(1), &multiaddr(1), ether(1))
        .await;
    assert!(
        matches!(r, Err(sharenet_chain_adapter::ChainError::Rejected(_))),
        "{r:?}"
    );
    w.chain.set_balance(poor.account(), ether(2)).unwrap();
    poor.register_node(peer_key(1), &multiaddr(1), ether(1))
        .await
        .unwrap();
    assert_eq!(poor.eth_balance(poor.account()).await.unwrap(), ether(1));
    assert!(w.chain.block_number().unwrap() > 0);
}
