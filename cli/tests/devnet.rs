//! The devnet and every chain-only command, end to end, as a user runs them: `devnet up` (anvil,
//! contracts, 3 node processes, identities), `devnet status`, `identity show`, `dataset upload`
//! into the devnet, `dataset list/show`, `access grant/list/revoke`, `jobs list/show/refund`,
//! `audit`, and `devnet down` leaving no process. Bad input gets a clear error, the right exit
//! code, and sends nothing to the chain. One devnet for the whole file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use cli::{Down, fails, json, run};
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{B256, Bytes, U256};
use serde_json::Value;
use sharenet_chain_adapter::{Ledger, NewJob, RpcBackend, RpcConfig};
use sharenet_query::QueryKind;

fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

const SCHEMA: &str = r#"{"columns":[{"name":"age","type":"integer"},{"name":"sex","type":"category","labels":["f","m"]},{"name":"bmi","type":"fixed","scale":1}]}"#;

fn write_inputs(dir: &Path) -> (String, String) {
    let mut csv = String::from("age,sex,bmi\n");
    for i in 0..40 {
        csv.push_str(&format!(
            "{},{},{}.{}\n",
            20 + i,
            ["f", "m"][i % 2],
            18 + i % 10,
            i % 10
        ));
    }
    let schema = dir.join("schema.json");
    let data = dir.join("clinic.csv");
    std::fs::write(&schema, SCHEMA).unwrap();
    std::fs::write(&data, csv).unwrap();
    (
        schema.to_str().unwrap().to_string(),
        data.to_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devnet_serves_the_institution_and_researcher_journeys_and_stops_cleanly() {
    let started = Instant::now();
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("devnet");
    let d = dir.to_str().unwrap();
    let not_a_devnet = base.path().to_str().unwrap();

    // Not a devnet yet: every command that reads one says so and how to make one.
    fails(
        &["devnet", "status", "--dir", not_a_devnet],
        2,
        &[
            "is not a devnet directory (no devnet.json)",
            "sharenet devnet up --dir",
        ],
    );
    let e = fails(
        &["dataset", "list", "--devnet", not_a_devnet, "--json"],
        2,
        &[],
    );
    let e: Value = serde_json::from_str(e.trim()).unwrap();
    assert_eq!(e["error"]["code"], 2);
    assert_eq!(e["error"]["kind"], "usage");
    assert!(e["error"]["hint"].as_str().unwrap().contains("devnet up"));
    fails(
        &[
            "devnet",
            "up",
            "--nodes",
            "3",
            "--threshold",
            "2",
            "--dir",
            d,
        ],
        2,
        &["2t < nodes"],
    );
    assert!(!dir.exists(), "a refused up must not create anything");

    // Up.
    let up = json(&[
        "devnet",
        "up",
        "--nodes",
        "3",
        "--threshold",
        "1",
        "--dir",
        d,
    ]);
    let _down = Down(dir.clone());
    eprintln!("devnet up took {:?}", started.elapsed());
    assert_eq!(up["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(up["threshold"], 1);
    assert_eq!(up["committee_size"], 3);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("devnet.json")).unwrap()).unwrap();
    assert_eq!(file["rpc_url"], up["rpc_url"]);
    for name in ["institution-a", "institution-b", "researcher"] {
        let key = dir.join("identities").join(format!("{name}.key"));
        let mode = std::fs::metadata(&key).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600,
            "{name}"
        );
    }
    fails(
        &["devnet", "up", "--dir", d],
        2,
        &["already running", "devnet down"],
    );

    // Status: the chain and 3 healthy nodes.
    let status = json(&["devnet", "status", "--dir", d]);
    assert_eq!(status["chain"]["reachable"], true);
    assert_eq!(status["healthy_nodes"], 3, "{status}");
    let mut pids: Vec<u64> = vec![status["chain"]["anvil_pid"].as_u64().unwrap()];
    for node in status["nodes"].as_array().unwrap() {
        assert_eq!(node["running"], true);
        assert_eq!(node["active_on_chain"], true);
        assert_eq!(node["peers"], 2);
        pids.push(node["pid"].as_u64().unwrap());
    }
    assert!(pids.iter().all(|p| alive(*p)));

    // Identities.
    let who = json(&["identity", "show", "--devnet", d, "--as", "researcher"]);
    assert_eq!(who["name"], "researcher");
    assert_eq!(who["balance"], "100000000000000000000");
    assert_eq!(who["jobs_balance"], "0");
    let researcher = who["address"].as_str().unwrap().to_string();

    // The institution uploads a CSV into the devnet with its defaults (pool, n = 3, t = 1).
    let (schema, csv) = write_inputs(base.path());
    let upload = json(&[
        "dataset",
        "upload",
        "--devnet",
        d,
        "--as",
        "institution-a",
        "--name",
        "clinic",
        "--schema",
        &schema,
        "--csv",
        &csv,
    ]);
    assert_eq!(upload["rows"], 40);
    assert_eq!(upload["threshold"], 1);
    assert_eq!(upload["pool"], "devnet");
    assert_eq!(upload["committee"].as_array().unwrap().len(), 3);
    let id = upload["dataset"].as_str().unwrap().to_string();

    let list = json(&["dataset", "list", "--devnet", d]);
    let datasets = list["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 1);
    assert_eq!(datasets[0]["id"], id.as_str());
    assert_eq!(datasets[0]["name"], "clinic");
    assert_eq!(datasets[0]["rows"], 40);
    assert_eq!(datasets[0]["threshold"], 1);
    assert_eq!(datasets[0]["owner_name"], "institution-a");
    assert_eq!(datasets[0]["committee"].as_array().unwrap().len(), 3);
    for by in [id.as_str(), "clinic"] {
        let show = json(&["dataset", "show", "--devnet", d, by]);
        assert_eq!(show["id"], id.as_str());
        assert_eq!(show["rows"], 40);
        assert_eq!(show["name"], "clinic");
        assert_eq!(show["acknowledged"], 3);
        assert_eq!(show["manifest"]["matches_chain"], true, "{show}");
        assert_eq!(show["manifest"]["min_cohort"], 10);
        assert_eq!(
            show["manifest"]["schema"]["columns"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    // The M2M path: more rows appended to the dataset, by name.
    let appended = json(&[
        "dataset",
        "append",
        "--devnet",
        d,
        "--as",
        "institution-a",
        "--dataset",
        "clinic",
        "--schema",
        &schema,
        "--csv",
        &csv,
    ]);
    assert_eq!(appended["total_rows"], 80);
    let show = json(&["dataset", "show", "--devnet", d, "clinic"]);
    assert_eq!(show["rows"], 80);
    assert_eq!(show["manifest"]["matches_chain"], true, "{show}");

    // Bad input: a clear error, the right exit code, nothing sent to the chain.
    let rpc = up["rpc_url"].as_str().unwrap().to_string();
    let researcher_key =
        sharenet_node::keys::load_chain_key(&dir.join("identities/researcher.key")).unwrap();
    let backend = RpcBackend::connect(RpcConfig::local(rpc.clone()), researcher_key).unwrap();
    let block_before = backend.block_number().await.unwrap();
    let bad_key = base.path().join("bad.key");
    std::fs::write(&bad_key, "0x1234\n").unwrap();
    std::fs::set_permissions(
        &bad_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let grant = |by: &[&str], extra: &[&str]| {
        let mut a = vec!["access", "grant", "--devnet", d];
        a.extend_from_slice(by);
        a.extend_from_slice(&[
            "--to",
            "researcher",
            "--datasets",
            "clinic",
            "--kinds",
            "aggregate,lin_reg",
            "--expires",
            "30d",
            "--max-queries",
            "5",
        ]);
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = grant(&["--key", bad_key.to_str().unwrap()], &[]);
    fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        2,
        &[
            bad_key.to_str().unwrap(),
            "holds 4 hex digits where a key has 64",
        ],
    );
    let args = grant(&["--as", "institution-b"], &[]);
    fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        5,
        &["only its owner (or a grant delegate it named) can grant access"],
    );
    let unknown = format!("0x{}", "00".repeat(31) + "01");
    fails(
        &["dataset", "show", "--devnet", d, &unknown],
        2,
        &["is not registered on this chain"],
    );
    fails(
        &[
            "access",
            "grant",
            "--devnet",
            d,
            "--as",
            "institution-a",
            "--to",
            "researcher",
            "--datasets",
            &unknown,
            "--kinds",
            "all",
            "--expires",
            "1d",
            "--max-queries",
            "1",
        ],
        2,
        &["is not registered on this chain"],
    );
    let args = grant(&["--as", "institution-a"], &["--kinds", "sql"]);
    fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        2,
        &["'sql' is not a query kind"],
    );
    fails(
        &["dataset", "list", "--devnet", not_a_devnet],
        2,
        &["is not a devnet directory"],
    );
    fails(
        &[
            "dataset",
            "append",
            "--devnet",
            d,
            "--as",
            "institution-b",
            "--dataset",
            "clinic",
            "--schema",
            &schema,
            "--csv",
            &csv,
        ],
        5,
        &["only its owner can append to it"],
    );
    assert_eq!(backend.block_number().await.unwrap(), block_before);

    // The owner grants the researcher access; both see the grant.
    let args = grant(&["--as", "institution-a"], &["--json"]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    let grant_id = made["grant"].as_str().unwrap().to_string();
    let now = backend.latest_timestamp().await.unwrap();
    let mine = json(&["access", "list", "--devnet", d, "--as", "researcher"]);
    assert_eq!(mine["by_me"].as_array().unwrap().len(), 0);
    let g = &mine["to_me"][0];
    assert_eq!(g["id"], grant_id.as_str());
    assert_eq!(g["grantee"], researcher.as_str());
    assert_eq!(g["owner_name"], "institution-a");
    assert_eq!(g["datasets"][0], id.as_str());
    assert_eq!(g["kinds"], serde_json::json!(["aggregate", "lin_reg"]));
    assert_eq!(g["max_queries"], 5);
    assert_eq!(g["remaining"], 5);
    assert_eq!(g["status"], "active");
    let expiry = g["expiry"].as_u64().unwrap();
    assert!(
        expiry.abs_diff(now + 30 * 86_400) < 120,
        "{expiry} vs {now}"
    );
    let theirs = json(&["access", "list", "--devnet", d, "--as", "institution-a"]);
    assert_eq!(theirs["by_me"][0]["id"], grant_id.as_str());

    // A job under the grant that nobody runs (the program is not a query): after its deadline
    // the researcher gets the fee back with `jobs refund`.
    let ledger = backend
        .clone()
        .into_ledger(serde_json::from_value(up["contracts"].clone()).unwrap());
    let program = "not a query: the cli test's refund path".to_string();
    let fee = U256::from(10u64).pow(U256::from(15u64));
    let (_, job) = ledger
        .submit_job(&NewJob {
            grant_id: grant_id.parse().unwrap(),
            datasets: vec![id.parse::<B256>().unwrap()],
            kind: QueryKind::Aggregate.code(),
            program_hash: B256::from(*blake3::hash(program.as_bytes()).as_bytes()),
            program: program.clone(),
            output_key: Bytes::from(vec![7u8; 32]),
            deadline: now + 60,
            fee,
        })
        .await
        .unwrap();
    let job = job.to_string();
    let jobs = json(&[
        "jobs",
        "list",
        "--devnet",
        d,
        "--as",
        "researcher",
        "--mine",
    ]);
    assert_eq!(jobs["jobs"][0]["id"], job.as_str());
    assert_eq!(jobs["jobs"][0]["status"], "open");
    fails(
        &["jobs", "refund", "--devnet", d, "--as", "researcher", &job],
        2,
        &["still open"],
    );
    backend
        .dev_increase_time(120 + sharenet_chain_adapter::REVEAL_WINDOW_SECS)
        .await
        .unwrap();
    let refund = json(&["jobs", "refund", "--devnet", d, "--as", "researcher", &job]);
    assert_eq!(refund["withdrawn"], fee.to_string());
    let show = json(&["jobs", "show", "--devnet", d, &job]);
    assert_eq!(show["status"], "refunded");
    assert_eq!(show["program"], program.as_str());
    assert_eq!(show["kind"], "aggregate");
    assert_eq!(show["requester_name"], "researcher");
    assert_eq!(show["refund"]["fee"], fee.to_string());
    let after = json(&["access", "list", "--devnet", d, "--as", "researcher"]);
    assert_eq!(after["to_me"][0]["remaining"], 4);

    // Revoke: refused to others, done by the owner, visible to the grantee.
    fails(
        &[
            "access",
            "revoke",
            "--devnet",
            d,
            "--as",
            "researcher",
            &grant_id,
        ],
        5,
        &["covers none of your datasets", "can revoke it"],
    );
    json(&[
        "access",
        "revoke",
        "--devnet",
        d,
        "--as",
        "institution-a",
        &grant_id,
    ]);
    let after = json(&["access", "list", "--devnet", d, "--as", "researcher"]);
    assert_eq!(after["to_me"][0]["status"], "revoked");
    assert_eq!(after["to_me"][0]["revoked"], true);

    // Delegation: institution-a lets institution-b grant access to its dataset; b's grant then
    // goes through, and a (owner of a covered dataset) can still revoke it.
    json(&[
        "access",
        "delegate",
        "--devnet",
        d,
        "--as",
        "institution-a",
        "--to",
        "institution-b",
        "--datasets",
        "clinic",
    ]);
    let args = grant(&["--as", "institution-b"], &["--json"]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_b: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_b = by_b["grant"].as_str().unwrap().to_string();
    let a = json(&["access", "list", "--devnet", d, "--as", "institution-a"]);
    assert_eq!(a["on_my_datasets"][0]["id"], by_b.as_str());
    assert_eq!(a["on_my_datasets"][0]["owner_name"], "institution-b");
    json(&[
        "access",
        "revoke",
        "--devnet",
        d,
        "--as",
        "institution-a",
        &by_b,
    ]);

    // The audit trail, in chain order.
    let audit = json(&["audit", "--devnet", d, "--dataset", "clinic"]);
    let events: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "DatasetRegistered",
            "DatasetAcknowledged",
            "DatasetAcknowledged",
            "DatasetAcknowledged",
            "DatasetAppended",
            "AccessGranted",
            "JobSubmitted",
            "JobRefunded",
            "AccessRevoked",
            "GrantDelegateSet",
            "AccessGranted",
            "AccessRevoked"
        ],
        "{audit}"
    );
    let positions: Vec<(u64, u64)> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["block"].as_u64().unwrap(),
                e["log_index"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(audit["events"][4]["rows"], 80);
    assert_eq!(audit["events"][5]["grantee_name"], "researcher");
    assert_eq!(audit["events"][6]["program"], program.as_str());

    // Down: every process gone; down again is fine; status says stopped.
    let down = json(&["devnet", "down", "--dir", d]);
    assert_eq!(down["stopped"].as_array().unwrap().len(), 4);
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids.iter().any(|p| alive(*p)) {
        assert!(Instant::now() < deadline, "processes left: {pids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    json(&["devnet", "down", "--dir", d]);
    let status = json(&["devnet", "status", "--dir", d]);
    assert_eq!(status["chain"]["reachable"], false);
    assert_eq!(status["healthy_nodes"], 0);
    eprintln!("devnet test took {:?}", started.elapsed());
}
