//! The report of a simulator run: what the engine records ([`RunRecord`]: uploads, jobs with
//! their results and costs, fault events), the verdict on every expectation of the scenario
//! ([`RunRecord::judge`]), and the report folder ([`write_report`]): `report.md`, `run.json` and four SVG
//! charts (latency per job, bytes sent per node, rounds per job, fault timeline).
//!
//! The engine fills a [`RunRecord`] as the run goes: [`RunRecord::new`] from the scenario,
//! [`UploadRecord`]s, [`JobRecord`]s (with the MPC result, [`JobRecord::compare`] adds the
//! plaintext reference and the comparison), [`FaultEvent`]s as faults actually happen. Then
//! [`RunRecord::judge`] gives the verdicts and [`RunRecord::passed`] the exit status.

mod markdown;
mod svg;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sharenet_mpc::query::{Cell, QueryResult};

use crate::plaintext::{Comparison, Reference, agrees};
use crate::scenario::{Fault, JobExpect, Scenario, Source, UploadExpect};

/// Why the report could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file or the folder could not be written.
    #[error("cannot write {path}: {message}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system reported.
        message: String,
    },
    /// The run record could not be serialised.
    #[error("cannot serialise the run record: {0}")]
    Json(String),
}

/// What the report says about the scenario (a summary that serialises both ways).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Its seed.
    pub seed: u64,
    /// Nodes in the network.
    pub nodes: usize,
    /// Threshold t.
    pub threshold: usize,
    /// Committee size n.
    pub committee: usize,
    /// The datasets.
    pub datasets: Vec<DatasetSummary>,
    /// Researchers.
    pub researchers: Vec<String>,
    /// Delegations and grants, one line each.
    pub grants: Vec<String>,
    /// The planned faults, one line each.
    pub faults: Vec<String>,
}

/// One dataset of the scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Its name.
    pub name: String,
    /// Its owner.
    pub owner: String,
    /// Its pool.
    pub pool: String,
    /// Where its rows come from, in words.
    pub source: String,
}

impl ScenarioSummary {
    /// The summary of `s`.
    pub fn of(s: &Scenario) -> ScenarioSummary {
        ScenarioSummary {
            name: s.name.clone(),
            description: s.description.clone(),
            seed: s.seed,
            nodes: s.network.nodes,
            threshold: s.network.threshold,
            committee: s.network.committee,
            datasets: s
                .datasets
                .iter()
                .map(|d| DatasetSummary {
                    name: d.name.clone(),
                    owner: d.owner.clone(),
                    pool: d.pool.clone(),
                    source: match &d.source {
                        Source::Generated { rows, seed, .. } => {
                            format!("{rows} synthetic patients (seed {seed})")
                        }
                        Source::Csv { path, .. } => format!("CSV {}", path.display()),
                    },
                })
                .collect(),
            researchers: s.researchers.iter().map(|r| r.name.clone()).collect(),
            grants: s
                .delegations
                .iter()
                .map(|x| {
                    format!(
                        "{} lets {} grant access to {}",
                        x.owner,
                        x.delegate,
                        x.datasets.join(", ")
                    )
                })
                .chain(s.grants.iter().map(|g| {
                    let kinds: Vec<&str> = g.kinds.iter().map(|k| k.as_str()).collect();
                    let mut line = format!(
                        "{} → {}: {} ({})",
                        g.granter,
                        g.grantee,
                        g.datasets.join(", "),
                        kinds.join(", ")
                    );
                    if g.max_queries != u32::MAX {
                        line.push_str(&format!(", at most {} queries", g.max_queries));
                    }
                    if let Some(e) = g.expires_in {
                        line.push_str(&format!(", expires after {e}"));
                    }
                    line
                }))
                .collect(),
            faults: s.faults.iter().map(describe_fault).collect(),
        }
    }
}

fn nodes_text(nodes: &[usize]) -> String {
    let list: Vec<String> = nodes.iter().map(ToString::to_string).collect();
    if nodes.len() == 1 {
        format!("node {}", list.join(""))
    } else {
        format!("nodes {}", list.join(", "))
    }
}

/// A planned fault in words.
pub fn describe_fault(f: &Fault) -> String {
    let until = |u: &Option<crate::scenario::Millis>| {
        u.map_or(" until the end".to_string(), |u| format!(" until {u}"))
    };
    match f {
        Fault::Crash {
            node,
            at,
            restart_at,
        } => match restart_at {
            Some(r) => format!("node {node} crashes at {at} and restarts at {r}"),
            None => format!("node {node} crashes at {at} for good"),
        },
        Fault::Link {
            from,
            to,
            delay_ms,
            jitter_ms,
            loss,
            at,
            until: u,
        } => format!(
            "links {} → {}: +{delay_ms} ms delay, ±{jitter_ms} ms jitter, {:.1}% loss, from {at}{}",
            nodes_text(from),
            nodes_text(to),
            loss * 100.0,
            until(u)
        ),
        Fault::Partition {
            groups,
            at,
            until: u,
        } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| {
                    format!(
                        "{{{}}}",
                        g.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            format!("partition {} from {at}{}", groups.join(" | "), until(u))
        }
        Fault::ByzantineDealer { dataset, nodes } => {
            if nodes.is_empty() {
                format!("the owner of {dataset} deals inconsistent shares to one node")
            } else {
                format!(
                    "the owner of {dataset} deals inconsistent shares to {}",
                    nodes_text(nodes)
                )
            }
        }
        Fault::CorruptMessages {
            node,
            target,
            at,
            until: u,
        } => format!(
            "node {node} corrupts its {} messages from {at}{}",
            match target {
                crate::scenario::CorruptTarget::Protocol => "protocol",
                crate::scenario::CorruptTarget::Output => "output-share",
            },
            until(u)
        ),
    }
}

/// A result cell as the run record stores it (serialisable; mirrors `sharenet_mpc::query::Cell`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultCell {
    /// A group label.
    Label(String),
    /// A number.
    Number(f64),
    /// Histogram counts with their bin labels.
    Counts(Vec<(String, f64)>),
    /// Regression terms and R².
    Model {
        /// `(term, coefficient)`.
        coefficients: Vec<(String, f64)>,
        /// R², for linear regression.
        r_squared: Option<f64>,
    },
    /// Below the minimum cohort size.
    CohortTooSmall,
}

/// An MPC result as the run record stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultTable {
    /// Column names.
    pub columns: Vec<String>,
    /// One row per group.
    pub rows: Vec<Vec<ResultCell>>,
}

impl From<&QueryResult> for ResultTable {
    fn from(r: &QueryResult) -> ResultTable {
        ResultTable {
            columns: r.columns.clone(),
            rows: r
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| match c {
                            Cell::Label(l) => ResultCell::Label(l.clone()),
                            Cell::Number(v) => ResultCell::Number(*v),
                            Cell::Counts(b) => ResultCell::Counts(b.clone()),
                            Cell::Model {
                                coefficients,
                                r_squared,
                            } => ResultCell::Model {
                                coefficients: coefficients.clone(),
                                r_squared: *r_squared,
                            },
                            Cell::CohortTooSmall => ResultCell::CohortTooSmall,
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

impl From<&ResultTable> for QueryResult {
    fn from(r: &ResultTable) -> QueryResult {
        QueryResult {
            columns: r.columns.clone(),
            rows: r
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| match c {
                            ResultCell::Label(l) => Cell::Label(l.clone()),
                            ResultCell::Number(v) => Cell::Number(*v),
                            ResultCell::Counts(b) => Cell::Counts(b.clone()),
                            ResultCell::Model {
                                coefficients,
                                r_squared,
                            } => Cell::Model {
                                coefficients: coefficients.clone(),
                                r_squared: *r_squared,
                            },
                            ResultCell::CohortTooSmall => Cell::CohortTooSmall,
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for ResultTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        QueryResult::from(self).fmt(f)
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum JobOutcome {
    /// It produced a result (in [`JobRecord::result`]).
    Completed,
    /// The network refused it before computing (no grant, kind not granted, expired, budget
    /// used up, datasets in different pools or not stored).
    Refused {
        /// Why, as the network said.
        reason: String,
    },
    /// The query itself was refused (a query-language error).
    Invalid {
        /// The error.
        reason: String,
    },
    /// It was accepted but produced no result (aborted, timed out, committee unavailable).
    Failed {
        /// Why.
        reason: String,
    },
    /// It aborted because misbehaviour was detected.
    Detected {
        /// The nodes identified as cheating (empty if the protocol could not tell).
        culprits: Vec<usize>,
        /// What was detected.
        reason: String,
    },
}

impl JobOutcome {
    /// A short status word: `completed`, `refused`, `invalid`, `failed`, `detected`.
    pub fn status(&self) -> &'static str {
        match self {
            JobOutcome::Completed => "completed",
            JobOutcome::Refused { .. } => "refused",
            JobOutcome::Invalid { .. } => "invalid",
            JobOutcome::Failed { .. } => "failed",
            JobOutcome::Detected { .. } => "detected",
        }
    }

    /// The status with its reason.
    pub fn describe(&self) -> String {
        match self {
            JobOutcome::Completed => "completed".into(),
            JobOutcome::Refused { reason } => format!("refused: {reason}"),
            JobOutcome::Invalid { reason } => format!("invalid: {reason}"),
            JobOutcome::Failed { reason } => format!("failed: {reason}"),
            JobOutcome::Detected { culprits, reason } if culprits.is_empty() => {
                format!("detected: {reason}")
            }
            JobOutcome::Detected { culprits, reason } => {
                format!("detected ({}): {reason}", nodes_text(culprits))
            }
        }
    }
}

/// One job of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its name.
    pub name: String,
    /// The researcher.
    pub by: String,
    /// The query text.
    pub query: String,
    /// What the scenario expects.
    pub expect: JobExpect,
    /// With `expect = "detected"`: the node that must be named.
    pub culprit: Option<usize>,
    /// When it was submitted (ms since set-up).
    pub submitted_ms: u64,
    /// When it ended, if it did.
    pub finished_ms: Option<u64>,
    /// How it ended.
    pub outcome: JobOutcome,
    /// MPC rounds it took (as the committee's nodes counted them).
    pub rounds: Option<u64>,
    /// Bytes each node sent for it (index = node number).
    pub bytes_per_node: Vec<u64>,
    /// The MPC result, when it completed.
    pub result: Option<ResultTable>,
    /// The plaintext reference.
    pub expected: Option<Reference>,
    /// The comparison of the two.
    pub comparison: Option<Comparison>,
    /// The relative tolerance the scenario set for it, if any.
    pub tolerance: Option<f64>,
}

impl JobRecord {
    /// A record for `job` of `scenario` with the given outcome; the engine then fills times,
    /// costs and the result.
    pub fn new(job: &crate::scenario::Job, outcome: JobOutcome) -> JobRecord {
        JobRecord {
            name: job.name.clone(),
            by: job.by.clone(),
            query: job.query.clone(),
            expect: job.expect,
            culprit: job.culprit,
            submitted_ms: job.at.0,
            finished_ms: None,
            outcome,
            rounds: None,
            bytes_per_node: Vec::new(),
            result: None,
            expected: None,
            comparison: None,
            tolerance: job.tolerance,
        }
    }

    /// Stores the MPC result, the plaintext reference and their comparison (within the job's
    /// tolerance).
    pub fn compare(&mut self, result: &QueryResult, reference: Reference) {
        self.comparison = Some(agrees(result, &reference, self.tolerance));
        self.result = Some(ResultTable::from(result));
        self.expected = Some(reference);
    }

    /// Submission to end, in ms, if it ended.
    pub fn latency_ms(&self) -> Option<u64> {
        self.finished_ms
            .map(|f| f.saturating_sub(self.submitted_ms))
    }
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum UploadOutcome {
    /// Every committee node stored its shares and acknowledged.
    Stored,
    /// The upload was refused (a dealer caught handing out inconsistent shares).
    Rejected {
        /// Why.
        reason: String,
    },
    /// It failed for another reason.
    Failed {
        /// Why.
        reason: String,
    },
}

/// One upload of the set-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The dataset.
    pub dataset: String,
    /// Rows uploaded.
    pub rows: usize,
    /// What the scenario expects.
    pub expect: UploadExpect,
    /// How it ended.
    pub outcome: UploadOutcome,
    /// How long it took, in ms.
    pub duration_ms: Option<u64>,
}

/// What kind of fault event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A node down (from its crash to its restart).
    Crash,
    /// Degraded links (delay, jitter, loss).
    Link,
    /// A partition (from the split to the heal).
    Partition,
    /// A dealer handing out inconsistent shares.
    ByzantineDealer,
    /// A node sending corrupted messages.
    CorruptMessages,
    /// Misbehaviour detected (by the batch check, an output check, a protocol check).
    Detected,
    /// Anything else worth a mark on the timeline.
    Other,
}

impl FaultKind {
    /// The kind in words (for the report's table).
    pub fn describe(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Link => "link",
            FaultKind::Partition => "partition",
            FaultKind::ByzantineDealer => "byzantine dealer",
            FaultKind::CorruptMessages => "corrupt messages",
            FaultKind::Detected => "detected",
            FaultKind::Other => "event",
        }
    }
}

/// Something that went wrong during the run, as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// When it started (ms since set-up; negative times are not used: set-up events are at 0).
    pub at_ms: u64,
    /// When it ended, for faults that last (`None`: until the end of the run, or an instant
    /// for [`FaultKind::ByzantineDealer`], [`FaultKind::Detected`] and [`FaultKind::Other`]).
    pub until_ms: Option<u64>,
    /// What.
    pub kind: FaultKind,
    /// The nodes involved (for a partition: every node, see `groups`).
    pub nodes: Vec<usize>,
    /// For a partition, its groups.
    pub groups: Vec<Vec<usize>>,
    /// The job it concerns, if any (a detection during a job is marked on the job's lane).
    pub job: Option<String>,
    /// What happened, in words.
    pub note: String,
}

impl FaultEvent {
    /// The scenario's fault schedule as events (what an engine records when every fault happens
    /// exactly as planned). Byzantine dealers act during set-up, at 0.
    pub fn planned(s: &Scenario) -> Vec<FaultEvent> {
        s.faults
            .iter()
            .map(|f| {
                let note = describe_fault(f);
                match f {
                    Fault::Crash {
                        node,
                        at,
                        restart_at,
                    } => FaultEvent {
                        at_ms: at.0,
                        until_ms: restart_at.map(|r| r.0),
                        kind: FaultKind::Crash,
                        nodes: vec![*node],
                        groups: Vec::new(),
                        job: None,
                        note,
                    },
                    Fault::Link {
                        from, at, until, ..
                    } => FaultEvent {
                        at_ms: at.0,
                        until_ms: until.map(|u| u.0),
                        kind: FaultKind::Link,
                        nodes: from.clone(),
                        groups: Vec::new(),
                        job: None,
                        note,
                    },
                    Fault::Partition { groups, at, until } => FaultEvent {
                        at_ms: at.0,
                        until_ms: until.map(|u| u.0),
                        kind: FaultKind::Partition,
                        nodes: (0..s.network.nodes).collect(),
                        groups: groups.clone(),
                        job: None,
                        note,
                    },
                    Fault::ByzantineDealer { nodes, .. } => FaultEvent {
                        at_ms: 0,
                        until_ms: None,
                        kind: FaultKind::ByzantineDealer,
                        nodes: nodes.clone(),
                        groups: Vec::new(),
                        job: None,
                        note,
                    },
                    Fault::CorruptMessages {
                        node, at, until, ..
                    } => FaultEvent {
                        at_ms: at.0,
                        until_ms: until.map(|u| u.0),
                        kind: FaultKind::CorruptMessages,
                        nodes: vec![*node],
                        groups: Vec::new(),
                        job: None,
                        note,
                    },
                }
            })
            .collect()
    }
}

/// The verdict on one expectation of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// What it is about: `job <name>` or `upload <dataset>`.
    pub subject: String,
    /// What the scenario expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// Whether the expectation is met.
    pub pass: bool,
}

/// The verdict on a job's expectation.
pub fn judge_job(job: &JobRecord) -> Verdict {
    let subject = format!("job {}", job.name);
    let expected = match (job.expect, job.culprit) {
        (JobExpect::Detected, Some(c)) => format!("detected, naming node {c}"),
        (e, _) => e.as_str().to_string(),
    };
    let completed = |job: &JobRecord| match &job.comparison {
        Some(c) => (c.agree, format!("completed; {}", c.summary())),
        None => (
            false,
            "completed, but no plaintext comparison was made".into(),
        ),
    };
    let (pass, actual) = match (&job.outcome, job.expect) {
        (JobOutcome::Completed, JobExpect::Agree) => completed(job),
        (JobOutcome::Completed, JobExpect::Detected) => {
            let (agree, text) = completed(job);
            (
                false,
                if agree {
                    format!("{text}: the misbehaviour went unnoticed")
                } else {
                    format!("{text}: a wrong result was released undetected")
                },
            )
        }
        (JobOutcome::Refused { .. }, JobExpect::Refused)
        | (JobOutcome::Invalid { .. }, JobExpect::Invalid)
        | (JobOutcome::Failed { .. } | JobOutcome::Detected { .. }, JobExpect::Fail) => {
            (true, job.outcome.describe())
        }
        (JobOutcome::Detected { culprits, .. }, JobExpect::Detected) => match job.culprit {
            Some(c) if !culprits.contains(&c) => (
                false,
                format!("{}; node {c} was not named", job.outcome.describe()),
            ),
            _ => (true, job.outcome.describe()),
        },
        (outcome, _) => (false, outcome.describe()),
    };
    Verdict {
        subject,
        expected,
        actual,
        pass,
    }
}

/// The verdict on an upload's expectation.
pub fn judge_upload(upload: &UploadRecord) -> Verdict {
    let expected = match upload.expect {
        UploadExpect::Stored => "stored",
        UploadExpect::Rejected => "rejected",
    };
    let (pass, actual) = match (&upload.outcome, upload.expect) {
        (UploadOutcome::Stored, UploadExpect::Stored) => (true, "stored".to_string()),
        (UploadOutcome::Rejected { reason }, UploadExpect::Rejected) => {
            (true, format!("rejected: {reason}"))
        }
        (UploadOutcome::Stored, UploadExpect::Rejected) => (
            false,
            "stored: the inconsistent shares were not caught".to_string(),
        ),
        (UploadOutcome::Rejected { reason }, _) => (false, format!("rejected: {reason}")),
        (UploadOutcome::Failed { reason }, _) => (false, format!("failed: {reason}")),
    };
    Verdict {
        subject: format!("upload {}", upload.dataset),
        expected: expected.to_string(),
        actual,
        pass,
    }
}

/// Everything a run recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The scenario.
    pub scenario: ScenarioSummary,
    /// How long the set-up took (nodes, uploads, grants), in ms.
    pub setup_ms: u64,
    /// How long the run took after set-up, in ms.
    pub duration_ms: u64,
    /// The uploads.
    pub uploads: Vec<UploadRecord>,
    /// The jobs, in submission order.
    pub jobs: Vec<JobRecord>,
    /// The fault events, as they happened.
    pub faults: Vec<FaultEvent>,
    /// The verdicts ([`RunRecord::judge`]).
    pub verdicts: Vec<Verdict>,
    /// The scale-mode section, in Markdown, when the run has one.
    pub scale: Option<String>,
}

impl RunRecord {
    /// An empty record for `scenario`.
    pub fn new(scenario: &Scenario) -> RunRecord {
        RunRecord {
            scenario: ScenarioSummary::of(scenario),
            setup_ms: 0,
            duration_ms: 0,
            uploads: Vec::new(),
            jobs: Vec::new(),
            faults: Vec::new(),
            verdicts: Vec::new(),
            scale: None,
        }
    }

    /// Fills [`RunRecord::verdicts`]: one per upload, then one per job.
    pub fn judge(&mut self) {
        self.verdicts = self
            .uploads
            .iter()
            .map(judge_upload)
            .chain(self.jobs.iter().map(judge_job))
            .collect();
    }

    /// Whether every expectation is met (false when there are no verdicts yet).
    pub fn passed(&self) -> bool {
        !self.verdicts.is_empty() && self.verdicts.iter().all(|v| v.pass)
    }

    /// The end of the timeline: the run's duration, or the last event if later.
    fn end_ms(&self) -> u64 {
        let jobs = self
            .jobs
            .iter()
            .map(|j| j.finished_ms.unwrap_or(j.submitted_ms));
        let faults = self.faults.iter().map(|f| f.until_ms.unwrap_or(f.at_ms));
        jobs.chain(faults)
            .chain(std::iter::once(self.duration_ms))
            .max()
            .unwrap_or(0)
    }
}

/// The files of a report folder.
pub const REPORT_FILES: [&str; 6] = [
    "report.md",
    "run.json",
    "latency.svg",
    "bytes.svg",
    "rounds.svg",
    "timeline.svg",
];

/// Writes the report folder `dir` (created if needed): `report.md`, `run.json`, and the charts
/// `latency.svg`, `bytes.svg`, `rounds.svg`, `timeline.svg`. Returns the paths written.
pub fn write_report(dir: &Path, run: &RunRecord) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path, e: std::io::Error| ReportError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let json = serde_json::to_string_pretty(run).map_err(|e| ReportError::Json(e.to_string()))?;
    let files = [
        ("report.md", markdown::report(run)),
        ("run.json", json),
        ("latency.svg", latency_chart(run)),
        ("bytes.svg", bytes_chart(run)),
        ("rounds.svg", rounds_chart(run)),
        ("timeline.svg", timeline_chart(run)),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn verdict_colour(run: &RunRecord, job: &JobRecord) -> &'static str {
    match run
        .verdicts
        .iter()
        .find(|v| v.subject == format!("job {}", job.name))
    {
        Some(v) if v.pass => svg::PASS,
        Some(_) => svg::FAIL,
        None => svg::NEUTRAL,
    }
}

const VERDICT_LEGEND: [(&str, &str); 2] = [
    ("expectation met", svg::PASS),
    ("expectation not met", svg::FAIL),
];

fn verdict_legend() -> Vec<(String, String)> {
    VERDICT_LEGEND
        .iter()
        .map(|(l, c)| (l.to_string(), c.to_string()))
        .collect()
}

/// Latency per job: one bar per job, coloured by its verdict; jobs that did not end say why.
pub fn latency_chart(run: &RunRecord) -> String {
    let bars: Vec<svg::Bar> = run
        .jobs
        .iter()
        .map(|j| svg::Bar {
            label: j.name.clone(),
            segments: vec![(
                j.latency_ms().unwrap_or(0) as f64,
                verdict_colour(run, j).to_string(),
                format!("{}: {}", j.name, j.outcome.describe()),
            )],
            note: match (&j.outcome, j.latency_ms()) {
                (_, None) => Some(j.outcome.status().to_string()),
                (JobOutcome::Completed, _) => None,
                (o, Some(ms)) => Some(format!(
                    "{} {}",
                    o.status(),
                    svg::format_value(ms as f64, svg::Unit::Seconds)
                )),
            },
        })
        .collect();
    svg::bar_chart(
        "Latency per job (submission to end)",
        "seconds",
        svg::Unit::Seconds,
        &bars,
        &verdict_legend(),
    )
}

/// Rounds per job.
pub fn rounds_chart(run: &RunRecord) -> String {
    let bars: Vec<svg::Bar> = run
        .jobs
        .iter()
        .map(|j| svg::Bar {
            label: j.name.clone(),
            segments: vec![(
                j.rounds.unwrap_or(0) as f64,
                verdict_colour(run, j).to_string(),
                format!("{}: {} rounds", j.name, j.rounds.unwrap_or(0)),
            )],
            note: j.rounds.is_none().then(|| "n/a".to_string()),
        })
        .collect();
    svg::bar_chart(
        "MPC rounds per job",
        "rounds",
        svg::Unit::Count,
        &bars,
        &verdict_legend(),
    )
}

/// Bytes sent per node, stacked by job.
pub fn bytes_chart(run: &RunRecord) -> String {
    let nodes = run.scenario.nodes.max(
        run.jobs
            .iter()
            .map(|j| j.bytes_per_node.len())
            .max()
            .unwrap_or(0),
    );
    let colour = |i: usize| svg::PALETTE[i % svg::PALETTE.len()].to_string();
    let bars: Vec<svg::Bar> = (0..nodes)
        .map(|n| svg::Bar {
            label: format!("node {n}"),
            segments: run
                .jobs
                .iter()
                .enumerate()
                .map(|(i, j)| {
                    let b = j.bytes_per_node.get(n).copied().unwrap_or(0);
                    (
                        b as f64,
                        colour(i),
                        format!(
                            "node {n}, {}: {}",
                            j.name,
                            svg::format_value(b as f64, svg::Unit::Bytes)
                        ),
                    )
                })
                .collect(),
            note: None,
        })
        .collect();
    let legend: Vec<(String, String)> = run
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.name.clone(), colour(i)))
        .collect();
    svg::bar_chart(
        "Bytes sent per node (stacked by job)",
        "bytes sent",
        svg::Unit::Bytes,
        &bars,
        &legend,
    )
}

// Distinct from each other and from the verdict colours (green, vermilion).
const CRASH_COLOUR: &str = "#444444";
const LINK_COLOUR: &str = "#F0E442";
const CORRUPT_COLOUR: &str = "#E69F00";
const PARTITION_COLOURS: [&str; 4] = ["#56B4E9", "#0072B2", "#CC79A7", "#999999"];
const MARK_COLOUR: &str = "#7B3294";
const DETECTED_COLOUR: &str = "#000000";

/// The fault timeline: one lane per job (submission to end, coloured by verdict), then one lane
/// per node with its crashes, degraded links, corrupt periods and partition side.
pub fn timeline_chart(run: &RunRecord) -> String {
    let end = run.end_ms() as f64;
    let mut lanes: Vec<svg::Lane> = run
        .jobs
        .iter()
        .map(|j| svg::Lane {
            name: format!("job {}", j.name),
            spans: vec![svg::Span {
                start_ms: j.submitted_ms as f64,
                end_ms: j.finished_ms.map_or(end, |f| f as f64),
                colour: verdict_colour(run, j).to_string(),
                label: format!("{}: {}", j.name, j.outcome.describe()),
            }],
            marks: Vec::new(),
        })
        .collect();
    let first_node_lane = lanes.len();
    for n in 0..run.scenario.nodes {
        lanes.push(svg::Lane {
            name: format!("node {n}"),
            spans: Vec::new(),
            marks: Vec::new(),
        });
    }
    let mut other_marks = Vec::new();
    for f in &run.faults {
        let until = f.until_ms.map_or(end, |u| u as f64);
        for n in &f.nodes {
            let Some(lane) = lanes.get_mut(first_node_lane + n) else {
                continue;
            };
            let span = |colour: &str, label: String| svg::Span {
                start_ms: f.at_ms as f64,
                end_ms: until,
                colour: colour.to_string(),
                label,
            };
            match f.kind {
                FaultKind::Crash => lane
                    .spans
                    .push(span(CRASH_COLOUR, format!("down: {}", f.note))),
                FaultKind::Link => lane.spans.push(span(LINK_COLOUR, f.note.clone())),
                FaultKind::CorruptMessages => {
                    lane.spans.push(span(CORRUPT_COLOUR, f.note.clone()));
                }
                FaultKind::Partition => {
                    // Colour by side: a group's index, or the last colour for the unlisted rest.
                    let side = f
                        .groups
                        .iter()
                        .position(|g| g.contains(n))
                        .unwrap_or(f.groups.len());
                    let colour = PARTITION_COLOURS[side.min(PARTITION_COLOURS.len() - 1)];
                    lane.spans
                        .push(span(colour, format!("side {}: {}", side + 1, f.note)));
                }
                FaultKind::ByzantineDealer => {
                    lane.marks
                        .push((f.at_ms as f64, MARK_COLOUR.to_string(), f.note.clone()))
                }
                FaultKind::Detected | FaultKind::Other => {
                    let colour = if f.kind == FaultKind::Detected {
                        DETECTED_COLOUR
                    } else {
                        MARK_COLOUR
                    };
                    lane.marks
                        .push((f.at_ms as f64, colour.to_string(), f.note.clone()));
                }
            }
        }
        // Marks that concern a job go on its lane; marks with neither job nor node on a lane
        // of their own.
        let instant = matches!(
            f.kind,
            FaultKind::ByzantineDealer | FaultKind::Detected | FaultKind::Other
        );
        if instant {
            let colour = if f.kind == FaultKind::Detected {
                DETECTED_COLOUR
            } else {
                MARK_COLOUR
            };
            let mark = (f.at_ms as f64, colour.to_string(), f.note.clone());
            if let Some(job) = &f.job
                && let Some(i) = run.jobs.iter().position(|j| &j.name == job)
                && let Some(lane) = lanes.get_mut(i)
            {
                lane.marks.push(mark);
            } else if f.nodes.is_empty() {
                other_marks.push(mark);
            }
        }
    }
    if !other_marks.is_empty() {
        lanes.push(svg::Lane {
            name: "other events".into(),
            spans: Vec::new(),
            marks: other_marks,
        });
    }
    // The legend lists what the chart shows.
    let mut legend = verdict_legend();
    let has = |k: FaultKind| run.faults.iter().any(|f| f.kind == k);
    let sides = run
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::Partition)
        .map(|f| {
            let listed: usize = f.groups.iter().map(Vec::len).sum();
            f.groups.len() + usize::from(listed < run.scenario.nodes)
        })
        .max()
        .unwrap_or(0);
    let mut add = |present: bool, label: String, colour: &str| {
        if present {
            legend.push((label, colour.to_string()));
        }
    };
    add(has(FaultKind::Crash), "node down".into(), CRASH_COLOUR);
    add(has(FaultKind::Link), "degraded links".into(), LINK_COLOUR);
    add(
        has(FaultKind::CorruptMessages),
        "corrupt messages".into(),
        CORRUPT_COLOUR,
    );
    for (side, colour) in PARTITION_COLOURS.iter().enumerate().take(sides) {
        add(true, format!("partition side {}", side + 1), colour);
    }
    add(
        has(FaultKind::ByzantineDealer) || has(FaultKind::Other),
        "byzantine dealer / event".into(),
        MARK_COLOUR,
    );
    add(has(FaultKind::Detected), "detected".into(), DETECTED_COLOUR);
    svg::timeline("Jobs and faults over time", &lanes, end, &legend)
}
