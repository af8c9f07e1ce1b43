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

pub fn dataset_id(i: u8) -> B256 {
    let mut b = [0u8; 32];
    b[0] = 0xda;
    b[31] = i;
    B256::from(b)
}

pub fn new_dataset(i: u8, committee: Vec<Address>, threshold: u8) -> NewDataset {
    NewDataset {
        id: dataset_id(i),
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
