//! The verdict on every expectation of a scenario: did each upload and job end as expected.

use serde::{Deserialize, Serialize};

use super::record::{
    AttackOutcome, AttackRecord, JobOutcome, JobRecord, RunRecord, UploadOutcome, UploadRecord,
};
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

/// What every attack is expected to come to.
pub const ATTACK_EXPECTATION: &str = "refused; nothing lost; nobody honest slashed";

/// The verdict on an attack: it passes when the network refused it, every check of the chain
/// and of the honest nodes afterwards holds, and every honest node's stake and slash count are
/// what they were when set-up ended.
pub fn judge_attack(attack: &AttackRecord) -> Verdict {
    let mut problems = Vec::new();
    let refused = matches!(attack.outcome, AttackOutcome::Refused { .. });
    for c in attack.checks.iter().filter(|c| !c.holds) {
        problems.push(format!(
            "{}: expected {}, found {}",
            c.what, c.expected, c.actual
        ));
    }
    for s in attack.stakes.iter().filter(|s| !s.unchanged()) {
        problems.push(format!(
            "node {} was slashed: stake {} → {} wei, slashes {} → {}",
            s.node, s.before, s.after, s.slashes_before, s.slashes_after
        ));
    }
    if attack.stakes.is_empty() && refused {
        problems.push("the honest stakes were not read".into());
    }
    let mut actual = attack.outcome.describe();
    if problems.is_empty() {
        actual.push_str(&format!(
            "; {} checks hold; {} honest stakes unchanged",
            attack.checks.len(),
            attack.stakes.len()
        ));
    } else {
        actual.push_str(&format!("; {}", problems.join("; ")));
    }
    Verdict {
        subject: format!("attack {} by {}", attack.kind, attack.by),
        expected: ATTACK_EXPECTATION.to_string(),
        actual,
        pass: refused && problems.is_empty(),
    }
}

impl RunRecord {
    /// Fills [`RunRecord::verdicts`]: one per upload, then one per job, then one per attack.
    pub fn judge(&mut self) {
        self.verdicts = self
            .uploads
            .iter()
            .map(judge_upload)
            .chain(self.jobs.iter().map(judge_job))
            .chain(self.attacks.iter().map(judge_attack))
            .collect();
    }

    /// Whether every expectation is met (false when there are no verdicts yet).
    pub fn passed(&self) -> bool {
        !self.verdicts.is_empty() && self.verdicts.iter().all(|v| v.pass)
    }
}
