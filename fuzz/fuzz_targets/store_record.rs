//! The share store's records on disk (`node/src/store/schema.rs`): a dataset record (first byte
//! even) or a batch header (odd), decoded as opening the store and reading it do. Whatever
//! decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharenet_node::store::format::{reencode_batch_header, reencode_dataset_record};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, value)) = data.split_first() else {
        return;
    };
    let reencoded = if selector % 2 == 0 {
        reencode_dataset_record(value)
    } else {
        reencode_batch_header(value)
    };
    if let Some(bytes) = reencoded {
        assert_eq!(bytes, value, "a store record re-encodes to other bytes");
    }
});
