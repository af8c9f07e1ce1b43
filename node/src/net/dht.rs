//! The node's side of the DHT record store: loading the durable copy at start, the persistence
//! writer that applies the store's [`PersistOp`]s to the [`ShareStore`] on a dedicated thread,
//! and the configuration handed to [`super::start_with`].
//!
//! The Kademlia record store ([`sharenet_dht::PersistentRecordStore`]) lives inside the swarm and
//! never does I/O: it sends every change on a bounded channel. [`PersistWriter`] drains that
//! channel on its own OS thread and writes what is queued in one redb transaction
//! ([`ShareStore::apply_dht_changes`]), so no redb work ever runs on the swarm's poll loop or on
//! the async runtime. The writer stops by itself once the swarm (and with it the store's sender)
//! is dropped, after writing everything that was queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libp2p::kad::Record;
use sharenet_dht::{PersistOp, StoreConfig, StoredRecord, persist_channel};
use tracing::{debug, warn};

use crate::store::{DhtChange, ShareStore, StoreError};

/// Capacity of the persistence channel between the record store and the writer.
pub const PERSIST_CHANNEL: usize = sharenet_dht::store::DEFAULT_PERSIST_CHANNEL;
/// Most ops the writer applies in one transaction.
pub const MAX_WRITE_BATCH: usize = 256;
/// Default timeout of one Kademlia query (`get_record`, `put_record`).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default period of the event loop's `flush_pending` timer.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How long the writer waits on an empty channel before checking again that it is still wanted.
const WRITER_IDLE: Duration = Duration::from_secs(1);

/// Counters of the persistence writer (for `/metrics`).
#[derive(Debug, Default)]
pub struct WriterCounters {
    /// Ops written to the database.
    pub written: AtomicU64,
    /// Transactions committed.
    pub transactions: AtomicU64,
    /// Ops that could not be written (logged; the store re-sends nothing for them, Kademlia's
    /// re-replication puts the record again later).
    pub errors: AtomicU64,
    /// Entries of the database that did not decode at start and were removed.
    pub load_undecodable: AtomicU64,
}

/// Where the record store's changes go.
#[derive(Debug)]
pub enum Persistence {
    /// To a [`PersistWriter`] (the node's database).
    Writer {
        /// The sending side of the writer's channel.
        sender: SyncSender<PersistOp>,
        /// The writer's counters.
        counters: Arc<WriterCounters>,
    },
    /// Nowhere: the event loop drains and discards them (clients without a database).
    Discard,
}

/// The DHT part of a node's network configuration.
#[derive(Debug)]
pub struct DhtConfig {
    /// Limits and clock of the record store.
    pub store: StoreConfig,
    /// The records read back from the database, loaded (and validated again) at start.
    pub records: Vec<Record>,
    /// Where the store's changes go.
    pub persistence: Persistence,
    /// Timeout of one Kademlia query; `Client::put_record`/`get_record` wait a little longer.
    pub query_timeout: Duration,
    /// Period of the timer that re-sends the changes the full channel made the store drop.
    pub flush_interval: Duration,
}

impl DhtConfig {
    /// A store without a durable copy (a client process, or a test).
    pub fn ephemeral() -> Self {
        DhtConfig {
            store: StoreConfig::default(),
            records: Vec::new(),
            persistence: Persistence::Discard,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

impl Default for DhtConfig {
    fn default() -> Self {
        Self::ephemeral()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads the durable copy back (blocking: call it from `spawn_blocking`). Entries that do not
/// decode, or whose stored key disagrees with the table key, are removed from the database and
/// counted; validation and expiry are left to `PersistentRecordStore::load`.
pub fn load_records(
    store: &ShareStore,
    counters: &WriterCounters,
) -> Result<Vec<Record>, StoreError> {
    let now_unix = unix_now();
    let now = Instant::now();
    let mut records = Vec::new();
    let mut removes = Vec::new();
    for (key, bytes) in store.dht_records()? {
        match StoredRecord::decode(&bytes) {
            Ok(stored) if stored.key == key => records.push(stored.to_record(now_unix, now)),
            _ => removes.push(DhtChange::Remove { key }),
        }
    }
    if !removes.is_empty() {
        warn!(
            entries = removes.len(),
            "DHT records in the database did not decode; removed"
        );
        counters
            .load_undecodable
            .fetch_add(removes.len() as u64, Ordering::Relaxed);
        store.apply_dht_changes(&removes)?;
    }
    Ok(records)
}

/// The thread that writes the record store's changes into the [`ShareStore`].
#[derive(Debug)]
pub struct PersistWriter {
    thread: Option<JoinHandle<()>>,
    done: Receiver<()>,
    counters: Arc<WriterCounters>,
}

/// The writer did not stop in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the DHT persistence writer did not stop within {0:?}")]
pub struct WriterTimeout(pub Duration);

impl PersistWriter {
    /// Starts a writer for `store` and returns it with the persistence to give to the swarm.
    pub fn spawn(store: ShareStore) -> std::io::Result<(PersistWriter, Persistence)> {
        let counters = Arc::new(WriterCounters::default());
        let (sender, receiver) = persist_channel(PERSIST_CHANNEL);
        let (done_tx, done) = std::sync::mpsc::sync_channel(1);
        let c = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("dht-persist".into())
            .spawn(move || {
                write_loop(&store, &receiver, &c);
                let _ = done_tx.send(());
            })?;
        Ok((
            PersistWriter {
                thread: Some(thread),
                done,
                counters: Arc::clone(&counters),
            },
            Persistence::Writer { sender, counters },
        ))
    }

    /// The writer's counters.
    pub fn counters(&self) -> Arc<WriterCounters> {
        Arc::clone(&self.counters)
    }

    /// Waits (blocking) until the writer has written everything and stopped, which happens once
    /// the swarm that holds the sender is gone.
    pub fn wait(mut self, timeout: Duration) -> Result<(), WriterTimeout> {
        match self.done.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                Ok(())
            }
            Err(RecvTimeoutError::Timeout) => Err(WriterTimeout(timeout)),
        }
    }
}

fn write_loop(store: &ShareStore, receiver: &Receiver<PersistOp>, counters: &WriterCounters) {
    loop {
        let first = match receiver.recv_timeout(WRITER_IDLE) {
            Ok(op) => op,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = Vec::with_capacity(16);
        batch.extend(to_change(first));
        while batch.len() < MAX_WRITE_BATCH {
            match receiver.try_recv() {
                Ok(op) => batch.extend(to_change(op)),
                Err(_) => break,
            }
        }
        write_batch(store, &batch, counters);
    }
    debug!("DHT persistence writer stopped");
}

fn to_change(op: PersistOp) -> Option<DhtChange> {
    match op {
        PersistOp::Put(record) => Some(DhtChange::Put {
            value: record.encode(),
            key: record.key,
        }),
        PersistOp::Remove { key } => Some(DhtChange::Remove { key }),
        _ => None,
    }
}

fn write_batch(store: &ShareStore, batch: &[DhtChange], counters: &WriterCounters) {
    if batch.is_empty() {
        return;
    }
    match store.apply_dht_changes(batch) {
        Ok(()) => {
            counters
                .written
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            counters.transactions.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if batch.len() > 1 => {
            // All or nothing failed: write one by one so that one bad op does not lose the rest.
            warn!(error = %e, ops = batch.len(), "DHT record batch not written; retrying one by one");
            for change in batch {
                write_batch(store, std::slice::from_ref(change), counters);
            }
        }
        Err(e) => {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            warn!(error = %e, "DHT record change not written to the database");
        }
    }
}

/// Opens the DHT side of a node on `store`: reads the records back (off the runtime) and starts
/// the persistence writer. Give the [`DhtConfig`] to [`super::start_with`]; keep the writer to
/// wait for it at shutdown.
pub async fn open(
    store: ShareStore,
    config: StoreConfig,
) -> Result<(DhtConfig, PersistWriter), OpenError> {
    let (writer, persistence) =
        PersistWriter::spawn(store.clone()).map_err(|e| OpenError::Thread(e.to_string()))?;
    let counters = writer.counters();
    let records = tokio::task::spawn_blocking(move || load_records(&store, &counters))
        .await
        .map_err(|e| OpenError::Thread(e.to_string()))??;
    Ok((
        DhtConfig {
            store: config,
            records,
            persistence,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        },
        writer,
    ))
}

/// Why [`open`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The database.
    #[error("reading the DHT records: {0}")]
    Store(#[from] StoreError),
    /// The writer thread or the loading task.
    #[error("DHT persistence thread: {0}")]
    Thread(String),
}

/// A snapshot of the DHT counters of a node (store, writer, queries), for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DhtCounters {
    /// Records held by the local store.
    pub records: u64,
    /// Keys whose change waits to be re-sent to the writer.
    pub pending_persist: u64,
    /// Records refused by the store: invalid, too large, store full, stale, conflicting signer,
    /// provider limits.
    pub refused_invalid: u64,
    /// See [`DhtCounters::refused_invalid`].
    pub refused_too_large: u64,
    /// See [`DhtCounters::refused_invalid`].
    pub refused_full: u64,
    /// See [`DhtCounters::refused_invalid`].
    pub refused_stale: u64,
    /// See [`DhtCounters::refused_invalid`].
    pub refused_conflict: u64,
    /// Manifests refused because the chain registered another manifest for their dataset.
    pub refused_not_registered: u64,
    /// Records refused because too many records the chain does not confirm are held.
    pub refused_unconfirmed: u64,
    /// Records removed because the chain came to contradict them.
    pub removed_contradicted: u64,
    /// Records held that the chain does not confirm (yet).
    pub unconfirmed: u64,
    /// See [`DhtCounters::refused_invalid`].
    pub refused_providers: u64,
    /// Changes not sent to the writer because its channel was full (retried).
    pub persist_dropped: u64,
    /// Changes not retried because the pending set was full.
    pub persist_lost: u64,
    /// Changes not sent because the writer is gone.
    pub persist_disconnected: u64,
    /// Records skipped at start: invalid (or over the limit), expired, undecodable.
    pub load_skipped_invalid: u64,
    /// See [`DhtCounters::load_skipped_invalid`].
    pub load_skipped_expired: u64,
    /// See [`DhtCounters::load_skipped_invalid`].
    pub load_undecodable: u64,
    /// Changes written to the database, and in how many transactions.
    pub persist_written: u64,
    /// See [`DhtCounters::persist_written`].
    pub persist_transactions: u64,
    /// Changes the writer could not write.
    pub persist_errors: u64,
    /// Records returned by peers to `get_record` that failed validation (dropped).
    pub get_invalid: u64,
    /// `put_record` calls, and how many of them reached no peer.
    pub puts: u64,
    /// See [`DhtCounters::puts`].
    pub put_failures: u64,
    /// `get_record` calls.
    pub gets: u64,
}

impl DhtCounters {
    /// Fills the store's and the writer's counters.
    pub(crate) fn read(
        &mut self,
        store: &sharenet_dht::StoreCounters,
        writer: Option<&WriterCounters>,
    ) {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.refused_invalid = l(&store.refused_invalid);
        self.refused_too_large = l(&store.refused_too_large);
        self.refused_full = l(&store.refused_full);
        self.refused_stale = l(&store.refused_stale);
        self.refused_conflict = l(&store.refused_conflict);
        self.refused_not_registered = l(&store.refused_not_registered);
        self.refused_unconfirmed = l(&store.refused_unconfirmed);
        self.removed_contradicted = l(&store.removed_contradicted);
        self.refused_providers = l(&store.refused_providers);
        self.persist_dropped = l(&store.persist_dropped);
        self.persist_lost = l(&store.persist_lost);
        self.persist_disconnected = l(&store.persist_disconnected);
        self.load_skipped_invalid = l(&store.load_skipped_invalid);
        self.load_skipped_expired = l(&store.load_skipped_expired);
        if let Some(w) = writer {
            self.load_undecodable = l(&w.load_undecodable);
            self.persist_written = l(&w.written);
            self.persist_transactions = l(&w.transactions);
            self.persist_errors = l(&w.errors);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use libp2p::identity::Keypair;
    use sharenet_dht::{NodeAnnouncement, SignedRecord};

    use super::*;
    use crate::store::AtRestKey;

    fn announcement_record(keypair: &Keypair) -> StoredRecord {
        let a = NodeAnnouncement {
            peer_key: keypair.public().try_into_ed25519().unwrap().to_bytes(),
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            epoch: 3,
            timestamp: unix_now(),
        };
        let signed = SignedRecord::sign_announcement(&a, keypair).unwrap();
        let record = signed
            .to_kad_record_expiring(unix_now(), Instant::now())
            .unwrap();
        StoredRecord::from_record(&record, unix_now(), Instant::now())
    }

    #[test]
    fn the_writer_persists_ops_in_batches_and_stops_with_its_sender() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            ShareStore::open(dir.path().join("s.redb"), AtRestKey::from_bytes([1; 32])).unwrap();
        let (writer, persistence) = PersistWriter::spawn(store.clone()).unwrap();
        let Persistence::Writer { sender, counters } = persistence else {
            panic!("a writer persistence");
        };
        let records: Vec<StoredRecord> = (0..50)
            .map(|_| announcement_record(&Keypair::generate_ed25519()))
            .collect();
        for r in &records {
            sender.send(PersistOp::Put(r.clone())).unwrap();
        }
        sender
            .send(PersistOp::Remove {
                key: records[0].key.clone(),
            })
            .unwrap();
        drop(sender);
        writer.wait(Duration::from_secs(5)).unwrap();
        assert_eq!(counters.written.load(Ordering::Relaxed), 51);
        assert!(counters.transactions.load(Ordering::Relaxed) >= 1);
        assert_eq!(counters.errors.load(Ordering::Relaxed), 0);
        assert_eq!(store.dht_record_count().unwrap(), 49);
        assert_eq!(
            store.dht_record(&records[1].key).unwrap(),
            Some(records[1].encode())
        );
    }

    #[test]
    fn loading_keeps_good_entries_and_removes_undecodable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            ShareStore::open(dir.path().join("s.redb"), AtRestKey::from_bytes([1; 32])).unwrap();
        let good = announcement_record(&Keypair::generate_ed25519());
        store.put_dht_record(&good.key, &good.encode()).unwrap();
        store.put_dht_record(&[7; 32], b"not a record").unwrap();
        // A well-formed entry filed under another key.
        let other = announcement_record(&Keypair::generate_ed25519());
        store.put_dht_record(&[8; 32], &other.encode()).unwrap();
        let counters = WriterCounters::default();
        let records = load_records(&store, &counters).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].key.to_vec(), good.key);
        assert_eq!(counters.load_undecodable.load(Ordering::Relaxed), 2);
        assert_eq!(store.dht_record_count().unwrap(), 1);
    }
}
