//! The simulated network: nodes with their own k-bucket routing tables and their own validating
//! record stores, and the Kademlia operations the scale mode runs on them.
//!
//! Everything is single-threaded and driven by one seeded random generator, so a network built
//! from the same [`ScaleConfig`] is the same network. Lookups that only *measure*
//! ([`Network::lookup`], [`Network::get`]) read the network and change nothing; the operations
//! that maintain it ([`Network::join`], [`Network::bootstrap`], [`Network::put_record`],
//! [`Network::replicate`]) update the routing tables of both ends of every request that was
//! answered, as libp2p does when a connection is established.

use std::collections::{HashSet, VecDeque};

use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::kad::store::RecordStore;
use libp2p::kad::{KBucketKey, Record, RecordKey};
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sharenet_dht::{
    Clock, Distance, Key, NodeInfo, PersistentRecordStore, SignedRecord, StoreConfig, ValidRecord,
    persist_channel,
};

use super::lookup::{ClosestIter, Next};
use super::{Bootstrap, KeySpace, LookupModel, ScaleConfig, ScaleError, rng_for};

/// The simulation's wall clock (unix seconds), read by every record store: a fixed instant, so
/// that validation does not depend on when the simulation runs.
pub const SIM_NOW_UNIX: u64 = 1_800_000_000;

/// Number of k-buckets (one per bit of the 256-bit key space).
const BUCKETS: usize = 256;

/// A node of the simulation: its index in registration order (stable; departed nodes keep
/// theirs, joiners get new ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(u32);

impl NodeId {
    /// The index (registration order, from 0).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a lookup did: the peers it converged on, and what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The (at most k) closest nodes that answered, closest first. Never the querying node
    /// itself (no node lists itself to itself).
    pub closest: Vec<NodeId>,
    /// Hops: request/response trips one after the other on the lookup's critical path (every
    /// request takes one time unit; this is the time the last answer it used arrived). In
    /// [`LookupModel::Rounds`] it is the number of rounds.
    pub hops: u32,
    /// Requests sent (each answered by one response, unless it failed).
    pub requests: u32,
    /// Requests to nodes that had left (they fail).
    pub failed: u32,
}

/// What a `get_record` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Get {
    /// The record found and validated, if any.
    pub record: Option<ValidRecord>,
    /// The node that answered with it (the querying node itself for a local hit).
    pub from: Option<NodeId>,
    /// Hops until the record arrived (0 for a local hit), or until the lookup ended.
    pub hops: u32,
    /// Requests sent.
    pub requests: u32,
    /// Requests to departed nodes.
    pub failed: u32,
}

/// What a `put_record` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Put {
    /// The lookup for the record's key.
    pub lookup: Lookup,
    /// The nodes whose store accepted the record (the publisher's own store not included).
    pub stored_at: Vec<NodeId>,
    /// Stores that refused it (invalid, stale, conflicting or full).
    pub refused: u32,
}

/// Traffic of one replication interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replication {
    /// Records re-put (one lookup each).
    pub records_replicated: u64,
    /// Records skipped because the node had received them by a PUT since its last run.
    pub records_skipped: u64,
    /// Requests sent (lookups and PUTs).
    pub requests: u64,
    /// PUTs accepted by a store.
    pub puts_accepted: u64,
}

struct SimNode {
    info: NodeInfo,
    buckets: Vec<Vec<NodeId>>,
    store: PersistentRecordStore,
    /// Keys received by a PUT since this node's last replication run: libp2p's `PutRecordJob`
    /// skips them (the sender has just replicated them).
    skipped: HashSet<RecordKey>,
    /// When in each replication interval this node's replication timer fires (its phase,
    /// fixed for the node's life: libp2p starts the timer when the node starts).
    phase: u64,
}

/// The simulated network (see the module documentation).
pub struct Network {
    k: usize,
    alpha: usize,
    key_space: KeySpace,
    lookup_model: LookupModel,
    bootstrap_mode: Bootstrap,
    rng: ChaCha8Rng,
    nodes: Vec<SimNode>,
    peer_ids: Vec<PeerId>,
    positions: Vec<Key>,
    alive: Vec<bool>,
    /// Requests sent by the maintenance operations (joins, bootstraps, puts, replication).
    maintenance_requests: u64,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("k", &self.k)
            .field("alpha", &self.alpha)
            .field("key_space", &self.key_space)
            .field("nodes", &self.nodes.len())
            .field("live", &self.live_count())
            .finish_non_exhaustive()
    }
}

/// The position of a record key in the DHT's key space.
fn record_target(key_space: KeySpace, key: &Key) -> Key {
    match key_space {
        KeySpace::Sharenet => *key,
        KeySpace::Libp2p => {
            hashed(KBucketKey::from(key.to_record_key()).hashed_bytes()).unwrap_or(*key)
        }
    }
}

fn hashed(bytes: &[u8]) -> Option<Key> {
    <[u8; 32]>::try_from(bytes).ok().map(Key::from_bytes)
}

impl Network {
    /// An empty network with the parameters of `config` (which is validated).
    pub fn empty(config: &ScaleConfig) -> Result<Self, ScaleError> {
        config.validate()?;
        Ok(Network {
            k: config.k,
            alpha: config.alpha,
            key_space: config.key_space,
            lookup_model: config.lookup_model,
            bootstrap_mode: config.bootstrap,
            rng: rng_for(config.seed, "network"),
            nodes: Vec::new(),
            peer_ids: Vec::new(),
            positions: Vec::new(),
            alive: Vec::new(),
            maintenance_requests: 0,
        })
    }

    /// A network of `config.nodes` nodes that joined one after the other (see [`Bootstrap`]),
    /// after which every node ran `config.refresh_rounds` periodic bootstraps.
    pub fn build(config: &ScaleConfig) -> Result<Self, ScaleError> {
        let mut net = Self::empty(config)?;
        for _ in 0..config.nodes {
            net.join()?;
        }
        for _ in 0..config.refresh_rounds {
            net.refresh_all();
        }
        Ok(net)
    }

    /// Bucket size k.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The key space the DHT routes in.
    pub fn key_space(&self) -> KeySpace {
        self.key_space
    }

    /// Every node ever created (live or departed), in registration order.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node was ever created.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of live nodes.
    pub fn live_count(&self) -> usize {
        self.alive.iter().filter(|a| **a).count()
    }

    /// Every node ever created (live or departed), in registration order.
    pub fn all_nodes(&self) -> Vec<NodeId> {
        (0..self.nodes.len()).map(|i| NodeId(i as u32)).collect()
    }

    /// The live nodes in registration order.
    pub fn live_nodes(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&i| self.alive[i])
            .map(|i| NodeId(i as u32))
            .collect()
    }

    /// Whether `node` is live.
    pub fn is_alive(&self, node: NodeId) -> bool {
        self.alive.get(node.index()).copied().unwrap_or(false)
    }

    /// The chain's view of the node (account, peer key, address).
    pub fn info(&self, node: NodeId) -> Option<&NodeInfo> {
        self.nodes.get(node.index()).map(|n| &n.info)
    }

    /// The node's libp2p peer id.
    pub fn peer_id(&self, node: NodeId) -> Option<PeerId> {
        self.peer_ids.get(node.index()).copied()
    }

    /// The node's position in the DHT's key space: `Key::for_node(peer key)` in
    /// [`KeySpace::Sharenet`], `sha256(peer id)` in [`KeySpace::Libp2p`].
    pub fn position(&self, node: NodeId) -> Option<Key> {
        self.positions.get(node.index()).copied()
    }

    /// The position of a record or pool key in the DHT's key space: the key itself in
    /// [`KeySpace::Sharenet`], `sha256(key bytes)` in [`KeySpace::Libp2p`] (what libp2p-kad
    /// computes for a `RecordKey`).
    pub fn target_of(&self, key: &Key) -> Key {
        record_target(self.key_space, key)
    }

    /// The chain's active set: the live nodes' [`NodeInfo`]s in registration order.
    pub fn active_set(&self) -> Vec<NodeInfo> {
        self.live_nodes()
            .into_iter()
            .map(|n| self.nodes[n.index()].info.clone())
            .collect()
    }

    /// The entries of `node`'s routing table (live or not), bucket by bucket from the closest.
    pub fn routing_table(&self, node: NodeId) -> Vec<NodeId> {
        self.nodes
            .get(node.index())
            .map(|n| n.buckets.iter().flatten().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `node`'s store holds a record under `key`.
    pub fn holds(&self, node: NodeId, key: &Key) -> bool {
        self.nodes
            .get(node.index())
            .is_some_and(|n| n.store.get(&key.to_record_key()).is_some())
    }

    /// The live nodes whose store holds a record under `key` (brute force over every node).
    pub fn holders(&self, key: &Key) -> Vec<NodeId> {
        self.live_nodes()
            .into_iter()
            .filter(|n| self.holds(*n, key))
            .collect()
    }

    /// Requests sent so far by joins, bootstraps, puts and replication.
    pub fn maintenance_requests(&self) -> u64 {
        self.maintenance_requests
    }

    /// A new node joins: a fresh identity, then [`Bootstrap::Kademlia`] (add one random live
    /// node, then bootstrap) or [`Bootstrap::ChainSeeded`] (add every live node from the
    /// chain's list, every live node adds it, then bootstrap). The first node just starts.
    pub fn join(&mut self) -> Result<NodeId, ScaleError> {
        let live = self.live_nodes();
        let id = self.create_node()?;
        match self.bootstrap_mode {
            Bootstrap::Kademlia => {
                if !live.is_empty() {
                    let via = live[self.rng.random_range(0..live.len())];
                    self.observe(id, via);
                }
            }
            Bootstrap::ChainSeeded => {
                for other in live {
                    self.observe(id, other);
                    self.observe(other, id);
                }
            }
        }
        self.bootstrap(id);
        Ok(id)
    }

    /// `node` leaves: it stops answering and its store is gone. Other nodes' routing tables
    /// keep it until a newcomer replaces it (see [`Network::observe`]).
    pub fn leave(&mut self, node: NodeId) {
        if let Some(a) = self.alive.get_mut(node.index()) {
            *a = false;
        }
        if let Some(n) = self.nodes.get_mut(node.index()) {
            let keys: Vec<RecordKey> = n.store.records().map(|r| r.key.clone()).collect();
            for key in keys {
                n.store.remove(&key);
            }
            n.skipped.clear();
        }
    }

    /// `count` live nodes chosen at random leave, then `count` fresh nodes join (each one
    /// after the other, through [`Network::join`]). Returns the departed and the new nodes.
    pub fn churn(&mut self, count: usize) -> Result<(Vec<NodeId>, Vec<NodeId>), ScaleError> {
        let mut live = self.live_nodes();
        live.shuffle(&mut self.rng);
        let mut left: Vec<NodeId> = live.into_iter().take(count).collect();
        left.sort();
        for node in &left {
            self.leave(*node);
        }
        let mut joined = Vec::with_capacity(count);
        for _ in 0..count {
            joined.push(self.join()?);
        }
        Ok((left, joined))
    }

    fn create_node(&mut self) -> Result<NodeId, ScaleError> {
        let index = u32::try_from(self.nodes.len()).map_err(|_| ScaleError::TooManyNodes)?;
        let mut secret: [u8; 32] = self.rng.random();
        let keypair =
            Keypair::ed25519_from_bytes(&mut secret).map_err(|e| ScaleError::Identity {
                reason: e.to_string(),
            })?;
        let peer_key = keypair
            .public()
            .try_into_ed25519()
            .map_err(|e| ScaleError::Identity {
                reason: e.to_string(),
            })?
            .to_bytes();
        let peer_id = keypair.public().to_peer_id();
        let account: [u8; 20] = self.rng.random();
        let position = match self.key_space {
            KeySpace::Sharenet => Key::for_node(&peer_key),
            KeySpace::Libp2p => {
                hashed(KBucketKey::from(peer_id).hashed_bytes()).ok_or_else(|| {
                    ScaleError::Identity {
                        reason: "libp2p key is not 32 bytes".to_owned(),
                    }
                })?
            }
        };
        // The durable copy is not simulated: the receiving end is dropped, so every persist op
        // is counted as undeliverable and otherwise ignored.
        let (persist, _) = persist_channel(1);
        let store_config = StoreConfig {
            clock: Clock::from_fn(|| SIM_NOW_UNIX),
            ..StoreConfig::default()
        };
        self.nodes.push(SimNode {
            info: NodeInfo {
                account,
                peer_key,
                network_address: format!("/memory/{}", u64::from(index) + 1),
            },
            buckets: vec![Vec::new(); BUCKETS],
            store: PersistentRecordStore::new(peer_id, store_config, persist),
            skipped: HashSet::new(),
            phase: self.rng.random(),
        });
        self.peer_ids.push(peer_id);
        self.positions.push(position);
        self.alive.push(true);
        Ok(NodeId(index))
    }

    /// `at` learns of `peer` (a connection was established): libp2p moves a known peer to the
    /// most-recently-seen end of its bucket and appends a new one if the bucket has room. A
    /// full bucket keeps its live entries (the newcomer is dropped) but gives the place of a
    /// departed entry to the newcomer: libp2p makes the newcomer pending and replaces the
    /// least-recently-connected *disconnected* entry with it; a departed node is disconnected.
    pub fn observe(&mut self, at: NodeId, peer: NodeId) {
        if at == peer || at.index() >= self.nodes.len() || peer.index() >= self.nodes.len() {
            return;
        }
        let distance = self.positions[at.index()].distance(&self.positions[peer.index()]);
        let Some(b) = distance.bucket_index() else {
            return;
        };
        let alive = &self.alive;
        let bucket = &mut self.nodes[at.index()].buckets[usize::from(b)];
        if let Some(i) = bucket.iter().position(|n| *n == peer) {
            bucket.remove(i);
            bucket.push(peer);
        } else if bucket.len() < self.k {
            bucket.push(peer);
        } else if let Some(i) = bucket.iter().position(|n| !alive[n.index()]) {
            bucket.remove(i);
            bucket.push(peer);
        }
    }

    /// The (at most `count`) entries of `node`'s routing table closest to `target`, closest
    /// first, without `exclude` (a node never lists the requester back to it), with positions.
    fn closest_entries(
        &self,
        node: NodeId,
        target: &Key,
        count: usize,
        exclude: Option<NodeId>,
    ) -> Vec<(NodeId, Key)> {
        let mut all: Vec<(Distance, NodeId)> = self.nodes[node.index()]
            .buckets
            .iter()
            .flatten()
            .filter(|n| Some(**n) != exclude)
            .map(|n| (self.positions[n.index()].distance(target), *n))
            .collect();
        if all.len() > count {
            all.select_nth_unstable(count);
            all.truncate(count);
        }
        all.sort_unstable();
        all.into_iter()
            .map(|(_, n)| (n, self.positions[n.index()]))
            .collect()
    }

    /// The iterative lookup, read-only: returns what it found and the peers that answered.
    fn walk(&self, from: NodeId, target: &Key, want: Option<&RecordKey>) -> Walk {
        let mut iter = ClosestIter::new(
            *target,
            self.k,
            self.alpha,
            self.closest_entries(from, target, self.k, None),
        );
        let mut walk = Walk::default();
        // Requests in flight with the time their answer arrives. Every request takes one time
        // unit, so answers arrive in the order the requests were sent and a FIFO is the whole
        // event queue.
        let mut in_flight: VecDeque<(u32, NodeId)> = VecDeque::new();
        let mut now = 0u32;
        // Sends every request the iterator allows now; true when the lookup is over.
        fn issue(
            iter: &mut ClosestIter,
            now: u32,
            in_flight: &mut VecDeque<(u32, NodeId)>,
        ) -> bool {
            loop {
                match iter.next() {
                    Next::Contact(n) => in_flight.push_back((now + 1, n)),
                    Next::Wait => return false,
                    Next::Finished => return true,
                }
            }
        }
        let mut finished = issue(&mut iter, now, &mut in_flight);
        while !finished {
            // Rounds: wait for every answer of this round before sending again. Eager (libp2p):
            // send again after each answer, to the best peer known at that moment.
            let batch = match self.lookup_model {
                LookupModel::Rounds => in_flight.iter().filter(|(t, _)| *t == now + 1).count(),
                LookupModel::Eager => 1,
            };
            if in_flight.is_empty() {
                break;
            }
            for _ in 0..batch {
                let Some((arrival, peer)) = in_flight.pop_front() else {
                    break;
                };
                now = arrival;
                walk.hops = arrival;
                walk.requests += 1;
                let pos = self.positions[peer.index()];
                if !self.alive[peer.index()] {
                    walk.failed += 1;
                    iter.on_failure(peer, &pos);
                    continue;
                }
                walk.answered.push(peer);
                if let Some(key) = want
                    && walk.found.is_none()
                    && let Some(record) = self.nodes[peer.index()].store.get(key)
                {
                    walk.found = Some((peer, record.into_owned()));
                }
                iter.on_success(
                    peer,
                    &pos,
                    self.closest_entries(peer, target, self.k, Some(from)),
                );
            }
            if walk.found.is_some() {
                // The node takes the first valid record (libp2p reports each record as it
                // arrives): the answer that brought it ends the lookup.
                iter.finish();
                break;
            }
            finished = issue(&mut iter, now, &mut in_flight);
        }
        // Requests still in flight when the lookup ended were sent too.
        walk.requests += in_flight.len() as u32;
        walk.closest = iter.into_result();
        walk
    }

    /// A lookup of the k closest nodes to `target` (a DHT position, see
    /// [`Network::target_of`]) from `from`, as `get_closest_peers` does. Changes nothing.
    pub fn lookup(&self, from: NodeId, target: &Key) -> Result<Lookup, ScaleError> {
        self.check_live(from)?;
        Ok(self.walk(from, target, None).into_lookup())
    }

    /// A `get_record` of the record stored under the sharenet `key` from `from`: its own store
    /// first, then an iterative lookup that ends with the first record found; the record is
    /// validated (signature, key, content) as the node does. Changes nothing.
    pub fn get(&self, from: NodeId, key: &Key) -> Result<Get, ScaleError> {
        self.check_live(from)?;
        let record_key = key.to_record_key();
        if let Some(record) = self.nodes[from.index()].store.get(&record_key) {
            return Ok(Get {
                record: SignedRecord::validate_kad_record(&record, SIM_NOW_UNIX).ok(),
                from: Some(from),
                hops: 0,
                requests: 0,
                failed: 0,
            });
        }
        let walk = self.walk(from, &self.target_of(key), Some(&record_key));
        let (holder, record) = match walk.found {
            Some((peer, record)) => (
                Some(peer),
                SignedRecord::validate_kad_record(&record, SIM_NOW_UNIX).ok(),
            ),
            None => (None, None),
        };
        Ok(Get {
            record,
            from: holder,
            hops: walk.hops,
            requests: walk.requests,
            failed: walk.failed,
        })
    }

    fn check_live(&self, node: NodeId) -> Result<(), ScaleError> {
        if self.is_alive(node) {
            Ok(())
        } else {
            Err(ScaleError::NotLive { node: node.0 })
        }
    }

    /// A lookup that updates routing tables: both ends of every answered request learn of
    /// each other.
    fn lookup_mut(&mut self, from: NodeId, target: &Key) -> Lookup {
        let walk = self.walk(from, target, None);
        for &peer in &walk.answered {
            self.observe(from, peer);
            self.observe(peer, from);
        }
        self.maintenance_requests += u64::from(walk.requests);
        walk.into_lookup()
    }

    /// libp2p's `bootstrap()`: a lookup of the node's own position, then one lookup of a
    /// random key in each bucket farther than the closest non-empty one (a "bucket refresh").
    /// Does nothing for a node with an empty routing table (libp2p: `NoKnownPeers`).
    pub fn bootstrap(&mut self, node: NodeId) {
        if !self.is_alive(node) || self.nodes[node.index()].buckets.iter().all(Vec::is_empty) {
            return;
        }
        let own = self.positions[node.index()];
        self.lookup_mut(node, &own);
        let first = self.nodes[node.index()]
            .buckets
            .iter()
            .position(|b| !b.is_empty());
        let Some(first) = first else {
            return;
        };
        for bucket in first + 1..BUCKETS {
            let target = self.random_key_in_bucket(&own, bucket);
            self.lookup_mut(node, &target);
        }
    }

    /// Every live node runs [`Network::bootstrap`] once, in a random order (libp2p repeats it
    /// every 5 minutes).
    pub fn refresh_all(&mut self) {
        let mut order = self.live_nodes();
        order.shuffle(&mut self.rng);
        for node in order {
            self.bootstrap(node);
        }
    }

    /// A key whose distance to `own` falls in bucket `bucket` (`2^bucket <= d < 2^(bucket+1)`).
    /// libp2p draws random peer ids until one falls in the bucket (16 tries at most); drawing
    /// the distance directly gives the key it is looking for.
    fn random_key_in_bucket(&mut self, own: &Key, bucket: usize) -> Key {
        let mut d: [u8; 32] = self.rng.random();
        let byte = 31 - bucket / 8;
        let bit = bucket % 8;
        for b in d.iter_mut().take(byte) {
            *b = 0;
        }
        let keep = (1u16 << bit) as u8;
        d[byte] = (d[byte] & keep.wrapping_sub(1)) | keep;
        let mut out = own.to_bytes();
        for (o, x) in out.iter_mut().zip(d) {
            *o ^= x;
        }
        Key::from_bytes(out)
    }

    /// libp2p's `put_record` from `from`: the record is stored locally (with `from` as its
    /// publisher), then at the k closest nodes a lookup of its key finds. The record's key must
    /// be a sharenet key (32 bytes).
    pub fn put_record(&mut self, from: NodeId, mut record: Record) -> Result<Put, ScaleError> {
        self.check_live(from)?;
        let key = Key::try_from(&record.key).map_err(|e| ScaleError::Record {
            reason: e.to_string(),
        })?;
        record.publisher = Some(self.peer_ids[from.index()]);
        self.nodes[from.index()]
            .store
            .try_put(record.clone())
            .map_err(|refusal| ScaleError::Record {
                reason: format!("the publisher's own store refused it: {refusal:?}"),
            })?;
        let target = self.target_of(&key);
        let lookup = self.lookup_mut(from, &target);
        let (stored_at, refused) = self.store_at(&lookup.closest, &record);
        Ok(Put {
            lookup,
            stored_at,
            refused,
        })
    }

    /// PUT requests for `record` to `peers`; returns who accepted it and how many refused.
    fn store_at(&mut self, peers: &[NodeId], record: &Record) -> (Vec<NodeId>, u32) {
        let mut stored = Vec::with_capacity(peers.len());
        let mut refused = 0;
        for &peer in peers {
            self.maintenance_requests += 1;
            let node = &mut self.nodes[peer.index()];
            if node.store.try_put(record.clone()).is_ok() {
                node.skipped.insert(record.key.clone());
                stored.push(peer);
            } else {
                refused += 1;
            }
        }
        (stored, refused)
    }

    /// One replication interval of libp2p's `PutRecordJob` (1 hour by default): every live
    /// node, in the order of its timer's phase, re-puts each record it holds to the k closest
    /// nodes a fresh lookup finds, except the records it published itself (those wait for the
    /// publication interval, 22 hours) and those it received by a PUT since its last run (the
    /// sender has just replicated them). So in a settled network the holder whose timer fires
    /// first replicates a record each hour and the others skip it; right after a publication,
    /// everybody skips it.
    pub fn replicate(&mut self) -> Replication {
        let mut out = Replication::default();
        let mut order = self.live_nodes();
        order.sort_by_key(|n| (self.nodes[n.index()].phase, *n));
        for node in order {
            let me = self.peer_ids[node.index()];
            let n = &mut self.nodes[node.index()];
            let mut records: Vec<Record> = Vec::new();
            for r in n.store.records() {
                if r.publisher == Some(me) {
                    continue;
                }
                if n.skipped.contains(&r.key) {
                    out.records_skipped += 1;
                } else {
                    records.push(r.into_owned());
                }
            }
            n.skipped.clear();
            // The store iterates a hash map: sort so that the run does not depend on its seed.
            records.sort_by(|a, b| a.key.as_ref().cmp(b.key.as_ref()));
            for record in records {
                let Ok(key) = Key::try_from(&record.key) else {
                    continue;
                };
                let before = self.maintenance_requests;
                let target = self.target_of(&key);
                let lookup = self.lookup_mut(node, &target);
                let (stored, _) = self.store_at(&lookup.closest, &record);
                out.records_replicated += 1;
                out.puts_accepted += stored.len() as u64;
                out.requests += self.maintenance_requests - before;
            }
        }
        out
    }

    /// The live nodes sorted by distance of their position to `target` (brute force), without
    /// `exclude`: what a perfect lookup from `exclude` would return (take the first k).
    pub fn true_closest(&self, target: &Key, exclude: Option<NodeId>) -> Vec<NodeId> {
        let mut all: Vec<(Distance, NodeId)> = self
            .live_nodes()
            .into_iter()
            .filter(|n| Some(*n) != exclude)
            .map(|n| (self.positions[n.index()].distance(target), n))
            .collect();
        all.sort_unstable();
        all.into_iter().map(|(_, n)| n).collect()
    }
}

#[derive(Default)]
struct Walk {
    closest: Vec<NodeId>,
    answered: Vec<NodeId>,
    found: Option<(NodeId, Record)>,
    hops: u32,
    requests: u32,
    failed: u32,
}

impl Walk {
    fn into_lookup(self) -> Lookup {
        Lookup {
            closest: self.closest,
            hops: self.hops,
            requests: self.requests,
            failed: self.failed,
        }
    }
}
