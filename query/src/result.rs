//! A query's result as the receiver sees it: the opened outputs of a [`CompiledQuery`] assembled
//! into a table of [`Cell`]s ([`assemble`]), how tables print ([`format_number`] and `Display`),
//! and their one JSON form (`serde`), which the CLI prints and the simulator's run record stores:
//!
//! | cell | JSON |
//! |---|---|
//! | a group label | the label, a string |
//! | a number | the number (`null` if not finite) |
//! | histogram counts | `[{"bin": label, "count": n}, …]` |
//! | a regression | `{"coefficients": [{"term": name, "value": v}, …], "r_squared": r² or null}` |
//! | a group below the minimum cohort | `{"withheld": "group below the minimum cohort"}` |

use serde::{Deserialize, Serialize};
use sharenet_mpc::ir::ReceivedOutput;

use crate::compile::{CompiledQuery, ItemLayout};

/// One cell of a result table. Its JSON form is in the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "CellJson", from = "CellJson")]
pub enum Cell {
    /// A group label.
    Label(String),
    /// A number.
    Number(f64),
    /// Histogram counts with their bin labels.
    Counts(Vec<(String, f64)>),
    /// Regression terms and R².
    Model {
        /// `(term, coefficient)`.
        coefficients: Vec<(String, f64)>,
        /// R², for linear regression.
        r_squared: Option<f64>,
    },
    /// The group has fewer matching rows than the minimum cohort size: nothing released.
    CohortTooSmall,
}

/// A query's result as the receiver sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// One row per group (one row without GROUP BY).
    pub rows: Vec<Vec<Cell>>,
}

impl std::fmt::Display for Cell {
    /// The cell as result tables print it: labels as they are, numbers by [`format_number`],
    /// histogram bins and regression terms as `name: value` / `term = value` lists.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Label(l) => f.write_str(l),
            Cell::Number(v) => f.write_str(&format_number(*v)),
            Cell::Counts(bins) => {
                let parts: Vec<String> = bins
                    .iter()
                    .map(|(l, v)| format!("{l}: {}", format_number(*v)))
                    .collect();
                f.write_str(&parts.join(", "))
            }
            Cell::Model {
                coefficients,
                r_squared,
            } => {
                let mut parts: Vec<String> = coefficients
                    .iter()
                    .map(|(t, v)| format!("{t} = {}", format_number(*v)))
                    .collect();
                if let Some(r2) = r_squared {
                    parts.push(format!("R² = {}", format_number(*r2)));
                }
                f.write_str(&parts.join(", "))
            }
            Cell::CohortTooSmall => f.write_str("(cohort too small)"),
        }
    }
}

impl std::fmt::Display for QueryResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.columns.join(" | "))?;
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(Cell::to_string).collect();
            writeln!(f, "{}", cells.join(" | "))?;
        }
        Ok(())
    }
}

/// A result number as tables print it: integers without decimals, others with six.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.6}")
    }
}

/// Puts the opened outputs (from [`sharenet_mpc::ir::receive`]) into a result table.
pub fn assemble(compiled: &CompiledQuery, received: &[ReceivedOutput]) -> QueryResult {
    let groups = compiled.groups.as_ref().map_or(1, Vec::len);
    let mut rows = vec![Vec::with_capacity(compiled.items.len()); groups];
    let value = |output: usize, index: usize| -> Option<f64> {
        received
            .get(output)
            .and_then(|o| o.values.get(index).copied().flatten())
    };
    for item in &compiled.items {
        for (g, row) in rows.iter_mut().enumerate() {
            let cell = match item {
                ItemLayout::GroupKey => Cell::Label(
                    compiled
                        .groups
                        .as_ref()
                        .and_then(|l| l.get(g).cloned())
                        .unwrap_or_default(),
                ),
                ItemLayout::Scalar { output, scale } => match value(*output, g) {
                    Some(v) => Cell::Number(v / 10f64.powi(*scale)),
                    None => Cell::CohortTooSmall,
                },
                ItemLayout::Histogram {
                    output,
                    bins,
                    labels,
                } => {
                    let counts: Option<Vec<(String, f64)>> = (0..*bins)
                        .map(|b| value(*output, g * bins + b).map(|v| (labels[b].clone(), v)))
                        .collect();
                    counts.map_or(Cell::CohortTooSmall, Cell::Counts)
                }
                ItemLayout::Coefficients {
                    output,
                    terms,
                    scales,
                    r_squared,
                } => {
                    let per_group = terms.len() + usize::from(*r_squared);
                    let coefficients: Option<Vec<(String, f64)>> = terms
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            value(*output, g * per_group + i)
                                .map(|v| (t.clone(), v / 10f64.powi(scales[i])))
                        })
                        .collect();
                    match coefficients {
                        Some(coefficients) => Cell::Model {
                            coefficients,
                            r_squared: if *r_squared {
                                value(*output, g * per_group + terms.len())
                            } else {
                                None
                            },
                        },
                        None => Cell::CohortTooSmall,
                    }
                }
            };
            row.push(cell);
        }
    }
    QueryResult {
        columns: compiled.columns.clone(),
        rows,
    }
}

/// What a withheld cell says in JSON.
const WITHHELD: &str = "group below the minimum cohort";

/// [`Cell`]'s JSON form (see the module docs); the variants are told apart by their shape.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CellJson {
    Label(String),
    Number(Option<f64>),
    Counts(Vec<BinJson>),
    Model {
        coefficients: Vec<TermJson>,
        r_squared: Option<f64>,
    },
    Withheld {
        withheld: String,
    },
}

#[derive(Serialize, Deserialize)]
struct BinJson {
    bin: String,
    count: f64,
}

#[derive(Serialize, Deserialize)]
struct TermJson {
    term: String,
    value: f64,
}

impl From<Cell> for CellJson {
    fn from(cell: Cell) -> CellJson {
        match cell {
            Cell::Label(l) => CellJson::Label(l),
            Cell::Number(v) => CellJson::Number(v.is_finite().then_some(v)),
            Cell::Counts(bins) => CellJson::Counts(
                bins.into_iter()
                    .map(|(bin, count)| BinJson { bin, count })
                    .collect(),
            ),
            Cell::Model {
                coefficients,
                r_squared,
            } => CellJson::Model {
                coefficients: coefficients
                    .into_iter()
                    .map(|(term, value)| TermJson { term, value })
                    .collect(),
                r_squared,
            },
            Cell::CohortTooSmall => CellJson::Withheld {
                withheld: WITHHELD.to_string(),
            },
        }
    }
}

impl From<CellJson> for Cell {
    fn from(json: CellJson) -> Cell {
        match json {
            CellJson::Label(l) => Cell::Label(l),
            CellJson::Number(v) => Cell::Number(v.unwrap_or(f64::NAN)),
            CellJson::Counts(bins) => {
                Cell::Counts(bins.into_iter().map(|b| (b.bin, b.count)).collect())
            }
            CellJson::Model {
                coefficients,
                r_squared,
            } => Cell::Model {
                coefficients: coefficients
                    .into_iter()
                    .map(|t| (t.term, t.value))
                    .collect(),
                r_squared,
            },
            CellJson::Withheld { .. } => Cell::CohortTooSmall,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn table() -> QueryResult {
        QueryResult {
            columns: vec!["sex".into(), "AVG(cost)".into(), "h".into(), "m".into()],
            rows: vec![
                vec![
                    Cell::Label("f".into()),
                    Cell::Number(12.5),
                    Cell::Counts(vec![("< 40".into(), 3.0), (">= 40".into(), 9.0)]),
                    Cell::Model {
                        coefficients: vec![("intercept".into(), 1.5), ("age".into(), -0.25)],
                        r_squared: Some(0.75),
                    },
                ],
                vec![
                    Cell::Label("m".into()),
                    Cell::CohortTooSmall,
                    Cell::CohortTooSmall,
                    Cell::Model {
                        coefficients: vec![("intercept".into(), 2.0)],
                        r_squared: None,
                    },
                ],
            ],
        }
    }

    /// The JSON form, written out by hand from the module docs.
    const TABLE_JSON: &str = r#"{"columns":["sex","AVG(cost)","h","m"],"rows":[["f",12.5,[{"bin":"< 40","count":3.0},{"bin":">= 40","count":9.0}],{"coefficients":[{"term":"intercept","value":1.5},{"term":"age","value":-0.25}],"r_squared":0.75}],["m",{"withheld":"group below the minimum cohort"},{"withheld":"group below the minimum cohort"},{"coefficients":[{"term":"intercept","value":2.0}],"r_squared":null}]]}"#;

    #[test]
    fn a_table_has_the_documented_json_form_both_ways() {
        assert_eq!(serde_json::to_string(&table()).unwrap(), TABLE_JSON);
        let back: QueryResult = serde_json::from_str(TABLE_JSON).unwrap();
        assert_eq!(back, table());
    }

    #[test]
    fn a_number_that_is_not_finite_is_null() {
        assert_eq!(
            serde_json::to_string(&Cell::Number(f64::NAN)).unwrap(),
            "null"
        );
        let back: Cell = serde_json::from_str("null").unwrap();
        assert!(matches!(back, Cell::Number(v) if v.is_nan()));
    }

    #[test]
    fn json_of_no_cell_shape_is_refused() {
        for bad in [r#"{"bins":[]}"#, "true", r#"[{"bin":"a"}]"#] {
            assert!(serde_json::from_str::<Cell>(bad).is_err(), "{bad}");
        }
    }
}
