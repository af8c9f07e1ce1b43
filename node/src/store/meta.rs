//! The node's metadata: dataset manifests, upload receipts, persistent DHT records and the chain
//! event cursor. All values are opaque bytes defined by their owners (the dht crate, the upload
//! service, the chain watcher); the store bounds their size and keeps them durable. They are
//! public or signed data and are stored unencrypted.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::error::{Limit, StoreError};
use super::schema::{
    DATASETS, DHT_RECORDS, MANIFESTS, META, META_EVENT_CURSOR, RECEIPTS, dataset_bounds,
    parse_receipt_key, receipt_key,
};
use super::types::{BatchRange, DatasetId, DhtChange, DhtRecord};
use super::{ShareStore, len_u64, limit};

impl ShareStore {
    /// Stores (or replaces) the manifest of a dataset, which must exist.
    pub fn put_manifest(&self, dataset: &DatasetId, manifest: &[u8]) -> Result<(), StoreError> {
        let limits = self.inner.limits;
        limit(
            Limit::ManifestBytes,
            len_u64(manifest.len()),
            len_u64(limits.max_manifest_bytes),
        )?;
        let txn = self.begin_write()?;
        {
            if txn.open_table(DATASETS)?.get(dataset.as_bytes())?.is_none() {
                return Err(StoreError::UnknownDataset(*dataset));
            }
            txn.open_table(MANIFESTS)?
                .insert(dataset.as_bytes(), manifest)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The manifest of a dataset, if one was stored.
    pub fn manifest(&self, dataset: &DatasetId) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(MANIFESTS)?;
        Ok(table.get(dataset.as_bytes())?.map(|g| g.value().to_vec()))
    }

    /// Stores the receipt this node issued for batches `range` of a dataset (which must
    /// exist). Storing the same bytes again is `Ok`; different bytes for the same range are
    /// [`StoreError::ReceiptConflict`].
    pub fn put_receipt(
        &self,
        dataset: &DatasetId,
        range: BatchRange,
        receipt: &[u8],
    ) -> Result<(), StoreError> {
        if range.start >= range.end {
            return Err(StoreError::EmptyRange(range));
        }
        let limits = self.inner.limits;
        limit(
            Limit::ReceiptBytes,
            len_u64(receipt.len()),
            len_u64(limits.max_receipt_bytes),
        )?;
        let txn = self.begin_write()?;
        {
            if txn.open_table(DATASETS)?.get(dataset.as_bytes())?.is_none() {
                return Err(StoreError::UnknownDataset(*dataset));
            }
            let mut table = txn.open_table(RECEIPTS)?;
            let key = receipt_key(dataset, range);
            if let Some(stored) = table.get(&key)? {
                if stored.value() == receipt {
                    return Ok(());
                }
                return Err(StoreError::ReceiptConflict {
                    dataset: *dataset,
                    range,
                });
            }
            table.insert(&key, receipt)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The receipts stored for a dataset, ordered by batch range.
    pub fn receipts(&self, dataset: &DatasetId) -> Result<Vec<(BatchRange, Vec<u8>)>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(RECEIPTS)?;
        let (low, high) = dataset_bounds::<48>(dataset);
        let mut out = Vec::new();
        for entry in table.range::<&[u8; 48]>(&low..=&high)? {
            let (key, value) = entry?;
            out.push((parse_receipt_key(key.value()), value.value().to_vec()));
        }
        Ok(out)
    }

    /// Inserts or replaces one DHT record (one durable transaction; use
    /// [`ShareStore::apply_dht_changes`] to write many at once).
    pub fn put_dht_record(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.apply_dht_changes(&[DhtChange::Put {
            key: key.to_vec(),
            value: value.to_vec(),
        }])
    }

    /// Removes one DHT record; returns whether it existed.
    pub fn remove_dht_record(&self, key: &[u8]) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let existed = txn.open_table(DHT_RECORDS)?.remove(key)?.is_some();
        txn.commit()?;
        Ok(existed)
    }

    /// Applies puts and removes to the DHT record table in one transaction, in order: all or
    /// none of them are applied. Limits are checked before anything is written.
    pub fn apply_dht_changes(&self, changes: &[DhtChange]) -> Result<(), StoreError> {
        let limits = self.inner.limits;
        for change in changes {
            let (DhtChange::Put { key, .. } | DhtChange::Remove { key }) = change;
            limit(
                Limit::DhtKeyBytes,
                len_u64(key.len()),
                len_u64(limits.max_dht_key_bytes),
            )?;
            if let DhtChange::Put { value, .. } = change {
                limit(
                    Limit::DhtValueBytes,
                    len_u64(value.len()),
                    len_u64(limits.max_dht_value_bytes),
                )?;
            }
        }
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(DHT_RECORDS)?;
            for change in changes {
                match change {
                    DhtChange::Put { key, value } => {
                        table.insert(key.as_slice(), value.as_slice())?;
                    }
                    DhtChange::Remove { key } => {
                        table.remove(key.as_slice())?;
                    }
                }
            }
            limit(Limit::DhtRecords, table.len()?, limits.max_dht_records)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// One DHT record.
    pub fn dht_record(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(DHT_RECORDS)?;
        Ok(table.get(key)?.map(|g| g.value().to_vec()))
    }

    /// Every DHT record, in key order (to rebuild the in-memory index at start).
    pub fn dht_records(&self) -> Result<Vec<DhtRecord>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(DHT_RECORDS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(out)
    }

    /// The number of DHT records stored.
    pub fn dht_record_count(&self) -> Result<u64, StoreError> {
        let txn = self.inner.db.begin_read()?;
        Ok(txn.open_table(DHT_RECORDS)?.len()?)
    }

    /// Durably replaces the chain event cursor.
    pub fn set_event_cursor(&self, cursor: &[u8]) -> Result<(), StoreError> {
        let limits = self.inner.limits;
        limit(
            Limit::CursorBytes,
            len_u64(cursor.len()),
            len_u64(limits.max_cursor_bytes),
        )?;
        let txn = self.begin_write()?;
        txn.open_table(META)?.insert(META_EVENT_CURSOR, cursor)?;
        txn.commit()?;
        Ok(())
    }

    /// Records that `dataset` was registered on chain: later batches for it are appends (a failed
    /// one removes only itself, not the dataset).
    pub fn set_registered_once(&self, dataset: &DatasetId) -> Result<(), StoreError> {
        let key = format!("registered:{dataset}");
        let txn = self.begin_write()?;
        txn.open_table(META)?.insert(key.as_str(), &[1u8][..])?;
        txn.commit()?;
        Ok(())
    }

    /// Whether `dataset` was ever registered on chain (see [`ShareStore::set_registered_once`]).
    pub fn was_registered(&self, dataset: &DatasetId) -> Result<bool, StoreError> {
        let key = format!("registered:{dataset}");
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(META)?;
        Ok(table.get(key.as_str())?.is_some())
    }

    /// The chain event cursor, if one was stored.
    pub fn event_cursor(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(META)?;
        Ok(table.get(META_EVENT_CURSOR)?.map(|g| g.value().to_vec()))
    }
}
