//! Recursive-descent parser: tokens to a [`Query`].
//!
//! Grammar (keywords case-insensitive):
//!
//! ```text
//! query     := SELECT item ("," item)* FROM name ("," name)* [WHERE expr] [GROUP BY name] [";"]
//! item      := expr [[AS] name]
//! expr      := and (OR and)*
//! and       := not (AND not)*
//! not       := NOT not | cmp
//! cmp       := add [cmpop add]            -- comparisons do not chain
//! add       := mul (("+" | "-") mul)*
//! mul       := unary (("*" | "/") unary)*
//! unary     := "-" unary | primary
//! primary   := number | string | TRUE | FALSE | name | "(" expr ")" | case | aggregate
//! case      := CASE (WHEN expr THEN expr)+ ELSE expr END
//! aggregate := COUNT "(" "*" ")" | F "(" expr ")" | G "(" expr "," expr ")"
//!            | HISTOGRAM "(" expr ("," ["-"] number)+ ")"
//!            | (LINREG | LOGREG) "(" expr "~" mul ("+" mul)* ")"
//! ```

use super::ast::{
    Aggregate, BinaryAggregate, BinaryOp, Edge, Expr, ExprKind, Ident, Model, Number, Query,
    SelectItem, Span, UnaryAggregate, UnaryOp, WhenArm, is_reserved,
};
use super::error::QueryError;
use super::lexer::{Tok, Token, lex};
use super::suggest::closest;

/// The longest query text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// The deepest expression tree (and parenthesis nesting) accepted.
pub const MAX_DEPTH: u32 = 100;

/// Parses query text into a syntax tree.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        let mut cut = MAX_QUERY_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let line = 1 + text[..cut].matches('\n').count();
        let column = 1 + text[..cut]
            .rsplit('\n')
            .next()
            .map_or(0, |l| l.chars().count());
        return Err(QueryError::TooLong {
            len: text.len(),
            max: MAX_QUERY_BYTES,
            span: Span {
                start: cut,
                end: cut,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
            },
        });
    }
    let tokens = lex(text)?;
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        depth: 0,
    };
    p.query()
}

/// Every aggregate function name accepted, with its canonical meaning.
const FUNCTIONS: &[&str] = &[
    "COUNT",
    "SUM",
    "AVG",
    "VAR_POP",
    "VAR_SAMP",
    "VARIANCE",
    "STDDEV",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "MIN",
    "MAX",
    "COVAR",
    "COVAR_POP",
    "COVAR_SAMP",
    "CORR",
    "HISTOGRAM",
    "LINREG",
    "LOGREG",
];

fn unary_aggregate(name: &str) -> Option<UnaryAggregate> {
    Some(match name {
        "COUNT" => UnaryAggregate::Count,
        "SUM" => UnaryAggregate::Sum,
        "AVG" => UnaryAggregate::Avg,
        "VAR_POP" => UnaryAggregate::VarPop,
        "VAR_SAMP" | "VARIANCE" => UnaryAggregate::VarSamp,
        "STDDEV_POP" => UnaryAggregate::StddevPop,
        "STDDEV_SAMP" | "STDDEV" => UnaryAggregate::StddevSamp,
        "MIN" => UnaryAggregate::Min,
        "MAX" => UnaryAggregate::Max,
        _ => return None,
    })
}

fn binary_aggregate(name: &str) -> Option<BinaryAggregate> {
    Some(match name {
        "COVAR_POP" | "COVAR" => BinaryAggregate::CovarPop,
        "COVAR_SAMP" => BinaryAggregate::CovarSamp,
        "CORR" => BinaryAggregate::Corr,
        _ => return None,
    })
}

/// For SQL words we refuse: the feature's name and what to do instead.
fn unsupported_keyword(word: &str) -> Option<(&'static str, &'static str)> {
    let w = word.to_ascii_uppercase();
    Some(match w.as_str() {
        "JOIN" | "INNER" | "LEFT" | "RIGHT" | "FULL" | "OUTER" | "CROSS" | "ON" | "USING" => (
            "JOIN",
            "list datasets that have the same schema separated by commas (FROM a, b) to query \
             their union; joins are not available",
        ),
        "ORDER" => (
            "ORDER BY",
            "a query returns aggregates, not rows; remove ORDER BY and sort the results yourself",
        ),
        "LIMIT" | "OFFSET" => (
            "LIMIT/OFFSET",
            "a query returns aggregates, never rows; remove it",
        ),
        "HAVING" => (
            "HAVING",
            "filter rows with WHERE; groups smaller than the minimum cohort size are suppressed \
             automatically",
        ),
        "UNION" | "INTERSECT" | "EXCEPT" => (
            "set operations (UNION, INTERSECT, EXCEPT)",
            "to query the union of datasets with the same schema, list them in FROM: FROM a, b",
        ),
        "DISTINCT" | "ALL" => (
            "DISTINCT/ALL",
            "count rows per label with SELECT column, COUNT(*) ... GROUP BY column",
        ),
        "NULL" | "IS" => (
            "NULL",
            "datasets have no missing values: every column has a value in every row",
        ),
        "IN" => ("IN", "write the alternatives out: x = 'a' OR x = 'b'"),
        "BETWEEN" => ("BETWEEN", "write x >= low AND x <= high"),
        "LIKE" | "ILIKE" => (
            "pattern matching (LIKE)",
            "compare a category column with one of its labels: diagnosis = 'flu'",
        ),
        "EXISTS" => ("subqueries", "write a single SELECT over the datasets"),
        "WITH" => (
            "WITH (common table expressions)",
            "write a single SELECT over the datasets",
        ),
        "INSERT" | "UPDATE" | "DELETE" | "CREATE" | "DROP" | "ALTER" => (
            "statements other than SELECT",
            "queries are read-only SELECTs; data is uploaded and managed by its owner",
        ),
        _ => return None,
    })
}

type Parsed = Result<(Expr, u32), QueryError>;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// Current recursion depth (parentheses and prefix operators included).
    depth: u32,
}

impl Parser {
    fn peek(&self) -> &Token {
        // `lex` always ends with Eof and `bump` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    /// Span of the previous token.
    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1)].span
    }

    fn at_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if &self.peek().tok == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    /// The error for the current token when `expected` was wanted: a refused SQL word gets its
    /// specific [`QueryError::Unsupported`], anything else [`QueryError::UnexpectedToken`].
    fn unexpected(&self, expected: &str, hint: &str) -> QueryError {
        let t = self.peek();
        if let Tok::Ident(word) = &t.tok
            && let Some((feature, instead)) = unsupported_keyword(word)
        {
            return QueryError::Unsupported {
                feature: feature.into(),
                instead: instead.into(),
                span: t.span,
            };
        }
        QueryError::UnexpectedToken {
            found: t.tok.describe(),
            expected: expected.into(),
            hint: hint.into(),
            span: t.span,
        }
    }

    fn expect(&mut self, tok: &Tok, expected: &str, hint: &str) -> Result<Span, QueryError> {
        if &self.peek().tok == tok {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(expected, hint))
        }
    }

    /// A dataset, column or alias name.
    fn name(&mut self, what: &str) -> Result<Ident, QueryError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Ident(s) if !is_reserved(s) => {
                self.bump();
                Ok(Ident {
                    name: s.clone(),
                    span: t.span,
                })
            }
            Tok::QuotedIdent(s) => {
                self.bump();
                Ok(Ident {
                    name: s.clone(),
                    span: t.span,
                })
            }
            Tok::Ident(s) if unsupported_keyword(s).is_none() => Err(QueryError::UnexpectedToken {
                found: t.tok.describe(),
                expected: what.into(),
                hint: format!(
                    "{} is a reserved word; if it is a name, write it in double quotes: \"{s}\"",
                    s.to_ascii_uppercase()
                ),
                span: t.span,
            }),
            _ => Err(self.unexpected(what, &format!("write {what} here"))),
        }
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        let start = self.peek().span;
        if !self.eat_kw("SELECT") {
            return Err(self.unexpected(
                "SELECT",
                "a query starts with SELECT, e.g. SELECT COUNT(*) FROM dataset",
            ));
        }
        let mut select = Vec::new();
        loop {
            select.push(self.select_item()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        if !self.eat_kw("FROM") {
            return Err(self.unexpected(
                "`,`, AS or FROM",
                "separate select items with commas and name the datasets after FROM",
            ));
        }
        let mut from = Vec::new();
        loop {
            if self.peek().tok == Tok::LParen {
                return Err(QueryError::Unsupported {
                    feature: "subqueries".into(),
                    instead: "write a single SELECT over the datasets".into(),
                    span: self.peek().span,
                });
            }
            let ds = self.name("a dataset name")?;
            if self.peek().tok == Tok::Dot {
                return Err(QueryError::Unsupported {
                    feature: "qualified dataset names".into(),
                    instead: "write the dataset's name alone".into(),
                    span: self.peek().span,
                });
            }
            if self.at_kw("AS") || matches!(&self.peek().tok, Tok::Ident(s) if !is_reserved(s)) {
                return Err(QueryError::Unsupported {
                    feature: "dataset aliases".into(),
                    instead: "remove the alias: columns are named without their dataset".into(),
                    span: self.peek().span,
                });
            }
            from.push(ds);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        let filter = if self.eat_kw("WHERE") {
            Some(self.expr()?.0)
        } else {
            None
        };
        let group_by = if self.at_kw("GROUP") {
            self.bump();
            if !self.eat_kw("BY") {
                return Err(self.unexpected("BY", "write GROUP BY column"));
            }
            let t = self.peek().clone();
            if let Tok::Number(_) = t.tok {
                return Err(QueryError::Unsupported {
                    feature: "GROUP BY a position".into(),
                    instead: "name the column: GROUP BY diagnosis".into(),
                    span: t.span,
                });
            }
            let g = self.name("a category column name")?;
            if self.peek().tok == Tok::Comma {
                return Err(QueryError::Unsupported {
                    feature: "GROUP BY several columns".into(),
                    instead: "group by one category column; run one query per grouping".into(),
                    span: self.peek().span,
                });
            }
            if matches!(
                self.peek().tok,
                Tok::Plus
                    | Tok::Minus
                    | Tok::Star
                    | Tok::Slash
                    | Tok::LParen
                    | Tok::Dot
                    | Tok::Eq
                    | Tok::Ne
                    | Tok::Lt
                    | Tok::Le
                    | Tok::Gt
                    | Tok::Ge
            ) {
                return Err(QueryError::Unsupported {
                    feature: "GROUP BY an expression".into(),
                    instead: "group by one category or boolean column, by name".into(),
                    span: g.span.to(self.peek().span),
                });
            }
            Some(g)
        } else {
            None
        };
        self.eat(&Tok::Semicolon);
        if self.peek().tok != Tok::Eof {
            let hint = if self.at_kw("SELECT") {
                "send one query at a time"
            } else {
                "the query ends after FROM, WHERE and GROUP BY; remove the rest"
            };
            return Err(self.unexpected("end of query", hint));
        }
        Ok(Query {
            select,
            from,
            filter,
            group_by,
            span: start.to(self.prev_span()),
        })
    }

    fn select_item(&mut self) -> Result<SelectItem, QueryError> {
        let t = self.peek().clone();
        if t.tok == Tok::Star {
            return Err(QueryError::Unsupported {
                feature: "SELECT *".into(),
                instead: "name the aggregates you want, e.g. SELECT COUNT(*), AVG(age) FROM t; \
                          row-level values are never revealed"
                    .into(),
                span: t.span,
            });
        }
        if self.at_kw("DISTINCT") || self.at_kw("ALL") {
            return Err(self.unexpected("", ""));
        }
        let (expr, _) = self.expr()?;
        // `AS` is optional before an alias.
        let alias = if self.eat_kw("AS")
            || matches!(&self.peek().tok, Tok::Ident(s) if !is_reserved(s))
            || matches!(self.peek().tok, Tok::QuotedIdent(_))
        {
            Some(self.name("an alias")?)
        } else {
            None
        };
        let end = alias.as_ref().map_or(expr.span, |a| a.span);
        Ok(SelectItem {
            span: expr.span.to(end),
            expr,
            alias,
        })
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                limit: MAX_DEPTH,
                span: self.peek().span,
            });
        }
        Ok(())
    }

    fn check_height(&self, h: u32, span: Span) -> Result<(), QueryError> {
        if h > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                limit: MAX_DEPTH,
                span,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Builds a binary node, refusing trees taller than [`MAX_DEPTH`].
    fn binary(
        &self,
        op: BinaryOp,
        (lhs, hl): (Expr, u32),
        (rhs, hr): (Expr, u32),
    ) -> Result<(Expr, u32), QueryError> {
        let h = 1 + hl.max(hr);
        if h > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                limit: MAX_DEPTH,
                span: rhs.span,
            });
        }
        let span = lhs.span.to(rhs.span);
        Ok((
            Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            },
            h,
        ))
    }

    fn expr(&mut self) -> Parsed {
        self.enter()?;
        let r = self.or_expr();
        self.leave();
        r
    }

    fn or_expr(&mut self) -> Parsed {
        let mut lhs = self.and_expr()?;
        while self.eat_kw("OR") {
            let rhs = self.and_expr()?;
            lhs = self.binary(BinaryOp::Or, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> Parsed {
        let mut lhs = self.not_expr()?;
        while self.eat_kw("AND") {
            let rhs = self.not_expr()?;
            lhs = self.binary(BinaryOp::And, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn not_expr(&mut self) -> Parsed {
        if self.at_kw("NOT") {
            let start = self.bump().span;
            self.enter()?;
            let r = self.not_expr();
            self.leave();
            let (operand, h) = r?;
            self.check_height(h + 1, start)?;
            return Ok((
                Expr {
                    span: start.to(operand.span),
                    kind: ExprKind::Unary {
                        op: UnaryOp::Not,
                        operand: Box::new(operand),
                    },
                },
                h + 1,
            ));
        }
        self.cmp_expr()
    }

    fn cmp_op(&self) -> Option<BinaryOp> {
        Some(match self.peek().tok {
            Tok::Eq => BinaryOp::Eq,
            Tok::Ne => BinaryOp::Ne,
            Tok::Lt => BinaryOp::Lt,
            Tok::Le => BinaryOp::Le,
            Tok::Gt => BinaryOp::Gt,
            Tok::Ge => BinaryOp::Ge,
            _ => return None,
        })
    }

    fn cmp_expr(&mut self) -> Parsed {
        let lhs = self.add_expr()?;
        let Some(op) = self.cmp_op() else {
            return Ok(lhs);
        };
        self.bump();
        let rhs = self.add_expr()?;
        if self.cmp_op().is_some() {
            return Err(QueryError::UnexpectedToken {
                found: self.peek().tok.describe(),
                expected: "AND, OR or the end of the condition".into(),
                hint: "comparisons do not chain: write a < b AND b < c".into(),
                span: self.peek().span,
            });
        }
        self.binary(op, lhs, rhs)
    }

    fn add_expr(&mut self) -> Parsed {
        let mut lhs = self.mul_expr()?;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.mul_expr()?;
            lhs = self.binary(op, lhs, rhs)?;
        }
    }

    fn mul_expr(&mut self) -> Parsed {
        let mut lhs = self.unary_expr()?;
        loop {
            let op = match self.peek().tok {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.unary_expr()?;
            lhs = self.binary(op, lhs, rhs)?;
        }
    }

    fn unary_expr(&mut self) -> Parsed {
        if self.peek().tok == Tok::Minus {
            let start = self.bump().span;
            self.enter()?;
            let r = self.unary_expr();
            self.leave();
            let (operand, h) = r?;
            self.check_height(h + 1, start)?;
            return Ok((
                Expr {
                    span: start.to(operand.span),
                    kind: ExprKind::Unary {
                        op: UnaryOp::Neg,
                        operand: Box::new(operand),
                    },
                },
                h + 1,
            ));
        }
        self.primary()
    }

    fn primary(&mut self) -> Parsed {
        let t = self.peek().clone();
        let atom = |kind| Ok((Expr { kind, span: t.span }, 1));
        match &t.tok {
            Tok::Number(n) => {
                self.bump();
                atom(ExprKind::Number(*n))
            }
            Tok::Str(s) => {
                self.bump();
                atom(ExprKind::String(s.clone()))
            }
            Tok::LParen => {
                self.bump();
                if self.at_kw("SELECT") {
                    return Err(QueryError::Unsupported {
                        feature: "subqueries".into(),
                        instead: "write a single SELECT over the datasets".into(),
                        span: self.peek().span,
                    });
                }
                let inner = self.expr()?;
                self.expect(&Tok::RParen, "`)`", "close the parenthesis opened before")?;
                Ok(inner)
            }
            Tok::QuotedIdent(name) => {
                self.bump();
                atom(ExprKind::Column(name.clone()))
            }
            Tok::Ident(word) => {
                let upper = word.to_ascii_uppercase();
                match upper.as_str() {
                    "TRUE" | "FALSE" => {
                        self.bump();
                        return atom(ExprKind::Bool(upper == "TRUE"));
                    }
                    "CASE" => return self.case_expr(),
                    _ => {}
                }
                if self.peek_at(1) == &Tok::LParen && !is_reserved(word) {
                    return self.call();
                }
                if is_reserved(word) {
                    if matches!(upper.as_str(), "NULL" | "EXISTS") {
                        return Err(self.unexpected("", ""));
                    }
                    return Err(QueryError::UnexpectedToken {
                        found: t.tok.describe(),
                        expected: "an expression".into(),
                        hint: format!(
                            "{upper} is a reserved word; if it is a column, write it in double \
                             quotes: \"{word}\""
                        ),
                        span: t.span,
                    });
                }
                self.bump();
                if self.peek().tok == Tok::Dot {
                    return Err(QueryError::Unsupported {
                        feature: "qualified column names".into(),
                        instead: "name the column alone: columns are resolved against the \
                                  datasets' common schema"
                            .into(),
                        span: t.span.to(self.peek().span),
                    });
                }
                atom(ExprKind::Column(word.clone()))
            }
            Tok::Star => Err(QueryError::UnexpectedToken {
                found: t.tok.describe(),
                expected: "an expression".into(),
                hint: "only COUNT(*) takes *; SELECT * is not supported".into(),
                span: t.span,
            }),
            _ => Err(self.unexpected(
                "an expression",
                "write a column, a number, a 'label', TRUE/FALSE, CASE or an aggregate",
            )),
        }
    }

    fn case_expr(&mut self) -> Parsed {
        let start = self.bump().span;
        if !self.at_kw("WHEN") {
            if matches!(
                self.peek().tok,
                Tok::Eof | Tok::RParen | Tok::Comma | Tok::Semicolon
            ) {
                return Err(self.unexpected("WHEN", "write CASE WHEN condition THEN value ..."));
            }
            return Err(QueryError::Unsupported {
                feature: "CASE value WHEN ...".into(),
                instead: "write the comparison in each arm: CASE WHEN x = 1 THEN ... END".into(),
                span: self.peek().span,
            });
        }
        let mut arms = Vec::new();
        let mut height = 0;
        while self.at_kw("WHEN") {
            let when = self.bump().span;
            let (cond, hc) = self.expr()?;
            if !self.eat_kw("THEN") {
                return Err(self.unexpected("THEN", "write WHEN condition THEN value"));
            }
            let (then, ht) = self.expr()?;
            height = height.max(hc).max(ht);
            arms.push(WhenArm {
                span: when.to(then.span),
                cond,
                then,
            });
        }
        if !self.eat_kw("ELSE") {
            return Err(self.unexpected(
                "WHEN or ELSE",
                "CASE needs an ELSE branch (there is no NULL): add ELSE 0 or ELSE FALSE",
            ));
        }
        let (otherwise, ho) = self.expr()?;
        if !self.eat_kw("END") {
            return Err(self.unexpected("END", "close CASE with END"));
        }
        let h = 1 + height.max(ho);
        if h > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                limit: MAX_DEPTH,
                span: start,
            });
        }
        Ok((
            Expr {
                kind: ExprKind::Case {
                    arms,
                    otherwise: Box::new(otherwise),
                },
                span: start.to(self.prev_span()),
            },
            h,
        ))
    }

    fn close_call(&mut self, name: &str, args: &str) -> Result<(), QueryError> {
        self.expect(
            &Tok::RParen,
            "`)`",
            &format!("{name} takes {args}; close the call with )"),
        )
        .map(|_| ())
    }

    fn call(&mut self) -> Parsed {
        let name_tok = self.bump();
        let Tok::Ident(written) = &name_tok.tok else {
            return Err(self.unexpected("a function name", ""));
        };
        let name = written.to_ascii_uppercase();
        if !FUNCTIONS.contains(&name.as_str()) {
            return Err(QueryError::UnknownFunction {
                name: written.clone(),
                suggestion: closest(&name, FUNCTIONS.iter().copied()).map(str::to_string),
                span: name_tok.span,
            });
        }
        self.bump(); // (
        if self.at_kw("DISTINCT") || self.at_kw("ALL") {
            return Err(self.unexpected("", ""));
        }
        let mut height = 0;
        let agg = if name == "COUNT" && self.peek().tok == Tok::Star {
            self.bump();
            self.close_call("COUNT", "* or one boolean condition")?;
            Aggregate::CountStar
        } else if let Some(func) = unary_aggregate(&name) {
            let (arg, h) = self.expr()?;
            height = h;
            self.close_call(&name, "one argument")?;
            Aggregate::Unary { func, arg }
        } else if let Some(func) = binary_aggregate(&name) {
            let (a, ha) = self.expr()?;
            self.expect(
                &Tok::Comma,
                "`,`",
                &format!("{name} takes two arguments: {name}(a, b)"),
            )?;
            let (b, hb) = self.expr()?;
            height = ha.max(hb);
            self.close_call(&name, "two arguments")?;
            Aggregate::Binary { func, a, b }
        } else if name == "HISTOGRAM" {
            let (arg, h) = self.expr()?;
            height = h;
            let mut edges = Vec::new();
            while self.eat(&Tok::Comma) {
                edges.push(self.edge()?);
            }
            self.close_call("HISTOGRAM", "a value and numeric edges")?;
            Aggregate::Histogram { arg, edges }
        } else {
            let (target, ht) = self.expr()?;
            self.expect(
                &Tok::Tilde,
                "`~`",
                &format!("write {name}(target ~ feature1 + feature2)"),
            )?;
            let mut features = Vec::new();
            let mut hf = 0;
            loop {
                let (f, h) = self.mul_expr()?;
                hf = hf.max(h);
                features.push(f);
                if !self.eat(&Tok::Plus) {
                    break;
                }
            }
            if self.peek().tok == Tok::Minus {
                return Err(QueryError::UnexpectedToken {
                    found: "`-`".into(),
                    expected: "`+` or `)`".into(),
                    hint: "features are separated by +; write (a - b) to use a difference as one \
                           feature"
                        .into(),
                    span: self.peek().span,
                });
            }
            height = ht.max(hf);
            self.close_call(&name, "a formula target ~ features")?;
            let model = Model { target, features };
            if name == "LINREG" {
                Aggregate::LinReg(model)
            } else {
                Aggregate::LogReg(model)
            }
        };
        let h = height + 1;
        if h > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                limit: MAX_DEPTH,
                span: name_tok.span,
            });
        }
        Ok((
            Expr {
                kind: ExprKind::Aggregate(Box::new(agg)),
                span: name_tok.span.to(self.prev_span()),
            },
            h,
        ))
    }

    fn edge(&mut self) -> Result<Edge, QueryError> {
        let start = self.peek().span;
        let negative = self.eat(&Tok::Minus);
        let t = self.peek().clone();
        let Tok::Number(n) = t.tok else {
            return Err(QueryError::BadHistogramEdges {
                reason: format!(
                    "an edge must be a numeric literal, found {}",
                    t.tok.describe()
                ),
                span: t.span,
            });
        };
        self.bump();
        Ok(Edge {
            value: Number {
                units: if negative { -n.units } else { n.units },
                scale: n.scale,
            },
            span: start.to(t.span),
        })
    }
}
