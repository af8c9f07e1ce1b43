//! `/sharenet/upload/1` request: one party's batch of shares (`node/src/upload/wire.rs`).
//! Whatever decodes re-encodes to the same bytes (the format is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharenet_node::upload::wire::BatchUpload;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = BatchUpload::decode(data) else {
        return;
    };
    assert_eq!(batch.encode(), data, "a batch re-encodes to other bytes");
    assert_eq!(
        batch.shares.len(),
        batch.rows as usize * batch.columns as usize
    );
    // What the intake does next, on attacker-chosen fields: no panic.
    let _ = batch.dataset();
    let _ = batch.is_signed_by_owner();
    let _ = format!("{batch:?}");
});
