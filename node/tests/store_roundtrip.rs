#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Share store: batches round trip, idempotent retry, conflicts, gaps, states, deletion,
//! metadata and limits.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_node::store::{
    AtRestKey, BatchInfo, BatchRange, DatasetId, DatasetInfo, DhtChange, Limit, PutOutcome,
    ShareStore, StoreError, StoreLimits, StoreOptions, UploadState,
};

fn key() -> AtRestKey {
    AtRestKey::from_bytes([42; 32])
}

fn info(columns: u32) -> DatasetInfo {
    DatasetInfo {
        name: "hospital visits".into(),
        columns,
        party: 2,
    }
}

fn random_table(rng: &mut StdRng, columns: usize, rows: usize) -> Vec<Vec<Mp127>> {
    (0..columns)
        .map(|_| (0..rows).map(|_| Mp127::random(rng)).collect())
        .collect()
}

/// Rows `start..end` of every column.
fn slice(table: &[Vec<Mp127>], start: usize, end: usize) -> Vec<Vec<Mp127>> {
    table.iter().map(|c| c[start..end].to_vec()).collect()
}

#[test]
fn random_batches_round_trip_in_row_order_after_out_of_order_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let mut rng = StdRng::seed_from_u64(7);
    let id = DatasetId([1; 32]);
    // Uneven batch sizes: 10 batches covering 1 000 rows.
    let sizes = [1usize, 99, 100, 250, 50, 7, 193, 100, 100, 100];
    let total: usize = sizes.iter().sum();
    let table = random_table(&mut rng, 4, total);
    let mut batches = Vec::new();
    let mut start = 0;
    for (index, size) in sizes.iter().enumerate() {
        batches.push((
            index as u64,
            start as u64,
            slice(&table, start, start + size),
        ));
        start += size;
    }
    batches.shuffle(&mut rng);
    {
        let store = ShareStore::open(&path, key()).unwrap();
        store.create_dataset(&id, &info(4)).unwrap();
        for (index, first_row, columns) in &batches {
            assert_eq!(
                store.put_batch(&id, *index, *first_row, columns).unwrap(),
                PutOutcome::Stored
            );
        }
        for (column, expected) in table.iter().enumerate() {
            assert_eq!(&store.column(&id, column as u32).unwrap(), expected);
        }
    }
    // And after a reopen, which verifies every batch.
    let store = ShareStore::open(&path, key()).unwrap();
    let report = store.open_report();
    assert_eq!(report.datasets, 1);
    assert_eq!(report.batches, sizes.len() as u64);
    assert_eq!(report.verified_columns, 4 * sizes.len() as u64);
    assert!(report.damaged.is_empty(), "{:?}", report.damaged);
    assert_eq!(store.rows(&id).unwrap(), total as u64);
    for (column, expected) in table.iter().enumerate() {
        assert_eq!(&store.column(&id, column as u32).unwrap(), expected);
    }
    let read = store.read_batch(&id, 3).unwrap().unwrap();
    let (batch_info, columns) = (read.info, read.columns);
    assert_eq!(
        batch_info,
        BatchInfo {
            index: 3,
            first_row: 200,
            rows: 250
        }
    );
    assert_eq!(columns, slice(&table, 200, 450));
    assert_eq!(store.read_batch(&id, 10).unwrap(), None);
    let listed = store.datasets().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].info, info(4));
    assert_eq!(listed[0].rows, total as u64);
    assert_eq!(listed[0].batches, sizes.len() as u64);
    assert!(listed[0].usable);
    let stats = store.stats().unwrap();
    assert_eq!(stats.datasets, 1);
    assert_eq!(stats.batches, sizes.len() as u64);
    assert_eq!(stats.share_values, 4 * total as u64);
    assert_eq!(stats.dht_records, 0);
    assert_eq!(stats.file_bytes, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn retry_is_idempotent_and_a_conflicting_rewrite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShareStore::open(dir.path().join("db"), key()).unwrap();
    let mut rng = StdRng::seed_from_u64(8);
    let id = DatasetId([2; 32]);
    store.create_dataset(&id, &info(2)).unwrap();
    let batch = random_table(&mut rng, 2, 16);
    assert_eq!(
        store.put_batch(&id, 0, 0, &batch).unwrap(),
        PutOutcome::Stored
    );
    assert_eq!(
        store.put_batch(&id, 0, 0, &batch).unwrap(),
        PutOutcome::AlreadyStored
    );
    let mut changed = batch.clone();
    changed[1][5] += Mp127::ONE;
    assert!(matches!(
        store.put_batch(&id, 0, 0, &changed),
        Err(StoreError::BatchConflict { batch: 0, .. })
    ));
    // Same values, other first row: also a conflict.
    assert!(matches!(
        store.put_batch(&id, 0, 1, &batch),
        Err(StoreError::BatchConflict { batch: 0, .. })
    ));
    // The stored batch is untouched.
    assert_eq!(store.column(&id, 1).unwrap(), batch[1]);

    // Once registered, the identical batch is still recognised (a replay needs no reopening),
    // while a new batch needs the dataset reopened.
    store.set_state(&id, UploadState::Verified).unwrap();
    store.set_state(&id, UploadState::Registered).unwrap();
    assert_eq!(
        store.put_batch(&id, 0, 0, &batch).unwrap(),
        PutOutcome::AlreadyStored
    );
    assert!(matches!(
        store.put_batch(&id, 1, 16, &batch),
        Err(StoreError::NotReceiving {
            state: UploadState::Registered,
            ..
        })
    ));
    assert_eq!(store.state(&id).unwrap(), UploadState::Registered);
}

#[test]
fn gaps_and_overlaps_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShareStore::open(dir.path().join("db"), key()).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let id = DatasetId([3; 32]);
    store.create_dataset(&id, &info(1)).unwrap();
    store
        .put_batch(&id, 0, 0, &random_table(&mut rng, 1, 10))
        .unwrap();
    store
        .put_batch(&id, 2, 20, &random_table(&mut rng, 1, 10))
        .unwrap();
    // Batch 1 (rows 10..20) is missing.
    let err = store.column(&id, 0).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Gap {
                expected_batch: 1,
                expected_row: 10,
                found_batch: 2,
                found_row: 20,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(store.rows(&id), Err(StoreError::Gap { .. })));
    assert_eq!(
        store.batches(&id).unwrap(),
        vec![
            BatchInfo {
                index: 0,
                first_row: 0,
                rows: 10
            },
            BatchInfo {
                index: 2,
                first_row: 20,
                rows: 10
            }
        ]
    );
    // A batch 1 that would overlap batch 2's rows is refused…
    assert!(matches!(
        store.put_batch(&id, 1, 10, &random_table(&mut rng, 1, 11)),
        Err(StoreError::RowOverlap { other: 2, .. })
    ));
    // …and one overlapping batch 0's rows as well.
    assert!(matches!(
        store.put_batch(&id, 1, 9, &random_table(&mut rng, 1, 5)),
        Err(StoreError::RowOverlap { other: 0, .. })
    ));
    // Rows with a hole between batch 1 and batch 2: stored, but column() reports the gap.
    store
        .put_batch(&id, 1, 10, &random_table(&mut rng, 1, 5))
        .unwrap();
    assert!(matches!(
        store.column(&id, 0),
        Err(StoreError::Gap {
            expected_batch: 2,
            expected_row: 15,
            found_row: 20,
            ..
        })
    ));
    // A batch whose index is out of row order with its neighbours.
    let other = DatasetId([4; 32]);
    store.create_dataset(&other, &info(1)).unwrap();
    store
        .put_batch(&other, 5, 100, &random_table(&mut rng, 1, 10))
        .unwrap();
    assert!(matches!(
        store.put_batch(&other, 6, 0, &random_table(&mut rng, 1, 10)),
        Err(StoreError::RowOverlap { other: 5, .. })
    ));
}

#[test]
fn bad_batch_shapes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        limits: StoreLimits {
            max_batch_rows: 8,
            max_columns: 3,
            max_datasets: 2,
            ..StoreLimits::default()
        },
        ..StoreOptions::default()
    };
    let store = ShareStore::open_with(dir.path().join("db"), key(), options).unwrap();
    let mut rng = StdRng::seed_from_u64(10);
    let id = DatasetId([5; 32]);
    store.create_dataset(&id, &info(2)).unwrap();
    assert!(matches!(
        store.put_batch(&id, 0, 0, &random_table(&mut rng, 3, 4)),
        Err(StoreError::ColumnCount {
            got: 3,
            expected: 2,
            ..
        })
    ));
    let mut ragged = random_table(&mut rng, 2, 4);
    ragged[1].pop();
    assert!(matches!(
        store.put_batch(&id, 0, 0, &ragged),
        Err(StoreError::BadBatchShape {
            column: 1,
            got: 3,
            expected: 4,
            ..
        })
    ));
    assert!(matches!(
        store.put_batch(&id, 0, 0, &random_table(&mut rng, 2, 0)),
        Err(StoreError::BadBatchShape { got: 0, .. })
    ));
    assert!(matches!(
        store.put_batch(&id, 0, 0, &random_table(&mut rng, 2, 9)),
        Err(StoreError::LimitExceeded {
            limit: Limit::BatchRows,
            value: 9,
            max: 8
        })
    ));
    assert!(matches!(
        store.put_batch(&id, 0, u64::MAX - 2, &random_table(&mut rng, 2, 4)),
        Err(StoreError::RowOverflow { .. })
    ));
    assert!(matches!(
        store.create_dataset(&DatasetId([6; 32]), &info(4)),
        Err(StoreError::LimitExceeded {
            limit: Limit::Columns,
            ..
        })
    ));
    assert!(matches!(
        store.create_dataset(&DatasetId([6; 32]), &info(0)),
        Err(StoreError::InvalidDataset { .. })
    ));
    store.create_dataset(&DatasetId([6; 32]), &info(1)).unwrap();
    assert!(matches!(
        store.create_dataset(&DatasetId([7; 32]), &info(1)),
        Err(StoreError::LimitExceeded {
            limit: Limit::Datasets,
            value: 3,
            max: 2
        })
    ));
    assert!(matches!(
        store.put_batch(&DatasetId([8; 32]), 0, 0, &random_table(&mut rng, 1, 1)),
        Err(StoreError::UnknownDataset(_))
    ));
    assert!(matches!(
        store.column(&id, 2),
        Err(StoreError::UnknownColumn { column: 2, .. })
    ));
    // Nothing was stored by any refused call.
    assert!(store.batches(&id).unwrap().is_empty());
}

#[test]
fn upload_states_follow_the_life_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShareStore::open(dir.path().join("db"), key()).unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let id = DatasetId([9; 32]);
    store.create_dataset(&id, &info(1)).unwrap();
    assert_eq!(store.state(&id).unwrap(), UploadState::Receiving);
    assert!(matches!(
        store.set_state(&id, UploadState::Registered),
        Err(StoreError::InvalidTransition {
            from: UploadState::Receiving,
            to: UploadState::Registered,
            ..
        })
    ));
    store
        .put_batch(&id, 1, 3, &random_table(&mut rng, 1, 3))
        .unwrap();
    // Batch 0 is missing: the dataset cannot be verified yet.
    assert!(matches!(
        store.set_state(&id, UploadState::Verified),
        Err(StoreError::Gap {
            expected_batch: 0,
            ..
        })
    ));
    assert_eq!(store.state(&id).unwrap(), UploadState::Receiving);
    store
        .put_batch(&id, 0, 0, &random_table(&mut rng, 1, 3))
        .unwrap();
    store.set_state(&id, UploadState::Verified).unwrap();
    // No batches once verified.
    assert!(matches!(
        store.put_batch(&id, 2, 6, &random_table(&mut rng, 1, 3)),
        Err(StoreError::NotReceiving {
            state: UploadState::Verified,
            ..
        })
    ));
    assert!(matches!(
        store.set_state(&id, UploadState::Receiving),
        Err(StoreError::InvalidTransition { .. })
    ));
    store.set_state(&id, UploadState::Registered).unwrap();
    store.set_state(&id, UploadState::Registered).unwrap();
    // Append: back to receiving.
    store.set_state(&id, UploadState::Receiving).unwrap();
    store
        .put_batch(&id, 2, 6, &random_table(&mut rng, 1, 3))
        .unwrap();
    assert_eq!(store.rows(&id).unwrap(), 9);
    // The state survives a reopen.
    store.set_state(&id, UploadState::Verified).unwrap();
    drop(store);
    let store = ShareStore::open(dir.path().join("db"), key()).unwrap();
    assert_eq!(store.state(&id).unwrap(), UploadState::Verified);
    // Recreating with the same info is a no-op; with other info it is refused.
    store.create_dataset(&id, &info(1)).unwrap();
    assert_eq!(store.state(&id).unwrap(), UploadState::Verified);
    assert!(matches!(
        store.create_dataset(&id, &info(2)),
        Err(StoreError::DatasetExists(_))
    ));
}

#[test]
fn delete_removes_everything_of_one_dataset_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShareStore::open(dir.path().join("db"), key()).unwrap();
    let mut rng = StdRng::seed_from_u64(12);
    let (a, b) = (DatasetId([10; 32]), DatasetId([11; 32]));
    let table_b = random_table(&mut rng, 2, 5);
    for id in [a, b] {
        store.create_dataset(&id, &info(2)).unwrap();
        store.put_batch(&id, 0, 0, &table_b).unwrap();
        store.put_manifest(&id, b"manifest").unwrap();
        store
            .put_receipt(&id, BatchRange { start: 0, end: 1 }, b"receipt")
            .unwrap();
    }
    assert!(store.delete_dataset(&a).unwrap());
    assert!(!store.delete_dataset(&a).unwrap());
    assert!(matches!(
        store.column(&a, 0),
        Err(StoreError::UnknownDataset(_))
    ));
    assert_eq!(store.manifest(&a).unwrap(), None);
    assert!(store.receipts(&a).unwrap().is_empty());
    assert_eq!(store.datasets().unwrap().len(), 1);
    assert_eq!(store.column(&b, 1).unwrap(), table_b[1]);
    assert_eq!(
        store.manifest(&b).unwrap().as_deref(),
        Some(&b"manifest"[..])
    );
    // The same id can be uploaded again from scratch, with other content.
    store.create_dataset(&a, &info(2)).unwrap();
    let again = random_table(&mut rng, 2, 7);
    assert_eq!(
        store.put_batch(&a, 0, 0, &again).unwrap(),
        PutOutcome::Stored
    );
    drop(store);
    let store = ShareStore::open(dir.path().join("db"), key()).unwrap();
    assert!(store.open_report().damaged.is_empty());
    assert_eq!(store.column(&a, 0).unwrap(), again[0]);
}

#[test]
fn metadata_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let id = DatasetId([12; 32]);
    {
        let store = ShareStore::open(&path, key()).unwrap();
        assert!(matches!(
            store.put_manifest(&id, b"m"),
            Err(StoreError::UnknownDataset(_))
        ));
        store.create_dataset(&id, &info(1)).unwrap();
        store.put_manifest(&id, b"first").unwrap();
        store.put_manifest(&id, b"signed manifest v2").unwrap();
        let r1 = BatchRange { start: 0, end: 4 };
        let r2 = BatchRange { start: 4, end: 9 };
        store.put_receipt(&id, r2, b"receipt 2").unwrap();
        store.put_receipt(&id, r1, b"receipt 1").unwrap();
        store.put_receipt(&id, r1, b"receipt 1").unwrap();
        assert!(matches!(
            store.put_receipt(&id, r1, b"other"),
            Err(StoreError::ReceiptConflict { .. })
        ));
        assert!(matches!(
            store.put_receipt(&id, BatchRange { start: 3, end: 3 }, b"x"),
            Err(StoreError::EmptyRange(_))
        ));
        assert_eq!(store.event_cursor().unwrap(), None);
        store.set_event_cursor(b"block 10 log 3").unwrap();
        store.set_event_cursor(b"block 12 log 0").unwrap();
        store
            .apply_dht_changes(&[
                DhtChange::Put {
                    key: b"k1".to_vec(),
                    value: b"v1".to_vec(),
                },
                DhtChange::Put {
                    key: b"k2".to_vec(),
                    value: b"v2".to_vec(),
                },
                DhtChange::Put {
                    key: b"k3".to_vec(),
                    value: b"v3".to_vec(),
                },
                DhtChange::Remove {
                    key: b"k2".to_vec(),
                },
            ])
            .unwrap();
        store.put_dht_record(b"k1", b"v1'").unwrap();
        assert!(store.remove_dht_record(b"k3").unwrap());
        assert!(!store.remove_dht_record(b"k3").unwrap());
        store.put_dht_record(b"k0", b"v0").unwrap();
    }
    let store = ShareStore::open(&path, key()).unwrap();
    assert_eq!(
        store.manifest(&id).unwrap().as_deref(),
        Some(&b"signed manifest v2"[..])
    );
    assert_eq!(
        store.receipts(&id).unwrap(),
        vec![
            (BatchRange { start: 0, end: 4 }, b"receipt 1".to_vec()),
            (BatchRange { start: 4, end: 9 }, b"receipt 2".to_vec()),
        ]
    );
    assert_eq!(
        store.event_cursor().unwrap().as_deref(),
        Some(&b"block 12 log 0"[..])
    );
    assert_eq!(
        store.dht_records().unwrap(),
        vec![
            (b"k0".to_vec(), b"v0".to_vec()),
            (b"k1".to_vec(), b"v1'".to_vec())
        ]
    );
    assert_eq!(store.dht_record(b"k1").unwrap(), Some(b"v1'".to_vec()));
    assert_eq!(store.dht_record(b"k2").unwrap(), None);
    assert_eq!(store.dht_record_count().unwrap(), 2);
}

#[test]
fn metadata_limits_are_enforced_and_nothing_is_half_applied() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        limits: StoreLimits {
            max_dht_records: 2,
            max_dht_value_bytes: 4,
            max_cursor_bytes: 3,
            max_manifest_bytes: 2,
            max_name_bytes: 3,
            ..StoreLimits::default()
        },
        ..StoreOptions::default()
    };
    let store = ShareStore::open_with(dir.path().join("db"), key(), options).unwrap();
    assert!(matches!(
        store.put_dht_record(b"k", b"12345"),
        Err(StoreError::LimitExceeded {
            limit: Limit::DhtValueBytes,
            ..
        })
    ));
    let three: Vec<DhtChange> = (0..3u8)
        .map(|i| DhtChange::Put {
            key: vec![i],
            value: vec![i],
        })
        .collect();
    assert!(matches!(
        store.apply_dht_changes(&three),
        Err(StoreError::LimitExceeded {
            limit: Limit::DhtRecords,
            value: 3,
            max: 2
        })
    ));
    assert_eq!(store.dht_record_count().unwrap(), 0);
    assert!(matches!(
        store.set_event_cursor(b"1234"),
        Err(StoreError::LimitExceeded {
            limit: Limit::CursorBytes,
            ..
        })
    ));
    assert!(matches!(
        store.create_dataset(&DatasetId([1; 32]), &info(1)),
        Err(StoreError::LimitExceeded {
            limit: Limit::NameBytes,
            ..
        })
    ));
}

#[test]
fn clones_share_one_store_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = ShareStore::open(dir.path().join("db"), key()).unwrap();
    let id = DatasetId([13; 32]);
    store.create_dataset(&id, &info(1)).unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(100 + t);
                for i in 0..5u64 {
                    let batch = t * 5 + i;
                    let values = vec![(0..4).map(|_| Mp127::random(&mut rng)).collect::<Vec<_>>()];
                    // Every thread also retries its batch: idempotent under concurrency.
                    store.put_batch(&id, batch, batch * 4, &values).unwrap();
                    assert_eq!(
                        store.put_batch(&id, batch, batch * 4, &values).unwrap(),
                        PutOutcome::AlreadyStored
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.rows(&id).unwrap(), 80);
    assert_eq!(store.column(&id, 0).unwrap().len(), 80);
}
