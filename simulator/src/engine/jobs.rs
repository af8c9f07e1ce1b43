//! One job of the schedule: submitted by its researcher through the requester SDK at its time,
//! waited for at most its timeout, its outcome classified, its result compared with the
//! plaintext reference, its cost recorded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use sharenet_node::jobs::requester::{Progress, QueryOutcome, QueryRequest, run_query};
use sharenet_node::jobs::runner::MAX_ATTEMPTS;
use sharenet_node::jobs::{JobError, session_id};
use sharenet_query::{Catalog, CompileOptions, compile, compile_front_end, parse};

use super::network::{Clock, SimNetwork};
use super::setup::{self, Setup};
use super::{Event, ProgressFn};
use crate::plaintext::Reference;
use crate::report::{FaultEvent, FaultKind, JobOutcome, JobRecord};
use crate::scenario::{Job, Scenario};

/// The fee every job pays (wei).
const FEE: u64 = 1_000_000;
/// The job deadline on chain (the fee is refundable after it and the reveal window).
const DEADLINE: Duration = Duration::from_secs(3600);
/// How long to wait for the committee's attestations once the result is in.
const ATTEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a job needs from the run.
pub(super) struct Context {
    pub scenario: Arc<Scenario>,
    pub net: Arc<SimNetwork>,
    pub setup: Arc<Setup>,
    pub catalog: Arc<Catalog>,
    pub references: Arc<BTreeMap<String, Reference>>,
    pub clock: Clock,
    pub progress: Option<ProgressFn>,
    /// Held by the attack running (they run one at a time).
    pub attack_lock: tokio::sync::Mutex<()>,
    /// Held shared by every job while it runs, and alone by a step that moves the chain's clock
    /// far ahead (a stale requester waiting out a deadline and the reveal window): a jump of
    /// more than a prepared slot's lifetime under a running job would expire its slots on the
    /// members, so the jump waits for the running jobs and the jobs after it wait for the jump.
    pub clock_jump: tokio::sync::RwLock<()>,
}

impl Context {
    pub fn tell(&self, event: Event) {
        if let Some(p) = &self.progress {
            p(&event);
        }
    }
}

/// Errors a requester reports when the shares it received, or a member's messages, are
/// inconsistent: misbehaviour detected rather than a failure of the network.
const DETECTIONS: &[&str] = &[
    "are inconsistent (not on one polynomial",
    "sent an invalid field element",
    "sent a malformed message",
    "message where a",
    "was expected",
];

fn is_detection(reason: &str) -> bool {
    DETECTIONS.iter().any(|d| reason.contains(d))
}

/// Runs job `index` of the scenario at its time; returns its record and the fault events it
/// caused (detections).
pub(super) async fn run(ctx: Arc<Context>, index: usize) -> (JobRecord, Vec<FaultEvent>) {
    let job = &ctx.scenario.jobs[index];
    tokio::time::sleep_until(ctx.clock.instant(job.at.0)).await;
    let submitted = ctx.clock.elapsed_ms();
    ctx.tell(Event::JobStarted {
        name: job.name.clone(),
        at_ms: submitted,
    });
    let mut record = JobRecord::new(
        job,
        JobOutcome::Failed {
            reason: "not run".into(),
        },
    );
    record.submitted_ms = submitted;
    let timeout = job
        .timeout
        .unwrap_or(ctx.scenario.network.job_timeout)
        .duration();
    let ran = {
        let _running = ctx.clock_jump.read().await;
        submit(&ctx, job, timeout).await
    };
    record.finished_ms = Some(ctx.clock.elapsed_ms());
    record.bytes_per_node = match ran.job_id() {
        Some(id) => ctx.net.session_bytes(&sessions(&ctx, job, id)).await,
        None => vec![0; ctx.scenario.network.nodes],
    };
    let mut events = Vec::new();
    let mut detected_at = None;
    let reference = ctx.references.get(&job.name).cloned();
    match ran {
        Submitted::Ran(Ok(outcome), seen) => {
            record.rounds = rounds(&ctx, job, outcome.live);
            if let Some(reference) = reference {
                record.compare(&outcome.result, reference);
            }
            record.outcome = completed(&ctx, job, &outcome, &seen.steps);
            detected_at = seen.detected_at_ms;
        }
        Submitted::Ran(Err(e), seen) => {
            record.outcome = failed(&ctx, job, &e, &seen.steps);
            detected_at = seen.detected_at_ms;
        }
        Submitted::TimedOut(trace) => {
            detected_at = trace.detected_at_ms;
            let seen = trace.steps;
            let reason = format!(
                "no result within the job's timeout of {}",
                crate::scenario::Millis(timeout.as_millis() as u64),
            );
            record.outcome = match detected_attempts(&seen).first() {
                Some((attempt, r)) => JobOutcome::Detected {
                    culprits: named_parties(&ctx, job, r, &seen),
                    reason: format!("attempt {attempt} was aborted: {r}; then {reason}"),
                },
                None => JobOutcome::Failed {
                    reason: format!("{reason}{}", last_step(&seen)),
                },
            };
        }
        Submitted::Unsent(reason) => record.outcome = JobOutcome::Failed { reason },
    }
    if let JobOutcome::Detected { culprits, reason } = &record.outcome {
        events.push(FaultEvent {
            // When the requester aborted the attempt, or when the job ended.
            at_ms: detected_at.unwrap_or(record.finished_ms.unwrap_or(submitted)),
            until_ms: None,
            kind: FaultKind::Detected,
            nodes: culprits.clone(),
            groups: Vec::new(),
            job: Some(job.name.clone()),
            note: format!("job {}: {reason}", job.name),
        });
    }
    ctx.tell(Event::JobEnded {
        name: job.name.clone(),
        at_ms: record.finished_ms.unwrap_or(submitted),
        outcome: summary(&record),
    });
    (record, events)
}

/// The progress a requester reported, and when it first reported a detection.
struct Trace {
    steps: Vec<Progress>,
    detected_at_ms: Option<u64>,
}

/// What became of a submission.
enum Submitted {
    /// `run_query` returned, with the progress it reported.
    Ran(Result<QueryOutcome, JobError>, Trace),
    /// The job's timeout ran out first.
    TimedOut(Trace),
    /// The job could not be handed to the requester SDK at all.
    Unsent(String),
}

impl Submitted {
    /// The job's id on chain, if it was submitted.
    fn job_id(&self) -> Option<U256> {
        let seen = match self {
            Submitted::Ran(Ok(outcome), _) => return Some(outcome.job),
            Submitted::Ran(Err(_), seen) | Submitted::TimedOut(seen) => seen,
            Submitted::Unsent(_) => return None,
        };
        seen.steps.iter().find_map(|p| match p {
            Progress::Submitted { job } => Some(*job),
            _ => None,
        })
    }
}

/// Live sets enumerated at most to find a job's sessions; beyond, only the whole committee.
const MAX_LIVE_SETS: usize = 4096;

/// The MPC sessions job `id` may have run: one per attempt and live set (every subset of at
/// least 2t + 1 of the committee, or only the whole committee when there are too many).
fn sessions(ctx: &Context, job: &Job, id: U256) -> Vec<[u8; 32]> {
    let n = parse(&job.query)
        .ok()
        .and_then(|q| {
            q.from
                .first()
                .and_then(|first| ctx.setup.committees.get(&first.name))
        })
        .map_or(ctx.scenario.network.committee, Vec::len);
    let needed = 2 * ctx.scenario.network.threshold + 1;
    let mut live_sets: Vec<Vec<u16>> = Vec::new();
    if n <= 16 {
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize >= needed {
                live_sets.push((0..n as u16).filter(|i| mask & (1 << i) != 0).collect());
            }
            if live_sets.len() > MAX_LIVE_SETS {
                break;
            }
        }
    }
    if live_sets.is_empty() || live_sets.len() > MAX_LIVE_SETS {
        live_sets = vec![(0..n as u16).collect()];
    }
    (0..MAX_ATTEMPTS)
        .flat_map(|attempt| {
            live_sets
                .iter()
                .map(move |live| session_id(id, attempt, live))
        })
        .collect()
}

async fn submit(ctx: &Context, job: &Job, timeout: Duration) -> Submitted {
    let (ledger, client) = match setup::researcher(&ctx.scenario, &ctx.net, &job.by) {
        Ok(x) => x,
        Err(e) => return Submitted::Unsent(e.to_string()),
    };
    // The FROM names bound to the datasets' ids, in order. A name the engine does not know (or
    // a query that does not parse) is left out: the requester refuses the query itself.
    let datasets = parse(&job.query)
        .map(|q| {
            q.from
                .iter()
                .filter_map(|name| ctx.setup.ids.get(&name.name).copied())
                .collect()
        })
        .unwrap_or_default();
    // The requester hears from the members only when they send the outputs, at the end of the
    // computation: its wait for a message is the job's whole budget. The members answer its
    // readiness question at once, as their per-message timeout allows.
    let request = QueryRequest {
        text: job.query.clone(),
        datasets,
        grant: None,
        fee: U256::from(FEE),
        deadline: DEADLINE,
        ready_timeout: ctx.net.message_timeout.min(timeout),
        session_timeout: timeout,
        attest_timeout: ATTEST_TIMEOUT.min(timeout),
        security: ctx.net.security,
    };
    let mut seen = Trace {
        steps: Vec::new(),
        detected_at_ms: None,
    };
    let ran = tokio::time::timeout(
        timeout,
        run_query(&ledger, &client, &request, |p| {
            let step = match &p {
                Progress::Ready { live, committee } => {
                    Some(format!("{live} of {committee} members ready"))
                }
                Progress::Started { attempt } => Some(format!("attempt {attempt} started")),
                Progress::Retrying { attempt, reason } => {
                    Some(format!("attempt {attempt} failed: {reason}"))
                }
                _ => None,
            };
            let now = ctx.clock.elapsed_ms();
            if let Progress::Retrying { reason, .. } = &p
                && is_detection(reason)
                && seen.detected_at_ms.is_none()
            {
                seen.detected_at_ms = Some(now);
            }
            if let Some(step) = step {
                ctx.tell(Event::JobStep {
                    name: job.name.clone(),
                    at_ms: now,
                    step,
                });
            }
            seen.steps.push(p);
        }),
    )
    .await;
    match ran {
        Ok(result) => Submitted::Ran(result, seen),
        Err(_) => Submitted::TimedOut(seen),
    }
}

/// The last step the requester reported, for a timeout's reason.
fn last_step(seen: &[Progress]) -> String {
    let retried: Vec<String> = seen
        .iter()
        .filter_map(|p| match p {
            Progress::Retrying { attempt, reason } => Some(format!("attempt {attempt}: {reason}")),
            _ => None,
        })
        .collect();
    let last = match seen.last() {
        None => "nothing was submitted".to_string(),
        Some(Progress::Checked { .. }) => "checked, not yet submitted".into(),
        Some(Progress::Submitted { .. }) => "submitted, waiting for the members".into(),
        Some(Progress::Ready { live, committee }) => {
            format!("{live} of {committee} members ready")
        }
        Some(Progress::Started { attempt }) => format!("attempt {attempt} computing"),
        Some(Progress::Retrying { attempt, .. }) => format!("attempt {attempt} failed"),
        Some(Progress::Received) => "result received, waiting for the attestations".into(),
        Some(_) => "attested".into(),
    };
    if retried.is_empty() {
        format!(" ({last})")
    } else {
        format!(" ({last}; {})", retried.join("; "))
    }
}

/// The nodes of committee indices `members` of the job's datasets.
fn nodes_of(ctx: &Context, job: &Job, members: &[usize]) -> Vec<usize> {
    let committee: Option<&Vec<Address>> = parse(&job.query).ok().and_then(|q| {
        q.from
            .first()
            .and_then(|first| ctx.setup.committees.get(&first.name))
    });
    let Some(committee) = committee else {
        return Vec::new();
    };
    let mut nodes: Vec<usize> = members
        .iter()
        .filter_map(|m| committee.get(*m))
        .filter_map(|a| ctx.net.accounts.iter().position(|x| x == a))
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// The culprits a requester-side detection names: `party N` in the message is a position in the
/// session's live set, which is the committee itself when every member took part.
fn named_parties(ctx: &Context, job: &Job, reason: &str, seen: &[Progress]) -> Vec<usize> {
    let whole_committee = seen.iter().rev().find_map(|p| match p {
        Progress::Ready { live, committee } => Some(live == committee),
        _ => None,
    });
    if whole_committee != Some(true) {
        return Vec::new();
    }
    let parties: Vec<usize> = reason
        .match_indices("party ")
        .filter_map(|(i, m)| {
            let digits: String = reason[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect();
    nodes_of(ctx, job, &parties)
}

/// Attempts the requester abandoned because of a detection (the job was then retried).
fn detected_attempts(seen: &[Progress]) -> Vec<(u8, String)> {
    seen.iter()
        .filter_map(|p| match p {
            Progress::Retrying { attempt, reason } if is_detection(reason) => {
                Some((*attempt, reason.clone()))
            }
            _ => None,
        })
        .collect()
}

fn completed(ctx: &Context, job: &Job, outcome: &QueryOutcome, seen: &[Progress]) -> JobOutcome {
    if !outcome.dissent.is_empty() {
        let culprits = nodes_of(ctx, job, &outcome.dissent);
        return JobOutcome::Detected {
            reason: format!(
                "committee member(s) {:?} attested a different transcript digest than the quorum: they saw a different public transcript",
                outcome.dissent
            ),
            culprits,
        };
    }
    if !outcome.corrected.is_empty() {
        return JobOutcome::Detected {
            culprits: nodes_of(ctx, job, &outcome.corrected),
            reason: format!(
                "the requester's check found wrong output shares from committee member(s) {:?} and corrected them (the result is right)",
                outcome.corrected
            ),
        };
    }
    let detected = detected_attempts(seen);
    if let Some((attempt, reason)) = detected.first() {
        return JobOutcome::Detected {
            culprits: named_parties(ctx, job, reason, seen),
            reason: format!(
                "attempt {attempt} was aborted: {reason}; a later attempt completed the job"
            ),
        };
    }
    JobOutcome::Completed
}

fn failed(ctx: &Context, job: &Job, e: &JobError, seen: &[Progress]) -> JobOutcome {
    let reason = e.to_string();
    match e {
        JobError::Query(_) | JobError::Compile(_) => JobOutcome::Invalid { reason },
        JobError::UnknownDataset(_)
        | JobError::Retired(_)
        | JobError::NotOneCommittee { .. }
        | JobError::Refused(_)
        | JobError::NoGrant
        | JobError::Manifest { .. } => JobOutcome::Refused { reason },
        JobError::Mpc { reason: r, .. } if is_detection(r) => JobOutcome::Detected {
            culprits: named_parties(ctx, job, r, seen),
            reason,
        },
        _ => match detected_attempts(seen).first() {
            Some((attempt, r)) => JobOutcome::Detected {
                culprits: named_parties(ctx, job, r, seen),
                reason: format!("attempt {attempt} was aborted: {r}; then: {reason}"),
            },
            None => JobOutcome::Failed { reason },
        },
    }
}

/// The program's rounds with `live` computing members.
fn rounds(ctx: &Context, job: &Job, live: usize) -> Option<u64> {
    let typed = compile_front_end(&job.query, &ctx.catalog).ok()?;
    let rows = ctx.references.get(&job.name)?.rows_read;
    let min_cohort = ctx.scenario.min_cohort_for(&typed.datasets);
    let compiled = compile(
        &typed,
        rows,
        &CompileOptions {
            min_cohort,
            ..CompileOptions::default()
        },
    )
    .ok()?;
    Some(compiled.cost(live, ctx.scenario.network.threshold).rounds)
}

/// The job's end in a few words.
fn summary(record: &JobRecord) -> String {
    let secs = record
        .latency_ms()
        .map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    match (&record.outcome, &record.comparison) {
        (JobOutcome::Completed, Some(c)) if c.agree => {
            format!("completed{secs}; agrees with plaintext")
        }
        (JobOutcome::Completed, Some(c)) => {
            format!(
                "completed{secs}; DISAGREES with plaintext ({})",
                c.summary()
            )
        }
        (outcome, _) => format!("{}{secs}", outcome.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detections_are_consistency_failures_not_timeouts() {
        assert!(is_detection(
            "shares of value #3 are inconsistent (not on one polynomial of degree 1) and cannot be corrected with 5 shares"
        ));
        assert!(is_detection("party 2 sent an invalid field element: x"));
        assert!(!is_detection("no message from endpoint 2 within 15s"));
        assert!(!is_detection("the connection to endpoint 1 is closed"));
    }
}
