//! Scenario files: what a simulator run sets up (nodes, pools, institutions and their datasets,
//! researchers and grants), what it does (jobs at given times), what goes wrong (faults), and
//! what is expected of each job and upload.
//!
//! A scenario is TOML, documented in `docs/simulator.md`, with examples in
//! `simulator/scenarios/`. [`Scenario::from_toml`] parses it (an unknown key or a wrong type is
//! refused with its line and column) and then checks that it makes sense ([`Scenario::validate`]:
//! honest majority, names that exist, owners that own, times in order, queries that compile...),
//! so a bad file is refused before anything starts, naming the key and the line.
//!
//! Times are offsets from the moment the network is set up (nodes running, datasets uploaded,
//! grants issued): written as milliseconds (`1500`) or with a unit (`"250ms"`, `"2s"`, `"1.5s"`,
//! `"1m"`).

mod locate;
mod raw;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sharenet_query::{Catalog, QueryKind, Schema};

pub use locate::Location;

use crate::generate::{self, GenerateError, Table};

/// The default scenario: 7 nodes (t = 3), two hospitals with synthetic patient tables in one
/// pool, a researcher with grants from both, and a query of each kind.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/default.toml");

/// The example scenarios shipped in `simulator/scenarios/`, by name (the file name without
/// `.toml`).
pub const EXAMPLES: &[(&str, &str)] = &[
    ("default", DEFAULT_SCENARIO),
    (
        "crash-restart",
        include_str!("../../scenarios/crash-restart.toml"),
    ),
    ("partition", include_str!("../../scenarios/partition.toml")),
    (
        "byzantine-dealer",
        include_str!("../../scenarios/byzantine-dealer.toml"),
    ),
    (
        "corrupt-messages",
        include_str!("../../scenarios/corrupt-messages.toml"),
    ),
    ("squatter", include_str!("../../scenarios/squatter.toml")),
    (
        "framing-owner",
        include_str!("../../scenarios/framing-owner.toml"),
    ),
    (
        "stale-requester",
        include_str!("../../scenarios/stale-requester.toml"),
    ),
    ("malicious", include_str!("../../scenarios/malicious.toml")),
];

/// Default minimum cohort size of an institution's datasets (as in the query language).
pub const DEFAULT_MIN_COHORT: u64 = 10;
/// Default time a job may take before it counts as failed.
pub const DEFAULT_JOB_TIMEOUT: Millis = Millis(120_000);
/// The most nodes a simulated network may have.
pub const MAX_NODES: usize = 64;

/// A time offset or duration in milliseconds. In a scenario file: an integer number of
/// milliseconds, or a string with a unit: `"250ms"`, `"2s"`, `"1.5s"`, `"1m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// As a [`std::time::Duration`].
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0;
        if ms == 0 {
            f.write_str("0s")
        } else if ms.is_multiple_of(60_000) {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else if ms > 1000 {
            write!(f, "{}s", ms as f64 / 1000.0)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// A whole scenario, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Its name (for the report).
    pub name: String,
    /// What it shows (for the report).
    pub description: String,
    /// Seed of everything random in the run that the scenario does not seed itself (node keys,
    /// protocol randomness, jitter and loss).
    pub seed: u64,
    /// Nodes and committee.
    pub network: Network,
    /// Pools (placement keys): datasets in one pool share a committee and can be queried together.
    pub pools: Vec<Pool>,
    /// Data owners.
    pub institutions: Vec<Institution>,
    /// Query authors.
    pub researchers: Vec<Researcher>,
    /// Tables uploaded during set-up.
    pub datasets: Vec<Dataset>,
    /// Delegations issued during set-up, before the grants: an owner lets another institution
    /// grant access to its datasets.
    pub delegations: Vec<Delegation>,
    /// Access grants issued during set-up.
    pub grants: Vec<Grant>,
    /// Queries submitted during the run.
    pub jobs: Vec<Job>,
    /// What goes wrong, and when.
    pub faults: Vec<Fault>,
    /// Adversaries acting against the network, each expected to be refused with nothing lost
    /// and nobody honest slashed.
    pub attacks: Vec<Attack>,
    /// The directory relative paths (CSV and schema files) are read from.
    pub base_dir: PathBuf,
}

/// `[network]`: how many nodes, the sharing threshold and the committee size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    /// Nodes started (numbered from 0).
    pub nodes: usize,
    /// Threshold t: any t nodes learn nothing; honest majority needs 2t + 1 ≤ committee.
    pub threshold: usize,
    /// Nodes per committee (default: all nodes).
    pub committee: usize,
    /// How long a job may take before it counts as failed (default 120 s).
    pub job_timeout: Millis,
    /// The jobs' security level, and the lowest the nodes accept (default `malicious`: the
    /// sessions run with 2t + 1 of the committee and verify every product).
    pub security: sharenet_mpc::protocol::Security,
}

/// `[[pools]]`: a placement key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// Its name.
    pub name: String,
}

/// `[[institutions]]`: a data owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Institution {
    /// Its name.
    pub name: String,
    /// Minimum cohort size of its datasets (default 10): a group with fewer matching rows
    /// releases nothing.
    pub min_cohort: u64,
}

/// `[[researchers]]`: a query author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Researcher {
    /// Its name.
    pub name: String,
}

/// `[[datasets]]`: a table an institution uploads into a pool during set-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// Its name, as queries write it.
    pub name: String,
    /// The institution that uploads it.
    pub owner: String,
    /// The pool it goes into.
    pub pool: String,
    /// Where its rows come from.
    pub source: Source,
    /// What should happen to the upload.
    pub expect: UploadExpect,
}

/// Where a dataset's rows come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `{ generator = "patients", rows = 2000, seed = 7 }`.
    Generated {
        /// Which generator.
        generator: Generator,
        /// How many rows.
        rows: usize,
        /// Its seed: the same seed gives the same rows.
        seed: u64,
    },
    /// `{ csv = "data/a.csv", schema = "data/a.schema.json" }` or with the schema inline.
    Csv {
        /// The CSV file (relative paths are relative to the scenario file).
        path: PathBuf,
        /// Its schema.
        schema: Schema,
    },
}

/// The synthetic table generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// Patients: age, sex, BMI, blood pressure, a diagnosis flag and a cost
    /// ([`generate::patients`]).
    Patients,
}

/// What should happen to an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadExpect {
    /// Every committee node stores its shares and acknowledges.
    Stored,
    /// The upload is refused (a dealer caught handing out inconsistent shares).
    Rejected,
}

/// `[[delegations]]`: an institution lets another one grant access to some of its datasets.
///
/// A query reads datasets under one grant, so a query over the union of two owners' datasets
/// needs one grant covering both: one owner delegates to the other, who then grants both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delegation {
    /// The institution that owns the datasets.
    pub owner: String,
    /// The institution that may grant access to them.
    pub delegate: String,
    /// The datasets (each owned by `owner`).
    pub datasets: Vec<String>,
}

/// `[[grants]]`: an institution lets a researcher query some datasets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The institution granting: it owns every dataset listed, or their owner delegated them
    /// to it ([`Delegation`]).
    pub granter: String,
    /// The researcher.
    pub grantee: String,
    /// The datasets.
    pub datasets: Vec<String>,
    /// The query kinds allowed.
    pub kinds: BTreeSet<QueryKind>,
    /// How many queries it allows.
    pub max_queries: u32,
    /// When it expires, counted from the start of the run (`None`: never).
    pub expires_in: Option<Millis>,
}

/// `[[jobs]]`: a query a researcher submits at a given time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Its name (for the report).
    pub name: String,
    /// The researcher submitting it.
    pub by: String,
    /// The query text.
    pub query: String,
    /// When it is submitted.
    pub at: Millis,
    /// What should happen.
    pub expect: JobExpect,
    /// With `expect = "detected"`: the node that must be identified as the cheater.
    pub culprit: Option<usize>,
    /// Relative tolerance of the statistics computed in secret floating point (default: the
    /// documented one, 1e-6; 1e-3 for LOGREG). Exact results (COUNT, SUM, MIN, MAX, HISTOGRAM)
    /// stay exact.
    pub tolerance: Option<f64>,
    /// How long it may take (default: `network.job_timeout`).
    pub timeout: Option<Millis>,
}

/// What should happen to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobExpect {
    /// It completes and its result agrees with the plaintext reference.
    Agree,
    /// The network refuses it before computing (no grant, kind not granted, grant expired or
    /// used up, datasets in different pools).
    Refused,
    /// The query itself is refused (a query-language error).
    Invalid,
    /// It is accepted but produces no result (aborted, timed out, committee unavailable).
    Fail,
    /// It aborts because misbehaviour was detected (and, with `culprit`, that node is named).
    Detected,
}

impl JobExpect {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            JobExpect::Agree => "agree",
            JobExpect::Refused => "refused",
            JobExpect::Invalid => "invalid",
            JobExpect::Fail => "fail",
            JobExpect::Detected => "detected",
        }
    }
}

/// Which messages a corrupt node tampers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorruptTarget {
    /// Its MPC protocol messages to the other committee nodes.
    Protocol,
    /// Its output shares to the researcher.
    Output,
    /// Only its degree-2t shares to a multiplication's king (`"multiplication"`).
    Multiplication,
    /// Only the opened products it broadcasts as a multiplication's king (`"king"`).
    King,
    /// Only its shares of values opened to all members (`"opening"`).
    Opening,
    /// Only the shares of the random values it deals: random bits, bounded integers
    /// (`"random_bits"`).
    RandomBits,
}

/// `[[faults]]`: something that goes wrong. Nodes are numbered from 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// `kind = "crash"`: the node stops at `at` (its process is gone; what it stored on disk
    /// stays) and, if `restart_at` is given, starts again then.
    Crash {
        /// The node.
        node: usize,
        /// When it stops.
        at: Millis,
        /// When it starts again (`None`: never).
        restart_at: Option<Millis>,
    },
    /// `kind = "link"`: messages from each node of `from` to each node of `to` are delayed by
    /// `delay_ms` plus a uniform jitter up to `jitter_ms`, and dropped with probability `loss`,
    /// from `at` until `until`.
    Link {
        /// Senders.
        from: Vec<usize>,
        /// Receivers.
        to: Vec<usize>,
        /// Extra delay, in milliseconds.
        delay_ms: u64,
        /// Uniform extra jitter up to this many milliseconds.
        jitter_ms: u64,
        /// Probability that a message is dropped, in [0, 1).
        loss: f64,
        /// From when.
        at: Millis,
        /// Until when (`None`: the end of the run).
        until: Option<Millis>,
    },
    /// `kind = "partition"`: from `at` until `until`, nodes in different groups cannot reach
    /// each other. Nodes in no group form one more group together.
    Partition {
        /// The groups (disjoint).
        groups: Vec<Vec<usize>>,
        /// From when.
        at: Millis,
        /// When it heals (`None`: never).
        until: Option<Millis>,
    },
    /// `kind = "byzantine_dealer"`: the owner of `dataset` deals inconsistent shares to `nodes`
    /// when uploading it.
    ByzantineDealer {
        /// The dataset whose upload is corrupted.
        dataset: String,
        /// The nodes that receive inconsistent shares (empty: the engine picks one committee
        /// member).
        nodes: Vec<usize>,
    },
    /// `kind = "corrupt_messages"`: from `at` until `until`, the node sends corrupted messages.
    CorruptMessages {
        /// The node.
        node: usize,
        /// Which messages.
        target: CorruptTarget,
        /// From when.
        at: Millis,
        /// Until when (`None`: the end of the run).
        until: Option<Millis>,
    },
}

impl Fault {
    /// The kind as written in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash { .. } => "crash",
            Fault::Link { .. } => "link",
            Fault::Partition { .. } => "partition",
            Fault::ByzantineDealer { .. } => "byzantine_dealer",
            Fault::CorruptMessages { .. } => "corrupt_messages",
        }
    }
}

/// What a stale requester does between preparing its job (`Hello`) and starting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleStep {
    /// It waits out the job's deadline (the chain's clock is moved past it) and claims the
    /// refund of its fee.
    Refund,
    /// The granter revokes the grant the job runs under.
    Revoke,
}

impl StaleStep {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            StaleStep::Refund => "refund",
            StaleStep::Revoke => "revoke",
        }
    }
}

/// `[[attacks]]`: an adversary acting against the network through its public interfaces (the
/// chain's contracts, the upload and job protocols), with keys of its own. Every attack is
/// expected to be refused, with nothing lost (honest datasets, their owners and committees
/// unchanged, honest queries still agreeing with plaintext) and nobody honest slashed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attack {
    /// `kind = "squatter"`: while `dataset` is uploaded, `by` (a front-runner that read the
    /// owner's pending registration, or a committee member that saw the batches) registers a
    /// copy of the registration first (same salt, committee, pool and schema), then tries to
    /// grant itself access to the owner's dataset and to run a job on its copy.
    Squatter {
        /// The squatter (an institution or a researcher).
        by: String,
        /// The dataset whose upload it front-runs.
        dataset: String,
    },
    /// `kind = "framing_owner"`: at `at`, `by` uploads a small table of its own to a committee
    /// made of its `puppets` (nodes whose chain keys it holds) and the honest node `victim`,
    /// registers it (a committee that is not the placement rule's), has the puppets
    /// acknowledge, and asks them to sign a slash of the victim.
    FramingOwner {
        /// The owner (an institution or a researcher).
        by: String,
        /// The nodes it controls.
        puppets: Vec<usize>,
        /// The honest node it tries to slash.
        victim: usize,
        /// The placement key its dataset names (default `"bait"`).
        pool: String,
        /// When.
        at: Millis,
    },
    /// `kind = "stale_requester"`: at `at`, researcher `by` submits `query` under its grant,
    /// prepares it with every member (`Hello`), then `then` happens (it takes its refund after
    /// the deadline, or the grant is revoked), and it sends `Start` to get the result anyway.
    StaleRequester {
        /// The researcher.
        by: String,
        /// The query (its `FROM` names the datasets).
        query: String,
        /// What happens between `Hello` and `Start`.
        then: StaleStep,
        /// When.
        at: Millis,
    },
}

impl Attack {
    /// The kind as written in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            Attack::Squatter { .. } => "squatter",
            Attack::FramingOwner { .. } => "framing_owner",
            Attack::StaleRequester { .. } => "stale_requester",
        }
    }

    /// The attacker.
    pub fn by(&self) -> &str {
        match self {
            Attack::Squatter { by, .. }
            | Attack::FramingOwner { by, .. }
            | Attack::StaleRequester { by, .. } => by,
        }
    }

    /// When it starts on the scenario clock (`None`: during set-up, with the upload it attacks).
    pub fn at(&self) -> Option<Millis> {
        match self {
            Attack::Squatter { .. } => None,
            Attack::FramingOwner { at, .. } | Attack::StaleRequester { at, .. } => Some(*at),
        }
    }

    /// The attack in words.
    pub fn describe(&self) -> String {
        match self {
            Attack::Squatter { by, dataset } => format!(
                "{by} front-runs the registration of {dataset}, then tries to grant itself access and to run a job on its copy"
            ),
            Attack::FramingOwner {
                by,
                puppets,
                victim,
                pool,
                at,
            } => format!(
                "at {at}, {by} registers a dataset in pool {pool} on its puppet nodes {} and node {victim}, and has the puppets slash node {victim}",
                puppets
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Attack::StaleRequester { by, then, at, .. } => match then {
                StaleStep::Refund => format!(
                    "at {at}, {by} prepares a job, waits out its deadline, takes the refund and starts it"
                ),
                StaleStep::Revoke => format!(
                    "at {at}, {by} prepares a job; its grant is revoked; it starts the job anyway"
                ),
            },
        }
    }
}

/// What a name in a scenario names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NameKind {
    /// A pool.
    Pool,
    /// An institution.
    Institution,
    /// A researcher.
    Researcher,
    /// A dataset.
    Dataset,
    /// A job.
    Job,
    /// One of the [`EXAMPLES`].
    Example,
    /// An account: an institution or a researcher.
    Account,
}

impl std::fmt::Display for NameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameKind::Pool => "pool",
            NameKind::Institution => "institution",
            NameKind::Researcher => "researcher",
            NameKind::Dataset => "dataset",
            NameKind::Job => "job",
            NameKind::Example => "example scenario",
            NameKind::Account => "institution or researcher",
        })
    }
}

/// Why a scenario is refused. Every variant says where: the key path and, for a file, the line
/// and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system reported.
        message: String,
    },
    /// Not valid TOML, an unknown key, a missing key, or a value of the wrong type.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// What is wrong (and, for an unknown key, the keys allowed there).
        message: String,
    },
    /// A threshold or committee size that breaks honest majority or does not fit the network.
    #[error("{at}: {message}")]
    Network {
        /// Where.
        at: Location,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A name that refers to nothing declared.
    #[error("{at}: unknown {what} `{name}`{}", suggestion_text(.suggestion, .known))]
    UnknownName {
        /// Where.
        at: Location,
        /// What kind of thing.
        what: NameKind,
        /// The name as written.
        name: String,
        /// The closest declared name, if one is close.
        suggestion: Option<String>,
        /// The declared names of that kind.
        known: Box<[String]>,
    },
    /// A name declared twice.
    #[error("{at}: {what} `{name}` is declared twice (first {first})")]
    Duplicate {
        /// Where the second one is.
        at: Location,
        /// What kind of thing.
        what: NameKind,
        /// The name.
        name: String,
        /// Where the first one is.
        first: Location,
    },
    /// A name that is not allowed (empty, or not an identifier where queries must write it).
    #[error("{at}: {message}")]
    BadName {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A grant on a dataset the granter neither owns nor was delegated.
    #[error(
        "{at}: `{granter}` cannot grant access to dataset `{dataset}`, which belongs to `{owner}`; `{owner}` can delegate it to `{granter}` with a [[delegations]] entry"
    )]
    NotOwner {
        /// Where.
        at: Location,
        /// The granter.
        granter: String,
        /// The dataset.
        dataset: String,
        /// Its owner.
        owner: String,
    },
    /// A value out of its range (a row count of 0, a loss of 2, a tolerance of -1...).
    #[error("{at}: {message}")]
    Value {
        /// Where.
        at: Location,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Times out of order (a restart before the crash, a partition healing before it starts,
    /// overlapping faults of one node).
    #[error("{at}: {message}")]
    Time {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A dataset source that cannot be read (CSV or schema file, generator settings).
    #[error("{at}: {message}")]
    Source {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A job's query does not parse or type-check.
    #[error("{at}: {message}")]
    Query {
        /// Where in the scenario file (the position of the error inside the query).
        at: Location,
        /// The query error.
        message: String,
        /// The query error rendered with the query line and a caret.
        rendered: String,
    },
    /// A fault that cannot happen as written.
    #[error("{at}: {message}")]
    Fault {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// An expectation that can never be met as the scenario is written.
    #[error("{at}: {message}")]
    Expectation {
        /// Where.
        at: Location,
        /// Why it cannot be met and what to change.
        message: String,
    },
}

fn suggestion_text(suggestion: &Option<String>, known: &[String]) -> String {
    match (suggestion, known.is_empty()) {
        (Some(s), _) => format!("; did you mean `{s}`?"),
        (None, true) => "; none is declared".to_string(),
        (None, false) if known.len() <= 8 => format!(
            "; declared: {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (None, false) => String::new(),
    }
}

impl ScenarioError {
    /// Where the error is (`None` for an unreadable file).
    pub fn location(&self) -> Option<&Location> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Syntax { at, .. }
            | ScenarioError::Network { at, .. }
            | ScenarioError::UnknownName { at, .. }
            | ScenarioError::Duplicate { at, .. }
            | ScenarioError::BadName { at, .. }
            | ScenarioError::NotOwner { at, .. }
            | ScenarioError::Value { at, .. }
            | ScenarioError::Time { at, .. }
            | ScenarioError::Source { at, .. }
            | ScenarioError::Query { at, .. }
            | ScenarioError::Fault { at, .. }
            | ScenarioError::Expectation { at, .. } => Some(at),
        }
    }

    /// The error with the offending line of `text` (the scenario file) and a caret under the
    /// column, like the query language's errors:
    ///
    /// ```text
    /// error: line 7, column 6, at `jobs[0].by`: unknown researcher `alcie`; did you mean `alice`?
    ///   |
    /// 7 | by = "alcie"
    ///   |      ^
    /// ```
    pub fn render(&self, text: &str) -> String {
        let mut out = format!("error: {self}");
        let position = self.location().and_then(|l| l.line.zip(l.column));
        if let Some((line, column)) = position
            && let Some(source) = text.lines().nth((line as usize).saturating_sub(1))
        {
            let number = line.to_string();
            let pad = " ".repeat(number.len());
            out.push_str(&format!(
                "\n{pad} |\n{number} | {source}\n{pad} | {}^",
                " ".repeat((column as usize).saturating_sub(1))
            ));
        }
        if let ScenarioError::Query { rendered, .. } = self {
            out.push_str("\nin the query:\n");
            out.push_str(rendered);
        }
        out
    }
}

impl Scenario {
    /// Parses and checks a scenario. Relative CSV and schema paths are read from `base_dir`.
    pub fn from_toml(text: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        let locator = locate::Locator::new(text);
        let raw: raw::RawScenario =
            toml::from_str(text).map_err(|e| raw::syntax_error(&e, &locator))?;
        let scenario = raw.resolve(base_dir, &locator)?;
        validate::validate(&scenario, &locator)?;
        Ok(scenario)
    }

    /// Reads, parses and checks a scenario file; its CSV and schema paths are relative to it.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Scenario::from_toml(&text, base)
    }

    /// The default scenario ([`DEFAULT_SCENARIO`], `simulator/scenarios/default.toml`).
    pub fn default_scenario() -> Result<Scenario, ScenarioError> {
        Scenario::example("default")
    }

    /// One of the [`EXAMPLES`] by name.
    pub fn example(name: &str) -> Result<Scenario, ScenarioError> {
        let text = EXAMPLES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| ScenarioError::UnknownName {
                at: Location {
                    path: String::new(),
                    line: None,
                    column: None,
                },
                what: NameKind::Example,
                name: name.to_string(),
                suggestion: validate::closest(name, EXAMPLES.iter().map(|(n, _)| *n)),
                known: EXAMPLES.iter().map(|(n, _)| n.to_string()).collect(),
            })?;
        Scenario::from_toml(text, Path::new("."))
    }

    /// Checks a scenario built or changed in code (positions are then unknown; the key paths
    /// still say where).
    pub fn validate(&self) -> Result<(), ScenarioError> {
        validate::validate(self, &locate::Locator::none())
    }

    /// The dataset named `name`.
    pub fn dataset(&self, name: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// Whether `granter` may grant access to dataset `dataset`: it owns it, or its owner
    /// delegated it.
    pub fn may_grant(&self, granter: &str, dataset: &str) -> bool {
        self.dataset(dataset).is_some_and(|d| {
            d.owner == granter
                || self.delegations.iter().any(|x| {
                    x.owner == d.owner
                        && x.delegate == granter
                        && x.datasets.iter().any(|n| n == dataset)
                })
        })
    }

    /// The institution named `name`.
    pub fn institution(&self, name: &str) -> Option<&Institution> {
        self.institutions.iter().find(|i| i.name == name)
    }

    /// The schema of every dataset, as queries see them.
    pub fn catalog(&self) -> Result<Catalog, ScenarioError> {
        let mut catalog = Catalog::new();
        for (i, d) in self.datasets.iter().enumerate() {
            let at = || Location {
                path: format!("datasets[{i}]"),
                line: None,
                column: None,
            };
            let schema = d.schema().map_err(|e| ScenarioError::Source {
                at: at(),
                message: e.to_string(),
            })?;
            catalog
                .insert(&d.name, schema)
                .map_err(|e| ScenarioError::BadName {
                    at: at(),
                    message: e.to_string(),
                })?;
        }
        Ok(catalog)
    }

    /// Every dataset's rows: generated from its seed, or read from its CSV file.
    pub fn tables(&self) -> Result<BTreeMap<String, Table>, ScenarioError> {
        self.datasets
            .iter()
            .map(|d| Ok((d.name.clone(), self.table(&d.name)?)))
            .collect()
    }

    /// The rows of dataset `name`.
    pub fn table(&self, name: &str) -> Result<Table, ScenarioError> {
        let Some((i, d)) = self
            .datasets
            .iter()
            .enumerate()
            .find(|(_, d)| d.name == name)
        else {
            return Err(ScenarioError::UnknownName {
                at: Location {
                    path: String::new(),
                    line: None,
                    column: None,
                },
                what: NameKind::Dataset,
                name: name.to_string(),
                suggestion: validate::closest(name, self.datasets.iter().map(|d| d.name.as_str())),
                known: self.datasets.iter().map(|d| d.name.clone()).collect(),
            });
        };
        d.rows(&self.base_dir)
            .map_err(|message| ScenarioError::Source {
                at: Location {
                    path: format!("datasets[{i}].source"),
                    line: None,
                    column: None,
                },
                message,
            })
    }

    /// The minimum cohort size a query over `datasets` runs with: the largest of their owners'.
    pub fn min_cohort_for<S: AsRef<str>>(&self, datasets: &[S]) -> u64 {
        datasets
            .iter()
            .filter_map(|d| self.dataset(d.as_ref()))
            .filter_map(|d| self.institution(&d.owner))
            .map(|i| i.min_cohort)
            .max()
            .unwrap_or(DEFAULT_MIN_COHORT)
    }

    /// The same scenario with every generated dataset cut to at most `rows` rows (for running
    /// the examples quickly in tests). CSV datasets are left as they are.
    pub fn with_max_rows(mut self, rows: usize) -> Scenario {
        for d in &mut self.datasets {
            if let Source::Generated { rows: r, .. } = &mut d.source {
                *r = (*r).min(rows.max(1));
            }
        }
        self
    }
}

impl Dataset {
    /// Its schema.
    pub fn schema(&self) -> Result<Schema, GenerateError> {
        match &self.source {
            Source::Generated {
                generator: Generator::Patients,
                ..
            } => generate::patients_schema(),
            Source::Csv { schema, .. } => Ok(schema.clone()),
        }
    }

    /// Its rows (CSV paths relative to `base_dir`). The error says what is wrong, with the CSV
    /// line and column; [`Scenario::table`] places it in the scenario.
    fn rows(&self, base_dir: &Path) -> Result<Table, String> {
        match &self.source {
            Source::Generated {
                generator: Generator::Patients,
                rows,
                seed,
            } => generate::patients(*rows, *seed).map_err(|e| e.to_string()),
            Source::Csv { path, schema } => {
                let full = base_dir.join(path);
                let text = std::fs::read_to_string(&full)
                    .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
                Table::from_csv(&text, schema.clone())
                    .map_err(|e| format!("{}, {e}", full.display()))
            }
        }
    }
}
