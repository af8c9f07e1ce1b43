//! Runs the scale mode and prints its Markdown section (or, with `--json`, the JSON report) and
//! the wall time. Until `sharenet sim --scale` exists, this is how the figures in
//! `docs/simulator.md` are measured:
//!
//!     cargo run --release -p sharenet-simulator --example scale -- [--nodes N] [--seed S]
//!         [--lookups N] [--pools N] [--records N] [--churn F] [--key-space libp2p|sharenet]
//!         [--bootstrap kademlia|chain-seeded] [--lookup-model eager|rounds] [--json]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Instant;

use sharenet_simulator::scale::{self, Bootstrap, KeySpace, LookupModel, ScaleConfig};

fn parse(args: &[String]) -> Result<(ScaleConfig, bool), String> {
    let mut config = ScaleConfig::default();
    let mut json = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |v: &String| v.parse::<usize>().map_err(|e| format!("{arg} {v}: {e}"));
        match arg.as_str() {
            "--json" => json = true,
            "--nodes" => config.nodes = number(value()?)?,
            "--lookups" => config.lookups = number(value()?)?,
            "--pools" => config.pools = number(value()?)?,
            "--records" => config.records = number(value()?)?,
            "--seed" => {
                let v = value()?;
                config.seed = v.parse().map_err(|e| format!("--seed {v}: {e}"))?;
            }
            "--churn" => {
                let v = value()?;
                config.churn_fraction = v.parse().map_err(|e| format!("--churn {v}: {e}"))?;
            }
            "--key-space" => {
                config.key_space = match value()?.as_str() {
                    "libp2p" => KeySpace::Libp2p,
                    "sharenet" => KeySpace::Sharenet,
                    other => return Err(format!("--key-space {other}: use libp2p or sharenet")),
                }
            }
            "--bootstrap" => {
                config.bootstrap = match value()?.as_str() {
                    "kademlia" => Bootstrap::Kademlia,
                    "chain-seeded" => Bootstrap::ChainSeeded,
                    other => {
                        return Err(format!("--bootstrap {other}: use kademlia or chain-seeded"));
                    }
                }
            }
            "--lookup-model" => {
                config.lookup_model = match value()?.as_str() {
                    "eager" => LookupModel::Eager,
                    "rounds" => LookupModel::Rounds,
                    other => return Err(format!("--lookup-model {other}: use eager or rounds")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok((config, json))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, json) = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    match scale::run(&config) {
        Ok(report) => {
            let secs = start.elapsed().as_secs_f64();
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("{}", report.to_markdown());
            }
            eprintln!("wall time: {secs:.2} s");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
