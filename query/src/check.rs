//! The type checker: resolves datasets and columns, types every expression, enforces the rules of
//! the language (see `docs/query-language.md`), and produces a [`TypedQuery`].

use std::collections::{BTreeSet, HashSet};

use super::ast::{
    Aggregate, BinaryOp, Expr, ExprKind, Model, Query, Span, UnaryAggregate, UnaryOp,
};
use super::error::QueryError;
use super::schema::{Catalog, ColumnType, Schema};
use super::suggest::closest;
use super::typed::{
    ArithOp, CmpOp, DIV_SCALE, GroupBy, OutputType, QueryKind, TypedAggregate, TypedExpr,
    TypedExprKind, TypedItemKind, TypedModel, TypedQuery, TypedSelectItem, ValueType,
};

/// The most features a LINREG/LOGREG formula may have.
pub const MAX_FEATURES: usize = 32;
/// The most edges a HISTOGRAM may have.
pub const MAX_HISTOGRAM_EDGES: usize = 256;

/// Type-checks `query` against the datasets of `catalog`.
pub fn check(query: &Query, catalog: &Catalog) -> Result<TypedQuery, QueryError> {
    // Datasets and their common schema.
    let mut datasets: Vec<String> = Vec::new();
    let mut schema: Option<&Schema> = None;
    for ds in &query.from {
        if datasets.contains(&ds.name) {
            return Err(QueryError::DuplicateDataset {
                name: ds.name.clone(),
                span: ds.span,
            });
        }
        let Some(s) = catalog.get(&ds.name) else {
            return Err(QueryError::UnknownDataset {
                name: ds.name.clone(),
                suggestion: closest(&ds.name, catalog.names()).map(str::to_string),
                span: ds.span,
            });
        };
        match schema {
            None => schema = Some(s),
            Some(reference) => {
                if let Some((pos, detail)) = reference.first_difference(s) {
                    let column = reference
                        .columns()
                        .get(pos)
                        .or_else(|| s.columns().get(pos))
                        .map(|c| c.name.clone())
                        .unwrap_or_default();
                    return Err(QueryError::SchemaMismatch {
                        dataset: ds.name.clone(),
                        reference: datasets.first().cloned().unwrap_or_default(),
                        column,
                        detail,
                        span: ds.span,
                    });
                }
            }
        }
        datasets.push(ds.name.clone());
    }
    let Some(schema) = schema else {
        // The parser never produces an empty FROM list.
        return Err(QueryError::UnexpectedToken {
            found: "end of query".into(),
            expected: "a dataset name".into(),
            hint: "name a dataset after FROM".into(),
            span: query.span,
        });
    };
    let mut ck = Checker {
        schema,
        guards: Vec::new(),
    };

    // GROUP BY.
    let group_by = match &query.group_by {
        None => None,
        Some(g) => {
            let (index, ty) = ck.resolve(&g.name, g.span)?;
            let groups = match &schema.columns()[index].ty {
                ColumnType::Category { labels } => labels.clone(),
                ColumnType::Boolean => vec!["false".to_string(), "true".to_string()],
                _ => {
                    return Err(QueryError::TypeMismatch {
                        context: "GROUP BY".into(),
                        expected: "a CATEGORY or BOOLEAN column".into(),
                        found: ty.describe(schema),
                        hint: "group by a category column; to count a number's values in ranges \
                               use HISTOGRAM(column, edge1, edge2, ...)"
                            .into(),
                        span: g.span,
                    });
                }
            };
            Some(GroupBy {
                column: index,
                name: g.name.clone(),
                groups,
            })
        }
    };

    // WHERE.
    let filter = match &query.filter {
        None => None,
        Some(f) => {
            let t = ck.expr(f, Ctx::Where)?;
            if t.ty != ValueType::Bool {
                return Err(QueryError::TypeMismatch {
                    context: "WHERE".into(),
                    expected: "a BOOLEAN condition".into(),
                    found: t.ty.describe(schema),
                    hint: "write a condition such as age > 40 or smoker".into(),
                    span: f.span,
                });
            }
            Some(t)
        }
    };

    // Select list.
    let mut items = Vec::new();
    let mut names = HashSet::new();
    let mut kinds = BTreeSet::new();
    if group_by.is_some() {
        kinds.insert(QueryKind::GroupBy);
    }
    for item in &query.select {
        let (kind, output) = match &item.expr.kind {
            ExprKind::Aggregate(agg) => {
                let (typed, output) = ck.aggregate(agg, item.expr.span)?;
                kinds.insert(match typed {
                    TypedAggregate::Histogram { .. } => QueryKind::Histogram,
                    TypedAggregate::LinReg(_) => QueryKind::LinReg,
                    TypedAggregate::LogReg(_) => QueryKind::LogReg,
                    _ => QueryKind::Aggregate,
                });
                (TypedItemKind::Aggregate(typed), output)
            }
            ExprKind::Column(name) => {
                ck.resolve(name, item.expr.span)?;
                match &group_by {
                    Some(g) if &g.name == name => (TypedItemKind::GroupKey, OutputType::GroupKey),
                    _ => {
                        return Err(QueryError::NonAggregateSelectItem {
                            item: item.expr.canonical_text(),
                            group_by: group_by.as_ref().map(|g| g.name.clone()),
                            span: item.expr.span,
                        });
                    }
                }
            }
            _ => {
                if contains_aggregate(&item.expr) {
                    return Err(QueryError::Unsupported {
                        feature: "arithmetic on aggregate results".into(),
                        instead: "select each aggregate as its own item and combine the results \
                                  yourself"
                            .into(),
                        span: item.expr.span,
                    });
                }
                return Err(QueryError::NonAggregateSelectItem {
                    item: item.expr.canonical_text(),
                    group_by: group_by.as_ref().map(|g| g.name.clone()),
                    span: item.expr.span,
                });
            }
        };
        let name = match &item.alias {
            Some(a) => a.name.clone(),
            None => item.expr.canonical_text(),
        };
        if !names.insert(name.clone()) {
            return Err(QueryError::DuplicateOutputName {
                name,
                span: item.span,
            });
        }
        items.push(TypedSelectItem {
            name,
            kind,
            output,
            span: item.span,
        });
    }
    if !items
        .iter()
        .any(|i| matches!(i.kind, TypedItemKind::Aggregate(_)))
    {
        let span = match (query.select.first(), query.select.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => query.span,
        };
        return Err(QueryError::NoAggregate { span });
    }
    Ok(TypedQuery {
        datasets,
        schema: schema.clone(),
        filter,
        group_by,
        items,
        kinds,
        canonical_text: query.canonical_text(),
    })
}

/// Where an expression is being checked.
#[derive(Clone, Copy)]
enum Ctx {
    Where,
    /// Inside the argument of this aggregate.
    Aggregate(&'static str),
}

struct Checker<'a> {
    schema: &'a Schema,
    /// Canonical texts of expressions known to be nonzero wherever the expression being checked
    /// can influence the result.
    guards: Vec<String>,
}

fn contains_aggregate(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Aggregate(_) => true,
        ExprKind::Unary { operand, .. } => contains_aggregate(operand),
        ExprKind::Binary { lhs, rhs, .. } => contains_aggregate(lhs) || contains_aggregate(rhs),
        ExprKind::Case { arms, otherwise } => {
            arms.iter()
                .any(|a| contains_aggregate(&a.cond) || contains_aggregate(&a.then))
                || contains_aggregate(otherwise)
        }
        _ => false,
    }
}

fn contains_column(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Column(_) => true,
        ExprKind::Unary { operand, .. } => contains_column(operand),
        ExprKind::Binary { lhs, rhs, .. } => contains_column(lhs) || contains_column(rhs),
        ExprKind::Case { arms, otherwise } => {
            arms.iter()
                .any(|a| contains_column(&a.cond) || contains_column(&a.then))
                || contains_column(otherwise)
        }
        ExprKind::Aggregate(_) => true,
        _ => false,
    }
}

/// The numeric literal an expression is, possibly negated.
fn literal_number(e: &Expr) -> Option<super::ast::Number> {
    match &e.kind {
        ExprKind::Number(n) => Some(*n),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => literal_number(operand),
        _ => None,
    }
}

fn is_zero(e: &Expr) -> bool {
    literal_number(e).is_some_and(|n| n.units == 0)
}

/// Expressions that are nonzero whenever `e` is true.
fn nonzero_if_true(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Binary { op, lhs, rhs } => match op {
            BinaryOp::And => {
                nonzero_if_true(lhs, out);
                nonzero_if_true(rhs, out);
            }
            BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Gt => {
                if is_zero(rhs) {
                    out.push(lhs.canonical_text());
                } else if is_zero(lhs) {
                    out.push(rhs.canonical_text());
                }
            }
            _ => {}
        },
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => nonzero_if_false(operand, out),
        _ => {}
    }
}

/// Expressions that are nonzero whenever `e` is false.
fn nonzero_if_false(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Binary { op, lhs, rhs } => match op {
            BinaryOp::Or => {
                nonzero_if_false(lhs, out);
                nonzero_if_false(rhs, out);
            }
            BinaryOp::Eq => {
                if is_zero(rhs) {
                    out.push(lhs.canonical_text());
                } else if is_zero(lhs) {
                    out.push(rhs.canonical_text());
                }
            }
            _ => {}
        },
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => nonzero_if_true(operand, out),
        _ => {}
    }
}

fn convert(e: TypedExpr, to: ValueType) -> TypedExpr {
    if e.ty == to {
        return e;
    }
    let span = e.span;
    TypedExpr {
        kind: TypedExprKind::Convert(Box::new(e)),
        ty: to,
        span,
    }
}

/// `Int` if both are `Int`, else `Fixed` of the larger scale. Both must be numeric.
fn common_numeric(a: ValueType, b: ValueType) -> ValueType {
    match (a, b) {
        (ValueType::Int, ValueType::Int) => ValueType::Int,
        _ => ValueType::Fixed(a.scale().unwrap_or(0).max(b.scale().unwrap_or(0))),
    }
}

fn numeric_of_scale(scale: u8) -> ValueType {
    if scale == 0 {
        ValueType::Int
    } else {
        ValueType::Fixed(scale)
    }
}

fn cmp_op(op: BinaryOp) -> CmpOp {
    match op {
        BinaryOp::Eq => CmpOp::Eq,
        BinaryOp::Ne => CmpOp::Ne,
        BinaryOp::Lt => CmpOp::Lt,
        BinaryOp::Le => CmpOp::Le,
        BinaryOp::Gt => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

impl Checker<'_> {
    fn resolve(&self, name: &str, span: Span) -> Result<(usize, ValueType), QueryError> {
        let Some((index, col)) = self.schema.column(name) else {
            let close = closest(name, self.schema.columns().iter().map(|c| c.name.as_str()));
            // A label written without quotes: suggest the quoted label.
            let is_label = self.schema.columns().iter().any(
                |c| matches!(&c.ty, ColumnType::Category { labels } if labels.iter().any(|l| l == name)),
            );
            let suggestion = match close {
                Some(c) => Some(c.to_string()),
                None if is_label => Some(format!("'{name}'")),
                None => None,
            };
            return Err(QueryError::UnknownColumn {
                name: name.to_string(),
                suggestion,
                span,
            });
        };
        let ty = match &col.ty {
            ColumnType::Integer => ValueType::Int,
            ColumnType::Fixed { scale } => numeric_of_scale(*scale),
            ColumnType::Boolean => ValueType::Bool,
            // Categories with the same label list share one type, named by the first column
            // that has that list.
            ColumnType::Category { .. } => ValueType::Category(
                self.schema
                    .columns()
                    .iter()
                    .position(|c| c.ty == col.ty)
                    .unwrap_or(index),
            ),
        };
        Ok((index, ty))
    }

    fn labels(&self, ty: ValueType) -> &[String] {
        if let ValueType::Category(c) = ty
            && let Some(ColumnType::Category { labels }) =
                self.schema.columns().get(c).map(|c| &c.ty)
        {
            return labels;
        }
        &[]
    }

    fn describe(&self, ty: ValueType) -> String {
        ty.describe(self.schema)
    }

    fn mismatch(
        &self,
        context: &str,
        expected: &str,
        found: ValueType,
        hint: &str,
        span: Span,
    ) -> QueryError {
        QueryError::TypeMismatch {
            context: context.into(),
            expected: expected.into(),
            found: self.describe(found),
            hint: hint.into(),
            span,
        }
    }

    /// Requires a numeric value (or a boolean, converted to `Int`, when `allow_bool`).
    fn numeric(
        &self,
        e: TypedExpr,
        context: &str,
        allow_bool: bool,
    ) -> Result<TypedExpr, QueryError> {
        match e.ty {
            ValueType::Int | ValueType::Fixed(_) => Ok(e),
            ValueType::Bool if allow_bool => Ok(convert(e, ValueType::Int)),
            ValueType::Bool => Err(self.mismatch(
                context,
                "a number (INTEGER or FIXED)",
                e.ty,
                "booleans are not numbers here; write CASE WHEN condition THEN 1 ELSE 0 END",
                e.span,
            )),
            ValueType::Category(_) => Err(self.mismatch(
                context,
                if allow_bool {
                    "a number or a boolean"
                } else {
                    "a number (INTEGER or FIXED)"
                },
                e.ty,
                "a category is a label, not a number; compare it with a label instead, e.g. \
                 COUNT(diagnosis = 'flu')",
                e.span,
            )),
        }
    }

    fn boolean(&self, e: TypedExpr, context: &str) -> Result<TypedExpr, QueryError> {
        if e.ty == ValueType::Bool {
            Ok(e)
        } else {
            Err(self.mismatch(
                context,
                "a BOOLEAN condition",
                e.ty,
                "write a condition such as age > 40, smoker or diagnosis = 'flu'",
                e.span,
            ))
        }
    }

    /// Checks `e` with extra guard facts in force.
    fn guarded(&mut self, e: &Expr, ctx: Ctx, facts: Vec<String>) -> Result<TypedExpr, QueryError> {
        let n = self.guards.len();
        self.guards.extend(facts);
        let r = self.expr(e, ctx);
        self.guards.truncate(n);
        r
    }

    fn expr(&mut self, e: &Expr, ctx: Ctx) -> Result<TypedExpr, QueryError> {
        let span = e.span;
        let node = |kind, ty| TypedExpr { kind, ty, span };
        match &e.kind {
            ExprKind::Column(name) => {
                let (index, ty) = self.resolve(name, span)?;
                Ok(node(
                    TypedExprKind::Column {
                        index,
                        name: name.clone(),
                    },
                    ty,
                ))
            }
            ExprKind::Number(n) => Ok(if n.scale == 0 {
                node(TypedExprKind::Int(n.units), ValueType::Int)
            } else {
                node(
                    TypedExprKind::Fixed {
                        units: n.units,
                        scale: n.scale,
                    },
                    ValueType::Fixed(n.scale),
                )
            }),
            ExprKind::Bool(b) => Ok(node(TypedExprKind::Bool(*b), ValueType::Bool)),
            ExprKind::String(s) => Err(QueryError::TypeMismatch {
                context: format!("the label '{s}'"),
                expected: "a category column on the other side of = or <>".into(),
                found: "a label used on its own".into(),
                hint: "labels are only compared with category columns: diagnosis = 'flu'".into(),
                span,
            }),
            ExprKind::Aggregate(agg) => Err(match ctx {
                Ctx::Where => QueryError::AggregateInWhere {
                    name: agg.name().into(),
                    span,
                },
                Ctx::Aggregate(outer) => QueryError::NestedAggregate {
                    inner: agg.name().into(),
                    outer: outer.into(),
                    span,
                },
            }),
            ExprKind::Unary { op, operand } => {
                let t = self.expr(operand, ctx)?;
                match op {
                    UnaryOp::Neg => {
                        let t = self.numeric(t, "unary -", false)?;
                        let ty = t.ty;
                        Ok(node(TypedExprKind::Neg(Box::new(t)), ty))
                    }
                    UnaryOp::Not => {
                        let t = self.boolean(t, "NOT")?;
                        Ok(node(TypedExprKind::Not(Box::new(t)), ValueType::Bool))
                    }
                }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span, ctx),
            ExprKind::Case { arms, otherwise } => {
                let mut prior_false = Vec::new();
                let mut typed_arms = Vec::new();
                for arm in arms {
                    let cond = self.guarded(&arm.cond, ctx, prior_false.clone())?;
                    let cond = self.boolean(cond, "WHEN")?;
                    let mut facts = prior_false.clone();
                    nonzero_if_true(&arm.cond, &mut facts);
                    let then = self.guarded(&arm.then, ctx, facts)?;
                    nonzero_if_false(&arm.cond, &mut prior_false);
                    typed_arms.push((cond, then));
                }
                let otherwise = self.guarded(otherwise, ctx, prior_false)?;
                // Unify the branch types.
                let first = typed_arms.first().map_or(otherwise.ty, |(_, then)| then.ty);
                let mut ty = first;
                for t in typed_arms.iter().map(|(_, t)| t).chain([&otherwise]) {
                    let ok = match (ty, t.ty) {
                        (a, b) if a.is_numeric() && b.is_numeric() => {
                            ty = common_numeric(a, b);
                            true
                        }
                        (ValueType::Bool, ValueType::Bool) => true,
                        (a @ ValueType::Category(_), b @ ValueType::Category(_)) => a == b,
                        _ => false,
                    };
                    if !ok {
                        return Err(self.mismatch(
                            "CASE",
                            &format!(
                                "a value of the same type as the first branch ({})",
                                self.describe(first)
                            ),
                            t.ty,
                            "every THEN and the ELSE must have compatible types: all numbers, all \
                             booleans, or all the same category",
                            t.span,
                        ));
                    }
                }
                let arms = typed_arms
                    .into_iter()
                    .map(|(c, t)| (c, convert(t, ty)))
                    .collect();
                Ok(node(
                    TypedExprKind::Case {
                        arms,
                        otherwise: Box::new(convert(otherwise, ty)),
                    },
                    ty,
                ))
            }
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
        ctx: Ctx,
    ) -> Result<TypedExpr, QueryError> {
        let node = |kind, ty| TypedExpr { kind, ty, span };
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let (mut fl, mut fr) = (Vec::new(), Vec::new());
                if op == BinaryOp::And {
                    nonzero_if_true(rhs, &mut fl);
                    nonzero_if_true(lhs, &mut fr);
                } else {
                    nonzero_if_false(rhs, &mut fl);
                    nonzero_if_false(lhs, &mut fr);
                }
                let l = self.guarded(lhs, ctx, fl)?;
                let r = self.guarded(rhs, ctx, fr)?;
                let l = self.boolean(l, op.symbol())?;
                let r = self.boolean(r, op.symbol())?;
                let kind = if op == BinaryOp::And {
                    TypedExprKind::And(Box::new(l), Box::new(r))
                } else {
                    TypedExprKind::Or(Box::new(l), Box::new(r))
                };
                Ok(node(kind, ValueType::Bool))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                let l = self.expr(lhs, ctx)?;
                let r = self.expr(rhs, ctx)?;
                let l = self.numeric(l, op.symbol(), false)?;
                let r = self.numeric(r, op.symbol(), false)?;
                if op == BinaryOp::Div {
                    self.check_divisor(lhs, rhs)?;
                }
                let common = common_numeric(l.ty, r.ty);
                let (aop, ty, l, r) = match op {
                    BinaryOp::Add => (ArithOp::Add, common, convert(l, common), convert(r, common)),
                    BinaryOp::Sub => (ArithOp::Sub, common, convert(l, common), convert(r, common)),
                    BinaryOp::Mul => (ArithOp::Mul, common, l, r),
                    _ => {
                        let s = common.scale().unwrap_or(0).max(DIV_SCALE);
                        (ArithOp::Div, ValueType::Fixed(s), l, r)
                    }
                };
                Ok(node(
                    TypedExprKind::Arith {
                        op: aop,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                    },
                    ty,
                ))
            }
            _ => self.compare(op, lhs, rhs, span, ctx),
        }
    }

    fn check_divisor(&self, dividend: &Expr, divisor: &Expr) -> Result<(), QueryError> {
        if let Some(n) = literal_number(divisor) {
            if n.units == 0 {
                return Err(QueryError::DivisionByZero { span: divisor.span });
            }
            return Ok(());
        }
        let text = divisor.canonical_text();
        if self.guards.contains(&text) {
            return Ok(());
        }
        Err(QueryError::UnguardedDivision {
            divisor: text,
            dividend: dividend.canonical_text(),
            span: divisor.span,
        })
    }

    fn compare(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
        ctx: Ctx,
    ) -> Result<TypedExpr, QueryError> {
        let node = |l: TypedExpr, r: TypedExpr| TypedExpr {
            kind: TypedExprKind::Compare {
                op: cmp_op(op),
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
            ty: ValueType::Bool,
            span,
        };
        let equality = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
        let order_hint = "booleans and categories can only be compared with = and <>";
        match (&lhs.kind, &rhs.kind) {
            (ExprKind::String(_), ExprKind::String(_)) => Err(QueryError::TypeMismatch {
                context: op.symbol().into(),
                expected: "a category column compared with a label".into(),
                found: "two labels".into(),
                hint: "compare a category column with a label: diagnosis = 'flu'".into(),
                span,
            }),
            (_, ExprKind::String(label)) | (ExprKind::String(label), _) => {
                let (column_side, label_span, label_left) = match &rhs.kind {
                    ExprKind::String(_) => (lhs, rhs.span, false),
                    _ => (rhs, lhs.span, true),
                };
                let c = self.expr(column_side, ctx)?;
                if !matches!(c.ty, ValueType::Category(_)) {
                    return Err(self.mismatch(
                        &format!("comparison with the label '{label}'"),
                        "a CATEGORY column",
                        c.ty,
                        "string literals are category labels; compare numbers with numbers \
                         (age = 40) and booleans with TRUE/FALSE",
                        c.span,
                    ));
                }
                if !equality {
                    return Err(self.mismatch(op.symbol(), "numbers", c.ty, order_hint, span));
                }
                let labels = self.labels(c.ty);
                let Some(index) = labels.iter().position(|l| l == label) else {
                    let column = match (&c.kind, c.ty) {
                        (TypedExprKind::Column { name, .. }, _) => name.clone(),
                        (_, ValueType::Category(i)) => self
                            .schema
                            .columns()
                            .get(i)
                            .map(|c| c.name.clone())
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    return Err(QueryError::UnknownLabel {
                        column,
                        label: label.clone(),
                        valid: labels.to_vec(),
                        span: label_span,
                    });
                };
                let l = TypedExpr {
                    kind: TypedExprKind::Label {
                        index,
                        label: label.clone(),
                    },
                    ty: c.ty,
                    span: label_span,
                };
                Ok(if label_left { node(l, c) } else { node(c, l) })
            }
            _ => {
                let l = self.expr(lhs, ctx)?;
                let r = self.expr(rhs, ctx)?;
                match (l.ty, r.ty) {
                    (a, b) if a.is_numeric() && b.is_numeric() => {
                        let common = common_numeric(a, b);
                        Ok(node(convert(l, common), convert(r, common)))
                    }
                    (ValueType::Bool, ValueType::Bool)
                    | (ValueType::Category(_), ValueType::Category(_))
                        if !equality =>
                    {
                        Err(self.mismatch(op.symbol(), "numbers", l.ty, order_hint, span))
                    }
                    (ValueType::Bool, ValueType::Bool) => Ok(node(l, r)),
                    (a @ ValueType::Category(_), b @ ValueType::Category(_)) if a == b => {
                        Ok(node(l, r))
                    }
                    _ => {
                        let expected = if l.ty.is_numeric() {
                            "a number".to_string()
                        } else {
                            self.describe(l.ty)
                        };
                        let hint = match (l.ty, r.ty) {
                            (ValueType::Bool, _) | (_, ValueType::Bool) => {
                                "compare a boolean with TRUE or FALSE, or use it as a condition \
                                 on its own (WHERE smoker)"
                            }
                            (ValueType::Category(_), ValueType::Category(_)) => {
                                "two category columns can be compared only when they have the \
                                 same labels in the same order"
                            }
                            _ => {
                                "compare a category column with one of its labels in single \
                                 quotes: diagnosis = 'flu'"
                            }
                        };
                        Err(self.mismatch(
                            op.symbol(),
                            &format!("{expected} (the type of the left side)"),
                            r.ty,
                            hint,
                            r.span,
                        ))
                    }
                }
            }
        }
    }

    /// Checks an aggregate call at the top of a select item.
    fn aggregate(
        &mut self,
        agg: &Aggregate,
        span: Span,
    ) -> Result<(TypedAggregate, OutputType), QueryError> {
        let name = agg.name();
        let ctx = Ctx::Aggregate(name);
        let stat = |s: u8| ValueType::Fixed(s.max(DIV_SCALE));
        match agg {
            Aggregate::CountStar => Ok((
                TypedAggregate::CountStar,
                OutputType::Scalar(ValueType::Int),
            )),
            Aggregate::Unary { func, arg } => {
                let t = self.expr(arg, ctx)?;
                let (t, out) = match func {
                    UnaryAggregate::Count => {
                        if t.ty != ValueType::Bool {
                            return Err(self.mismatch(
                                "COUNT",
                                "* or a BOOLEAN condition",
                                t.ty,
                                "COUNT(condition) counts the rows where the condition is true; \
                                 use COUNT(*) to count rows",
                                t.span,
                            ));
                        }
                        (t, ValueType::Int)
                    }
                    UnaryAggregate::Sum => {
                        let t = self.numeric(t, name, true)?;
                        let ty = t.ty;
                        (t, ty)
                    }
                    UnaryAggregate::Min | UnaryAggregate::Max => {
                        if t.ty == ValueType::Bool {
                            (t, ValueType::Bool)
                        } else {
                            let t = self.numeric(t, name, true)?;
                            let ty = t.ty;
                            (t, ty)
                        }
                    }
                    _ => {
                        let t = self.numeric(t, name, true)?;
                        let s = t.ty.scale().unwrap_or(0);
                        (t, stat(s))
                    }
                };
                Ok((
                    TypedAggregate::Unary {
                        func: *func,
                        arg: t,
                    },
                    OutputType::Scalar(out),
                ))
            }
            Aggregate::Binary { func, a, b } => {
                let ta = self.expr(a, ctx)?;
                let ta = self.numeric(ta, name, true)?;
                let tb = self.expr(b, ctx)?;
                let tb = self.numeric(tb, name, true)?;
                let s = ta.ty.scale().unwrap_or(0).max(tb.ty.scale().unwrap_or(0));
                Ok((
                    TypedAggregate::Binary {
                        func: *func,
                        a: ta,
                        b: tb,
                    },
                    OutputType::Scalar(stat(s)),
                ))
            }
            Aggregate::Histogram { arg, edges } => {
                let t = self.expr(arg, ctx)?;
                if t.ty == ValueType::Bool {
                    return Err(self.mismatch(
                        "HISTOGRAM",
                        "a number",
                        t.ty,
                        "count a boolean with COUNT(condition)",
                        t.span,
                    ));
                }
                let t = self.numeric(t, name, false)?;
                if edges.is_empty() {
                    return Err(QueryError::BadHistogramEdges {
                        reason: "at least one edge is needed".into(),
                        span,
                    });
                }
                if edges.len() > MAX_HISTOGRAM_EDGES {
                    return Err(QueryError::BadHistogramEdges {
                        reason: format!("at most {MAX_HISTOGRAM_EDGES} edges are allowed"),
                        span: edges[MAX_HISTOGRAM_EDGES].span,
                    });
                }
                let scale = edges
                    .iter()
                    .map(|e| e.value.scale)
                    .chain(t.ty.scale())
                    .max()
                    .unwrap_or(0);
                let ty = numeric_of_scale(scale);
                let mut units: Vec<i64> = Vec::with_capacity(edges.len());
                for e in edges {
                    let factor = 10i64.checked_pow(u32::from(scale - e.value.scale));
                    let Some(u) = factor.and_then(|f| e.value.units.checked_mul(f)) else {
                        return Err(QueryError::BadHistogramEdges {
                            reason: format!("edge {} is out of range at scale {scale}", e.value),
                            span: e.span,
                        });
                    };
                    if let Some(&prev) = units.last()
                        && u <= prev
                    {
                        return Err(QueryError::BadHistogramEdges {
                            reason: format!(
                                "edge {} is not greater than the edge before it",
                                e.value
                            ),
                            span: e.span,
                        });
                    }
                    units.push(u);
                }
                let bins = units.len() + 1;
                Ok((
                    TypedAggregate::Histogram {
                        arg: convert(t, ty),
                        edges: units,
                    },
                    OutputType::Histogram { bins },
                ))
            }
            Aggregate::LinReg(m) | Aggregate::LogReg(m) => {
                let logistic = matches!(agg, Aggregate::LogReg(_));
                let model = self.model(m, name, logistic)?;
                let scale = if logistic {
                    DIV_SCALE
                } else {
                    model
                        .features
                        .iter()
                        .chain([&model.target])
                        .filter_map(|f| f.ty.scale())
                        .max()
                        .unwrap_or(0)
                        .max(DIV_SCALE)
                };
                let mut terms = vec!["intercept".to_string()];
                terms.extend(model.feature_names.iter().cloned());
                let out = OutputType::Coefficients {
                    terms,
                    scale,
                    r_squared: !logistic,
                };
                Ok((
                    if logistic {
                        TypedAggregate::LogReg(model)
                    } else {
                        TypedAggregate::LinReg(model)
                    },
                    out,
                ))
            }
        }
    }

    fn model(
        &mut self,
        m: &Model,
        name: &'static str,
        logistic: bool,
    ) -> Result<TypedModel, QueryError> {
        let ctx = Ctx::Aggregate(name);
        let target = self.expr(&m.target, ctx)?;
        let target = if logistic {
            if target.ty != ValueType::Bool {
                return Err(self.mismatch(
                    "the LOGREG target",
                    "a BOOLEAN",
                    target.ty,
                    "LOGREG models a yes/no outcome: use a boolean column or a condition such as \
                     diagnosis = 'flu'",
                    target.span,
                ));
            }
            target
        } else {
            self.numeric(target, "the LINREG target", true)?
        };
        if !contains_column(&m.target) {
            return Err(QueryError::InvalidModel {
                reason: "the target is a constant".into(),
                span: m.target.span,
            });
        }
        if m.features.len() > MAX_FEATURES {
            return Err(QueryError::InvalidModel {
                reason: format!("at most {MAX_FEATURES} features are allowed"),
                span: m.features[MAX_FEATURES].span,
            });
        }
        let target_text = m.target.canonical_text();
        let mut features = Vec::new();
        let mut feature_names: Vec<String> = Vec::new();
        for f in &m.features {
            let t = self.expr(f, ctx)?;
            let t = self.numeric(t, &format!("a {name} feature"), true)?;
            let text = f.canonical_text();
            if !contains_column(f) {
                return Err(QueryError::InvalidModel {
                    reason: format!(
                        "feature `{text}` is a constant (the intercept is always included)"
                    ),
                    span: f.span,
                });
            }
            if text == target_text {
                return Err(QueryError::InvalidModel {
                    reason: format!("`{text}` is both the target and a feature"),
                    span: f.span,
                });
            }
            if feature_names.contains(&text) {
                return Err(QueryError::InvalidModel {
                    reason: format!("feature `{text}` is listed twice"),
                    span: f.span,
                });
            }
            features.push(t);
            feature_names.push(text);
        }
        Ok(TypedModel {
            target,
            features,
            feature_names,
        })
    }
}
