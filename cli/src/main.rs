//! `sharenet`: the node daemon and the command-line tool of sharenet.
//!
//! The binary is the top of the dependency graph (cli → simulator → node → {mpc, dht,
//! chain-adapter}); each command group lives in its own module and returns a [`output::Report`]
//! (text for humans, one JSON document with `--json`) or a [`failure::Failure`] (what failed,
//! where, how to fix it, and an exit code: see [`failure`]).

mod access;
mod audit;
mod chain;
mod dataset;
mod devnet;
mod failure;
mod health;
mod identity;
mod jobs;
mod manifest;
mod node;
mod output;
mod query;
mod sim;
mod target;
mod trail;
mod util;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::Failure;
use crate::output::{Report, Ui};

#[derive(Parser)]
#[command(
    name = "sharenet",
    version,
    about = "sharenet: data no single node can read, computed on by MPC",
    after_help = "Exit codes: 0 ok, 1 other, 2 usage or configuration, 3 chain, 4 network, \
                  5 refused by the access rules, 6 job failed."
)]
struct Cli {
    /// Machine output: one JSON document on stdout; errors as {"error": {…}} on stderr.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run and manage a node.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Chain tools (deploy the contracts, fund accounts on a dev chain).
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// A local network on this machine: anvil, the contracts, N node processes, demo identities.
    #[command(subcommand)]
    Devnet(devnet::DevnetCommand),
    /// Identities: named chain keys for institutions and researchers.
    #[command(subcommand)]
    Identity(identity::IdentityCommand),
    /// Datasets: upload a table as verified secret shares, append, list, show.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    /// Access grants: who may run which kinds of query on your datasets, until when, how often.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Jobs (queries run by a committee) on chain: list, show, refund after the deadline.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// A dataset's audit trail on chain: registration, acknowledgements, grants, jobs, payouts.
    Audit(audit::AuditArgs),
    /// Run a query as a job: computed by the datasets' committee, readable only by you.
    Query(query::QueryArgs),
    /// Simulate a whole network in this process: run a scenario (default: 7 nodes, two
    /// hospitals, a query of each kind) with its faults, compare with plaintext, write a report.
    Sim(sim::SimArgs),
}

impl Command {
    /// The default log filter: the daemon logs at info; the simulator only errors (its nodes'
    /// warnings about the faults it injects are expected, and its report says what happened);
    /// other commands warnings.
    fn default_log_filter(&self) -> &'static str {
        match self {
            Command::Node(node::NodeCommand::Run { .. }) => "info,libp2p=warn",
            Command::Sim(_) => "error",
            _ => "warn,libp2p=error",
        }
    }
}

async fn run(command: Command, ui: &Ui) -> Result<Report, Failure> {
    match command {
        Command::Node(c) => node::run(c, ui).await,
        Command::Chain(c) => chain::run(c, ui).await,
        Command::Devnet(c) => devnet::run(c, ui).await,
        Command::Identity(c) => identity::run(c, ui).await,
        Command::Dataset(c) => dataset::run(c, ui).await,
        Command::Access(c) => access::run(c, ui).await,
        Command::Jobs(c) => jobs::run(c, ui).await,
        Command::Audit(a) => audit::run(a, ui).await,
        Command::Query(a) => query::run(a, ui).await,
        Command::Sim(a) => sim::run(a, ui).await,
    }
}

fn init_logging(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .init();
}

fn report_failure(f: &Failure, json: bool) -> ExitCode {
    let text = if json {
        f.to_json().to_string()
    } else {
        f.to_human()
    };
    let _ = writeln!(std::io::stderr().lock(), "{text}");
    ExitCode::from(f.code)
}

fn main() -> ExitCode {
    let json_requested = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if json_requested
                && !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
            {
                let f = Failure::usage(e.kind().to_string()).hint(
                    e.render()
                        .to_string()
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
                return report_failure(&f, true);
            }
            // clap prints usage errors (exit code 2) and help/version (exit code 0) itself.
            e.exit();
        }
    };
    init_logging(cli.command.default_log_filter());
    let ui = Ui::detect(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return report_failure(
                &Failure::other(format!("cannot start the async runtime: {e}")),
                ui.json,
            );
        }
    };
    match runtime.block_on(run(cli.command, &ui)) {
        Ok(Report::Done { human, json }) => {
            let text = if ui.json { json.to_string() } else { human };
            // A closed pipe (`sharenet … | head`) is not an error worth a panic.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}").and_then(|()| out.flush());
            ExitCode::SUCCESS
        }
        Ok(Report::Nothing) => ExitCode::SUCCESS,
        Err(f) => report_failure(&f, ui.json),
    }
}
