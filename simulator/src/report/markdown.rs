//! `report.md`: the run in words and tables, with the charts linked.

use std::fmt::Write as _;

use super::svg::{Unit, format_value};
use super::{JobOutcome, RunRecord, UploadOutcome};

/// Makes text safe inside a Markdown table cell: no line breaks, no column separators, no
/// markup (a bin label such as `< 30` must not start an HTML tag).
fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// Text in a code span, safe in a table cell (the query may contain backquotes).
fn code(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let fence = if one_line.contains('`') { "`` " } else { "`" };
    let close = if one_line.contains('`') { " ``" } else { "`" };
    format!("{fence}{}{close}", one_line.replace('|', "\\|"))
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(
        || "–".to_string(),
        |m| format_value(m as f64, Unit::Seconds),
    )
}

/// The whole report.
pub(super) fn report(run: &RunRecord) -> String {
    let s = &run.scenario;
    let mut out = String::new();
    let passed = run.verdicts.iter().filter(|v| v.pass).count();
    let _ = writeln!(out, "# Simulation report: {}\n", s.name);
    if !s.description.is_empty() {
        let _ = writeln!(out, "{}\n", s.description);
    }
    let verdict = if run.passed() {
        "PASS"
    } else if run.verdicts.is_empty() {
        "NOT JUDGED"
    } else {
        "FAIL"
    };
    let _ = writeln!(
        out,
        "**Verdict: {verdict}** — {passed} of {} expectations met. Set-up took {}, the run {}.\n",
        run.verdicts.len(),
        format_value(run.setup_ms as f64, Unit::Seconds),
        format_value(run.duration_ms as f64, Unit::Seconds),
    );

    out.push_str("## Scenario\n\n");
    let _ = writeln!(
        out,
        "{} nodes; committees of n = {} with threshold t = {} (any {} nodes learn nothing; {} must take part); seed {}.\n",
        s.nodes,
        s.committee,
        s.threshold,
        s.threshold,
        s.threshold.saturating_mul(2).saturating_add(1),
        s.seed
    );
    if !s.datasets.is_empty() {
        out.push_str("| dataset | owner | pool | rows |\n|---|---|---|---|\n");
        for d in &s.datasets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&d.name),
                cell(&d.owner),
                cell(&d.pool),
                cell(&d.source)
            );
        }
        out.push('\n');
    }
    if !s.grants.is_empty() {
        out.push_str("Grants:\n\n");
        for g in &s.grants {
            let _ = writeln!(out, "- {g}");
        }
        out.push('\n');
    }
    if !s.faults.is_empty() {
        out.push_str("Planned faults:\n\n");
        for f in &s.faults {
            let _ = writeln!(out, "- {f}");
        }
        out.push('\n');
    }

    out.push_str("## Expectations\n\n");
    if run.verdicts.is_empty() {
        out.push_str("No verdicts were recorded.\n\n");
    } else {
        out.push_str("| | expectation | expected | what happened |\n|---|---|---|---|\n");
        for v in &run.verdicts {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                if v.pass { "✅ pass" } else { "❌ FAIL" },
                cell(&v.subject),
                cell(&v.expected),
                cell(&v.actual)
            );
        }
        out.push('\n');
    }

    if !run.uploads.is_empty() {
        out.push_str("## Uploads\n\n| dataset | rows | outcome | time |\n|---|---|---|---|\n");
        for u in &run.uploads {
            let outcome = match &u.outcome {
                UploadOutcome::Stored => "stored".to_string(),
                UploadOutcome::Rejected { reason } => format!("rejected: {reason}"),
                UploadOutcome::Failed { reason } => format!("failed: {reason}"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&u.dataset),
                u.rows,
                cell(&outcome),
                ms(u.duration_ms)
            );
        }
        out.push('\n');
    }

    out.push_str("## Jobs\n\n");
    out.push_str(
        "| job | query | status | MPC result | plaintext | agree | latency | rounds | bytes sent |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for j in &run.jobs {
        let result = j
            .result
            .as_ref()
            .map_or_else(|| "–".to_string(), |r| r.to_string());
        let expected = j
            .expected
            .as_ref()
            .map_or_else(|| "–".to_string(), |r| r.to_string());
        let agree = match (&j.comparison, &j.outcome) {
            (Some(c), _) if c.agree => "yes".to_string(),
            (Some(c), _) => format!("**no**: {}", c.summary()),
            (None, JobOutcome::Completed) => "not compared".to_string(),
            (None, _) => "–".to_string(),
        };
        let bytes: u64 = j.bytes_per_node.iter().sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&j.name),
            code(&j.query),
            cell(&j.outcome.describe()),
            cell(result.trim_end()),
            cell(expected.trim_end()),
            cell(&agree),
            ms(j.latency_ms()),
            j.rounds.map_or_else(|| "–".to_string(), |r| r.to_string()),
            if j.bytes_per_node.is_empty() {
                "–".to_string()
            } else {
                format_value(bytes as f64, Unit::Bytes)
            }
        );
    }
    out.push('\n');
    let disagreements: Vec<_> = run
        .jobs
        .iter()
        .filter_map(|j| j.comparison.as_ref().map(|c| (j, c)))
        .filter(|(_, c)| !c.agree)
        .collect();
    if !disagreements.is_empty() {
        out.push_str("### Where results disagree\n\n");
        for (j, c) in disagreements {
            let _ = writeln!(out, "`{}`:\n\n```text\n{}\n```\n", j.name, c.explain(false));
        }
    }

    if !run.attacks.is_empty() {
        out.push_str("## Attacks\n\n");
        let _ = writeln!(
            out,
            "Every attack is expected to be {}.\n",
            super::judge::ATTACK_EXPECTATION
        );
        for a in &run.attacks {
            let _ = writeln!(out, "### {} by {}\n", a.kind, cell(&a.by));
            let _ = writeln!(out, "{}.\n", cell(&a.plan));
            let _ = writeln!(out, "**Outcome**: {}\n", cell(&a.outcome.describe()));
            for step in &a.steps {
                let _ = writeln!(out, "1. {}", cell(step));
            }
            if !a.steps.is_empty() {
                out.push('\n');
            }
            if !a.checks.is_empty() {
                out.push_str("| check | expected | found | |\n|---|---|---|---|\n");
                for c in &a.checks {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} |",
                        cell(&c.what),
                        cell(&c.expected),
                        cell(&c.actual),
                        if c.holds { "✅" } else { "❌" }
                    );
                }
                out.push('\n');
            }
            if !a.stakes.is_empty() {
                out.push_str(
                    "| honest node | stake before (wei) | after | slashed before | after |\n|---|---|---|---|---|\n",
                );
                for st in &a.stakes {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} |",
                        st.node, st.before, st.after, st.slashes_before, st.slashes_after
                    );
                }
                out.push('\n');
            }
        }
    }

    out.push_str("## Faults\n\n");
    if run.faults.is_empty() {
        out.push_str("No faults happened.\n\n");
    } else {
        out.push_str("| from | until | what | nodes | details |\n|---|---|---|---|---|\n");
        let mut faults: Vec<_> = run.faults.iter().collect();
        faults.sort_by_key(|f| f.at_ms);
        for f in faults {
            let nodes: Vec<String> = f.nodes.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                format_value(f.at_ms as f64, Unit::Seconds),
                f.until_ms.map_or_else(
                    || "–".to_string(),
                    |u| format_value(u as f64, Unit::Seconds)
                ),
                f.kind.describe(),
                nodes.join(", "),
                cell(&f.note)
            );
        }
        out.push('\n');
    }

    out.push_str("## Charts\n\n");
    for (file, title) in [
        ("latency.svg", "Latency per job"),
        ("bytes.svg", "Bytes sent per node"),
        ("rounds.svg", "Rounds per job"),
        ("timeline.svg", "Jobs and faults over time"),
    ] {
        let _ = writeln!(out, "![{title}]({file})\n");
    }

    if let Some(scale) = &run.scale {
        out.push_str("## Scale\n\n");
        out.push_str(scale.trim_end());
        out.push_str("\n\n");
    }
    out.push_str("The full record of the run is in `run.json`.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_code_stay_on_one_line() {
        assert_eq!(cell("a | b\nc"), "a \\| b<br>c");
        assert_eq!(cell("< 30: 1, >= 75: 2"), "&lt; 30: 1, &gt;= 75: 2");
        assert_eq!(code("SELECT a\n  FROM t"), "`SELECT a FROM t`");
        assert_eq!(code("a `b`"), "`` a `b` ``");
    }
}
