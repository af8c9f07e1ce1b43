//! The compiler from a type-checked query to the IR, and the [`CompiledQuery`] it gives (the
//! program, its inputs and how its outputs make a result table: assembled in [`crate::result`]).
//!
//! Row expressions become vectorised integer nodes over the union of the datasets' rows: decimal
//! values are exact integers with a decimal scale tracked here, WHERE becomes a secret 0/1 mask,
//! GROUP BY a secret 0/1 indicator per group, and every aggregate a masked sum or inner product
//! (the cost of one multiplication however many rows). What needs division or square roots (AVG,
//! variances, correlation, regression) finishes in secret floating point on those few sums.
//! Every group's row count is compared with the minimum cohort size inside the MPC; only that
//! bit is opened, and a group below it releases nothing else.
//!
//! Magnitudes are tracked as bit bounds (`|v| < 2^bits`) from each column's declared width, so a
//! query whose intermediate values could exceed what the protocols handle is refused here, before
//! anything runs.

use std::collections::BTreeMap;

use super::ast::{BinaryAggregate, Span, UnaryAggregate};
use super::schema::ColumnType;
use super::typed::{
    ArithOp, CmpOp, TypedAggregate, TypedExpr, TypedExprKind, TypedItemKind, TypedModel,
    TypedQuery, ValueType,
};
use crate::result::format_number;
use sharenet_mpc::ir::{
    Cost, Decode, IrError, NodeId, Op, Output, Program, Unsupported, estimate, estimate_with,
};
use sharenet_mpc::protocol::{Extremum, Security};

/// Default bit width of INTEGER and FIXED columns: `|value × 10^scale| < 2^31`.
pub const DEFAULT_NUMERIC_BITS: u32 = 31;

/// Default minimum cohort size: a group with fewer matching rows releases nothing.
pub const DEFAULT_MIN_COHORT: u64 = 10;

/// Gradient steps of LOGREG.
pub const LOGREG_ITERATIONS: usize = 20;

/// Fractional bits of LOGREG's fixed-point gradient descent.
pub const LOGREG_FRACTION_BITS: u32 = 16;

/// Breakpoints of the piecewise-linear sigmoid used by LOGREG: it interpolates σ between them and
/// is constant outside (maximum error 0.025).
pub const SIGMOID_BREAKPOINTS: [f64; 6] = [-5.0, -2.5, -1.0, 1.0, 2.5, 5.0];

/// The sigmoid approximation LOGREG evaluates inside the MPC, in plain f64 (for references).
pub fn sigmoid_approximation(z: f64) -> f64 {
    let b = SIGMOID_BREAKPOINTS;
    let s = |x: f64| 1.0 / (1.0 + (-x).exp());
    if z <= b[0] {
        return s(b[0]);
    }
    for w in b.windows(2) {
        if z <= w[1] {
            return s(w[0]) + (s(w[1]) - s(w[0])) * (z - w[0]) / (w[1] - w[0]);
        }
    }
    s(b[b.len() - 1])
}

/// Why a checked query cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// An intermediate value could exceed what comparisons or conversions handle.
    #[error(
        "{span}: {what} may reach 2^{bits}, beyond the 2^{max} this committee can compare or convert; declare a smaller bit width for the columns involved or narrow the expression"
    )]
    TooLarge {
        /// Where.
        span: Span,
        /// What value.
        what: String,
        /// Its bit bound.
        bits: u32,
        /// The limit.
        max: u32,
    },
    /// A construct the compiler does not support yet.
    #[error("{span}: {what} is not supported yet; {hint}")]
    Unsupported {
        /// Where.
        span: Span,
        /// What.
        what: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The options do not fit the query.
    #[error("{0}")]
    Options(String),
    /// An internal inconsistency while building the program.
    #[error("internal error while building the program: {0}")]
    Ir(#[from] IrError),
}

/// Settings of a compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    /// Minimum number of matching rows per group for a result to be released (at least 1).
    pub min_cohort: u64,
    /// Bit width of each column of the schema (`None`: the default for its type).
    pub column_bits: Vec<Option<u32>>,
    /// The largest bit length the committee can compare (`Session::max_comparison_bits`).
    pub max_bits: u32,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            min_cohort: DEFAULT_MIN_COHORT,
            column_bits: Vec::new(),
            max_bits: 83,
        }
    }
}

/// How one select item's result is read from the opened outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemLayout {
    /// The group's label.
    GroupKey,
    /// One value per group: IR output `output`, divided by `10^scale`.
    Scalar {
        /// Index of the IR output.
        output: usize,
        /// Decimal scale of the opened value.
        scale: i32,
    },
    /// `bins` counts per group.
    Histogram {
        /// Index of the IR output.
        output: usize,
        /// Bins per group.
        bins: usize,
        /// Bin labels.
        labels: Vec<String>,
    },
    /// Coefficients (and R²) per group.
    Coefficients {
        /// Index of the IR output (terms, then R² if present, per group).
        output: usize,
        /// Term names (`intercept` first).
        terms: Vec<String>,
        /// Decimal scale of each term.
        scales: Vec<i32>,
        /// Whether R² follows the terms.
        r_squared: bool,
    },
}

/// A compiled query: the program, which schema column feeds each program input, and how to read
/// the result.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQuery {
    /// The program every committee member runs.
    pub program: Program,
    /// For each program input, the schema column it reads (rows of the union, FROM order).
    pub inputs: Vec<usize>,
    /// Result columns (select-list names).
    pub columns: Vec<String>,
    /// Group labels (one row per group), or `None` for a single row.
    pub groups: Option<Vec<String>>,
    /// How each item is read.
    pub items: Vec<ItemLayout>,
}

impl CompiledQuery {
    /// The predicted cost for a semi-honest committee of `n` with threshold `t`.
    pub fn cost(&self, n: usize, t: usize) -> Cost {
        estimate(&self.program, n, t)
    }

    /// The predicted cost for a committee of `n` with threshold `t` at `security`, or why that
    /// committee cannot run the query at that level ([`estimate_with`]).
    pub fn cost_at(&self, n: usize, t: usize, security: Security) -> Result<Cost, Unsupported> {
        estimate_with(&self.program, n, t, security)
    }

    /// A human-readable EXPLAIN: the plan, then the cost per party at both security levels side
    /// by side (a level the committee cannot run is named with the reason).
    pub fn explain(&self, n: usize, t: usize) -> String {
        let groups = self.groups.as_ref().map_or(1, Vec::len);
        let mut out = format!(
            "plan: {} rows x {} input columns, {} group(s), {} IR nodes\n\
             cost for n = {n}, t = {t}, per party (input loading excluded):",
            self.program.rows,
            self.program.columns,
            groups,
            self.program.nodes.len(),
        );
        let levels = [Security::SemiHonest, Security::Malicious];
        let costs: Vec<(Security, Cost)> = levels
            .iter()
            .filter_map(|&s| self.cost_at(n, t, s).ok().map(|c| (s, c)))
            .collect();
        if !costs.is_empty() {
            out.push_str(&format!("\n  {:<28}", ""));
            for (s, _) in &costs {
                out.push_str(&format!("{:>14}", s.as_str()));
            }
            let labels = [
                "rounds",
                "multiplications",
                "  of which verification",
                "comparisons",
                "random bits",
                "bytes sent",
                "session set-up rounds",
            ];
            let values: Vec<[u64; 7]> = costs
                .iter()
                .map(|(_, c)| {
                    [
                        c.rounds,
                        c.multiplications,
                        c.verification_multiplications,
                        c.comparisons,
                        c.random_bits,
                        c.bytes_per_party,
                        c.setup_rounds,
                    ]
                })
                .collect();
            for (row, label) in labels.iter().enumerate() {
                out.push_str(&format!("\n  {label:<28}"));
                for v in &values {
                    out.push_str(&format!("{:>14}", v[row]));
                }
            }
        }
        for s in levels {
            if let Err(e) = self.cost_at(n, t, s) {
                out.push_str(&format!("\n  {s}: not available: {e}"));
            }
        }
        out
    }
}

/// A compiled integer expression: its node, decimal scale and bit bound (`|v| < 2^bits`).
#[derive(Debug, Clone, Copy)]
struct Val {
    node: NodeId,
    scale: u8,
    bits: u32,
}

/// A float node with the decimal scale of the value it holds.
#[derive(Debug, Clone, Copy)]
struct FloatVal {
    node: NodeId,
    scale: i32,
}

fn bits_of(v: i128) -> u32 {
    128 - v.unsigned_abs().leading_zeros()
}

fn pow10(e: u32) -> i128 {
    10i128.pow(e)
}

/// Bits needed for the factor `10^e`.
fn pow10_bits(e: u32) -> u32 {
    bits_of(pow10(e))
}

struct Compiler {
    p: Program,
    inputs: Vec<usize>,
    input_nodes: BTreeMap<usize, NodeId>,
    column_bits: Vec<u32>,
    row_bits: u32,
    max_bits: u32,
    consts: BTreeMap<i128, NodeId>,
    outputs: usize,
}

impl Compiler {
    fn constant(&mut self, v: i128) -> Result<Val, CompileError> {
        let node = match self.consts.get(&v) {
            Some(n) => *n,
            None => {
                let n = self.p.push(Op::Const { value: v })?;
                self.consts.insert(v, n);
                n
            }
        };
        Ok(Val {
            node,
            scale: 0,
            bits: bits_of(v),
        })
    }

    fn column(&mut self, index: usize, ty: ValueType) -> Result<Val, CompileError> {
        let node = match self.input_nodes.get(&index) {
            Some(n) => *n,
            None => {
                let n = self.p.push(Op::Input {
                    column: self.inputs.len(),
                })?;
                self.inputs.push(index);
                self.input_nodes.insert(index, n);
                n
            }
        };
        Ok(Val {
            node,
            scale: ty.scale().unwrap_or(0),
            bits: self
                .column_bits
                .get(index)
                .copied()
                .unwrap_or(DEFAULT_NUMERIC_BITS),
        })
    }

    fn linear(
        &mut self,
        terms: &[(Val, i128)],
        constant: i128,
        bits: u32,
        scale: u8,
    ) -> Result<Val, CompileError> {
        let node = self.p.push(Op::Linear {
            terms: terms.iter().map(|(v, c)| (v.node, *c)).collect(),
            constant,
        })?;
        Ok(Val { node, scale, bits })
    }

    fn rescale(&mut self, v: Val, to: u8) -> Result<Val, CompileError> {
        if to <= v.scale {
            return Ok(v);
        }
        let e = u32::from(to - v.scale);
        self.linear(&[(v, pow10(e))], 0, v.bits + pow10_bits(e), to)
    }

    fn mul(&mut self, a: Val, b: Val, scale: u8) -> Result<Val, CompileError> {
        let node = self.p.push(Op::Mul(a.node, b.node))?;
        Ok(Val {
            node,
            scale,
            bits: a.bits + b.bits,
        })
    }

    fn check_bits(&self, span: Span, what: &str, bits: u32) -> Result<(), CompileError> {
        if bits > self.max_bits {
            return Err(CompileError::TooLarge {
                span,
                what: what.to_string(),
                bits,
                max: self.max_bits,
            });
        }
        Ok(())
    }

    fn not(&mut self, v: Val) -> Result<Val, CompileError> {
        self.linear(&[(v, -1)], 1, 1, 0)
    }

    fn expr(&mut self, e: &TypedExpr) -> Result<Val, CompileError> {
        match &e.kind {
            TypedExprKind::Column { index, .. } => self.column(*index, e.ty),
            TypedExprKind::Int(v) => self.constant(i128::from(*v)),
            TypedExprKind::Fixed { units, scale } => {
                let c = self.constant(i128::from(*units))?;
                Ok(Val { scale: *scale, ..c })
            }
            TypedExprKind::Bool(b) => self.constant(i128::from(*b)),
            TypedExprKind::Label { index, .. } => self.constant(*index as i128),
            TypedExprKind::Convert(inner) => {
                let v = self.expr(inner)?;
                match e.ty {
                    ValueType::Fixed(s) => self.rescale(v, s),
                    _ => Ok(v),
                }
            }
            TypedExprKind::Neg(inner) => {
                let v = self.expr(inner)?;
                self.linear(&[(v, -1)], 0, v.bits, v.scale)
            }
            TypedExprKind::Arith { op, lhs, rhs } => self.arith(e, *op, lhs, rhs),
            TypedExprKind::Compare { op, lhs, rhs } => self.compare(e.span, *op, lhs, rhs),
            TypedExprKind::And(a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                let node = self.p.push(Op::Mul(a.node, b.node))?;
                Ok(Val {
                    node,
                    scale: 0,
                    bits: 1,
                })
            }
            TypedExprKind::Or(a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                let ab = self.mul(a, b, 0)?;
                self.linear(&[(a, 1), (b, 1), (ab, -1)], 0, 1, 0)
            }
            TypedExprKind::Not(a) => {
                let a = self.expr(a)?;
                self.not(a)
            }
            TypedExprKind::Case { arms, otherwise } => {
                let mut values = Vec::with_capacity(arms.len());
                for (cond, value) in arms {
                    values.push((self.expr(cond)?, self.expr(value)?));
                }
                let other = self.expr(otherwise)?;
                let scale = values
                    .iter()
                    .map(|(_, v)| v.scale)
                    .chain([other.scale])
                    .max()
                    .unwrap_or(0);
                let mut result = self.rescale(other, scale)?;
                // Innermost arm last: r = r + c_i·(v_i − r), from the last arm to the first.
                for (cond, value) in values.into_iter().rev() {
                    let value = self.rescale(value, scale)?;
                    let bits = value.bits.max(result.bits) + 1;
                    let diff = self.linear(&[(value, 1), (result, -1)], 0, bits, scale)?;
                    let picked = self.mul(cond, diff, scale)?;
                    result = self.linear(&[(result, 1), (picked, 1)], 0, bits, scale)?;
                }
                Ok(result)
            }
        }
    }

    fn arith(
        &mut self,
        e: &TypedExpr,
        op: ArithOp,
        lhs: &TypedExpr,
        rhs: &TypedExpr,
    ) -> Result<Val, CompileError> {
        match op {
            ArithOp::Add | ArithOp::Sub => {
                let (a, b) = (self.expr(lhs)?, self.expr(rhs)?);
                let scale = a.scale.max(b.scale);
                let (a, b) = (self.rescale(a, scale)?, self.rescale(b, scale)?);
                let sign = if op == ArithOp::Add { 1 } else { -1 };
                self.linear(&[(a, 1), (b, sign)], 0, a.bits.max(b.bits) + 1, scale)
            }
            ArithOp::Mul => {
                let (a, b) = (self.expr(lhs)?, self.expr(rhs)?);
                // The exact product keeps scale sa + sb; no rounding.
                let v = self.mul(a, b, a.scale + b.scale)?;
                self.check_bits(e.span, "a product", v.bits + 1)?;
                Ok(v)
            }
            ArithOp::Div => {
                let Some((units, c_scale)) = literal(rhs) else {
                    return Err(CompileError::Unsupported {
                        span: e.span,
                        what: "division by a column value",
                        hint: "divide by a literal, or compute the aggregates separately",
                    });
                };
                if units == 0 {
                    return Err(CompileError::Unsupported {
                        span: e.span,
                        what: "division by zero",
                        hint: "divide by a nonzero literal",
                    });
                }
                let a = self.expr(lhs)?;
                let target = e.ty.scale().unwrap_or(a.scale).max(a.scale);
                // a/c in scale T: round(A·10^(sc + T − sa) / C).
                let up = u32::from(c_scale) + u32::from(target) - u32::from(a.scale);
                let numerator =
                    self.linear(&[(a, pow10(up))], 0, a.bits + pow10_bits(up), target)?;
                let c = i128::from(units);
                // Multiply by ⌊2^s/|C|⌉ and drop s bits: s as large as the bound allows.
                let head = numerator.bits + 2;
                if head + 8 > self.max_bits {
                    return Err(CompileError::TooLarge {
                        span: e.span,
                        what: "the dividend".into(),
                        bits: head + 8,
                        max: self.max_bits,
                    });
                }
                let s = (self.max_bits - head).min(60) + bits_of(c) - 1;
                let factor = ((1i128 << s) + c.abs() / 2) / c.abs() * c.signum();
                let product = self.linear(
                    &[(numerator, factor)],
                    0,
                    numerator.bits + bits_of(factor),
                    target,
                )?;
                let node = self.p.push(Op::TruncPr {
                    a: product.node,
                    bits: product.bits + 1,
                    shift: s,
                })?;
                Ok(Val {
                    node,
                    scale: target,
                    bits: numerator.bits.saturating_sub(bits_of(c)) + 2,
                })
            }
        }
    }

    fn compare(
        &mut self,
        span: Span,
        op: CmpOp,
        lhs: &TypedExpr,
        rhs: &TypedExpr,
    ) -> Result<Val, CompileError> {
        let (a, b) = (self.expr(lhs)?, self.expr(rhs)?);
        if lhs.ty == ValueType::Bool {
            // Booleans: a = b is 1 − (a XOR b), one multiplication.
            let ab = self.mul(a, b, 0)?;
            let xor = self.linear(&[(a, 1), (b, 1), (ab, -2)], 0, 1, 0)?;
            return match op {
                CmpOp::Ne => Ok(xor),
                _ => self.not(xor),
            };
        }
        let scale = a.scale.max(b.scale);
        let (a, b) = (self.rescale(a, scale)?, self.rescale(b, scale)?);
        let bits = a.bits.max(b.bits);
        self.check_bits(span, "a compared value", bits + 1)?;
        let lt = |c: &mut Self, x: Val, y: Val| -> Result<Val, CompileError> {
            let node = c.p.push(Op::Lt {
                a: x.node,
                b: y.node,
                bits,
            })?;
            Ok(Val {
                node,
                scale: 0,
                bits: 1,
            })
        };
        match op {
            CmpOp::Lt => lt(self, a, b),
            CmpOp::Gt => lt(self, b, a),
            CmpOp::Le => {
                let v = lt(self, b, a)?;
                self.not(v)
            }
            CmpOp::Ge => {
                let v = lt(self, a, b)?;
                self.not(v)
            }
            CmpOp::Eq | CmpOp::Ne => {
                let node = self.p.push(Op::Eq {
                    a: a.node,
                    b: b.node,
                    bits,
                })?;
                let v = Val {
                    node,
                    scale: 0,
                    bits: 1,
                };
                if op == CmpOp::Ne { self.not(v) } else { Ok(v) }
            }
        }
    }

    /// Σ over the rows of a group: `Dot(mask, v)`, or `Sum(v)` without a mask.
    fn group_sum(&mut self, mask: Option<Val>, v: Val) -> Result<Val, CompileError> {
        let node = match mask {
            Some(m) => self.p.push(Op::Dot(m.node, v.node))?,
            None => self.p.push(Op::Sum(v.node))?,
        };
        Ok(Val {
            node,
            scale: v.scale,
            bits: v.bits + self.row_bits,
        })
    }

    fn float_of(&mut self, span: Span, what: &str, v: Val) -> Result<FloatVal, CompileError> {
        self.check_bits(span, what, v.bits + 1)?;
        let node = self.p.push(Op::ToFloat {
            a: v.node,
            bits: v.bits.max(1),
        })?;
        Ok(FloatVal {
            node,
            scale: i32::from(v.scale),
        })
    }

    fn fop(&mut self, op: Op, scale: i32) -> Result<FloatVal, CompileError> {
        Ok(FloatVal {
            node: self.p.push(op)?,
            scale,
        })
    }

    fn output(
        &mut self,
        name: &str,
        node: NodeId,
        decode: Decode,
        gate: NodeId,
    ) -> Result<usize, CompileError> {
        self.p.output(Output {
            name: name.to_string(),
            node,
            decode,
            gate: Some(gate),
        })?;
        self.outputs += 1;
        Ok(self.outputs - 1)
    }

    /// One value per group: the parts concatenated, opened under the cohort gates.
    fn scalar_item(
        &mut self,
        name: &str,
        parts: Vec<NodeId>,
        decode: Decode,
        gate: NodeId,
        scale: i32,
    ) -> Result<ItemLayout, CompileError> {
        let node = self.p.push(Op::Concat(parts))?;
        let output = self.output(name, node, decode, gate)?;
        Ok(ItemLayout::Scalar { output, scale })
    }

    /// The gate vector repeated `times` per group (group-major).
    fn repeat_gates(&mut self, gates: &[NodeId], times: usize) -> Result<NodeId, CompileError> {
        let mut parts = Vec::with_capacity(gates.len() * times);
        for g in gates {
            for _ in 0..times {
                parts.push(*g);
            }
        }
        Ok(self.p.push(Op::Concat(parts))?)
    }
}

/// A nonzero literal divisor (possibly converted): its units and scale.
fn literal(e: &TypedExpr) -> Option<(i64, u8)> {
    match &e.kind {
        TypedExprKind::Int(v) => Some((*v, 0)),
        TypedExprKind::Fixed { units, scale } => Some((*units, *scale)),
        TypedExprKind::Convert(inner) => {
            let (units, scale) = literal(inner)?;
            let target = e.ty.scale()?;
            let factor = 10i64.checked_pow(u32::from(target.checked_sub(scale)?))?;
            Some((units.checked_mul(factor)?, target))
        }
        TypedExprKind::Neg(inner) => literal(inner).map(|(u, s)| (-u, s)),
        _ => None,
    }
}

/// The per-group sums a statistic needs, converted to floats.
struct Moments {
    count: FloatVal,
    sum: FloatVal,
    mean: FloatVal,
}

/// Compiles a checked query over `rows` rows (the union of its datasets, FROM order).
pub fn compile(
    query: &TypedQuery,
    rows: usize,
    options: &CompileOptions,
) -> Result<CompiledQuery, CompileError> {
    if options.min_cohort == 0 {
        return Err(CompileError::Options(
            "the minimum cohort size must be at least 1".into(),
        ));
    }
    if rows == 0 {
        return Err(CompileError::Options("the datasets have no rows".into()));
    }
    let column_bits: Vec<u32> = query
        .schema
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let default = match &c.ty {
                ColumnType::Integer | ColumnType::Fixed { .. } => DEFAULT_NUMERIC_BITS,
                ColumnType::Boolean => 1,
                ColumnType::Category { labels } => bits_of(labels.len() as i128),
            };
            options
                .column_bits
                .get(i)
                .copied()
                .flatten()
                .unwrap_or(default)
        })
        .collect();
    let mut c = Compiler {
        p: Program::new(rows, 0),
        inputs: Vec::new(),
        input_nodes: BTreeMap::new(),
        column_bits,
        row_bits: bits_of(rows as i128),
        max_bits: options.max_bits,
        consts: BTreeMap::new(),
        outputs: 0,
    };
    let filter = match &query.filter {
        Some(f) => Some(c.expr(f)?),
        None => None,
    };
    // Group indicators and the per-group row masks.
    let (labels, masks): (Option<Vec<String>>, Vec<Option<Val>>) = match &query.group_by {
        None => (None, vec![filter]),
        Some(g) => {
            let ty = query
                .schema
                .columns()
                .get(g.column)
                .map(|col| col.ty.clone())
                .unwrap_or(ColumnType::Boolean);
            let key = c.column(g.column, ValueType::Int)?;
            let mut indicators = Vec::with_capacity(g.groups.len());
            for index in 0..g.groups.len() {
                let ind = if ty == ColumnType::Boolean {
                    if index == 1 { key } else { c.not(key)? }
                } else {
                    let label = c.constant(index as i128)?;
                    let node = c.p.push(Op::Eq {
                        a: key.node,
                        b: label.node,
                        bits: key.bits + 1,
                    })?;
                    Val {
                        node,
                        scale: 0,
                        bits: 1,
                    }
                };
                indicators.push(match filter {
                    Some(f) => Some(c.mul(f, ind, 0)?),
                    None => Some(ind),
                });
            }
            (Some(g.groups.clone()), indicators)
        }
    };
    let groups = masks.len();
    // Cohort gates: [count_g ≥ k], one bit per group. Sample statistics need two rows and a
    // regression with p features p + 2, so k never goes below what keeps divisors nonzero.
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
    let k_effective = options.min_cohort.max(2).max(features);
    let k = c.constant(i128::from(k_effective))?;
    let mut counts = Vec::with_capacity(groups);
    let mut gates = Vec::with_capacity(groups);
    for mask in &masks {
        let count = match mask {
            Some(m) => {
                let node = c.p.push(Op::Sum(m.node))?;
                Val {
                    node,
                    scale: 0,
                    bits: c.row_bits + 1,
                }
            }
            None => c.constant(rows as i128)?,
        };
        let bits = c.row_bits.max(k.bits) + 1;
        let small = c.p.push(Op::Lt {
            a: count.node,
            b: k.node,
            bits,
        })?;
        let gate = c.not(Val {
            node: small,
            scale: 0,
            bits: 1,
        })?;
        counts.push(count);
        gates.push(gate.node);
    }
    let gate_vector = c.p.push(Op::Concat(gates.clone()))?;
    let mut items = Vec::with_capacity(query.items.len());
    let mut columns = Vec::with_capacity(query.items.len());
    for item in &query.items {
        columns.push(item.name.clone());
        let layout = match &item.kind {
            TypedItemKind::GroupKey => ItemLayout::GroupKey,
            TypedItemKind::Aggregate(agg) => c.aggregate(
                item.span,
                &item.name,
                agg,
                &masks,
                &counts,
                &gates,
                gate_vector,
            )?,
        };
        items.push(layout);
    }
    let mut program = c.p;
    program.columns = c.inputs.len();
    Ok(CompiledQuery {
        program,
        inputs: c.inputs,
        columns,
        groups: labels,
        items,
    })
}

impl Compiler {
    #[allow(clippy::too_many_arguments)]
    fn aggregate(
        &mut self,
        span: Span,
        name: &str,
        agg: &TypedAggregate,
        masks: &[Option<Val>],
        counts: &[Val],
        gates: &[NodeId],
        gate_vector: NodeId,
    ) -> Result<ItemLayout, CompileError> {
        match agg {
            TypedAggregate::CountStar => {
                let parts: Vec<NodeId> = counts.iter().map(|v| v.node).collect();
                self.scalar_item(name, parts, Decode::Decimal { scale: 0 }, gate_vector, 0)
            }
            TypedAggregate::Unary { func, arg } => {
                let v = self.expr(arg)?;
                match func {
                    UnaryAggregate::Count | UnaryAggregate::Sum => {
                        let mut parts = Vec::with_capacity(masks.len());
                        for mask in masks {
                            parts.push(self.group_sum(*mask, v)?.node);
                        }
                        self.scalar_item(
                            name,
                            parts,
                            Decode::Decimal {
                                scale: u32::from(v.scale),
                            },
                            gate_vector,
                            0,
                        )
                    }
                    UnaryAggregate::Min | UnaryAggregate::Max => {
                        // Rows outside the group become the neutral element ±2^bits.
                        let which = if *func == UnaryAggregate::Min {
                            Extremum::Min
                        } else {
                            Extremum::Max
                        };
                        let neutral: i128 = if which == Extremum::Min {
                            1i128 << v.bits
                        } else {
                            -(1i128 << v.bits)
                        };
                        let bits = v.bits + 2;
                        self.check_bits(span, "MIN/MAX operand", bits + 1)?;
                        let mut parts = Vec::with_capacity(masks.len());
                        for mask in masks {
                            let operand = match mask {
                                Some(m) => {
                                    let shifted =
                                        self.linear(&[(v, 1)], -neutral, bits, v.scale)?;
                                    let kept = self.mul(*m, shifted, v.scale)?;
                                    self.linear(&[(kept, 1)], neutral, bits, v.scale)?
                                }
                                None => v,
                            };
                            parts.push(self.p.push(Op::Extremum {
                                a: operand.node,
                                bits,
                                which,
                            })?);
                        }
                        self.scalar_item(
                            name,
                            parts,
                            Decode::Decimal {
                                scale: u32::from(v.scale),
                            },
                            gate_vector,
                            0,
                        )
                    }
                    _ => {
                        let mut parts = Vec::with_capacity(masks.len());
                        let mut scale = 0;
                        for (mask, count) in masks.iter().zip(counts) {
                            let f = self.statistic(span, *func, *mask, *count, v)?;
                            scale = f.scale;
                            parts.push(f.node);
                        }
                        self.scalar_item(name, parts, Decode::Float, gate_vector, scale)
                    }
                }
            }
            TypedAggregate::Binary { func, a, b } => {
                let (va, vb) = (self.expr(a)?, self.expr(b)?);
                let mut parts = Vec::with_capacity(masks.len());
                let mut scale = 0;
                for (mask, count) in masks.iter().zip(counts) {
                    let f = self.binary_statistic(span, *func, *mask, *count, va, vb)?;
                    scale = f.scale;
                    parts.push(f.node);
                }
                self.scalar_item(name, parts, Decode::Float, gate_vector, scale)
            }
            TypedAggregate::Histogram { arg, edges } => {
                let v = self.expr(arg)?;
                let mut below = Vec::with_capacity(edges.len());
                let bits = v.bits.max(
                    edges
                        .iter()
                        .map(|e| bits_of(i128::from(*e)))
                        .max()
                        .unwrap_or(0),
                );
                self.check_bits(span, "a histogram value", bits + 1)?;
                for e in edges {
                    let edge = self.constant(i128::from(*e))?;
                    let node = self.p.push(Op::Lt {
                        a: v.node,
                        b: edge.node,
                        bits,
                    })?;
                    below.push(Val {
                        node,
                        scale: 0,
                        bits: 1,
                    });
                }
                let mut parts = Vec::new();
                for (mask, count) in masks.iter().zip(counts) {
                    let mut cumulative = Vec::with_capacity(below.len());
                    for b in &below {
                        cumulative.push(self.group_sum(*mask, *b)?);
                    }
                    // bin 0 = C_1, bin j = C_(j+1) − C_j, last bin = count − C_k.
                    let mut previous: Option<Val> = None;
                    for cum in cumulative.iter().chain(std::iter::once(count)) {
                        let bin = match previous {
                            None => *cum,
                            Some(p) => self.linear(&[(*cum, 1), (p, -1)], 0, cum.bits, 0)?,
                        };
                        parts.push(bin.node);
                        previous = Some(*cum);
                    }
                }
                let bins = edges.len() + 1;
                let node = self.p.push(Op::Concat(parts))?;
                let gate = self.repeat_gates(gates, bins)?;
                let out = self.output(name, node, Decode::Decimal { scale: 0 }, gate)?;
                let scale = i32::from(v.scale);
                let show = |e: i64| format_number(e as f64 / 10f64.powi(scale));
                let mut labels = Vec::with_capacity(bins);
                labels.push(format!("< {}", show(edges[0])));
                for w in edges.windows(2) {
                    labels.push(format!("[{}, {})", show(w[0]), show(w[1])));
                }
                labels.push(format!(">= {}", show(edges[edges.len() - 1])));
                Ok(ItemLayout::Histogram {
                    output: out,
                    bins,
                    labels,
                })
            }
            TypedAggregate::LinReg(model) => self.linreg(span, name, model, masks, counts, gates),
            TypedAggregate::LogReg(model) => self.logreg(span, name, model, masks, counts, gates),
        }
    }

    fn moments(
        &mut self,
        span: Span,
        mask: Option<Val>,
        count: Val,
        v: Val,
    ) -> Result<Moments, CompileError> {
        let sum = self.group_sum(mask, v)?;
        let count = self.float_of(span, "a row count", count)?;
        let sum = self.float_of(span, "a sum", sum)?;
        let mean = self.fop(Op::FloatDiv(sum.node, count.node), sum.scale)?;
        Ok(Moments { count, sum, mean })
    }

    /// `Σ mask·a·b` over the group's rows.
    fn cross_sum(&mut self, mask: Option<Val>, a: Val, b: Val) -> Result<Val, CompileError> {
        let masked = match mask {
            Some(m) => self.mul(m, a, a.scale)?,
            None => a,
        };
        let node = self.p.push(Op::Dot(masked.node, b.node))?;
        Ok(Val {
            node,
            scale: a.scale + b.scale,
            bits: a.bits + b.bits + self.row_bits,
        })
    }

    /// Population or sample covariance of `a` and `b` in floats: (Σab − Σa·Σb/N) / (N or N − 1).
    fn covariance(
        &mut self,
        span: Span,
        mask: Option<Val>,
        count: Val,
        a: Val,
        b: Val,
        sample: bool,
    ) -> Result<(FloatVal, Moments, Moments), CompileError> {
        let ma = self.moments(span, mask, count, a)?;
        let mb = self.moments(span, mask, count, b)?;
        let sab = self.cross_sum(mask, a, b)?;
        let sab = self.float_of(span, "a sum of products", sab)?;
        let scale = ma.sum.scale + mb.sum.scale;
        let correction = self.fop(Op::FloatMul(ma.sum.node, mb.mean.node), scale)?;
        let centered = self.fop(Op::FloatSub(sab.node, correction.node), scale)?;
        let divisor = if sample {
            let one = self.fop(Op::FloatConst { values: vec![1.0] }, 0)?;
            self.fop(Op::FloatSub(ma.count.node, one.node), 0)?
        } else {
            ma.count
        };
        let cov = self.fop(Op::FloatDiv(centered.node, divisor.node), scale)?;
        Ok((cov, ma, mb))
    }

    fn statistic(
        &mut self,
        span: Span,
        func: UnaryAggregate,
        mask: Option<Val>,
        count: Val,
        v: Val,
    ) -> Result<FloatVal, CompileError> {
        match func {
            UnaryAggregate::Avg => Ok(self.moments(span, mask, count, v)?.mean),
            UnaryAggregate::VarPop
            | UnaryAggregate::VarSamp
            | UnaryAggregate::StddevPop
            | UnaryAggregate::StddevSamp => {
                let sample = matches!(func, UnaryAggregate::VarSamp | UnaryAggregate::StddevSamp);
                let (var, _, _) = self.covariance(span, mask, count, v, v, sample)?;
                if matches!(func, UnaryAggregate::StddevPop | UnaryAggregate::StddevSamp) {
                    self.fop(Op::FloatSqrt(var.node), var.scale / 2)
                } else {
                    Ok(var)
                }
            }
            _ => Err(CompileError::Unsupported {
                span,
                what: "this aggregate",
                hint: "use COUNT, SUM, AVG, VAR_POP, VAR_SAMP, STDDEV, MIN or MAX",
            }),
        }
    }

    fn binary_statistic(
        &mut self,
        span: Span,
        func: BinaryAggregate,
        mask: Option<Val>,
        count: Val,
        a: Val,
        b: Val,
    ) -> Result<FloatVal, CompileError> {
        match func {
            BinaryAggregate::CovarPop | BinaryAggregate::CovarSamp => Ok(self
                .covariance(span, mask, count, a, b, func == BinaryAggregate::CovarSamp)?
                .0),
            BinaryAggregate::Corr => {
                let (cov, ma, mb) = self.covariance(span, mask, count, a, b, false)?;
                let var_a = self.variance_from(span, mask, &ma, a)?;
                let var_b = self.variance_from(span, mask, &mb, b)?;
                let product = self.fop(Op::FloatMul(var_a.node, var_b.node), 0)?;
                let root = self.fop(Op::FloatSqrt(product.node), 0)?;
                self.fop(Op::FloatDiv(cov.node, root.node), 0)
            }
        }
    }

    fn variance_from(
        &mut self,
        span: Span,
        mask: Option<Val>,
        m: &Moments,
        v: Val,
    ) -> Result<FloatVal, CompileError> {
        let s2 = self.cross_sum(mask, v, v)?;
        let s2 = self.float_of(span, "a sum of squares", s2)?;
        let correction = self.fop(Op::FloatMul(m.sum.node, m.mean.node), 2 * m.sum.scale)?;
        let centered = self.fop(Op::FloatSub(s2.node, correction.node), 2 * m.sum.scale)?;
        self.fop(Op::FloatDiv(centered.node, m.count.node), 2 * m.sum.scale)
    }

    // Elimination reads one row while it writes another: index loops say that most plainly.
    #[allow(clippy::needless_range_loop)]
    /// Least squares on centred sums: solve C·β = c with C the features' covariance matrix and c
    /// their covariances with the target; intercept = ȳ − Σβ_i·x̄_i; R² = βᵀc / var(y).
    fn linreg(
        &mut self,
        span: Span,
        name: &str,
        model: &TypedModel,
        masks: &[Option<Val>],
        counts: &[Val],
        gates: &[NodeId],
    ) -> Result<ItemLayout, CompileError> {
        let y = self.expr(&model.target)?;
        let xs: Vec<Val> = model
            .features
            .iter()
            .map(|f| self.expr(f))
            .collect::<Result<_, _>>()?;
        let p = xs.len();
        let mut parts = Vec::new();
        for (mask, count) in masks.iter().zip(counts) {
            let (mask, count) = (*mask, *count);
            let my = self.moments(span, mask, count, y)?;
            let mut mx = Vec::with_capacity(p);
            for x in &xs {
                mx.push(self.moments(span, mask, count, *x)?);
            }
            // Centred sums divided by N: cov(x_i, x_j) and cov(x_i, y), in floats.
            let mut cov = vec![vec![None; p]; p];
            let mut cy = Vec::with_capacity(p);
            for i in 0..p {
                for j in i..p {
                    let s = self.cross_sum(mask, xs[i], xs[j])?;
                    let s = self.float_of(span, "a sum of feature products", s)?;
                    let corr = self.fop(Op::FloatMul(mx[i].sum.node, mx[j].mean.node), s.scale)?;
                    let centred = self.fop(Op::FloatSub(s.node, corr.node), s.scale)?;
                    let c = self.fop(Op::FloatDiv(centred.node, my.count.node), s.scale)?;
                    cov[i][j] = Some(c);
                    cov[j][i] = Some(c);
                }
                let s = self.cross_sum(mask, xs[i], y)?;
                let s = self.float_of(span, "a sum of feature-target products", s)?;
                let corr = self.fop(Op::FloatMul(mx[i].sum.node, my.mean.node), s.scale)?;
                let centred = self.fop(Op::FloatSub(s.node, corr.node), s.scale)?;
                cy.push(self.fop(Op::FloatDiv(centred.node, my.count.node), s.scale)?);
            }
            let var_y = self.variance_from(span, mask, &my, y)?;
            let mut a: Vec<Vec<FloatVal>> = cov
                .into_iter()
                .map(|row| row.into_iter().flatten().collect())
                .collect();
            let mut rhs = cy.clone();
            // Gaussian elimination (C is symmetric positive definite: no pivoting).
            for k in 0..p {
                for i in k + 1..p {
                    let f = self.fop(Op::FloatDiv(a[i][k].node, a[k][k].node), 0)?;
                    for j in k + 1..p {
                        let t = self.fop(Op::FloatMul(f.node, a[k][j].node), 0)?;
                        a[i][j] = self.fop(Op::FloatSub(a[i][j].node, t.node), 0)?;
                    }
                    let t = self.fop(Op::FloatMul(f.node, rhs[k].node), 0)?;
                    rhs[i] = self.fop(Op::FloatSub(rhs[i].node, t.node), 0)?;
                }
            }
            let mut beta: Vec<Option<FloatVal>> = vec![None; p];
            for i in (0..p).rev() {
                let mut acc = rhs[i];
                for j in i + 1..p {
                    if let Some(bj) = beta[j] {
                        let t = self.fop(Op::FloatMul(a[i][j].node, bj.node), 0)?;
                        acc = self.fop(Op::FloatSub(acc.node, t.node), 0)?;
                    }
                }
                beta[i] = Some(self.fop(Op::FloatDiv(acc.node, a[i][i].node), 0)?);
            }
            let beta: Vec<FloatVal> = beta.into_iter().flatten().collect();
            // Intercept ȳ − Σ β_i·x̄_i and R² = Σ β_i·cov(x_i, y) / var(y).
            let mut intercept = my.mean;
            let mut explained: Option<FloatVal> = None;
            for i in 0..p {
                let t = self.fop(Op::FloatMul(beta[i].node, mx[i].mean.node), 0)?;
                intercept = self.fop(Op::FloatSub(intercept.node, t.node), 0)?;
                let e = self.fop(Op::FloatMul(beta[i].node, cy[i].node), 0)?;
                explained = Some(match explained {
                    None => e,
                    Some(acc) => self.fop(Op::FloatAdd(acc.node, e.node), 0)?,
                });
            }
            let r2 = match explained {
                Some(e) => self.fop(Op::FloatDiv(e.node, var_y.node), 0)?,
                None => self.fop(Op::FloatConst { values: vec![0.0] }, 0)?,
            };
            parts.push(intercept.node);
            parts.extend(beta.iter().map(|b| b.node));
            parts.push(r2.node);
        }
        let node = self.p.push(Op::Concat(parts))?;
        let gate = self.repeat_gates(gates, p + 2)?;
        let out = self.output(name, node, Decode::Float, gate)?;
        let mut terms = vec!["intercept".to_string()];
        terms.extend(model.feature_names.iter().cloned());
        let mut scales = vec![i32::from(y.scale)];
        scales.extend(xs.iter().map(|x| i32::from(y.scale) - i32::from(x.scale)));
        Ok(ItemLayout::Coefficients {
            output: out,
            terms,
            scales,
            r_squared: true,
        })
    }

    /// Logistic regression by gradient descent on standardised features, in fixed point:
    /// `β ← β − (1/N)·Σ_i (σ̂(β·x̃_i) − y_i)·x̃_i` for [`LOGREG_ITERATIONS`] steps with the
    /// piecewise-linear σ̂ of [`sigmoid_approximation`]; the coefficients are then mapped back to
    /// the features' own units in floats.
    fn logreg(
        &mut self,
        span: Span,
        name: &str,
        model: &TypedModel,
        masks: &[Option<Val>],
        counts: &[Val],
        gates: &[NodeId],
    ) -> Result<ItemLayout, CompileError> {
        const MEAN_BITS: u32 = 8;
        const WEIGHT_BITS: u32 = 24;
        const BETA_BITS: u32 = 7;
        let f = LOGREG_FRACTION_BITS;
        let fixed = |v: f64, bits: u32| (v * 2f64.powi(bits as i32)).round() as i128;
        let y = self.expr(&model.target)?;
        let xs: Vec<Val> = model
            .features
            .iter()
            .map(|x| self.expr(x))
            .collect::<Result<_, _>>()?;
        let p = xs.len();
        let half_rows = self.row_bits.div_ceil(2);
        let x_bits = f + half_rows + 3;
        let z_bits = f + BETA_BITS + half_rows + 3 + bits_of(p as i128 + 1);
        self.check_bits(
            span,
            "a standardised feature product",
            MEAN_BITS + WEIGHT_BITS + half_rows + 4,
        )?;
        self.check_bits(span, "a linear predictor", z_bits + f + 1)?;
        self.check_bits(
            span,
            "a gradient sum",
            2 * f + x_bits + 2 * self.row_bits + 3,
        )?;
        let mut parts = Vec::new();
        for (mask, count) in masks.iter().zip(counts) {
            let (mask, count) = (*mask, *count);
            // Standardise: x̃ = (x − μ)/σ with μ and 1/σ from floats, in fixed point.
            let mut standard = Vec::with_capacity(p);
            let mut means = Vec::with_capacity(p);
            let mut inverse_stds = Vec::with_capacity(p);
            for x in &xs {
                let m = self.moments(span, mask, count, *x)?;
                let var = self.variance_from(span, mask, &m, *x)?;
                let std = self.fop(Op::FloatSqrt(var.node), 0)?;
                let one = self.fop(Op::FloatConst { values: vec![1.0] }, 0)?;
                let inv = self.fop(Op::FloatDiv(one.node, std.node), 0)?;
                let mean_fixed = self.p.push(Op::FloatToFixed {
                    a: m.mean.node,
                    fraction_bits: MEAN_BITS,
                    bits: x.bits + MEAN_BITS + 1,
                })?;
                let inv_fixed = self.p.push(Op::FloatToFixed {
                    a: inv.node,
                    fraction_bits: WEIGHT_BITS,
                    bits: WEIGHT_BITS + half_rows + 2,
                })?;
                let centred = self.p.push(Op::Linear {
                    terms: vec![(x.node, 1i128 << MEAN_BITS), (mean_fixed, -1)],
                    constant: 0,
                })?;
                let scaled = self.p.push(Op::Mul(centred, inv_fixed))?;
                let node = self.p.push(Op::TruncPr {
                    a: scaled,
                    bits: MEAN_BITS + WEIGHT_BITS + half_rows + 4,
                    shift: MEAN_BITS + WEIGHT_BITS - f,
                })?;
                standard.push(Val {
                    node,
                    scale: 0,
                    bits: x_bits,
                });
                means.push(m.mean);
                inverse_stds.push(inv);
            }
            // 2^(f + row_bits)/N in fixed point, for the mean gradient.
            let n_float = self.float_of(span, "a row count", count)?;
            let inv_n = {
                let one = self.fop(
                    Op::FloatConst {
                        values: vec![2f64.powi(self.row_bits as i32)],
                    },
                    0,
                )?;
                let q = self.fop(Op::FloatDiv(one.node, n_float.node), 0)?;
                self.p.push(Op::FloatToFixed {
                    a: q.node,
                    fraction_bits: f,
                    bits: f + self.row_bits + 1,
                })?
            };
            let target = match mask {
                Some(m) => self.mul(m, y, 0)?,
                None => y,
            };
            let zero = self.constant(0)?;
            let mut beta: Vec<NodeId> = vec![zero.node; p + 1];
            let b = SIGMOID_BREAKPOINTS;
            let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
            let slopes: Vec<f64> = b
                .windows(2)
                .map(|w| (sig(w[1]) - sig(w[0])) / (w[1] - w[0]))
                .collect();
            for _ in 0..LOGREG_ITERATIONS {
                // z = β0 + Σ β_j·x̃_j (fixed point, f bits).
                let mut terms = vec![(beta[0], 1i128 << f)];
                for (j, x) in standard.iter().enumerate() {
                    terms.push((self.p.push(Op::Mul(x.node, beta[j + 1]))?, 1));
                }
                let z2 = self.p.push(Op::Linear { terms, constant: 0 })?;
                let z = self.p.push(Op::TruncPr {
                    a: z2,
                    bits: z_bits + f + 1,
                    shift: f,
                })?;
                // σ̂(z) = σ(b0) + Σ_k Δslope_k·relu(z − b_k).
                let mut sigma_terms = Vec::with_capacity(b.len());
                for (k, bk) in b.iter().enumerate() {
                    let before = if k == 0 { 0.0 } else { slopes[k - 1] };
                    let after = slopes.get(k).copied().unwrap_or(0.0);
                    let edge = self.constant(fixed(*bk, f))?;
                    let below = self.p.push(Op::Lt {
                        a: z,
                        b: edge.node,
                        bits: z_bits,
                    })?;
                    let above = self.p.push(Op::Linear {
                        terms: vec![(below, -1)],
                        constant: 1,
                    })?;
                    let shifted = self.p.push(Op::Linear {
                        terms: vec![(z, 1)],
                        constant: -fixed(*bk, f),
                    })?;
                    let relu = self.p.push(Op::Mul(above, shifted))?;
                    sigma_terms.push((relu, fixed(after - before, f)));
                }
                let sigma2 = self.p.push(Op::Linear {
                    terms: sigma_terms,
                    constant: fixed(sig(b[0]), 2 * f),
                })?;
                let sigma = self.p.push(Op::TruncPr {
                    a: sigma2,
                    bits: z_bits + f + 2,
                    shift: f,
                })?;
                // r = mask·(σ̂ − y), fixed f.
                let diff = self.p.push(Op::Linear {
                    terms: vec![(sigma, 1), (target.node, -(1i128 << f))],
                    constant: 0,
                })?;
                let r = match mask {
                    Some(m) => self.p.push(Op::Mul(m.node, diff))?,
                    None => diff,
                };
                // Gradients: Σ r (f bits) and Σ r·x̃_j (2f bits, truncated to f), times 2^row_bits/N.
                let mut grads = Vec::with_capacity(p + 1);
                let g0 = self.p.push(Op::Sum(r))?;
                grads.push(g0);
                for x in &standard {
                    let g = self.p.push(Op::Dot(r, x.node))?;
                    grads.push(self.p.push(Op::TruncPr {
                        a: g,
                        bits: f + 1 + x_bits + self.row_bits + 1,
                        shift: f,
                    })?);
                }
                for (j, g) in grads.into_iter().enumerate() {
                    let scaled = self.p.push(Op::Mul(g, inv_n))?;
                    let mean_grad = self.p.push(Op::TruncPr {
                        a: scaled,
                        bits: 2 * f + x_bits + 2 * self.row_bits + 3,
                        shift: f + self.row_bits,
                    })?;
                    beta[j] = self.p.push(Op::Linear {
                        terms: vec![(beta[j], 1), (mean_grad, -1)],
                        constant: 0,
                    })?;
                }
            }
            // Back to the features' units: β_j/σ_j, intercept β0 − Σ β_j·μ_j/σ_j.
            let unscale = self.fop(
                Op::FloatConst {
                    values: vec![2f64.powi(-(f as i32))],
                },
                0,
            )?;
            let to_float = |c: &mut Self, node: NodeId| -> Result<FloatVal, CompileError> {
                let fl = c.fop(
                    Op::ToFloat {
                        a: node,
                        bits: f + BETA_BITS + 1,
                    },
                    0,
                )?;
                c.fop(Op::FloatMul(fl.node, unscale.node), 0)
            };
            let mut intercept = to_float(self, beta[0])?;
            let mut coefficients = Vec::with_capacity(p);
            for j in 0..p {
                let bj = to_float(self, beta[j + 1])?;
                let cj = self.fop(Op::FloatMul(bj.node, inverse_stds[j].node), 0)?;
                let shift = self.fop(Op::FloatMul(cj.node, means[j].node), 0)?;
                intercept = self.fop(Op::FloatSub(intercept.node, shift.node), 0)?;
                coefficients.push(cj);
            }
            parts.push(intercept.node);
            parts.extend(coefficients.iter().map(|c| c.node));
        }
        let node = self.p.push(Op::Concat(parts))?;
        let gate = self.repeat_gates(gates, p + 1)?;
        let out = self.output(name, node, Decode::Float, gate)?;
        let mut terms = vec!["intercept".to_string()];
        terms.extend(model.feature_names.iter().cloned());
        let mut scales = vec![0];
        scales.extend(xs.iter().map(|x| -i32::from(x.scale)));
        Ok(ItemLayout::Coefficients {
            output: out,
            terms,
            scales,
            r_squared: false,
        })
    }
}
