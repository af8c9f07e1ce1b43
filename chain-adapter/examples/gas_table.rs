//! Measures the gas of every contract operation and prints the table of `docs/contracts.md`.
//!
//! `cargo run -p sharenet-chain-adapter --example gas_table` measures on the embedded EVM and, if
//! the pinned anvil is installed (`npm ci` in contracts/), on anvil too: both run the same
//! bytecode, so the columns should agree.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use sharenet_chain_adapter::devchain::Anvil;
use sharenet_chain_adapter::embedded::dev_key;
use sharenet_chain_adapter::{
    ChainResult, DeployParams, EmbeddedChain, Ledger, NewDataset, NewGrant, NewJob,
    REVEAL_WINDOW_SECS, RpcBackend, RpcConfig, SlashEvidence, TxReceipt, Vault, deploy, seal_for,
};

type BoxErr = Box<dyn std::error::Error>;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn params() -> DeployParams {
    DeployParams {
        min_deposit: ether(1),
        unbonding_period: 100,
        reporter_reward_bps: 1_000,
        treasury: Address::ZERO,
    }
}

/// The two chains' clocks.
trait Clock {
    fn now(&self) -> impl Future<Output = ChainResult<u64>>;
    fn advance(&self, seconds: u64) -> impl Future<Output = ChainResult<()>>;
}

impl Clock for EmbeddedChain {
    async fn now(&self) -> ChainResult<u64> {
        self.timestamp()
    }
    async fn advance(&self, seconds: u64) -> ChainResult<()> {
        self.advance_time(seconds)
    }
}

impl Clock for RpcBackend {
    async fn now(&self) -> ChainResult<u64> {
        self.latest_timestamp().await
    }
    async fn advance(&self, seconds: u64) -> ChainResult<()> {
        self.dev_increase_time(seconds).await
    }
}

struct Table(Vec<(String, u64)>);

impl Table {
    fn add(&mut self, op: &str, r: &TxReceipt) {
        self.0.push((op.to_owned(), r.gas_used));
    }
}

/// Runs each operation once in a realistic state (5-node committee, t = 2) and records its gas.
/// `ls`: 0 deployer, 1..=5 nodes, 6 owner, 7 researcher, 8 reporter.
async fn measure<L: Ledger>(ls: &[L], clock: &impl Clock) -> Result<Table, BoxErr> {
    let mut t = Table(Vec::new());
    let nodes = &ls[1..=5];
    let (owner, researcher, reporter) = (&ls[6], &ls[7], &ls[8]);
    for (i, n) in nodes.iter().enumerate() {
        let k = u8::try_from(i + 1)?;
        let r = n
            .register_node(
                B256::repeat_byte(k),
                &format!("/ip4/127.0.0.1/tcp/{}", 4000 + i),
                ether(1),
            )
            .await?;
        if i < 2 {
            t.add(
                if i == 0 {
                    "register (first node)"
                } else {
                    "register (next node)"
                },
                &r,
            );
        }
    }
    t.add("topUp", &nodes[0].top_up(ether(1)).await?);
    let committee: Vec<Address> = nodes.iter().map(Ledger::account).collect();
    let ds = NewDataset {
        salt: B256::repeat_byte(0xd1),
        committee_epoch: owner.epoch().await?,
        pool_key: B256::repeat_byte(0x70),
        pool: "hospitals".into(),
        schema_hash: B256::repeat_byte(1),
        manifest_hash: B256::repeat_byte(2),
        rows: 1000,
        committee,
        threshold: 2,
    };
    let (r, id) = owner.register_dataset(&ds).await?;
    t.add("registerDataset (n = 5)", &r);
    for (i, n) in nodes.iter().enumerate() {
        let r = n.acknowledge_dataset(id, B256::repeat_byte(0x0c)).await?;
        if i == 0 {
            t.add("acknowledgeDataset", &r);
        }
    }
    t.add(
        "appendRows",
        &owner.append_rows(id, 2000, B256::repeat_byte(3)).await?,
    );
    let g = NewGrant {
        grantee: researcher.account(),
        datasets: vec![id],
        kinds: 0b11,
        program_hashes: vec![],
        expiry: clock.now().await? + 86_400,
        max_queries: 10,
    };
    let (r, gid) = owner.grant(&g).await?;
    t.add("grant (1 dataset)", &r);
    let (r, g2) = owner.grant(&g).await?;
    let _ = r;
    t.add("revoke", &owner.revoke(g2).await?);
    let job = |deadline| NewJob {
        grant_id: gid,
        datasets: vec![id],
        kind: 1,
        program_hash: B256::repeat_byte(0x11),
        program: "SELECT AVG(age) FROM patients".into(),
        output_key: Bytes::from(vec![7u8; 32]),
        deadline,
        fee: ether(1),
    };
    let (r, j1) = researcher
        .submit_job(&job(clock.now().await? + 600))
        .await?;
    t.add("submitJob (1 dataset, 29-byte program)", &r);
    let c = B256::repeat_byte(0x42);
    let seal = |i: usize, c: B256| seal_for(j1, nodes[i].account(), c);
    t.add("seal (first)", &nodes[0].seal_result(j1, seal(0, c)).await?);
    t.add(
        "seal (a dissent)",
        &nodes[4]
            .seal_result(j1, seal(4, B256::repeat_byte(9)))
            .await?,
    );
    let _ = nodes[1].seal_result(j1, seal(1, c)).await?;
    let _ = nodes[2].seal_result(j1, seal(2, c)).await?;
    t.add(
        "seal (the 2t + 1-th: closes sealing)",
        &nodes[3].seal_result(j1, seal(3, c)).await?,
    );
    t.add(
        "reveal (completes: pays 4, records 1 dissent)",
        &nodes[0].reveal_result(j1, c).await?,
    );
    t.add(
        "withdraw (JobMarket)",
        &nodes[0].withdraw(Vault::Jobs).await?,
    );
    let (_, j2) = researcher
        .submit_job(&job(clock.now().await? + 600))
        .await?;
    clock.advance(601 + REVEAL_WINDOW_SECS).await?;
    t.add("claimRefund", &researcher.claim_refund(j2).await?);
    let ev = SlashEvidence {
        node: nodes[4].account(),
        amount: ether(1),
        evidence: Bytes::from(vec![0xee; 256]),
        dataset_id: id,
        reporter: reporter.account(),
        deadline: clock.now().await? + 3600,
    };
    let mut sigs = Vec::new();
    for n in &nodes[..3] {
        sigs.push(n.sign_slash(&ev).await?);
    }
    t.add(
        "slash (3 signatures of 5, 256-byte evidence)",
        &reporter.slash(&ev, sigs).await?,
    );
    t.add("requestExit", &nodes[3].request_exit().await?);
    clock.advance(100).await?;
    t.add("withdrawStake", &nodes[3].withdraw_stake().await?);
    t.add(
        "withdraw (NodeRegistry)",
        &nodes[3].withdraw(Vault::Registry).await?,
    );
    t.add("retireDataset", &owner.retire_dataset(id).await?);
    Ok(t)
}

#[tokio::main]
async fn main() -> Result<(), BoxErr> {
    let chain = EmbeddedChain::new(params(), 9).await?;
    let ls = (0..9)
        .map(|i| chain.ledger(i))
        .collect::<ChainResult<Vec<_>>>()?;
    let mut embedded = Table(
        chain
            .deploy_gas()
            .iter()
            .map(|(n, g)| ((*n).to_owned(), *g))
            .collect(),
    );
    embedded.0.extend(measure(&ls, &chain).await?.0);

    let anvil = match Anvil::start(Duration::from_secs(30)).await {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!("anvil not measured: {e}");
            None
        }
    };
    let mut on_anvil = None;
    if let Some(a) = &anvil {
        let cfg = RpcConfig::local(a.endpoint());
        let bs = (0..9)
            .map(|i| Ok(RpcBackend::connect(cfg.clone(), dev_key(i)?)?))
            .collect::<Result<Vec<_>, BoxErr>>()?;
        for b in &bs {
            bs[0]
                .dev_set_balance(b.signer_address(), ether(1000))
                .await?;
        }
        let (addresses, deploy_gas) = deploy(&bs[0], &params()).await?;
        let clock = bs[0].clone();
        let ls: Vec<_> = bs.into_iter().map(|b| b.into_ledger(addresses)).collect();
        let mut t = Table(
            deploy_gas
                .iter()
                .map(|(n, g)| ((*n).to_owned(), *g))
                .collect(),
        );
        t.0.extend(measure(&ls, &clock).await?.0);
        on_anvil = Some(t);
    }

    println!("| operation | gas (embedded revm) | gas (anvil) |");
    println!("|---|---:|---:|");
    for (i, (op, g)) in embedded.0.iter().enumerate() {
        let a = on_anvil
            .as_ref()
            .and_then(|t| t.0.get(i))
            .map_or_else(|| "n/a".to_owned(), |(_, g)| g.to_string());
        println!("| {op} | {g} | {a} |");
    }
    Ok(())
}
