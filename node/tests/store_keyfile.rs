#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! At-rest key file: created 0600, reused, loose permissions and bad lengths refused.

use std::os::unix::fs::PermissionsExt;

use sharenet_node::store::{AtRestKey, DatasetId, DatasetInfo, ShareStore, StoreError};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn key_file_is_created_0600_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("at-rest.key");
    let db = dir.path().join("shares.redb");
    let id = DatasetId([1; 32]);
    {
        let key = AtRestKey::load_or_create(&key_path).unwrap();
        assert_eq!(mode(&key_path), 0o600);
        assert_eq!(std::fs::metadata(&key_path).unwrap().len(), 32);
        let store = ShareStore::open(&db, key).unwrap();
        store
            .create_dataset(
                &id,
                &DatasetInfo {
                    name: "x".into(),
                    columns: 1,
                    party: 1,
                },
            )
            .unwrap();
    }
    // The database file is private too.
    assert_eq!(mode(&db), 0o600);
    // No temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let before = std::fs::read(&key_path).unwrap();
    // The same key is loaded again: the store opens with it.
    let key = AtRestKey::load_or_create(&key_path).unwrap();
    assert_eq!(std::fs::read(&key_path).unwrap(), before);
    let store = ShareStore::open(&db, key).unwrap();
    assert!(store.dataset(&id).unwrap().is_some());
    // Two fresh keys differ.
    let other = dir.path().join("other.key");
    AtRestKey::load_or_create(&other).unwrap();
    assert_ne!(std::fs::read(&other).unwrap(), before);
}

#[test]
fn group_or_world_accessible_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("at-rest.key");
    AtRestKey::load_or_create(&key_path).unwrap();
    for loose in [0o640, 0o604, 0o660, 0o606, 0o610] {
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(loose)).unwrap();
        let err = AtRestKey::load_or_create(&key_path).unwrap_err();
        assert!(
            matches!(err, StoreError::KeyFilePermissions { mode, .. } if mode == loose),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("chmod 600"), "{message}");
        assert!(matches!(
            AtRestKey::load(&key_path),
            Err(StoreError::KeyFilePermissions { .. })
        ));
    }
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o400)).unwrap();
    AtRestKey::load_or_create(&key_path).unwrap();
}

#[test]
fn key_file_of_the_wrong_length_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("at-rest.key");
    for len in [0usize, 31, 33, 64] {
        std::fs::write(&key_path, vec![7u8; len]).unwrap();
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = AtRestKey::load_or_create(&key_path).unwrap_err();
        assert!(
            matches!(err, StoreError::KeyFileFormat { len: l, .. } if l == len as u64),
            "{err}"
        );
    }
    assert!(matches!(
        AtRestKey::load(dir.path().join("missing.key")),
        Err(StoreError::KeyFileIo { .. })
    ));
    // A directory where the key file should be.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = AtRestKey::load_or_create(&sub).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    // A key file in a directory that does not exist: the error names the key file.
    let missing = dir.path().join("no-such-dir").join("at-rest.key");
    let err = AtRestKey::load_or_create(&missing).unwrap_err();
    assert!(
        matches!(&err, StoreError::KeyFileIo { path, .. } if *path == missing),
        "{err}"
    );
}

#[test]
fn key_debug_output_is_redacted() {
    let key = AtRestKey::from_bytes([0x11; 32]);
    let shown = format!("{key:?}");
    assert!(!shown.contains("11"), "{shown}");
    assert!(!shown.contains("17"), "{shown}");
}
