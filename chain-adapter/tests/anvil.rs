//! The life cycle against a real chain: anvil (from the pinned npm package) over JSON-RPC,
//! started by the test on a free loopback port and killed when the test ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use alloy::primitives::{Address, U256};
use common::*;
use sharenet_chain_adapter::devchain::Anvil;
use sharenet_chain_adapter::embedded::dev_key;
use sharenet_chain_adapter::{
    ChainError, ContractError, DeployParams, EventCursor, Ledger, RpcBackend, RpcConfig, RpcLedger,
    deploy,
};

struct AnvilClock(RpcBackend);

impl TestClock for AnvilClock {
    async fn advance(&self, seconds: u64) {
        self.0.dev_increase_time(seconds).await.unwrap();
    }
    async fn now(&self) -> u64 {
        self.0.latest_timestamp().await.unwrap()
    }
}

/// Starts anvil, funds dev accounts 0..n, deploys the contracts as account 0.
async fn setup(n: usize) -> (Anvil, Vec<RpcLedger>, RpcBackend) {
    let anvil = Anvil::start(Duration::from_secs(30)).await.unwrap();
    let cfg = RpcConfig::local(anvil.endpoint());
    let backends: Vec<RpcBackend> = (0..n)
        .map(|i| RpcBackend::connect(cfg.clone(), dev_key(i).unwrap()).unwrap())
        .collect();
    for b in &backends {
        backends[0]
            .dev_set_balance(b.signer_address(), ether(1_000))
            .await
            .unwrap();
    }
    let params = DeployParams {
        min_deposit: ether(1),
        unbonding_period: LIFE_CYCLE_UNBONDING,
        reporter_reward_bps: 1_000,
        treasury: Address::ZERO,
    };
    let (addresses, _) = deploy(&backends[0], &params).await.unwrap();
    let clock = backends[0].clone();
    let ledgers = backends
        .into_iter()
        .map(|b| b.into_ledger(addresses))
        .collect();
    (anvil, ledgers, clock)
}

#[tokio::test]
async fn full_life_cycle_over_json_rpc() {
    let (_anvil, l, clock) = setup(9).await;
    let cast = Cast {
        nodes: l[1..=5].to_vec(),
        owner: l[6].clone(),
        researcher: l[7].clone(),
        reporter: l[8].clone(),
    };
    life_cycle(&cast, &AnvilClock(clock)).await;
}

#[tokio::test]
async fn bad_input_reverts_decode_the_same_over_json_rpc() {
    let (_anvil, l, _) = setup(3).await;
    // Wrong account, duplicate registration, malformed signatures: the same typed errors as on
    // the embedded EVM.
    assert_revert!(l[1].top_up(ether(1)).await, ContractError::NotRegistered(_));
    l[1].register_node(peer_key(1), &multiaddr(1), ether(1))
        .await
        .unwrap();
    assert_revert!(
        l[2].register_node(peer_key(1), &multiaddr(2), ether(1))
            .await,
        ContractError::PeerKeyTaken(_)
    );
    assert_revert!(
        l[2].register_node(peer_key(2), &multiaddr(2), U256::from(1))
            .await,
        ContractError::DepositTooLow(_)
    );
    assert_revert!(
        l[2].withdraw(sharenet_chain_adapter::Vault::Jobs).await,
        ContractError::NothingToWithdraw(_)
    );
    // A dead endpoint is an RPC error, not a hang.
    let dead = RpcBackend::connect(
        RpcConfig {
            timeout: Duration::from_secs(5),
            ..RpcConfig::local("http://127.0.0.1:9")
        },
        dev_key(0).unwrap(),
    )
    .unwrap()
    .into_ledger(*l[0].addresses());
    assert!(matches!(
        dead.epoch().await,
        Err(ChainError::Rpc(_) | ChainError::Timeout { .. })
    ));
}

#[tokio::test]
async fn concurrent_sends_of_one_account_get_distinct_nonces() {
    let (_anvil, l, _) = setup(2).await;
    let a = l[1].clone();
    let b = l[1].clone();
    a.register_node(peer_key(1), &multiaddr(1), ether(1))
        .await
        .unwrap();
    let (x, y) = tokio::join!(a.top_up(ether(1)), b.top_up(ether(2)));
    x.unwrap();
    y.unwrap();
    assert_eq!(
        l[0].node_info(l[1].account()).await.unwrap().stake,
        ether(4)
    );
}

#[tokio::test]
async fn event_stream_pages_through_small_log_ranges_without_gaps() {
    let (anvil, l, _) = setup(4).await;
    for (i, n) in l[1..=3].iter().enumerate() {
        let k = u8::try_from(i + 1).unwrap();
        n.register_node(peer_key(k), &multiaddr(k), ether(1))
            .await
            .unwrap();
        n.top_up(ether(1)).await.unwrap();
    }
    let (all, _) = l[0].events_since(EventCursor::default()).await.unwrap();
    assert!(all.len() >= 9);
    // A reader that may only ask for 2 blocks at a time, persisting its cursor after each page.
    let cfg = RpcConfig {
        max_log_range: 2,
        ..RpcConfig::local(anvil.endpoint())
    };
    let reader = RpcBackend::connect(cfg, dev_key(0).unwrap())
        .unwrap()
        .into_ledger(*l[0].addresses());
    let head = reader.backend().block_number().await.unwrap();
    let mut saved = serde_json::to_string(&EventCursor::default()).unwrap();
    let mut got = Vec::new();
    loop {
        let cursor: EventCursor = serde_json::from_str(&saved).unwrap();
        if cursor.block > head {
            break;
        }
        let (page, next) = reader.events_since(cursor).await.unwrap();
        assert!(next > cursor, "the cursor always moves forward");
        got.extend(page);
        saved = serde_json::to_string(&next).unwrap();
    }
    assert_eq!(got, all);
}

#[tokio::test]
async fn attack_a_front_run_registration_over_json_rpc_gets_its_own_id() {
    // Issue 13: a squatter copying an owner's pending registration (same salt, same committee)
    // and mined first used to take the owner's dataset id.
    let (_anvil, l, _) = setup(8).await;
    register_nodes(&l[1..=5], 1, ether(1)).await;
    let committee: Vec<Address> = l[1..=5].iter().map(Ledger::account).collect();
    let (owner, squatter) = (&l[6], &l[7]);
    let d = new_dataset(1, committee, 2, owner.epoch().await.unwrap());
    let intended = owner.dataset_id_for(owner.account(), d.salt).await.unwrap();
    assert_eq!(intended, dataset_id(owner, 1));
    let (_, squatted) = squatter.register_dataset(&d).await.unwrap();
    assert_eq!(squatted, dataset_id(squatter, 1));
    assert_ne!(squatted, intended);
    let (_, id) = owner.register_dataset(&d).await.unwrap();
    assert_eq!(id, intended);
    assert_eq!(owner.dataset_info(id).await.unwrap().owner, owner.account());
    assert_revert!(
        squatter
            .grant(&new_grant(
                squatter.account(),
                vec![id],
                squatter.chain_time().await.unwrap()
            ))
            .await,
        ContractError::NotDatasetOwner(_)
    );
}
