//! The semantic checks of a scenario: everything that parses but cannot run as written is refused
//! here, before any node starts, with the key path and line of the offending value.

use std::collections::{BTreeMap, BTreeSet};

use sharenet_query::schema::is_valid_name;
use sharenet_query::{Catalog, QueryError, QueryKind, compile_front_end, parse};

use super::locate::{Locator, line_column};
use super::{
    Attack, Fault, JobExpect, MAX_NODES, Millis, NameKind, Scenario, ScenarioError, Source,
    StaleStep, UploadExpect,
};
use crate::generate::MAX_GENERATED_ROWS;

/// Checks `s`; positions come from `locator` (unknown for scenarios built in code).
pub(super) fn validate(s: &Scenario, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    network(s, locator)?;
    names(s, locator)?;
    datasets(s, locator)?;
    delegations(s, locator)?;
    grants(s, locator)?;
    let catalog = catalog(s, locator)?;
    jobs(s, &catalog, locator)?;
    faults(s, locator)?;
    attacks(s, &catalog, locator)?;
    Ok(())
}

/// The declared name closest to `name`, if it is close enough to be a likely typo.
pub(super) fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Edit distance with adjacent transpositions (optimal string alignment), ignoring ASCII case:
/// `alcie` is one typo away from `alice`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    // d[i][j]: distance between the first i chars of a and the first j chars of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

fn unknown(
    locator: &Locator<'_>,
    path: &str,
    what: NameKind,
    name: &str,
    known: Vec<String>,
) -> ScenarioError {
    ScenarioError::UnknownName {
        at: locator.at(path),
        what,
        name: name.to_string(),
        suggestion: closest(name, known.iter().map(String::as_str)),
        known: known.into_boxed_slice(),
    }
}

/// The largest threshold of a malicious session (`C(2t + 1, t)` PRSS key sets at most
/// `MALICIOUS_MAX_KEY_SETS`).
const MALICIOUS_MAX_T: usize = 4;

fn network(s: &Scenario, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    let n = &s.network;
    let err = |key: &str, message: String| ScenarioError::Network {
        at: locator.at(&format!("network.{key}")),
        message,
    };
    if n.nodes == 0 || n.nodes > MAX_NODES {
        return Err(err(
            "nodes",
            format!("a network has 1 to {MAX_NODES} nodes, not {}", n.nodes),
        ));
    }
    if n.committee == 0 || n.committee > n.nodes {
        return Err(err(
            "committee",
            format!(
                "the committee has {} nodes but the network only {}: a committee is picked among the nodes (at most `nodes`)",
                n.committee, n.nodes
            ),
        ));
    }
    if n.threshold == 0 {
        return Err(err(
            "threshold",
            "the threshold t must be at least 1 (t = 0 would let every node read the data)".into(),
        ));
    }
    // Saturating: the threshold comes from the file and may be absurdly large.
    let needed = n.threshold.saturating_mul(2).saturating_add(1);
    if needed > n.committee {
        let max_t = n.committee.saturating_sub(1) / 2;
        let fix = if max_t == 0 {
            format!("use a committee of at least {needed} nodes")
        } else {
            format!(
                "lower `threshold` to at most {max_t}, or use a committee of at least {needed} nodes"
            )
        };
        return Err(err(
            "threshold",
            format!(
                "threshold t = {} needs t < n/2 (honest majority: 2t + 1 = {needed} committee nodes) but the committee has n = {}; {fix}",
                n.threshold, n.committee
            ),
        ));
    }
    if n.job_timeout == Millis(0) {
        return Err(err("job_timeout", "`job_timeout` must be positive".into()));
    }
    if n.security == sharenet_mpc::protocol::Security::Malicious && n.threshold > MALICIOUS_MAX_T {
        return Err(err(
            "security",
            format!(
                "malicious security runs with PRSS keys, which committees of threshold t <= {MALICIOUS_MAX_T} use; lower `threshold` or set `security = \"semi-honest\"`"
            ),
        ));
    }
    Ok(())
}

/// Names are unique per kind; institutions and researchers share one namespace (they are all
/// accounts on chain and the report names them side by side).
fn names(s: &Scenario, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    let mut seen: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    let mut check = |space: &'static str,
                     what: NameKind,
                     name: &str,
                     path: String|
     -> Result<(), ScenarioError> {
        if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 128 {
            return Err(ScenarioError::BadName {
                at: locator.at(&path),
                message: format!(
                    "a {what} name must be non-empty, at most 128 bytes, without control characters"
                ),
            });
        }
        if let Some(first) = seen.get(&(space, name.to_string())) {
            return Err(ScenarioError::Duplicate {
                at: locator.at(&path),
                what,
                name: name.to_string(),
                first: locator.at(first),
            });
        }
        seen.insert((space, name.to_string()), path);
        Ok(())
    };
    for (i, p) in s.pools.iter().enumerate() {
        check("pool", NameKind::Pool, &p.name, format!("pools[{i}].name"))?;
    }
    for (i, x) in s.institutions.iter().enumerate() {
        check(
            "account",
            NameKind::Institution,
            &x.name,
            format!("institutions[{i}].name"),
        )?;
    }
    for (i, x) in s.researchers.iter().enumerate() {
        check(
            "account",
            NameKind::Researcher,
            &x.name,
            format!("researchers[{i}].name"),
        )?;
    }
    for (i, d) in s.datasets.iter().enumerate() {
        let path = format!("datasets[{i}].name");
        if !is_valid_name(&d.name) {
            return Err(ScenarioError::BadName {
                at: locator.at(&path),
                message: format!(
                    "dataset name {:?} is not an identifier: queries name datasets with letters, digits and _, not starting with a digit",
                    d.name
                ),
            });
        }
        check("dataset", NameKind::Dataset, &d.name, path)?;
    }
    for (i, j) in s.jobs.iter().enumerate() {
        check("job", NameKind::Job, &j.name, format!("jobs[{i}].name"))?;
    }
    for (i, x) in s.institutions.iter().enumerate() {
        if x.min_cohort == 0 {
            return Err(ScenarioError::Value {
                at: locator.at(&format!("institutions[{i}].min_cohort")),
                message: "`min_cohort` must be at least 1".into(),
            });
        }
    }
    Ok(())
}

fn institution_names(s: &Scenario) -> Vec<String> {
    s.institutions.iter().map(|i| i.name.clone()).collect()
}

fn researcher_names(s: &Scenario) -> Vec<String> {
    s.researchers.iter().map(|r| r.name.clone()).collect()
}

fn dataset_names(s: &Scenario) -> Vec<String> {
    s.datasets.iter().map(|d| d.name.clone()).collect()
}

fn datasets(s: &Scenario, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    for (i, d) in s.datasets.iter().enumerate() {
        let path = |key: &str| format!("datasets[{i}].{key}");
        if s.institution(&d.owner).is_none() {
            return Err(unknown(
                locator,
                &path("owner"),
                NameKind::Institution,
                &d.owner,
                institution_names(s),
            ));
        }
        if !s.pools.iter().any(|p| p.name == d.pool) {
            return Err(unknown(
                locator,
                &path("pool"),
                NameKind::Pool,
                &d.pool,
                s.pools.iter().map(|p| p.name.clone()).collect(),
            ));
        }
        match &d.source {
            Source::Generated { rows, .. } => {
                if *rows == 0 || *rows > MAX_GENERATED_ROWS {
                    return Err(ScenarioError::Value {
                        at: locator.at(&path("source.rows")),
                        message: format!(
                            "a generated dataset has 1 to {MAX_GENERATED_ROWS} rows, not {rows}"
                        ),
                    });
                }
            }
            Source::Csv { .. } => {
                // Read it now: a bad CSV is bad input, refused before anything starts.
                d.rows(&s.base_dir)
                    .map_err(|message| ScenarioError::Source {
                        at: locator.at(&path("source.csv")),
                        message,
                    })?;
            }
        }
    }
    Ok(())
}

fn delegations(s: &Scenario, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    for (i, x) in s.delegations.iter().enumerate() {
        let path = |key: &str| format!("delegations[{i}].{key}");
        for (key, name) in [("owner", &x.owner), ("delegate", &x.delegate)] {
            if s.institution(name).is_none() {
                return Err(unknown(
                    locator,
                    &path(key),
                    NameKind::Institution,
                    name,
                    institution_names(s),
                ));
            }
        }
        if x.owner == x.delegate {
            return Err(ScenarioError::Value {
                at: locator.at(&path("delegate")),
                message: format!(
                    "`{}` delegates to itself; an owner may grant its own datasets without a delegation",
                    x.owner
                ),
            });
        }
        if x.datasets.is_empty() {
            return Err(ScenarioError::Value {
                at: locator.at(&path("datasets")),
                message: "a delegation lists at least one dataset".into(),
            });
        }
        for (k, name) in x.datasets.iter().enumerate() {
            let at = path(&format!("datasets[{k}]"));
            let Some(d) = s.dataset(name) else {
                return Err(unknown(
                    locator,
                    &at,
                    NameKind::Dataset,
                    name,
                    dataset_names(s),
                ));
            };
            if d.owner != x.owner {
                return Err(ScenarioError::Value {
                    at: locator.at(&at),
                    message: format!(
                        "`{}` cannot delegate dataset `{name}`, which belongs to `{}`: only an owner delegates its datasets",
                        x.owner, d.owner
                    ),
                });
            }
        }
    }
    Ok(())
}

fn grants(s: &Scenario, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    for (i, g) in s.grants.iter().enumerate() {
        let path = |key: &str| format!("grants[{i}].{key}");
        if s.institution(&g.granter).is_none() {
            return Err(unknown(
                locator,
                &path("granter"),
                NameKind::Institution,
                &g.granter,
                institution_names(s),
            ));
        }
        if !s.researchers.iter().any(|r| r.name == g.grantee) {
            return Err(unknown(
                locator,
                &path("grantee"),
                NameKind::Researcher,
                &g.grantee,
                researcher_names(s),
            ));
        }
        if g.datasets.is_empty() {
            return Err(ScenarioError::Value {
                at: locator.at(&path("datasets")),
                message: "a grant lists at least one dataset".into(),
            });
        }
        for (k, name) in g.datasets.iter().enumerate() {
            let at = path(&format!("datasets[{k}]"));
            let Some(d) = s.dataset(name) else {
                return Err(unknown(
                    locator,
                    &at,
                    NameKind::Dataset,
                    name,
                    dataset_names(s),
                ));
            };
            if !s.may_grant(&g.granter, name) {
                return Err(ScenarioError::NotOwner {
                    at: locator.at(&at),
                    granter: g.granter.clone(),
                    dataset: name.clone(),
                    owner: d.owner.clone(),
                });
            }
        }
        if g.kinds.is_empty() {
            return Err(ScenarioError::Value {
                at: locator.at(&path("kinds")),
                message: "a grant allows at least one kind: aggregate, group_by, histogram, lin_reg, log_reg".into(),
            });
        }
        if g.max_queries == 0 {
            return Err(ScenarioError::Value {
                at: locator.at(&path("max_queries")),
                message: "`max_queries` must be at least 1 (leave it out for no limit)".into(),
            });
        }
        if g.expires_in == Some(Millis(0)) {
            return Err(ScenarioError::Value {
                at: locator.at(&path("expires_in")),
                message: "`expires_in` must be positive (leave it out for no expiry)".into(),
            });
        }
    }
    Ok(())
}

fn catalog(s: &Scenario, locator: &Locator<'_>) -> Result<Catalog, ScenarioError> {
    s.catalog().map_err(|e| match e {
        // Re-anchor the error on the dataset's line.
        ScenarioError::Source { at, message } => ScenarioError::Source {
            at: locator.at(&at.path),
            message,
        },
        ScenarioError::BadName { at, message } => ScenarioError::BadName {
            at: locator.at(&at.path),
            message,
        },
        other => other,
    })
}

/// The position in the scenario file of byte `offset` of a job's query text: the query is a
/// TOML string, so its offsets are shifted by where the string's content starts (exact for
/// literal strings and for basic strings without escapes before the position).
fn query_location(
    locator: &Locator<'_>,
    path: &str,
    offset: usize,
    fallback_line: u32,
    fallback_column: u32,
) -> super::Location {
    let mut at = locator.at(path);
    if let Some((start, raw)) = locator.raw_value(path) {
        let delimiter = ["\"\"\"", "'''", "\"", "'"]
            .into_iter()
            .find(|d| raw.starts_with(d))
            .map_or(0, str::len);
        let mut content = start + delimiter;
        // A newline right after an opening `"""` is not part of the string.
        if delimiter == 3 {
            let rest = locator.text().get(content..).unwrap_or("");
            if rest.starts_with("\r\n") {
                content += 2;
            } else if rest.starts_with('\n') {
                content += 1;
            }
        }
        let (line, column) = line_column(locator.text(), content + offset);
        at.line = Some(line);
        at.column = Some(column);
    } else if at.line.is_none() {
        // No file: the position inside the query is the best there is.
        at.path = format!("{path} (query line {fallback_line}, column {fallback_column})");
    }
    at
}

fn query_error(locator: &Locator<'_>, path: &str, text: &str, e: &QueryError) -> ScenarioError {
    let span = e.span();
    let full = e.to_string();
    // The Display form starts with "line:column: ".
    let message = full.split_once(": ").map_or(full.as_str(), |(_, m)| m);
    ScenarioError::Query {
        at: query_location(locator, path, span.start, span.line, span.column),
        message: message.to_string(),
        rendered: e.render(text),
    }
}

fn jobs(s: &Scenario, catalog: &Catalog, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    for (i, j) in s.jobs.iter().enumerate() {
        let path = |key: &str| format!("jobs[{i}].{key}");
        if !s.researchers.iter().any(|r| r.name == j.by) {
            return Err(unknown(
                locator,
                &path("by"),
                NameKind::Researcher,
                &j.by,
                researcher_names(s),
            ));
        }
        if let Some(t) = j.tolerance
            && !(t.is_finite() && t > 0.0 && t < 1.0)
        {
            return Err(ScenarioError::Value {
                at: locator.at(&path("tolerance")),
                message: format!(
                    "`tolerance` is a relative error between 0 and 1 (e.g. 1e-6), not {t}"
                ),
            });
        }
        if j.timeout == Some(Millis(0)) {
            return Err(ScenarioError::Value {
                at: locator.at(&path("timeout")),
                message: "`timeout` must be positive".into(),
            });
        }
        if let Some(c) = j.culprit {
            if j.expect != JobExpect::Detected {
                return Err(ScenarioError::Expectation {
                    at: locator.at(&path("culprit")),
                    message: format!(
                        "`culprit` names the node a detection must identify; it needs expect = \"detected\", not {:?}",
                        j.expect.as_str()
                    ),
                });
            }
            if c >= s.network.nodes {
                return Err(node_range(locator, &path("culprit"), c, s.network.nodes));
            }
        }
        // A job meant to be refused as a query is not checked further: that is its point.
        if j.expect == JobExpect::Invalid {
            continue;
        }
        let query_path = path("query");
        let parsed =
            parse(&j.query).map_err(|e| query_error(locator, &query_path, &j.query, &e))?;
        for ident in &parsed.from {
            if s.dataset(&ident.name).is_none() {
                let mut err = unknown(
                    locator,
                    &query_path,
                    NameKind::Dataset,
                    &ident.name,
                    dataset_names(s),
                );
                if let ScenarioError::UnknownName { at, .. } = &mut err {
                    *at = query_location(
                        locator,
                        &query_path,
                        ident.span.start,
                        ident.span.line,
                        ident.span.column,
                    );
                }
                return Err(err);
            }
        }
        let typed = compile_front_end(&j.query, catalog)
            .map_err(|e| query_error(locator, &query_path, &j.query, &e))?;
        if j.expect != JobExpect::Agree {
            continue;
        }
        // An "agree" job must be able to succeed: one pool, stored datasets, and one grant
        // covering the datasets and every kind the query uses.
        let expect_at = || {
            if locator.raw_value(&path("expect")).is_some() {
                locator.at(&path("expect"))
            } else {
                locator.at(&query_path)
            }
        };
        let pools: BTreeSet<&str> = typed
            .datasets
            .iter()
            .filter_map(|d| s.dataset(d))
            .map(|d| d.pool.as_str())
            .collect();
        if pools.len() > 1 {
            return Err(ScenarioError::Expectation {
                at: expect_at(),
                message: format!(
                    "the query reads datasets of different pools ({}); a query runs on one committee, so it can only be refused: write expect = \"refused\" or use datasets of one pool",
                    pools.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        for name in &typed.datasets {
            let Some(d) = s.dataset(name) else { continue };
            if d.expect == UploadExpect::Rejected {
                return Err(ScenarioError::Expectation {
                    at: expect_at(),
                    message: format!(
                        "dataset `{name}` is expected to be rejected at upload, so a query on it cannot agree; expect \"refused\" or \"fail\""
                    ),
                });
            }
        }
        // The network runs a query under one grant that covers all its datasets and allows
        // every kind it uses.
        let covering = s.grants.iter().filter(|g| {
            g.grantee == j.by
                && typed
                    .datasets
                    .iter()
                    .all(|name| g.datasets.iter().any(|x| x == name))
                && typed.kinds.iter().all(|k| g.kinds.contains(k))
        });
        let mut any = false;
        let mut live = false;
        for g in covering {
            any = true;
            live |= g.expires_in.is_none_or(|e| j.at < e);
        }
        let names = typed
            .datasets
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if !any {
            let kinds: Vec<&str> = typed.kinds.iter().map(|k: &QueryKind| k.as_str()).collect();
            let owners: BTreeSet<&str> = typed
                .datasets
                .iter()
                .filter_map(|n| s.dataset(n))
                .map(|d| d.owner.as_str())
                .collect();
            let owners = owners
                .into_iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let message = if typed.datasets.len() > 1 {
                format!(
                    "`{}` has no grant covering all of {names} (owned by {owners}) that allows {}: a query reads its datasets under one grant, so one institution grants them all (the other owners delegate theirs to it with [[delegations]]); or expect \"refused\"",
                    j.by,
                    kinds.join(", ")
                )
            } else {
                format!(
                    "`{}` has no grant from {owners} on {names} allowing {}: add one, or expect \"refused\"",
                    j.by,
                    kinds.join(", ")
                )
            };
            return Err(ScenarioError::Expectation {
                at: expect_at(),
                message,
            });
        }
        if !live {
            return Err(ScenarioError::Expectation {
                at: expect_at(),
                message: format!(
                    "every grant letting `{}` query {names} has expired by {} when this job is submitted: expect \"refused\", or submit it earlier",
                    j.by, j.at
                ),
            });
        }
    }
    Ok(())
}

fn node_range(locator: &Locator<'_>, path: &str, node: usize, nodes: usize) -> ScenarioError {
    ScenarioError::Fault {
        at: locator.at(path),
        message: format!(
            "there is no node {node}: nodes are numbered 0 to {}",
            nodes.saturating_sub(1)
        ),
    }
}

/// Whether `[a0, a1)` and `[b0, b1)` overlap (`None`: until the end).
fn overlap(a: (Millis, Option<Millis>), b: (Millis, Option<Millis>)) -> bool {
    let end = |e: Option<Millis>| e.map_or(u64::MAX, |m| m.0);
    a.0.0 < end(b.1) && b.0.0 < end(a.1)
}

fn faults(s: &Scenario, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    let nodes = s.network.nodes;
    let check_node = |path: String, node: usize| -> Result<(), ScenarioError> {
        if node >= nodes {
            Err(node_range(locator, &path, node, nodes))
        } else {
            Ok(())
        }
    };
    let window = |path: &str, at: Millis, until: Option<Millis>, key: &str| match until {
        Some(u) if u <= at => Err(ScenarioError::Time {
            at: locator.at(&format!("{path}.{key}")),
            message: format!("`{key}` ({u}) must come after `at` ({at})"),
        }),
        _ => Ok(()),
    };
    let mut crashes: Vec<(usize, usize, Millis, Option<Millis>)> = Vec::new();
    let mut partitions: Vec<(usize, Millis, Option<Millis>)> = Vec::new();
    // (fault index, directed links, from, until)
    type Links = Vec<(usize, BTreeSet<(usize, usize)>, Millis, Option<Millis>)>;
    let mut links: Links = Vec::new();
    let mut corrupt: BTreeSet<usize> = BTreeSet::new();
    for (i, f) in s.faults.iter().enumerate() {
        let path = format!("faults[{i}]");
        match f {
            Fault::Crash {
                node,
                at,
                restart_at,
            } => {
                check_node(format!("{path}.node"), *node)?;
                window(&path, *at, *restart_at, "restart_at")?;
                if let Some((first, ..)) = crashes
                    .iter()
                    .find(|(_, n, a, r)| n == node && overlap((*a, *r), (*at, *restart_at)))
                {
                    return Err(ScenarioError::Time {
                        at: locator.at(&format!("{path}.at")),
                        message: format!(
                            "node {node} is already down then (faults[{first}]): a node cannot crash before it has restarted"
                        ),
                    });
                }
                crashes.push((i, *node, *at, *restart_at));
            }
            Fault::Link {
                from,
                to,
                delay_ms,
                jitter_ms,
                loss,
                at,
                until,
            } => {
                for (key, set) in [("from", from), ("to", to)] {
                    if set.is_empty() {
                        return Err(ScenarioError::Fault {
                            at: locator.at(&format!("{path}.{key}")),
                            message: format!("`{key}` lists at least one node"),
                        });
                    }
                    for (k, n) in set.iter().enumerate() {
                        check_node(format!("{path}.{key}[{k}]"), *n)?;
                    }
                }
                if !(loss.is_finite() && (0.0..1.0).contains(loss)) {
                    return Err(ScenarioError::Value {
                        at: locator.at(&format!("{path}.loss")),
                        message: format!(
                            "`loss` is a probability in [0, 1) (1 would cut the link: use a partition), not {loss}"
                        ),
                    });
                }
                for (key, v) in [("delay_ms", delay_ms), ("jitter_ms", jitter_ms)] {
                    if *v > 60_000 {
                        return Err(ScenarioError::Value {
                            at: locator.at(&format!("{path}.{key}")),
                            message: format!("`{key}` is at most 60000 (a minute), not {v}"),
                        });
                    }
                }
                window(&path, *at, *until, "until")?;
                let pairs: BTreeSet<(usize, usize)> = from
                    .iter()
                    .flat_map(|a| to.iter().map(move |b| (*a, *b)))
                    .filter(|(a, b)| a != b)
                    .collect();
                if pairs.is_empty() {
                    return Err(ScenarioError::Fault {
                        at: locator.at(&format!("{path}.to")),
                        message: "the link fault covers no link: `from` and `to` are the same single node".into(),
                    });
                }
                if let Some((first, shared, ..)) = links.iter().find_map(|(j, p, a, u)| {
                    let shared = p.intersection(&pairs).next().copied()?;
                    overlap((*a, *u), (*at, *until)).then_some((*j, shared, ()))
                }) {
                    return Err(ScenarioError::Time {
                        at: locator.at(&format!("{path}.at")),
                        message: format!(
                            "the link {} → {} is already degraded then by faults[{first}]; link faults on one link must not overlap in time",
                            shared.0, shared.1
                        ),
                    });
                }
                links.push((i, pairs, *at, *until));
            }
            Fault::Partition { groups, at, until } => {
                let mut seen = BTreeSet::new();
                for (g, group) in groups.iter().enumerate() {
                    if group.is_empty() {
                        return Err(ScenarioError::Fault {
                            at: locator.at(&format!("{path}.groups[{g}]")),
                            message: "a partition group lists at least one node".into(),
                        });
                    }
                    for (k, n) in group.iter().enumerate() {
                        let p = format!("{path}.groups[{g}][{k}]");
                        check_node(p.clone(), *n)?;
                        if !seen.insert(*n) {
                            return Err(ScenarioError::Fault {
                                at: locator.at(&p),
                                message: format!(
                                    "node {n} is in two groups; partition groups are disjoint"
                                ),
                            });
                        }
                    }
                }
                let sides = groups.len() + usize::from(seen.len() < nodes);
                if sides < 2 {
                    return Err(ScenarioError::Fault {
                        at: locator.at(&format!("{path}.groups")),
                        message: "the partition separates nothing: list at least two groups, or leave some nodes out (they form another group)".into(),
                    });
                }
                window(&path, *at, *until, "until")?;
                if let Some((first, ..)) = partitions
                    .iter()
                    .find(|(_, a, u)| overlap((*a, *u), (*at, *until)))
                {
                    return Err(ScenarioError::Time {
                        at: locator.at(&format!("{path}.at")),
                        message: format!(
                            "overlaps the partition of faults[{first}]; describe simultaneous splits as one partition with more groups"
                        ),
                    });
                }
                partitions.push((i, *at, *until));
            }
            Fault::ByzantineDealer {
                dataset,
                nodes: victims,
            } => {
                let Some(d) = s.dataset(dataset) else {
                    return Err(unknown(
                        locator,
                        &format!("{path}.dataset"),
                        NameKind::Dataset,
                        dataset,
                        dataset_names(s),
                    ));
                };
                for (k, n) in victims.iter().enumerate() {
                    check_node(format!("{path}.nodes[{k}]"), *n)?;
                }
                if d.expect != UploadExpect::Rejected {
                    let index = s
                        .datasets
                        .iter()
                        .position(|x| x.name == d.name)
                        .unwrap_or(0);
                    return Err(ScenarioError::Expectation {
                        at: locator.at(&format!("datasets[{index}]")),
                        message: format!(
                            "dataset `{}` is dealt by a byzantine dealer ({path}), which the upload's batch check catches: write expect = \"rejected\" on the dataset",
                            d.name
                        ),
                    });
                }
            }
            Fault::CorruptMessages {
                node, at, until, ..
            } => {
                check_node(format!("{path}.node"), *node)?;
                window(&path, *at, *until, "until")?;
                corrupt.insert(*node);
            }
        }
    }
    if corrupt.len() > s.network.threshold {
        let last = s
            .faults
            .iter()
            .rposition(|f| matches!(f, Fault::CorruptMessages { .. }))
            .unwrap_or(0);
        return Err(ScenarioError::Fault {
            at: locator.at(&format!("faults[{last}]")),
            message: format!(
                "{} nodes send corrupted messages but the threshold is t = {}: the guarantees hold against at most t misbehaving nodes",
                corrupt.len(),
                s.network.threshold
            ),
        });
    }
    Ok(())
}

fn account_names(s: &Scenario) -> Vec<String> {
    institution_names(s)
        .into_iter()
        .chain(researcher_names(s))
        .collect()
}

fn attacks(s: &Scenario, catalog: &Catalog, locator: &Locator<'_>) -> Result<(), ScenarioError> {
    let nodes = s.network.nodes;
    // Nodes whose keys an attacker holds, and where.
    let mut puppets: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, a) in s.attacks.iter().enumerate() {
        if let Attack::FramingOwner { puppets: p, .. } = a {
            for n in p {
                puppets.entry(*n).or_insert(i);
            }
        }
    }
    let mut squatted: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, a) in s.attacks.iter().enumerate() {
        let path = |key: &str| format!("attacks[{i}].{key}");
        let by = a.by();
        let is_researcher = s.researchers.iter().any(|r| r.name == by);
        let known = is_researcher || s.institution(by).is_some();
        match a {
            Attack::StaleRequester { .. } if !is_researcher => {
                return Err(unknown(
                    locator,
                    &path("by"),
                    NameKind::Researcher,
                    by,
                    researcher_names(s),
                ));
            }
            _ if !known => {
                return Err(unknown(
                    locator,
                    &path("by"),
                    NameKind::Account,
                    by,
                    account_names(s),
                ));
            }
            _ => {}
        }
        match a {
            Attack::Squatter { dataset, .. } => {
                let Some(d) = s.dataset(dataset) else {
                    return Err(unknown(
                        locator,
                        &path("dataset"),
                        NameKind::Dataset,
                        dataset,
                        dataset_names(s),
                    ));
                };
                if d.owner == by {
                    return Err(ScenarioError::Value {
                        at: locator.at(&path("by")),
                        message: format!(
                            "`{by}` owns dataset `{dataset}`: a squatter is another account"
                        ),
                    });
                }
                if d.expect != UploadExpect::Stored {
                    return Err(ScenarioError::Expectation {
                        at: locator.at(&path("dataset")),
                        message: format!(
                            "dataset `{dataset}` is expected to be rejected at upload, so there is no registration to front-run: squat a dataset expected to be stored"
                        ),
                    });
                }
                if let Some(first) = squatted.insert(dataset.as_str(), i) {
                    return Err(ScenarioError::Value {
                        at: locator.at(&path("dataset")),
                        message: format!(
                            "dataset `{dataset}` is already squatted by attacks[{first}]: one squatter per dataset"
                        ),
                    });
                }
            }
            Attack::FramingOwner {
                puppets: mine,
                victim,
                pool,
                ..
            } => {
                if mine.len() < 2 {
                    return Err(ScenarioError::Value {
                        at: locator.at(&path("puppets")),
                        message: format!(
                            "list at least 2 puppet nodes, not {}: the framing committee (the puppets and the victim) needs 2t + 1 ≥ 3 members",
                            mine.len()
                        ),
                    });
                }
                let mut seen = BTreeSet::new();
                for (k, n) in mine.iter().enumerate() {
                    let p = path(&format!("puppets[{k}]"));
                    if *n >= nodes {
                        return Err(node_range(locator, &p, *n, nodes));
                    }
                    if !seen.insert(*n) {
                        return Err(ScenarioError::Value {
                            at: locator.at(&p),
                            message: format!("node {n} is listed twice"),
                        });
                    }
                }
                if *victim >= nodes {
                    return Err(node_range(locator, &path("victim"), *victim, nodes));
                }
                if let Some(j) = puppets.get(victim) {
                    return Err(ScenarioError::Value {
                        at: locator.at(&path("victim")),
                        message: format!(
                            "node {victim} is a puppet (attacks[{j}]): the victim is an honest node"
                        ),
                    });
                }
                if pool.trim().is_empty() || pool.chars().any(char::is_control) {
                    return Err(ScenarioError::BadName {
                        at: locator.at(&path("pool")),
                        message: "a pool name must be non-empty, without control characters".into(),
                    });
                }
            }
            Attack::StaleRequester {
                query, then, at, ..
            } => {
                let query_path = path("query");
                let typed = compile_front_end(query, catalog)
                    .map_err(|e| query_error(locator, &query_path, query, &e))?;
                let live = s.grants.iter().any(|g| {
                    g.grantee == by
                        && typed
                            .datasets
                            .iter()
                            .all(|name| g.datasets.iter().any(|x| x == name))
                        && typed.kinds.iter().all(|k| g.kinds.contains(k))
                        && g.expires_in.is_none_or(|e| *at < e)
                });
                if !live {
                    return Err(ScenarioError::Expectation {
                        at: locator.at(&query_path),
                        message: format!(
                            "`{by}` has no grant covering this query at {at}: a stale requester prepares a job the network accepts; add a [[grants]] entry for it"
                        ),
                    });
                }
                for name in &typed.datasets {
                    if s.dataset(name)
                        .is_some_and(|d| d.expect != UploadExpect::Stored)
                    {
                        return Err(ScenarioError::Expectation {
                            at: locator.at(&query_path),
                            message: format!(
                                "dataset `{name}` is expected to be rejected at upload: a stale requester needs a job the members prepare"
                            ),
                        });
                    }
                }
                if *then == StaleStep::Revoke
                    && let Some(k) = s
                        .jobs
                        .iter()
                        .position(|j| j.by == by && j.expect == JobExpect::Agree)
                {
                    return Err(ScenarioError::Expectation {
                        at: locator.at(&path("then")),
                        message: format!(
                            "the attack revokes `{by}`'s grant, but jobs[{k}] of `{by}` is expected to agree: give the attack a researcher of its own"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_names_only() {
        let names = ["alice", "bob", "hospital_a"];
        assert_eq!(closest("alcie", names.into_iter()), Some("alice".into()));
        assert_eq!(closest("Bob", names.into_iter()), Some("bob".into()));
        assert_eq!(
            closest("hospital_b", names.into_iter()),
            Some("hospital_a".into())
        );
        assert_eq!(closest("zed", names.into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("alcie", "alice"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn overlap_is_half_open() {
        let m = Millis;
        assert!(overlap((m(0), Some(m(10))), (m(5), None)));
        assert!(!overlap((m(0), Some(m(10))), (m(10), Some(m(20)))));
        assert!(overlap((m(0), None), (m(1000), Some(m(2000)))));
    }
}
