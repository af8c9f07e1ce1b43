//! A libp2p-kad record store that validates every record before it stores it, keeps a bounded
//! in-memory index, and hands every change to a durable copy without blocking.
//!
//! Durability: every put and remove becomes a [`PersistOp`] sent with `try_send` on a bounded
//! `std::sync::mpsc::sync_channel`. The node drains the receiver on a blocking thread (never the
//! swarm's poll loop) and writes each op into its database. If the channel is full the op is not
//! sent: the in-memory state is kept, the drop is counted, and the key is remembered (in a set of
//! at most [`StoreConfig::max_pending_persist`] keys); the next put/remove or
//! [`PersistentRecordStore::flush_pending`] first re-sends the *current* state of every remembered
//! key. Ops are idempotent ("key K now holds R" / "key K is gone"), so re-sending is safe. Keys
//! beyond the pending bound are lost to the durable copy until Kademlia's re-replication or
//! re-publication puts them again (counted in `persist_lost`).
//!
//! Provider records are kept in memory only (bounded), as in libp2p's `MemoryStore`: providers
//! re-announce themselves periodically.
//!
//! Ownership (with a [`ChainView`], a node's store): a record the chain confirms (an active
//! node's announcement, the manifest whose hash the chain registered) is always taken, within
//! `max_records`, and takes its key over from one the chain does not confirm; a manifest the
//! chain contradicts is refused; a record the chain says nothing about yet is taken only while
//! few such records are held (`max_unconfirmed`, `max_unconfirmed_per_signer`), so that nobody
//! can fill the store with records of made-up keys or datasets. `recheck` applies what the chain
//! learnt since to the records held.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, hash_map, hash_set};
use std::fmt;
use std::iter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use libp2p::PeerId;
use libp2p::kad::store::{Error as KadStoreError, RecordStore, Result as KadResult};
use libp2p::kad::{ProviderRecord, Record, RecordKey};

use crate::chain_view::{ChainView, Claim, Standing};
use crate::codec::{DecodeError, Reader, Writer, check_len};
use crate::key::{KEY_LEN, hex};
use crate::record::{
    ENVELOPE_HEADER_LEN, MAX_RECORD_SIZE, RecordContent, RecordError, SignedRecord, ValidRecord,
    expiry_instant,
};

/// Default capacity of the persistence channel.
pub const DEFAULT_PERSIST_CHANNEL: usize = 1024;
/// Longest peer id accepted in a persisted entry.
const MAX_PEER_ID_LEN: usize = 64;
/// Version byte of a persisted entry.
pub const STORED_RECORD_VERSION: u8 = 1;

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A persisted entry is not well formed.
    #[error("malformed persisted record: {0}")]
    Malformed(#[from] DecodeError),
    /// A persisted entry has an unknown version byte.
    #[error("persisted record version {version} is not supported")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
}

/// Where the store reads the wall clock (unix seconds) it validates timestamps against.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        }))
    }

    /// A clock reading the given function (for tests and simulations).
    pub fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// The current time in unix seconds.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Limits and clock of a [`PersistentRecordStore`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Most value records held.
    pub max_records: usize,
    /// Largest record value in bytes (at most [`MAX_RECORD_SIZE`] is ever accepted).
    pub max_record_size: usize,
    /// Most provider records kept per key.
    pub max_providers_per_key: usize,
    /// Most keys with provider records.
    pub max_provider_keys: usize,
    /// Most keys remembered for re-sending after the persistence channel was full.
    pub max_pending_persist: usize,
    /// The wall clock used to validate timestamps and convert expiries.
    pub clock: Clock,
    /// What the chain says about records' owners (a node's store); `None` for a store that
    /// cannot ask (a client's), which then keeps the first valid signer of each key.
    pub chain: Option<ChainView>,
    /// With a chain view: most records held that the chain does not confirm (yet).
    pub max_unconfirmed: usize,
    /// With a chain view: most records of one signer held that the chain does not confirm.
    pub max_unconfirmed_per_signer: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_records: 4096,
            max_record_size: MAX_RECORD_SIZE,
            max_providers_per_key: libp2p::kad::K_VALUE.get(),
            max_provider_keys: 1024,
            max_pending_persist: 4096,
            clock: Clock::system(),
            chain: None,
            max_unconfirmed: 256,
            max_unconfirmed_per_signer: 8,
        }
    }
}

/// Counters of the store, shared with the node's metrics (read them with `load(Relaxed)`).
#[derive(Debug, Default)]
pub struct StoreCounters {
    /// Records refused because they failed validation.
    pub refused_invalid: AtomicU64,
    /// Records refused because they exceed the size limit.
    pub refused_too_large: AtomicU64,
    /// Records refused because the store holds `max_records`.
    pub refused_full: AtomicU64,
    /// Records refused because they are older than the stored record under the same key.
    pub refused_stale: AtomicU64,
    /// Manifests refused because another key signed the stored manifest of that dataset.
    pub refused_conflict: AtomicU64,
    /// Manifests refused because the chain registered another manifest for their dataset.
    pub refused_not_registered: AtomicU64,
    /// Records refused because too many records the chain does not confirm are held (in all,
    /// or of their signer).
    pub refused_unconfirmed: AtomicU64,
    /// Records removed because the chain came to contradict them.
    pub removed_contradicted: AtomicU64,
    /// Provider records refused by a provider limit.
    pub refused_providers: AtomicU64,
    /// Persistence ops not sent because the channel was full (their keys are retried).
    pub persist_dropped: AtomicU64,
    /// Keys not retried because the pending set was full.
    pub persist_lost: AtomicU64,
    /// Persistence ops not sent because the receiver is gone.
    pub persist_disconnected: AtomicU64,
    /// Records skipped at load because they failed validation (or did not fit).
    pub load_skipped_invalid: AtomicU64,
    /// Records skipped at load because they had expired.
    pub load_skipped_expired: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A record as persisted: its local expiry converted to wall-clock time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record key.
    pub key: Vec<u8>,
    /// The record value (a [`SignedRecord`] envelope).
    pub value: Vec<u8>,
    /// The Kademlia publisher (the local peer for records this node publishes).
    pub publisher: Option<PeerId>,
    /// When the record expires (unix seconds), if it does.
    pub expires_at: Option<u64>,
}

impl StoredRecord {
    /// The persisted form of a Kademlia record, at wall-clock `now_unix` and instant `now`.
    pub fn from_record(record: &Record, now_unix: u64, now: Instant) -> Self {
        StoredRecord {
            key: record.key.to_vec(),
            value: record.value.clone(),
            publisher: record.publisher,
            expires_at: record.expires.map(|e| {
                let left = e.saturating_duration_since(now).as_secs();
                now_unix.saturating_add(left)
            }),
        }
    }

    /// Back to a Kademlia record, at wall-clock `now_unix` and instant `now`.
    pub fn to_record(&self, now_unix: u64, now: Instant) -> Record {
        let mut r = Record::new(self.key.clone(), self.value.clone());
        r.publisher = self.publisher;
        r.expires = match self.expires_at {
            // Already expired: expire now, so that `load` skips it.
            Some(at) if at <= now_unix => Some(now),
            at => expiry_instant(at, now_unix, now),
        };
        r
    }

    /// The bytes to write in the database (layout in `docs/dht.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(STORED_RECORD_VERSION);
        w.bytes16(&self.key);
        match &self.publisher {
            Some(p) => {
                w.u8(1);
                w.bytes16(&p.to_bytes());
            }
            None => w.u8(0),
        }
        match self.expires_at {
            Some(at) => {
                w.u8(1);
                w.u64(at);
            }
            None => w.u8(0),
        }
        w.u32(u32::try_from(self.value.len()).unwrap_or(u32::MAX));
        w.bytes(&self.value);
        w.finish()
    }

    /// Parses bytes written by [`StoredRecord::encode`] (bounded; never panics).
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != STORED_RECORD_VERSION {
            return Err(StoreError::UnsupportedVersion { version });
        }
        let key = r.bytes16("key", KEY_LEN, KEY_LEN)?.to_vec();
        let publisher = match r.u8("publisher")? {
            0 => None,
            1 => {
                let b = r.bytes16("publisher", 1, MAX_PEER_ID_LEN)?;
                Some(PeerId::from_bytes(b).map_err(|_| DecodeError::BadValue {
                    field: "publisher",
                    reason: "not a peer id",
                })?)
            }
            _ => {
                return Err(DecodeError::BadValue {
                    field: "publisher",
                    reason: "presence flag is not 0 or 1",
                }
                .into());
            }
        };
        let expires_at = match r.u8("expires_at")? {
            0 => None,
            1 => Some(r.u64("expires_at")?),
            _ => {
                return Err(DecodeError::BadValue {
                    field: "expires_at",
                    reason: "presence flag is not 0 or 1",
                }
                .into());
            }
        };
        let len = usize::try_from(r.u32("value_len")?).unwrap_or(usize::MAX);
        check_len("value", len, ENVELOPE_HEADER_LEN, MAX_RECORD_SIZE)?;
        let value = r.take(len, "value")?.to_vec();
        r.finish()?;
        Ok(StoredRecord {
            key,
            value,
            publisher,
            expires_at,
        })
    }
}

/// A change for the durable copy of the store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersistOp {
    /// Key `record.key` now holds `record` (insert or replace).
    Put(StoredRecord),
    /// Key `key` no longer holds a record.
    Remove {
        /// The record key.
        key: Vec<u8>,
    },
}

impl PersistOp {
    /// The record key the op is about.
    pub fn key(&self) -> &[u8] {
        match self {
            PersistOp::Put(r) => &r.key,
            PersistOp::Remove { key } => key,
        }
    }
}

/// A bounded persistence channel: give the sender to the store, drain the receiver off the
/// async runtime.
pub fn persist_channel(capacity: usize) -> (SyncSender<PersistOp>, Receiver<PersistOp>) {
    std::sync::mpsc::sync_channel(capacity)
}

/// A file-free durable copy, for tests and the simulator: applies ops to a map.
#[derive(Debug, Default)]
pub struct MemoryPersistence {
    entries: HashMap<Vec<u8>, Vec<u8>>,
}

impl MemoryPersistence {
    /// An empty copy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one op (storing the encoded bytes, as a database would).
    pub fn apply(&mut self, op: PersistOp) {
        match op {
            PersistOp::Put(r) => {
                self.entries.insert(r.key.clone(), r.encode());
            }
            PersistOp::Remove { key } => {
                self.entries.remove(&key);
            }
        }
    }

    /// Applies every op waiting in `rx` without blocking; returns how many.
    pub fn drain(&mut self, rx: &Receiver<PersistOp>) -> usize {
        let mut n = 0;
        while let Ok(op) = rx.try_recv() {
            self.apply(op);
            n += 1;
        }
        n
    }

    /// Number of persisted records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is persisted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The persisted bytes of a key.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Inserts raw bytes under a key (to simulate a corrupted or tampered database in tests).
    pub fn insert_raw(&mut self, key: Vec<u8>, bytes: Vec<u8>) {
        self.entries.insert(key, bytes);
    }

    /// The persisted records as Kademlia records (entries that do not decode are skipped and
    /// counted in the second value).
    pub fn records(&self, now_unix: u64, now: Instant) -> (Vec<Record>, usize) {
        let mut out = Vec::with_capacity(self.entries.len());
        let mut bad = 0;
        for bytes in self.entries.values() {
            match StoredRecord::decode(bytes) {
                Ok(s) => out.push(s.to_record(now_unix, now)),
                Err(_) => bad += 1,
            }
        }
        (out, bad)
    }
}

/// A stored record with what the store remembers to decide on replacements (opaque; it only
/// appears in the type of [`RecordStore::records`]'s iterator).
#[derive(Clone, Debug)]
pub struct Entry {
    record: Record,
    signer: [u8; 32],
    /// `(version, created_at)` of a manifest, `(timestamp, epoch)` of an announcement.
    order: (u64, u64),
    /// What the chain can check about it.
    claim: Claim,
    /// Whether the chain confirms it (always false in a store without a chain view).
    confirmed: bool,
}

fn order_of(v: &ValidRecord) -> (u64, u64) {
    match &v.content {
        RecordContent::Manifest(m) => (m.version, m.created_at),
        RecordContent::Announcement(a) => (a.timestamp, a.epoch),
    }
}

fn claim_of(v: &ValidRecord) -> Claim {
    match &v.content {
        RecordContent::Manifest(m) => Claim::Manifest {
            dataset: m.dataset_id,
            hash: m.manifest_hash(),
        },
        RecordContent::Announcement(a) => Claim::Node(a.peer_key),
    }
}

/// Why a record was refused by [`PersistentRecordStore::try_put`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The record is larger than the limit.
    TooLarge,
    /// The record failed validation.
    Invalid(RecordError),
    /// The store is full.
    Full,
    /// A newer record is stored under the key.
    Stale,
    /// Another key signed the stored manifest.
    Conflict,
    /// The record has already expired.
    Expired,
    /// The chain registered another manifest for this dataset.
    NotRegistered,
    /// The chain does not confirm the record, and the store holds as many such records as it
    /// takes (in all, or of this signer).
    Unconfirmed,
}

/// The sharenet Kademlia record store (see the module documentation).
pub struct PersistentRecordStore {
    local_peer: PeerId,
    config: StoreConfig,
    records: HashMap<RecordKey, Entry>,
    providers: HashMap<RecordKey, Vec<ProviderRecord>>,
    provided: HashSet<ProviderRecord>,
    persist: SyncSender<PersistOp>,
    pending: HashSet<RecordKey>,
    counters: Arc<StoreCounters>,
    /// Records held that the chain does not confirm, per signer (with a chain view).
    unconfirmed: HashMap<[u8; 32], usize>,
}

impl fmt::Debug for PersistentRecordStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersistentRecordStore")
            .field("local_peer", &self.local_peer)
            .field("records", &self.records.len())
            .field("provider_keys", &self.providers.len())
            .field("pending_persist", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl PersistentRecordStore {
    /// An empty store for the node `local_peer`, sending its changes to `persist`.
    pub fn new(local_peer: PeerId, config: StoreConfig, persist: SyncSender<PersistOp>) -> Self {
        PersistentRecordStore {
            local_peer,
            config,
            records: HashMap::new(),
            providers: HashMap::new(),
            provided: HashSet::new(),
            persist,
            pending: HashSet::new(),
            counters: Arc::new(StoreCounters::default()),
            unconfirmed: HashMap::new(),
        }
    }

    /// A store filled at start-up with the records read back from the durable copy. Each record
    /// is validated again; invalid, expired or over-limit records are skipped, counted, and a
    /// `Remove` is sent for them so that the durable copy forgets them too. Loaded records are
    /// not sent back as `Put`s.
    pub fn load(
        local_peer: PeerId,
        config: StoreConfig,
        persist: SyncSender<PersistOp>,
        records: impl IntoIterator<Item = Record>,
    ) -> Self {
        let mut store = Self::new(local_peer, config, persist);
        let now_unix = store.config.clock.now();
        let now = Instant::now();
        for record in records {
            if record.is_expired(now) {
                bump(&store.counters.load_skipped_expired);
                store.send(PersistOp::Remove {
                    key: record.key.to_vec(),
                });
                continue;
            }
            let key = record.key.to_vec();
            // Records stored before are taken back whatever the quota for unconfirmed ones (the
            // chain view is filled later); `recheck` then confirms or removes them.
            match store.admit(record, now_unix, now, false) {
                Ok(()) => {}
                Err(Refusal::Expired) => {
                    bump(&store.counters.load_skipped_expired);
                    store.send(PersistOp::Remove { key });
                }
                // Over the record limit: valid, so kept in the durable copy (a later start with a
                // larger limit loads it), but not held now.
                Err(Refusal::Full) => {
                    bump(&store.counters.load_skipped_invalid);
                }
                // The same key twice in the input: the record kept is the newer one and stays
                // in the durable copy, so no `Remove`.
                Err(Refusal::Stale | Refusal::Conflict | Refusal::Unconfirmed) => {
                    bump(&store.counters.load_skipped_invalid);
                }
                Err(Refusal::TooLarge | Refusal::Invalid(_) | Refusal::NotRegistered) => {
                    bump(&store.counters.load_skipped_invalid);
                    store.send(PersistOp::Remove { key });
                }
            }
        }
        store
    }

    /// The counters (clone the `Arc` before the store moves into the Kademlia behaviour).
    pub fn counters(&self) -> Arc<StoreCounters> {
        Arc::clone(&self.counters)
    }

    /// The limits in force.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Number of value records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no value record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Number of keys waiting to be re-sent to the durable copy.
    pub fn pending_persist(&self) -> usize {
        self.pending.len()
    }

    /// Like [`RecordStore::put`], but says why a record was refused.
    pub fn try_put(&mut self, record: Record) -> Result<(), Refusal> {
        let now_unix = self.config.clock.now();
        let now = Instant::now();
        let key = record.key.clone();
        self.admit(record, now_unix, now, true)?;
        if let Some(entry) = self.records.get(&key) {
            let op = PersistOp::Put(StoredRecord::from_record(&entry.record, now_unix, now));
            self.flush_pending();
            self.send(op);
        }
        Ok(())
    }

    /// How the chain stands to `claim` (`Unknown` without a chain view).
    fn standing(&self, claim: &Claim) -> Standing {
        self.config
            .chain
            .as_ref()
            .map_or(Standing::Unknown, |view| view.standing(claim))
    }

    /// Records held that the chain does not confirm, in all.
    pub fn unconfirmed(&self) -> usize {
        self.unconfirmed.values().sum()
    }

    fn count_unconfirmed(&mut self, entry: &Entry, add: bool) {
        if entry.confirmed || self.config.chain.is_none() {
            return;
        }
        let n = self.unconfirmed.entry(entry.signer).or_insert(0);
        if add {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.unconfirmed.remove(&entry.signer);
            }
        }
    }

    /// Whether one more unconfirmed record of `signer` fits.
    fn unconfirmed_fits(&self, signer: &[u8; 32]) -> bool {
        self.unconfirmed() < self.config.max_unconfirmed
            && self.unconfirmed.get(signer).copied().unwrap_or(0)
                < self.config.max_unconfirmed_per_signer
    }

    /// Validates and inserts a record without persisting it; `quota`: whether the limits on
    /// unconfirmed records apply (not to records loaded back from the durable copy).
    fn admit(
        &mut self,
        mut record: Record,
        now_unix: u64,
        now: Instant,
        quota: bool,
    ) -> Result<(), Refusal> {
        let max_size = self.config.max_record_size.min(MAX_RECORD_SIZE);
        if record.value.len() > max_size {
            bump(&self.counters.refused_too_large);
            return Err(Refusal::TooLarge);
        }
        let valid = match SignedRecord::validate_kad_record(&record, now_unix) {
            Ok(v) => v,
            Err(RecordError::Expired { .. }) => {
                bump(&self.counters.refused_invalid);
                return Err(Refusal::Expired);
            }
            Err(e) => {
                tracing::debug!(key = %hex(record.key.as_ref()), error = %e, "DHT record refused");
                bump(&self.counters.refused_invalid);
                return Err(Refusal::Invalid(e));
            }
        };
        let content_expiry = expiry_instant(valid.content.expires_at(), now_unix, now);
        record.expires = match (record.expires, content_expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if record.is_expired(now) {
            bump(&self.counters.refused_invalid);
            return Err(Refusal::Expired);
        }
        let order = order_of(&valid);
        let signer = valid.signer_public_key;
        let claim = claim_of(&valid);
        let confirmed = match self.standing(&claim) {
            Standing::Confirmed => true,
            Standing::Unknown => false,
            Standing::Contradicted => {
                bump(&self.counters.refused_not_registered);
                return Err(Refusal::NotRegistered);
            }
        };
        let entry = Entry {
            record,
            signer,
            order,
            claim,
            confirmed,
        };
        let key = entry.record.key.clone();
        let old = self.records.get(&key);
        if let Some(old) = old {
            // What the chain confirms takes the key from what it does not (a squatter's
            // manifest stored first, a record kept from before the chain view was filled);
            // otherwise the first signer of a manifest keeps it, and nothing older replaces
            // anything newer.
            let takes_over = confirmed && !old.confirmed;
            if !takes_over {
                if matches!(claim, Claim::Manifest { .. }) && old.signer != signer {
                    bump(&self.counters.refused_conflict);
                    return Err(Refusal::Conflict);
                }
                if order < old.order {
                    bump(&self.counters.refused_stale);
                    return Err(Refusal::Stale);
                }
            }
        } else if self.records.len() >= self.config.max_records {
            bump(&self.counters.refused_full);
            return Err(Refusal::Full);
        }
        let needs_room = !confirmed
            && self.config.chain.is_some()
            && old.is_none_or(|o| o.confirmed || o.signer != signer);
        if quota && needs_room && !self.unconfirmed_fits(&signer) {
            bump(&self.counters.refused_unconfirmed);
            return Err(Refusal::Unconfirmed);
        }
        self.count_unconfirmed(&entry, true);
        if let Some(old) = self.records.insert(key, entry) {
            self.count_unconfirmed(&old, false);
        }
        Ok(())
    }

    /// Asks the chain view again about every record held: records it now confirms are counted
    /// as confirmed, records it now contradicts (a squatter's manifest, an old version after an
    /// append) are removed. Returns how many were removed. The node calls it on a timer.
    pub fn recheck(&mut self) -> usize {
        let Some(view) = self.config.chain.clone() else {
            return 0;
        };
        let mut contradicted = Vec::new();
        let mut newly = Vec::new();
        for (key, entry) in &self.records {
            match view.standing(&entry.claim) {
                Standing::Contradicted => contradicted.push(key.clone()),
                Standing::Confirmed if !entry.confirmed => newly.push(key.clone()),
                _ => {}
            }
        }
        for key in &newly {
            if let Some(entry) = self.records.get(key).cloned() {
                self.count_unconfirmed(&entry, false);
                if let Some(e) = self.records.get_mut(key) {
                    e.confirmed = true;
                }
            }
        }
        for key in &contradicted {
            bump(&self.counters.removed_contradicted);
            self.remove(key);
        }
        contradicted.len()
    }

    /// Sends an op, or remembers its key for later if the channel is full.
    fn send(&mut self, op: PersistOp) {
        let key = RecordKey::new(&op.key());
        match self.persist.try_send(op) {
            Ok(()) => {
                self.pending.remove(&key);
            }
            Err(TrySendError::Full(_)) => {
                bump(&self.counters.persist_dropped);
                if self.pending.len() < self.config.max_pending_persist
                    || self.pending.contains(&key)
                {
                    self.pending.insert(key);
                } else {
                    bump(&self.counters.persist_lost);
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                bump(&self.counters.persist_disconnected);
            }
        }
    }

    /// Re-sends the current state of every key whose op was dropped, until the channel is full
    /// again. Returns how many keys are still pending. The node may call it on a timer.
    pub fn flush_pending(&mut self) -> usize {
        if self.pending.is_empty() {
            return 0;
        }
        let now_unix = self.config.clock.now();
        let now = Instant::now();
        let keys: Vec<RecordKey> = self.pending.iter().cloned().collect();
        for key in keys {
            let op = match self.records.get(&key) {
                Some(e) => PersistOp::Put(StoredRecord::from_record(&e.record, now_unix, now)),
                None => PersistOp::Remove { key: key.to_vec() },
            };
            match self.persist.try_send(op) {
                Ok(()) => {
                    self.pending.remove(&key);
                }
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => {
                    bump(&self.counters.persist_disconnected);
                    break;
                }
            }
        }
        self.pending.len()
    }
}

impl RecordStore for PersistentRecordStore {
    type RecordsIter<'a> =
        iter::Map<hash_map::Values<'a, RecordKey, Entry>, fn(&'a Entry) -> Cow<'a, Record>>;
    type ProvidedIter<'a> = iter::Map<
        hash_set::Iter<'a, ProviderRecord>,
        fn(&'a ProviderRecord) -> Cow<'a, ProviderRecord>,
    >;

    fn get(&self, k: &RecordKey) -> Option<Cow<'_, Record>> {
        self.records.get(k).map(|e| Cow::Borrowed(&e.record))
    }

    /// Validates then stores. A refused record returns `MaxRecords` if the store is full and
    /// `ValueTooLarge` otherwise (too large, invalid, stale, conflicting or expired): the kad
    /// store error has no other variant; the reason is counted in [`StoreCounters`], and
    /// [`PersistentRecordStore::try_put`] returns it.
    fn put(&mut self, r: Record) -> KadResult<()> {
        self.try_put(r).map_err(|refusal| match refusal {
            Refusal::Full => KadStoreError::MaxRecords,
            _ => KadStoreError::ValueTooLarge,
        })
    }

    fn remove(&mut self, k: &RecordKey) {
        if let Some(old) = self.records.remove(k) {
            self.count_unconfirmed(&old, false);
            self.flush_pending();
            self.send(PersistOp::Remove { key: k.to_vec() });
        }
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        fn borrow(e: &Entry) -> Cow<'_, Record> {
            Cow::Borrowed(&e.record)
        }
        self.records
            .values()
            .map(borrow as for<'a> fn(&'a Entry) -> Cow<'a, Record>)
    }

    fn add_provider(&mut self, record: ProviderRecord) -> KadResult<()> {
        let num_keys = self.providers.len();
        let providers = match self.providers.entry(record.key.clone()) {
            hash_map::Entry::Occupied(e) => e.into_mut(),
            hash_map::Entry::Vacant(e) => {
                if num_keys >= self.config.max_provider_keys {
                    bump(&self.counters.refused_providers);
                    return Err(KadStoreError::MaxProvidedKeys);
                }
                e.insert(Vec::new())
            }
        };
        if let Some(p) = providers.iter_mut().find(|p| p.provider == record.provider) {
            if record.provider == self.local_peer {
                self.provided.remove(p);
                self.provided.insert(record.clone());
            }
            *p = record;
            return Ok(());
        }
        if providers.len() >= self.config.max_providers_per_key {
            bump(&self.counters.refused_providers);
            return Err(KadStoreError::MaxProvidedKeys);
        }
        if record.provider == self.local_peer {
            self.provided.insert(record.clone());
        }
        providers.push(record);
        Ok(())
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        self.providers.get(key).cloned().unwrap_or_default()
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.provided.iter().map(Cow::Borrowed)
    }

    fn remove_provider(&mut self, k: &RecordKey, p: &PeerId) {
        if let hash_map::Entry::Occupied(mut e) = self.providers.entry(k.clone()) {
            let providers = e.get_mut();
            if let Some(i) = providers.iter().position(|r| &r.provider == p) {
                let removed = providers.remove(i);
                if removed.provider == self.local_peer {
                    self.provided.remove(&removed);
                }
            }
            if providers.is_empty() {
                e.remove();
            }
        }
    }
}
