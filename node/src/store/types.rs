//! The store's value types: dataset ids, upload states, dataset and batch descriptions.
//!
//! None of these types carries a share: they are ids, counts and states, safe to log.

use core::fmt;

/// A dataset's 32-byte id (in practice a blake3 hash chosen by the uploader). Public: it
/// appears on chain and in the DHT, so `Display` and `Debug` print it in hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatasetId(pub [u8; 32]);

impl DatasetId {
    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatasetId({self})")
    }
}

/// Where a dataset is in its upload life cycle.
///
/// Allowed transitions: `Receiving → Verified → Registered`, and `Registered → Receiving` to
/// append rows (the M2M path). Setting the state a dataset is already in is a no-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadState {
    /// Batches are arriving; the only state in which [`crate::store::ShareStore::put_batch`]
    /// accepts a batch.
    Receiving,
    /// The batched dealer verification passed for every batch.
    Verified,
    /// The dataset is registered on chain and may be used by queries.
    Registered,
}

impl UploadState {
    pub(crate) const fn code(self) -> u8 {
        match self {
            UploadState::Receiving => 1,
            UploadState::Verified => 2,
            UploadState::Registered => 3,
        }
    }

    pub(crate) const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(UploadState::Receiving),
            2 => Some(UploadState::Verified),
            3 => Some(UploadState::Registered),
            _ => None,
        }
    }

    /// Whether the store allows moving from `self` to `to`.
    pub const fn can_become(self, to: UploadState) -> bool {
        matches!(
            (self, to),
            (UploadState::Receiving, UploadState::Receiving)
                | (UploadState::Verified, UploadState::Verified)
                | (UploadState::Registered, UploadState::Registered)
                | (UploadState::Receiving, UploadState::Verified)
                | (UploadState::Verified, UploadState::Registered)
                | (UploadState::Registered, UploadState::Receiving)
        )
    }
}

impl fmt::Display for UploadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UploadState::Receiving => "receiving",
            UploadState::Verified => "verified",
            UploadState::Registered => "registered",
        })
    }
}

/// What the node is told about a dataset when its upload starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetInfo {
    /// A human-readable name (at most [`crate::store::StoreLimits::max_name_bytes`] bytes).
    pub name: String,
    /// Number of columns; every batch carries all of them.
    pub columns: u32,
    /// This node's party index (Shamir evaluation point, 1..=n) in the dataset's committee.
    pub party: u32,
}

/// A dataset as listed by [`crate::store::ShareStore::datasets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSummary {
    /// The dataset's id.
    pub id: DatasetId,
    /// Name, column count and party index as given at creation.
    pub info: DatasetInfo,
    /// The upload state.
    pub state: UploadState,
    /// The share encoding version the batches were written with.
    pub share_format: u16,
    /// Number of batches stored.
    pub batches: u64,
    /// Number of rows stored (sum over batches, gaps or not).
    pub rows: u64,
    /// `false` if verification at open found a damaged batch or record: reads of this dataset
    /// are refused until it is deleted and uploaded again.
    pub usable: bool,
}

/// One stored batch: a contiguous row range of every column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    /// The batch index (batches are numbered 0, 1, 2, … in row order).
    pub index: u64,
    /// The first row of the batch.
    pub first_row: u64,
    /// The number of rows in the batch.
    pub rows: u32,
}

impl BatchInfo {
    /// One past the last row of the batch.
    pub const fn end_row(&self) -> u64 {
        self.first_row.saturating_add(self.rows as u64)
    }
}

/// A stored batch read back by [`crate::store::ShareStore::read_batch`]. `Debug` shows its
/// shape, never its values.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// Where the batch sits.
    pub info: BatchInfo,
    /// `columns[c]` holds column `c`'s share values for the batch's rows.
    pub columns: Vec<Vec<sharenet_mpc::field::Mp127>>,
}

impl fmt::Debug for StoredBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredBatch")
            .field("info", &self.info)
            .field("columns", &self.columns.len())
            .finish_non_exhaustive()
    }
}

/// Counts for the node's metrics endpoint, from [`crate::store::ShareStore::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Datasets stored (records that decode).
    pub datasets: u64,
    /// Batches stored.
    pub batches: u64,
    /// Share values stored (rows × columns over all batches).
    pub share_values: u64,
    /// DHT records stored.
    pub dht_records: u64,
    /// Size of the database file in bytes.
    pub file_bytes: u64,
}

/// A persistent DHT record: `(key, value)`.
pub type DhtRecord = (Vec<u8>, Vec<u8>);

/// A half-open range of batch indices `start..end`, the unit an upload receipt covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchRange {
    /// The first batch covered.
    pub start: u64,
    /// One past the last batch covered.
    pub end: u64,
}

/// Whether [`crate::store::ShareStore::put_batch`] wrote the batch or found it already stored
/// with the same content (an idempotent retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The batch was written and committed.
    Stored,
    /// The identical batch was already stored; nothing was written.
    AlreadyStored,
}

/// A change to the persistent DHT record store, applied in batches by
/// [`crate::store::ShareStore::apply_dht_changes`].
#[derive(Clone, PartialEq, Eq)]
pub enum DhtChange {
    /// Insert or replace the record under `key`.
    Put {
        /// The record key.
        key: Vec<u8>,
        /// The record bytes.
        value: Vec<u8>,
    },
    /// Remove the record under `key` (no error if absent).
    Remove {
        /// The record key.
        key: Vec<u8>,
    },
}

impl fmt::Debug for DhtChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DhtChange::Put { key, value } => f
                .debug_struct("Put")
                .field("key_len", &key.len())
                .field("value_len", &value.len())
                .finish(),
            DhtChange::Remove { key } => f
                .debug_struct("Remove")
                .field("key_len", &key.len())
                .finish(),
        }
    }
}
