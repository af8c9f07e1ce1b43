//! Datasets and their share batches: create, put (one transaction per batch), read back column
//! by column, list, change the upload state, delete.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use sharenet_mpc::field::Mp127;

use super::crypto::{ShareAad, digests_equal, encode_values};
use super::error::{Limit, StoreError};
use super::schema::{
    BATCHES, BatchHeader, DATASETS, DHT_RECORDS, DatasetRecord, FORMAT_MAX_COLUMNS, MANIFESTS,
    META, RECEIPTS, SHARE_FORMAT_VERSION, SHARES, batch_key, dataset_bounds, receipt_key,
    share_key,
};
use super::types::{
    BatchInfo, BatchRange, DatasetId, DatasetInfo, DatasetSummary, PutOutcome, StoreStats,
    StoredBatch, UploadState,
};
use super::{ShareStore, len_u64, limit};

/// The record of `dataset`, or `UnknownDataset` / `DatasetDamaged`.
fn load_record(
    table: &impl ReadableTable<&'static [u8; 32], &'static [u8]>,
    dataset: &DatasetId,
) -> Result<DatasetRecord, StoreError> {
    let bytes = table
        .get(dataset.as_bytes())?
        .ok_or(StoreError::UnknownDataset(*dataset))?;
    DatasetRecord::decode(bytes.value()).ok_or(StoreError::DatasetDamaged(*dataset))
}

/// The batch headers of `dataset` in batch order.
fn load_headers(
    table: &impl ReadableTable<&'static [u8; 40], &'static [u8]>,
    dataset: &DatasetId,
) -> Result<Vec<(u64, BatchHeader)>, StoreError> {
    let (low, high) = dataset_bounds::<40>(dataset);
    let mut out = Vec::new();
    for entry in table.range::<&[u8; 40]>(&low..=&high)? {
        let (key, value) = entry?;
        let (_, index) = super::schema::parse_batch_key(key.value());
        let header =
            BatchHeader::decode(value.value()).ok_or(StoreError::DatasetDamaged(*dataset))?;
        out.push((index, header));
    }
    Ok(out)
}

/// Checks that the batches, in index order, cover rows `0..n` without gaps; returns n.
fn contiguous_rows(dataset: &DatasetId, headers: &[(u64, BatchHeader)]) -> Result<u64, StoreError> {
    let mut expected_batch = 0u64;
    let mut expected_row = 0u64;
    for (index, header) in headers {
        // Batches are keyed by index (ascending); their rows must follow each other. Indices
        // need not be consecutive: uploads number batches by their first row, so an append
        // never reuses an index.
        if header.first_row != expected_row {
            return Err(StoreError::Gap {
                dataset: *dataset,
                expected_batch,
                expected_row,
                found_batch: *index,
                found_row: header.first_row,
            });
        }
        expected_batch = expected_batch.saturating_add(1);
        expected_row = header.info(*index).end_row();
    }
    Ok(expected_row)
}

impl ShareStore {
    /// Registers a dataset whose batches are about to arrive, in state
    /// [`UploadState::Receiving`]. Idempotent: creating it again with the same `info` is `Ok`
    /// (whatever its state); with a different `info` it is [`StoreError::DatasetExists`].
    pub fn create_dataset(
        &self,
        dataset: &DatasetId,
        info: &DatasetInfo,
    ) -> Result<(), StoreError> {
        let limits = self.inner.limits;
        if info.columns == 0 {
            return Err(StoreError::InvalidDataset {
                dataset: *dataset,
                reason: "a dataset has at least one column",
            });
        }
        if info.party == 0 {
            return Err(StoreError::InvalidDataset {
                dataset: *dataset,
                reason: "party indices start at 1",
            });
        }
        limit(
            Limit::Columns,
            u64::from(info.columns),
            u64::from(limits.max_columns.min(FORMAT_MAX_COLUMNS)),
        )?;
        limit(
            Limit::NameBytes,
            len_u64(info.name.len()),
            len_u64(limits.max_name_bytes),
        )?;
        self.ensure_usable(dataset)?;
        let record = DatasetRecord {
            info: info.clone(),
            state: UploadState::Receiving,
            share_format: SHARE_FORMAT_VERSION,
        };
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(DATASETS)?;
            match load_record(&table, dataset) {
                Ok(existing) if existing.info == *info => return Ok(()),
                Ok(_) => return Err(StoreError::DatasetExists(*dataset)),
                Err(StoreError::UnknownDataset(_)) => {}
                Err(other) => return Err(other),
            }
            limit(
                Limit::Datasets,
                table.len()?.saturating_add(1),
                limits.max_datasets,
            )?;
            table.insert(dataset.as_bytes(), record.encode().as_slice())?;
        }
        txn.commit()?;
        tracing::info!(dataset = %dataset, columns = info.columns, party = info.party, "dataset created");
        Ok(())
    }

    /// Stores one batch: rows `first_row..first_row + n` of **every** column of the dataset
    /// (`columns[c]` holds column `c`'s `n` share values).
    ///
    /// All columns are written in one write transaction, committed durably before this returns:
    /// either the whole batch is stored or none of it. Retrying with identical content returns
    /// [`PutOutcome::AlreadyStored`]; a different content for a stored batch index is
    /// [`StoreError::BatchConflict`]; rows overlapping or out of order with stored batches are
    /// [`StoreError::RowOverlap`]. The dataset must exist and, unless the batch is stored
    /// already, be [`UploadState::Receiving`] (an identical batch is `AlreadyStored` in any
    /// state, so a replay never needs to reopen a dataset).
    pub fn put_batch<C: AsRef<[Mp127]>>(
        &self,
        dataset: &DatasetId,
        batch: u64,
        first_row: u64,
        columns: &[C],
    ) -> Result<PutOutcome, StoreError> {
        let limits = self.inner.limits;
        limit(
            Limit::Columns,
            len_u64(columns.len()),
            u64::from(limits.max_columns),
        )?;
        let rows = columns.first().map_or(0, |c| c.as_ref().len());
        for (column, values) in columns.iter().enumerate() {
            let got = values.as_ref().len();
            if got != rows || got == 0 {
                return Err(StoreError::BadBatchShape {
                    dataset: *dataset,
                    batch,
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                    got,
                    expected: rows.max(1),
                });
            }
        }
        limit(
            Limit::BatchRows,
            len_u64(rows),
            u64::from(limits.max_batch_rows),
        )?;
        let rows = u32::try_from(rows).map_err(|_| StoreError::LimitExceeded {
            limit: Limit::BatchRows,
            value: len_u64(rows),
            max: u64::from(limits.max_batch_rows),
        })?;
        let end_row = first_row
            .checked_add(u64::from(rows))
            .ok_or(StoreError::RowOverflow {
                dataset: *dataset,
                batch,
            })?;
        self.ensure_usable(dataset)?;

        // Encrypt outside the write transaction so that concurrent writers wait only for the
        // writes and the commit; the record read here is checked again inside the transaction.
        let record = {
            let txn = self.inner.db.begin_read()?;
            let table = txn.open_table(DATASETS)?;
            load_record(&table, dataset)?
        };
        if columns.len() != record.info.columns as usize {
            return Err(StoreError::ColumnCount {
                dataset: *dataset,
                batch,
                got: columns.len(),
                expected: record.info.columns,
            });
        }
        let base = ShareAad {
            dataset: *dataset,
            column: 0,
            batch,
            share_format: record.share_format,
            party: record.info.party,
            first_row,
            rows,
        };
        let cipher = &self.inner.cipher;
        let mut digest = cipher.digest_start(&base, record.info.columns);
        let mut sealed = Vec::with_capacity(columns.len());
        for (column, values) in (0u32..).zip(columns) {
            let encoded = encode_values(values.as_ref());
            digest.update(&encoded);
            sealed.push(cipher.seal_encoded(&ShareAad { column, ..base }, &encoded)?);
        }
        let header = BatchHeader {
            first_row,
            rows,
            digest: digest.finish(),
        };

        let txn = self.begin_write()?;
        {
            let datasets = txn.open_table(DATASETS)?;
            let mut batches = txn.open_table(BATCHES)?;
            let now = load_record(&datasets, dataset)?;
            if now.info != record.info || now.share_format != record.share_format {
                // Deleted and recreated in between, as another dataset.
                return Err(StoreError::DatasetExists(*dataset));
            }
            // A batch stored already, identically, is reported as such in any state: a
            // retried (or replayed) batch changes nothing.
            let key = batch_key(dataset, batch);
            if let Some(stored) = batches.get(&key)? {
                let stored = BatchHeader::decode(stored.value())
                    .ok_or(StoreError::DatasetDamaged(*dataset))?;
                if stored.first_row == first_row
                    && stored.rows == rows
                    && digests_equal(&stored.digest, &header.digest)
                {
                    return Ok(PutOutcome::AlreadyStored);
                }
                return Err(StoreError::BatchConflict {
                    dataset: *dataset,
                    batch,
                });
            }
            if now.state != UploadState::Receiving {
                return Err(StoreError::NotReceiving {
                    dataset: *dataset,
                    state: now.state,
                });
            }
            let (low, high) = dataset_bounds::<40>(dataset);
            let overlap = |index: u64, other: BatchHeader| {
                let other = other.info(index);
                StoreError::RowOverlap {
                    dataset: *dataset,
                    batch,
                    first_row,
                    end_row,
                    other: index,
                    other_first_row: other.first_row,
                    other_end_row: other.end_row(),
                }
            };
            if let Some(entry) = batches.range::<&[u8; 40]>(&low..&key)?.next_back() {
                let (k, v) = entry?;
                let (_, index) = super::schema::parse_batch_key(k.value());
                let prev =
                    BatchHeader::decode(v.value()).ok_or(StoreError::DatasetDamaged(*dataset))?;
                if prev.info(index).end_row() > first_row {
                    return Err(overlap(index, prev));
                }
            }
            if let Some(entry) = batches.range::<&[u8; 40]>(&key..=&high)?.next() {
                let (k, v) = entry?;
                let (_, index) = super::schema::parse_batch_key(k.value());
                let next =
                    BatchHeader::decode(v.value()).ok_or(StoreError::DatasetDamaged(*dataset))?;
                if next.first_row < end_row {
                    return Err(overlap(index, next));
                }
            }
            let mut shares = txn.open_table(SHARES)?;
            for (column, sealed) in (0u32..).zip(&sealed) {
                shares.insert(&share_key(dataset, column, batch), sealed.as_slice())?;
            }
            batches.insert(&key, header.encode().as_slice())?;
        }
        txn.commit()?;
        tracing::debug!(
            dataset = %dataset,
            batch,
            first_row,
            rows,
            columns = columns.len(),
            "batch stored"
        );
        Ok(PutOutcome::Stored)
    }

    /// One column of a dataset, all rows in row order.
    ///
    /// The batches, in index order, must cover rows `0..n` without gaps
    /// ([`StoreError::Gap`] otherwise). A ciphertext that fails to authenticate or decode now is
    /// [`StoreError::Corrupt`]; a dataset found damaged at open is
    /// [`StoreError::DatasetDamaged`].
    pub fn column(&self, dataset: &DatasetId, column: u32) -> Result<Vec<Mp127>, StoreError> {
        self.ensure_usable(dataset)?;
        let txn = self.inner.db.begin_read()?;
        let record = load_record(&txn.open_table(DATASETS)?, dataset)?;
        if column >= record.info.columns {
            return Err(StoreError::UnknownColumn {
                dataset: *dataset,
                column,
                columns: record.info.columns,
            });
        }
        let headers = load_headers(&txn.open_table(BATCHES)?, dataset)?;
        let rows = contiguous_rows(dataset, &headers)?;
        let shares = txn.open_table(SHARES)?;
        // The capacity is a hint only: never trust a count read from disk for an allocation.
        let mut out = Vec::with_capacity(usize::try_from(rows.min(1 << 20)).unwrap_or(0));
        for (index, header) in &headers {
            let values = self.read_column(&shares, &record, dataset, column, *index, header)?;
            out.extend_from_slice(&values);
        }
        Ok(out)
    }

    /// One stored batch, all columns, or `None` if that batch index is not stored.
    pub fn read_batch(
        &self,
        dataset: &DatasetId,
        batch: u64,
    ) -> Result<Option<StoredBatch>, StoreError> {
        self.ensure_usable(dataset)?;
        let txn = self.inner.db.begin_read()?;
        let record = load_record(&txn.open_table(DATASETS)?, dataset)?;
        let header = {
            let batches = txn.open_table(BATCHES)?;
            let Some(bytes) = batches.get(&batch_key(dataset, batch))? else {
                return Ok(None);
            };
            BatchHeader::decode(bytes.value()).ok_or(StoreError::DatasetDamaged(*dataset))?
        };
        let shares = txn.open_table(SHARES)?;
        let columns = (0..record.info.columns)
            .map(|column| self.read_column(&shares, &record, dataset, column, batch, &header))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(StoredBatch {
            info: header.info(batch),
            columns,
        }))
    }

    fn read_column(
        &self,
        shares: &impl ReadableTable<&'static [u8; 44], &'static [u8]>,
        record: &DatasetRecord,
        dataset: &DatasetId,
        column: u32,
        batch: u64,
        header: &BatchHeader,
    ) -> Result<Vec<Mp127>, StoreError> {
        let corrupt = |kind| StoreError::Corrupt {
            dataset: *dataset,
            column,
            batch,
            kind,
        };
        let stored = shares
            .get(&share_key(dataset, column, batch))?
            .ok_or_else(|| corrupt(super::DamageKind::MissingColumn))?;
        let aad = ShareAad {
            dataset: *dataset,
            column,
            batch,
            share_format: record.share_format,
            party: record.info.party,
            first_row: header.first_row,
            rows: header.rows,
        };
        self.inner
            .cipher
            .unseal_column(&aad, stored.value())
            .map_err(corrupt)
    }

    /// The batches stored for a dataset, in batch order (gaps allowed: this is what an upload
    /// resumed after a crash asks for).
    pub fn batches(&self, dataset: &DatasetId) -> Result<Vec<BatchInfo>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        load_record(&txn.open_table(DATASETS)?, dataset)?;
        Ok(load_headers(&txn.open_table(BATCHES)?, dataset)?
            .iter()
            .map(|(index, header)| header.info(*index))
            .collect())
    }

    /// The number of rows of a dataset, checking that its batches have no gaps
    /// ([`StoreError::Gap`] otherwise).
    pub fn rows(&self, dataset: &DatasetId) -> Result<u64, StoreError> {
        let txn = self.inner.db.begin_read()?;
        load_record(&txn.open_table(DATASETS)?, dataset)?;
        contiguous_rows(dataset, &load_headers(&txn.open_table(BATCHES)?, dataset)?)
    }

    /// A dataset's description, state and size, or `None` if it is not stored.
    pub fn dataset(&self, dataset: &DatasetId) -> Result<Option<DatasetSummary>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let record = match load_record(&txn.open_table(DATASETS)?, dataset) {
            Ok(record) => record,
            Err(StoreError::UnknownDataset(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        let headers = load_headers(&txn.open_table(BATCHES)?, dataset)?;
        Ok(Some(self.summary(dataset, record, &headers)))
    }

    fn summary(
        &self,
        dataset: &DatasetId,
        record: DatasetRecord,
        headers: &[(u64, BatchHeader)],
    ) -> DatasetSummary {
        DatasetSummary {
            id: *dataset,
            info: record.info,
            state: record.state,
            share_format: record.share_format,
            batches: len_u64(headers.len()),
            rows: headers
                .iter()
                .map(|(_, h)| u64::from(h.rows))
                .fold(0u64, u64::saturating_add),
            usable: self.is_usable(dataset),
        }
    }

    /// Every dataset in the store, in id order. A dataset whose record no longer decodes is
    /// listed by [`ShareStore::open_report`], not here.
    pub fn datasets(&self) -> Result<Vec<DatasetSummary>, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let table = txn.open_table(DATASETS)?;
        let batches = txn.open_table(BATCHES)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let id = DatasetId(*key.value());
            let Some(record) = DatasetRecord::decode(value.value()) else {
                continue;
            };
            let headers = match load_headers(&batches, &id) {
                Ok(headers) => headers,
                Err(StoreError::DatasetDamaged(_)) => Vec::new(),
                Err(other) => return Err(other),
            };
            out.push(self.summary(&id, record, &headers));
        }
        Ok(out)
    }

    /// Counts for the metrics endpoint: one read transaction over the records and batch
    /// headers (no decryption).
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let txn = self.inner.db.begin_read()?;
        let datasets = txn.open_table(DATASETS)?;
        let batches = txn.open_table(BATCHES)?;
        let mut stats = StoreStats {
            dht_records: txn.open_table(DHT_RECORDS)?.len()?,
            file_bytes: std::fs::metadata(&self.inner.path).map_or(0, |m| m.len()),
            ..StoreStats::default()
        };
        for entry in datasets.iter()? {
            let (key, value) = entry?;
            let Some(record) = DatasetRecord::decode(value.value()) else {
                continue;
            };
            stats.datasets += 1;
            let id = DatasetId(*key.value());
            let headers = match load_headers(&batches, &id) {
                Ok(headers) => headers,
                Err(StoreError::DatasetDamaged(_)) => continue,
                Err(other) => return Err(other),
            };
            for (_, header) in headers {
                stats.batches += 1;
                stats.share_values = stats
                    .share_values
                    .saturating_add(u64::from(header.rows) * u64::from(record.info.columns));
            }
        }
        Ok(stats)
    }

    /// A dataset's upload state.
    pub fn state(&self, dataset: &DatasetId) -> Result<UploadState, StoreError> {
        let txn = self.inner.db.begin_read()?;
        Ok(load_record(&txn.open_table(DATASETS)?, dataset)?.state)
    }

    /// Moves a dataset to another upload state, if the life cycle allows it (see
    /// [`UploadState`]); [`StoreError::InvalidTransition`] otherwise. Moving to
    /// [`UploadState::Verified`] also requires the batches to have no gap ([`StoreError::Gap`]).
    pub fn set_state(&self, dataset: &DatasetId, to: UploadState) -> Result<(), StoreError> {
        self.ensure_usable(dataset)?;
        let txn = self.begin_write()?;
        let from;
        {
            let mut table = txn.open_table(DATASETS)?;
            let mut record = load_record(&table, dataset)?;
            from = record.state;
            if !from.can_become(to) {
                return Err(StoreError::InvalidTransition {
                    dataset: *dataset,
                    from,
                    to,
                });
            }
            if from == to {
                return Ok(());
            }
            if to == UploadState::Verified {
                // Verified means every batch passed the dealer verification: no batch may be
                // missing between the first and the last.
                contiguous_rows(dataset, &load_headers(&txn.open_table(BATCHES)?, dataset)?)?;
            }
            record.state = to;
            table.insert(dataset.as_bytes(), record.encode().as_slice())?;
        }
        txn.commit()?;
        tracing::info!(dataset = %dataset, %from, %to, "dataset state changed");
        Ok(())
    }

    /// Deletes one batch of a dataset (its shares in every column, its header and its receipt)
    /// in one transaction: a failed append leaves the rows stored before it untouched. Returns
    /// whether the batch was stored.
    pub fn delete_batch(&self, dataset: &DatasetId, batch: u64) -> Result<bool, StoreError> {
        self.ensure_usable(dataset)?;
        let txn = self.begin_write()?;
        let found;
        {
            let columns = load_record(&txn.open_table(DATASETS)?, dataset)?
                .info
                .columns;
            let mut batches = txn.open_table(BATCHES)?;
            found = batches.remove(&batch_key(dataset, batch))?.is_some();
            let mut shares = txn.open_table(SHARES)?;
            for column in 0..columns {
                shares.remove(&share_key(dataset, column, batch))?;
            }
            let mut receipts = txn.open_table(RECEIPTS)?;
            receipts.remove(&receipt_key(
                dataset,
                BatchRange {
                    start: batch,
                    end: batch + 1,
                },
            ))?;
        }
        txn.commit()?;
        tracing::info!(dataset = %dataset, batch, found, "batch deleted");
        Ok(found)
    }

    /// Deletes a dataset and everything stored for it (record, batches, shares, manifest,
    /// receipts) in one transaction, and clears its damaged mark. Used for a failed upload:
    /// nothing half-registered remains. Returns whether anything was stored.
    pub fn delete_dataset(&self, dataset: &DatasetId) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let mut found = false;
        {
            let mut datasets = txn.open_table(DATASETS)?;
            found |= datasets.remove(dataset.as_bytes())?.is_some();
            let mut manifests = txn.open_table(MANIFESTS)?;
            found |= manifests.remove(dataset.as_bytes())?.is_some();

            let mut batches = txn.open_table(BATCHES)?;
            let (low, high) = dataset_bounds::<40>(dataset);
            found |= batches.range::<&[u8; 40]>(&low..=&high)?.next().is_some();
            batches.retain_in::<&[u8; 40], _>(&low..=&high, |_, _| false)?;

            let mut shares = txn.open_table(SHARES)?;
            let (low, high) = dataset_bounds::<44>(dataset);
            found |= shares.range::<&[u8; 44]>(&low..=&high)?.next().is_some();
            shares.retain_in::<&[u8; 44], _>(&low..=&high, |_, _| false)?;

            let mut receipts = txn.open_table(RECEIPTS)?;
            let (low, high) = dataset_bounds::<48>(dataset);
            found |= receipts.range::<&[u8; 48]>(&low..=&high)?.next().is_some();
            receipts.retain_in::<&[u8; 48], _>(&low..=&high, |_, _| false)?;

            let registered = format!("registered:{dataset}");
            txn.open_table(META)?.remove(registered.as_str())?;
        }
        txn.commit()?;
        self.damaged_set().remove(dataset);
        tracing::info!(dataset = %dataset, found, "dataset deleted");
        Ok(found)
    }
}
