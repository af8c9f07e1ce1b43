//! The simulator's fault hook on real swarms (two nodes over loopback TCP): a delayed link holds
//! messages back without blocking the event loop, a corrupt node flips one bit of the chosen
//! messages only, and a partition fails requests at once, delays MPC messages until it heals,
//! and ends a session that cannot deliver them.
//!
//! Nothing here bounds how long something takes from above (a busy machine may be slow): what
//! happened first is read from the counters, a delay is checked as a lower bound (a timer never
//! fires early), and "at once" is the error a broken link gives where a wait would time out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use sharenet_mpc::transport::{Transport, TransportError};
use sharenet_node::net::faults::{CORRUPT_OFFSET, MAX_LINK_DELAY};
use sharenet_node::net::{
    self, Client, CorruptTarget, DhtConfig, LinkFault, LinkFaults, NetError, NetworkConfig,
    Protocol,
};

async fn node(faults: Option<LinkFaults>) -> (Client, Multiaddr) {
    let config = NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(30),
    };
    let (client, mut inbound) =
        net::start_with_faults(config, DhtConfig::ephemeral(), faults).unwrap();
    // Answer every request with "pong".
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(request) = inbound.recv().await {
            let _ = responder.respond(request, b"pong".to_vec()).await;
        }
    });
    let addr = client.listen_addrs().await.unwrap().remove(0);
    (client, addr)
}

/// Node a (with `faults`) and node b, connected and allowing each other.
async fn pair(faults: &LinkFaults) -> (Client, Client) {
    let (a, _) = node(Some(faults.clone())).await;
    let (b, b_addr) = node(None).await;
    let peers = HashSet::from([a.local_peer_id(), b.local_peer_id()]);
    a.set_allowed(peers.clone()).await.unwrap();
    b.set_allowed(peers).await.unwrap();
    a.dial(b.local_peer_id(), b_addr).await.unwrap();
    (a, b)
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Sends `message` from a to b in session `session` and returns what b received and how long it
/// took (at least any delay the link adds: the delay's timer starts after the send).
async fn mpc_once(
    a: &Client,
    b: &Client,
    session: [u8; 32],
    message: Vec<u8>,
) -> (Result<Vec<u8>, TransportError>, Duration) {
    let peers: Vec<PeerId> = vec![a.local_peer_id(), b.local_peer_id()];
    let mut sender = a.mpc_transport(session, 0, peers.clone(), Duration::from_secs(10));
    let mut receiver = b.mpc_transport(session, 1, peers, Duration::from_secs(10));
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        sender.send(1, message).unwrap();
        let got = receiver.recv(0);
        (got, started.elapsed())
    })
    .await
    .unwrap()
}

/// Index of the MPC protocol in [`sharenet_node::net::NetCounters`]' per-protocol byte counts.
const MPC: usize = 1;

/// Polls `done` until it holds; fails after a deadline no healthy run comes near.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn mpc_bytes_in(c: &Client) -> u64 {
    c.counters().await.unwrap().bytes_in[MPC]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_holds_messages_back_and_corruption_flips_one_bit() {
    let faults = LinkFaults::new(1);
    let (a, b) = pair(&faults).await;
    let message = payload(200);
    // A clean link first: the message arrives as sent.
    let (got, _) = mpc_once(&a, &b, [1; 32], message.clone()).await;
    assert_eq!(got.unwrap(), message);
    let one_envelope = mpc_bytes_in(&b).await;
    assert!(one_envelope > 0);

    // A message held back for the longest delay a link may have (it never arrives here)…
    faults
        .set_link(
            b.local_peer_id(),
            LinkFault {
                delay: MAX_LINK_DELAY,
                ..LinkFault::default()
            },
        )
        .unwrap();
    let peers: Vec<PeerId> = vec![a.local_peer_id(), b.local_peer_id()];
    let mut held = a.mpc_transport([2; 32], 0, peers, Duration::from_secs(10));
    let (held, sent) = tokio::task::spawn_blocking({
        let message = message.clone();
        move || {
            let sent = held.send(1, message);
            (held, sent)
        }
    })
    .await
    .unwrap();
    sent.unwrap();
    wait_until("the event loop holds the message back", || {
        faults.counters().delayed == 1
    })
    .await;
    // …does not hold up the next one (shorter delay, corrupted): it overtakes the held one, which
    // an event loop waiting out the first delay could not let it do.
    faults
        .set_link(
            b.local_peer_id(),
            LinkFault {
                delay: Duration::from_millis(400),
                ..LinkFault::default()
            },
        )
        .unwrap();
    faults.set_corrupt(Some(CorruptTarget::Protocol));
    let (got, took) = mpc_once(&a, &b, [3; 32], message.clone()).await;
    let got = got.unwrap();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert_eq!(
        mpc_bytes_in(&b).await,
        2 * one_envelope,
        "b got the clean message and the later one, not the held one"
    );
    // The transport's payload starts after the 40-byte envelope header.
    let flipped = CORRUPT_OFFSET - 40;
    let differs: Vec<usize> = (0..message.len())
        .filter(|&i| got[i] != message[i])
        .collect();
    assert_eq!(differs, vec![flipped]);
    assert_eq!(got[flipped] ^ message[flipped], 1);

    // Output corruption spares messages to active nodes; clearing restores the link: nothing more
    // is held back.
    faults.set_corrupt(Some(CorruptTarget::Output));
    faults.clear_link(&b.local_peer_id());
    let (got, _) = mpc_once(&a, &b, [4; 32], message.clone()).await;
    assert_eq!(got.unwrap(), message);
    let c = faults.counters();
    assert_eq!((c.delayed, c.corrupted), (2, 1));

    // Requests are delayed too.
    faults
        .set_link(
            b.local_peer_id(),
            LinkFault {
                delay: Duration::from_millis(300),
                ..LinkFault::default()
            },
        )
        .unwrap();
    let started = Instant::now();
    let answer = a
        .request(Protocol::Job, b.local_peer_id(), b"ping".to_vec())
        .await
        .unwrap();
    assert_eq!(answer, b"pong");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(faults.counters().delayed, 3);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_fails_requests_delays_messages_until_it_heals_and_ends_stuck_sessions() {
    let faults = LinkFaults::new(2);
    let (a, b) = pair(&faults).await;
    faults.set_unreachable(b.local_peer_id(), true);

    // A request fails at once, as on a broken connection: with the partition's error, where
    // waiting would end in the 30 s request timeout's.
    let e = a
        .request(Protocol::Job, b.local_peer_id(), b"ping".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NetError::Request { reason, .. } if reason.contains("unreachable")),
        "{e}"
    );
    assert_eq!(faults.counters().unreachable, 1);

    // An MPC message sent during a short split (it meets the split at least once) arrives after
    // the heal.
    let message = payload(100);
    let waiting = {
        let (a, b, message) = (a.clone(), b.clone(), message.clone());
        tokio::spawn(async move { mpc_once(&a, &b, [4; 32], message).await })
    };
    wait_until("the message meets the split", || {
        faults.counters().unreachable >= 2
    })
    .await;
    faults.set_unreachable(b.local_peer_id(), false);
    let (got, _) = waiting.await.unwrap();
    assert_eq!(got.unwrap(), message);

    // A split longer than the retries: the sender gives the message up after its 8 attempts and
    // its session, which now waits for b, ends at once (`Closed`) instead of at its 30 s timeout
    // (`Timeout`).
    let before = faults.counters().unreachable;
    faults.set_unreachable(b.local_peer_id(), true);
    let peers: Vec<PeerId> = vec![a.local_peer_id(), b.local_peer_id()];
    let mut sender = a.mpc_transport([5; 32], 0, peers, Duration::from_secs(30));
    let result = tokio::task::spawn_blocking(move || {
        sender.send(1, payload(100)).unwrap();
        sender.recv(1)
    })
    .await
    .unwrap();
    assert_eq!(result, Err(TransportError::Closed { peer: 1 }));
    assert_eq!(faults.counters().unreachable - before, 8);
}
