//! The scenario file as written: serde types that refuse unknown keys, and their resolution into
//! the checked public types. A fault or a source is written as one flat table whose allowed keys
//! depend on its `kind` (or on `generator` / `csv`); serde's tagged and untagged enums would
//! report such mistakes as "did not match any variant", so the flat form is read first and each
//! key is then checked against the kind here, with its own message and line.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use sharenet_mpc::protocol::Security;
use sharenet_query::{QueryKind, Schema};

use super::locate::{Location, Locator};
use super::{
    Attack, CorruptTarget, DEFAULT_JOB_TIMEOUT, DEFAULT_MIN_COHORT, Dataset, Delegation, Fault,
    Generator, Grant, Institution, Job, JobExpect, Millis, Network, Pool, Researcher, Scenario,
    ScenarioError, Source, StaleStep, UploadExpect,
};

/// Turns a TOML/serde error into a [`ScenarioError::Syntax`] naming the key and its line.
pub(super) fn syntax_error(e: &toml::de::Error, locator: &Locator<'_>) -> ScenarioError {
    let mut message = e.message().trim().to_string();
    let mut span = e.span();
    // "unknown field `x`, expected ..." may carry the span of the whole table (flattened or
    // buffered content): point at the key itself when it can be found in that table.
    if let Some(name) = message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split_once('`'))
        .map(|(n, _)| n.to_string())
    {
        if let Some(s) = &span
            && let Some(k) = locator.key_in(s.start..locator.text().len(), &name)
            && !(s.start <= k.start && k.end <= s.end && s.len() == name.len())
        {
            span = Some(k);
        }
        message = message.replacen("unknown field", "unknown key", 1);
        message = message.replace(", expected", "; the keys allowed here are");
        message = message.replace("one of ", "");
    } else if message.starts_with("missing field `") {
        message = message.replacen("missing field", "missing key", 1);
    }
    let (line, column, path) = match &span {
        Some(s) => {
            let (l, c) = locator.line_column(s.start);
            (Some(l), Some(c), locator.path_of(s.start))
        }
        None => (None, None, String::new()),
    };
    ScenarioError::Syntax {
        at: Location { path, line, column },
        message,
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Millis;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a time: milliseconds as an integer, or a string such as \"250ms\", \"2s\", \"1.5s\", \"1m\"",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
                u64::try_from(v)
                    .map(Millis)
                    .map_err(|_| E::custom(format!("a time cannot be negative ({v})")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
                Ok(Millis(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
                parse_millis(v).ok_or_else(|| {
                    E::custom(format!(
                        "{v:?} is not a time; write milliseconds (1500) or a number with a unit: \"250ms\", \"2s\", \"1.5s\", \"1m\""
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `"250ms"`, `"2s"`, `"1.5s"`, `"1m"` → milliseconds (whole milliseconds only).
pub(super) fn parse_millis(text: &str) -> Option<Millis> {
    let t = text.trim();
    let (number, factor) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        return None;
    };
    let number = number.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let ms = number.parse::<f64>().ok()? * factor;
    // Sub-millisecond times and absurd ones (over a year) are refused rather than rounded.
    (ms.fract() == 0.0 && (0.0..=3.2e10).contains(&ms)).then_some(Millis(ms as u64))
}

/// A set of nodes: one number, a list, or `"*"` (all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NodeSet {
    All,
    Some(Vec<usize>),
}

impl<'de> Deserialize<'de> for NodeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NodeSet, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NodeSet;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a node number, a list of node numbers, or \"*\" for every node")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeSet, E> {
                usize::try_from(v)
                    .map(|n| NodeSet::Some(vec![n]))
                    .map_err(|_| E::custom(format!("node numbers start at 0, not {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeSet, E> {
                usize::try_from(v)
                    .map(|n| NodeSet::Some(vec![n]))
                    .map_err(|_| E::custom("node number too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeSet, E> {
                if v == "*" {
                    Ok(NodeSet::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<NodeSet, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<usize>()? {
                    out.push(n);
                }
                Ok(NodeSet::Some(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    network: RawNetwork,
    #[serde(default)]
    pools: Vec<RawPool>,
    #[serde(default)]
    institutions: Vec<RawInstitution>,
    #[serde(default)]
    researchers: Vec<RawResearcher>,
    #[serde(default)]
    datasets: Vec<RawDataset>,
    #[serde(default)]
    delegations: Vec<RawDelegation>,
    #[serde(default)]
    grants: Vec<RawGrant>,
    #[serde(default)]
    jobs: Vec<RawJob>,
    #[serde(default)]
    faults: Vec<RawFault>,
    #[serde(default)]
    attacks: Vec<RawAttack>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    nodes: usize,
    threshold: usize,
    committee: Option<usize>,
    job_timeout: Option<Millis>,
    security: Option<Security>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstitution {
    name: String,
    min_cohort: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResearcher {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    name: String,
    owner: String,
    pool: String,
    source: RawSource,
    expect: Option<UploadExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    generator: Option<String>,
    rows: Option<usize>,
    seed: Option<u64>,
    csv: Option<String>,
    schema: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelegation {
    owner: String,
    delegate: String,
    datasets: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    granter: String,
    grantee: String,
    datasets: Vec<String>,
    kinds: Vec<QueryKind>,
    max_queries: Option<u32>,
    expires_in: Option<Millis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    by: String,
    query: String,
    at: Option<Millis>,
    expect: Option<JobExpect>,
    culprit: Option<usize>,
    tolerance: Option<f64>,
    timeout: Option<Millis>,
}

/// Every key any fault kind takes; [`RawFault::resolve`] checks which belong to its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    kind: String,
    node: Option<usize>,
    at: Option<Millis>,
    restart_at: Option<Millis>,
    until: Option<Millis>,
    from: Option<NodeSet>,
    to: Option<NodeSet>,
    delay_ms: Option<u64>,
    jitter_ms: Option<u64>,
    loss: Option<f64>,
    groups: Option<Vec<Vec<usize>>>,
    dataset: Option<String>,
    nodes: Option<Vec<usize>>,
    target: Option<CorruptTarget>,
}

/// The fault kinds, as written in `kind = ...`.
const FAULT_KINDS: &[&str] = &[
    "crash",
    "link",
    "partition",
    "byzantine_dealer",
    "corrupt_messages",
];

impl RawFault {
    /// The keys written, by name.
    fn written(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut put = |present: bool, key: &'static str| {
            if present {
                keys.push(key);
            }
        };
        put(self.node.is_some(), "node");
        put(self.at.is_some(), "at");
        put(self.restart_at.is_some(), "restart_at");
        put(self.until.is_some(), "until");
        put(self.from.is_some(), "from");
        put(self.to.is_some(), "to");
        put(self.delay_ms.is_some(), "delay_ms");
        put(self.jitter_ms.is_some(), "jitter_ms");
        put(self.loss.is_some(), "loss");
        put(self.groups.is_some(), "groups");
        put(self.dataset.is_some(), "dataset");
        put(self.nodes.is_some(), "nodes");
        put(self.target.is_some(), "target");
        keys
    }

    fn resolve(
        self,
        index: usize,
        nodes: usize,
        locator: &Locator<'_>,
    ) -> Result<Fault, ScenarioError> {
        let path = format!("faults[{index}]");
        let allowed: &[&str] = match self.kind.as_str() {
            "crash" => &["node", "at", "restart_at"],
            "link" => &["from", "to", "delay_ms", "jitter_ms", "loss", "at", "until"],
            "partition" => &["groups", "at", "until"],
            "byzantine_dealer" => &["dataset", "nodes"],
            "corrupt_messages" => &["node", "target", "at", "until"],
            other => {
                return Err(ScenarioError::Syntax {
                    at: locator.at(&format!("{path}.kind")),
                    message: format!(
                        "unknown fault kind {other:?}; the kinds are {}",
                        quoted(FAULT_KINDS)
                    ),
                });
            }
        };
        if let Some(extra) = self.written().into_iter().find(|k| !allowed.contains(k)) {
            return Err(ScenarioError::Syntax {
                at: locator.at(&format!("{path}.{extra}")),
                message: format!(
                    "key `{extra}` does not apply to a {:?} fault; its keys are `kind`, {}",
                    self.kind,
                    quoted(allowed)
                ),
            });
        }
        let missing = |key: &str| ScenarioError::Syntax {
            at: locator.at(&path),
            message: format!("a {:?} fault needs `{key}`", self.kind),
        };
        let set = |s: Option<NodeSet>, key: &str| -> Result<Vec<usize>, ScenarioError> {
            match s {
                // Capped: a network above the maximum is refused later, without allocating it.
                Some(NodeSet::All) => Ok((0..nodes.min(super::MAX_NODES)).collect()),
                Some(NodeSet::Some(v)) => Ok(v),
                None => Err(missing(key)),
            }
        };
        Ok(match self.kind.as_str() {
            "crash" => Fault::Crash {
                node: self.node.ok_or_else(|| missing("node"))?,
                at: self.at.ok_or_else(|| missing("at"))?,
                restart_at: self.restart_at,
            },
            "link" => {
                if self.delay_ms.is_none() && self.jitter_ms.is_none() && self.loss.is_none() {
                    return Err(ScenarioError::Syntax {
                        at: locator.at(&path),
                        message:
                            "a \"link\" fault needs at least one of `delay_ms`, `jitter_ms`, `loss`"
                                .into(),
                    });
                }
                Fault::Link {
                    from: set(self.from, "from")?,
                    to: set(self.to, "to")?,
                    delay_ms: self.delay_ms.unwrap_or(0),
                    jitter_ms: self.jitter_ms.unwrap_or(0),
                    loss: self.loss.unwrap_or(0.0),
                    at: self.at.unwrap_or_default(),
                    until: self.until,
                }
            }
            "partition" => Fault::Partition {
                groups: self.groups.ok_or_else(|| missing("groups"))?,
                at: self.at.ok_or_else(|| missing("at"))?,
                until: self.until,
            },
            "byzantine_dealer" => Fault::ByzantineDealer {
                dataset: self.dataset.ok_or_else(|| missing("dataset"))?,
                nodes: self.nodes.unwrap_or_default(),
            },
            _ => Fault::CorruptMessages {
                node: self.node.ok_or_else(|| missing("node"))?,
                target: self.target.unwrap_or(CorruptTarget::Protocol),
                at: self.at.unwrap_or_default(),
                until: self.until,
            },
        })
    }
}

/// Every key any attack kind takes; [`RawAttack::resolve`] checks which belong to its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttack {
    kind: String,
    by: Option<String>,
    dataset: Option<String>,
    puppets: Option<Vec<usize>>,
    victim: Option<usize>,
    pool: Option<String>,
    query: Option<String>,
    then: Option<StaleStep>,
    at: Option<Millis>,
}

/// The attack kinds, as written in `kind = ...`.
const ATTACK_KINDS: &[&str] = &["squatter", "framing_owner", "stale_requester"];

/// The placement key a framing owner's dataset names when the scenario does not say.
pub(super) const DEFAULT_BAIT_POOL: &str = "bait";

impl RawAttack {
    fn written(&self) -> Vec<&'static str> {
        [
            (self.by.is_some(), "by"),
            (self.dataset.is_some(), "dataset"),
            (self.puppets.is_some(), "puppets"),
            (self.victim.is_some(), "victim"),
            (self.pool.is_some(), "pool"),
            (self.query.is_some(), "query"),
            (self.then.is_some(), "then"),
            (self.at.is_some(), "at"),
        ]
        .into_iter()
        .filter_map(|(present, key)| present.then_some(key))
        .collect()
    }

    fn resolve(self, index: usize, locator: &Locator<'_>) -> Result<Attack, ScenarioError> {
        let path = format!("attacks[{index}]");
        let allowed: &[&str] = match self.kind.as_str() {
            "squatter" => &["by", "dataset"],
            "framing_owner" => &["by", "puppets", "victim", "pool", "at"],
            "stale_requester" => &["by", "query", "then", "at"],
            other => {
                return Err(ScenarioError::Syntax {
                    at: locator.at(&format!("{path}.kind")),
                    message: format!(
                        "unknown attack kind {other:?}; the kinds are {}",
                        quoted(ATTACK_KINDS)
                    ),
                });
            }
        };
        if let Some(extra) = self.written().into_iter().find(|k| !allowed.contains(k)) {
            let hint = if extra == "at" {
                " (a squatter acts during set-up, when the dataset it attacks is uploaded)"
            } else {
                ""
            };
            return Err(ScenarioError::Syntax {
                at: locator.at(&format!("{path}.{extra}")),
                message: format!(
                    "key `{extra}` does not apply to a {:?} attack; its keys are `kind`, {}{hint}",
                    self.kind,
                    quoted(allowed)
                ),
            });
        }
        let missing = |key: &str| ScenarioError::Syntax {
            at: locator.at(&path),
            message: format!("a {:?} attack needs `{key}`", self.kind),
        };
        let by = self.by.clone().ok_or_else(|| missing("by"))?;
        Ok(match self.kind.as_str() {
            "squatter" => Attack::Squatter {
                by,
                dataset: self.dataset.ok_or_else(|| missing("dataset"))?,
            },
            "framing_owner" => Attack::FramingOwner {
                by,
                puppets: self.puppets.ok_or_else(|| missing("puppets"))?,
                victim: self.victim.ok_or_else(|| missing("victim"))?,
                pool: self.pool.unwrap_or_else(|| DEFAULT_BAIT_POOL.to_string()),
                at: self.at.unwrap_or_default(),
            },
            _ => Attack::StaleRequester {
                by,
                query: self.query.ok_or_else(|| missing("query"))?,
                then: self.then.unwrap_or(StaleStep::Refund),
                at: self.at.unwrap_or_default(),
            },
        })
    }
}

fn quoted(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RawSource {
    fn resolve(
        self,
        path: &str,
        base_dir: &Path,
        locator: &Locator<'_>,
    ) -> Result<Source, ScenarioError> {
        let err = |key: &str, message: String| ScenarioError::Source {
            at: if key.is_empty() {
                locator.at(path)
            } else {
                locator.at(&format!("{path}.{key}"))
            },
            message,
        };
        match (self.generator, self.csv) {
            (Some(_), Some(_)) => Err(err(
                "csv",
                "a source is either `generator = ...` or `csv = ...`, not both".into(),
            )),
            (None, None) => Err(err(
                "",
                "a source needs `generator = \"patients\"` (with `rows` and `seed`) or `csv = \"file.csv\"` (with `schema`)".into(),
            )),
            (Some(generator), None) => {
                if self.schema.is_some() {
                    return Err(err(
                        "schema",
                        "a generated dataset has its generator's schema; `schema` belongs to `csv` sources".into(),
                    ));
                }
                let generator = match generator.as_str() {
                    "patients" => Generator::Patients,
                    other => {
                        return Err(err(
                            "generator",
                            format!("unknown generator {other:?}; the generators are `patients`"),
                        ));
                    }
                };
                Ok(Source::Generated {
                    generator,
                    rows: self.rows.ok_or_else(|| err("", "a generated source needs `rows`".into()))?,
                    seed: self.seed.ok_or_else(|| err("", "a generated source needs `seed`".into()))?,
                })
            }
            (None, Some(csv)) => {
                if let Some(key) = [("rows", self.rows.is_some()), ("seed", self.seed.is_some())]
                    .iter()
                    .find(|(_, present)| *present)
                    .map(|(k, _)| *k)
                {
                    return Err(err(
                        key,
                        format!("`{key}` belongs to generated sources; a CSV source has the rows of its file"),
                    ));
                }
                let schema = match self.schema {
                    None => {
                        return Err(err(
                            "",
                            "a CSV source needs `schema`: a JSON schema file, or the schema inline as `{ columns = [...] }`".into(),
                        ));
                    }
                    Some(toml::Value::String(file)) => {
                        let full = base_dir.join(&file);
                        let json = std::fs::read_to_string(&full).map_err(|e| {
                            err("schema", format!("cannot read {}: {e}", full.display()))
                        })?;
                        Schema::from_json(&json).map_err(|e| {
                            err("schema", format!("{}: {e}", full.display()))
                        })?
                    }
                    Some(inline @ toml::Value::Table(_)) => {
                        // The inline table has the JSON schema's shape; serde_json checks it
                        // with the same rules (unknown fields refused).
                        let json = serde_json::to_string(&inline)
                            .map_err(|e| err("schema", e.to_string()))?;
                        Schema::from_json(&json).map_err(|e| err("schema", e.to_string()))?
                    }
                    Some(other) => {
                        return Err(err(
                            "schema",
                            format!(
                                "`schema` is a file name or an inline table, not a {}",
                                other.type_str()
                            ),
                        ));
                    }
                };
                Ok(Source::Csv {
                    path: csv.into(),
                    schema,
                })
            }
        }
    }
}

impl RawScenario {
    /// The public form, with defaults filled in and each fault and source checked against its
    /// kind. The semantic checks come after, in `validate`.
    pub(super) fn resolve(
        self,
        base_dir: &Path,
        locator: &Locator<'_>,
    ) -> Result<Scenario, ScenarioError> {
        let nodes = self.network.nodes;
        let datasets = self
            .datasets
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                Ok(Dataset {
                    source: d.source.resolve(
                        &format!("datasets[{i}].source"),
                        base_dir,
                        locator,
                    )?,
                    name: d.name,
                    owner: d.owner,
                    pool: d.pool,
                    expect: d.expect.unwrap_or(UploadExpect::Stored),
                })
            })
            .collect::<Result<Vec<_>, ScenarioError>>()?;
        let faults = self
            .faults
            .into_iter()
            .enumerate()
            .map(|(i, f)| f.resolve(i, nodes, locator))
            .collect::<Result<Vec<_>, _>>()?;
        let attacks = self
            .attacks
            .into_iter()
            .enumerate()
            .map(|(i, a)| a.resolve(i, locator))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scenario {
            name: self.name.unwrap_or_else(|| "scenario".to_string()),
            description: self.description.unwrap_or_default(),
            seed: self.seed.unwrap_or(0),
            network: Network {
                nodes,
                threshold: self.network.threshold,
                committee: self.network.committee.unwrap_or(nodes),
                job_timeout: self.network.job_timeout.unwrap_or(DEFAULT_JOB_TIMEOUT),
                security: self.network.security.unwrap_or(Security::Malicious),
            },
            pools: self
                .pools
                .into_iter()
                .map(|p| Pool { name: p.name })
                .collect(),
            institutions: self
                .institutions
                .into_iter()
                .map(|i| Institution {
                    name: i.name,
                    min_cohort: i.min_cohort.unwrap_or(DEFAULT_MIN_COHORT),
                })
                .collect(),
            researchers: self
                .researchers
                .into_iter()
                .map(|r| Researcher { name: r.name })
                .collect(),
            datasets,
            delegations: self
                .delegations
                .into_iter()
                .map(|d| Delegation {
                    owner: d.owner,
                    delegate: d.delegate,
                    datasets: d.datasets,
                })
                .collect(),
            grants: self
                .grants
                .into_iter()
                .map(|g| Grant {
                    granter: g.granter,
                    grantee: g.grantee,
                    datasets: g.datasets,
                    kinds: g.kinds.into_iter().collect::<BTreeSet<_>>(),
                    max_queries: g.max_queries.unwrap_or(u32::MAX),
                    expires_in: g.expires_in,
                })
                .collect(),
            jobs: self
                .jobs
                .into_iter()
                .map(|j| Job {
                    name: j.name,
                    by: j.by,
                    query: j.query,
                    at: j.at.unwrap_or_default(),
                    expect: j.expect.unwrap_or(JobExpect::Agree),
                    culprit: j.culprit,
                    tolerance: j.tolerance,
                    timeout: j.timeout,
                })
                .collect(),
            faults,
            attacks,
            base_dir: base_dir.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_units() {
        assert_eq!(parse_millis("250ms"), Some(Millis(250)));
        assert_eq!(parse_millis("2s"), Some(Millis(2000)));
        assert_eq!(parse_millis("1.5s"), Some(Millis(1500)));
        assert_eq!(parse_millis("1m"), Some(Millis(60_000)));
        assert_eq!(parse_millis(" 3 s "), Some(Millis(3000)));
        for bad in ["", "s", "2", "2h", "-1s", "1.0001s", "1e3ms", "x s"] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }
}
