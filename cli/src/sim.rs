//! `sharenet sim`: run a scenario on a whole network in this process (the embedded chain with
//! the real contracts, N complete nodes on loopback, the institutions' uploads, the researchers'
//! jobs, the faults), compare every result with plaintext, judge every expectation and write the
//! report folder. Without a file it runs the default scenario; `--example NAME` runs one of the
//! shipped examples (among them the attacks `squatter`, `framing-owner` and `stale-requester`,
//! each expected to be refused with nothing lost and nobody honest slashed); `--scale` runs scale mode (a DHT-level simulation of 1,000 nodes) instead,
//! `--with-scale` adds it to the report. Exit code 6 when an expectation is not met.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use sharenet_simulator::engine::{self, Event, RunOptions};
use sharenet_simulator::report::{AttackOutcome, JobOutcome, REPORT_FILES, RunRecord};
use sharenet_simulator::scale::{self, Bootstrap, KeySpace, LookupModel, ScaleConfig};
use sharenet_simulator::scenario::{EXAMPLES, Scenario};

use crate::failure::Failure;
use crate::output::{Report, Ui, table};

/// `sharenet sim`.
#[derive(Args)]
pub struct SimArgs {
    /// A scenario file (TOML, see docs/simulator.md). Without one: the default scenario.
    #[arg(value_name = "SCENARIO.toml")]
    scenario: Option<PathBuf>,
    /// Run one of the example scenarios: default, crash-restart, partition, byzantine-dealer,
    /// corrupt-messages, malicious, and the attacks squatter, framing-owner, stale-requester.
    #[arg(long, value_name = "NAME", conflicts_with = "scenario")]
    example: Option<String>,
    /// The report folder (created; files in it are replaced).
    #[arg(long, value_name = "DIR", default_value = "sim-report")]
    out: PathBuf,
    /// Cut every generated table to at most this many rows (a quick run).
    #[arg(long, value_name = "ROWS")]
    max_rows: Option<usize>,
    /// Run scale mode only: a DHT-level simulation of a large network (no scenario).
    #[arg(long, conflicts_with_all = ["scenario", "example", "with_scale", "max_rows"])]
    scale: bool,
    /// Also run scale mode and add its section to the report.
    #[arg(long)]
    with_scale: bool,
    /// Scale mode: nodes in the network.
    #[arg(long, value_name = "N", help_heading = "Scale mode")]
    nodes: Option<usize>,
    /// Scale mode: random lookups measured.
    #[arg(long, value_name = "N", help_heading = "Scale mode")]
    lookups: Option<usize>,
    /// Scale mode: pools whose committees are computed.
    #[arg(long, value_name = "N", help_heading = "Scale mode")]
    pools: Option<usize>,
    /// Scale mode: dataset manifests published.
    #[arg(long, value_name = "N", help_heading = "Scale mode")]
    records: Option<usize>,
    /// Scale mode: fraction of the nodes that leave (as many join), in [0, 1).
    #[arg(long, value_name = "F", help_heading = "Scale mode")]
    churn: Option<f64>,
    /// Scale mode: the seed.
    #[arg(long, value_name = "S", help_heading = "Scale mode")]
    seed: Option<u64>,
    /// Scale mode: the key space the DHT routes in (libp2p or sharenet).
    #[arg(long, value_name = "SPACE", help_heading = "Scale mode")]
    key_space: Option<String>,
    /// Scale mode: how joining nodes fill their routing tables (kademlia or chain-seeded).
    #[arg(long, value_name = "HOW", help_heading = "Scale mode")]
    bootstrap: Option<String>,
    /// Scale mode: when lookups send their requests (eager or rounds).
    #[arg(long, value_name = "MODEL", help_heading = "Scale mode")]
    lookup_model: Option<String>,
}

impl SimArgs {
    fn scale_flags_given(&self) -> bool {
        self.nodes.is_some()
            || self.lookups.is_some()
            || self.pools.is_some()
            || self.records.is_some()
            || self.churn.is_some()
            || self.seed.is_some()
            || self.key_space.is_some()
            || self.bootstrap.is_some()
            || self.lookup_model.is_some()
    }

    /// The scale-mode configuration the flags describe.
    fn scale_config(&self) -> Result<ScaleConfig, Failure> {
        let mut c = ScaleConfig::default();
        if let Some(v) = self.nodes {
            c.nodes = v;
        }
        if let Some(v) = self.lookups {
            c.lookups = v;
        }
        if let Some(v) = self.pools {
            c.pools = v;
        }
        if let Some(v) = self.records {
            c.records = v;
        }
        if let Some(v) = self.churn {
            c.churn_fraction = v;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        let choice = |flag: &str, value: &str, allowed: &str| {
            Failure::usage(format!("--{flag} {value}: not one of {allowed}"))
        };
        if let Some(v) = &self.key_space {
            c.key_space = match v.as_str() {
                "libp2p" => KeySpace::Libp2p,
                "sharenet" => KeySpace::Sharenet,
                _ => return Err(choice("key-space", v, "libp2p, sharenet")),
            };
        }
        if let Some(v) = &self.bootstrap {
            c.bootstrap = match v.as_str() {
                "kademlia" => Bootstrap::Kademlia,
                "chain-seeded" => Bootstrap::ChainSeeded,
                _ => return Err(choice("bootstrap", v, "kademlia, chain-seeded")),
            };
        }
        if let Some(v) = &self.lookup_model {
            c.lookup_model = match v.as_str() {
                "eager" => LookupModel::Eager,
                "rounds" => LookupModel::Rounds,
                _ => return Err(choice("lookup-model", v, "eager, rounds")),
            };
        }
        c.validate()
            .map_err(|e| Failure::usage(format!("scale mode: {e}")))?;
        Ok(c)
    }
}

/// Runs `sharenet sim`.
pub async fn run(args: SimArgs, ui: &Ui) -> Result<Report, Failure> {
    let started = Instant::now();
    if args.scale {
        return run_scale(&args, started);
    }
    if args.scale_flags_given() && !args.with_scale {
        return Err(Failure::usage(
            "the scale-mode flags (--nodes, --lookups, --pools, --records, --churn, --seed, --key-space, --bootstrap, --lookup-model) need --scale or --with-scale",
        ));
    }
    let mut scenario = load(&args)?;
    if let Some(rows) = args.max_rows {
        if rows == 0 {
            return Err(Failure::usage("--max-rows: at least 1"));
        }
        scenario = scenario.with_max_rows(rows);
    }
    let scale = if args.with_scale {
        Some(args.scale_config()?)
    } else {
        None
    };
    if !ui.json {
        say(&format!(
            "{} {}: {}",
            ui.bold("sharenet sim"),
            scenario.name,
            scenario.description
        ));
    }
    let quiet = ui.json;
    let options = RunOptions {
        out_dir: Some(args.out.clone()),
        work_dir: None,
        scale,
        progress: Some(Arc::new(move |e: &Event| {
            if !quiet {
                say(&format!("  {e}"));
            }
        })),
    };
    let record = engine::run(&scenario, &options)
        .await
        .map_err(|e| Failure::other(format!("the simulation could not run: {e}")))?;
    let wall = started.elapsed().as_secs_f64();
    let (human, json) = render(&record, &args.out, wall, ui);
    if record.passed() {
        return Ok(Report::new(human, json));
    }
    // Print the report anyway, then fail with the exit code of a failed job.
    let text = if ui.json { json.to_string() } else { human };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    let failed = record.verdicts.iter().filter(|v| !v.pass).count();
    Err(Failure::job_failed(format!(
        "{failed} of {} expectations of scenario '{}' not met",
        record.verdicts.len(),
        record.scenario.name
    ))
    .hint(format!(
        "see {} for what happened",
        args.out.join("report.md").display()
    )))
}

/// A progress line on stderr.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The scenario to run: a file, an example or the default one. A bad file is refused here,
/// before anything starts, with the offending key and line.
fn load(args: &SimArgs) -> Result<Scenario, Failure> {
    if let Some(path) = &args.scenario {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read scenario {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        return Scenario::from_toml(&text, base).map_err(|e| {
            let rendered = e.render(&text);
            let rendered = rendered.strip_prefix("error: ").unwrap_or(&rendered);
            Failure::usage(format!("scenario {}: {rendered}", path.display()))
                .hint("the scenario format is described in docs/simulator.md")
        });
    }
    let name = args.example.as_deref().unwrap_or("default");
    Scenario::example(name).map_err(|e| {
        Failure::usage(e.to_string()).hint(format!(
            "the examples are {}",
            EXAMPLES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn run_scale(args: &SimArgs, started: Instant) -> Result<Report, Failure> {
    let config = args.scale_config()?;
    let report =
        scale::run(&config).map_err(|e| Failure::other(format!("scale mode failed: {e}")))?;
    let wall = started.elapsed().as_secs_f64();
    let json = serde_json::to_value(&report)
        .map_err(|e| Failure::other(format!("cannot serialise the scale report: {e}")))?;
    Ok(Report::new(
        format!("{}\nwall time: {wall:.1} s", report.to_markdown()),
        serde_json::json!({ "scale": json, "wall_seconds": wall }),
    ))
}

/// The run for humans (results next to plaintext, verdicts, where the report is) and as JSON.
fn render(record: &RunRecord, out: &Path, wall: f64, ui: &Ui) -> (String, serde_json::Value) {
    let mut text = String::new();
    text.push_str(&format!(
        "\n{}\n",
        ui.bold(&format!(
            "Jobs of '{}' ({} nodes, n = {}, t = {})",
            record.scenario.name,
            record.scenario.nodes,
            record.scenario.committee,
            record.scenario.threshold
        ))
    ));
    for job in &record.jobs {
        let latency = job
            .latency_ms()
            .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        let rounds = job
            .rounds
            .map(|r| format!(", {r} rounds"))
            .unwrap_or_default();
        text.push_str(&format!(
            "\n{} {}\n",
            ui.bold(&job.name),
            ui.dim(&format!(
                "({latency}{rounds}; expected {})",
                job.expect.as_str()
            ))
        ));
        match (&job.outcome, &job.comparison) {
            (JobOutcome::Completed | JobOutcome::Detected { .. }, Some(c)) => {
                if let JobOutcome::Detected { .. } = &job.outcome {
                    text.push_str(&format!("  {}\n", ui.warn(&job.outcome.describe())));
                }
                let rows: Vec<Vec<String>> = c
                    .cells
                    .iter()
                    .map(|cell| {
                        let column = match &cell.group {
                            Some(g) => format!("{} [{g}]", cell.column),
                            None => cell.column.clone(),
                        };
                        vec![
                            column,
                            cell.mpc.clone(),
                            cell.expected.clone(),
                            if cell.agree {
                                ui.good("agree")
                            } else {
                                ui.bad("DISAGREE")
                            },
                        ]
                    })
                    .collect();
                let rendered = table(&["result", "MPC", "plaintext", ""], &rows);
                for line in rendered.lines() {
                    text.push_str(&format!("  {line}\n"));
                }
                for p in &c.problems {
                    text.push_str(&format!("  {}\n", ui.bad(p)));
                }
            }
            (outcome, _) => text.push_str(&format!("  {}\n", outcome.describe())),
        }
    }
    for attack in &record.attacks {
        text.push_str(&format!(
            "\n{} {}\n",
            ui.bold(&format!("attack {} by {}", attack.kind, attack.by)),
            ui.dim(&format!("({})", attack.plan))
        ));
        for step in &attack.steps {
            text.push_str(&format!("  - {step}\n"));
        }
        for c in &attack.checks {
            let mark = if c.holds { ui.good("ok") } else { ui.bad("NO") };
            text.push_str(&format!(
                "  {mark}  {}: {} (expected {})\n",
                c.what, c.actual, c.expected
            ));
        }
        let unchanged = attack.stakes.iter().filter(|s| s.unchanged()).count();
        text.push_str(&format!(
            "  {}  honest stakes unchanged: {unchanged} of {}\n",
            if unchanged == attack.stakes.len() && !attack.stakes.is_empty() {
                ui.good("ok")
            } else {
                ui.bad("NO")
            },
            attack.stakes.len()
        ));
        let outcome = attack.outcome.describe();
        text.push_str(&format!(
            "  {}\n",
            if matches!(attack.outcome, AttackOutcome::Refused { .. }) {
                outcome
            } else {
                ui.bad(&outcome)
            }
        ));
    }
    let met = record.verdicts.iter().filter(|v| v.pass).count();
    let verdict = if record.passed() {
        ui.good("PASS")
    } else {
        ui.bad("FAIL")
    };
    text.push_str(&format!(
        "\n{} {verdict}: {met} of {} expectations met\n",
        ui.bold("Expectations"),
        record.verdicts.len()
    ));
    for v in &record.verdicts {
        let mark = if v.pass {
            ui.good("pass")
        } else {
            ui.bad("FAIL")
        };
        text.push_str(&format!(
            "  {mark}  {}: expected {}; {}\n",
            v.subject, v.expected, v.actual
        ));
    }
    text.push_str(&format!(
        "\nReport written to {} ({})\nset-up {:.1} s, run {:.1} s, wall time {wall:.1} s",
        out.display(),
        REPORT_FILES.join(", "),
        record.setup_ms as f64 / 1000.0,
        record.duration_ms as f64 / 1000.0,
    ));
    let json = serde_json::json!({
        "passed": record.passed(),
        "report": out.display().to_string(),
        "wall_seconds": wall,
        "run": record,
    });
    (text, json)
}
