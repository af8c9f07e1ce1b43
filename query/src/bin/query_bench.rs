//! `query-bench`: a whole compiled query on a committee of `n` parties (one thread each) over
//! loopback TCP, with the table dealt by an outside owner (before the clock starts) and the result
//! opened to an outside receiver; prints one JSON line:
//! `{"parties","threshold","security","op":"query","query","size","wall_s","ops_per_s","bytes_sent_per_party","rounds","explain","result"}`
//! (`explain`: EXPLAIN's prediction at the run's security level).
//!
//! ```text
//! cargo run --release -p sharenet-query --bin query-bench -- --parties 5 --query avg-var --size 100000
//! cargo run --release -p sharenet-query --bin query-bench -- --parties 5 --query avg-var --size 100000 --security malicious
//! ```
//!
//! Queries: `avg-var` (`SELECT AVG(x1), VAR_POP(x1)`) and `linreg` (`SELECT LINREG(y ~ x1 + … + x5)`)
//! over `size` rows of a synthetic table.

use std::process::ExitCode;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use rand::RngExt;
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::ir::{execute, receive};
use sharenet_mpc::protocol::{OutsideParty, ProtocolError, RandomnessSource, Security, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::tcp::run_on_loopback;
use sharenet_query::{Catalog, Cell, CompileOptions, Schema, assemble, compile, compile_front_end};

/// The benchmark queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchQuery {
    /// `SELECT AVG(x1), VAR_POP(x1)`.
    AvgVar,
    /// `SELECT LINREG(y ~ x1 + … + x5)`.
    #[value(name = "linreg")]
    LinReg,
}

impl BenchQuery {
    fn text(self) -> &'static str {
        match self {
            BenchQuery::AvgVar => "SELECT AVG(x1), VAR_POP(x1) FROM bench",
            BenchQuery::LinReg => "SELECT LINREG(y ~ x1 + x2 + x3 + x4 + x5) FROM bench",
        }
    }

    fn name(self) -> &'static str {
        match self {
            BenchQuery::AvgVar => "avg-var",
            BenchQuery::LinReg => "linreg",
        }
    }
}

const SCHEMA: &str = r#"{"columns":[
  {"name":"y","type":"fixed","scale":2},
  {"name":"x1","type":"fixed","scale":2},
  {"name":"x2","type":"fixed","scale":2},
  {"name":"x3","type":"fixed","scale":2},
  {"name":"x4","type":"integer"},
  {"name":"x5","type":"integer"}]}"#;

struct Measured {
    elapsed: Duration,
    bytes_sent: u64,
    rounds: u64,
}

/// Runs the query benchmark and returns its JSON line.
fn run(
    query: BenchQuery,
    n: usize,
    t: usize,
    rows: usize,
    randomness: RandomnessSource,
    security: Security,
) -> Result<serde_json::Value, String> {
    let schema = Schema::from_json(SCHEMA).map_err(|e| e.to_string())?;
    let mut catalog = Catalog::new();
    catalog.insert("bench", schema).map_err(|e| e.to_string())?;
    let typed = compile_front_end(query.text(), &catalog).map_err(|e| e.render(query.text()))?;
    let compiled = compile(&typed, rows, &CompileOptions::default()).map_err(|e| e.to_string())?;
    let cost = compiled
        .cost_at(n, t, security)
        .map_err(|e| e.to_string())?;
    // A synthetic table: y = 3·x1 − 2·x2 + x3/2 + x4 + 5·x5 + noise (decimal units).
    let mut rng = rand::rng();
    let table: Vec<[i64; 6]> = (0..rows)
        .map(|_| {
            let x1 = rng.random_range(0..100_000);
            let x2 = rng.random_range(0..100_000);
            let x3 = rng.random_range(0..100_000);
            let x4 = rng.random_range(0..1_000);
            let x5 = rng.random_range(0..100);
            let y = 3 * x1 - 2 * x2 + x3 / 2 + 100 * x4 + 500 * x5 + rng.random_range(0..10_000);
            [y, x1, x2, x3, x4, x5]
        })
        .collect();
    let columns: Vec<Vec<Mp127>> = compiled
        .inputs
        .iter()
        .map(|&c| table.iter().map(|r| Mp127::from_i64(r[c])).collect())
        .collect();
    let (owner, receiver) = (n, n + 1);
    let barrier = Barrier::new(n + 2);
    let outcomes = run_on_loopback(
        n + 2,
        |tr| -> Result<(Option<Measured>, Option<Vec<Cell>>), ProtocolError> {
            let me = tr.me();
            if me == owner {
                let mut o = OutsideParty::<Mp127, _>::new(n, t, tr)?;
                for col in &columns {
                    o.deal(col)?;
                }
                barrier.wait();
                return Ok((None, None));
            }
            if me == receiver {
                let mut r = OutsideParty::<Mp127, _>::new(n, t, tr)?;
                barrier.wait();
                let start = Instant::now();
                let received = receive(&mut r, &compiled.program)
                    .map_err(|_| ProtocolError::Usage("receive failed"))?;
                let elapsed = start.elapsed();
                let result = assemble(&compiled, &received);
                return Ok((
                    Some(Measured {
                        elapsed,
                        bytes_sent: 0,
                        rounds: 0,
                    }),
                    result.rows.into_iter().next(),
                ));
            }
            let mut s = Session::new(n, t, tr, randomness)?;
            s.set_security(security)?;
            let inputs = (0..columns.len())
                .map(|_| s.input(owner, None, rows))
                .collect::<Result<Vec<_>, _>>()?;
            barrier.wait();
            let before = s.stats();
            let start = Instant::now();
            execute(&mut s, &compiled.program, &inputs, receiver).map_err(|e| match e {
                sharenet_mpc::ir::ExecError::Protocol(p) => p,
                _ => ProtocolError::Usage("the benchmark program is malformed"),
            })?;
            let after = s.stats();
            Ok((
                Some(Measured {
                    elapsed: start.elapsed(),
                    bytes_sent: after.transport.bytes_sent - before.transport.bytes_sent,
                    rounds: after.rounds - before.rounds,
                }),
                None,
            ))
        },
    )
    .map_err(|e| format!("could not set up loopback TCP: {e}"))?;
    let mut measured = Vec::new();
    let mut result = None;
    for (i, o) in outcomes.into_iter().enumerate() {
        let (m, r) = o.map_err(|e| format!("endpoint {i} failed: {e}"))?;
        if let Some(m) = m {
            measured.push(m);
        }
        result = result.or(r);
    }
    let wall = measured
        .iter()
        .map(|m| m.elapsed)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let computing = &measured[..n.min(measured.len())];
    let bytes = computing.iter().map(|m| m.bytes_sent).sum::<u64>() / n as u64;
    let rounds = computing.iter().map(|m| m.rounds).max().unwrap_or(0);
    let cells: Vec<String> = result
        .unwrap_or_default()
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    Ok(serde_json::json!({
        "parties": n,
        "threshold": t,
        "security": security.as_str(),
        "op": "query",
        "query": query.name(),
        "size": rows,
        "wall_s": wall,
        "ops_per_s": if wall > 0.0 { rows as f64 / wall } else { 0.0 },
        "bytes_sent_per_party": bytes,
        "rounds": rounds,
        "explain": cost,
        "result": cells,
    }))
}

/// The command line.
#[derive(Parser)]
#[command(
    name = "query-bench",
    about = "A whole compiled query on a committee over loopback TCP"
)]
struct Args {
    /// Committee size n.
    #[arg(short = 'n', long, default_value_t = 3)]
    parties: usize,
    /// Threshold t (2t < n; default the largest).
    #[arg(short = 't', long)]
    threshold: Option<usize>,
    /// Rows of the synthetic table.
    #[arg(long, default_value_t = 1_000_000)]
    size: usize,
    /// The query.
    #[arg(long, value_enum, default_value_t = BenchQuery::AvgVar)]
    query: BenchQuery,
    /// Where the session's random double sharings come from.
    #[arg(long, value_enum, default_value_t = Randomness::Auto)]
    randomness: Randomness,
    /// The session's security level (malicious needs n = 2t + 1).
    #[arg(long, value_enum, default_value_t = SecurityLevel::SemiHonest)]
    security: SecurityLevel,
}

/// `--security`: the [`Security`] levels by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SecurityLevel {
    /// Members follow the protocol.
    SemiHonest,
    /// Secure with abort against up to t malicious members.
    Malicious,
}

impl From<SecurityLevel> for Security {
    fn from(s: SecurityLevel) -> Self {
        match s {
            SecurityLevel::SemiHonest => Security::SemiHonest,
            SecurityLevel::Malicious => Security::Malicious,
        }
    }
}

/// `--randomness`: the [`RandomnessSource`]s by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Randomness {
    /// PRSS while the key sets stay few, hyper-invertible beyond.
    Auto,
    /// Pseudo-random secret sharing.
    Prss,
    /// Hyper-invertible batches.
    Hyper,
}

impl From<Randomness> for RandomnessSource {
    fn from(r: Randomness) -> Self {
        match r {
            Randomness::Auto => RandomnessSource::Auto,
            Randomness::Prss => RandomnessSource::Prss,
            Randomness::Hyper => RandomnessSource::HyperInvertible,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (n, t) = (
        args.parties,
        args.threshold.unwrap_or(args.parties.saturating_sub(1) / 2),
    );
    if n < 3 || 2 * t >= n {
        eprintln!("query-bench: need n >= 3 and 2t < n (honest majority), got n = {n}, t = {t}");
        return ExitCode::from(2);
    }
    match run(
        args.query,
        n,
        t,
        args.size,
        args.randomness.into(),
        args.security.into(),
    ) {
        Ok(line) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("query-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
