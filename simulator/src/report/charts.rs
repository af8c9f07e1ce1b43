//! The report's SVG charts: latency per job, rounds per job, bytes sent per node and the fault
//! timeline.

use super::record::{FaultKind, JobOutcome, JobRecord, RunRecord};
use super::svg;

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
