#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Attacks on the job protocol by requesters, each run against real nodes (three members on
//! loopback, the embedded chain with the real contracts, t = 1): the attacker is a researcher
//! with a grant and its own libp2p identity that speaks the job protocol by hand (`Hello`,
//! `Start`) instead of through `run_query`.
//!
//! - a requester that prepares a job, waits out its deadline, takes the refund and then starts
//!   it gets nothing: every member refuses the start, naming the refund, and sends nothing;
//! - a grant revoked after the members prepared a job stops the next start;
//! - one requester cannot take more than its share of a member's prepared jobs, another
//!   requester's job still prepares, nothing is loaded for a refused preparation, and the slots
//!   come back when the prepared jobs expire (on the chain's clock).
//!
//! The chain's clock is moved by the test (`advance_time`), never waited for.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use alloy::primitives::{B256, U256};
use libp2p::PeerId;
use sharenet_chain_adapter::{
    DeployParams, EmbeddedChain, EmbeddedLedger, JobStatus, Ledger, NewGrant, NewJob,
};
use sharenet_node::config::NodeConfig;
use sharenet_node::jobs::requester::{output_key, prepare_query};
use sharenet_node::jobs::runner::{MAX_PREPARED, MAX_PREPARED_PER_REQUESTER, PREPARED_TTL_SECS};
use sharenet_node::jobs::session_id;
use sharenet_node::jobs::wire::{JobReply, JobRequest};
use sharenet_node::keys;
use sharenet_node::local::{LocalNode, wait_for_polls};
use sharenet_node::net::{self, Client, NetworkConfig, Protocol};
use sharenet_node::owner::upload_dataset;
use sharenet_node::table::read_csv;
use sharenet_query::{QueryKind, Schema};

/// Chain accounts: 0 deploys, 1..=3 are the members.
const MEMBERS: usize = 3;
const OWNER: usize = 4;
const GREEDY: usize = 5;
const OTHER: usize = 6;

const QUERY: &str = "SELECT COUNT(*), AVG(age) FROM visits";
/// Job deadlines, in chain seconds from submission.
const DEADLINE: u64 = 3_600;

struct World {
    chain: EmbeddedChain,
    members: Vec<LocalNode>,
    dataset: B256,
    grants: Vec<(usize, U256)>,
    _dirs: Vec<tempfile::TempDir>,
}

/// A researcher's libp2p client, with the identity its chain key derives (the job's output key).
fn identity(account: usize) -> Client {
    let key = sharenet_chain_adapter::embedded::dev_key(account).unwrap();
    net::start(NetworkConfig {
        keypair: keys::client_identity(&key),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(20),
    })
    .unwrap()
    .0
}

impl World {
    /// Three members, one uploaded table (t = 1), and a grant of aggregates to each researcher.
    async fn new() -> World {
        let chain = EmbeddedChain::new(DeployParams::default(), 7)
            .await
            .unwrap();
        let dirs: Vec<_> = (0..MEMBERS).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut members = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let config = NodeConfig::local(
                dir.path(),
                chain.addresses(),
                U256::from(10u64).pow(U256::from(18u64)),
                Duration::from_secs(20),
            )
            .unwrap();
            members.push(
                LocalNode::start(config, chain.ledger(i + 1).unwrap())
                    .await
                    .unwrap(),
            );
        }
        // The members must allow each other before the upload's verification session.
        let all: Vec<&LocalNode> = members.iter().collect();
        let allowed = wait_for_polls(&all, async || {
            members
                .iter()
                .all(|m| m.node.status.lock().unwrap().active_nodes == MEMBERS)
        })
        .await;
        assert!(allowed, "every member sees every other one active");
        let schema = Schema::from_json(r#"{"columns":[{"name":"age","type":"integer"}]}"#).unwrap();
        let csv: String = std::iter::once("age\n".to_string())
            .chain((0..24).map(|i| format!("{}\n", 20 + i)))
            .collect();
        let table = read_csv(csv.as_bytes(), &schema, &[]).unwrap();
        let owner = chain.ledger(OWNER).unwrap();
        let summary = upload_dataset(
            &owner,
            &identity(OWNER),
            &schema,
            &table,
            "visits",
            "clinics",
            MEMBERS,
            1,
            1,
            1_000,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        let dataset = B256::from(summary.dataset);
        let now = owner.chain_time().await.unwrap();
        let mut grants = Vec::new();
        for researcher in [GREEDY, OTHER] {
            let (_, id) = owner
                .grant(&NewGrant {
                    grantee: chain.ledger(researcher).unwrap().account(),
                    datasets: vec![dataset],
                    kinds: 1 << QueryKind::Aggregate.code(),
                    program_hashes: Vec::new(),
                    expiry: now + 30 * 24 * 3600,
                    max_queries: 32,
                })
                .await
                .unwrap();
            grants.push((researcher, id));
        }
        World {
            chain,
            members,
            dataset,
            grants,
            _dirs: dirs,
        }
    }

    fn ledger(&self, account: usize) -> EmbeddedLedger {
        self.chain.ledger(account).unwrap()
    }

    fn grant_of(&self, researcher: usize) -> U256 {
        self.grants
            .iter()
            .find(|(r, _)| *r == researcher)
            .map(|(_, g)| *g)
            .unwrap()
    }

    /// Submits the query as `researcher` with `client`'s key as the output key; returns the job
    /// and the committee's peers.
    async fn submit(&self, researcher: usize, client: &Client) -> (U256, Vec<PeerId>) {
        let ledger = self.ledger(researcher);
        let (_, query, committee) = prepare_query(&ledger, client, QUERY, &[self.dataset])
            .await
            .unwrap();
        let now = ledger.chain_time().await.unwrap();
        let (_, job) = ledger
            .submit_job(&NewJob {
                grant_id: self.grant_of(researcher),
                datasets: vec![self.dataset],
                kind: query.kind.code(),
                program_hash: query.program_hash,
                program: QUERY.into(),
                output_key: output_key(client).unwrap(),
                deadline: now + DEADLINE,
                fee: U256::from(1_000_000u64),
            })
            .await
            .unwrap();
        (job, committee)
    }

    /// Bytes the members sent in the MPC session of this attempt.
    fn session_bytes(&self, job: U256, attempt: u8, live: &[u16]) -> u64 {
        let session = session_id(job, attempt, live);
        self.members
            .iter()
            .map(|m| m.node.client.mpc_bytes_sent(&[session]))
            .sum()
    }
}

/// Sends `request` to every member and returns their answers in committee order.
async fn ask(client: &Client, committee: &[PeerId], request: &JobRequest) -> Vec<JobReply> {
    let mut replies = Vec::new();
    for peer in committee {
        let bytes = client
            .request(Protocol::Job, *peer, request.encode())
            .await
            .unwrap();
        replies.push(JobReply::decode(&bytes).unwrap());
    }
    replies
}

fn hello(job: U256) -> JobRequest {
    JobRequest::Hello {
        job,
        program: QUERY.into(),
    }
}

fn start(job: U256) -> JobRequest {
    JobRequest::Start {
        job,
        attempt: 0,
        live: (0..MEMBERS as u16).collect(),
        security: sharenet_mpc::protocol::Security::Malicious,
    }
}

/// Every reply is a refusal whose reason contains `why`.
fn all_refused(replies: &[JobReply], why: &str) {
    assert_eq!(replies.len(), MEMBERS);
    for (member, reply) in replies.iter().enumerate() {
        match reply {
            JobReply::Refused(reason) => {
                assert!(reason.contains(why), "member {member}: {reason}")
            }
            other => panic!("member {member} answered {other:?}, not a refusal ({why})"),
        }
    }
}

/// Every reply is `Busy` (ask again later) with a reason containing `why`.
fn all_busy(replies: &[JobReply], why: &str) {
    assert_eq!(replies.len(), MEMBERS);
    for (member, reply) in replies.iter().enumerate() {
        match reply {
            JobReply::Busy(reason) => assert!(reason.contains(why), "member {member}: {reason}"),
            other => panic!("member {member} answered {other:?}, not busy ({why})"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_that_took_its_refund_gets_nothing_when_it_starts() {
    let world = World::new().await;
    let attacker = identity(GREEDY);
    let (job, committee) = world.submit(GREEDY, &attacker).await;
    let replies = ask(&attacker, &committee, &hello(job)).await;
    assert!(replies.iter().all(|r| *r == JobReply::Ready), "{replies:?}");

    // The requester waits out the deadline and the reveal window (on the chain's clock) and
    // takes its fee back.
    world
        .chain
        .advance_time(DEADLINE + sharenet_chain_adapter::REVEAL_WINDOW_SECS + 1)
        .unwrap();
    let ledger = world.ledger(GREEDY);
    ledger.claim_refund(job).await.unwrap();
    assert_eq!(
        JobStatus::from_u8(ledger.job_info(job).await.unwrap().status).unwrap(),
        JobStatus::Refunded
    );

    // Then it starts the job it prepared: every member refuses, naming the refund, and no
    // member sent anything in the session.
    let replies = ask(&attacker, &committee, &start(job)).await;
    all_refused(&replies, "refunded");
    let live: Vec<u16> = (0..MEMBERS as u16).collect();
    assert_eq!(world.session_bytes(job, 0, &live), 0);
    // A new Hello is refused the same way: nothing is prepared again.
    all_refused(&ask(&attacker, &committee, &hello(job)).await, "refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_revoked_after_hello_stops_the_next_start() {
    let world = World::new().await;
    let requester = identity(GREEDY);
    let (job, committee) = world.submit(GREEDY, &requester).await;
    let replies = ask(&requester, &committee, &hello(job)).await;
    assert!(replies.iter().all(|r| *r == JobReply::Ready), "{replies:?}");

    // The owner revokes the grant after the members prepared the job.
    world
        .ledger(OWNER)
        .revoke(world.grant_of(GREEDY))
        .await
        .unwrap();
    let replies = ask(&requester, &committee, &start(job)).await;
    all_refused(&replies, "revoked");
    let live: Vec<u16> = (0..MEMBERS as u16).collect();
    assert_eq!(world.session_bytes(job, 0, &live), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_requester_cannot_fill_the_prepared_slots_and_they_expire() {
    let world = World::new().await;
    let greedy = identity(GREEDY);
    let loaded = |w: &World| -> Vec<u64> {
        w.members
            .iter()
            .map(|m| m.node.jobs.inputs_loaded.load(Relaxed))
            .collect()
    };
    assert_eq!(loaded(&world), vec![0; MEMBERS]);

    // One requester submits as many jobs as a member can hold and asks each member to prepare
    // every one of them: only its share is prepared, the rest are refused before anything is
    // loaded.
    let mut jobs = Vec::new();
    let mut committee = Vec::new();
    for _ in 0..MAX_PREPARED {
        let (job, c) = world.submit(GREEDY, &greedy).await;
        jobs.push(job);
        committee = c;
    }
    for (k, job) in jobs.iter().enumerate() {
        let replies = ask(&greedy, &committee, &hello(*job)).await;
        if k < MAX_PREPARED_PER_REQUESTER {
            assert!(
                replies.iter().all(|r| *r == JobReply::Ready),
                "job {k}: {replies:?}"
            );
        } else {
            all_busy(&replies, "jobs prepared here for this requester");
        }
    }
    assert_eq!(
        loaded(&world),
        vec![MAX_PREPARED_PER_REQUESTER as u64; MEMBERS],
        "inputs are loaded only for the jobs that passed the capacity check"
    );

    // Another requester's job still prepares.
    let other = identity(OTHER);
    let (job, committee) = world.submit(OTHER, &other).await;
    let replies = ask(&other, &committee, &hello(job)).await;
    assert!(replies.iter().all(|r| *r == JobReply::Ready), "{replies:?}");

    // The prepared jobs expire on the chain's clock: the greedy requester's slots come back.
    world.chain.advance_time(PREPARED_TTL_SECS + 1).unwrap();
    let replies = ask(
        &greedy,
        &committee,
        &hello(jobs[MAX_PREPARED_PER_REQUESTER]),
    )
    .await;
    assert!(replies.iter().all(|r| *r == JobReply::Ready), "{replies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_cannot_downgrade_a_job_to_semi_honest() {
    // At semi-honest security one cheating member could change the result or, dealing random
    // "bits" of 1/2, open the low bits of compared values; members whose min_security is
    // malicious (the default) refuse such a start, and nothing is sent in the session.
    let world = World::new().await;
    let requester = identity(GREEDY);
    let (job, committee) = world.submit(GREEDY, &requester).await;
    let replies = ask(&requester, &committee, &hello(job)).await;
    assert!(replies.iter().all(|r| *r == JobReply::Ready), "{replies:?}");
    let downgraded = JobRequest::Start {
        job,
        attempt: 0,
        live: (0..MEMBERS as u16).collect(),
        security: sharenet_mpc::protocol::Security::SemiHonest,
    };
    all_refused(
        &ask(&requester, &committee, &downgraded).await,
        "semi-honest",
    );
    let live: Vec<u16> = (0..MEMBERS as u16).collect();
    assert_eq!(world.session_bytes(job, 0, &live), 0);
}
