#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Attacks on the network by one bad actor, each with a real attacker against
//! complete honest nodes: four honest nodes (each on its own runtime, real libp2p on loopback,
//! its own store) and two puppet nodes (registered and staked on chain by the attacker, running
//! only the upload intake), on the embedded chain running the real contracts.
//!
//! - An owner with puppets registers a committee of its puppets and one honest node (not the
//!   placement rule's committee): the honest node stores the shares but never acknowledges the
//!   registration, so the puppets' signatures cannot slash it.
//! - A squatter copies an owner's registration (same salt, same committee) and gets it mined
//!   first: it gets an id of its own, under which no node holds anything; no honest node
//!   acknowledges it or serves its jobs, and the owner's registration still goes through.
//! - A stranger sends correctly dealt batches naming an owner's registered dataset: every
//!   member refuses them unread (not signed by the owner); the dataset stays registered and
//!   unchanged.
//! - A batch of an upload in progress fails the committee's verification: it leaves nothing
//!   behind, and the batches verified before it stay.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use sharenet_chain_adapter::{
    ContractError, DeployParams, EmbeddedChain, EmbeddedLedger, Ledger, NewDataset, NewGrant,
    SlashEvidence,
};
use sharenet_dht::{DatasetManifest, Key, ManifestMember, NodeInfo, select_committee};
use sharenet_node::config::NodeConfig;
use sharenet_node::daemon::peer_id_from_chain_key;
use sharenet_node::jobs::JobError;
use sharenet_node::jobs::requester::{QueryRequest, run_query};
use sharenet_node::keys;
use sharenet_node::local::{LocalNode, wait_for_polls};
use sharenet_node::net::{self, Client, NetworkConfig};
use sharenet_node::owner::publish_manifest;
use sharenet_node::store::{AtRestKey, DatasetId, ShareStore, UploadState};
use sharenet_node::table::read_csv;
use sharenet_node::upload::service::UploadService;
use sharenet_node::upload::uploader::{
    BatchAuthor, BatchSigner, UploadError, deal_batch, send_batch, upload_table,
};
use sharenet_node::upload::wire::DatasetOrigin;
use sharenet_query::{QueryKind, Schema};

/// Accounts on the embedded chain: 0 deploys, 1..=4 honest nodes, 5 and 6 the attacker's
/// puppet nodes, 7 an owner framing with them, 8 an honest owner, 9 a squatter.
const HONEST: usize = 4;
const PUPPETS: [usize; 2] = [5, 6];
const FRAMER: usize = 7;
const OWNER: usize = 8;
const SQUATTER: usize = 9;

const SCHEMA: &str = r#"{"columns":[{"name":"age","type":"integer"}]}"#;
const CSV: &str = "age\n31\n47\n52\n";

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A node the attacker runs: the upload intake only (it takes part in the committee's dealer
/// verification), its chain account in the attacker's hands.
struct Puppet {
    client: Client,
    _store: ShareStore,
    _dir: tempfile::TempDir,
}

struct Net {
    chain: EmbeddedChain,
    honest: Vec<LocalNode>,
    _dirs: Vec<tempfile::TempDir>,
    puppets: Vec<Puppet>,
}

/// A client (owner, requester) with the identity its account key derives.
fn client_for(account: usize) -> Client {
    let key = sharenet_chain_adapter::embedded::dev_key(account).unwrap();
    let (client, inbound) = net::start(NetworkConfig {
        keypair: keys::client_identity(&key),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(20),
    })
    .unwrap();
    // A client serves no requests: keep the queue open so that the swarm runs.
    std::mem::forget(inbound);
    client
}

async fn start_puppet(chain: &EmbeddedChain, account: usize) -> Puppet {
    let keypair = Keypair::generate_ed25519();
    let (client, inbound) = net::start(NetworkConfig {
        keypair: keypair.clone(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(20),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = ShareStore::open(
        dir.path().join("shares.redb"),
        AtRestKey::generate().unwrap(),
    )
    .unwrap();
    tokio::spawn(
        UploadService {
            store: store.clone(),
            client: client.clone(),
            identity: keypair.clone(),
            verify_timeout: Duration::from_secs(20),
            counters: Default::default(),
            activity: Default::default(),
        }
        .run(inbound),
    );
    let addr = client.listen_addrs().await.unwrap().remove(0);
    chain
        .ledger(account)
        .unwrap()
        .register_node(
            B256::from(keys::peer_key_bytes(&keypair).unwrap()),
            &format!("{addr}/p2p/{}", client.local_peer_id()),
            ether(1),
        )
        .await
        .unwrap();
    Puppet {
        client,
        _store: store,
        _dir: dir,
    }
}

/// Waits, chain poll by chain poll of the honest nodes, until `done` holds.
async fn wait_for(nodes: &[LocalNode], what: &str, done: impl AsyncFnMut() -> bool) {
    let nodes: Vec<&LocalNode> = nodes.iter().collect();
    assert!(wait_for_polls(&nodes, done).await, "never happened: {what}");
}

impl Net {
    async fn start() -> Net {
        let chain = EmbeddedChain::new(DeployParams::default(), 12)
            .await
            .unwrap();
        let dirs: Vec<tempfile::TempDir> =
            (0..HONEST).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut honest = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let config = NodeConfig::local(
                dir.path(),
                chain.addresses(),
                ether(1),
                Duration::from_secs(20),
            )
            .unwrap();
            honest.push(
                LocalNode::start(config, chain.ledger(i + 1).unwrap())
                    .await
                    .unwrap(),
            );
        }
        let mut puppets = Vec::new();
        for account in PUPPETS {
            puppets.push(start_puppet(&chain, account).await);
        }
        let net = Net {
            chain,
            honest,
            _dirs: dirs,
            puppets,
        };
        let all = HONEST + PUPPETS.len();
        wait_for(
            &net.honest,
            "every honest node sees every active node",
            async || {
                net.honest
                    .iter()
                    .all(|n| n.node.status.lock().unwrap().active_nodes == all)
            },
        )
        .await;
        let peers = net.active_peers().await;
        for p in &net.puppets {
            p.client
                .set_allowed(peers.iter().map(|(peer, _)| *peer).collect())
                .await
                .unwrap();
            for (peer, addr) in &peers {
                if *peer != p.client.local_peer_id() {
                    p.client.dial(*peer, addr.clone()).await.unwrap();
                }
            }
        }
        net
    }

    fn ledger(&self, account: usize) -> EmbeddedLedger {
        self.chain.ledger(account).unwrap()
    }

    /// The honest node with chain account `account`.
    fn honest_node(&self, account: Address) -> Option<&LocalNode> {
        (1..=HONEST)
            .position(|i| self.ledger(i).account() == account)
            .map(|i| &self.honest[i])
    }

    async fn active_peers(&self) -> Vec<(PeerId, Multiaddr)> {
        let l = self.ledger(0);
        let mut out = Vec::new();
        for account in l.active_nodes().await.unwrap() {
            out.push(peer_of(&l, account).await);
        }
        out
    }

    /// The pool's committee of `n` by the placement rule over the chain's active set now.
    async fn placement(&self, pool: &str, n: usize) -> Vec<Address> {
        let l = self.ledger(0);
        let mut nodes = Vec::new();
        for account in l.active_nodes().await.unwrap() {
            let info = l.node_info(account).await.unwrap();
            nodes.push(NodeInfo {
                account: account.into_array(),
                peer_key: info.peerKey.0,
                network_address: info.networkAddress,
            });
        }
        select_committee(l.epoch().await.unwrap(), &nodes, pool, n)
            .unwrap()
            .accounts()
            .into_iter()
            .map(Address::from)
            .collect()
    }
}

/// A node's peer id and dial address, from its registration.
async fn peer_of(l: &EmbeddedLedger, account: Address) -> (PeerId, Multiaddr) {
    let info = l.node_info(account).await.unwrap();
    let peer = peer_id_from_chain_key(info.peerKey).unwrap();
    let addr: Multiaddr = info.networkAddress.parse().unwrap();
    let addr = addr
        .iter()
        .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
        .collect();
    (peer, addr)
}

/// Uploads the test table as `origin` to `committee` (threshold 1) from `client`.
async fn upload(
    l: &EmbeddedLedger,
    client: &Client,
    committee: &[Address],
    origin: DatasetOrigin,
) -> Schema {
    let mut peers = Vec::new();
    for account in committee {
        let (peer, addr) = peer_of(l, *account).await;
        client.dial(peer, addr).await.unwrap();
        peers.push(peer);
    }
    let schema = Schema::from_json(SCHEMA).unwrap();
    let table = read_csv(CSV.as_bytes(), &schema, &[]).unwrap();
    let author = BatchAuthor { origin, signer: l };
    let receipts = upload_table(client, &peers, 1, author, "clinic", &table, 100)
        .await
        .unwrap();
    assert!(receipts.iter().all(|r| r.accepted));
    schema
}

/// A manifest of dataset `id` as `owner` would sign it (receipt hashes are not checked by
/// anyone here).
async fn manifest(
    l: &EmbeddedLedger,
    id: B256,
    owner: Address,
    pool: &str,
    committee: &[Address],
    schema: &Schema,
) -> DatasetManifest {
    let mut members = Vec::new();
    for account in committee {
        members.push(ManifestMember {
            peer_key: l.node_info(*account).await.unwrap().peerKey.0,
            receipt_hash: [0; 32],
        });
    }
    DatasetManifest {
        dataset_id: id.0,
        owner: owner.into_array(),
        pool: pool.into(),
        name: "clinic".into(),
        schema_hash: schema.hash(),
        schema: schema.to_json(),
        min_cohort: 1,
        rows: 3,
        columns: 1,
        threshold: 1,
        committee_epoch: l.epoch().await.unwrap(),
        members,
        version: 1,
        created_at: l.chain_time().await.unwrap(),
    }
}

fn registration(
    origin: DatasetOrigin,
    epoch: u64,
    pool: &str,
    committee: &[Address],
    schema: &Schema,
    manifest_hash: B256,
) -> NewDataset {
    NewDataset {
        salt: B256::from(origin.salt),
        committee_epoch: epoch,
        pool_key: B256::from(*Key::for_pool(pool).as_bytes()),
        pool: pool.into(),
        schema_hash: B256::from(schema.hash()),
        manifest_hash,
        rows: 3,
        committee: committee.to_vec(),
        threshold: 1,
    }
}

fn refused(node: &LocalNode) -> u64 {
    node.node.status.lock().unwrap().registrations_refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_with_puppets_cannot_frame_an_honest_node() {
    let net = Net::start().await;
    let framer = net.ledger(FRAMER);
    let victim = net.ledger(1).account();
    let puppets: Vec<Address> = PUPPETS.iter().map(|&i| net.ledger(i).account()).collect();
    // Two puppets and one honest node, t = 1: the old quorum t + 1 = 2 was the puppets alone.
    let committee = vec![puppets[0], puppets[1], victim];
    assert_ne!(
        net.placement("bait", 3).await,
        committee,
        "the framer's committee is not the placement rule's"
    );
    let origin = DatasetOrigin {
        owner: framer.account().into_array(),
        salt: [0xbe; 32],
    };
    let client = client_for(FRAMER);
    // The victim takes part in the upload: it verifies and stores its shares.
    let schema = upload(&framer, &client, &committee, origin).await;
    let epoch = framer.epoch().await.unwrap();
    let (_, id) = framer
        .register_dataset(&registration(
            origin,
            epoch,
            "bait",
            &committee,
            &schema,
            B256::repeat_byte(1),
        ))
        .await
        .unwrap();
    assert_eq!(id.0, origin.id());
    let node = net.honest_node(victim).unwrap();
    wait_for(
        &net.honest,
        "the victim handles the registration",
        async || refused(node) == 1,
    )
    .await;
    assert!(!framer.has_acknowledged(id, victim).await.unwrap());
    // The puppets acknowledge and sign the slash; the victim's stake is out of their reach.
    for &p in &PUPPETS {
        net.ledger(p)
            .acknowledge_dataset(id, B256::ZERO)
            .await
            .unwrap();
    }
    let ev = SlashEvidence {
        node: victim,
        amount: ether(1),
        evidence: Bytes::from_static(b"made up"),
        dataset_id: id,
        reporter: framer.account(),
        deadline: framer.chain_time().await.unwrap() + 3600,
    };
    let mut signatures = Vec::new();
    for &p in &PUPPETS {
        signatures.push(net.ledger(p).sign_slash(&ev).await.unwrap());
    }
    match framer.slash(&ev, signatures).await {
        Err(e) => assert!(
            matches!(
                e.contract_error(),
                Some(ContractError::AccusedHasNotAcknowledged(_))
            ),
            "{e}"
        ),
        Ok(_) => panic!("the puppets slashed an honest node"),
    }
    let info = framer.node_info(victim).await.unwrap();
    assert_eq!((info.stake, info.slashCount), (ether(1), 0));
    assert!(framer.active_nodes().await.unwrap().contains(&victim));
    // The victim keeps the shares it verified but never treats them as a registered dataset.
    let store = node.node.store.clone();
    let held = tokio::task::spawn_blocking(move || store.dataset(&DatasetId(id.0)))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_ne!(held.state, UploadState::Registered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatter_can_neither_take_an_upload_nor_run_jobs_on_it() {
    let net = Net::start().await;
    let (owner, squatter) = (net.ledger(OWNER), net.ledger(SQUATTER));
    let pool = "clinics";
    let committee = net.placement(pool, 3).await;
    let origin = DatasetOrigin {
        owner: owner.account().into_array(),
        salt: [0x0d; 32],
    };
    let owner_client = client_for(OWNER);
    let schema = upload(&owner, &owner_client, &committee, origin).await;
    let epoch = owner.epoch().await.unwrap();
    let owned = B256::from(origin.id());
    let real = registration(
        origin,
        epoch,
        pool,
        &committee,
        &schema,
        B256::from(
            manifest(&owner, owned, owner.account(), pool, &committee, &schema)
                .await
                .manifest_hash(),
        ),
    );
    // The squatter saw the salt (in the batches, or the owner's pending transaction) and gets
    // its copy mined first, with a manifest of its own so that it can submit jobs.
    let squatted = sharenet_chain_adapter::dataset_id_for(squatter.account(), real.salt);
    assert_ne!(squatted, owned);
    let squatter_manifest = manifest(
        &squatter,
        squatted,
        squatter.account(),
        pool,
        &committee,
        &schema,
    )
    .await;
    let (_, id) = squatter
        .register_dataset(&NewDataset {
            manifest_hash: B256::from(squatter_manifest.manifest_hash()),
            ..real.clone()
        })
        .await
        .unwrap();
    assert_eq!(id, squatted);
    // The owner's registration goes through, under the id its batches named.
    let (_, id) = owner.register_dataset(&real).await.unwrap();
    assert_eq!(id, owned);
    let members: Vec<&LocalNode> = committee
        .iter()
        .filter_map(|a| net.honest_node(*a))
        .collect();
    assert!(!members.is_empty(), "the committee has honest members");
    for (node, account) in committee
        .iter()
        .filter_map(|a| net.honest_node(*a).map(|n| (n, *a)))
    {
        wait_for(
            &net.honest,
            "an honest member acknowledges the owner's dataset",
            async || owner.has_acknowledged(owned, account).await.unwrap(),
        )
        .await;
        // It handled the squatter's registration first, and refused it.
        assert_eq!(refused(node), 1);
        assert!(!owner.has_acknowledged(squatted, account).await.unwrap());
    }
    // The squatter cannot grant access to the owner's dataset.
    let now = squatter.chain_time().await.unwrap();
    let grant = |datasets: Vec<B256>| NewGrant {
        grantee: squatter.account(),
        datasets,
        kinds: 1 << QueryKind::Aggregate.code(),
        program_hashes: Vec::new(),
        expiry: now + 3600,
        max_queries: 5,
    };
    match squatter.grant(&grant(vec![owned])).await {
        Err(e) => assert!(
            matches!(e.contract_error(), Some(ContractError::NotDatasetOwner(_))),
            "{e}"
        ),
        Ok(_) => panic!("the squatter granted access to the owner's dataset"),
    }
    // On its own dataset it can submit a job, but no member holds anything under that id.
    let client = client_for(SQUATTER);
    for (peer, addr) in net.active_peers().await {
        client.dial(peer, addr).await.unwrap();
    }
    let signed = client.sign_manifest(&squatter_manifest).unwrap();
    publish_manifest(
        &client,
        signed,
        tokio::time::Instant::now() + Duration::from_secs(30),
    )
    .await
    .unwrap();
    squatter.grant(&grant(vec![squatted])).await.unwrap();
    let request = QueryRequest {
        text: "SELECT AVG(age) FROM clinic".into(),
        datasets: vec![squatted],
        grant: None,
        fee: U256::from(1_000_000u64),
        deadline: Duration::from_secs(600),
        ready_timeout: Duration::from_secs(10),
        session_timeout: Duration::from_secs(20),
        attest_timeout: Duration::from_secs(20),
        security: sharenet_mpc::protocol::Security::Malicious,
    };
    let prepared_before: Vec<u64> = members
        .iter()
        .map(|n| n.node.status.lock().unwrap().jobs[1])
        .collect();
    match run_query(&squatter, &client, &request, |_| {}).await {
        Err(JobError::NotEnoughNodes { live, .. }) => assert_eq!(live, 0),
        other => panic!("the squatter's job was served: {other:?}"),
    }
    for (node, before) in members.iter().zip(prepared_before) {
        // The status copies the job counters at every chain poll.
        wait_for(
            &net.honest,
            "an honest member reports refusing the job",
            async || node.node.status.lock().unwrap().jobs[2] > 0,
        )
        .await;
        let prepared = node.node.status.lock().unwrap().jobs[1];
        assert_eq!(
            prepared, before,
            "an honest member prepared the squatter's job"
        );
    }
    // The honest members hold the owner's dataset, registered, and nothing under the
    // squatter's id.
    for node in &members {
        let store = node.node.store.clone();
        let (mine, theirs) = tokio::task::spawn_blocking(move || {
            (
                store.dataset(&DatasetId(owned.0)).unwrap(),
                store.dataset(&DatasetId(squatted.0)).unwrap(),
            )
        })
        .await
        .unwrap();
        assert_eq!(mine.unwrap().state, UploadState::Registered);
        assert!(theirs.is_none());
    }
}

/// What an honest member holds of `dataset`: its state and its batches (index, first row,
/// rows), or `None`.
async fn held(node: &LocalNode, dataset: B256) -> Option<(UploadState, Vec<(u64, u64, u32)>)> {
    let store = node.node.store.clone();
    tokio::task::spawn_blocking(move || {
        let id = DatasetId(dataset.0);
        let summary = store.dataset(&id).unwrap()?;
        let batches = store
            .batches(&id)
            .unwrap()
            .into_iter()
            .map(|b| (b.index, b.first_row, b.rows))
            .collect();
        Some((summary.state, batches))
    })
    .await
    .unwrap()
}

/// Peer ids of `committee`, dialled from `client`.
async fn dial_committee(l: &EmbeddedLedger, client: &Client, committee: &[Address]) -> Vec<PeerId> {
    let mut peers = Vec::new();
    for account in committee {
        let (peer, addr) = peer_of(l, *account).await;
        client.dial(peer, addr).await.unwrap();
        peers.push(peer);
    }
    peers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_batches_for_an_owners_dataset_are_refused_unstored() {
    let net = Net::start().await;
    let (owner, stranger) = (net.ledger(OWNER), net.ledger(SQUATTER));
    let pool = "clinics";
    let committee = net.placement(pool, 3).await;
    let origin = DatasetOrigin {
        owner: owner.account().into_array(),
        salt: [0x2a; 32],
    };
    let schema = upload(&owner, &client_for(OWNER), &committee, origin).await;
    let id = B256::from(origin.id());
    let hash = manifest(&owner, id, owner.account(), pool, &committee, &schema)
        .await
        .manifest_hash();
    let epoch = owner.epoch().await.unwrap();
    owner
        .register_dataset(&registration(
            origin,
            epoch,
            pool,
            &committee,
            &schema,
            B256::from(hash),
        ))
        .await
        .unwrap();
    let members: Vec<(&LocalNode, Address)> = committee
        .iter()
        .filter_map(|a| net.honest_node(*a).map(|n| (n, *a)))
        .collect();
    assert!(!members.is_empty(), "the committee has honest members");
    let mut before = Vec::new();
    for (node, account) in &members {
        wait_for(
            &net.honest,
            "an honest member acknowledges the dataset",
            async || owner.has_acknowledged(id, *account).await.unwrap(),
        )
        .await;
        let holding = held(node, id).await.unwrap();
        assert_eq!(holding.0, UploadState::Registered);
        before.push(holding);
    }

    // The stranger knows owner and salt (they are in every batch and in the registration) and
    // deals a correct batch of its own rows for the whole committee, signed with its own key.
    let client = client_for(SQUATTER);
    let peers = dial_committee(&stranger, &client, &committee).await;
    let junk = read_csv("age\n99\n99\n".as_bytes(), &schema, &[]).unwrap();
    let dealt = deal_batch(&junk, 0, junk.rows, committee.len(), 1).unwrap();
    let author = BatchAuthor {
        origin,
        signer: &stranger,
    };
    let sent = send_batch(&client, &peers, 1, author, "clinic", 3, 3, 2, 1, dealt).await;
    match sent {
        Err(UploadError::Refused { reason, .. }) => {
            assert!(
                reason.contains("not signed by the dataset's owner"),
                "{reason}"
            )
        }
        other => panic!("a stranger's batch was not refused: {other:?}"),
    }
    // Claiming to be the owner without its key does not help either: an unsigned batch.
    struct NoKey;
    impl BatchSigner for NoKey {
        fn sign_batch(&self, _: &[u8]) -> Result<[u8; 65], String> {
            Ok([0; 65])
        }
    }
    let dealt = deal_batch(&junk, 0, junk.rows, committee.len(), 1).unwrap();
    let author = BatchAuthor {
        origin,
        signer: &NoKey,
    };
    let sent = send_batch(&client, &peers, 1, author, "clinic", 3, 3, 2, 1, dealt).await;
    assert!(
        matches!(&sent, Err(UploadError::Refused { reason, .. }) if reason.contains("not signed")),
        "{sent:?}"
    );
    // Every honest member holds exactly what it held: registered, the owner's batches only.
    for ((node, _), before) in members.iter().zip(before) {
        assert_eq!(held(node, id).await.unwrap(), before);
        assert_eq!(node.node.status.lock().unwrap().uploads_accepted, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_verification_leaves_the_upload_in_progress_intact() {
    let net = Net::start().await;
    let owner = net.ledger(OWNER);
    let committee = net.placement("clinics", 3).await;
    let origin = DatasetOrigin {
        owner: owner.account().into_array(),
        salt: [0x3b; 32],
    };
    let client = client_for(OWNER);
    let peers = dial_committee(&owner, &client, &committee).await;
    let schema = Schema::from_json(SCHEMA).unwrap();
    let table = read_csv(CSV.as_bytes(), &schema, &[]).unwrap();
    let author = BatchAuthor {
        origin,
        signer: &owner,
    };
    // Batch 0 (rows 0..2) verifies; batch 2 (row 2) is dealt inconsistently.
    let first = deal_batch(&table, 0, 2, committee.len(), 1).unwrap();
    send_batch(&client, &peers, 1, author, "clinic", 0, 0, 2, 1, first)
        .await
        .unwrap();
    let mut bad = deal_batch(&table, 2, 1, committee.len(), 1).unwrap();
    bad[0].shares[0] += <sharenet_mpc::field::Mp127 as sharenet_mpc::field::Field>::ONE;
    let sent = send_batch(&client, &peers, 1, author, "clinic", 2, 2, 1, 1, bad).await;
    assert!(
        matches!(sent, Err(UploadError::Rejected { batch: 2 })),
        "{sent:?}"
    );
    let id = B256::from(origin.id());
    for node in committee.iter().filter_map(|a| net.honest_node(*a)) {
        assert_eq!(
            held(node, id).await,
            Some((UploadState::Receiving, vec![(0, 0, 2)])),
            "the verified batch stays, the rejected one left nothing"
        );
    }
}
