//! What the engine records of a run: the scenario's summary, uploads, jobs (with the MPC result,
//! the plaintext reference and their comparison), fault events, and the [`RunRecord`] holding them.

use serde::{Deserialize, Serialize};
use sharenet_query::QueryResult;

use super::judge::Verdict;
use crate::plaintext::{Comparison, Reference, agrees};
use crate::scenario::{Fault, JobExpect, Scenario, Source, UploadExpect};

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
                crate::scenario::CorruptTarget::Multiplication => "multiplication-share",
                crate::scenario::CorruptTarget::King => "king's opened-product",
                crate::scenario::CorruptTarget::Opening => "opening-share",
                crate::scenario::CorruptTarget::RandomBits => "random-deal",
            },
            until(u)
        ),
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
    pub result: Option<QueryResult>,
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
        self.result = Some(result.clone());
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

/// How an attack ended, as the engine saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AttackOutcome {
    /// The network refused every step that would have given the attacker something.
    Refused {
        /// What refused it, in words (contract errors, members' refusals).
        reason: String,
    },
    /// A step the defence should have refused went through.
    Succeeded {
        /// What the attacker got.
        what: String,
    },
    /// The attack could not be carried out as planned (its set-up failed, a timeout), so it
    /// shows nothing.
    NotCarriedOut {
        /// Why.
        reason: String,
    },
}

impl AttackOutcome {
    /// The status with its reason.
    pub fn describe(&self) -> String {
        match self {
            AttackOutcome::Refused { reason } => format!("refused: {reason}"),
            AttackOutcome::Succeeded { what } => format!("SUCCEEDED: {what}"),
            AttackOutcome::NotCarriedOut { reason } => format!("not carried out: {reason}"),
        }
    }
}

/// Something the engine checked on chain or on the honest nodes after an attack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttackCheck {
    /// What was checked.
    pub what: String,
    /// What it must be.
    pub expected: String,
    /// What it was.
    pub actual: String,
    /// Whether they match.
    pub holds: bool,
}

/// An honest node's stake on chain when set-up ended and after an attack (wei, as decimal
/// text: stakes exceed the integers JSON readers keep exact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakeRecord {
    /// The node.
    pub node: usize,
    /// Its chain account (hex).
    pub account: String,
    /// Its stake when set-up ended.
    pub before: String,
    /// Its stake after the attack.
    pub after: String,
    /// Times it was slashed when set-up ended.
    pub slashes_before: u32,
    /// Times it was slashed after the attack.
    pub slashes_after: u32,
}

impl StakeRecord {
    /// Whether the stake and the slash count are unchanged.
    pub fn unchanged(&self) -> bool {
        self.before == self.after && self.slashes_before == self.slashes_after
    }
}

/// One attack of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackRecord {
    /// The kind, as in the scenario (`squatter`, `framing_owner`, `stale_requester`).
    pub kind: String,
    /// The attacker.
    pub by: String,
    /// The attack as planned, in words.
    pub plan: String,
    /// When it started (ms of the scenario clock; 0 for set-up).
    pub at_ms: u64,
    /// When it ended.
    pub finished_ms: Option<u64>,
    /// How it ended.
    pub outcome: AttackOutcome,
    /// What happened, step by step.
    pub steps: Vec<String>,
    /// What was checked afterwards (chain state, the honest nodes' stores).
    pub checks: Vec<AttackCheck>,
    /// Every honest node's stake before and after (nodes that are nobody's puppet).
    pub stakes: Vec<StakeRecord>,
    /// Ids and accounts involved, by name (hex): for reading the run, and for checking it
    /// independently (`owner`, `salt`, `dataset`, `squatted`, `job`...).
    pub facts: std::collections::BTreeMap<String, String>,
}

impl AttackRecord {
    /// A record of `attack` not carried out yet.
    pub fn new(attack: &crate::scenario::Attack) -> AttackRecord {
        AttackRecord {
            kind: attack.kind().to_string(),
            by: attack.by().to_string(),
            plan: attack.describe(),
            at_ms: attack.at().map_or(0, |a| a.0),
            finished_ms: None,
            outcome: AttackOutcome::NotCarriedOut {
                reason: "not run".into(),
            },
            steps: Vec::new(),
            checks: Vec::new(),
            stakes: Vec::new(),
            facts: std::collections::BTreeMap::new(),
        }
    }

    /// Adds a check.
    pub fn check(&mut self, what: &str, expected: impl ToString, actual: impl ToString) {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        self.checks.push(AttackCheck {
            what: what.to_string(),
            holds: expected == actual,
            expected,
            actual,
        });
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
    /// The attacks, in scenario order.
    #[serde(default)]
    pub attacks: Vec<AttackRecord>,
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
            attacks: Vec::new(),
            verdicts: Vec::new(),
            scale: None,
        }
    }

    /// The end of the timeline: the run's duration, or the last event if later.
    pub(super) fn end_ms(&self) -> u64 {
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
