//! The type-checked query: what the compiler consumes. Every name is resolved to a column index of
//! the (union) schema, every expression node carries its [`ValueType`], implicit conversions are
//! explicit [`TypedExprKind::Convert`] nodes, and every rule of the language has been enforced, so
//! the compiler does not need to check anything again.
//!
//! Arithmetic semantics the compiler must implement (values are integers `v × 10^scale`):
//!
//! | node | operand types | result | how |
//! |---|---|---|---|
//! | `Add`, `Sub` | equal (converted) | the same | exact |
//! | `Mul` | any numeric, **not** converted | `Int` if both `Int`, else `Fixed(max(sa, sb))` | product has scale `sa + sb`; truncate by `10^min(sa, sb)` (nothing when one side is `Int`) |
//! | `Div` | any numeric, not converted | `Fixed(max(sa, sb, DIV_SCALE))` | divisor proven nonzero *where the result is used* (see [`TypedExprKind::Arith`]) |
//! | `Compare` | equal (converted) | `Bool` | exact |
//! | `Neg` | numeric | the same | exact |
//! | `Convert` | `Bool→Int`, `Int→Fixed(s)`, `Fixed(a)→Fixed(b)` with `b > a` | target | multiply by `10^(b−a)` (free) |

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ast::{BinaryAggregate, Span, UnaryAggregate};
use super::schema::{ColumnType, Schema};

/// The scale given to the result of `/` when both operands have a smaller one, and the minimum
/// scale of statistical results (AVG, variances, standard deviations, covariances, correlation,
/// regression coefficients).
pub const DIV_SCALE: u8 = 6;

/// The type of a value during a computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    /// A signed integer (i64 range at the inputs).
    Int,
    /// A decimal fixed-point number with this many decimal places (at most 12).
    Fixed(u8),
    /// 0 / 1.
    Bool,
    /// A label index. The category type is its label list, named by the position in the union
    /// schema of the **first** column that has exactly this label list: columns with identical
    /// label lists have the same type (and can be compared), others do not.
    Category(usize),
}

impl ValueType {
    /// Decimal scale of a numeric type (`Int` → 0).
    pub fn scale(self) -> Option<u8> {
        match self {
            ValueType::Int => Some(0),
            ValueType::Fixed(s) => Some(s),
            _ => None,
        }
    }

    /// Whether `Int` or `Fixed`.
    pub fn is_numeric(self) -> bool {
        self.scale().is_some()
    }

    /// How the type is shown to a person (a category by its first labels).
    pub fn describe(self, schema: &Schema) -> String {
        match self {
            ValueType::Int => "INTEGER".into(),
            ValueType::Fixed(s) => format!("FIXED({s})"),
            ValueType::Bool => "BOOLEAN".into(),
            ValueType::Category(c) => match schema.columns().get(c).map(|c| &c.ty) {
                Some(ColumnType::Category { labels }) => {
                    let mut shown: Vec<String> =
                        labels.iter().take(5).map(|l| format!("'{l}'")).collect();
                    if labels.len() > 5 {
                        shown.push("...".into());
                    }
                    format!("CATEGORY({})", shown.join(", "))
                }
                _ => "CATEGORY".into(),
            },
        }
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// Comparison operators. On `Bool` and `Category` operands only `Eq` and `Ne` occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A typed expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedExpr {
    /// What it computes.
    pub kind: TypedExprKind,
    /// Its type.
    pub ty: ValueType,
    /// Where it was written.
    pub span: Span,
}

/// The typed expression nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedExprKind {
    /// Column `index` of the union schema; `ty` is its type.
    Column {
        /// Position in the schema.
        index: usize,
        /// Its name.
        name: String,
    },
    /// An integer constant (`ty == Int`).
    Int(i64),
    /// A fixed-point constant `units / 10^scale` (`ty == Fixed(scale)`).
    Fixed {
        /// Value × 10^scale.
        units: i64,
        /// Decimal places.
        scale: u8,
    },
    /// A boolean constant.
    Bool(bool),
    /// A category label constant: its index in the label list of the category `ty`.
    Label {
        /// Index of the label.
        index: usize,
        /// The label.
        label: String,
    },
    /// Exact conversion of the operand to `ty` (see the module table).
    Convert(Box<TypedExpr>),
    /// Arithmetic negation.
    Neg(Box<TypedExpr>),
    /// Arithmetic. For `Div`, the type checker has proven the divisor nonzero wherever the
    /// quotient can influence the result: either it is a nonzero literal, or the division sits
    /// under a guard (a CASE arm, or the other side of AND/OR) that makes the quotient irrelevant
    /// when the divisor is zero. Both CASE branches and both AND/OR operands are evaluated
    /// obliviously on every row, so a secret divisor **can be zero** on rows whose quotient is
    /// discarded. Do not run the reciprocal iteration on a zero: its truncations open masked
    /// values whose statistical hiding assumes in-range inputs. Divide by `d + eqz(d)` instead (one
    /// equality test per row; the quotient is then discarded anyway), and compile AND, OR and CASE
    /// as arithmetic selections (`a·b`, `a + b − a·b`, `c·(t − e) + e`) so that the discarded
    /// value cannot leak into the result.
    Arith {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        lhs: Box<TypedExpr>,
        /// Right operand.
        rhs: Box<TypedExpr>,
    },
    /// A comparison of two operands of the same type; `ty == Bool`.
    Compare {
        /// The operator.
        op: CmpOp,
        /// Left operand.
        lhs: Box<TypedExpr>,
        /// Right operand.
        rhs: Box<TypedExpr>,
    },
    /// Boolean AND.
    And(Box<TypedExpr>, Box<TypedExpr>),
    /// Boolean OR.
    Or(Box<TypedExpr>, Box<TypedExpr>),
    /// Boolean NOT.
    Not(Box<TypedExpr>),
    /// The value of the first arm whose condition holds, else `otherwise`. Every condition is
    /// `Bool`; every value has type `ty` (converted).
    Case {
        /// `(condition, value)` pairs, in order.
        arms: Vec<(TypedExpr, TypedExpr)>,
        /// The ELSE value.
        otherwise: Box<TypedExpr>,
    },
}

/// A checked model formula.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedModel {
    /// The response: numeric for LINREG (booleans converted to `Int`), `Bool` for LOGREG.
    pub target: TypedExpr,
    /// The features: numeric (booleans converted to `Int`), distinct, each using a column.
    pub features: Vec<TypedExpr>,
    /// Canonical text of each feature, for naming coefficients.
    pub feature_names: Vec<String>,
}

/// A checked aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedAggregate {
    /// `COUNT(*)`: the number of rows (that pass WHERE, in the group).
    CountStar,
    /// `COUNT(cond)` (arg `Bool`: rows where it is true), `SUM`, `AVG`, `VAR_*`, `STDDEV_*` (arg
    /// numeric, booleans converted to `Int`), `MIN`, `MAX` (arg numeric or `Bool`).
    Unary {
        /// Which one.
        func: UnaryAggregate,
        /// The argument.
        arg: TypedExpr,
    },
    /// `COVAR_POP`, `COVAR_SAMP`, `CORR` (args numeric, booleans converted to `Int`; the two may
    /// have different scales).
    Binary {
        /// Which one.
        func: BinaryAggregate,
        /// First argument.
        a: TypedExpr,
        /// Second argument.
        b: TypedExpr,
    },
    /// Counts of `arg` in the bins `(-inf, e1), [e1, e2), ..., [ek, +inf)`: `k + 1` bins.
    Histogram {
        /// The value (numeric, converted to the common scale of itself and the edges).
        arg: TypedExpr,
        /// Edges in units of `arg.ty` (strictly increasing, at least one).
        edges: Vec<i64>,
    },
    /// Least squares `target ≈ b0 + b1·x1 + ...`, and R².
    LinReg(TypedModel),
    /// Logistic regression `P(target) = sigmoid(b0 + b1·x1 + ...)`.
    LogReg(TypedModel),
}

/// What one select item returns (per group, under GROUP BY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputType {
    /// The group's label (the GROUP BY column selected as an item).
    GroupKey,
    /// One value of this type.
    Scalar(ValueType),
    /// `bins` counts (`Int`).
    Histogram {
        /// Number of bins: edges + 1.
        bins: usize,
    },
    /// Regression coefficients `Fixed(scale)`, named `terms` (`"intercept"` first, then the
    /// features' canonical text); LINREG also returns R² (`Fixed(scale)`).
    Coefficients {
        /// Names of the coefficients.
        terms: Vec<String>,
        /// Scale of every coefficient.
        scale: u8,
        /// Whether R² is returned too.
        r_squared: bool,
    },
}

/// What a select item computes.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedItemKind {
    /// The GROUP BY column's label.
    GroupKey,
    /// An aggregate.
    Aggregate(TypedAggregate),
}

/// One checked select item.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedSelectItem {
    /// The result's name: the alias, else the canonical text of the item.
    pub name: String,
    /// What it computes.
    pub kind: TypedItemKind,
    /// What it returns.
    pub output: OutputType,
    /// Where it was written.
    pub span: Span,
}

/// The GROUP BY column.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBy {
    /// Position in the union schema.
    pub column: usize,
    /// Its name.
    pub name: String,
    /// The groups, in output order: the category's labels, or `["false", "true"]` for a boolean.
    pub groups: Vec<String>,
}

/// The kinds of computation a query uses, for access grants: a grant lists the kinds a researcher
/// may run, and a query is allowed when all of its kinds are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// Scalar aggregates: COUNT, SUM, AVG, VAR_*, STDDEV_*, MIN, MAX, COVAR_*, CORR.
    Aggregate,
    /// Any query with GROUP BY.
    GroupBy,
    /// HISTOGRAM.
    Histogram,
    /// LINREG.
    LinReg,
    /// LOGREG.
    LogReg,
}

impl QueryKind {
    /// Stable name (as in grants, and the serde form): `aggregate`, `group_by`, `histogram`,
    /// `lin_reg`, `log_reg`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Aggregate => "aggregate",
            QueryKind::GroupBy => "group_by",
            QueryKind::Histogram => "histogram",
            QueryKind::LinReg => "lin_reg",
            QueryKind::LogReg => "log_reg",
        }
    }

    /// Every kind, in code order.
    pub const ALL: [QueryKind; 5] = [
        QueryKind::Aggregate,
        QueryKind::GroupBy,
        QueryKind::Histogram,
        QueryKind::LinReg,
        QueryKind::LogReg,
    ];

    /// The kind's number on chain (bit `code` of a grant's `kinds` allows it; a job records it).
    /// Stable: codes are never reused.
    pub fn code(self) -> u8 {
        match self {
            QueryKind::Aggregate => 0,
            QueryKind::GroupBy => 1,
            QueryKind::Histogram => 2,
            QueryKind::LinReg => 3,
            QueryKind::LogReg => 4,
        }
    }

    /// The kind with chain number `code`.
    pub fn from_code(code: u8) -> Option<QueryKind> {
        QueryKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind with stable name `name` (see [`QueryKind::as_str`]).
    pub fn from_name(name: &str) -> Option<QueryKind> {
        QueryKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A query that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedQuery {
    /// Datasets whose union is queried, in FROM order (all with `schema`).
    pub datasets: Vec<String>,
    /// Their common schema.
    pub schema: Schema,
    /// The row mask: a `Bool` expression, or `None` for every row.
    pub filter: Option<TypedExpr>,
    /// The grouping, if any.
    pub group_by: Option<GroupBy>,
    /// The results, in select-list order.
    pub items: Vec<TypedSelectItem>,
    /// The kinds of computation used (non-empty).
    pub kinds: BTreeSet<QueryKind>,
    /// Canonical text of the query (for program hashes).
    pub canonical_text: String,
}

#[cfg(test)]
mod kind_codes {
    use super::QueryKind;

    #[test]
    fn codes_and_names_round_trip_and_are_the_documented_ones() {
        let documented = [
            (0, "aggregate"),
            (1, "group_by"),
            (2, "histogram"),
            (3, "lin_reg"),
            (4, "log_reg"),
        ];
        for (kind, (code, name)) in QueryKind::ALL.into_iter().zip(documented) {
            assert_eq!(kind.code(), code);
            assert_eq!(kind.as_str(), name);
            assert_eq!(QueryKind::from_code(code), Some(kind));
            assert_eq!(QueryKind::from_name(name), Some(kind));
        }
        assert_eq!(QueryKind::from_code(5), None);
        assert_eq!(QueryKind::from_name("select"), None);
    }
}
