#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Jobs end to end in one process: five complete nodes (each on its own runtime, real libp2p on
//! loopback, its own store) on the embedded chain running the real contracts; two institutions
//! upload tables of one schema into one pool, one of them (delegated by the other) grants a
//! researcher the union, and the researcher's queries are computed by the committee and opened
//! only by the researcher. Every result is checked against the plaintext computed here; refused
//! requests never reach the chain; with one member down the job still runs, with three down it
//! fails and the fee is refunded after the deadline.
//!
//! Who is live is decided by events, never by how fast a busy machine answers: the researcher is
//! connected to every running member before it submits, a member that is down is refused at once
//! (its process is gone: the dial is refused), and the timeouts are generous bounds that only a
//! hung member could reach.

use std::time::{Duration, Instant};

use alloy::primitives::{B256, U256};
use libp2p::identity::Keypair;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_chain_adapter::bindings::JobMarket::JobMarketEvents;
use sharenet_chain_adapter::{
    ChainEventKind, DeployParams, EmbeddedChain, EmbeddedLedger, EventCursor, JobStatus, Ledger,
    NewGrant, Vault,
};
use sharenet_node::config::NodeConfig;
use sharenet_node::jobs::JobError;
use sharenet_node::jobs::requester::{QueryOutcome, QueryRequest, run_query};
use sharenet_node::keys;
use sharenet_node::local::LocalNode;
use sharenet_node::net::{self, Client, NetworkConfig};
use sharenet_node::owner::upload_dataset;
use sharenet_node::table::read_csv;
use sharenet_query::{Cell, QueryKind, QueryResult, Schema};

const SCHEMA: &str = r#"{"columns":[{"name":"age","type":"integer"},{"name":"sex","type":"category","labels":["f","m"]},
{"name":"bmi","type":"fixed","scale":1},{"name":"smoker","type":"boolean"},{"name":"cost","type":"fixed","scale":2}]}"#;

/// Accounts on the embedded chain.
const NODES: usize = 5;
/// The requester's bound on each wait (a member's answer, a session message, the attestations):
/// never reached unless something hangs, so a busy machine is only slower.
const PATIENCE: Duration = Duration::from_secs(60);
const INSTITUTION_A: usize = 6;
const INSTITUTION_B: usize = 7;
const RESEARCHER: usize = 8;
const STRANGER: usize = 9;

/// One patient row: age, sex (0 f, 1 m), bmi, smoker, cost.
#[derive(Clone, Copy)]
struct Row {
    age: i64,
    sex: i64,
    bmi: f64,
    smoker: bool,
    cost: f64,
}

fn patients(rows: usize, seed: u64) -> (String, Vec<Row>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut csv = String::from("age,sex,bmi,smoker,cost\n");
    let mut out = Vec::with_capacity(rows);
    for _ in 0..rows {
        let age = rng.random_range(18..90i64);
        let sex = rng.random_range(0..2i64);
        let bmi = f64::from(rng.random_range(170..400i32)) / 10.0;
        let smoker = rng.random_range(0..4u8) == 0;
        // Cost depends on age and smoking, with noise: the regression has something to find.
        let cents =
            10_000 + 350 * age + if smoker { 9_000 } else { 0 } + rng.random_range(0..2_000i64);
        let cost = cents as f64 / 100.0;
        csv.push_str(&format!(
            "{age},{},{bmi:.1},{smoker},{cost:.2}\n",
            if sex == 0 { "f" } else { "m" }
        ));
        out.push(Row {
            age,
            sex,
            bmi,
            smoker,
            cost,
        });
    }
    (csv, out)
}

struct Net {
    chain: EmbeddedChain,
    nodes: Vec<Option<LocalNode>>,
    dirs: Vec<tempfile::TempDir>,
}

impl Net {
    async fn start() -> Net {
        let chain = EmbeddedChain::new(DeployParams::default(), 10)
            .await
            .unwrap();
        let mut net = Net {
            chain,
            nodes: Vec::new(),
            dirs: (0..NODES).map(|_| tempfile::tempdir().unwrap()).collect(),
        };
        for i in 0..NODES {
            let node = net.start_node(i).await;
            net.nodes.push(Some(node));
        }
        net.wait_all_active().await;
        net
    }

    /// Waits until every running node has seen the whole active set on chain (it then allows and
    /// has dialled the others).
    async fn wait_all_active(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let seen: Vec<usize> = self
                .nodes
                .iter()
                .flatten()
                .map(|n| n.node.status.lock().map(|s| s.active_nodes).unwrap_or(0))
                .collect();
            if seen.iter().all(|&active| active == NODES) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the running nodes see {seen:?} active nodes, not {NODES} each"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connects `client` to every running node at the address it listens on now. (A node
    /// restarted here listens on a new port, while the chain still has the address it registered
    /// first: the requester's own dial of that address is refused.)
    async fn connect_running(&self, client: &Client) {
        for n in self.nodes.iter().flatten() {
            let addr = n.node.client.listen_addrs().await.unwrap().remove(0);
            client
                .dial(n.node.client.local_peer_id(), addr)
                .await
                .unwrap();
        }
    }

    async fn start_node(&self, i: usize) -> LocalNode {
        let config = NodeConfig::local(
            self.dirs[i].path(),
            self.chain.addresses(),
            U256::from(10u64).pow(U256::from(18u64)),
            Duration::from_secs(20),
        )
        .unwrap();
        LocalNode::start(config, self.chain.ledger(i + 1).unwrap())
            .await
            .unwrap()
    }

    fn ledger(&self, account: usize) -> EmbeddedLedger {
        self.chain.ledger(account).unwrap()
    }
}

/// A client (owner or researcher) with the identity its account key derives.
fn client_for(account: usize) -> Client {
    let key = sharenet_chain_adapter::embedded::dev_key(account).unwrap();
    let keypair: Keypair = keys::client_identity(&key);
    let (client, _inbound) = net::start(NetworkConfig {
        keypair,
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(20),
    })
    .unwrap();
    client
}

async fn upload(net: &Net, account: usize, name: &str, csv: &str, t: usize) -> B256 {
    let schema = Schema::from_json(SCHEMA).unwrap();
    let table = read_csv(csv.as_bytes(), &schema, &[]).unwrap();
    let client = client_for(account);
    let summary = upload_dataset(
        &net.ledger(account),
        &client,
        &schema,
        &table,
        name,
        "clinics",
        NODES,
        t,
        10,
        1_000,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    B256::from(summary.dataset)
}

fn request(text: &str, datasets: &[B256]) -> QueryRequest {
    QueryRequest {
        text: text.into(),
        datasets: datasets.to_vec(),
        grant: None,
        fee: U256::from(1_000_000u64),
        deadline: Duration::from_secs(600),
        ready_timeout: PATIENCE,
        session_timeout: PATIENCE,
        attest_timeout: PATIENCE,
        security: sharenet_mpc::protocol::Security::Malicious,
    }
}

fn close(got: f64, want: f64, what: &str) {
    let tolerance = 1e-3 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got}, plaintext {want}"
    );
}

fn number(cell: &Cell) -> f64 {
    match cell {
        Cell::Number(v) => *v,
        other => panic!("not a number: {other:?}"),
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var_pop(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64
}

/// Least squares `y ~ 1 + x1 + x2` by the normal equations (3×3, Gaussian elimination).
fn linreg(rows: &[(f64, f64, f64)]) -> [f64; 3] {
    let mut a = [[0.0f64; 4]; 3];
    for &(x1, x2, y) in rows {
        let x = [1.0, x1, x2];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += x[i] * x[j];
            }
            a[i][3] += x[i] * y;
        }
    }
    for c in 0..3 {
        let p = (c..3)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        let pivot = a[c];
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (x, p) in row.iter_mut().zip(pivot).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    [a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]]
}

/// Runs `request` as `researcher`, connected first to every running node.
async fn run_request(
    net: &Net,
    researcher: usize,
    request: &QueryRequest,
) -> Result<QueryOutcome, JobError> {
    let client = client_for(researcher);
    net.connect_running(&client).await;
    let out = run_query(&net.ledger(researcher), &client, request, |_| {}).await;
    let _ = client.shutdown().await;
    out.inspect(|o| {
        assert!(o.completed, "the committee attested and was paid");
        assert!(o.dissent.is_empty(), "every member saw the same transcript");
        assert!(
            o.corrected.is_empty(),
            "no member sent a wrong output share"
        );
    })
}

async fn run(
    net: &Net,
    researcher: usize,
    text: &str,
    datasets: &[B256],
) -> Result<QueryResult, JobError> {
    run_request(net, researcher, &request(text, datasets))
        .await
        .map(|o| o.result)
}

async fn jobs_on_chain(net: &Net) -> usize {
    let (events, _) = net
        .ledger(0)
        .events_since(EventCursor::default())
        .await
        .unwrap();
    events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                ChainEventKind::Job(JobMarketEvents::JobSubmitted(_))
            )
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_two_institutions_match_plaintext_and_refusals_never_reach_the_chain() {
    let net = Net::start().await;
    let (csv_a, rows_a) = patients(300, 1);
    let (csv_b, rows_b) = patients(200, 2);
    let a = upload(&net, INSTITUTION_A, "clinic_a", &csv_a, 2).await;
    let b = upload(&net, INSTITUTION_B, "clinic_b", &csv_b, 2).await;
    let union: Vec<Row> = rows_a.iter().chain(&rows_b).copied().collect();
    let both = [a, b];

    // Institution B lets A grant its dataset; A grants the researcher the union.
    let ledger_a = net.ledger(INSTITUTION_A);
    net.ledger(INSTITUTION_B)
        .set_grant_delegate(b, ledger_a.account(), true)
        .await
        .unwrap();
    let now = ledger_a.chain_time().await.unwrap();
    let all_kinds = QueryKind::ALL.iter().fold(0u64, |k, q| k | 1 << q.code());
    ledger_a
        .grant(&NewGrant {
            grantee: net.ledger(RESEARCHER).account(),
            datasets: both.to_vec(),
            kinds: all_kinds,
            program_hashes: Vec::new(),
            expiry: now + 30 * 24 * 3600,
            max_queries: 20,
        })
        .await
        .unwrap();

    // AVG and VAR_POP.
    let r = run(
        &net,
        RESEARCHER,
        "SELECT AVG(age), VAR_POP(bmi) FROM a, b",
        &both,
    )
    .await
    .unwrap();
    let ages: Vec<f64> = union.iter().map(|r| r.age as f64).collect();
    let bmis: Vec<f64> = union.iter().map(|r| r.bmi).collect();
    close(number(&r.rows[0][0]), mean(&ages), "AVG(age)");
    close(number(&r.rows[0][1]), var_pop(&bmis), "VAR_POP(bmi)");

    // COUNT with WHERE.
    let r = run(
        &net,
        RESEARCHER,
        "SELECT COUNT(*) FROM a, b WHERE smoker AND age > 40",
        &both,
    )
    .await
    .unwrap();
    let want = union.iter().filter(|r| r.smoker && r.age > 40).count();
    assert_eq!(number(&r.rows[0][0]), want as f64);

    // GROUP BY.
    let r = run(
        &net,
        RESEARCHER,
        "SELECT sex, COUNT(*), AVG(cost) FROM a, b GROUP BY sex",
        &both,
    )
    .await
    .unwrap();
    for (group, label) in [(0, "f"), (1, "m")] {
        let row = &r.rows[group];
        assert_eq!(row[0], Cell::Label(label.into()));
        let costs: Vec<f64> = union
            .iter()
            .filter(|r| r.sex == group as i64)
            .map(|r| r.cost)
            .collect();
        assert_eq!(number(&row[1]), costs.len() as f64);
        close(number(&row[2]), mean(&costs), "AVG(cost) per sex");
    }

    // HISTOGRAM.
    let r = run(
        &net,
        RESEARCHER,
        "SELECT HISTOGRAM(age, 30, 50, 70) FROM a, b",
        &both,
    )
    .await
    .unwrap();
    let Cell::Counts(bins) = &r.rows[0][0] else {
        panic!("not a histogram: {r}")
    };
    let edges = [30, 50, 70];
    for (i, (_, count)) in bins.iter().enumerate() {
        let lo = if i == 0 { i64::MIN } else { edges[i - 1] };
        let hi = edges.get(i).copied().unwrap_or(i64::MAX);
        let want = union.iter().filter(|r| r.age >= lo && r.age < hi).count();
        assert_eq!(*count, want as f64, "bin {i}");
    }

    // LINREG.
    let r = run(
        &net,
        RESEARCHER,
        "SELECT LINREG(cost ~ age + smoker) FROM a, b",
        &both,
    )
    .await
    .unwrap();
    let Cell::Model { coefficients, .. } = &r.rows[0][0] else {
        panic!("not a model: {r}")
    };
    let want = linreg(
        &union
            .iter()
            .map(|r| (r.age as f64, f64::from(u8::from(r.smoker)), r.cost))
            .collect::<Vec<_>>(),
    );
    for ((term, got), want) in coefficients.iter().zip(want) {
        close(*got, want, term);
    }
    let completed = jobs_on_chain(&net).await;
    assert_eq!(completed, 5);

    // Refusals, each before anything reaches the chain.
    let q = "SELECT AVG(age) FROM a, b";
    let e = run(&net, STRANGER, q, &both).await.unwrap_err();
    assert!(matches!(e, JobError::NoGrant), "{e}");
    // A revoked grant (B, owner of a covered dataset, revokes A's grant to the stranger).
    let (_, revoked) = ledger_a
        .grant(&NewGrant {
            grantee: net.ledger(STRANGER).account(),
            datasets: both.to_vec(),
            kinds: all_kinds,
            program_hashes: Vec::new(),
            expiry: now + 3600,
            max_queries: 5,
        })
        .await
        .unwrap();
    net.ledger(INSTITUTION_B).revoke(revoked).await.unwrap();
    let e = run(&net, STRANGER, q, &both).await.unwrap_err();
    assert!(
        matches!(&e, JobError::Refused(m) if m.contains("revoked")),
        "{e}"
    );
    // A query kind outside the grant.
    ledger_a
        .grant(&NewGrant {
            grantee: net.ledger(STRANGER).account(),
            datasets: both.to_vec(),
            kinds: 1 << QueryKind::Aggregate.code(),
            program_hashes: Vec::new(),
            expiry: now + 3600,
            max_queries: 1,
        })
        .await
        .unwrap();
    let e = run(&net, STRANGER, "SELECT HISTOGRAM(age, 40) FROM a, b", &both)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, JobError::Refused(m) if m.contains("kind")),
        "{e}"
    );
    // Over the query count: the one allowed query runs, the next is refused.
    run(&net, STRANGER, q, &both).await.unwrap();
    let e = run(&net, STRANGER, q, &both).await.unwrap_err();
    assert!(
        matches!(&e, JobError::Refused(m) if m.contains("used")),
        "{e}"
    );
    // Expired: the chain's clock moves past every grant of the stranger.
    net.chain.advance_time(7200).unwrap();
    ledger_a
        .grant(&NewGrant {
            grantee: net.ledger(STRANGER).account(),
            datasets: both.to_vec(),
            kinds: all_kinds,
            program_hashes: Vec::new(),
            expiry: now + 7200 + 60,
            max_queries: 5,
        })
        .await
        .unwrap();
    net.chain.advance_time(120).unwrap();
    let e = run(&net, STRANGER, q, &both).await.unwrap_err();
    assert!(
        matches!(&e, JobError::Refused(m) if m.contains("expired")),
        "{e}"
    );
    // A query that does not compile, a dataset that does not exist: refused before the chain.
    let e = run(&net, RESEARCHER, "SELECT AVG(agee) FROM a, b", &both)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, JobError::Query(m) if m.contains("agee")),
        "{e}"
    );
    let e = run(&net, RESEARCHER, q, &[a, B256::repeat_byte(7)])
        .await
        .unwrap_err();
    assert!(matches!(e, JobError::UnknownDataset(_)), "{e}");
    // Only the stranger's one allowed job reached the chain.
    assert_eq!(jobs_on_chain(&net).await, completed + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_down_still_computes_three_down_fails_and_is_refunded() {
    let mut net = Net::start().await;
    let (csv, rows) = patients(150, 3);
    let d = upload(&net, INSTITUTION_A, "clinic", &csv, 1).await;
    let ledger_a = net.ledger(INSTITUTION_A);
    let now = ledger_a.chain_time().await.unwrap();
    ledger_a
        .grant(&NewGrant {
            grantee: net.ledger(RESEARCHER).account(),
            datasets: vec![d],
            kinds: 1 << QueryKind::Aggregate.code(),
            program_hashes: Vec::new(),
            expiry: now + 30 * 24 * 3600,
            max_queries: 5,
        })
        .await
        .unwrap();
    let q = "SELECT AVG(cost), COUNT(*) FROM clinic WHERE age >= 30";
    let costs: Vec<f64> = rows
        .iter()
        .filter(|r| r.age >= 30)
        .map(|r| r.cost)
        .collect();

    // The first member down: four are up, and the malicious session runs with exactly
    // 2t + 1 = 3 of them, re-shared from their committee points (with the parity checks).
    net.nodes[0].take().unwrap().crash();
    let o = run_request(&net, RESEARCHER, &request(q, &[d]))
        .await
        .unwrap();
    assert_eq!((o.live, o.committee), (3, NODES));
    close(
        number(&o.result.rows[0][0]),
        mean(&costs),
        "AVG(cost) with one member down",
    );
    assert_eq!(number(&o.result.rows[0][1]), costs.len() as f64);

    // It comes back (same keys and store) and takes part in the next job.
    // Two others go down, so that the three up (0, 1, 3) are exactly the 2t + 1 a malicious
    // session runs with, whichever attempt succeeds: the restarted member computes and seals.
    net.nodes[0] = Some(net.start_node(0).await);
    net.wait_all_active().await;
    net.nodes[2].take().unwrap().crash();
    net.nodes[4].take().unwrap().crash();
    let o = run_request(&net, RESEARCHER, &request(q, &[d]))
        .await
        .unwrap();
    assert_eq!(o.live, 3);
    assert!(
        o.completed,
        "the three members sealed and the result was revealed"
    );
    let node0 = net.ledger(1).account();
    let seal = net.ledger(RESEARCHER).seal_of(o.job, node0).await.unwrap();
    assert_ne!(seal, B256::ZERO, "the restarted member sealed");
    close(
        number(&o.result.rows[0][0]),
        mean(&costs),
        "AVG(cost) after the restart",
    );

    // Three members down (1, 2, 4): two are left, the job fails clearly, and the fee comes back.
    net.nodes[1].take().unwrap().crash();
    let researcher = net.ledger(RESEARCHER);
    let mut req = request(q, &[d]);
    req.deadline = Duration::from_secs(60);
    let e = run_request(&net, RESEARCHER, &req).await.unwrap_err();
    let JobError::NotEnoughNodes {
        job, live, needed, ..
    } = e
    else {
        panic!("{e}")
    };
    assert_eq!((live, needed), (2, 3));
    assert!(
        researcher.claim_refund(job).await.is_err(),
        "not before the deadline"
    );
    net.chain.advance_time(120).unwrap();
    assert!(
        researcher.claim_refund(job).await.is_err(),
        "not within the reveal window after the deadline"
    );
    net.chain
        .advance_time(sharenet_chain_adapter::REVEAL_WINDOW_SECS)
        .unwrap();
    researcher.claim_refund(job).await.unwrap();
    assert_eq!(
        JobStatus::from_u8(researcher.job_info(job).await.unwrap().status).unwrap(),
        JobStatus::Refunded
    );
    assert_eq!(
        researcher
            .balance_of(Vault::Jobs, researcher.account())
            .await
            .unwrap(),
        req.fee
    );
}
