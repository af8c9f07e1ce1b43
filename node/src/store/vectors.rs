//! Known-answer vectors for the store's value encodings, generated independently from
//! docs/storage.md by `mpc/tests/vectors/generate_formats.py` (`tests/vectors/store.json`): the
//! associated data of each column ciphertext, ciphertexts sealed with fixed nonces, the key
//! check, the keyed batch digest, batch headers and dataset records. (`tests/format_vectors.rs`
//! checks the same vectors against a file written by `put_batch`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chacha20poly1305::XNonce;
use serde_json::Value;
use sharenet_mpc::field::{Field, Mp127};

use super::crypto::{ShareAad, StoreCipher, encode_values};
use super::key::AtRestKey;
use super::schema::{BatchHeader, DatasetRecord, SHARE_FORMAT_VERSION};
use super::types::{DatasetId, DatasetInfo, UploadState};

fn vectors() -> Value {
    let path = format!("{}/tests/vectors/store.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn values(column: &Value) -> Vec<Mp127> {
    column
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Mp127::read_bytes(&unhex(v)).unwrap())
        .collect()
}

fn state(name: &str) -> UploadState {
    match name {
        "Receiving" => UploadState::Receiving,
        "Verified" => UploadState::Verified,
        "Registered" => UploadState::Registered,
        other => panic!("unknown state {other}"),
    }
}

#[test]
fn column_ciphertexts_digests_and_headers_are_the_vectors() {
    let doc = vectors();
    let key = AtRestKey::from_bytes(unhex(&doc["at_rest_key"]).try_into().unwrap());
    let cipher = StoreCipher::new(&key);
    assert!(cipher.verify_key_check(&unhex(&doc["key_check"])));
    let d = &doc["dataset"];
    let dataset = DatasetId(unhex(&d["id"]).try_into().unwrap());
    let columns = num(&d["columns"]) as u32;
    let party = num(&d["party"]) as u32;
    for b in doc["batches"].as_array().unwrap() {
        let base = ShareAad {
            dataset,
            column: 0,
            batch: num(&b["index"]),
            share_format: SHARE_FORMAT_VERSION,
            party,
            first_row: num(&b["first_row"]),
            rows: num(&b["rows"]) as u32,
        };
        let mut digest = cipher.digest_start(&base, columns);
        assert_eq!(
            ShareAad {
                column: columns,
                ..base
            }
            .encode()
            .to_vec(),
            unhex(&b["digest_aad"])
        );
        for (share, column) in b["shares"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["columns"].as_array().unwrap())
        {
            let aad = ShareAad {
                column: num(&share["column"]) as u32,
                ..base
            };
            assert_eq!(aad.encode().to_vec(), unhex(&share["aad"]));
            let plain = encode_values(&values(column));
            digest.update(&plain);
            let nonce = XNonce::try_from(unhex(&share["nonce"]).as_slice()).unwrap();
            let stored = unhex(&share["stored"]);
            assert_eq!(
                cipher
                    .seal_with_nonce(&nonce, &aad.encode(), &plain)
                    .unwrap(),
                stored
            );
            assert_eq!(cipher.unseal_column(&aad, &stored).unwrap(), values(column));
        }
        let digest = digest.finish();
        assert_eq!(digest.to_vec(), unhex(&b["digest"]));
        let header = BatchHeader {
            first_row: base.first_row,
            rows: base.rows,
            digest,
        };
        assert_eq!(header.encode().to_vec(), unhex(&b["header"]));
        assert_eq!(BatchHeader::decode(&unhex(&b["header"])), Some(header));
    }
    for case in doc["header_malformed"].as_array().unwrap() {
        assert_eq!(
            BatchHeader::decode(&unhex(&case["encoded"])),
            None,
            "{}",
            case["name"]
        );
    }
}

#[test]
fn dataset_records_are_the_vectors() {
    let doc = vectors();
    for case in doc["records"].as_array().unwrap() {
        let record = DatasetRecord {
            info: DatasetInfo {
                name: case["name"].as_str().unwrap().to_owned(),
                columns: num(&case["columns"]) as u32,
                party: num(&case["party"]) as u32,
            },
            state: state(case["state"].as_str().unwrap()),
            share_format: SHARE_FORMAT_VERSION,
        };
        assert_eq!(record.encode(), unhex(&case["encoded"]));
        assert_eq!(
            DatasetRecord::decode(&unhex(&case["encoded"])),
            Some(record)
        );
    }
    for case in doc["record_malformed"].as_array().unwrap() {
        assert_eq!(
            DatasetRecord::decode(&unhex(&case["encoded"])),
            None,
            "{}",
            case["name"]
        );
    }
}
