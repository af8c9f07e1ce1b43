//! The engine: runs a [`Scenario`] on a real network in this process and records what happened
//! ([`RunRecord`]).
//!
//! [`run`] starts the embedded chain (the real contracts on revm) with an account for every
//! node, institution and researcher; starts every node ([`sharenet_node::local::LocalNode`]:
//! libp2p on loopback, its own redb store, chain follower, upload and job services, each on its
//! own runtime thread) with its own [`LinkFaults`] handle, and waits until each sees the whole
//! active set. Then the set-up: every institution uploads its datasets (a byzantine dealer deals
//! a tampered batch, which the committee must reject), owners delegate, institutions grant. Set-up
//! ends there: the scenario's clock starts, and the chain's clock follows it (grant expiries and
//! job deadlines are judged by it). The jobs (each at its `at`, by its researcher, through
//! [`sharenet_node::jobs::requester::run_query`]) and the faults (crash and restart, link
//! faults, partitions, corrupt messages) then run concurrently on that clock. Each job's outcome
//! is compared with the plaintext reference; the run ends when the last job has ended. Faults
//! still pending then do not happen (the timeline shows what did).
//!
//! Timeouts: a job may take its `timeout` (default `network.job_timeout`) from submission to
//! result; the engine stops waiting then and records it as failed. The nodes wait at most
//! `network.job_timeout / 4` (between 5 and 30 s) for any one protocol message, so that a member
//! whose peer stalls gives the attempt up and is free for the requester's next one; the
//! requester waits that long for the members' readiness, and the job's whole timeout for the
//! outputs (they come only at the end of the computation).

mod attacks;
mod faults;
mod jobs;
mod network;
mod setup;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plaintext::Reference;
use crate::report::{ReportError, RunRecord, write_report};
use crate::scale::ScaleConfig;
use crate::scenario::{JobExpect, Millis, Scenario, ScenarioError};

pub use attacks::ATTACK_TIMEOUT;
pub use sharenet_node::net::LinkFaults;

/// Shortest time a protocol message may take before a session gives up on its sender.
pub const MIN_MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time a protocol message may take before a session gives up on its sender.
pub const MAX_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the nodes may take to start and see each other.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an upload may take (sharing, the committee's check, registration, every
/// member's acknowledgement).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Rows per upload batch.
pub const BATCH_ROWS: usize = 1000;

/// Something that happened during a run, for progress display.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The nodes are up and see each other.
    NodesUp {
        /// How many.
        nodes: usize,
        /// How long they took, in ms.
        ms: u64,
    },
    /// An upload ended.
    Uploaded {
        /// The dataset.
        dataset: String,
        /// Its rows.
        rows: usize,
        /// How it ended, in words.
        outcome: String,
        /// How long it took, in ms.
        ms: u64,
    },
    /// A set-up step that was skipped or worth telling (a grant on a rejected dataset...).
    Note(String),
    /// Set-up is over: the scenario clock starts.
    SetupDone {
        /// How long set-up took, in ms.
        ms: u64,
    },
    /// A fault happened (or ended).
    Fault {
        /// When, in ms of the scenario clock.
        at_ms: u64,
        /// What, in words.
        what: String,
    },
    /// A job was submitted.
    JobStarted {
        /// Its name.
        name: String,
        /// When, in ms of the scenario clock.
        at_ms: u64,
    },
    /// A step of a job as its requester reported it (members ready, an attempt started or
    /// failed).
    JobStep {
        /// Its name.
        name: String,
        /// When, in ms of the scenario clock.
        at_ms: u64,
        /// What, in words.
        step: String,
    },
    /// A job ended.
    JobEnded {
        /// Its name.
        name: String,
        /// When, in ms of the scenario clock.
        at_ms: u64,
        /// How, in words (status and reason, or whether its result agrees).
        outcome: String,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
        match self {
            Event::NodesUp { nodes, ms } => write!(f, "{nodes} nodes up in {}", secs(*ms)),
            Event::Uploaded {
                dataset,
                rows,
                outcome,
                ms,
            } => write!(
                f,
                "upload {dataset} ({rows} rows): {outcome} in {}",
                secs(*ms)
            ),
            Event::Note(text) => f.write_str(text),
            Event::SetupDone { ms } => {
                write!(f, "set-up done in {}; the scenario clock starts", secs(*ms))
            }
            Event::Fault { at_ms, what } => write!(f, "[{:>7}] {what}", secs(*at_ms)),
            Event::JobStarted { name, at_ms } => {
                write!(f, "[{:>7}] job {name} submitted", secs(*at_ms))
            }
            Event::JobStep { name, at_ms, step } => {
                write!(f, "[{:>7}] job {name}: {step}", secs(*at_ms))
            }
            Event::JobEnded {
                name,
                at_ms,
                outcome,
            } => write!(f, "[{:>7}] job {name}: {outcome}", secs(*at_ms)),
        }
    }
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Event) + Send + Sync>;

/// How to run a scenario.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Where to write the report folder (`None`: no files, only the returned record).
    pub out_dir: Option<PathBuf>,
    /// Where the nodes keep their data, one directory per node (`None`: a temporary directory,
    /// removed at the end).
    pub work_dir: Option<PathBuf>,
    /// A scale-mode run whose section goes into the report.
    pub scale: Option<ScaleConfig>,
    /// Told about each step of the run.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("out_dir", &self.out_dir)
            .field("work_dir", &self.work_dir)
            .field("scale", &self.scale)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Why a run could not be carried out (a job that fails is not an error: it is recorded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The scenario's data could not be read or generated.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The plaintext reference of a job could not be computed.
    #[error("the plaintext reference of job `{job}` could not be computed: {message}")]
    Reference {
        /// The job.
        job: String,
        /// Why.
        message: String,
    },
    /// The embedded chain failed.
    #[error("chain: {0}")]
    Chain(String),
    /// A node could not be started.
    #[error("node {node}: {message}")]
    Node {
        /// The node.
        node: usize,
        /// Why.
        message: String,
    },
    /// A client (an institution's or a researcher's) could not be started.
    #[error("client of `{name}`: {message}")]
    Client {
        /// Whose.
        name: String,
        /// Why.
        message: String,
    },
    /// Something did not happen in time.
    #[error("{what} did not happen within {after:?}")]
    Timeout {
        /// What.
        what: String,
        /// How long the engine waited.
        after: Duration,
    },
    /// A working directory could not be made.
    #[error("cannot use {path}: {message}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system reported.
        message: String,
    },
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The scale-mode run failed.
    #[error("scale mode: {0}")]
    Scale(String),
    /// A task of the engine failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The per-message timeout of a network whose jobs may take `job_timeout`.
pub fn message_timeout(job_timeout: Millis) -> Duration {
    (job_timeout.duration() / 4).clamp(MIN_MESSAGE_TIMEOUT, MAX_MESSAGE_TIMEOUT)
}

/// Runs `scenario` on a network in this process and returns what happened, judged
/// ([`RunRecord::verdicts`]); with [`RunOptions::out_dir`], also writes the report folder.
///
/// Needs a multi-threaded tokio runtime (the nodes run on their own threads; the jobs, the
/// faults and the clients run on the caller's runtime).
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunRecord, EngineError> {
    let progress = |e: Event| {
        if let Some(p) = &options.progress {
            p(&e);
        }
    };
    // Everything that can be checked before anything starts.
    let tables = scenario.tables()?;
    let references = references(scenario, &tables)?;
    let catalog = scenario.catalog()?;

    let (_temp, work) = match &options.work_dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("sharenet-sim-")
                .tempdir()
                .map_err(|e| EngineError::Io {
                    path: std::env::temp_dir(),
                    message: e.to_string(),
                })?;
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    };
    let mut record = RunRecord::new(scenario);
    let started = Instant::now();
    let net = Arc::new(network::SimNetwork::start(scenario, &work).await?);
    progress(Event::NodesUp {
        nodes: scenario.network.nodes,
        ms: started.elapsed().as_millis() as u64,
    });
    let outcome = async {
        let setup = setup::run(scenario, &net, &tables, &progress).await?;
        record.uploads = setup.uploads.clone();
        record.setup_ms = started.elapsed().as_millis() as u64;
        progress(Event::SetupDone {
            ms: record.setup_ms,
        });
        let clock = network::Clock::start(&net)?;
        // The chain's clock stops following whatever happens next.
        let _stop = clock.stop_on_drop();
        let context = jobs::Context {
            scenario: Arc::new(scenario.clone()),
            net: net.clone(),
            setup: Arc::new(setup),
            catalog: Arc::new(catalog),
            references: Arc::new(references),
            clock: clock.clone(),
            progress: options.progress.clone(),
            attack_lock: tokio::sync::Mutex::new(()),
            clock_jump: tokio::sync::RwLock::new(()),
        };
        let (jobs, faults, attacks) = faults::run_schedule(context).await?;
        record.duration_ms = clock.elapsed_ms();
        record.jobs = jobs;
        record.faults = faults;
        record.attacks = attacks;
        Ok::<(), EngineError>(())
    }
    .await;
    net.shutdown().await;
    outcome?;
    if let Some(config) = options.scale.clone() {
        // Seconds of CPU at 1,000 nodes: off the async runtime.
        let report = tokio::task::spawn_blocking(move || crate::scale::run(&config))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map_err(|e| EngineError::Scale(e.to_string()))?;
        record.scale = Some(report.to_markdown());
    }
    record.judge();
    if let Some(dir) = &options.out_dir {
        write_report(dir, &record)?;
    }
    Ok(record)
}

/// The plaintext reference of every job whose query is expected to be a valid query.
fn references(
    scenario: &Scenario,
    tables: &BTreeMap<String, crate::generate::Table>,
) -> Result<BTreeMap<String, Reference>, EngineError> {
    let mut out = BTreeMap::new();
    for job in &scenario.jobs {
        match crate::plaintext::reference_for_job(scenario, job, tables) {
            Ok(r) => {
                out.insert(job.name.clone(), r);
            }
            // A query meant to be refused as a query has no reference.
            Err(_) if job.expect == JobExpect::Invalid => {}
            Err(e) => {
                return Err(EngineError::Reference {
                    job: job.name.clone(),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}
