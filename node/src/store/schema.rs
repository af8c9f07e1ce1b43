//! The redb tables, their key layouts and the encodings of their values (format version 1).
//!
//! Integers in keys are big-endian so that redb's byte-wise key order is numeric order; integers
//! in values are little-endian. `docs/storage.md` describes the same layouts for operators.

use redb::TableDefinition;

use super::types::{BatchInfo, BatchRange, DatasetId, DatasetInfo, UploadState};

/// The on-disk format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// The most columns a dataset record may declare (a format bound, above any configured limit):
/// a record declaring more is damaged.
pub(crate) const FORMAT_MAX_COLUMNS: u32 = 1 << 16;
/// The share encoding version: each value is a canonical GF(2^127 − 1) element, 16 bytes LE.
pub(crate) const SHARE_FORMAT_VERSION: u16 = 1;

/// `&str → bytes`: the store's own settings ([`META_FORMAT`], [`META_KEY_CHECK`]) and the chain
/// event cursor ([`META_EVENT_CURSOR`]).
pub(crate) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// `dataset id (32) → dataset record` (see [`DatasetRecord::encode`]).
pub(crate) const DATASETS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("datasets");
/// `dataset id (32) || batch u64 BE → batch header` (see [`BatchHeader::encode`]).
pub(crate) const BATCHES: TableDefinition<'_, &[u8; 40], &[u8]> = TableDefinition::new("batches");
/// `dataset id (32) || column u32 BE || batch u64 BE → nonce || ciphertext || tag`.
pub(crate) const SHARES: TableDefinition<'_, &[u8; 44], &[u8]> = TableDefinition::new("shares");
/// `dataset id (32) → manifest bytes` (opaque, defined by the dht crate).
pub(crate) const MANIFESTS: TableDefinition<'_, &[u8; 32], &[u8]> =
    TableDefinition::new("manifests");
/// `dataset id (32) || first batch u64 BE || end batch u64 BE → receipt bytes` (opaque).
pub(crate) const RECEIPTS: TableDefinition<'_, &[u8; 48], &[u8]> = TableDefinition::new("receipts");
/// `record key → record bytes` for the persistent Kademlia record store (opaque).
pub(crate) const DHT_RECORDS: TableDefinition<'_, &[u8], &[u8]> =
    TableDefinition::new("dht_records");

/// `u32 LE`: [`FORMAT_VERSION`].
pub(crate) const META_FORMAT: &str = "format_version";
/// A ciphertext of a fixed text under the at-rest key: detects a wrong key at open.
pub(crate) const META_KEY_CHECK: &str = "key_check";
/// The chain event cursor (opaque bytes).
pub(crate) const META_EVENT_CURSOR: &str = "chain_event_cursor";

pub(crate) fn batch_key(dataset: &DatasetId, batch: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(dataset.as_bytes());
    key[32..].copy_from_slice(&batch.to_be_bytes());
    key
}

pub(crate) fn parse_batch_key(key: &[u8; 40]) -> (DatasetId, u64) {
    let mut id = [0u8; 32];
    id.copy_from_slice(&key[..32]);
    let mut batch = [0u8; 8];
    batch.copy_from_slice(&key[32..]);
    (DatasetId(id), u64::from_be_bytes(batch))
}

pub(crate) fn share_key(dataset: &DatasetId, column: u32, batch: u64) -> [u8; 44] {
    let mut key = [0u8; 44];
    key[..32].copy_from_slice(dataset.as_bytes());
    key[32..36].copy_from_slice(&column.to_be_bytes());
    key[36..].copy_from_slice(&batch.to_be_bytes());
    key
}

pub(crate) fn parse_share_key(key: &[u8; 44]) -> (DatasetId, u32, u64) {
    let mut id = [0u8; 32];
    id.copy_from_slice(&key[..32]);
    let mut column = [0u8; 4];
    column.copy_from_slice(&key[32..36]);
    let mut batch = [0u8; 8];
    batch.copy_from_slice(&key[36..]);
    (
        DatasetId(id),
        u32::from_be_bytes(column),
        u64::from_be_bytes(batch),
    )
}

pub(crate) fn receipt_key(dataset: &DatasetId, range: BatchRange) -> [u8; 48] {
    let mut key = [0u8; 48];
    key[..32].copy_from_slice(dataset.as_bytes());
    key[32..40].copy_from_slice(&range.start.to_be_bytes());
    key[40..].copy_from_slice(&range.end.to_be_bytes());
    key
}

pub(crate) fn parse_receipt_key(key: &[u8; 48]) -> BatchRange {
    let mut start = [0u8; 8];
    start.copy_from_slice(&key[32..40]);
    let mut end = [0u8; 8];
    end.copy_from_slice(&key[40..]);
    BatchRange {
        start: u64::from_be_bytes(start),
        end: u64::from_be_bytes(end),
    }
}

/// All keys of `dataset` in a table keyed by `dataset id || N bytes`: `(first, last)`.
pub(crate) fn dataset_bounds<const N: usize>(dataset: &DatasetId) -> ([u8; N], [u8; N]) {
    let mut low = [0u8; N];
    let mut high = [0xffu8; N];
    low[..32].copy_from_slice(dataset.as_bytes());
    high[..32].copy_from_slice(dataset.as_bytes());
    (low, high)
}

/// A dataset's record in [`DATASETS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DatasetRecord {
    pub info: DatasetInfo,
    pub state: UploadState,
    pub share_format: u16,
}

const RECORD_VERSION: u8 = 1;

impl DatasetRecord {
    /// `version u8 (1) || state u8 || share format u16 LE || columns u32 LE || party u32 LE ||
    /// name length u16 LE || name (UTF-8)`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let name = self.info.name.as_bytes();
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        let name = &name[..usize::from(name_len)];
        let mut out = Vec::with_capacity(14 + name.len());
        out.push(RECORD_VERSION);
        out.push(self.state.code());
        out.extend_from_slice(&self.share_format.to_le_bytes());
        out.extend_from_slice(&self.info.columns.to_le_bytes());
        out.extend_from_slice(&self.info.party.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(name);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.u8()? != RECORD_VERSION {
            return None;
        }
        let state = UploadState::from_code(r.u8()?)?;
        let share_format = r.u16()?;
        let columns = r.u32()?;
        let party = r.u32()?;
        let name_len = r.u16()?;
        let name = std::str::from_utf8(r.take(usize::from(name_len))?).ok()?;
        if !r.0.is_empty()
            || share_format != SHARE_FORMAT_VERSION
            || columns == 0
            || columns > FORMAT_MAX_COLUMNS
            || party == 0
        {
            return None;
        }
        Some(DatasetRecord {
            info: DatasetInfo {
                name: name.to_owned(),
                columns,
                party,
            },
            state,
            share_format,
        })
    }
}

/// A batch's header in [`BATCHES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub first_row: u64,
    pub rows: u32,
    pub digest: [u8; 32],
}

const HEADER_VERSION: u8 = 1;

impl BatchHeader {
    /// `version u8 (1) || first row u64 LE || rows u32 LE || digest (32)` (45 bytes).
    pub(crate) fn encode(&self) -> [u8; 45] {
        let mut out = [0u8; 45];
        out[0] = HEADER_VERSION;
        out[1..9].copy_from_slice(&self.first_row.to_le_bytes());
        out[9..13].copy_from_slice(&self.rows.to_le_bytes());
        out[13..].copy_from_slice(&self.digest);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.u8()? != HEADER_VERSION {
            return None;
        }
        let first_row = r.u64()?;
        let rows = r.u32()?;
        let digest: [u8; 32] = r.take(32)?.try_into().ok()?;
        if !r.0.is_empty() || rows == 0 || first_row.checked_add(u64::from(rows)).is_none() {
            return None;
        }
        Some(BatchHeader {
            first_row,
            rows,
            digest,
        })
    }

    pub(crate) fn info(&self, index: u64) -> BatchInfo {
        BatchInfo {
            index,
            first_row: self.first_row,
            rows: self.rows,
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn records_round_trip_and_reject_garbage() {
        let record = DatasetRecord {
            info: DatasetInfo {
                name: "patients 2026".into(),
                columns: 5,
                party: 3,
            },
            state: UploadState::Verified,
            share_format: SHARE_FORMAT_VERSION,
        };
        let bytes = record.encode();
        assert_eq!(DatasetRecord::decode(&bytes), Some(record.clone()));
        assert_eq!(DatasetRecord::decode(&bytes[..bytes.len() - 1]), None);
        let mut bad_state = bytes.clone();
        bad_state[1] = 9;
        assert_eq!(DatasetRecord::decode(&bad_state), None);
        for (columns, party) in [(0, 3), (FORMAT_MAX_COLUMNS + 1, 3), (5, 0)] {
            let mut bad = record.clone();
            bad.info.columns = columns;
            bad.info.party = party;
            assert_eq!(DatasetRecord::decode(&bad.encode()), None);
        }

        let header = BatchHeader {
            first_row: 1 << 40,
            rows: 77,
            digest: [9; 32],
        };
        assert_eq!(BatchHeader::decode(&header.encode()), Some(header));
        assert_eq!(BatchHeader::decode(&header.encode()[1..]), None);
        let zero_rows = BatchHeader { rows: 0, ..header };
        assert_eq!(BatchHeader::decode(&zero_rows.encode()), None);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let valid = DatasetRecord {
            info: DatasetInfo {
                name: "n".into(),
                columns: 2,
                party: 1,
            },
            state: UploadState::Receiving,
            share_format: SHARE_FORMAT_VERSION,
        }
        .encode();
        for _ in 0..20_000 {
            let len = rng.random_range(0..64usize);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            // Mostly-valid prefixes reach the deeper branches.
            if rng.random() {
                let n = valid.len().min(bytes.len());
                bytes[..n].copy_from_slice(&valid[..n]);
            }
            let _ = DatasetRecord::decode(&bytes);
            let _ = BatchHeader::decode(&bytes);
        }
    }

    #[test]
    fn keys_sort_numerically() {
        let id = DatasetId([1; 32]);
        assert!(batch_key(&id, 255) < batch_key(&id, 256));
        assert!(share_key(&id, 0, u64::MAX) < share_key(&id, 1, 0));
        assert_eq!(parse_share_key(&share_key(&id, 7, 9)), (id, 7, 9));
        assert_eq!(parse_batch_key(&batch_key(&id, 9)), (id, 9));
        let range = BatchRange { start: 3, end: 8 };
        assert_eq!(parse_receipt_key(&receipt_key(&id, range)), range);
    }
}
