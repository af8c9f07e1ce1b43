//! The DHT wired into the node, with 5 in-process nodes over real libp2p on loopback: a manifest
//! put by one client is found from another node; a node restarted on the same database still
//! holds and serves the records it stored; a tampered record is refused by `put_record`, refused
//! by every node when a raw Kademlia peer puts it directly, and dropped (and counted) when a peer
//! returns it to a lookup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::kad::{self, Quorum, store::MemoryStore};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, noise, tcp, yamux};
use sharenet_dht::{DatasetManifest, Key, ManifestMember, RecordError, RecordKind, StoreConfig};
use sharenet_node::net::dht::PersistWriter;
use sharenet_node::net::{self, Client, InboundRequest, KAD_PROTOCOL, NetError, NetworkConfig};
use sharenet_node::store::{AtRestKey, ShareStore};
use tokio::sync::mpsc;

struct TestNode {
    client: Client,
    addr: Multiaddr,
    keypair: Keypair,
    store: ShareStore,
    writer: PersistWriter,
    _inbound: mpsc::Receiver<InboundRequest>,
}

const AT_REST: [u8; 32] = [42; 32];
/// Longest wait for something that happens once the peers have answered (no healthy run comes
/// near it; a busy machine may be slow).
const PATIENCE: Duration = Duration::from_secs(60);

async fn open_store(path: &Path) -> ShareStore {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || ShareStore::open(path, AtRestKey::from_bytes(AT_REST)))
        .await
        .unwrap()
        .unwrap()
}

async fn start_node(keypair: Keypair, path: &Path) -> TestNode {
    let store = open_store(path).await;
    // The default query timeout: a query ends as soon as its peers have answered, so only a put
    // that every peer refuses (one, below) waits for it; a shorter one would race the peers.
    let (dht, writer) = net::dht::open(store.clone(), StoreConfig::default())
        .await
        .unwrap();
    let (client, inbound) = net::start_with(
        NetworkConfig {
            keypair: keypair.clone(),
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            bootstrap: Vec::new(),
            request_timeout: Duration::from_secs(10),
        },
        dht,
    )
    .unwrap();
    let addr = client.listen_addrs().await.unwrap().remove(0);
    TestNode {
        client,
        addr,
        keypair,
        store,
        writer,
        _inbound: inbound,
    }
}

/// Stops a node and waits until its persistence writer has written everything; returns its key.
async fn stop_node(node: TestNode) -> Keypair {
    node.client.shutdown().await.unwrap();
    let writer = node.writer;
    tokio::task::spawn_blocking(move || writer.wait(PATIENCE))
        .await
        .unwrap()
        .unwrap();
    drop(node.store);
    node.keypair
}

async fn network(dir: &Path, n: usize) -> (Vec<TestNode>, Vec<PathBuf>) {
    let paths: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("node{i}.redb"))).collect();
    let nodes: Vec<TestNode> = futures::future::join_all(
        paths
            .iter()
            .map(|p| start_node(Keypair::generate_ed25519(), p)),
    )
    .await;
    for (i, node) in nodes.iter().enumerate() {
        for other in nodes.iter().skip(i + 1) {
            node.client
                .dial(other.client.local_peer_id(), other.addr.clone())
                .await
                .unwrap();
        }
    }
    (nodes, paths)
}

/// A client without a database (an owner's process), connected to `nodes`.
async fn client_of(nodes: &[&TestNode]) -> (Client, mpsc::Receiver<InboundRequest>) {
    let (client, inbound) = net::start(NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(10),
    })
    .unwrap();
    for node in nodes {
        client
            .dial(node.client.local_peer_id(), node.addr.clone())
            .await
            .unwrap();
    }
    (client, inbound)
}

fn manifest(nodes: &[TestNode], dataset: u8) -> DatasetManifest {
    DatasetManifest {
        dataset_id: [dataset; 32],
        owner: [9; 20],
        pool: "clinics".into(),
        name: "visits".into(),
        schema: "{}".into(),
        min_cohort: 10,
        schema_hash: [3; 32],
        rows: 10_000,
        columns: 5,
        threshold: ((nodes.len() - 1) / 2) as u8,
        committee_epoch: 1,
        members: nodes
            .iter()
            .map(|n| ManifestMember {
                peer_key: n.client.peer_key().unwrap(),
                receipt_hash: [dataset; 32],
            })
            .collect(),
        version: 1,
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    }
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_is_found_from_another_node_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut nodes, paths) = network(dir.path(), 5).await;
    let (owner, _owner_inbound) = client_of(&nodes.iter().collect::<Vec<_>>()).await;

    let m = manifest(&nodes, 1);
    let key = Key::for_dataset(&m.dataset_id);
    let signed = owner.sign_manifest(&m).unwrap();
    assert_eq!(signed.kind, RecordKind::DatasetManifest);
    owner.put_record(signed.clone()).await.unwrap();

    // Found from another node, validated, signed by the owner's client key.
    let found = nodes[3].client.get_record(key).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].manifest(), Some(&m));
    assert_eq!(found[0].signer_public_key, owner.peer_key().unwrap());

    // A fresh client that holds nothing finds it at a peer.
    let (reader, _reader_inbound) = client_of(&[&nodes[4]]).await;
    let found = reader.get_signed_records(key).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].peer.is_some());
    assert_eq!(found[0].record, signed);

    // Every node stores it (k = 20 > 5) and writes it to its database.
    for node in &nodes {
        eventually("the record at every node", || async {
            node.client.local_record(key).await.unwrap().is_some()
        })
        .await;
    }

    // Restart node 2 on the same database file.
    let restarted = nodes.remove(2);
    let restarted_peer = restarted.client.local_peer_id();
    let keypair = stop_node(restarted).await;
    let store = open_store(&paths[2]).await;
    assert!(
        store.dht_record_count().unwrap() >= 1,
        "the record was persisted"
    );
    drop(store);
    let node = start_node(keypair, &paths[2]).await;
    assert_eq!(node.client.local_peer_id(), restarted_peer);
    assert_eq!(
        node.client.local_record(key).await.unwrap(),
        Some(signed.clone())
    );
    let counters = node.client.counters().await.unwrap();
    assert!(counters.dht.records >= 1);
    assert_eq!(counters.dht.load_skipped_invalid, 0);

    // With every other node gone, a new client that knows only the restarted node finds it there.
    for other in nodes {
        stop_node(other).await;
    }
    owner.shutdown().await.unwrap();
    reader.shutdown().await.unwrap();
    let (late, _late_inbound) = client_of(&[&node]).await;
    let found = late.get_signed_records(key).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].peer, Some(restarted_peer));
    assert_eq!(found[0].valid.manifest(), Some(&m));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_and_newer_manifests_replace_older_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, _paths) = network(dir.path(), 3).await;
    // A node announces itself.
    sharenet_node::daemon::publish::publish_announcement(&nodes[0].client, 7)
        .await
        .unwrap();
    let key = Key::for_node(&nodes[0].client.peer_key().unwrap());
    let found = nodes[2].client.get_record(key).await.unwrap();
    assert_eq!(found.len(), 1);
    let a = found[0].announcement().unwrap();
    assert_eq!(a.epoch, 7);
    assert!(a.addresses[0].contains(&nodes[0].client.local_peer_id().to_string()));

    // A newer version of a manifest replaces the old one; the old one is then refused.
    let mut m = manifest(&nodes, 2);
    let v1 = nodes[1].client.sign_manifest(&m).unwrap();
    nodes[1].client.put_record(v1.clone()).await.unwrap();
    m.version = 2;
    let v2 = nodes[1].client.sign_manifest(&m).unwrap();
    nodes[1].client.put_record(v2).await.unwrap();
    let key = Key::for_dataset(&m.dataset_id);
    let found = nodes[1].client.get_record(key).await.unwrap();
    assert!(found.iter().any(|r| r.manifest().unwrap().version == 2));
    let err = nodes[1].client.put_record(v1).await.unwrap_err();
    assert!(matches!(err, NetError::RecordRefused { .. }), "{err}");

    // Another key cannot take over a manifest a node already holds.
    let squatter = nodes[2].client.sign_manifest(&m).unwrap();
    let err = nodes[1]
        .client
        .put_record(squatter.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::RecordRefused { .. }), "{err}");

    // Once node 1 drops its copy (as a node does with a manifest contradicting the chain), it
    // takes the other signer's manifest, but no peer that holds the first one does.
    nodes[1].client.remove_local_record(key).await.unwrap();
    assert_eq!(nodes[1].client.local_record(key).await.unwrap(), None);
    let err = nodes[1]
        .client
        .put_record(squatter.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::NotPublished { .. }), "{err}");
    assert_eq!(
        nodes[1].client.local_record(key).await.unwrap(),
        Some(squatter)
    );
    for node in [&nodes[0], &nodes[2]] {
        assert!(node.client.counters().await.unwrap().dht.refused_conflict >= 1);
    }
}

/// A raw Kademlia peer with an in-memory store that accepts anything.
fn raw_kad_peer() -> libp2p::Swarm<kad::Behaviour<MemoryStore>> {
    libp2p::SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| {
            let peer = key.public().to_peer_id();
            let mut config = kad::Config::new(KAD_PROTOCOL);
            config.set_query_timeout(Duration::from_secs(5));
            let mut kad = kad::Behaviour::with_config(peer, MemoryStore::new(peer), config);
            kad.set_mode(Some(kad::Mode::Server));
            kad
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_records_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, _paths) = network(dir.path(), 5).await;
    let m = manifest(&nodes, 3);
    let key = Key::for_dataset(&m.dataset_id);
    let mut tampered = nodes[0].client.sign_manifest(&m).unwrap();
    let last = tampered.payload.len() - 1;
    tampered.payload[last] ^= 1;

    // Through the client: refused before anything is stored or sent.
    let err = nodes[0]
        .client
        .put_record(tampered.clone())
        .await
        .unwrap_err();
    assert_eq!(err, NetError::InvalidRecord(RecordError::BadSignature));
    assert_eq!(nodes[0].client.local_record(key).await.unwrap(), None);
    assert_eq!(
        nodes[0].client.counters().await.unwrap().dht.put_failures,
        1
    );

    // Put directly by a raw Kademlia peer: every node refuses it.
    let mut raw = raw_kad_peer();
    let raw_peer = *raw.local_peer_id();
    raw.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    for node in &nodes {
        raw.behaviour_mut()
            .add_address(&node.client.local_peer_id(), node.addr.clone());
    }
    let record = kad::Record::new(key.to_record_key(), tampered.to_bytes());
    raw.behaviour_mut().put_record(record, Quorum::One).unwrap();
    let (addr_tx, mut addr_rx) = mpsc::channel(4);
    let (put_tx, mut put_rx) = mpsc::channel(4);
    // (The raw peer's put itself only ends at its query timeout: refusing nodes reset the stream.)
    let raw_task = tokio::spawn(async move {
        loop {
            match raw.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    let _ = addr_tx.try_send(address);
                }
                SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
                    result: kad::QueryResult::PutRecord(result),
                    ..
                }) => {
                    let _ = put_tx.try_send(result.is_ok());
                }
                _ => {}
            }
        }
    });
    for node in &nodes {
        eventually("the refusal counted at every node", || async {
            node.client.counters().await.unwrap().dht.refused_invalid >= 1
        })
        .await;
        assert_eq!(node.client.local_record(key).await.unwrap(), None);
    }

    // The raw peer holds the tampered record and returns it to lookups: it is dropped, counted.
    let raw_addr = tokio::time::timeout(PATIENCE, addr_rx.recv())
        .await
        .expect("the raw peer reports its listen address")
        .unwrap();
    nodes[1].client.dial(raw_peer, raw_addr).await.unwrap();
    let found = nodes[1].client.get_record(key).await.unwrap();
    assert!(found.is_empty(), "an invalid record was returned");
    let counters = nodes[1].client.counters().await.unwrap();
    assert_eq!(counters.dht.get_invalid, 1);
    assert_eq!(counters.dht.gets, 1);
    // The raw peer's put ends (at its 5 s query timeout) without success anywhere.
    let put = tokio::time::timeout(PATIENCE, put_rx.recv())
        .await
        .expect("the raw peer's put ends");
    assert_eq!(put, Some(false), "a node accepted a tampered record");

    // The refusals are exported as metrics.
    let status = std::sync::Arc::new(std::sync::Mutex::new(
        sharenet_node::http::NodeStatus::default(),
    ));
    let http = sharenet_node::http::serve(
        "127.0.0.1:0".parse().unwrap(),
        status,
        nodes[1].client.clone(),
    )
    .await
    .unwrap();
    let body = http_get(http, "/metrics").await;
    assert!(
        body.contains("sharenet_dht_refused_total{reason=\"invalid\"} 1"),
        "{body}"
    );
    assert!(body.contains("sharenet_dht_get_invalid_total 1"), "{body}");
    raw_task.abort();
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut body = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut body))
        .await
        .expect("the metrics endpoint answers")
        .unwrap();
    body
}
