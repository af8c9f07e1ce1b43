//! The syntax tree of a query, exactly as written (before name resolution and typing), with a
//! source [`Span`] on every node and a printer back to canonical query text.
//!
//! Canonical text ([`Query::canonical_text`]) is one line: keywords and function names in upper
//! case, canonical function names (`STDDEV` prints as `STDDEV_SAMP`, `COVAR` as `COVAR_POP`,
//! `VARIANCE` as `VAR_SAMP`, `!=` as `<>`), single spaces, the fewest parentheses that keep the
//! tree, identifiers double-quoted only when they are reserved words, aliases always with `AS`, no
//! comments and no trailing `;`. Parsing the canonical text gives back the same tree (spans aside),
//! so two queries that differ only in layout, case of keywords, comments or redundant parentheses
//! have the same canonical text, which is what program hashes are computed over.

use std::fmt;

/// A region of the query text: byte offsets `start..end`, and the 1-based line and column
/// (counted in characters) of `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column of `start`, in characters.
    pub column: u32,
}

impl Span {
    /// The span from the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end.max(self.end),
            line: self.line,
            column: self.column,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A name (dataset, column or alias) with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name, without quotes.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// A whole query: `SELECT items FROM datasets [WHERE filter] [GROUP BY column]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The select list, in order.
    pub select: Vec<SelectItem>,
    /// The datasets whose union is queried, in order.
    pub from: Vec<Ident>,
    /// The row filter (`WHERE`).
    pub filter: Option<Expr>,
    /// The grouping column (`GROUP BY`).
    pub group_by: Option<Ident>,
    /// The whole query.
    pub span: Span,
}

/// One item of the select list, with its optional alias.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    /// The expression (an aggregate, or the GROUP BY column; anything else is refused by the
    /// type checker).
    pub expr: Expr,
    /// `AS alias`.
    pub alias: Option<Ident>,
    /// The item including its alias.
    pub span: Span,
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written (parentheses around it excluded).
    pub span: Span,
}

/// A numeric literal: `units / 10^scale`. `scale == 0` means an integer literal (`3`); `3.0` has
/// scale 1 and `3.25` has units 325 and scale 2. Literals in expressions are never negative (a
/// minus sign is [`UnaryOp::Neg`]); histogram edges may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    /// The value times `10^scale`.
    pub units: i64,
    /// Number of decimal places as written, at most 12.
    pub scale: u8,
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let digits = self.units.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        // Left-pad so there is at least one digit before the point.
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A column of the (union) schema.
    Column(String),
    /// A numeric literal.
    Number(Number),
    /// A string literal: only meaningful as a category label compared with a category column.
    String(String),
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// `-e` or `NOT e`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `CASE WHEN c THEN e ... ELSE e END`.
    Case {
        /// The `WHEN c THEN e` arms, in order (at least one).
        arms: Vec<WhenArm>,
        /// The `ELSE` value (mandatory: there is no NULL).
        otherwise: Box<Expr>,
    },
    /// An aggregate call such as `AVG(age)`.
    Aggregate(Box<Aggregate>),
}

/// One `WHEN cond THEN value` arm.
#[derive(Debug, Clone, PartialEq)]
pub struct WhenArm {
    /// The condition.
    pub cond: Expr,
    /// The value when the condition holds (and no earlier one did).
    pub then: Expr,
    /// From `WHEN` to the end of the value.
    pub span: Span,
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// Arithmetic negation `-`.
    Neg,
    /// Boolean `NOT`.
    Not,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `=`
    Eq,
    /// `<>` (also written `!=`)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `AND`
    And,
    /// `OR`
    Or,
}

impl BinaryOp {
    /// The operator as written in canonical text.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }

    /// Whether this is one of the six comparisons.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// Binding strength (higher binds tighter): OR 1, AND 2, (NOT 3), comparisons 4, `+ -` 5,
    /// `* /` 6, (unary minus 7).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        }
    }
}

/// Aggregates of one expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryAggregate {
    /// `COUNT(cond)`: number of rows where the boolean `cond` is true.
    Count,
    /// `SUM(e)`.
    Sum,
    /// `AVG(e)`.
    Avg,
    /// `VAR_POP(e)`: population variance (divides by n).
    VarPop,
    /// `VAR_SAMP(e)` (also `VARIANCE`): sample variance (divides by n − 1).
    VarSamp,
    /// `STDDEV_POP(e)`.
    StddevPop,
    /// `STDDEV_SAMP(e)` (also `STDDEV`, as in PostgreSQL).
    StddevSamp,
    /// `MIN(e)`.
    Min,
    /// `MAX(e)`.
    Max,
}

impl UnaryAggregate {
    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            UnaryAggregate::Count => "COUNT",
            UnaryAggregate::Sum => "SUM",
            UnaryAggregate::Avg => "AVG",
            UnaryAggregate::VarPop => "VAR_POP",
            UnaryAggregate::VarSamp => "VAR_SAMP",
            UnaryAggregate::StddevPop => "STDDEV_POP",
            UnaryAggregate::StddevSamp => "STDDEV_SAMP",
            UnaryAggregate::Min => "MIN",
            UnaryAggregate::Max => "MAX",
        }
    }
}

/// Aggregates of two expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryAggregate {
    /// `COVAR_POP(a, b)` (also `COVAR`): population covariance.
    CovarPop,
    /// `COVAR_SAMP(a, b)`: sample covariance.
    CovarSamp,
    /// `CORR(a, b)`: Pearson correlation coefficient.
    Corr,
}

impl BinaryAggregate {
    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            BinaryAggregate::CovarPop => "COVAR_POP",
            BinaryAggregate::CovarSamp => "COVAR_SAMP",
            BinaryAggregate::Corr => "CORR",
        }
    }
}

/// A model formula `target ~ f1 + f2 + ...` (an intercept is always fitted).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The response.
    pub target: Expr,
    /// The features (at least one).
    pub features: Vec<Expr>,
}

/// A histogram bin edge: a (possibly negative) numeric literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The value.
    pub value: Number,
    /// Where it was written (sign included).
    pub span: Span,
}

/// An aggregate call.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// `COUNT(*)`.
    CountStar,
    /// `COUNT`, `SUM`, `AVG`, `VAR_*`, `STDDEV_*`, `MIN`, `MAX` of one expression.
    Unary {
        /// Which one.
        func: UnaryAggregate,
        /// Its argument.
        arg: Expr,
    },
    /// `COVAR_*` or `CORR` of two expressions.
    Binary {
        /// Which one.
        func: BinaryAggregate,
        /// First argument.
        a: Expr,
        /// Second argument.
        b: Expr,
    },
    /// `HISTOGRAM(e, edge, ...)`.
    Histogram {
        /// The value binned.
        arg: Expr,
        /// The bin edges as written.
        edges: Vec<Edge>,
    },
    /// `LINREG(y ~ x1 + ...)`: least squares.
    LinReg(Model),
    /// `LOGREG(y ~ x1 + ...)`: logistic regression.
    LogReg(Model),
}

impl Aggregate {
    /// The canonical function name.
    pub fn name(&self) -> &'static str {
        match self {
            Aggregate::CountStar => "COUNT",
            Aggregate::Unary { func, .. } => func.name(),
            Aggregate::Binary { func, .. } => func.name(),
            Aggregate::Histogram { .. } => "HISTOGRAM",
            Aggregate::LinReg(_) => "LINREG",
            Aggregate::LogReg(_) => "LOGREG",
        }
    }
}

/// Words that cannot be used as bare identifiers (write `"order"` for a column named `order`).
/// The first group is the language; the second are SQL words we refuse with a specific message.
pub const RESERVED: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "AS",
    "AND",
    "OR",
    "NOT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "TRUE",
    "FALSE", // language
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "CROSS",
    "ON",
    "USING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "HAVING",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "DISTINCT",
    "ALL",
    "NULL",
    "IS",
    "IN",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "EXISTS",
    "WITH",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "ALTER",
];

/// Whether `word` is reserved (case-insensitive).
pub fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Writes an identifier, quoting it if it is a reserved word.
fn write_ident(out: &mut String, name: &str) {
    if is_reserved(name) {
        out.push('"');
        out.push_str(name);
        out.push('"');
    } else {
        out.push_str(name);
    }
}

const PREC_NOT: u8 = 3;
const PREC_MUL: u8 = 6;
const PREC_NEG: u8 = 7;
const PREC_ATOM: u8 = 8;

impl Expr {
    /// Binding strength of the node's outermost operator (8 for atoms).
    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary { op, .. } => op.precedence(),
            ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => PREC_NOT,
            ExprKind::Unary {
                op: UnaryOp::Neg, ..
            } => PREC_NEG,
            _ => PREC_ATOM,
        }
    }

    /// Canonical text of this expression (see the module documentation).
    pub fn canonical_text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s
    }

    /// Writes the expression, in parentheses if it binds less tightly than `min_prec`.
    fn write(&self, out: &mut String, min_prec: u8) {
        let paren = self.precedence() < min_prec;
        if paren {
            out.push('(');
        }
        match &self.kind {
            ExprKind::Column(name) => write_ident(out, name),
            ExprKind::Number(n) => out.push_str(&n.to_string()),
            ExprKind::String(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
            ExprKind::Bool(true) => out.push_str("TRUE"),
            ExprKind::Bool(false) => out.push_str("FALSE"),
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Not => {
                    out.push_str("NOT ");
                    operand.write(out, PREC_NOT);
                }
                UnaryOp::Neg => {
                    out.push('-');
                    // `--` would start a comment: parenthesise a nested negation.
                    let nested = matches!(
                        operand.kind,
                        ExprKind::Unary {
                            op: UnaryOp::Neg,
                            ..
                        }
                    );
                    operand.write(out, if nested { PREC_ATOM + 1 } else { PREC_NEG });
                }
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                // Left-associative; comparisons do not associate at all.
                let left_min = if op.is_comparison() { p + 1 } else { p };
                lhs.write(out, left_min);
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                rhs.write(out, p + 1);
            }
            ExprKind::Case { arms, otherwise } => {
                out.push_str("CASE");
                for arm in arms {
                    out.push_str(" WHEN ");
                    arm.cond.write(out, 0);
                    out.push_str(" THEN ");
                    arm.then.write(out, 0);
                }
                out.push_str(" ELSE ");
                otherwise.write(out, 0);
                out.push_str(" END");
            }
            ExprKind::Aggregate(agg) => agg.write(out),
        }
        if paren {
            out.push(')');
        }
    }

    /// A copy with every span set to the default, for comparing trees structurally.
    pub fn without_spans(&self) -> Expr {
        let kind = match &self.kind {
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(operand.without_spans()),
            },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(lhs.without_spans()),
                rhs: Box::new(rhs.without_spans()),
            },
            ExprKind::Case { arms, otherwise } => ExprKind::Case {
                arms: arms
                    .iter()
                    .map(|a| WhenArm {
                        cond: a.cond.without_spans(),
                        then: a.then.without_spans(),
                        span: Span::default(),
                    })
                    .collect(),
                otherwise: Box::new(otherwise.without_spans()),
            },
            ExprKind::Aggregate(a) => ExprKind::Aggregate(Box::new(a.without_spans())),
            other => other.clone(),
        };
        Expr {
            kind,
            span: Span::default(),
        }
    }
}

impl Model {
    fn write(&self, out: &mut String) {
        self.target.write(out, 0);
        out.push_str(" ~ ");
        for (i, f) in self.features.iter().enumerate() {
            if i > 0 {
                out.push_str(" + ");
            }
            // Features are separated by `+`: a sum used as one feature needs parentheses.
            f.write(out, PREC_MUL);
        }
    }

    fn without_spans(&self) -> Model {
        Model {
            target: self.target.without_spans(),
            features: self.features.iter().map(Expr::without_spans).collect(),
        }
    }
}

impl Aggregate {
    fn write(&self, out: &mut String) {
        out.push_str(self.name());
        out.push('(');
        match self {
            Aggregate::CountStar => out.push('*'),
            Aggregate::Unary { arg, .. } => arg.write(out, 0),
            Aggregate::Binary { a, b, .. } => {
                a.write(out, 0);
                out.push_str(", ");
                b.write(out, 0);
            }
            Aggregate::Histogram { arg, edges } => {
                arg.write(out, 0);
                for e in edges {
                    out.push_str(", ");
                    out.push_str(&e.value.to_string());
                }
            }
            Aggregate::LinReg(m) | Aggregate::LogReg(m) => m.write(out),
        }
        out.push(')');
    }

    /// A copy with every span set to the default.
    pub fn without_spans(&self) -> Aggregate {
        match self {
            Aggregate::CountStar => Aggregate::CountStar,
            Aggregate::Unary { func, arg } => Aggregate::Unary {
                func: *func,
                arg: arg.without_spans(),
            },
            Aggregate::Binary { func, a, b } => Aggregate::Binary {
                func: *func,
                a: a.without_spans(),
                b: b.without_spans(),
            },
            Aggregate::Histogram { arg, edges } => Aggregate::Histogram {
                arg: arg.without_spans(),
                edges: edges
                    .iter()
                    .map(|e| Edge {
                        value: e.value,
                        span: Span::default(),
                    })
                    .collect(),
            },
            Aggregate::LinReg(m) => Aggregate::LinReg(m.without_spans()),
            Aggregate::LogReg(m) => Aggregate::LogReg(m.without_spans()),
        }
    }
}

impl SelectItem {
    /// Canonical text of the item, with its alias.
    pub fn canonical_text(&self) -> String {
        let mut s = self.expr.canonical_text();
        if let Some(alias) = &self.alias {
            s.push_str(" AS ");
            write_ident(&mut s, &alias.name);
        }
        s
    }
}

fn ident_without_span(i: &Ident) -> Ident {
    Ident {
        name: i.name.clone(),
        span: Span::default(),
    }
}

impl Query {
    /// Canonical text of the query (see the module documentation). This is what program hashes
    /// are computed over.
    pub fn canonical_text(&self) -> String {
        let mut s = String::from("SELECT ");
        for (i, item) in self.select.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&item.canonical_text());
        }
        s.push_str(" FROM ");
        for (i, d) in self.from.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            write_ident(&mut s, &d.name);
        }
        if let Some(f) = &self.filter {
            s.push_str(" WHERE ");
            f.write(&mut s, 0);
        }
        if let Some(g) = &self.group_by {
            s.push_str(" GROUP BY ");
            write_ident(&mut s, &g.name);
        }
        s
    }

    /// A copy with every span set to the default, for comparing trees structurally.
    pub fn without_spans(&self) -> Query {
        Query {
            select: self
                .select
                .iter()
                .map(|it| SelectItem {
                    expr: it.expr.without_spans(),
                    alias: it.alias.as_ref().map(ident_without_span),
                    span: Span::default(),
                })
                .collect(),
            from: self.from.iter().map(ident_without_span).collect(),
            filter: self.filter.as_ref().map(Expr::without_spans),
            group_by: self.group_by.as_ref().map(ident_without_span),
            span: Span::default(),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical_text())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical_text())
    }
}
