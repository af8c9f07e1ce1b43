//! Three nodes in one process, over real libp2p (TCP + Noise + Yamux on loopback), run an MPC
//! session through the swarm and get the plaintext products; a peer that is not on the
//! allow-list is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::protocol::{RandomnessSource, Session};
use sharenet_mpc::transport::TransportError;
use sharenet_node::net::{self, Client, NetworkConfig};

async fn node() -> (Client, Multiaddr) {
    let config = NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(30),
    };
    let (client, _inbound) = net::start(config).unwrap();
    // Keep the inbound stream alive for the test's duration.
    std::mem::forget(_inbound);
    let addr = client.listen_addrs().await.unwrap().remove(0);
    (client, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mpc_session_runs_over_the_swarm() {
    let (n, t) = (3usize, 1usize);
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(node().await);
    }
    let peers: Vec<PeerId> = nodes.iter().map(|(c, _)| c.local_peer_id()).collect();
    for (i, (client, _)) in nodes.iter().enumerate() {
        client
            .set_allowed(peers.iter().copied().collect())
            .await
            .unwrap();
        for (j, (_, addr)) in nodes.iter().enumerate() {
            if j > i {
                client.dial(peers[j], addr.clone()).await.unwrap();
            }
        }
    }
    let mut rng = StdRng::seed_from_u64(1);
    let x: Vec<Mp127> = (0..20_000).map(|_| Mp127::random(&mut rng)).collect();
    let session = [42u8; 32];
    let mut handles = Vec::new();
    for (me, (client, _)) in nodes.iter().enumerate() {
        let transport = client.mpc_transport(session, me, peers.clone(), Duration::from_secs(30));
        let x = x.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            let mut s = Session::<Mp127, _>::new(n, t, transport, RandomnessSource::Auto).unwrap();
            let shares = s
                .input(0, (me == 0).then_some(x.as_slice()), x.len())
                .unwrap();
            let squares = s.mul(&shares, &shares).unwrap();
            s.open(&squares).unwrap()
        }));
    }
    let expected: Vec<Mp127> = x.iter().map(|v| *v * *v).collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), expected);
    }
    let counters = nodes[0].0.counters().await.unwrap();
    assert!(counters.bytes_in[1] > 0 && counters.bytes_out[1] > 0);
    assert_eq!(counters.refused_unregistered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_off_the_allow_list_is_refused() {
    let (honest, honest_addr) = node().await;
    let (intruder, _) = node().await;
    honest
        .set_allowed(HashSet::from([honest.local_peer_id()]))
        .await
        .unwrap();
    intruder
        .dial(honest.local_peer_id(), honest_addr)
        .await
        .unwrap();
    // The intruder tries to inject a message into a session the honest node runs.
    let peers = vec![honest.local_peer_id(), intruder.local_peer_id()];
    let session = [9u8; 32];
    let victim_transport =
        honest.mpc_transport(session, 0, peers.clone(), Duration::from_millis(500));
    let mut attacker = intruder.mpc_transport(session, 1, peers, Duration::from_millis(500));
    tokio::task::spawn_blocking(move || {
        use sharenet_mpc::transport::Transport;
        attacker.send(0, b"forged".to_vec()).unwrap();
    })
    .await
    .unwrap();
    // The message reached the honest node and was refused there…
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let refused = honest.counters().await.unwrap().refused_unregistered;
        if refused > 0 {
            assert_eq!(refused, 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the honest node never refused the forged message"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …so nothing waits for the session: its receive can only time out.
    let got = tokio::task::spawn_blocking(move || {
        use sharenet_mpc::transport::Transport;
        let mut t = victim_transport;
        t.recv(1)
    })
    .await
    .unwrap();
    assert!(
        matches!(got, Err(TransportError::Timeout { peer: 1, .. })),
        "a message from an unlisted peer was delivered: {got:?}"
    );
}
