//! Known-answer vectors for the DHT's signed records and their persisted form, generated
//! independently from docs/dht.md by `mpc/tests/vectors/generate_formats.py` (which writes
//! `tests/vectors/records.json`, with its own ed25519 and BLAKE3): exact envelope bytes with
//! their signatures, record keys and manifest hashes, and the error each invalid record gets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::kad::RecordKey;
use serde_json::{Value, json};
use sharenet_dht::{
    DatasetManifest, DecodeError, Key, ManifestMember, NodeAnnouncement, RecordContent,
    RecordError, RecordKind, SignedRecord, StoreError, StoredRecord,
};

fn vectors() -> Value {
    let path = format!("{}/tests/vectors/records.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn array<const N: usize>(v: &Value) -> [u8; N] {
    unhex(v).try_into().unwrap()
}

/// A case's bytes: `encoded`, then `then.count` copies of `then.byte` if given.
fn encoded(case: &Value) -> Vec<u8> {
    let mut bytes = unhex(&case["encoded"]);
    if let Some(run) = case.get("then") {
        let byte = run["byte"].as_u64().unwrap() as u8;
        bytes.resize(bytes.len() + run["count"].as_u64().unwrap() as usize, byte);
    }
    bytes
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn string(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

fn keypair(seed: &Value) -> Keypair {
    Keypair::ed25519_from_bytes(unhex(seed)).unwrap()
}

fn manifest(v: &Value) -> DatasetManifest {
    DatasetManifest {
        dataset_id: array(&v["dataset_id"]),
        owner: array(&v["owner"]),
        pool: string(&v["pool"]),
        name: string(&v["name"]),
        schema_hash: array(&v["schema_hash"]),
        schema: string(&v["schema"]),
        min_cohort: u64_of(&v["min_cohort"]) as u32,
        rows: u64_of(&v["rows"]),
        columns: u64_of(&v["columns"]) as u32,
        threshold: u64_of(&v["threshold"]) as u8,
        committee_epoch: u64_of(&v["committee_epoch"]),
        members: v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| ManifestMember {
                peer_key: array(&m["peer_key"]),
                receipt_hash: array(&m["receipt_hash"]),
            })
            .collect(),
        version: u64_of(&v["version"]),
        created_at: u64_of(&v["created_at"]),
    }
}

fn announcement(v: &Value) -> NodeAnnouncement {
    NodeAnnouncement {
        peer_key: array(&v["peer_key"]),
        addresses: v["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(string)
            .collect(),
        epoch: u64_of(&v["epoch"]),
        timestamp: u64_of(&v["timestamp"]),
    }
}

/// Checks one signed record of either kind against its vector.
fn check_signed(case: &Value, signed: &SignedRecord, payload: Vec<u8>, content: RecordContent) {
    let bytes = encoded(case);
    assert_eq!(payload, unhex(&case["payload"]), "{}", case["name"]);
    assert_eq!(signed.signature.to_vec(), unhex(&case["signature"]));
    assert_eq!(signed.to_bytes(), bytes, "{}", case["name"]);
    let key = content.record_key();
    assert_eq!(key.as_bytes().to_vec(), unhex(&case["record_key"]));
    let parsed = SignedRecord::from_bytes(&bytes).unwrap();
    assert_eq!(parsed, *signed);
    let valid = parsed
        .validate(content.timestamp(), &key.to_record_key())
        .unwrap();
    assert_eq!(valid.content, content, "{}", case["name"]);
    assert_eq!(valid.signer_public_key, signed.signer_public_key);
}

#[test]
fn manifests_sign_and_encode_to_the_vectors() {
    let doc = vectors();
    let cases = doc["manifests"].as_array().unwrap();
    assert!(cases.len() >= 2);
    for case in cases {
        let m = manifest(&case["manifest"]);
        let kp = keypair(&case["signer_seed"]);
        let signed = SignedRecord::sign_manifest(&m, &kp).unwrap();
        assert_eq!(signed.kind, RecordKind::DatasetManifest);
        assert_eq!(
            signed.signer_public_key.to_vec(),
            unhex(&case["signer_public_key"])
        );
        assert_eq!(m.manifest_hash().to_vec(), unhex(&case["manifest_hash"]));
        assert_eq!(
            DatasetManifest::decode(&unhex(&case["payload"])).unwrap(),
            m
        );
        check_signed(case, &signed, m.encode(), RecordContent::Manifest(m));
    }
}

#[test]
fn announcements_sign_and_encode_to_the_vectors() {
    let doc = vectors();
    let cases = doc["announcements"].as_array().unwrap();
    assert!(cases.len() >= 2);
    for case in cases {
        let a = announcement(&case["announcement"]);
        let signed = SignedRecord::sign_announcement(&a, &keypair(&case["signer_seed"])).unwrap();
        assert_eq!(signed.kind, RecordKind::NodeAnnouncement);
        assert_eq!(
            NodeAnnouncement::decode(&unhex(&case["payload"])).unwrap(),
            a
        );
        check_signed(case, &signed, a.encode(), RecordContent::Announcement(a));
    }
}

fn kind_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::DatasetManifest => "DatasetManifest",
        RecordKind::NodeAnnouncement => "NodeAnnouncement",
        _ => "other",
    }
}

fn decode_json(e: &DecodeError) -> Value {
    match e {
        DecodeError::Truncated { field } => json!({"error": "Truncated", "field": field}),
        DecodeError::TrailingBytes { count } => json!({"error": "TrailingBytes", "count": count}),
        DecodeError::BadLength {
            field,
            len,
            min,
            max,
        } => json!({"error": "BadLength", "field": field, "len": len, "min": min, "max": max}),
        DecodeError::InvalidUtf8 { field } => json!({"error": "InvalidUtf8", "field": field}),
        DecodeError::BadValue { field, reason } => {
            json!({"error": "BadValue", "field": field, "reason": reason})
        }
        other => json!({ "unexpected": format!("{other:?}") }),
    }
}

/// The error as the vectors write it (free-text reasons of `InvalidField` left out).
fn error_json(e: &RecordError) -> Value {
    match e {
        RecordError::TooLarge { size, max } => {
            json!({"error": "TooLarge", "size": size, "max": max})
        }
        RecordError::Malformed(d) => json!({"error": "Malformed", "decode": decode_json(d)}),
        RecordError::BadMagic => json!({"error": "BadMagic"}),
        RecordError::UnsupportedVersion { version } => {
            json!({"error": "UnsupportedVersion", "version": version})
        }
        RecordError::UnknownKind { kind } => json!({"error": "UnknownKind", "kind": kind}),
        RecordError::KindMismatch { envelope, payload } => json!({
            "error": "KindMismatch", "envelope": kind_name(*envelope), "payload": payload
        }),
        RecordError::KeyMismatch { expected, found } => {
            json!({"error": "KeyMismatch", "expected": expected, "found": found})
        }
        RecordError::InvalidSignerKey => json!({"error": "InvalidSignerKey"}),
        RecordError::BadSignature => json!({"error": "BadSignature"}),
        RecordError::FromTheFuture { timestamp, now } => {
            json!({"error": "FromTheFuture", "timestamp": timestamp, "now": now})
        }
        RecordError::Expired {
            timestamp,
            expired_at,
            now,
        } => json!({
            "error": "Expired", "timestamp": timestamp, "expired_at": expired_at, "now": now
        }),
        RecordError::SignerNotAnnouncedPeer { announced, signer } => json!({
            "error": "SignerNotAnnouncedPeer", "announced": announced, "signer": signer
        }),
        RecordError::InvalidField { field, .. } => json!({"error": "InvalidField", "field": field}),
        other => json!({ "unexpected": format!("{other:?}") }),
    }
}

#[test]
fn invalid_records_are_refused_with_the_expected_error() {
    let doc = vectors();
    let cases = doc["invalid"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let key = RecordKey::new(&unhex(&case["key"]));
        let got = match SignedRecord::validate_bytes(&encoded(case), u64_of(&case["now"]), &key) {
            Ok(_) => json!("valid"),
            Err(e) => error_json(&e),
        };
        assert_eq!(got, case["error"], "{}", case["name"]);
    }
}

fn stored_record(case: &Value) -> StoredRecord {
    StoredRecord {
        key: unhex(&case["key"]),
        value: unhex(&case["value"]),
        publisher: case["publisher"]
            .as_str()
            .map(|_| PeerId::from_bytes(&unhex(&case["publisher"])).unwrap()),
        expires_at: case["expires_at"].as_u64(),
    }
}

#[test]
fn stored_records_encode_to_the_vectors() {
    let doc = vectors();
    for case in doc["stored_records"].as_array().unwrap() {
        let record = stored_record(case);
        assert_eq!(record.encode(), unhex(&case["encoded"]), "{}", case["name"]);
        assert_eq!(
            StoredRecord::decode(&unhex(&case["encoded"])).unwrap(),
            record
        );
        // The value is a valid signed record stored under its own key.
        let key = Key::try_from(&RecordKey::new(&record.key)).unwrap();
        let parsed = SignedRecord::from_bytes(&record.value).unwrap();
        assert_eq!(parsed.content().unwrap().record_key(), key);
    }
    for case in doc["stored_malformed"].as_array().unwrap() {
        let got = match StoredRecord::decode(&unhex(&case["encoded"])) {
            Ok(_) => json!("decoded"),
            Err(StoreError::Malformed(d)) => {
                json!({"error": "Malformed", "decode": decode_json(&d)})
            }
            Err(StoreError::UnsupportedVersion { version }) => {
                json!({"error": "UnsupportedVersion", "version": version})
            }
            Err(other) => json!({ "unexpected": format!("{other:?}") }),
        };
        assert_eq!(got, case["error"], "{}", case["name"]);
    }
}
