//! The store's typed errors and the damage report of the verification at open.
//!
//! No variant carries a share, a key or a plaintext value: only ids, indices, sizes and paths.

use std::path::PathBuf;

use super::types::{BatchRange, DatasetId, UploadState};

/// Everything that can go wrong in the share store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// redb failed (I/O error, file locked by another process, …).
    #[error("share store database: {0}")]
    Database(#[from] redb::Error),
    /// Opening the database file failed (I/O error, not a redb file, a directory, …).
    #[error("cannot open share store {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// redb's error.
        source: redb::Error,
    },
    /// Another process (or another `ShareStore` in this process) has the file open.
    #[error(
        "share store {path} is already open (is another sharenet node using this data directory?)"
    )]
    AlreadyOpen {
        /// The database file.
        path: PathBuf,
    },
    /// redb's page checksums failed when the file was opened: the file was altered outside redb
    /// or the disk returned bad data. Nothing in it can be trusted.
    #[error(
        "share store file {path} is corrupted ({detail}); restore the data directory from a backup"
    )]
    FileCorrupted {
        /// The database file.
        path: PathBuf,
        /// redb's description of the failure.
        detail: String,
    },
    /// The at-rest key does not decrypt the database's key check record.
    #[error(
        "the at-rest key does not match the share store {path} (wrong key file, or the key check \
         record is damaged); use the key file this data directory was created with"
    )]
    WrongKey {
        /// The database file.
        path: PathBuf,
    },
    /// The database was written by a newer (or unknown) version of the store.
    #[error("share store {path} has format version {found}, this build reads version {supported}")]
    UnsupportedFormat {
        /// The database file.
        path: PathBuf,
        /// The version found in the file (0 if the record is unreadable).
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The file is a redb database but not a share store (tables missing, meta unreadable).
    #[error("{path} is not a sharenet share store: {detail}")]
    NotAStore {
        /// The database file.
        path: PathBuf,
        /// What is missing or unreadable.
        detail: &'static str,
    },
    /// Reading, creating or inspecting the key file failed.
    #[error("key file {path}: {source}")]
    KeyFileIo {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file is accessible to group or others.
    #[error(
        "key file {path} has mode {mode:03o}, which lets group or others access it; \
         run `chmod 600 {path}` (the file must be readable by its owner only)"
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold exactly 32 bytes.
    #[error("key file {path} holds {len} bytes, an at-rest key is exactly 32 bytes")]
    KeyFileFormat {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// Encryption failed (the plaintext exceeds the cipher's limit).
    #[error("encrypting a batch column failed")]
    Encrypt,
    /// No dataset with this id.
    #[error("dataset {0} is not in the share store")]
    UnknownDataset(DatasetId),
    /// `create_dataset` for an id that exists with different parameters.
    #[error("dataset {0} already exists with a different name, column count or party index")]
    DatasetExists(DatasetId),
    /// `create_dataset` with zero columns or party index 0.
    #[error("dataset {dataset}: {reason}")]
    InvalidDataset {
        /// The dataset.
        dataset: DatasetId,
        /// What is wrong.
        reason: &'static str,
    },
    /// The dataset failed verification at open; it must be deleted and uploaded again.
    #[error("dataset {0} is damaged (see the open report); delete it and upload it again")]
    DatasetDamaged(DatasetId),
    /// A configured size limit would be exceeded.
    #[error("{limit} limit exceeded: {value} > {max}")]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The offending value.
        value: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A batch does not carry exactly the dataset's columns.
    #[error("batch {batch} of dataset {dataset} has {got} columns, the dataset has {expected}")]
    ColumnCount {
        /// The dataset.
        dataset: DatasetId,
        /// The batch index.
        batch: u64,
        /// Columns in the batch.
        got: usize,
        /// Columns of the dataset.
        expected: u32,
    },
    /// The columns of a batch differ in length, or the batch is empty.
    #[error(
        "batch {batch} of dataset {dataset}: column {column} has {got} rows, expected {expected} \
         (all columns of a batch have the same, non-zero, number of rows)"
    )]
    BadBatchShape {
        /// The dataset.
        dataset: DatasetId,
        /// The batch index.
        batch: u64,
        /// The column at fault.
        column: u32,
        /// Its row count.
        got: usize,
        /// The row count of column 0 (or 1 for an empty batch).
        expected: usize,
    },
    /// A column index beyond the dataset's columns.
    #[error("dataset {dataset} has {columns} columns, there is no column {column}")]
    UnknownColumn {
        /// The dataset.
        dataset: DatasetId,
        /// The requested column.
        column: u32,
        /// The dataset's column count.
        columns: u32,
    },
    /// A batch index is already stored with other content (rows or values).
    #[error(
        "batch {batch} of dataset {dataset} is already stored with different content; \
         a batch cannot be rewritten (delete the dataset to start over)"
    )]
    BatchConflict {
        /// The dataset.
        dataset: DatasetId,
        /// The batch index.
        batch: u64,
    },
    /// A batch's rows overlap a stored batch, or are out of order with respect to it.
    #[error(
        "batch {batch} of dataset {dataset} (rows {first_row}..{end_row}) overlaps or is out of \
         order with stored batch {other} (rows {other_first_row}..{other_end_row})"
    )]
    RowOverlap {
        /// The dataset.
        dataset: DatasetId,
        /// The new batch.
        batch: u64,
        /// Its first row.
        first_row: u64,
        /// One past its last row.
        end_row: u64,
        /// The stored batch it collides with.
        other: u64,
        /// That batch's first row.
        other_first_row: u64,
        /// One past that batch's last row.
        other_end_row: u64,
    },
    /// `first_row + rows` overflows.
    #[error("batch {batch} of dataset {dataset}: row numbers overflow")]
    RowOverflow {
        /// The dataset.
        dataset: DatasetId,
        /// The batch index.
        batch: u64,
    },
    /// The stored batches do not cover rows `0..n` contiguously with batch indices `0..k`.
    #[error(
        "dataset {dataset} is incomplete: expected batch {expected_batch} starting at row \
         {expected_row}, found batch {found_batch} starting at row {found_row}"
    )]
    Gap {
        /// The dataset.
        dataset: DatasetId,
        /// The batch index that should come next.
        expected_batch: u64,
        /// The row it should start at.
        expected_row: u64,
        /// The batch found instead.
        found_batch: u64,
        /// Its first row.
        found_row: u64,
    },
    /// Batches are accepted only while the dataset is `Receiving`.
    #[error("dataset {dataset} is {state}; batches are accepted only while it is receiving")]
    NotReceiving {
        /// The dataset.
        dataset: DatasetId,
        /// Its state.
        state: UploadState,
    },
    /// A state change the life cycle does not allow.
    #[error("dataset {dataset} cannot go from {from} to {to}")]
    InvalidTransition {
        /// The dataset.
        dataset: DatasetId,
        /// The current state.
        from: UploadState,
        /// The requested state.
        to: UploadState,
    },
    /// A batch range that is empty or reversed.
    #[error("batch range {}..{} is empty", .0.start, .0.end)]
    EmptyRange(BatchRange),
    /// A different receipt is already stored for this dataset and batch range.
    #[error("a different receipt is already stored for dataset {dataset}, batches {}..{}", .range.start, .range.end)]
    ReceiptConflict {
        /// The dataset.
        dataset: DatasetId,
        /// The batch range.
        range: BatchRange,
    },
    /// A stored batch failed to decrypt or decode when read.
    #[error("dataset {dataset}, column {column}, batch {batch}: {kind}")]
    Corrupt {
        /// The dataset.
        dataset: DatasetId,
        /// The column.
        column: u32,
        /// The batch index.
        batch: u64,
        /// What is wrong.
        kind: DamageKind,
    },
}

/// The configurable size limits (see [`crate::store::StoreLimits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Rows in one batch.
    BatchRows,
    /// Columns of a dataset.
    Columns,
    /// Datasets in the store.
    Datasets,
    /// Bytes of a dataset name.
    NameBytes,
    /// Bytes of a manifest.
    ManifestBytes,
    /// Bytes of a receipt.
    ReceiptBytes,
    /// Bytes of a DHT record key.
    DhtKeyBytes,
    /// Bytes of a DHT record value.
    DhtValueBytes,
    /// DHT records in the store.
    DhtRecords,
    /// Bytes of the chain event cursor.
    CursorBytes,
}

impl core::fmt::Display for Limit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Limit::BatchRows => "rows per batch",
            Limit::Columns => "columns per dataset",
            Limit::Datasets => "dataset count",
            Limit::NameBytes => "dataset name bytes",
            Limit::ManifestBytes => "manifest bytes",
            Limit::ReceiptBytes => "receipt bytes",
            Limit::DhtKeyBytes => "DHT key bytes",
            Limit::DhtValueBytes => "DHT record bytes",
            Limit::DhtRecords => "DHT record count",
            Limit::CursorBytes => "event cursor bytes",
        })
    }
}

/// What is wrong with a damaged batch or record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamageKind {
    /// The AEAD tag does not verify: the ciphertext was altered, or it was moved from another
    /// (dataset, column, batch) slot, or its batch header was altered.
    Unauthenticated,
    /// The stored bytes have the wrong length, or a decrypted value is not a canonical field
    /// element.
    Malformed,
    /// A column of the batch is missing.
    MissingColumn,
    /// The batch's columns decrypt but do not match the content digest of its header.
    DigestMismatch,
    /// The dataset record or a batch header does not decode.
    BadRecord,
    /// Shares or batch headers exist for a dataset that has no record, or for a column the
    /// dataset does not have.
    Orphan,
    /// Two stored batches overlap in rows or are out of row order.
    Overlap,
}

impl core::fmt::Display for DamageKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DamageKind::Unauthenticated => {
                "ciphertext does not authenticate (tampered, or moved from another batch slot)"
            }
            DamageKind::Malformed => "stored bytes have the wrong length or a non-canonical value",
            DamageKind::MissingColumn => "a column of the batch is missing",
            DamageKind::DigestMismatch => "columns do not match the batch's content digest",
            DamageKind::BadRecord => "record does not decode",
            DamageKind::Orphan => "entry belongs to no dataset or column",
            DamageKind::Overlap => "batches overlap or are out of row order",
        })
    }
}

/// One damaged item found by the verification at open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The dataset it belongs to (now marked unusable).
    pub dataset: DatasetId,
    /// The column, if the damage is in one column's ciphertext.
    pub column: Option<u32>,
    /// The batch, if the damage is in one batch.
    pub batch: Option<u64>,
    /// What is wrong.
    pub kind: DamageKind,
}

impl core::fmt::Display for Damage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "dataset {}", self.dataset)?;
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
        }
        if let Some(batch) = self.batch {
            write!(f, ", batch {batch}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Database(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
