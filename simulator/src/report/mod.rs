//! The report of a simulator run: what the engine records ([`RunRecord`]: uploads, jobs with
//! their results and costs, fault events), the verdict on every expectation of the scenario
//! ([`RunRecord::judge`]), and the report folder ([`write_report`]): `report.md`, `run.json` and four SVG
//! charts (latency per job, bytes sent per node, rounds per job, fault timeline).
//!
//! The engine fills a [`RunRecord`] as the run goes: [`RunRecord::new`] from the scenario,
//! [`UploadRecord`]s, [`JobRecord`]s (with the MPC result, [`JobRecord::compare`] adds the
//! plaintext reference and the comparison), [`FaultEvent`]s as faults actually happen. Then
//! [`RunRecord::judge`] gives the verdicts and [`RunRecord::passed`] the exit status.

mod charts;
mod judge;
mod markdown;
mod record;
mod svg;

use std::path::{Path, PathBuf};

pub use charts::{bytes_chart, latency_chart, rounds_chart, timeline_chart};
pub use judge::{ATTACK_EXPECTATION, Verdict, judge_attack, judge_job, judge_upload};
pub use record::{
    AttackCheck, AttackOutcome, AttackRecord, DatasetSummary, FaultEvent, FaultKind, JobOutcome,
    JobRecord, RunRecord, ScenarioSummary, StakeRecord, UploadOutcome, UploadRecord,
    describe_fault,
};

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
