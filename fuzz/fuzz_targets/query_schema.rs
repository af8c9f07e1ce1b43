//! A dataset schema as JSON (`query/src/schema.rs`, `Schema::from_json`): what a manifest from
//! the DHT carries and every member and requester parses. Whatever parses prints to JSON that
//! parses to the same schema, with the same hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharenet_query::Schema;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(schema) = Schema::from_json(text) else {
        return;
    };
    let json = schema.to_json();
    match Schema::from_json(&json) {
        Ok(again) => {
            assert_eq!(again, schema, "the printed schema {json} parses to another");
            assert_eq!(again.hash(), schema.hash());
        }
        Err(e) => panic!("the printed schema {json} does not parse: {e}"),
    }
});
