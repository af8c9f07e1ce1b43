#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Share store: encryption at rest, wrong key, tampered and swapped ciphertexts.
//!
//! The tampering tests edit the database through redb directly, using the table names and key
//! layouts documented in `docs/storage.md` (not the store's own code).

use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_node::store::{AtRestKey, DamageKind, DatasetId, DatasetInfo, ShareStore, StoreError};

const SHARES: TableDefinition<'_, &[u8; 44], &[u8]> = TableDefinition::new("shares");

fn key() -> AtRestKey {
    AtRestKey::from_bytes([0x5a; 32])
}

/// `dataset id || column u32 BE || batch u64 BE`, as documented.
fn share_key(id: &DatasetId, column: u32, batch: u64) -> [u8; 44] {
    let mut k = [0u8; 44];
    k[..32].copy_from_slice(&id.0);
    k[32..36].copy_from_slice(&column.to_be_bytes());
    k[36..].copy_from_slice(&batch.to_be_bytes());
    k
}

fn encode(v: &Mp127) -> [u8; 16] {
    v.value().to_le_bytes()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A store with dataset `id` of 3 columns in 4 batches of 8 rows; returns the columns.
fn populate(path: &Path, id: &DatasetId, seed: u64) -> Vec<Vec<Mp127>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let table: Vec<Vec<Mp127>> = (0..3)
        .map(|_| (0..32).map(|_| Mp127::random(&mut rng)).collect())
        .collect();
    let store = ShareStore::open(path, key()).unwrap();
    store
        .create_dataset(
            id,
            &DatasetInfo {
                name: "readings".into(),
                columns: 3,
                party: 4,
            },
        )
        .unwrap();
    for batch in 0..4u64 {
        let start = batch as usize * 8;
        let columns: Vec<Vec<Mp127>> = table.iter().map(|c| c[start..start + 8].to_vec()).collect();
        store.put_batch(id, batch, batch * 8, &columns).unwrap();
    }
    table
}

/// Edits the raw shares table through redb.
fn edit_shares(
    path: &Path,
    edit: impl FnOnce(&mut redb::Table<'_, &'static [u8; 44], &'static [u8]>),
) {
    let db = Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(SHARES).unwrap();
        edit(&mut table);
    }
    txn.commit().unwrap();
}

fn raw_share(path: &Path, k: &[u8; 44]) -> Vec<u8> {
    let db = Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let table = txn.open_table(SHARES).unwrap();
    table.get(k).unwrap().unwrap().value().to_vec()
}

#[test]
fn database_file_holds_no_share_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let id = DatasetId([1; 32]);
    let table = populate(&path, &id, 1);
    let bytes = std::fs::read(&path).unwrap();
    let mut checked = 0;
    for column in &table {
        for value in column {
            assert!(
                !contains(&bytes, &encode(value)),
                "a share's encoding is in the database file"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 96);

    // Control: the same scan finds values written unencrypted (as a DHT record), so the scan
    // would have seen them.
    {
        let store = ShareStore::open(&path, key()).unwrap();
        let mut plain = Vec::new();
        for value in &table[0][..4] {
            plain.extend_from_slice(&encode(value));
        }
        store.put_dht_record(b"control", &plain).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    assert!(table[0][..4].iter().all(|v| contains(&bytes, &encode(v))));
}

#[test]
fn wrong_key_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    populate(&path, &DatasetId([2; 32]), 2);
    let err = ShareStore::open(&path, AtRestKey::from_bytes([0x5b; 32])).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    // The right key still opens it, intact.
    let store = ShareStore::open(&path, key()).unwrap();
    assert!(store.open_report().damaged.is_empty());
}

#[test]
fn a_flipped_ciphertext_byte_is_reported_with_its_batch_and_the_rest_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let bad = DatasetId([3; 32]);
    let good = DatasetId([4; 32]);
    populate(&path, &bad, 3);
    let good_table = {
        // A second dataset in the same file.
        let mut rng = StdRng::seed_from_u64(33);
        let store = ShareStore::open(&path, key()).unwrap();
        store
            .create_dataset(
                &good,
                &DatasetInfo {
                    name: "other".into(),
                    columns: 1,
                    party: 4,
                },
            )
            .unwrap();
        let column: Vec<Mp127> = (0..5).map(|_| Mp127::random(&mut rng)).collect();
        store
            .put_batch(&good, 0, 0, std::slice::from_ref(&column))
            .unwrap();
        column
    };
    let k = share_key(&bad, 1, 2);
    let mut stored = raw_share(&path, &k);
    stored[24 + 3] ^= 0x01; // inside the ciphertext, after the 24-byte nonce
    edit_shares(&path, |t| {
        t.insert(&k, stored.as_slice()).unwrap();
    });

    let store = ShareStore::open(&path, key()).unwrap();
    let damaged = &store.open_report().damaged;
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0].dataset, bad);
    assert_eq!(damaged[0].column, Some(1));
    assert_eq!(damaged[0].batch, Some(2));
    assert_eq!(damaged[0].kind, DamageKind::Unauthenticated);
    assert!(!store.is_usable(&bad));
    assert!(matches!(
        store.column(&bad, 0),
        Err(StoreError::DatasetDamaged(_))
    ));
    assert!(
        store
            .datasets()
            .unwrap()
            .iter()
            .any(|d| d.id == bad && !d.usable)
    );
    // The other dataset is unaffected.
    assert!(store.is_usable(&good));
    assert_eq!(store.column(&good, 0).unwrap(), good_table);
    // Deleting the damaged dataset clears it; the next open is clean.
    assert!(store.delete_dataset(&bad).unwrap());
    assert!(store.is_usable(&bad));
    drop(store);
    let store = ShareStore::open(&path, key()).unwrap();
    assert!(store.open_report().damaged.is_empty());
}

#[test]
fn swapped_ciphertexts_are_detected_by_their_associated_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let id = DatasetId([5; 32]);
    populate(&path, &id, 5);
    // Swap batches 0 and 1 of column 0 (same length), and columns 1 and 2 of batch 3.
    let pairs = [
        (share_key(&id, 0, 0), share_key(&id, 0, 1)),
        (share_key(&id, 1, 3), share_key(&id, 2, 3)),
    ];
    for (a, b) in pairs {
        let (va, vb) = (raw_share(&path, &a), raw_share(&path, &b));
        edit_shares(&path, |t| {
            t.insert(&a, vb.as_slice()).unwrap();
            t.insert(&b, va.as_slice()).unwrap();
        });
    }
    let store = ShareStore::open(&path, key()).unwrap();
    let mut found: Vec<(Option<u32>, Option<u64>, DamageKind)> = store
        .open_report()
        .damaged
        .iter()
        .map(|d| (d.column, d.batch, d.kind))
        .collect();
    found.sort_by_key(|(c, b, _)| (*b, *c));
    assert_eq!(
        found,
        vec![
            (Some(0), Some(0), DamageKind::Unauthenticated),
            (Some(0), Some(1), DamageKind::Unauthenticated),
            (Some(1), Some(3), DamageKind::Unauthenticated),
            (Some(2), Some(3), DamageKind::Unauthenticated),
        ]
    );
}

#[test]
fn a_ciphertext_moved_between_datasets_or_a_removed_column_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let (a, b) = (DatasetId([6; 32]), DatasetId([7; 32]));
    populate(&path, &a, 6);
    populate(&path, &b, 7);
    let from_a = raw_share(&path, &share_key(&a, 0, 0));
    edit_shares(&path, |t| {
        t.insert(&share_key(&b, 0, 0), from_a.as_slice()).unwrap();
        t.remove(&share_key(&a, 2, 1)).unwrap();
    });
    let store = ShareStore::open(&path, key()).unwrap();
    let report = store.open_report();
    assert!(report.damaged.iter().any(|d| d.dataset == b
        && d.column == Some(0)
        && d.batch == Some(0)
        && d.kind == DamageKind::Unauthenticated));
    assert!(report.damaged.iter().any(|d| d.dataset == a
        && d.column == Some(2)
        && d.batch == Some(1)
        && d.kind == DamageKind::MissingColumn));
    assert_eq!(report.damaged.len(), 2, "{:?}", report.damaged);
}

#[test]
fn a_byte_flipped_in_the_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let id = DatasetId([8; 32]);
    populate(&path, &id, 8);
    let stored = raw_share(&path, &share_key(&id, 2, 3));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(stored.len())
        .position(|w| w == stored.as_slice())
        .expect("the ciphertext is in the file");
    bytes[at + 30] ^= 0x80;
    std::fs::write(&path, &bytes).unwrap();
    // redb's page checksums catch the change before the AEAD does: the file as a whole is
    // reported corrupted (redb cannot say which B-tree entries a bad page held), with the path.
    match ShareStore::open(&path, key()) {
        Err(err @ StoreError::FileCorrupted { .. }) => {
            assert!(err.to_string().contains("shares.redb"), "{err}");
            assert!(err.to_string().contains("backup"), "{err}");
        }
        Ok(store) => panic!("opened a corrupted file: {:?}", store.open_report()),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[test]
fn a_file_that_is_not_a_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Random bytes.
    let garbage = dir.path().join("garbage");
    let mut rng = StdRng::seed_from_u64(99);
    let bytes: Vec<u8> = (0..64 * 1024)
        .map(|_| rand::RngExt::random(&mut rng))
        .collect();
    std::fs::write(&garbage, &bytes).unwrap();
    let err = ShareStore::open(&garbage, key()).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("garbage"), "{err}");
    // A redb database with other tables.
    let other = dir.path().join("other.redb");
    {
        let db = Database::create(&other).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: TableDefinition<'_, u64, u64> = TableDefinition::new("numbers");
            txn.open_table(def).unwrap().insert(1, 2).unwrap();
            let meta: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
            txn.open_table(meta)
                .unwrap()
                .insert("x", b"y".as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let err = ShareStore::open(&other, key()).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    // A directory.
    let err = ShareStore::open(dir.path(), key()).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    // Open twice at once.
    let path = dir.path().join("db");
    let first = ShareStore::open(&path, key()).unwrap();
    let err = ShareStore::open(&path, key()).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyOpen { .. }), "{err}");
    drop(first);
    ShareStore::open(&path, key()).unwrap();
}

const BATCHES: TableDefinition<'_, &[u8; 40], &[u8]> = TableDefinition::new("batches");
const DATASETS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("datasets");

/// Applies `edit` to the stored value under `k` in `table`, through redb.
fn edit_value<const N: usize>(
    path: &Path,
    table: TableDefinition<'_, &'static [u8; N], &'static [u8]>,
    k: &[u8; N],
    edit: impl FnOnce(&mut Vec<u8>),
) {
    let db = Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(table).unwrap();
        let mut value = t.get(k).unwrap().unwrap().value().to_vec();
        edit(&mut value);
        t.insert(k, value.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

fn batch_key(id: &DatasetId, batch: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&id.0);
    k[32..].copy_from_slice(&batch.to_be_bytes());
    k
}

fn damage_list(path: &Path) -> Vec<(DatasetId, Option<u32>, Option<u64>, DamageKind)> {
    let store = ShareStore::open(path, key()).unwrap();
    let mut list: Vec<_> = store
        .open_report()
        .damaged
        .iter()
        .map(|d| (d.dataset, d.column, d.batch, d.kind))
        .collect();
    list.sort_by_key(|(id, c, b, _)| (*id, *b, *c));
    list
}

#[test]
fn tampered_batch_headers_and_dataset_records_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let ids: Vec<DatasetId> = (20..25u8).map(|b| DatasetId([b; 32])).collect();
    for (i, id) in ids.iter().enumerate() {
        populate(&path, id, 20 + i as u64);
    }
    // Header layout: version u8 || first row u64 LE || rows u32 LE || digest (32).
    // ids[0], batch 1: a digest byte flipped.
    edit_value(&path, BATCHES, &batch_key(&ids[0], 1), |v| v[20] ^= 1);
    // ids[1], batch 2: rows 8 → 7 (every column now has the wrong length).
    edit_value(&path, BATCHES, &batch_key(&ids[1], 2), |v| v[9] = 7);
    // ids[2], batch 0: first row 0 → 1 (the associated data no longer matches).
    edit_value(&path, BATCHES, &batch_key(&ids[2], 0), |v| v[1] = 1);
    // ids[3]: the dataset record's party index changed (record: version, state, share
    // format u16, columns u32, party u32, …): every ciphertext fails.
    edit_value(&path, DATASETS, &ids[3].0, |v| v[8] ^= 1);
    // ids[4]: the dataset record no longer decodes.
    edit_value(&path, DATASETS, &ids[4].0, |v| v.truncate(3));

    let damaged = damage_list(&path);
    use DamageKind::*;
    let mut expected = vec![(ids[0], None, Some(1), DigestMismatch)];
    expected.extend((0..3).map(|c| (ids[1], Some(c), Some(2), Malformed)));
    expected.extend((0..3).map(|c| (ids[2], Some(c), Some(0), Unauthenticated)));
    // …and batch 0 now reaches into batch 1's rows (1..9 against 8..16).
    expected.push((ids[2], None, Some(1), Overlap));
    for b in 0..4 {
        expected.extend((0..3).map(|c| (ids[3], Some(c), Some(b), Unauthenticated)));
    }
    expected.push((ids[4], None, None, BadRecord));
    expected.sort_by_key(|(id, c, b, _)| (*id, *b, *c));
    assert_eq!(damaged, expected);

    let store = ShareStore::open(&path, key()).unwrap();
    for id in &ids {
        assert!(!store.is_usable(id));
        assert!(matches!(
            store.column(id, 0),
            Err(StoreError::DatasetDamaged(_))
        ));
    }
    // The undecodable record is not listed, but can be deleted with all its batches.
    assert_eq!(store.datasets().unwrap().len(), 4);
    for id in &ids {
        assert!(store.delete_dataset(id).unwrap());
    }
    drop(store);
    assert!(damage_list(&path).is_empty());
}

#[test]
fn shares_without_a_batch_header_are_reported_as_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let id = DatasetId([30; 32]);
    populate(&path, &id, 30);
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(BATCHES)
            .unwrap()
            .remove(&batch_key(&id, 3))
            .unwrap();
        txn.commit().unwrap();
    }
    assert_eq!(
        damage_list(&path),
        vec![(id, Some(0), Some(3), DamageKind::Orphan)]
    );
}

#[test]
fn the_damage_list_is_capped_but_the_unusable_set_is_complete() {
    use sharenet_node::store::MAX_REPORTED_DAMAGE;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let (big, small) = (DatasetId([40; 32]), DatasetId([41; 32]));
    // One batch of more columns than the report lists.
    let columns = MAX_REPORTED_DAMAGE as u32 + 5;
    {
        let store = ShareStore::open(&path, key()).unwrap();
        for (id, columns) in [(big, columns), (small, 1)] {
            store
                .create_dataset(
                    &id,
                    &DatasetInfo {
                        name: "wide".into(),
                        columns,
                        party: 2,
                    },
                )
                .unwrap();
            let batch: Vec<Vec<Mp127>> = (0..columns)
                .map(|c| vec![Mp127::new(u128::from(c))])
                .collect();
            store.put_batch(&id, 0, 0, &batch).unwrap();
        }
    }
    // Change the party index of both records (2 → 3): every ciphertext of both fails.
    for id in [big, small] {
        edit_value(&path, DATASETS, &id.0, |v| v[8] ^= 1);
    }
    let store = ShareStore::open(&path, key()).unwrap();
    let report = store.open_report();
    assert!(!report.is_clean());
    assert_eq!(report.damaged.len(), MAX_REPORTED_DAMAGE);
    assert_eq!(
        report.omitted,
        u64::from(columns) + 1 - MAX_REPORTED_DAMAGE as u64
    );
    assert_eq!(report.unusable.len(), 2);
    assert!(!store.is_usable(&big) && !store.is_usable(&small));
}
