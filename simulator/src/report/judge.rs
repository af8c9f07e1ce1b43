//! The verdict on every expectation of a scenario: did each upload and job end as expected.

use serde::{Deserialize, Serialize};

use super::record::{JobOutcome, JobRecord, RunRecord, UploadOutcome, UploadRecord};
use crate::scenario::{JobExpect, UploadExpect};

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

impl RunRecord {
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
}
