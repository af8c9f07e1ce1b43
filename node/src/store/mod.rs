//! The node's durable share store: a redb database holding each dataset's shares column by
//! column in encrypted batches, plus the node's metadata (dataset manifests, upload receipts,
//! upload states, the persistent DHT records and the chain event cursor).
//!
//! # Using it from async code
//!
//! Every method is synchronous and may block on disk I/O and `fsync` (redb is a blocking
//! database). The node must call it from `tokio::task::spawn_blocking` (or a dedicated thread),
//! never from the swarm's poll loop or another async task. [`ShareStore`] is `Send + Sync` and
//! cheap to clone (an `Arc` inside), so move a clone into each blocking closure:
//!
//! ```text
//! let store = store.clone();
//! let outcome = tokio::task::spawn_blocking(move || store.put_batch(&id, batch, first_row, &columns))
//!     .await??;
//! ```
//!
//! # Example
//!
//! ```
//! use sharenet_mpc::field::Mp127;
//! use sharenet_node::store::{AtRestKey, DatasetId, DatasetInfo, PutOutcome, ShareStore, UploadState};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let data_dir = dir.path();
//! // The key file lives next to (or apart from) the database; created 0600 on first start.
//! let key = AtRestKey::load_or_create(data_dir.join("at-rest.key"))?;
//! let store = ShareStore::open(data_dir.join("shares.redb"), key)?;
//! assert!(store.open_report().damaged.is_empty());
//!
//! let id = DatasetId([7; 32]);
//! store.create_dataset(&id, &DatasetInfo { name: "visits".into(), columns: 2, party: 1 })?;
//! // Batches may arrive in any order; each is stored atomically, retries are idempotent.
//! let batch1 = vec![vec![Mp127::new(3)], vec![Mp127::new(4)]];
//! let batch0 = vec![vec![Mp127::new(1)], vec![Mp127::new(2)]];
//! assert_eq!(store.put_batch(&id, 1, 1, &batch1)?, PutOutcome::Stored);
//! assert_eq!(store.put_batch(&id, 0, 0, &batch0)?, PutOutcome::Stored);
//! assert_eq!(store.put_batch(&id, 0, 0, &batch0)?, PutOutcome::AlreadyStored);
//! assert_eq!(store.column(&id, 1)?, vec![Mp127::new(2), Mp127::new(4)]);
//! store.set_state(&id, UploadState::Verified)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! * Shares are encrypted at rest with XChaCha20-Poly1305 under a key derived from the node's
//!   [`AtRestKey`], each ciphertext bound to its (dataset, column, batch, share format, party,
//!   rows) slot; see `docs/storage.md`.
//! * A batch (all its columns) is written in one redb write transaction committed with
//!   immediate durability: after [`ShareStore::put_batch`] returns `Ok`, the batch survives a
//!   crash or power loss; if it returns an error, none of it is stored; if the process dies
//!   before it returns, either all of the batch or none of it is stored, never a part.
//! * [`ShareStore::open`] verifies everything stored (every ciphertext authenticates and decodes,
//!   every record decodes). It does **not** fail on a damaged batch: it opens, lists the damage
//!   in [`ShareStore::open_report`], and marks those datasets unusable (reads return
//!   [`StoreError::DatasetDamaged`]) until they are deleted and uploaded again. It fails only
//!   when the file as a whole cannot be trusted (redb page checksums fail), on a wrong key, or on
//!   an unknown format version.
//! * No share, key or plaintext appears in a log line, an error or a `Debug` output.

mod crypto;
mod error;
mod key;
mod meta;
mod schema;
mod shares;
mod types;
#[cfg(test)]
mod vectors;
mod verify;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use redb::{Database, Durability, ReadableTable, ReadableTableMetadata};

pub use error::{Damage, DamageKind, Limit, StoreError};
pub use key::{AT_REST_KEY_BYTES, AtRestKey};
pub use types::{
    BatchInfo, BatchRange, DatasetId, DatasetInfo, DatasetSummary, DhtChange, DhtRecord,
    PutOutcome, StoreStats, StoredBatch, UploadState,
};

use crypto::StoreCipher;
use schema::{
    BATCHES, DATASETS, DHT_RECORDS, FORMAT_VERSION, MANIFESTS, META, META_FORMAT, META_KEY_CHECK,
    RECEIPTS, SHARES,
};

/// Size limits enforced by the store; exceeding one is [`StoreError::LimitExceeded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Rows in one batch (default 65 536: 1 MiB per column ciphertext).
    pub max_batch_rows: u32,
    /// Columns of a dataset (default 1 024; at most 65 536 whatever is set).
    pub max_columns: u32,
    /// Datasets in the store (default 10 000).
    pub max_datasets: u64,
    /// Bytes of a dataset name (default 256).
    pub max_name_bytes: usize,
    /// Bytes of a manifest (default 1 MiB).
    pub max_manifest_bytes: usize,
    /// Bytes of one upload receipt (default 64 KiB).
    pub max_receipt_bytes: usize,
    /// Bytes of a DHT record key (default 1 KiB).
    pub max_dht_key_bytes: usize,
    /// Bytes of a DHT record value (default 1 MiB).
    pub max_dht_value_bytes: usize,
    /// DHT records stored (default 100 000).
    pub max_dht_records: u64,
    /// Bytes of the chain event cursor (default 4 KiB).
    pub max_cursor_bytes: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_batch_rows: 1 << 16,
            max_columns: 1024,
            max_datasets: 10_000,
            max_name_bytes: 256,
            max_manifest_bytes: 1 << 20,
            max_receipt_bytes: 64 << 10,
            max_dht_key_bytes: 1 << 10,
            max_dht_value_bytes: 1 << 20,
            max_dht_records: 100_000,
            max_cursor_bytes: 1 << 20,
        }
    }
}

/// Options of [`ShareStore::open_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// The size limits.
    pub limits: StoreLimits,
    /// redb's page cache in bytes (default 64 MiB).
    pub cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            limits: StoreLimits::default(),
            cache_bytes: 64 << 20,
        }
    }
}

/// At most this many damaged items are listed in [`OpenReport::damaged`] (and logged); the rest
/// are counted in [`OpenReport::omitted`]. [`OpenReport::unusable`] is always complete.
pub const MAX_REPORTED_DAMAGE: usize = 1000;

/// What the verification at open found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Dataset records found.
    pub datasets: u64,
    /// Batches found (damaged ones included).
    pub batches: u64,
    /// Column ciphertexts that decrypted and authenticated.
    pub verified_columns: u64,
    /// The damaged items found, in table order (the first [`MAX_REPORTED_DAMAGE`]).
    pub damaged: Vec<Damage>,
    /// Damaged items found beyond the first [`MAX_REPORTED_DAMAGE`].
    pub omitted: u64,
    /// Every dataset with at least one damaged item: unusable until deleted.
    pub unusable: BTreeSet<DatasetId>,
}

impl OpenReport {
    /// Whether nothing is damaged.
    pub fn is_clean(&self) -> bool {
        self.unusable.is_empty()
    }

    pub(crate) fn record(&mut self, damage: Damage) {
        self.unusable.insert(damage.dataset);
        if self.damaged.len() < MAX_REPORTED_DAMAGE {
            self.damaged.push(damage);
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }
}

/// The durable, encrypted share store. Cheap to clone; `Send + Sync`; every method blocks (call
/// it from `spawn_blocking`). See the [module documentation](self).
#[derive(Clone)]
pub struct ShareStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    cipher: StoreCipher,
    limits: StoreLimits,
    path: PathBuf,
    report: OpenReport,
    damaged: Mutex<BTreeSet<DatasetId>>,
}

impl core::fmt::Debug for ShareStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShareStore")
            .field("path", &self.inner.path)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl ShareStore {
    /// Creates (if absent) or opens the store at `path` with default options, and verifies it.
    /// See [`ShareStore::open_with`].
    pub fn open(path: impl AsRef<Path>, key: AtRestKey) -> Result<ShareStore, StoreError> {
        Self::open_with(path, key, StoreOptions::default())
    }

    /// Creates (if absent) or opens the store at `path` and verifies everything in it.
    ///
    /// Fails with [`StoreError::FileCorrupted`] if redb's page checksums fail,
    /// [`StoreError::WrongKey`] if `key` is not the key the store was created with,
    /// [`StoreError::UnsupportedFormat`] / [`StoreError::NotAStore`] for a file this build does
    /// not understand, [`StoreError::AlreadyOpen`] if another process (or another `ShareStore`)
    /// has it open, and [`StoreError::Open`] for I/O errors or a file that is not a redb
    /// database. Damaged batches do not make it fail: see [`ShareStore::open_report`].
    ///
    /// A new database file is created with mode 0600.
    pub fn open_with(
        path: impl AsRef<Path>,
        key: AtRestKey,
        options: StoreOptions,
    ) -> Result<ShareStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let cipher = StoreCipher::new(&key);
        drop(key);
        create_private(&path)?;
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
                    StoreError::FileCorrupted {
                        path: path.clone(),
                        detail,
                    }
                }
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::AlreadyOpen { path: path.clone() }
                }
                other => StoreError::Open {
                    path: path.clone(),
                    source: other.into(),
                },
            })?;
        initialise(&db, &cipher, &path)?;
        let report = verify::verify(&db, &cipher)?;
        for damage in &report.damaged {
            tracing::warn!(
                dataset = %damage.dataset,
                column = ?damage.column,
                batch = ?damage.batch,
                kind = %damage.kind,
                "share store: damaged item found at open; dataset marked unusable"
            );
        }
        tracing::info!(
            path = %path.display(),
            datasets = report.datasets,
            batches = report.batches,
            verified_columns = report.verified_columns,
            damaged = report.damaged.len() as u64 + report.omitted,
            unusable_datasets = report.unusable.len(),
            "share store opened and verified"
        );
        let damaged = Mutex::new(report.unusable.clone());
        Ok(ShareStore {
            inner: Arc::new(Inner {
                db,
                cipher,
                limits: options.limits,
                path,
                report,
                damaged,
            }),
        })
    }

    /// What the verification at open found (a snapshot taken at open; deleting a damaged
    /// dataset does not change it).
    pub fn open_report(&self) -> &OpenReport {
        &self.inner.report
    }

    /// Whether a dataset may be read: `false` if verification at open found it damaged and it has
    /// not been deleted since.
    pub fn is_usable(&self, dataset: &DatasetId) -> bool {
        !self.damaged_set().contains(dataset)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The limits in force.
    pub fn limits(&self) -> &StoreLimits {
        &self.inner.limits
    }

    /// A write transaction committed with [`Durability::Immediate`] (redb's default, made
    /// explicit): when `commit` returns, the data is on disk (fsync).
    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.inner.db.begin_write()?;
        txn.set_durability(Durability::Immediate)
            .map_err(redb::Error::from)?;
        Ok(txn)
    }

    fn damaged_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<DatasetId>> {
        // The set is updated by single inserts and removals, so it is consistent even if a
        // thread panicked while holding the lock.
        self.inner
            .damaged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn ensure_usable(&self, dataset: &DatasetId) -> Result<(), StoreError> {
        if self.is_usable(dataset) {
            Ok(())
        } else {
            Err(StoreError::DatasetDamaged(*dataset))
        }
    }
}

/// Creates an empty file with mode 0600 at `path` if nothing is there, so that redb initialises
/// a new database in a file only its owner can read.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Open {
            path: path.to_path_buf(),
            source: e.into(),
        }),
    }
}

fn limit(limit: Limit, value: u64, max: u64) -> Result<(), StoreError> {
    if value > max {
        Err(StoreError::LimitExceeded { limit, value, max })
    } else {
        Ok(())
    }
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// Creates the tables and the meta records of a new store, or checks those of an existing one.
fn initialise(db: &Database, cipher: &StoreCipher, path: &Path) -> Result<(), StoreError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)
        .map_err(redb::Error::from)?;
    {
        let mut meta = txn.open_table(META)?;
        let datasets = txn.open_table(DATASETS)?;
        let batches = txn.open_table(BATCHES)?;
        let shares = txn.open_table(SHARES)?;
        txn.open_table(MANIFESTS)?;
        txn.open_table(RECEIPTS)?;
        txn.open_table(DHT_RECORDS)?;
        let format = meta.get(META_FORMAT)?.map(|g| g.value().to_vec());
        match format {
            None => {
                let empty = meta.is_empty()?
                    && datasets.is_empty()?
                    && batches.is_empty()?
                    && shares.is_empty()?;
                if !empty {
                    return Err(StoreError::NotAStore {
                        path: path.to_path_buf(),
                        detail: "the format version record is missing",
                    });
                }
                meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
                meta.insert(META_KEY_CHECK, cipher.key_check()?.as_slice())?;
            }
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_slice())
                    .map(u32::from_le_bytes)
                    .unwrap_or(0);
                if found != FORMAT_VERSION {
                    return Err(StoreError::UnsupportedFormat {
                        path: path.to_path_buf(),
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
                let check = meta.get(META_KEY_CHECK)?.map(|g| g.value().to_vec());
                match check {
                    None => {
                        return Err(StoreError::NotAStore {
                            path: path.to_path_buf(),
                            detail: "the key check record is missing",
                        });
                    }
                    Some(check) if !cipher.verify_key_check(&check) => {
                        return Err(StoreError::WrongKey {
                            path: path.to_path_buf(),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
    }
    txn.commit()?;
    Ok(())
}

/// The value encodings of the `datasets` and `batches` tables (`docs/storage.md`), exposed so
/// that they can be fuzzed: each function decodes a value exactly as [`ShareStore::open`] and the
/// reads do (a value that does not decode is damage) and returns its canonical encoding, which
/// equals the input for every value a store writes. No other behaviour.
pub mod format {
    use super::schema::{BatchHeader, DatasetRecord};

    /// A `datasets` value: its canonical encoding if it decodes, `None` if it is damaged.
    pub fn reencode_dataset_record(bytes: &[u8]) -> Option<Vec<u8>> {
        DatasetRecord::decode(bytes).map(|record| record.encode())
    }

    /// A `batches` value (a batch header): its canonical encoding if it decodes, `None` if it is
    /// damaged.
    pub fn reencode_batch_header(bytes: &[u8]) -> Option<Vec<u8>> {
        BatchHeader::decode(bytes).map(|header| header.encode().to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn store_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<ShareStore>();
    }

    #[test]
    fn debug_output_redacts_keys() {
        let key = AtRestKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab"), "{shown}");
        let dir = tempfile::tempdir().unwrap();
        let store = ShareStore::open(dir.path().join("db"), key).unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
    }
}
