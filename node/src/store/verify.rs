//! The verification pass run by [`super::ShareStore::open`].
//!
//! For every dataset record: it decodes. For every batch header: it decodes, belongs to a
//! dataset, and does not overlap the previous batch; every column of the batch is present,
//! authenticates under the at-rest key with the batch's associated data, decodes to canonical
//! field elements, and the columns together match the header's keyed digest. Every share entry
//! belongs to a header and a column. Damage is collected, not raised.

use std::collections::{BTreeMap, BTreeSet};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::OpenReport;
use super::crypto::{ShareAad, StoreCipher, check_values, digests_equal};
use super::error::{Damage, DamageKind, StoreError};
use super::schema::{
    BATCHES, BatchHeader, DATASETS, DatasetRecord, SHARES, parse_batch_key, parse_share_key,
    share_key,
};
use super::types::DatasetId;

pub(crate) fn verify(db: &Database, cipher: &StoreCipher) -> Result<OpenReport, StoreError> {
    let txn = db.begin_read()?;
    let datasets = txn.open_table(DATASETS)?;
    let batches = txn.open_table(BATCHES)?;
    let shares = txn.open_table(SHARES)?;
    let mut report = OpenReport::default();

    // None: the record exists but does not decode.
    let mut records: BTreeMap<DatasetId, Option<DatasetRecord>> = BTreeMap::new();
    for entry in datasets.iter()? {
        let (key, value) = entry?;
        let id = DatasetId(*key.value());
        let record = DatasetRecord::decode(value.value());
        if record.is_none() {
            report.record(damage(id, None, None, DamageKind::BadRecord));
        }
        records.insert(id, record);
        report.datasets += 1;
    }

    let mut headers: BTreeSet<(DatasetId, u64)> = BTreeSet::new();
    let mut orphans: BTreeSet<DatasetId> = BTreeSet::new();
    // Share entries found through a header: if that is all of them, there is no orphan.
    let mut found_shares = 0u64;
    // The previous batch header seen: (dataset, end row).
    let mut previous: Option<(DatasetId, u64)> = None;
    for entry in batches.iter()? {
        let (key, value) = entry?;
        let (id, index) = parse_batch_key(key.value());
        report.batches += 1;
        headers.insert((id, index));
        let record = match records.get(&id) {
            None => {
                if orphans.insert(id) {
                    report.record(damage(id, None, Some(index), DamageKind::Orphan));
                }
                continue;
            }
            Some(None) => continue,
            Some(Some(record)) => record,
        };
        let Some(header) = BatchHeader::decode(value.value()) else {
            report.record(damage(id, None, Some(index), DamageKind::BadRecord));
            continue;
        };
        if let Some((prev_id, prev_end)) = previous
            && prev_id == id
            && header.first_row < prev_end
        {
            report.record(damage(id, None, Some(index), DamageKind::Overlap));
        }
        previous = Some((id, header.info(index).end_row()));

        let base = ShareAad {
            dataset: id,
            column: 0,
            batch: index,
            share_format: record.share_format,
            party: record.info.party,
            first_row: header.first_row,
            rows: header.rows,
        };
        let mut digest = cipher.digest_start(&base, record.info.columns);
        let mut intact = true;
        for column in 0..record.info.columns {
            let aad = ShareAad { column, ..base };
            let stored = shares.get(&share_key(&id, column, index))?;
            if stored.is_some() {
                found_shares += 1;
            }
            let Some(stored) = stored else {
                report.record(damage(
                    id,
                    Some(column),
                    Some(index),
                    DamageKind::MissingColumn,
                ));
                intact = false;
                continue;
            };
            let checked = cipher
                .unseal_encoded(&aad, stored.value())
                .and_then(|encoded| {
                    check_values(&encoded)?;
                    digest.update(&encoded);
                    Ok(())
                });
            match checked {
                Ok(()) => report.verified_columns += 1,
                Err(kind) => {
                    report.record(damage(id, Some(column), Some(index), kind));
                    intact = false;
                }
            }
        }
        if intact && !digests_equal(&digest.finish(), &header.digest) {
            report.record(damage(id, None, Some(index), DamageKind::DigestMismatch));
        }
    }

    // Share entries that no header or column accounts for. Scanned (keys only matter) only when
    // the table holds more entries than the headers accounted for.
    if shares.len()? == found_shares {
        return Ok(report);
    }
    let mut reported: BTreeSet<(DatasetId, u64)> = BTreeSet::new();
    for entry in shares.iter()? {
        let (key, _) = entry?;
        let (id, column, index) = parse_share_key(key.value());
        let known = match records.get(&id) {
            Some(Some(record)) => column < record.info.columns && headers.contains(&(id, index)),
            Some(None) => true,
            None => false,
        };
        if !known && reported.insert((id, index)) {
            report.record(damage(id, Some(column), Some(index), DamageKind::Orphan));
        }
    }
    Ok(report)
}

fn damage(dataset: DatasetId, column: Option<u32>, batch: Option<u64>, kind: DamageKind) -> Damage {
    Damage {
        dataset,
        column,
        batch,
        kind,
    }
}
