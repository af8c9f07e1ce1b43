//! Verified uploads into a committee of 5 in-process nodes over real libp2p (t = 2): every node
//! holds exactly its own shares, any t+1 nodes' shares reconstruct the table, and a tampered
//! share is caught by the committee's dealer verification and the upload refused with nothing
//! left stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::shamir::{LagrangeCache, reconstruct_checked};
use sharenet_node::net::{self, Client, NetworkConfig};
use sharenet_node::store::{AtRestKey, DatasetId, ShareStore};
use sharenet_node::table::EncodedTable;
use sharenet_node::upload::service::UploadService;
use sharenet_node::upload::uploader::{
    BatchAuthor, KeyBatchSigner, UploadError, deal_batch, send_batch, upload_table,
};
use sharenet_node::upload::wire::DatasetOrigin;

struct TestNode {
    client: Client,
    addr: Multiaddr,
    store: ShareStore,
    _dir: tempfile::TempDir,
}

async fn start_node() -> TestNode {
    let keypair = Keypair::generate_ed25519();
    let (client, inbound) = net::start(NetworkConfig {
        keypair: keypair.clone(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(60),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = ShareStore::open(
        dir.path().join("shares.redb"),
        AtRestKey::generate().unwrap(),
    )
    .unwrap();
    let service = UploadService {
        store: store.clone(),
        client: client.clone(),
        identity: keypair,
        verify_timeout: Duration::from_secs(30),
        counters: Default::default(),
        activity: Default::default(),
    };
    tokio::spawn(service.run(inbound));
    let addr = client.listen_addrs().await.unwrap().remove(0);
    TestNode {
        client,
        addr,
        store,
        _dir: dir,
    }
}

async fn committee(n: usize) -> (Vec<TestNode>, Client) {
    let nodes: Vec<TestNode> = futures::future::join_all((0..n).map(|_| start_node())).await;
    let peers: Vec<PeerId> = nodes.iter().map(|x| x.client.local_peer_id()).collect();
    for (i, node) in nodes.iter().enumerate() {
        node.client
            .set_allowed(peers.iter().copied().collect())
            .await
            .unwrap();
        for (j, other) in nodes.iter().enumerate().skip(i + 1) {
            node.client
                .dial(peers[j], other.addr.clone())
                .await
                .unwrap();
        }
    }
    let (owner, _inbound) = net::start(NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(60),
    })
    .unwrap();
    std::mem::forget(_inbound);
    for (node, peer) in nodes.iter().zip(&peers) {
        owner.dial(*peer, node.addr.clone()).await.unwrap();
    }
    (nodes, owner)
}

fn table(rows: usize, columns: usize, seed: u64) -> EncodedTable {
    let mut rng = StdRng::seed_from_u64(seed);
    EncodedTable {
        columns: (0..columns)
            .map(|_| {
                (0..rows)
                    .map(|_| Mp127::from_i64(rng.random_range(-1_000_000..1_000_000)))
                    .collect()
            })
            .collect(),
        rows,
    }
}

/// The data owner's account key (a fresh one: these tests run without a chain).
fn owner_key() -> KeyBatchSigner {
    KeyBatchSigner(alloy::signers::local::PrivateKeySigner::random())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_stores_only_own_shares_and_any_t_plus_one_reconstruct() {
    let (n, t) = (5, 2);
    let (nodes, owner) = committee(n).await;
    let peers: Vec<PeerId> = nodes.iter().map(|x| x.client.local_peer_id()).collect();
    let data = table(1000, 5, 1);
    let signer = owner_key();
    let origin = DatasetOrigin {
        owner: signer.0.address().into_array(),
        salt: [7; 32],
    };
    let author = BatchAuthor {
        origin,
        signer: &signer,
    };
    let receipts = upload_table(&owner, &peers, t, author, "clinic_a", &data, 256)
        .await
        .unwrap();
    assert_eq!(receipts.len(), n * 4);
    assert!(receipts.iter().all(|r| r.accepted));
    // Stored under the id the registry derives from the owner and the salt.
    let id = DatasetId(
        sharenet_chain_adapter::dataset_id_for(origin.owner.into(), origin.salt.into()).0,
    );
    for c in 0..5u32 {
        let shares: Vec<Vec<Mp127>> = nodes
            .iter()
            .map(|x| x.store.column(&id, c).unwrap())
            .collect();
        for s in &shares {
            assert_eq!(s.len(), 1000);
            assert_ne!(s, &data.columns[c as usize], "a node holds plaintext");
        }
        let mut cache = LagrangeCache::new(n);
        for parties in [vec![0usize, 1, 2], vec![4, 2, 0], vec![1, 3, 4]] {
            let views: Vec<&[Mp127]> = parties.iter().map(|&p| shares[p].as_slice()).collect();
            let values = reconstruct_checked(&mut cache, n, t, &parties, &views).unwrap();
            assert_eq!(values, data.columns[c as usize]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_share_is_caught_and_nothing_is_kept() {
    let (n, t) = (5, 2);
    let (nodes, owner) = committee(n).await;
    let peers: Vec<PeerId> = nodes.iter().map(|x| x.client.local_peer_id()).collect();
    let data = table(300, 3, 2);
    let mut dealt = deal_batch(&data, 0, 300, n, t).unwrap();
    dealt[3].shares[457] += Mp127::ONE;
    let signer = owner_key();
    let origin = DatasetOrigin {
        owner: signer.0.address().into_array(),
        salt: [8; 32],
    };
    let dataset = origin.id();
    let author = BatchAuthor {
        origin,
        signer: &signer,
    };
    let result = send_batch(&owner, &peers, t, author, "tampered", 0, 0, 300, 3, dealt).await;
    assert_eq!(result, Err(UploadError::Rejected { batch: 0 }));
    let message = result.unwrap_err().to_string();
    assert!(message.contains("dealer verification failed"), "{message}");
    for node in &nodes {
        assert!(node.store.dataset(&DatasetId(dataset)).unwrap().is_none());
    }
}
