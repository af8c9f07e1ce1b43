//! Liveness and exhaustion attacks on the node's networking (issue 13, item 5), each with a real
//! attacker: a stranger's libp2p identity that speaks the node's protocols with frames of its
//! own making, a registered node with a bogus address, a DHT squatter. Every test first failed on
//! the code before its defence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use futures::{AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, Codec, ProtocolSupport};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, SwarmBuilder, noise, tcp, yamux};
use sharenet_mpc::transport::Transport;
use sharenet_node::net::{
    self, Client, InboundRequest, JOB_PROTOCOL, KAD_PROTOCOL, MPC_PROTOCOL, NetCounters,
    NetworkConfig, UPLOAD_PROTOCOL,
};
use tokio::sync::{mpsc, watch};

// ---------------------------------------------------------------------------------------------
// The attacker: a swarm whose requests are frames it makes up. Each request writes a header
// (the announced length, in the protocol's own framing) and some body bytes, then holds the
// stream open until the test releases it, so that the node's side of every stream stays where
// the attack put it.

/// One lying frame.
#[derive(Debug, Clone)]
struct Lie {
    /// The length prefix exactly as written.
    header: Vec<u8>,
    /// Body bytes actually sent after it.
    body: usize,
}

impl Lie {
    /// A sharenet request-response frame (4-byte little-endian length) announcing `announced`.
    fn frame(announced: u32, body: usize) -> Lie {
        Lie {
            header: announced.to_le_bytes().to_vec(),
            body,
        }
    }

    /// A Kademlia frame (unsigned varint length) announcing `announced`.
    fn varint(mut announced: u64, body: usize) -> Lie {
        let mut header = Vec::new();
        loop {
            let byte = (announced & 0x7f) as u8;
            announced >>= 7;
            if announced == 0 {
                header.push(byte);
                break;
            }
            header.push(byte | 0x80);
        }
        Lie { header, body }
    }
}

static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

#[derive(Clone)]
struct LiarCodec {
    /// Becomes true when the test releases every held stream.
    release: watch::Receiver<bool>,
    /// Frames fully written (header and body).
    written: Arc<AtomicUsize>,
    /// Bumped after every change of the attacker's counters.
    progress: Arc<watch::Sender<u64>>,
}

impl Codec for LiarCodec {
    type Protocol = StreamProtocol;
    type Request = Lie;
    type Response = ();

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> std::io::Result<Lie>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        Err(std::io::Error::other("the attacker serves nothing"))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, _: &mut T) -> std::io::Result<()>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        Err(std::io::Error::other("never reached"))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        lie: Lie,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&lie.header).await?;
        let mut left = lie.body;
        while left > 0 {
            let n = left.min(ZEROS.len());
            io.write_all(&ZEROS[..n]).await?;
            left -= n;
        }
        io.flush().await?;
        self.written.fetch_add(1, Relaxed);
        self.progress.send_modify(|n| *n += 1);
        // Hold the stream (never finish the frame) until released.
        let _ = self.release.wait_for(|r| *r).await;
        Err(std::io::Error::other("released"))
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: (),
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Err(std::io::Error::other("the attacker serves nothing"))
    }
}

/// What the attacker's behaviours report: only failed requests matter.
enum Told {
    /// A request could not be sent (no connection, or the node closed its stream).
    Failed,
    Other,
}

impl<A, B> From<request_response::Event<A, B>> for Told {
    fn from(event: request_response::Event<A, B>) -> Told {
        match event {
            request_response::Event::OutboundFailure { .. } => Told::Failed,
            _ => Told::Other,
        }
    }
}

#[derive(NetworkBehaviour)]
#[behaviour(to_swarm = "Told")]
struct LiarBehaviour {
    upload: request_response::Behaviour<LiarCodec>,
    mpc: request_response::Behaviour<LiarCodec>,
    job: request_response::Behaviour<LiarCodec>,
    kad: request_response::Behaviour<LiarCodec>,
}

/// Which of the node's protocols a lie is told on.
#[derive(Debug, Clone, Copy)]
enum On {
    Upload,
    Mpc,
    Job,
    Kad,
}

enum Order {
    Dial {
        peer: PeerId,
        addr: Multiaddr,
        times: usize,
    },
    Send {
        on: On,
        peer: PeerId,
        lie: Lie,
        times: usize,
    },
}

/// What the attacker's swarm saw.
#[derive(Default)]
struct Seen {
    /// Connections established (including those the node then closed).
    established: AtomicUsize,
    /// Connections closed (by either side).
    closed: AtomicUsize,
    /// Dials that failed.
    failed: AtomicUsize,
    /// Requests that failed before the release.
    refused: AtomicUsize,
}

struct Attacker {
    orders: mpsc::UnboundedSender<Order>,
    release: watch::Sender<bool>,
    written: Arc<AtomicUsize>,
    seen: Arc<Seen>,
    progress: Arc<watch::Sender<u64>>,
}

impl Attacker {
    fn start() -> Attacker {
        let keypair = Keypair::generate_ed25519();
        let (release, release_rx) = watch::channel(false);
        let written = Arc::new(AtomicUsize::new(0));
        let progress = Arc::new(watch::channel(0u64).0);
        let codec = LiarCodec {
            release: release_rx,
            written: written.clone(),
            progress: progress.clone(),
        };
        let rr = |protocol: StreamProtocol| {
            request_response::Behaviour::with_codec(
                codec.clone(),
                [(protocol, ProtocolSupport::Outbound)],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(3600))
                    .with_max_concurrent_streams(4096),
            )
        };
        let mut swarm = SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|_| LiarBehaviour {
                upload: rr(UPLOAD_PROTOCOL),
                mpc: rr(MPC_PROTOCOL),
                job: rr(JOB_PROTOCOL),
                kad: rr(KAD_PROTOCOL),
            })
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        let (orders, mut rx) = mpsc::unbounded_channel::<Order>();
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        let bump = progress.clone();
        tokio::spawn(async move {
            loop {
                bump.send_modify(|n| *n += 1);
                tokio::select! {
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::ConnectionEstablished { .. } => {
                            s.established.fetch_add(1, Relaxed);
                        }
                        SwarmEvent::ConnectionClosed { .. } => {
                            s.closed.fetch_add(1, Relaxed);
                        }
                        SwarmEvent::OutgoingConnectionError { .. } => {
                            s.failed.fetch_add(1, Relaxed);
                        }
                        SwarmEvent::Behaviour(Told::Failed) => {
                            s.refused.fetch_add(1, Relaxed);
                        }
                        _ => {}
                    },
                    order = rx.recv() => match order {
                        None => break,
                        Some(Order::Dial { peer, addr, times }) => {
                            for _ in 0..times {
                                let opts = DialOpts::peer_id(peer)
                                    .condition(PeerCondition::Always)
                                    .addresses(vec![addr.clone()])
                                    .build();
                                if swarm.dial(opts).is_err() {
                                    s.failed.fetch_add(1, Relaxed);
                                }
                            }
                        }
                        Some(Order::Send { on, peer, lie, times }) => {
                            let b = swarm.behaviour_mut();
                            let rr = match on {
                                On::Upload => &mut b.upload,
                                On::Mpc => &mut b.mpc,
                                On::Job => &mut b.job,
                                On::Kad => &mut b.kad,
                            };
                            for _ in 0..times {
                                rr.send_request(&peer, lie.clone());
                            }
                        }
                    },
                }
            }
        });
        Attacker {
            orders,
            release,
            written,
            seen,
            progress,
        }
    }

    /// Opens `times` connections to `peer` and waits until each is established or failed.
    async fn connect(&self, peer: PeerId, addr: Multiaddr, times: usize) {
        let before = self.seen.established.load(Relaxed) + self.seen.failed.load(Relaxed);
        self.orders.send(Order::Dial { peer, addr, times }).unwrap();
        self.wait_until(|| {
            self.seen.established.load(Relaxed) + self.seen.failed.load(Relaxed) >= before + times
        })
        .await;
    }

    /// Sends `times` copies of `lie` on `on` and waits until each is written (and held) or has
    /// failed.
    async fn tell(&self, on: On, peer: PeerId, lie: Lie, times: usize) {
        let told = || self.written.load(Relaxed) + self.seen.refused.load(Relaxed);
        let before = told();
        self.orders
            .send(Order::Send {
                on,
                peer,
                lie,
                times,
            })
            .unwrap();
        self.wait_until(|| told() >= before + times).await;
    }

    /// Waits, event by event of the attacker's swarm and codec, until `done` holds.
    async fn wait_until(&self, done: impl Fn() -> bool) {
        let mut changes = self.progress.subscribe();
        while !done() {
            // The sender lives as long as `self`: `changed` only ends with a change.
            let _ = changes.changed().await;
        }
    }

    fn release(&self) {
        let _ = self.release.send(true);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Polls the node's counters until `done` holds (a generous cap turns a hang into a failure).
async fn wait_counters(
    client: &Client,
    what: &str,
    done: impl Fn(&NetCounters) -> bool,
) -> NetCounters {
    for _ in 0..1200 {
        let c = client.counters().await.unwrap();
        if done(&c) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "timed out waiting for {what}: {:?}",
        client.counters().await.unwrap()
    );
}

/// A bare swarm (no chain, no services) with a long request timeout, so that nothing the attack
/// holds open times out during a test; its inbound requests are kept, never answered.
async fn bare_node() -> (Client, Multiaddr, mpsc::Receiver<InboundRequest>) {
    let config = NetworkConfig {
        keypair: Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(600),
    };
    let (client, inbound) = net::start(config).unwrap();
    let addr = client.listen_addrs().await.unwrap().remove(0);
    (client, addr, inbound)
}

// ---------------------------------------------------------------------------------------------
// Frames and requests from strangers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_mpc_frame_is_refused_before_its_body_is_read() {
    let (node, addr, _inbound) = bare_node().await;
    node.set_allowed(HashSet::from([node.local_peer_id()]))
        .await
        .unwrap();
    let attacker = Attacker::start();
    attacker.connect(node.local_peer_id(), addr, 1).await;
    // A frame within the MPC size limit whose body never completes: the node must not wait
    // for (and buffer) the body of a peer that may not send MPC messages at all.
    attacker
        .tell(On::Mpc, node.local_peer_id(), Lie::frame(1 << 20, 1024), 3)
        .await;
    let c = wait_counters(&node, "the refusals", |c| c.refused_unregistered >= 3).await;
    assert_eq!(c.refused_unregistered, 3);
    assert_eq!(c.bytes_in[1], 0, "nothing of the bodies was taken in");
    attacker.release();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_upload_lengths_count_against_a_budget_before_any_buffer() {
    let (node, addr, _inbound) = bare_node().await;
    let attacker = Attacker::start();
    attacker.connect(node.local_peer_id(), addr, 1).await;
    // Eight frames announcing the largest upload (64 MiB) with 16 bytes each: the node reserves
    // the announced length against the peer's budget (128 MiB) before it buffers anything, so
    // two are read (into buffers that grow only as bytes arrive) and six are refused at once.
    attacker
        .tell(
            On::Upload,
            node.local_peer_id(),
            Lie::frame(64 << 20, 16),
            8,
        )
        .await;
    let c = wait_counters(&node, "the refusals", |c| c.refused_busy[0] >= 6).await;
    assert_eq!(c.refused_busy, [6, 0, 0]);
    assert_eq!(c.bytes_in[0], 0, "nothing was buffered whole");
    attacker.release();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_gets_a_bounded_number_of_concurrent_upload_and_job_requests() {
    let (node, addr, _inbound) = bare_node().await;
    let attacker = Attacker::start();
    attacker.connect(node.local_peer_id(), addr, 1).await;
    // Thirty-two small requests on each protocol, none of them finished: four per peer and
    // protocol are read at a time, the others are refused before their body.
    attacker
        .tell(On::Job, node.local_peer_id(), Lie::frame(1024, 1), 32)
        .await;
    attacker
        .tell(On::Upload, node.local_peer_id(), Lie::frame(1024, 1), 32)
        .await;
    let c = wait_counters(&node, "the refusals", |c| c.refused_busy == [28, 0, 28]).await;
    assert_eq!(c.bytes_in, [0, 0, 0]);
    attacker.release();
}

// ---------------------------------------------------------------------------------------------
// MPC messages between active nodes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mpc_message_the_router_refuses_is_not_acknowledged() {
    let (a, _, _a_in) = bare_node().await;
    let (b, b_addr, _b_in) = bare_node().await;
    let both = HashSet::from([a.local_peer_id(), b.local_peer_id()]);
    a.set_allowed(both.clone()).await.unwrap();
    b.set_allowed(both).await.unwrap();
    a.dial(b.local_peer_id(), b_addr).await.unwrap();
    let peers = vec![a.local_peer_id(), b.local_peer_id()];
    let session = |i: u64| {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&i.to_le_bytes());
        s
    };
    // a fills b's router with messages of sessions b has not started (256, its limit).
    let limit = net::mpc::MAX_SESSIONS as u64;
    let mut senders = Vec::new();
    for i in 0..limit {
        let mut t = a.mpc_transport(session(i), 0, peers.clone(), Duration::from_secs(60));
        tokio::task::spawn_blocking(move || {
            t.send(1, b"early".to_vec()).unwrap();
            t
        })
        .await
        .map(|t| senders.push(t))
        .unwrap();
    }
    let early = limit * (40 + 5);
    wait_counters(&b, "the early messages to arrive", |c| {
        c.bytes_in[1] >= early
    })
    .await;
    // One more session: b's router refuses its message.
    let mut late = a.mpc_transport(session(limit), 0, peers.clone(), Duration::from_secs(60));
    let late = tokio::task::spawn_blocking(move || {
        late.send(1, b"the message that matters".to_vec()).unwrap();
        late
    })
    .await
    .unwrap();
    wait_counters(&b, "b's router to refuse the message", |c| {
        c.mpc_refused >= 1
    })
    .await;
    // b starts (and ends) the sessions that filled it, then starts the late one: the refused
    // message must reach it, because a was told it was refused and sent it again.
    for i in 0..limit {
        drop(b.mpc_transport(session(i), 1, peers.clone(), Duration::from_secs(1)));
    }
    let mut receiver = b.mpc_transport(session(limit), 1, peers, Duration::from_secs(30));
    let got = tokio::task::spawn_blocking(move || receiver.recv(0))
        .await
        .unwrap();
    assert_eq!(got.unwrap(), b"the message that matters");
    assert!(a.counters().await.unwrap().mpc_refused_by_peer >= 1);
    drop((late, senders));
}

// ---------------------------------------------------------------------------------------------
// On a chain: nodes that follow it, datasets, jobs.

use alloy::primitives::{B256, U256};
use sharenet_chain_adapter::{DeployParams, EmbeddedChain, EmbeddedLedger, Ledger, NewGrant};
use sharenet_dht::{Key, RecordContent, SignedRecord};
use sharenet_node::config::NodeConfig;
use sharenet_node::jobs::requester::{QueryRequest, run_query};
use sharenet_node::keys;
use sharenet_node::local::{LocalNode, wait_for_polls};
use sharenet_node::net::{LinkFaults, OutputShift};
use sharenet_node::owner::upload_dataset;
use sharenet_node::table::read_csv;
use sharenet_query::{Cell, QueryKind, Schema};

const SCHEMA: &str =
    r#"{"columns":[{"name":"age","type":"integer"},{"name":"smoker","type":"boolean"}]}"#;
const OWNER: usize = 12;
const RESEARCHER: usize = 13;
/// Accounts for attackers' chain identities.
const BOGUS: [usize; 10] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23];

struct ChainNet {
    chain: EmbeddedChain,
    nodes: Vec<LocalNode>,
    faults: Vec<LinkFaults>,
    _dirs: Vec<tempfile::TempDir>,
}

fn deposit() -> U256 {
    U256::from(10u64).pow(U256::from(18u64))
}

impl ChainNet {
    /// `n` nodes (accounts 1..=n), each with a fault handle (no fault set).
    async fn start(n: usize) -> ChainNet {
        let chain = EmbeddedChain::new(DeployParams::default(), 24)
            .await
            .unwrap();
        let mut net = ChainNet {
            chain,
            nodes: Vec::new(),
            faults: Vec::new(),
            _dirs: Vec::new(),
        };
        for _ in 0..n {
            net.add_node().await;
        }
        let active = net.nodes.len();
        net.wait_active(active).await;
        net
    }

    async fn add_node(&mut self) -> &LocalNode {
        let i = self.nodes.len();
        let dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::local(
            dir.path(),
            self.chain.addresses(),
            deposit(),
            Duration::from_secs(20),
        )
        .unwrap();
        let faults = LinkFaults::new(i as u64);
        config.faults = Some(faults.clone());
        let node = LocalNode::start(config, self.chain.ledger(i + 1).unwrap())
            .await
            .unwrap();
        self.nodes.push(node);
        self.faults.push(faults);
        self._dirs.push(dir);
        self.nodes.last().unwrap()
    }

    /// Waits until every node's chain follower has taken in an active set of `count` nodes.
    async fn wait_active(&self, count: usize) {
        let epoch = self.ledger(0).epoch().await.unwrap();
        let nodes: Vec<&LocalNode> = self.nodes.iter().collect();
        let taken_in = wait_for_polls(&nodes, async || {
            self.nodes.iter().all(|n| {
                n.node
                    .status
                    .lock()
                    .map(|s| s.active_nodes == count && s.epoch == epoch)
                    .unwrap_or(false)
            })
        })
        .await;
        assert!(taken_in, "every follower to take in the active set");
    }

    fn ledger(&self, account: usize) -> EmbeddedLedger {
        self.chain.ledger(account).unwrap()
    }

    /// Uploads `ages` (with `smoker` = age is even) as a dataset of a committee of all nodes.
    async fn upload(&self, ages: &[i64], t: usize) -> (B256, Vec<usize>) {
        let mut csv = String::from("age,smoker\n");
        for a in ages {
            csv.push_str(&format!("{a},{}\n", a % 2 == 0));
        }
        let schema = Schema::from_json(SCHEMA).unwrap();
        let table = read_csv(csv.as_bytes(), &schema, &[]).unwrap();
        let client = client_for(OWNER);
        let summary = upload_dataset(
            &self.ledger(OWNER),
            &client,
            &schema,
            &table,
            "clinic",
            "clinics",
            self.nodes.len(),
            t,
            10,
            1_000,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        let _ = client.shutdown().await;
        // Node index of each committee position.
        let order = summary
            .accounts
            .iter()
            .map(|a| {
                (0..self.nodes.len())
                    .find(|i| self.ledger(i + 1).account() == *a)
                    .unwrap()
            })
            .collect();
        (B256::from(summary.dataset), order)
    }

    async fn grant(&self, dataset: B256) {
        let owner = self.ledger(OWNER);
        let now = owner.chain_time().await.unwrap();
        owner
            .grant(&NewGrant {
                grantee: self.ledger(RESEARCHER).account(),
                datasets: vec![dataset],
                kinds: 1 << QueryKind::Aggregate.code(),
                program_hashes: Vec::new(),
                expiry: now + 30 * 24 * 3600,
                max_queries: 10,
            })
            .await
            .unwrap();
    }
}

/// A client (owner or researcher) with the identity its account key derives.
fn client_for(account: usize) -> Client {
    let key = sharenet_chain_adapter::embedded::dev_key(account).unwrap();
    let (client, _inbound) = net::start(NetworkConfig {
        keypair: keys::client_identity(&key),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: Vec::new(),
        request_timeout: Duration::from_secs(20),
    })
    .unwrap();
    client
}

fn query(text: &str, dataset: B256) -> QueryRequest {
    QueryRequest {
        text: text.into(),
        datasets: vec![dataset],
        grant: None,
        fee: U256::from(1_000_000u64),
        deadline: Duration::from_secs(600),
        ready_timeout: Duration::from_secs(10),
        session_timeout: Duration::from_secs(20),
        attest_timeout: Duration::from_secs(20),
        security: sharenet_mpc::protocol::Security::Malicious,
    }
}

fn number(cell: &Cell) -> f64 {
    match cell {
        Cell::Number(v) => *v,
        other => panic!("not a number: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_node_with_a_bogus_address_does_not_stop_the_chain_followers() {
    let net = ChainNet::start(2).await;
    // Nodes register with addresses that lead nowhere: tarpits (loopback ports that accept TCP
    // connections and never answer, so a dial hangs until it times out), a port that refuses
    // connections, and an honest node's address without `/p2p/` (a connection to the wrong peer).
    let tarpits: Vec<std::net::TcpListener> = (0..BOGUS.len() - 2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let honest = net.nodes[0].node.client.listen_addrs().await.unwrap();
    let elsewhere = honest
        .iter()
        .find(|a| a.to_string().contains("/tcp/"))
        .unwrap()
        .to_string();
    let addresses = tarpits
        .iter()
        .map(|t| format!("/ip4/127.0.0.1/tcp/{}", t.local_addr().unwrap().port()))
        .chain(["/ip4/127.0.0.1/tcp/1".to_string(), elsewhere]);
    for (account, addr) in BOGUS.into_iter().zip(addresses) {
        let key = Keypair::generate_ed25519()
            .public()
            .try_into_ed25519()
            .unwrap()
            .to_bytes();
        net.ledger(account)
            .register_node(B256::from(key), &addr, deposit())
            .await
            .unwrap();
    }
    // Every follower goes on at once: it takes in the new active set and epoch.
    net.wait_active(2 + BOGUS.len()).await;
    drop(tarpits);
}

/// Puts `record` through `client` until `holder` holds exactly it (the owner's and the
/// committee's re-puts do the same), or panics after a generous cap.
async fn put_until_held(client: &Client, holder: &Client, record: &SignedRecord, key: Key) {
    for _ in 0..120 {
        let _ = client.put_record(record.clone()).await;
        if holder.local_record(key).await.unwrap().as_ref() == Some(record) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "the node never took the record; it holds {:?}",
        holder.local_record(key).await.unwrap().map(|r| r.content())
    );
}

/// A client (a stranger) connected to `node` only.
async fn stranger_at(node: &Client, query_timeout: Duration) -> Client {
    let (client, inbound) = net::start_with(
        NetworkConfig {
            keypair: Keypair::generate_ed25519(),
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            bootstrap: Vec::new(),
            request_timeout: Duration::from_secs(20),
        },
        net::DhtConfig {
            query_timeout,
            ..net::DhtConfig::ephemeral()
        },
    )
    .unwrap();
    std::mem::forget(inbound);
    let addr = node.listen_addrs().await.unwrap().remove(0);
    client.dial(node.local_peer_id(), addr).await.unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatters_manifest_does_not_keep_the_owners_out() {
    let mut net = ChainNet::start(3).await;
    let ages: Vec<i64> = (0..20).map(|i| 30 + i).collect();
    let (dataset, _) = net.upload(&ages, 1).await;
    let key = Key::for_dataset(&dataset.0);
    let registered = net
        .ledger(0)
        .dataset_info(dataset)
        .await
        .unwrap()
        .manifestHash;
    let member = net.nodes[0].node.client.clone();
    let mut owners = None;
    for _ in 0..1200 {
        owners = member.local_record(key).await.unwrap();
        if owners.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owners = owners.expect("the committee holds the owner's manifest");
    let Ok(RecordContent::Manifest(manifest)) = owners.content() else {
        panic!("not a manifest")
    };
    assert_eq!(B256::from(manifest.manifest_hash()), registered);

    // A node joins after the upload: nothing is stored there under the dataset's key yet.
    net.add_node().await;
    net.wait_active(4).await;
    let late = net.nodes[3].node.client.clone();
    assert!(late.local_record(key).await.unwrap().is_none());
    // A squatter signs its own manifest for the dataset (a smaller minimum cohort) and puts it
    // there first.
    let squatter = stranger_at(&late, Duration::from_secs(2)).await;
    let mut fake = manifest.clone();
    fake.min_cohort = 1;
    let _ = squatter
        .put_record(squatter.sign_manifest(&fake).unwrap())
        .await;
    // The owner's manifest, put again, takes the key: it is the one the chain registered.
    let owner = stranger_at(&late, Duration::from_secs(2)).await;
    put_until_held(&owner, &late, &owners, key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_fill_a_nodes_dht_store() {
    let net = ChainNet::start(3).await;
    let target = net.nodes[0].node.client.clone();
    let stranger = stranger_at(&target, Duration::from_secs(2)).await;
    // 4,096 valid announcements, each signed by its own fresh key (keys cost nothing): the size
    // of a node's record store.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let records: Vec<SignedRecord> = (0..4096)
        .map(|_| {
            let keypair = Keypair::generate_ed25519();
            let announcement = sharenet_dht::NodeAnnouncement {
                peer_key: keypair.public().try_into_ed25519().unwrap().to_bytes(),
                addresses: vec!["/ip4/127.0.0.1/tcp/9".into()],
                epoch: 1,
                timestamp: now,
            };
            SignedRecord::sign_announcement(&announcement, &keypair).unwrap()
        })
        .collect();
    futures::stream::iter(records)
        .for_each_concurrent(16, |r| {
            let stranger = stranger.clone();
            async move {
                let _ = stranger.put_record(r).await;
            }
        })
        .await;
    // A real dataset's manifest still finds room at the node.
    let ages: Vec<i64> = (0..20).map(|i| 40 + i).collect();
    let (dataset, _) = net.upload(&ages, 1).await;
    let key = Key::for_dataset(&dataset.0);
    let registered = net
        .ledger(0)
        .dataset_info(dataset)
        .await
        .unwrap()
        .manifestHash;
    let mut held = None;
    for _ in 0..1200 {
        held = target.local_record(key).await.unwrap();
        if held.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(Ok(RecordContent::Manifest(m))) = held.map(|r| r.content()) else {
        panic!("the node holds no manifest for the dataset")
    };
    assert_eq!(B256::from(m.manifest_hash()), registered);
}

// ---------------------------------------------------------------------------------------------
// Output shares (issue 13, item 6).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_colluding_members_cannot_shift_a_result_nor_frame_an_honest_member() {
    use sharenet_mpc::field::{Field, Mp127};
    let net = ChainNet::start(5).await;
    let ages: Vec<i64> = (0..20).map(|i| 20 + 3 * i).collect();
    let (dataset, order) = net.upload(&ages, 2).await;
    net.grant(dataset).await;
    let text = "SELECT SUM(age) FROM clinic";
    let researcher = net.ledger(RESEARCHER);
    let client = client_for(RESEARCHER);
    // Honest members first: the plaintext sum.
    let honest = run_query(&researcher, &client, &query(text, dataset), |_| {})
        .await
        .unwrap();
    assert_eq!(
        number(&honest.result.rows[0][0]),
        ages.iter().sum::<i64>() as f64
    );
    // n = 5, t = 2: committee positions 3 and 4 collude. Each adds to its share of the result
    // the value at its point of (x − 1)(x − 2), a degree-2 polynomial that vanishes at the points
    // of positions 0 and 1: four of the five shares then lie on one polynomial whose value at 0
    // is larger by 2, and honest position 2's share is the odd one out.
    for position in [3u64, 4] {
        let x = Mp127::from_u64(position + 1);
        let delta = (x - Mp127::from_u64(1)) * (x - Mp127::from_u64(2));
        net.faults[order[position as usize]].set_output_shift(Some(OutputShift {
            delta,
            from_message: 1,
        }));
    }
    match run_query(&researcher, &client, &query(text, dataset), |_| {}).await {
        Ok(o) => panic!(
            "the requester took {:?} and named members {:?}",
            o.result.rows, o.corrected
        ),
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("inconsistent output shares"), "{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The flood.

/// The test process's resident memory (bytes), from `/proc/self/status`.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// How much the process's resident memory may grow while one stranger floods a node: the
/// figure documented in docs/threat-model.md ("Bounds under a flood").
const FLOOD_RSS_GROWTH_BOUND: u64 = 256 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_connections_and_huge_frames_leaves_memory_bounded_and_a_job_completes() {
    let net = ChainNet::start(3).await;
    let ages: Vec<i64> = (0..30).map(|i| 18 + 2 * i).collect();
    let (dataset, order) = net.upload(&ages, 1).await;
    net.grant(dataset).await;
    let target = net.nodes[order[0]].node.client.clone();
    let addr = target
        .listen_addrs()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.to_string().contains("/tcp/"))
        .unwrap();

    // Resident memory, sampled from here on.
    let baseline = resident_bytes();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(baseline));
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let sampler = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            while stopped.recv_timeout(Duration::from_millis(10)).is_err() {
                peak.fetch_max(resident_bytes(), Relaxed);
            }
        })
    };

    // One stranger, 1,000 connections, and on every one a frame announcing 64 MiB on every
    // protocol (upload frames carry 1 MiB of body), all held open.
    let attacker = Attacker::start();
    let node = target.local_peer_id();
    attacker.connect(node, addr, 1000).await;
    for (on, lie) in [
        (On::Upload, Lie::frame(64 << 20, 1 << 20)),
        (On::Mpc, Lie::frame(64 << 20, 0)),
        (On::Job, Lie::frame(64 << 20, 0)),
        (On::Kad, Lie::varint(64 << 20, 0)),
    ] {
        attacker.tell(on, node, lie, 1000).await;
    }

    // A job submitted meanwhile completes, with the plaintext result.
    let client = client_for(RESEARCHER);
    let outcome = run_query(
        &net.ledger(RESEARCHER),
        &client,
        &query("SELECT SUM(age), COUNT(*) FROM clinic", dataset),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        number(&outcome.result.rows[0][0]),
        ages.iter().sum::<i64>() as f64
    );
    assert_eq!(number(&outcome.result.rows[0][1]), ages.len() as f64);
    let _ = stop.send(());
    sampler.join().unwrap();
    attacker.release();
    let grown = peak.load(Relaxed).saturating_sub(baseline);
    assert!(
        grown <= FLOOD_RSS_GROWTH_BOUND,
        "resident memory grew by {} MiB during the flood",
        grown >> 20
    );
}
