//! Known-answer vectors for the node's wire and disk formats, generated independently from
//! docs/protocol.md and docs/storage.md by `mpc/tests/vectors/generate_formats.py` (which
//! writes `tests/vectors/*.json`): the upload batch and receipt, the job messages, the MPC
//! envelope, the request-response frame, and the share store's file as `put_batch` writes it.
//! Each format: encode(input) = bytes, decode(bytes) = input, and the error of each malformed
//! encoding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use alloy::primitives::U256;
use futures::executor::block_on;
use futures::io::Cursor;
use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::request_response::Codec;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::{Value, json};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_node::jobs::wire::{JobReply, JobRequest, JobWireError};
use sharenet_node::net::codec::Admission;
use sharenet_node::net::mpc::{RouteError, decode_envelope, encode_envelope};
use sharenet_node::net::{
    Budget, BytesCodec, JOB_PROTOCOL, MAX_JOB_MESSAGE, MAX_MPC_MESSAGE, MAX_RESPONSE,
    MAX_UPLOAD_REQUEST, MPC_PROTOCOL,
};
use sharenet_node::store::{AtRestKey, DamageKind, DatasetId, DatasetInfo, ShareStore};
use sharenet_node::upload::uploader::{BatchSigner, KeyBatchSigner};
use sharenet_node::upload::wire::{BatchUpload, DatasetOrigin, Receipt, WireError};

fn vectors(file: &str) -> Value {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
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

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn element(v: &Value) -> Mp127 {
    Mp127::read_bytes(&unhex(v)).unwrap()
}

fn list<T>(v: &Value, f: impl Fn(&Value) -> T) -> Vec<T> {
    v.as_array().unwrap().iter().map(f).collect()
}

// ------------------------------------------------------------------------------ upload

fn batch(v: &Value) -> BatchUpload {
    BatchUpload {
        origin: DatasetOrigin {
            owner: array(&v["owner"]),
            salt: array(&v["salt"]),
        },
        name: v["name"].as_str().unwrap().to_owned(),
        batch: num(&v["batch"]),
        first_row: num(&v["first_row"]),
        rows: num(&v["rows"]) as u32,
        columns: num(&v["columns"]) as u32,
        party: num(&v["party"]) as u16,
        t: num(&v["t"]) as u8,
        committee: list(&v["committee"], |p| PeerId::from_bytes(&unhex(p)).unwrap()),
        shares: list(&v["shares"], element),
        mask: element(&v["mask"]),
        owner_signature: array(&v["owner_signature"]),
    }
}

fn wire_error(e: &WireError) -> Value {
    match e {
        WireError::Malformed(reason) => json!({"error": "Malformed", "reason": reason}),
        other => json!({ "unexpected": format!("{other:?}") }),
    }
}

#[test]
fn upload_batches_encode_and_decode_as_the_vectors_say() {
    let doc = vectors("upload.json");
    let cases = doc["batches"].as_array().unwrap();
    assert!(cases.len() >= 2);
    for case in cases {
        let input = batch(&case["input"]);
        assert_eq!(input.encode(), unhex(&case["encoded"]), "{}", case["name"]);
        let decoded = BatchUpload::decode(&unhex(&case["encoded"])).unwrap();
        assert_eq!(decoded, input);
        assert_eq!(
            String::from_utf8(decoded.signing_message()).unwrap(),
            case["signing_message"].as_str().unwrap(),
            "{}",
            case["name"]
        );
        assert_eq!(
            decoded.is_signed_by_owner(),
            case["signed_by_owner"].as_bool().unwrap(),
            "{}",
            case["name"]
        );
        // The owner's key signs the same bytes here as the reference (RFC 6979 nonces).
        if let Some(key) = case["owner_key"].as_str() {
            let signer = alloy::signers::local::PrivateKeySigner::from_bytes(
                &alloy::primitives::B256::from(array::<32>(&json!(key))),
            )
            .unwrap();
            let resigned = decoded
                .clone()
                .sign_with(|message| KeyBatchSigner(signer).sign_batch(message))
                .unwrap();
            assert_eq!(
                resigned.encode(),
                unhex(&case["encoded"]),
                "{}",
                case["name"]
            );
        }
    }
    // A name over 255 bytes is cut to its first 255.
    let cut = &doc["batch_cut_name"];
    let input = batch(&cut["input"]);
    assert_eq!(input.encode(), unhex(&cut["encoded"]));
    let decoded = BatchUpload::decode(&unhex(&cut["encoded"])).unwrap();
    assert_eq!(decoded.name, cut["decoded_name"].as_str().unwrap());
    assert_eq!(
        BatchUpload {
            name: decoded.name.clone(),
            ..input
        },
        decoded
    );

    let malformed = doc["batch_malformed"].as_array().unwrap();
    assert!(malformed.len() >= 20);
    for case in malformed {
        let got = match BatchUpload::decode(&encoded(case)) {
            Ok(_) => json!("decoded"),
            Err(e) => wire_error(&e),
        };
        assert_eq!(got, case["error"], "{}", case["name"]);
    }
}

#[test]
fn receipts_sign_encode_and_verify_as_the_vectors_say() {
    let doc = vectors("upload.json");
    let cases = doc["receipts"].as_array().unwrap();
    assert!(cases.len() >= 2);
    for case in cases {
        let key = Keypair::ed25519_from_bytes(unhex(&case["signer_seed"])).unwrap();
        let peer = PeerId::from_bytes(&unhex(&case["peer_id"])).unwrap();
        assert_eq!(key.public().to_peer_id(), peer, "{}", case["name"]);
        let input = &case["input"];
        let receipt = Receipt::sign(
            array(&input["dataset"]),
            num(&input["batch"]),
            num(&input["party"]) as u16,
            input["accepted"].as_bool().unwrap(),
            array(&input["commitment"]),
            &key,
        )
        .unwrap();
        assert_eq!(receipt.signer, unhex(&case["signer"]));
        assert_eq!(
            receipt.signature,
            unhex(&case["signature"]),
            "{}",
            case["name"]
        );
        assert_eq!(
            receipt.encode(),
            unhex(&case["encoded"]),
            "{}",
            case["name"]
        );
        assert_eq!(receipt.hash().to_vec(), unhex(&case["hash"]));
        let decoded = Receipt::decode(&unhex(&case["encoded"])).unwrap();
        assert_eq!(decoded, receipt);
        assert!(decoded.verify(&peer));
    }
    for case in doc["receipt_malformed"].as_array().unwrap() {
        let got = match Receipt::decode(&encoded(case)) {
            Ok(_) => json!("decoded"),
            Err(e) => wire_error(&e),
        };
        assert_eq!(got, case["error"], "{}", case["name"]);
    }
    for case in doc["receipt_unverifiable"].as_array().unwrap() {
        let receipt = Receipt::decode(&encoded(case)).unwrap();
        let peer = PeerId::from_bytes(&unhex(&case["peer_id"])).unwrap();
        assert!(!receipt.verify(&peer), "{}", case["name"]);
    }
}

// ------------------------------------------------------------------------------ jobs

fn job_id(v: &Value) -> U256 {
    v.as_str().unwrap().parse().unwrap()
}

fn request(v: &Value) -> JobRequest {
    match v["kind"].as_str().unwrap() {
        "Hello" => JobRequest::Hello {
            job: job_id(&v["job"]),
            program: v["program"].as_str().unwrap().to_owned(),
        },
        "Start" => JobRequest::Start {
            job: job_id(&v["job"]),
            attempt: num(&v["attempt"]) as u8,
            live: list(&v["live"], |i| num(i) as u16),
            security: v["security"].as_str().unwrap().parse().unwrap(),
        },
        other => panic!("unknown request kind {other}"),
    }
}

fn reply(v: &Value) -> JobReply {
    match v["kind"].as_str().unwrap() {
        "Ready" => JobReply::Ready,
        "Accepted" => JobReply::Accepted,
        "Refused" => JobReply::Refused(v["reason"].as_str().unwrap().to_owned()),
        "Busy" => JobReply::Busy(v["reason"].as_str().unwrap().to_owned()),
        other => panic!("unknown reply kind {other}"),
    }
}

fn job_error(e: &JobWireError) -> Value {
    match e {
        JobWireError::Malformed(reason) => json!({"error": "Malformed", "reason": reason}),
        JobWireError::TooLarge(size) => json!({"error": "TooLarge", "size": size}),
        other => json!({ "unexpected": format!("{other:?}") }),
    }
}

#[test]
fn job_messages_encode_and_decode_as_the_vectors_say() {
    let doc = vectors("jobs.json");
    for case in doc["requests"].as_array().unwrap() {
        let input = request(&case["input"]);
        assert_eq!(input.encode(), unhex(&case["encoded"]), "{}", case["name"]);
        assert_eq!(JobRequest::decode(&unhex(&case["encoded"])).unwrap(), input);
    }
    for case in doc["replies"].as_array().unwrap() {
        let input = reply(&case["input"]);
        assert_eq!(input.encode(), unhex(&case["encoded"]), "{}", case["name"]);
        assert_eq!(JobReply::decode(&unhex(&case["encoded"])).unwrap(), input);
    }
    for case in doc["reply_cut_reason"].as_array().unwrap() {
        assert_eq!(reply(&case["input"]).encode(), unhex(&case["encoded"]));
        let decoded = JobReply::Refused(case["decoded_reason"].as_str().unwrap().to_owned());
        assert_eq!(JobReply::decode(&unhex(&case["encoded"])).unwrap(), decoded);
    }
    for case in doc["reply_lossy_reason"].as_array().unwrap() {
        let decoded = JobReply::Refused(case["decoded_reason"].as_str().unwrap().to_owned());
        assert_eq!(JobReply::decode(&unhex(&case["encoded"])).unwrap(), decoded);
    }
    for case in doc["request_malformed"].as_array().unwrap() {
        let got = match JobRequest::decode(&encoded(case)) {
            Ok(_) => json!("decoded"),
            Err(e) => job_error(&e),
        };
        assert_eq!(got, case["error"], "{}", case["name"]);
    }
    for case in doc["reply_malformed"].as_array().unwrap() {
        let got = match JobReply::decode(&encoded(case)) {
            Ok(_) => json!("decoded"),
            Err(e) => job_error(&e),
        };
        assert_eq!(got, case["error"], "{}", case["name"]);
    }
}

// ------------------------------------------------------------------------------ MPC envelope

#[test]
fn mpc_envelopes_and_request_frames_are_the_vectors() {
    let doc = vectors("mpc_envelope.json");
    for case in doc["envelopes"].as_array().unwrap() {
        let session: [u8; 32] = array(&case["session"]);
        let seq = num(&case["seq"]);
        let payload = unhex(&case["payload"]);
        let bytes = unhex(&case["encoded"]);
        assert_eq!(
            encode_envelope(&session, seq, &payload),
            bytes,
            "{}",
            case["name"]
        );
        assert_eq!(
            decode_envelope(&bytes).unwrap(),
            (session, seq, payload.as_slice())
        );
    }
    for case in doc["envelope_malformed"].as_array().unwrap() {
        assert_eq!(
            decode_envelope(&unhex(&case["encoded"])),
            Err(RouteError::Malformed),
            "{}",
            case["name"]
        );
    }

    let limits = &doc["frame_limits"];
    assert_eq!(num(&limits["upload"]) as usize, MAX_UPLOAD_REQUEST);
    assert_eq!(num(&limits["mpc"]) as usize, MAX_MPC_MESSAGE);
    assert_eq!(num(&limits["job"]) as usize, MAX_JOB_MESSAGE);
    assert_eq!(num(&limits["response"]) as usize, MAX_RESPONSE);
    let peer = PeerId::random();
    let budget = Budget {
        requests_per_peer: usize::MAX,
        bytes_per_peer: usize::MAX,
        bytes_total: usize::MAX,
    };
    let mut codec = BytesCodec::for_peer(
        Admission::new(MAX_MPC_MESSAGE, false, budget),
        MAX_RESPONSE,
        peer,
    );
    for frame in doc["frames"].as_array().unwrap() {
        let body = unhex(&frame["body"]);
        let mut written = Cursor::new(Vec::new());
        block_on(codec.write_request(&MPC_PROTOCOL, &mut written, body.clone().into())).unwrap();
        assert_eq!(written.into_inner(), unhex(&frame["encoded"]));
        let mut reader = Cursor::new(unhex(&frame["encoded"]));
        assert_eq!(
            block_on(codec.read_request(&MPC_PROTOCOL, &mut reader))
                .unwrap()
                .bytes,
            body
        );
        let mut reader = Cursor::new(unhex(&frame["encoded"]));
        assert_eq!(
            block_on(codec.read_response(&MPC_PROTOCOL, &mut reader)).unwrap(),
            body
        );
    }
    for case in doc["frame_malformed"].as_array().unwrap() {
        let max = num(&limits[case["protocol"].as_str().unwrap()]) as usize;
        let mut codec = BytesCodec::for_peer(Admission::new(max, false, budget), max, peer);
        // The header alone: the body is never read, nor allocated.
        let mut reader = Cursor::new(unhex(&case["header"]));
        let error = block_on(codec.read_request(&JOB_PROTOCOL, &mut reader)).unwrap_err();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::InvalidData,
            "{}",
            case["name"]
        );
    }
}

// ------------------------------------------------------------------------------ share store

const DATASETS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("datasets");
const BATCHES: TableDefinition<'_, &[u8; 40], &[u8]> = TableDefinition::new("batches");
const SHARES: TableDefinition<'_, &[u8; 44], &[u8]> = TableDefinition::new("shares");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

fn at_rest_key(doc: &Value) -> AtRestKey {
    AtRestKey::from_bytes(array(&doc["at_rest_key"]))
}

/// Stores the vectors' dataset with `put_batch`, as a node does.
fn write_store(doc: &Value, path: &Path) -> DatasetId {
    let d = &doc["dataset"];
    let id = DatasetId(array(&d["id"]));
    let store = ShareStore::open(path, at_rest_key(doc)).unwrap();
    store
        .create_dataset(
            &id,
            &DatasetInfo {
                name: d["name"].as_str().unwrap().to_owned(),
                columns: num(&d["columns"]) as u32,
                party: num(&d["party"]) as u32,
            },
        )
        .unwrap();
    for b in doc["batches"].as_array().unwrap() {
        let columns: Vec<Vec<Mp127>> = list(&b["columns"], |c| list(c, element));
        store
            .put_batch(&id, num(&b["index"]), num(&b["first_row"]), &columns)
            .unwrap();
    }
    id
}

/// Replaces the stored value of each `(share key, value)`.
fn overwrite_shares(path: &Path, values: &[([u8; 44], Vec<u8>)], key_check: Option<&[u8]>) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut shares = txn.open_table(SHARES).unwrap();
        for (key, value) in values {
            assert!(shares.insert(key, value.as_slice()).unwrap().is_some());
        }
        if let Some(check) = key_check {
            let mut meta = txn.open_table(META).unwrap();
            assert!(meta.insert("key_check", check).unwrap().is_some());
        }
    }
    txn.commit().unwrap();
}

fn vector_shares(doc: &Value) -> Vec<([u8; 44], Vec<u8>)> {
    doc["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["shares"].as_array().unwrap())
        .map(|s| (array(&s["key"]), unhex(&s["stored"])))
        .collect()
}

#[test]
fn the_share_store_file_holds_the_vectors_records_and_headers() {
    let doc = vectors("store.json");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let id = write_store(&doc, &path);

    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    assert_eq!(
        meta.get("format_version").unwrap().unwrap().value(),
        unhex(&doc["format_version"]).as_slice()
    );
    let datasets = txn.open_table(DATASETS).unwrap();
    assert_eq!(
        datasets.get(&id.0).unwrap().unwrap().value(),
        unhex(&doc["dataset"]["record"]).as_slice()
    );
    let batches = txn.open_table(BATCHES).unwrap();
    let shares = txn.open_table(SHARES).unwrap();
    let mut expected_keys = BTreeMap::new();
    for b in doc["batches"].as_array().unwrap() {
        // The header, digest included, is deterministic: byte for byte the vector.
        let header = batches.get(&array(&b["key"])).unwrap().unwrap();
        assert_eq!(
            header.value(),
            unhex(&b["header"]).as_slice(),
            "batch {}",
            b["index"]
        );
        for s in b["shares"].as_array().unwrap() {
            // The nonce is random: the stored value has the vector's length, not its bytes.
            expected_keys.insert(array::<44>(&s["key"]), unhex(&s["stored"]).len());
        }
    }
    assert_eq!(
        batches.len().unwrap(),
        doc["batches"].as_array().unwrap().len() as u64
    );
    let stored: BTreeMap<[u8; 44], usize> = shares
        .iter()
        .unwrap()
        .map(|entry| {
            let (k, v) = entry.unwrap();
            (*k.value(), v.value().len())
        })
        .collect();
    assert_eq!(stored, expected_keys);
}

#[test]
fn the_share_store_reads_ciphertexts_sealed_by_the_vectors() {
    let doc = vectors("store.json");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.redb");
    let id = write_store(&doc, &path);
    // The ciphertexts and key check sealed independently with fixed nonces replace the store's.
    overwrite_shares(&path, &vector_shares(&doc), Some(&unhex(&doc["key_check"])));
    let store = ShareStore::open(&path, at_rest_key(&doc)).unwrap();
    assert!(store.open_report().is_clean(), "{:?}", store.open_report());
    let columns = num(&doc["dataset"]["columns"]) as u32;
    for c in 0..columns {
        let want: Vec<Mp127> = doc["batches"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| list(&b["columns"][c as usize], element))
            .collect();
        assert_eq!(store.column(&id, c).unwrap(), want, "column {c}");
    }
    drop(store);

    // A ciphertext moved to another column's slot fails its associated data.
    let mut moved = vector_shares(&doc);
    let (first, second) = (moved[0].1.clone(), moved[1].1.clone());
    moved[0].1 = second;
    moved[1].1 = first;
    overwrite_shares(&path, &moved[..2], None);
    let store = ShareStore::open(&path, at_rest_key(&doc)).unwrap();
    let kinds: Vec<(Option<u32>, Option<u64>, DamageKind)> = store
        .open_report()
        .damaged
        .iter()
        .map(|d| (d.column, d.batch, d.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Some(0), Some(0), DamageKind::Unauthenticated),
            (Some(1), Some(0), DamageKind::Unauthenticated),
        ]
    );
}
