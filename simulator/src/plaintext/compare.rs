//! Comparing an MPC result with the plaintext reference, cell by cell, with an explanation of
//! every cell that does not agree.

use serde::{Deserialize, Serialize};
use sharenet_query::{Cell, QueryResult};

use super::{Approx, Expected, Reference, show};

/// The check of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellCheck {
    /// Row of the result table (one per group).
    pub row: usize,
    /// Column name.
    pub column: String,
    /// The group's label, under GROUP BY.
    pub group: Option<String>,
    /// What the MPC returned, as text.
    pub mpc: String,
    /// What the plaintext gives, as text.
    pub expected: String,
    /// Whether they agree.
    pub agree: bool,
    /// How they compare: the difference and the tolerance, or what differs.
    pub note: String,
}

/// The comparison of an MPC result with its reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Whether every cell agrees and the tables have the same shape.
    pub agree: bool,
    /// Every cell's check.
    pub cells: Vec<CellCheck>,
    /// Differences of shape (column names, number of rows).
    pub problems: Vec<String>,
}

impl Comparison {
    /// One line: "agrees (7 cells)", "1 cell of 7 disagrees", "2 cells of 7 disagree".
    pub fn summary(&self) -> String {
        let bad = self.cells.iter().filter(|c| !c.agree).count();
        if !self.problems.is_empty() {
            format!("disagrees: {}", self.problems.join("; "))
        } else if bad == 0 {
            format!("agrees ({})", cells(self.cells.len()))
        } else if bad == 1 {
            format!("1 cell of {} disagrees", self.cells.len())
        } else {
            format!("{bad} cells of {} disagree", self.cells.len())
        }
    }

    /// The summary, then one line per disagreeing cell (or per cell, with `all`).
    pub fn explain(&self, all: bool) -> String {
        let mut out = self.summary();
        for c in self.cells.iter().filter(|c| all || !c.agree) {
            let group = c
                .group
                .as_ref()
                .map_or(String::new(), |g| format!(" [{g}]"));
            out.push_str(&format!(
                "\n  {}{group}: mpc {} vs plaintext {}: {}{}",
                c.column,
                c.mpc,
                c.expected,
                if c.agree { "ok" } else { "DIFFERS" },
                if c.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.note)
                }
            ));
        }
        out
    }
}

fn cells(n: usize) -> String {
    if n == 1 {
        "1 cell".into()
    } else {
        format!("{n} cells")
    }
}

/// Checks one number: `Ok(note)` when it agrees (the note gives the difference), else
/// `Err(why)`. `what` names it in the note.
fn number(got: f64, want: &Approx, tolerance: Option<f64>, what: &str) -> Result<String, String> {
    let diff = (got - want.value).abs();
    let allowed = want.allowed(tolerance);
    let name = if what.is_empty() {
        String::new()
    } else {
        format!("{what}: ")
    };
    if want.accepts(got, tolerance) {
        Ok(if diff == 0.0 {
            String::new()
        } else {
            format!("{name}|Δ| = {diff:.3e} ≤ {allowed:.3e}")
        })
    } else {
        Err(format!(
            "{name}got {}, expected {}, |Δ| = {diff:.3e} > allowed {allowed:.3e}",
            show(got),
            show(want.value)
        ))
    }
}

/// Checks one cell; `Ok(note)` when it agrees, `Err(note)` when not.
fn check(got: &Cell, want: &Expected, tolerance: Option<f64>) -> Result<String, String> {
    match (got, want) {
        (Cell::Label(a), Expected::Label(b)) => {
            if a == b {
                Ok(String::new())
            } else {
                Err(format!("group label {a:?}, expected {b:?}"))
            }
        }
        (Cell::Number(v), Expected::Number(a)) => number(*v, a, tolerance, ""),
        (Cell::Counts(got), Expected::Counts(want)) => {
            if got.len() != want.len() {
                return Err(format!("{} bins, expected {}", got.len(), want.len()));
            }
            let mut notes = Vec::new();
            for ((gl, gv), (wl, wa)) in got.iter().zip(want) {
                if gl != wl {
                    return Err(format!("bin {gl:?}, expected {wl:?}"));
                }
                let note = number(*gv, wa, tolerance, gl)?;
                if !note.is_empty() {
                    notes.push(note);
                }
            }
            Ok(notes.join("; "))
        }
        (
            Cell::Model {
                coefficients: got,
                r_squared: got_r2,
            },
            Expected::Model {
                coefficients: want,
                r_squared: want_r2,
            },
        ) => {
            if got.len() != want.len() {
                return Err(format!(
                    "{} coefficients, expected {}",
                    got.len(),
                    want.len()
                ));
            }
            let mut worst: Option<(f64, String)> = None;
            for ((gt, gv), (wt, wa)) in got.iter().zip(want) {
                if gt != wt {
                    return Err(format!("term {gt:?}, expected {wt:?}"));
                }
                let note = number(*gv, wa, tolerance, gt)?;
                let ratio = (gv - wa.value).abs() / wa.allowed(tolerance);
                if !note.is_empty() && worst.as_ref().is_none_or(|(r, _)| ratio > *r) {
                    worst = Some((ratio, note));
                }
            }
            match (got_r2, want_r2) {
                (Some(g), Some(w)) => {
                    number(*g, w, tolerance, "R²")?;
                }
                (None, None) => {}
                (Some(_), None) => return Err("R² returned but not expected".into()),
                (None, Some(_)) => return Err("R² missing".into()),
            }
            Ok(worst.map_or(String::new(), |(_, n)| format!("closest to its bound: {n}")))
        }
        (Cell::CohortTooSmall, Expected::CohortTooSmall) => Ok(String::new()),
        (Cell::CohortTooSmall, Expected::Borderline(_)) => Ok(
            "the group's size is within rounding of the minimum cohort: either answer is right"
                .into(),
        ),
        (_, Expected::Borderline(inner)) => check(got, inner, tolerance),
        (_, Expected::Undefined(why)) => Err(format!(
            "the plaintext statistic is undefined on these rows ({why}); the MPC's value is meaningless"
        )),
        (Cell::CohortTooSmall, _) => Err("cohort too small, but the group is large enough".into()),
        (_, Expected::CohortTooSmall) => {
            Err("a value was released for a group below the minimum cohort size".into())
        }
        _ => Err("a different kind of result".into()),
    }
}

/// Compares an MPC result with its reference. `tolerance` replaces the documented relative
/// tolerance of floating-point statistics (exact results stay exact).
pub fn agrees(mpc: &QueryResult, expected: &Reference, tolerance: Option<f64>) -> Comparison {
    let mut problems = Vec::new();
    if mpc.columns != expected.columns {
        problems.push(format!(
            "columns {:?}, expected {:?}",
            mpc.columns, expected.columns
        ));
    }
    if mpc.rows.len() != expected.rows.len() {
        problems.push(format!(
            "{} rows, expected {}",
            mpc.rows.len(),
            expected.rows.len()
        ));
    }
    let mut cells = Vec::new();
    for (r, (got_row, want_row)) in mpc.rows.iter().zip(&expected.rows).enumerate() {
        if got_row.len() != want_row.len() {
            problems.push(format!(
                "row {r} has {} cells, expected {}",
                got_row.len(),
                want_row.len()
            ));
        }
        let group = want_row.iter().find_map(|c| match c {
            Expected::Label(l) => Some(l.clone()),
            _ => None,
        });
        for (c, (got, want)) in got_row.iter().zip(want_row).enumerate() {
            let (agree, note) = match check(got, want, tolerance) {
                Ok(note) => (true, note),
                Err(note) => (false, note),
            };
            cells.push(CellCheck {
                row: r,
                column: expected.columns.get(c).cloned().unwrap_or_default(),
                group: group.clone(),
                mpc: got.to_string(),
                expected: want.to_string(),
                agree,
                note,
            });
        }
    }
    Comparison {
        agree: problems.is_empty() && cells.iter().all(|c| c.agree),
        cells,
        problems,
    }
}
