//! The plaintext reference: what a query's result must be, computed directly from the rows in
//! the clear, and the comparison of an MPC result with it.
//!
//! The reference shares only the query front end with the MPC (parsing and type checking, so
//! both read the query the same way); it has its own evaluation: row expressions in exact
//! rational arithmetic (module `eval`), aggregates in f64 with textbook two-pass formulas, linear
//! regression by Gaussian elimination with pivoting on the centred normal equations, and
//! R² from the residuals. It applies the same minimum cohort rule as the network: a group whose
//! matching rows are fewer than `max(k, 2, p + 2)` (p the largest number of regression features)
//! releases nothing.
//!
//! Each expected number carries its tolerance, following `docs/query-language.md` §10: COUNT,
//! SUM, MIN, MAX and HISTOGRAM are exact; statistics finished in secret floating point agree
//! within a relative error of 1e-6 of the value's natural scale (for a variance, the mean square
//! of the values, since the MPC subtracts the squared mean); LOGREG within 1e-3. Divisions by
//! literals are rounded in the MPC to their result scale; their rounding is bounded and added as
//! slack.

mod compare;
mod eval;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sharenet_query::ast::{BinaryAggregate, UnaryAggregate};
use sharenet_query::compile::{LOGREG_ITERATIONS, SIGMOID_BREAKPOINTS};
use sharenet_query::{
    Catalog, ColumnType, OutputType, TypedAggregate, TypedExpr, TypedItemKind, TypedModel,
    TypedQuery, ValueType, compile_front_end,
};

pub use compare::{CellCheck, Comparison, agrees};

use crate::generate::Table;
use crate::scenario::{Job, Scenario};
use eval::{Q, V, eval};

/// The relative tolerance of statistics finished in secret floating point (documented).
pub const FLOAT_TOLERANCE: f64 = 1e-6;
/// The relative tolerance of LOGREG's fixed-point gradient descent (documented).
pub const LOGREG_TOLERANCE: f64 = 1e-3;

/// Why a reference could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaintextError {
    /// The query does not parse or type-check.
    #[error("{0}")]
    Query(String),
    /// A dataset of the query has no table.
    #[error("no table for dataset `{dataset}`")]
    MissingTable {
        /// The dataset.
        dataset: String,
    },
    /// A table's schema is not the query's.
    #[error("the table of `{dataset}` does not have the query's schema: {difference}")]
    SchemaMismatch {
        /// The dataset.
        dataset: String,
        /// The first difference.
        difference: String,
    },
    /// A minimum cohort size of 0.
    #[error("the minimum cohort size must be at least 1")]
    MinCohort,
    /// An exact intermediate value beyond 128-bit rationals (nested divisions of huge values).
    #[error("an intermediate value is too large for the exact reference")]
    Overflow,
    /// The typed query is inconsistent with its rows (a bug, not bad input).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Settings of a reference computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceOptions {
    /// The minimum cohort size k the query runs with (the largest of its datasets' owners').
    pub min_cohort: u64,
}

impl Default for ReferenceOptions {
    fn default() -> Self {
        ReferenceOptions { min_cohort: 10 }
    }
}

/// A number the MPC must reproduce, and how closely.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Approx {
    /// The plaintext value.
    pub value: f64,
    /// The value's natural scale: the relative tolerance applies to `max(|value|, scale)`.
    pub scale: f64,
    /// Relative tolerance (0 for exact results).
    pub relative: f64,
    /// Absolute allowance on top, for roundings the MPC is allowed (divisions by literals, rows
    /// within rounding of a WHERE boundary).
    pub slack: f64,
}

impl Approx {
    fn exact(value: f64, slack: f64) -> Approx {
        Approx {
            value,
            scale: 0.0,
            relative: 0.0,
            slack,
        }
    }

    fn float(value: f64, scale: f64, slack: f64) -> Approx {
        Approx {
            value,
            scale,
            relative: FLOAT_TOLERANCE,
            slack,
        }
    }

    /// Whether the result is exact (COUNT, SUM, MIN, MAX, HISTOGRAM without divisions).
    pub fn is_exact(&self) -> bool {
        self.relative == 0.0 && self.slack == 0.0
    }

    /// The largest allowed |mpc − value|, with `relative` replacing the default relative
    /// tolerance of a floating-point statistic (exact results stay exact).
    pub fn allowed(&self, relative: Option<f64>) -> f64 {
        let rel = match relative {
            Some(r) if self.relative > 0.0 => r,
            _ => self.relative,
        };
        // Exact values still go through one f64 division by 10^scale when decoded.
        let decode = 1e-12 * self.value.abs().max(1.0);
        rel * self.value.abs().max(self.scale) + self.slack + decode
    }

    /// Whether `got` is within the tolerance.
    pub fn accepts(&self, got: f64, relative: Option<f64>) -> bool {
        got.is_finite() && (got - self.value).abs() <= self.allowed(relative)
    }
}

/// One expected cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// A group label.
    Label(String),
    /// A number.
    Number(Approx),
    /// Histogram bins: label and count.
    Counts(Vec<(String, Approx)>),
    /// Regression coefficients (`intercept` first) and, for LINREG, R².
    Model {
        /// `(term, coefficient)`.
        coefficients: Vec<(String, Approx)>,
        /// R² (LINREG only).
        r_squared: Option<Approx>,
    },
    /// The group has fewer matching rows than the minimum cohort size.
    CohortTooSmall,
    /// The group's row count is within rounding of the minimum cohort size (rows close to a
    /// WHERE boundary): "cohort too small" and this value are both right.
    Borderline(Box<Expected>),
    /// The statistic is not defined on these rows (a constant column in CORR, collinear
    /// regression features): the MPC's answer is meaningless, and no answer agrees.
    Undefined(String),
}

/// The expected result table of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Result column names (the select-list names, as the MPC result has them).
    pub columns: Vec<String>,
    /// One row per group (one row without GROUP BY).
    pub rows: Vec<Vec<Expected>>,
    /// The effective minimum cohort size: `max(k, 2, p + 2)`.
    pub cohort_threshold: u64,
    /// Rows read (the union of the datasets).
    pub rows_read: usize,
    /// Rows whose WHERE condition is within rounding of its boundary (usually 0).
    pub unsure_rows: usize,
}

/// Computes the reference of `text` over `tables` (by dataset name): the query is checked
/// against `catalog` first.
pub fn reference_for(
    text: &str,
    catalog: &Catalog,
    tables: &BTreeMap<String, Table>,
    options: &ReferenceOptions,
) -> Result<Reference, PlaintextError> {
    let query =
        compile_front_end(text, catalog).map_err(|e| PlaintextError::Query(e.render(text)))?;
    let chosen: Vec<&Table> = query
        .datasets
        .iter()
        .map(|d| {
            tables
                .get(d)
                .ok_or_else(|| PlaintextError::MissingTable { dataset: d.clone() })
        })
        .collect::<Result<_, _>>()?;
    reference(&query, &chosen, options)
}

/// The reference of a scenario's job over the scenario's tables (from [`Scenario::tables`]),
/// with the minimum cohort size of the job's datasets' owners.
pub fn reference_for_job(
    scenario: &Scenario,
    job: &Job,
    tables: &BTreeMap<String, Table>,
) -> Result<Reference, PlaintextError> {
    let mut catalog = Catalog::new();
    for (name, table) in tables {
        catalog
            .insert(name, table.schema().clone())
            .map_err(|e| PlaintextError::Internal(e.to_string()))?;
    }
    let query = compile_front_end(&job.query, &catalog)
        .map_err(|e| PlaintextError::Query(e.render(&job.query)))?;
    let options = ReferenceOptions {
        min_cohort: scenario.min_cohort_for(&query.datasets),
    };
    let chosen: Vec<&Table> = query
        .datasets
        .iter()
        .map(|d| {
            tables
                .get(d)
                .ok_or_else(|| PlaintextError::MissingTable { dataset: d.clone() })
        })
        .collect::<Result<_, _>>()?;
    reference(&query, &chosen, &options)
}

/// Computes the reference of a checked query over its datasets' tables, given in FROM order.
pub fn reference(
    query: &TypedQuery,
    tables: &[&Table],
    options: &ReferenceOptions,
) -> Result<Reference, PlaintextError> {
    if options.min_cohort == 0 {
        return Err(PlaintextError::MinCohort);
    }
    if tables.len() != query.datasets.len() {
        return Err(PlaintextError::MissingTable {
            dataset: query
                .datasets
                .get(tables.len())
                .cloned()
                .unwrap_or_default(),
        });
    }
    for (name, table) in query.datasets.iter().zip(tables) {
        if let Some((_, difference)) = table.schema().first_difference(&query.schema) {
            return Err(PlaintextError::SchemaMismatch {
                dataset: name.clone(),
                difference,
            });
        }
    }
    let types: Vec<ValueType> = query
        .schema
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| match &c.ty {
            ColumnType::Integer => ValueType::Int,
            ColumnType::Fixed { scale } => ValueType::Fixed(*scale),
            ColumnType::Boolean => ValueType::Bool,
            ColumnType::Category { .. } => ValueType::Category(i),
        })
        .collect();
    let rows: Vec<&[i64]> = tables
        .iter()
        .flat_map(|t| t.rows().iter().map(Vec::as_slice))
        .collect();
    // The WHERE mask, and the group of each row.
    let mut mask = Vec::with_capacity(rows.len());
    for row in &rows {
        mask.push(match &query.filter {
            Some(f) => eval(f, row, &types)?.truth()?,
            None => (true, true),
        });
    }
    let groups: Vec<String> = query
        .group_by
        .as_ref()
        .map_or_else(|| vec![String::new()], |g| g.groups.clone());
    let group_of = |row: &[i64]| -> usize {
        query
            .group_by
            .as_ref()
            .and_then(|g| row.get(g.column))
            .and_then(|v| usize::try_from(*v).ok())
            .unwrap_or(0)
    };
    let features = query
        .items
        .iter()
        .filter_map(|i| match &i.kind {
            TypedItemKind::Aggregate(TypedAggregate::LinReg(m) | TypedAggregate::LogReg(m)) => {
                Some(m.features.len() as u64 + 2)
            }
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let threshold = options.min_cohort.max(2).max(features);
    let ctx = Context {
        rows: &rows,
        types: &types,
    };
    let mut out = Vec::with_capacity(groups.len());
    for (g, label) in groups.iter().enumerate() {
        let mut members = Vec::new();
        let mut unsure = Vec::new();
        let mut sure_members = 0u64;
        for (r, row) in rows.iter().enumerate() {
            if group_of(row) != g {
                continue;
            }
            let (inside, sure) = mask[r];
            if inside {
                members.push(r);
                if sure {
                    sure_members += 1;
                }
            }
            if !sure {
                unsure.push(r);
            }
        }
        // Every unsure row might be counted in, or not.
        let high = sure_members + unsure.len() as u64;
        let mut cells = Vec::with_capacity(query.items.len());
        for item in &query.items {
            let cell = match &item.kind {
                TypedItemKind::GroupKey => Expected::Label(label.clone()),
                TypedItemKind::Aggregate(agg) => {
                    if high < threshold {
                        Expected::CohortTooSmall
                    } else {
                        let value = ctx.aggregate(agg, &item.output, &members, &unsure)?;
                        if sure_members >= threshold {
                            value
                        } else {
                            Expected::Borderline(Box::new(value))
                        }
                    }
                }
            };
            cells.push(cell);
        }
        out.push(cells);
    }
    Ok(Reference {
        columns: query.items.iter().map(|i| i.name.clone()).collect(),
        rows: out,
        cohort_threshold: threshold,
        rows_read: rows.len(),
        unsure_rows: mask.iter().filter(|(_, sure)| !sure).count(),
    })
}

/// The rows and column types a query is evaluated over.
struct Context<'a> {
    rows: &'a [&'a [i64]],
    types: &'a [ValueType],
}

/// One numeric argument over a group: exact values, f64 values, rounding bounds, and the values
/// on the unsure rows.
struct Sample {
    exact: Vec<Q>,
    x: Vec<f64>,
    max_err: f64,
    sum_err: f64,
    unsure: Vec<f64>,
}

impl Sample {
    fn n(&self) -> f64 {
        self.x.len() as f64
    }

    fn mean(&self) -> f64 {
        self.x.iter().sum::<f64>() / self.n()
    }

    /// Σ (x − mean)² / n.
    fn var_pop(&self) -> f64 {
        let m = self.mean();
        self.x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / self.n()
    }

    /// The mean square, E[x²]: the natural scale of a variance computed as Σx²/n − mean².
    fn mean_square(&self) -> f64 {
        self.x.iter().map(|v| v * v).sum::<f64>() / self.n()
    }

    /// How much roundings (division by literals, unsure rows) may move a second-order
    /// statistic, relative to its natural scale.
    fn widening(&self) -> f64 {
        let sd = self.var_pop().sqrt();
        let rounding = if self.max_err > 0.0 {
            if sd > 0.0 {
                2.0 * self.max_err / sd
            } else {
                1.0
            }
        } else {
            0.0
        };
        rounding + 2.0 * self.unsure.len() as f64 / self.n().max(1.0)
    }
}

impl Context<'_> {
    fn sample(
        &self,
        e: &TypedExpr,
        members: &[usize],
        unsure: &[usize],
    ) -> Result<Sample, PlaintextError> {
        let mut s = Sample {
            exact: Vec::with_capacity(members.len()),
            x: Vec::with_capacity(members.len()),
            max_err: 0.0,
            sum_err: 0.0,
            unsure: Vec::with_capacity(unsure.len()),
        };
        for &r in members {
            let (q, err) = self.value(e, r)?.num()?;
            s.exact.push(q);
            s.x.push(q.to_f64());
            s.max_err = s.max_err.max(err);
            s.sum_err += err;
        }
        for &r in unsure {
            s.unsure.push(self.value(e, r)?.num()?.0.to_f64());
        }
        Ok(s)
    }

    fn value(&self, e: &TypedExpr, r: usize) -> Result<V, PlaintextError> {
        let row = self
            .rows
            .get(r)
            .ok_or_else(|| PlaintextError::Internal(format!("no row {r}")))?;
        eval(e, row, self.types)
    }

    fn aggregate(
        &self,
        agg: &TypedAggregate,
        output: &OutputType,
        members: &[usize],
        unsure: &[usize],
    ) -> Result<Expected, PlaintextError> {
        let n = members.len();
        let u = unsure.len() as f64;
        Ok(match agg {
            TypedAggregate::CountStar => Expected::Number(Approx::exact(n as f64, u)),
            TypedAggregate::Unary {
                func: UnaryAggregate::Count,
                arg,
            } => {
                let mut count = 0u64;
                let mut doubtful = 0u64;
                for &r in members {
                    let (b, sure) = self.value(arg, r)?.truth()?;
                    count += u64::from(b);
                    doubtful += u64::from(!sure);
                }
                Expected::Number(Approx::exact(count as f64, u + doubtful as f64))
            }
            TypedAggregate::Unary { func, arg } => {
                let s = self.sample(arg, members, unsure)?;
                unary(*func, &s)?
            }
            TypedAggregate::Binary { func, a, b } => {
                let sa = self.sample(a, members, unsure)?;
                let sb = self.sample(b, members, unsure)?;
                binary(*func, &sa, &sb)
            }
            TypedAggregate::Histogram { arg, edges } => {
                let scale = arg.ty.scale().unwrap_or(0);
                let edges: Vec<Q> = edges
                    .iter()
                    .map(|e| Q::units(*e, scale))
                    .collect::<Result<_, _>>()?;
                let s = self.sample(arg, members, unsure)?;
                let mut bins = vec![0u64; edges.len() + 1];
                let mut doubtful = 0u64;
                for (q, x) in s.exact.iter().zip(&s.x) {
                    let mut bin = 0;
                    for e in &edges {
                        if q.cmp(*e)? != std::cmp::Ordering::Less {
                            bin += 1;
                        }
                    }
                    if let Some(b) = bins.get_mut(bin) {
                        *b += 1;
                    }
                    if s.max_err > 0.0 && edges.iter().any(|e| (x - e.to_f64()).abs() <= s.max_err)
                    {
                        doubtful += 1;
                    }
                }
                let labels = histogram_labels(&edges);
                let slack = u + doubtful as f64;
                Expected::Counts(
                    labels
                        .into_iter()
                        .zip(bins)
                        .map(|(l, c)| (l, Approx::exact(c as f64, slack)))
                        .collect(),
                )
            }
            TypedAggregate::LinReg(model) => {
                let (y, xs) = self.model(model, members, unsure)?;
                let terms = match output {
                    OutputType::Coefficients { terms, .. } => terms.clone(),
                    _ => model_terms(model),
                };
                linreg(&terms, &y, &xs)
            }
            TypedAggregate::LogReg(model) => {
                let (y, xs) = self.model(model, members, unsure)?;
                let terms = match output {
                    OutputType::Coefficients { terms, .. } => terms.clone(),
                    _ => model_terms(model),
                };
                logreg(&terms, &y, &xs)
            }
        })
    }

    fn model(
        &self,
        model: &TypedModel,
        members: &[usize],
        unsure: &[usize],
    ) -> Result<(Sample, Vec<Sample>), PlaintextError> {
        let y = self.sample(&model.target, members, unsure)?;
        let xs = model
            .features
            .iter()
            .map(|f| self.sample(f, members, unsure))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((y, xs))
    }
}

fn model_terms(model: &TypedModel) -> Vec<String> {
    let mut terms = vec!["intercept".to_string()];
    terms.extend(model.feature_names.iter().cloned());
    terms
}

/// A number as the result tables show it (the MPC side's own formatting).
fn show(v: f64) -> String {
    sharenet_query::format_number(v)
}

/// `< e1`, `[e1, e2)`, ..., `>= ek`: the bin labels of the result table.
fn histogram_labels(edges: &[Q]) -> Vec<String> {
    let mut labels = Vec::with_capacity(edges.len() + 1);
    if let (Some(first), Some(last)) = (edges.first(), edges.last()) {
        labels.push(format!("< {}", show(first.to_f64())));
        for w in edges.windows(2) {
            labels.push(format!(
                "[{}, {})",
                show(w[0].to_f64()),
                show(w[1].to_f64())
            ));
        }
        labels.push(format!(">= {}", show(last.to_f64())));
    }
    labels
}

fn unary(func: UnaryAggregate, s: &Sample) -> Result<Expected, PlaintextError> {
    let n = s.n();
    let u = s.unsure.len() as f64;
    Ok(Expected::Number(match func {
        UnaryAggregate::Count => {
            return Err(PlaintextError::Internal("COUNT handled above".into()));
        }
        UnaryAggregate::Sum => {
            let mut total = Q::ZERO;
            for q in &s.exact {
                total = total.add(*q)?;
            }
            let moved: f64 = s.unsure.iter().map(|v| v.abs()).sum();
            Approx::exact(total.to_f64(), s.sum_err + moved)
        }
        UnaryAggregate::Avg => {
            let mean = s.mean();
            let moved = s
                .unsure
                .iter()
                .map(|v| (v - mean).abs())
                .fold(0.0, f64::max);
            let slack = s.sum_err / n + u * moved / (n - u).max(1.0);
            Approx::float(mean, s.mean_square().sqrt(), slack)
        }
        UnaryAggregate::VarPop | UnaryAggregate::VarSamp => {
            let var = if func == UnaryAggregate::VarSamp {
                s.var_pop() * n / (n - 1.0)
            } else {
                s.var_pop()
            };
            let scale = s.mean_square();
            Approx::float(var, scale, s.widening() * scale)
        }
        UnaryAggregate::StddevPop | UnaryAggregate::StddevSamp => {
            let var = if func == UnaryAggregate::StddevSamp {
                s.var_pop() * n / (n - 1.0)
            } else {
                s.var_pop()
            };
            let scale = s.mean_square().sqrt();
            Approx::float(var.sqrt(), scale, s.widening() * scale)
        }
        UnaryAggregate::Min | UnaryAggregate::Max => {
            let want_max = func == UnaryAggregate::Max;
            let mut best: Option<Q> = None;
            for q in &s.exact {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let order = q.cmp(b)?;
                        if want_max {
                            order == std::cmp::Ordering::Greater
                        } else {
                            order == std::cmp::Ordering::Less
                        }
                    }
                };
                if better {
                    best = Some(*q);
                }
            }
            let value = best.map_or(0.0, Q::to_f64);
            // An unsure row could be the extreme if it beats the value.
            let moved = s
                .unsure
                .iter()
                .map(|v| if want_max { v - value } else { value - v })
                .fold(0.0, f64::max);
            Approx::exact(value, s.max_err + moved)
        }
    }))
}

fn binary(func: BinaryAggregate, a: &Sample, b: &Sample) -> Expected {
    let n = a.n();
    let (ma, mb) = (a.mean(), b.mean());
    let cross: f64 = a.x.iter().zip(&b.x).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let widening = a.widening() + b.widening();
    match func {
        BinaryAggregate::CovarPop | BinaryAggregate::CovarSamp => {
            let divisor = if func == BinaryAggregate::CovarSamp {
                n - 1.0
            } else {
                n
            };
            let scale = (a.mean_square() * b.mean_square()).sqrt();
            Expected::Number(Approx::float(cross / divisor, scale, widening * scale))
        }
        BinaryAggregate::Corr => {
            let (va, vb) = (a.var_pop(), b.var_pop());
            if va <= 0.0 || vb <= 0.0 {
                return Expected::Undefined(
                    "CORR of a value that is constant over these rows".into(),
                );
            }
            // The MPC divides a covariance computed as Σab − Σa·mean_b, whose rounding is
            // relative to the mean squares, by the standard deviations: the natural scale of
            // the correlation grows with mean²/variance of each side.
            let scale = (a.mean_square() / va).sqrt() * (b.mean_square() / vb).sqrt();
            let r = cross / n / (va * vb).sqrt();
            Expected::Number(Approx::float(r, scale, widening))
        }
    }
}

/// Solves `a·x = b` by Gaussian elimination with partial pivoting; `None` when singular.
// Elimination reads one row while writing another: index loops say that most plainly.
#[allow(clippy::needless_range_loop)]
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let p = b.len();
    let norm = a
        .iter()
        .flat_map(|r| r.iter())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    for k in 0..p {
        let pivot = (k..p).max_by(|i, j| a[*i][k].abs().total_cmp(&a[*j][k].abs()))?;
        if a[pivot][k].abs() <= 1e-12 * norm.max(f64::MIN_POSITIVE) {
            return None;
        }
        a.swap(k, pivot);
        b.swap(k, pivot);
        for i in k + 1..p {
            let f = a[i][k] / a[k][k];
            for j in k..p {
                a[i][j] -= f * a[k][j];
            }
            b[i] -= f * b[k];
        }
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        let mut acc = b[i];
        for j in i + 1..p {
            acc -= a[i][j] * x[j];
        }
        x[i] = acc / a[i][i];
    }
    Some(x)
}

fn linreg(terms: &[String], y: &Sample, xs: &[Sample]) -> Expected {
    let n = y.n();
    let p = xs.len();
    let my = y.mean();
    let means: Vec<f64> = xs.iter().map(Sample::mean).collect();
    let centred = |s: &Sample, m: f64| -> Vec<f64> { s.x.iter().map(|v| v - m).collect() };
    let cx: Vec<Vec<f64>> = xs.iter().zip(&means).map(|(s, m)| centred(s, *m)).collect();
    let cy = centred(y, my);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / n;
    let matrix: Vec<Vec<f64>> = (0..p)
        .map(|i| (0..p).map(|j| dot(&cx[i], &cx[j])).collect())
        .collect();
    let rhs: Vec<f64> = (0..p).map(|i| dot(&cx[i], &cy)).collect();
    let Some(beta) = solve(matrix, rhs) else {
        return Expected::Undefined(
            "the regression features are collinear (or one is constant) over these rows".into(),
        );
    };
    let intercept = my - beta.iter().zip(&means).map(|(b, m)| b * m).sum::<f64>();
    // R² from the residuals, independently of how the MPC computes it.
    let sst: f64 = cy.iter().map(|v| v * v).sum();
    if sst <= 0.0 {
        return Expected::Undefined("the regression target is constant over these rows".into());
    }
    let sse: f64 = (0..y.x.len())
        .map(|r| {
            let fit = intercept + (0..p).map(|j| beta[j] * xs[j].x[r]).sum::<f64>();
            (y.x[r] - fit).powi(2)
        })
        .sum();
    let sd_y = y.var_pop().sqrt();
    let widening = y.widening() + xs.iter().map(Sample::widening).sum::<f64>();
    // Natural scales: a slope in units of sd(y)/sd(x); the intercept in units of the target
    // and of each feature's contribution at its mean square.
    let mut coefficients = Vec::with_capacity(p + 1);
    let intercept_scale = y.mean_square().sqrt()
        + beta
            .iter()
            .zip(xs)
            .map(|(b, s)| b.abs() * s.mean_square().sqrt())
            .sum::<f64>();
    coefficients.push((
        terms.first().cloned().unwrap_or_else(|| "intercept".into()),
        Approx::float(intercept, intercept_scale, widening * intercept_scale),
    ));
    for (j, (b, s)) in beta.iter().zip(xs).enumerate() {
        let sd = s.var_pop().sqrt();
        let scale = if sd > 0.0 { sd_y / sd } else { b.abs() };
        coefficients.push((
            terms.get(j + 1).cloned().unwrap_or_default(),
            Approx::float(*b, scale, widening * scale),
        ));
    }
    Expected::Model {
        coefficients,
        r_squared: Some(Approx::float(1.0 - sse / sst, 1.0, widening)),
    }
}

/// The documented piecewise-linear sigmoid: σ interpolated between the breakpoints, constant
/// outside them.
fn sigmoid_pieces(z: f64) -> f64 {
    let s = |x: f64| 1.0 / (1.0 + (-x).exp());
    let b = SIGMOID_BREAKPOINTS;
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return s(z);
    };
    if z <= *first {
        return s(*first);
    }
    if z >= *last {
        return s(*last);
    }
    for w in b.windows(2) {
        if z <= w[1] {
            let t = (z - w[0]) / (w[1] - w[0]);
            return s(w[0]) + t * (s(w[1]) - s(w[0]));
        }
    }
    s(z)
}

/// LOGREG's documented algorithm in f64: standardise each feature (population standard
/// deviation), run the fixed number of full gradient steps (step 1, mean gradient) with the
/// piecewise-linear sigmoid, and map the coefficients back to the features' units.
fn logreg(terms: &[String], y: &Sample, xs: &[Sample]) -> Expected {
    let n = y.n();
    let p = xs.len();
    let means: Vec<f64> = xs.iter().map(Sample::mean).collect();
    let sds: Vec<f64> = xs.iter().map(|s| s.var_pop().sqrt()).collect();
    if sds.iter().any(|s| *s <= 0.0) {
        return Expected::Undefined("a LOGREG feature is constant over these rows".into());
    }
    let mut beta = vec![0.0; p + 1];
    for _ in 0..LOGREG_ITERATIONS {
        let mut grad = vec![0.0; p + 1];
        for r in 0..y.x.len() {
            let z: Vec<f64> = (0..p).map(|j| (xs[j].x[r] - means[j]) / sds[j]).collect();
            let eta = beta[0] + (0..p).map(|j| beta[j + 1] * z[j]).sum::<f64>();
            let residual = sigmoid_pieces(eta) - y.x[r];
            grad[0] += residual;
            for j in 0..p {
                grad[j + 1] += residual * z[j];
            }
        }
        for (b, g) in beta.iter_mut().zip(&grad) {
            *b -= g / n;
        }
    }
    let slopes: Vec<f64> = (0..p).map(|j| beta[j + 1] / sds[j]).collect();
    let intercept = beta[0] - (0..p).map(|j| slopes[j] * means[j]).sum::<f64>();
    let widening = y.widening() + xs.iter().map(Sample::widening).sum::<f64>();
    let tolerance = |value: f64, scale: f64| Approx {
        value,
        scale,
        relative: LOGREG_TOLERANCE,
        slack: widening * scale,
    };
    let mut coefficients = Vec::with_capacity(p + 1);
    let intercept_scale =
        intercept.abs() + (0..p).map(|j| (slopes[j] * means[j]).abs()).sum::<f64>() + 0.1;
    coefficients.push((
        terms.first().cloned().unwrap_or_else(|| "intercept".into()),
        tolerance(intercept, intercept_scale),
    ));
    for j in 0..p {
        coefficients.push((
            terms.get(j + 1).cloned().unwrap_or_default(),
            tolerance(slopes[j], slopes[j].abs() + 0.1 / sds[j]),
        ));
    }
    Expected::Model {
        coefficients,
        r_squared: None,
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Label(l) => f.write_str(l),
            Expected::Number(a) => f.write_str(&show(a.value)),
            Expected::Counts(bins) => {
                let parts: Vec<String> = bins
                    .iter()
                    .map(|(l, a)| format!("{l}: {}", show(a.value)))
                    .collect();
                f.write_str(&parts.join(", "))
            }
            Expected::Model {
                coefficients,
                r_squared,
            } => {
                let mut parts: Vec<String> = coefficients
                    .iter()
                    .map(|(t, a)| format!("{t} = {}", show(a.value)))
                    .collect();
                if let Some(r2) = r_squared {
                    parts.push(format!("R² = {}", show(r2.value)));
                }
                f.write_str(&parts.join(", "))
            }
            Expected::CohortTooSmall => f.write_str("(cohort too small)"),
            Expected::Borderline(inner) => write!(f, "{inner} or (cohort too small)"),
            Expected::Undefined(why) => write!(f, "(undefined: {why})"),
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.columns.join(" | "))?;
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(ToString::to_string).collect();
            writeln!(f, "{}", cells.join(" | "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sigmoid_is_the_documented_one() {
        for i in -80..=80 {
            let z = f64::from(i) / 10.0;
            let ours = sigmoid_pieces(z);
            let theirs = sharenet_query::compile::sigmoid_approximation(z);
            assert!((ours - theirs).abs() < 1e-12, "{z}: {ours} vs {theirs}");
            assert!((ours - 1.0 / (1.0 + (-z).exp())).abs() <= 0.025, "{z}");
        }
    }

    #[test]
    fn solve_pivots_and_detects_singular_systems() {
        // The first pivot is zero: without row swaps this would divide by zero.
        let x = solve(vec![vec![0.0, 1.0], vec![2.0, 0.0]], vec![3.0, 4.0]).unwrap();
        assert_eq!(x, vec![2.0, 3.0]);
        assert_eq!(
            solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]),
            None
        );
    }

    #[test]
    fn tolerances_follow_the_documentation() {
        let exact = Approx::exact(42.0, 0.0);
        assert!(exact.is_exact());
        assert!(exact.accepts(42.0, None));
        assert!(
            !exact.accepts(43.0, Some(0.5)),
            "a tolerance does not loosen exact results"
        );
        let float = Approx::float(100.0, 1000.0, 0.0);
        assert!(float.accepts(100.0 + 0.9e-3, None));
        assert!(!float.accepts(100.0 + 1.1e-3, None));
        assert!(float.accepts(100.5, Some(1e-3)));
        assert!(!float.accepts(f64::NAN, None));
    }
}
