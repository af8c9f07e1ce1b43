//! The researcher's journey end to end on a devnet of 5 node processes and anvil (t = 2), through
//! the `sharenet` binary as a user runs it: two institutions upload the example patient tables
//! into one pool, one delegates granting to the other, which grants a researcher the union; the
//! researcher's AVG, VAR_POP, COUNT with WHERE, GROUP BY, HISTOGRAM and LINREG equal the
//! plaintext computed here from the CSV files; requests without a grant, with a revoked or
//! expired grant, or over the count are refused (exit 5) and never reach the chain; a node killed
//! and restarted rejoins and takes part in the next job; on a t = 1 dataset one node down still
//! computes and three down fail (exit 6) with the fee refunded after the deadline; the audit
//! trail shows every job that reached the chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use cli::{Down, fails, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sharenet_chain_adapter::RpcBackend;
use sharenet_chain_adapter::RpcConfig;

/// Whether process `pid` still runs (a zombie does not).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// One row of the example tables.
struct Row {
    age: f64,
    sex: String,
    bmi: f64,
    diabetic: bool,
    cost: f64,
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/patients")
}

fn read_rows(file: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(examples().join(file)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                age: f[0].parse().unwrap(),
                sex: f[1].to_string(),
                bmi: f[2].parse().unwrap(),
                diabetic: f[4] == "true",
                cost: f[5].parse().unwrap(),
            }
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn close(got: &Value, want: f64, what: &str) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
    assert!(
        (got - want).abs() <= 1e-3 * want.abs().max(1.0),
        "{what}: got {got}, plaintext {want}"
    );
}

struct Net {
    dir: String,
}

impl Net {
    fn query(&self, who: &str, text: &str) -> Value {
        json(&["query", "--devnet", &self.dir, "--as", who, text])
    }

    fn query_fails(&self, who: &str, text: &str, code: i32, needle: &str) -> String {
        fails(
            &["query", "--devnet", &self.dir, "--as", who, text],
            code,
            &[needle],
        )
    }

    fn devnet(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(Path::new(&self.dir).join("devnet.json")).unwrap(),
        )
        .unwrap()
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        Path::new(&self.dir).join("nodes").join(i.to_string())
    }

    fn kill(&self, i: usize) {
        let pid = std::fs::read_to_string(self.node_dir(i).join("node.pid")).unwrap();
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success());
        // The process is gone (or a zombie) before anything reuses its store and ports.
        let deadline = Instant::now() + Duration::from_secs(60);
        while alive(pid.trim()) {
            assert!(Instant::now() < deadline, "node {i} did not die");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Restarts node `i` as `devnet up` started it (same config, keys and store). Detached like
    /// the others: `devnet down` stops it by its pid file.
    #[allow(clippy::zombie_processes)]
    fn restart(&self, i: usize) {
        let dir = self.node_dir(i);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("node.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sharenet"))
            .args([
                "node",
                "run",
                "--config",
                dir.join("node.toml").to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        std::fs::write(dir.join("node.pid"), format!("{}\n", child.id())).unwrap();
    }

    /// Waits until node `i` is healthy as `devnet up` waits for it: registered, its chain
    /// follower has seen every node active (it then allows and has dialled them), and it is
    /// connected to the other nodes.
    async fn wait_healthy(&self, i: usize) {
        let n = self.devnet()["nodes"].as_array().unwrap().len() as u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = json(&["devnet", "status", "--dir", &self.dir]);
            let node = &status["nodes"][i];
            let health = &node["health"];
            if node["registered"] == true
                && health["active_nodes"].as_u64() == Some(n)
                && health["peers"].as_u64().unwrap_or(0) >= n - 1
            {
                return;
            }
            if Instant::now() >= deadline || node["running"] == false {
                let log =
                    std::fs::read_to_string(self.node_dir(i).join("node.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "node {i} did not come back: {node}\nthe end of its node.log:\n{}",
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn advance_chain_time(&self, seconds: u64) {
        let rpc = self.devnet()["rpc_url"].as_str().unwrap().to_string();
        let backend = RpcBackend::connect(
            RpcConfig::local(rpc),
            alloy::signers::local::PrivateKeySigner::random(),
        )
        .unwrap();
        backend.dev_increase_time(seconds).await.unwrap();
    }
}

fn grant(
    net: &Net,
    owner: &str,
    to: &str,
    datasets: &str,
    kinds: &str,
    expires: &str,
    max: &str,
) -> String {
    let g = json(&[
        "access",
        "grant",
        "--devnet",
        &net.dir,
        "--as",
        owner,
        "--to",
        to,
        "--datasets",
        datasets,
        "--kinds",
        kinds,
        "--expires",
        expires,
        "--max-queries",
        max,
    ]);
    g["grant"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| g["grant"].to_string())
}

fn job_id(stderr: &str) -> String {
    let at = stderr.find("job ").unwrap() + 4;
    stderr[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn researchers_get_plaintext_equal_results_refusals_stay_off_chain_and_failures_refund() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("devnet");
    let net = Net {
        dir: dir.to_str().unwrap().to_string(),
    };
    let d = net.dir.as_str();
    json(&[
        "devnet",
        "up",
        "--nodes",
        "5",
        "--threshold",
        "2",
        "--dir",
        d,
    ]);
    let _down = Down(dir.clone());
    let schema = examples().join("schema.json");
    let schema = schema.to_str().unwrap();
    for (who, name) in [("institution-a", "clinic_a"), ("institution-b", "clinic_b")] {
        let csv = examples().join(format!("{name}.csv"));
        json(&[
            "dataset",
            "upload",
            "--devnet",
            d,
            "--as",
            who,
            "--name",
            name,
            "--schema",
            schema,
            "--csv",
            csv.to_str().unwrap(),
        ]);
    }
    let rows: Vec<Row> = read_rows("clinic_a.csv")
        .into_iter()
        .chain(read_rows("clinic_b.csv"))
        .collect();
    json(&[
        "access",
        "delegate",
        "--devnet",
        d,
        "--as",
        "institution-b",
        "--to",
        "institution-a",
        "--datasets",
        "clinic_b",
    ]);
    grant(
        &net,
        "institution-a",
        "researcher",
        "clinic_a,clinic_b",
        "all",
        "30d",
        "20",
    );
    let mut jobs = 0;

    // AVG and VAR_POP.
    let r = net.query(
        "researcher",
        "SELECT AVG(age), VAR_POP(bmi) FROM clinic_a, clinic_b",
    );
    jobs += 1;
    assert_eq!(r["live"], 5);
    assert_eq!(r["completed"], true);
    assert_eq!(r["dissent"], serde_json::json!([]));
    let ages: Vec<f64> = rows.iter().map(|r| r.age).collect();
    let bmis: Vec<f64> = rows.iter().map(|r| r.bmi).collect();
    let m = mean(&bmis);
    let var = bmis.iter().map(|b| (b - m) * (b - m)).sum::<f64>() / bmis.len() as f64;
    close(&r["result"]["rows"][0][0], mean(&ages), "AVG(age)");
    close(&r["result"]["rows"][0][1], var, "VAR_POP(bmi)");

    // COUNT with WHERE.
    let r = net.query(
        "researcher",
        "SELECT COUNT(*) FROM clinic_a, clinic_b WHERE diabetic AND age >= 60",
    );
    jobs += 1;
    let want = rows.iter().filter(|r| r.diabetic && r.age >= 60.0).count();
    assert_eq!(r["result"]["rows"][0][0].as_f64().unwrap(), want as f64);

    // GROUP BY.
    let r = net.query(
        "researcher",
        "SELECT sex, COUNT(*), AVG(cost) FROM clinic_a, clinic_b GROUP BY sex",
    );
    jobs += 1;
    for (g, label) in ["f", "m"].iter().enumerate() {
        let row = &r["result"]["rows"][g];
        assert_eq!(row[0], *label);
        let costs: Vec<f64> = rows
            .iter()
            .filter(|r| r.sex == *label)
            .map(|r| r.cost)
            .collect();
        assert_eq!(row[1].as_f64().unwrap(), costs.len() as f64);
        close(&row[2], mean(&costs), "AVG(cost) by sex");
    }

    // HISTOGRAM.
    let r = net.query(
        "researcher",
        "SELECT HISTOGRAM(age, 30, 50, 70) FROM clinic_a, clinic_b",
    );
    jobs += 1;
    let bins = r["result"]["rows"][0][0].as_array().unwrap();
    let edges = [f64::NEG_INFINITY, 30.0, 50.0, 70.0, f64::INFINITY];
    for (i, bin) in bins.iter().enumerate() {
        let want = rows
            .iter()
            .filter(|r| r.age >= edges[i] && r.age < edges[i + 1])
            .count();
        assert_eq!(bin["count"].as_f64().unwrap(), want as f64, "bin {i}");
    }

    // LINREG, against least squares solved here (normal equations, Gaussian elimination).
    let r = net.query(
        "researcher",
        "SELECT LINREG(cost ~ age + diabetic) FROM clinic_a, clinic_b",
    );
    jobs += 1;
    let mut a = [[0.0f64; 4]; 3];
    for row in &rows {
        let x = [1.0, row.age, f64::from(u8::from(row.diabetic))];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += x[i] * x[j];
            }
            a[i][3] += x[i] * row.cost;
        }
    }
    for c in 0..3 {
        let pivot = a[c];
        for (i, r) in a.iter_mut().enumerate() {
            if i != c {
                let f = r[c] / pivot[c];
                for (v, p) in r.iter_mut().zip(pivot) {
                    *v -= f * p;
                }
            }
        }
    }
    let coefficients = r["result"]["rows"][0][0]["coefficients"]
        .as_array()
        .unwrap();
    for (i, c) in coefficients.iter().enumerate() {
        close(&c["value"], a[i][3] / a[i][i], c["term"].as_str().unwrap());
    }

    // A node killed and restarted rejoins and takes part in the next job (t = 2 needs all 5).
    net.kill(3);
    net.restart(3);
    net.wait_healthy(3).await;
    let r = net.query("researcher", "SELECT COUNT(*) FROM clinic_a");
    jobs += 1;
    assert_eq!(r["live"], 5);
    assert_eq!(r["result"]["rows"][0][0].as_f64().unwrap(), 600.0);

    // Refusals: nothing reaches the chain.
    json(&["identity", "create", "--devnet", d, "--name", "stranger"]);
    json(&["identity", "fund", "--devnet", d, "stranger"]);
    let q = "SELECT AVG(age) FROM clinic_a, clinic_b";
    net.query_fails("stranger", q, 5, "no grant allows you");
    let revoked = grant(
        &net,
        "institution-a",
        "stranger",
        "clinic_a,clinic_b",
        "all",
        "30d",
        "5",
    );
    json(&[
        "access",
        "revoke",
        "--devnet",
        d,
        "--as",
        "institution-b",
        &revoked,
    ]);
    net.query_fails("stranger", q, 5, "revoked");
    grant(
        &net,
        "institution-a",
        "stranger",
        "clinic_a,clinic_b",
        "aggregate",
        "30d",
        "1",
    );
    net.query("stranger", q);
    jobs += 1;
    net.query_fails(
        "stranger",
        q,
        5,
        "every query the grant allows has been used",
    );
    grant(
        &net,
        "institution-a",
        "stranger",
        "clinic_a,clinic_b",
        "all",
        "1h",
        "5",
    );
    net.advance_chain_time(2 * 3600).await;
    net.query_fails("stranger", q, 5, "expired");
    net.query_fails(
        "researcher",
        "SELECT AVG(agee) FROM clinic_a",
        2,
        "did you mean `age`",
    );

    // A t = 1 dataset: one node down still computes, three down fail and are refunded.
    let csv = examples().join("clinic_a.csv");
    json(&[
        "dataset",
        "upload",
        "--devnet",
        d,
        "--as",
        "institution-a",
        "--name",
        "clinic_t1",
        "--schema",
        schema,
        "--csv",
        csv.to_str().unwrap(),
        "--threshold",
        "1",
    ]);
    grant(
        &net,
        "institution-a",
        "researcher",
        "clinic_t1",
        "aggregate",
        "30d",
        "5",
    );
    net.kill(0);
    let r = net.query("researcher", "SELECT AVG(cost) FROM clinic_t1");
    jobs += 1;
    // Four members are up; a malicious session runs with exactly 2t + 1 = 3 of them, re-shared
    // from their committee points (node 0's is missing) with the re-sharing's parity checks.
    assert_eq!(r["live"], 3);
    // Every member attested; the last ones complete the quorum (gas headroom over estimates).
    assert_eq!(r["completed"], true);
    let a_costs: Vec<f64> = read_rows("clinic_a.csv").iter().map(|r| r.cost).collect();
    close(
        &r["result"]["rows"][0][0],
        mean(&a_costs),
        "AVG(cost) with one node down",
    );
    net.kill(1);
    net.kill(2);
    let stderr = fails(
        &[
            "query",
            "--devnet",
            d,
            "--as",
            "researcher",
            "--deadline",
            "5m",
            "SELECT AVG(cost) FROM clinic_t1",
        ],
        6,
        &["only 2 of the committee's 5 members are ready, 3 are needed"],
    );
    jobs += 1;
    let job = job_id(&stderr);
    fails(
        &["jobs", "refund", "--devnet", d, "--as", "researcher", &job],
        2,
        &["deadline"],
    );
    net.advance_chain_time(600 + sharenet_chain_adapter::REVEAL_WINDOW_SECS)
        .await;
    json(&["jobs", "refund", "--devnet", d, "--as", "researcher", &job]);
    assert_eq!(
        json(&["jobs", "show", "--devnet", d, &job])["status"],
        "refunded"
    );

    // The audit trail shows every job that reached the chain, and only those.
    let listed = json(&["jobs", "list", "--devnet", d]);
    let listed = listed["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(listed.len(), jobs);
    let audit = json(&["audit", "--devnet", d, "--dataset", "clinic_b"]);
    let text = audit.to_string();
    assert!(text.contains("LINREG(cost ~ age + diabetic)"), "{text}");
}
