//! Errors of the query front end: one enum, one variant per class of mistake, each with the
//! [`Span`] it points at, a "how to fix it" [`QueryError::hint`], and a [`QueryError::render`]
//! that shows the line with a caret under the culprit. Errors name columns, datasets, labels and
//! query text the researcher wrote; they never contain data values (there are none at this stage).

use super::ast::Span;

/// Why a query was refused before any computation started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query text is longer than the limit.
    #[error("{span}: the query is {len} bytes long; the limit is {max}")]
    TooLong {
        /// Length of the text.
        len: usize,
        /// The limit.
        max: usize,
        /// Where the limit was crossed.
        span: Span,
    },
    /// Expressions nested too deeply.
    #[error("{span}: expression nested too deeply (the limit is {limit} levels)")]
    TooDeep {
        /// The limit.
        limit: u32,
        /// Where the limit was crossed.
        span: Span,
    },
    /// A character that has no meaning in the language.
    #[error("{span}: unexpected character {found:?}")]
    UnexpectedCharacter {
        /// The character.
        found: char,
        /// Where.
        span: Span,
    },
    /// A string literal or quoted identifier without its closing quote on the same line.
    #[error("{span}: unterminated {what}")]
    Unterminated {
        /// `"string literal"` or `"quoted identifier"`.
        what: &'static str,
        /// From the opening quote to the end of the line.
        span: Span,
    },
    /// A malformed numeric literal.
    #[error("{span}: bad number `{text}`: {reason}")]
    BadNumber {
        /// The literal as written.
        text: String,
        /// What is wrong with it.
        reason: String,
        /// Where.
        span: Span,
    },
    /// A quoted identifier that is not a valid name.
    #[error("{span}: bad identifier \"{text}\": {reason}")]
    BadIdentifier {
        /// The text between the quotes.
        text: String,
        /// What is wrong with it.
        reason: String,
        /// Where.
        span: Span,
    },
    /// A token where the grammar expects something else.
    #[error("{span}: expected {expected}, found {found}")]
    UnexpectedToken {
        /// The token found (as written, or "end of query").
        found: String,
        /// What the grammar allows here.
        expected: String,
        /// How to fix it.
        hint: String,
        /// Where.
        span: Span,
    },
    /// A call of a function that does not exist.
    #[error("{span}: unknown function `{name}`")]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// The closest known function, if any is close.
        suggestion: Option<String>,
        /// Where.
        span: Span,
    },
    /// An SQL feature the language does not have.
    #[error("{span}: {feature} is not supported")]
    Unsupported {
        /// The feature.
        feature: String,
        /// What to do instead.
        instead: String,
        /// Where.
        span: Span,
    },
    /// A dataset the catalog does not know.
    #[error("{span}: unknown dataset `{name}`")]
    UnknownDataset {
        /// The name.
        name: String,
        /// The closest known dataset, if any is close.
        suggestion: Option<String>,
        /// Where.
        span: Span,
    },
    /// The same dataset listed twice in FROM.
    #[error("{span}: dataset `{name}` is listed twice in FROM")]
    DuplicateDataset {
        /// The name.
        name: String,
        /// The second occurrence.
        span: Span,
    },
    /// Datasets in one query whose schemas differ.
    #[error("{span}: dataset `{dataset}` does not have the same schema as `{reference}`: {detail}")]
    SchemaMismatch {
        /// The dataset that differs.
        dataset: String,
        /// The first dataset of FROM, whose schema the others must have.
        reference: String,
        /// The first differing column (by position), named as in `reference` when it has one.
        column: String,
        /// How it differs.
        detail: String,
        /// The differing dataset in FROM.
        span: Span,
    },
    /// A column the schema does not have.
    #[error("{span}: unknown column `{name}`")]
    UnknownColumn {
        /// The name.
        name: String,
        /// The closest column name, if any is close.
        suggestion: Option<String>,
        /// Where.
        span: Span,
    },
    /// An operand or argument of the wrong type.
    #[error("{span}: {context} expects {expected}, found {found}")]
    TypeMismatch {
        /// What needed the value (`"+"`, `"WHERE"`, `"SUM"`, ...).
        context: String,
        /// The types allowed.
        expected: String,
        /// The type found.
        found: String,
        /// How to fix it.
        hint: String,
        /// The offending operand.
        span: Span,
    },
    /// A string literal that is not a label of the category it is compared with.
    #[error("{span}: '{label}' is not a label of category column `{column}`")]
    UnknownLabel {
        /// The column.
        column: String,
        /// The label as written.
        label: String,
        /// The column's labels.
        valid: Vec<String>,
        /// The literal.
        span: Span,
    },
    /// Division by the literal zero.
    #[error("{span}: division by zero")]
    DivisionByZero {
        /// The divisor.
        span: Span,
    },
    /// Division by a secret expression that may be zero, without a guard.
    #[error("{span}: division by `{divisor}`, which may be zero, without a guard")]
    UnguardedDivision {
        /// Canonical text of the divisor.
        divisor: String,
        /// Canonical text of the dividend.
        dividend: String,
        /// The divisor.
        span: Span,
    },
    /// An aggregate inside the argument of another aggregate.
    #[error("{span}: aggregate {inner} inside {outer}")]
    NestedAggregate {
        /// The inner aggregate.
        inner: String,
        /// The aggregate it is in.
        outer: String,
        /// The inner aggregate.
        span: Span,
    },
    /// An aggregate in WHERE.
    #[error("{span}: aggregate {name} in WHERE")]
    AggregateInWhere {
        /// The aggregate.
        name: String,
        /// Where.
        span: Span,
    },
    /// A select item that is neither an aggregate nor the GROUP BY column.
    #[error("{span}: `{item}` is not an aggregate")]
    NonAggregateSelectItem {
        /// Canonical text of the item.
        item: String,
        /// The GROUP BY column, if any.
        group_by: Option<String>,
        /// Where.
        span: Span,
    },
    /// A query without any aggregate.
    #[error("{span}: the query computes no aggregate")]
    NoAggregate {
        /// The select list.
        span: Span,
    },
    /// HISTOGRAM edges that are missing or not strictly increasing.
    #[error("{span}: bad HISTOGRAM edges: {reason}")]
    BadHistogramEdges {
        /// What is wrong.
        reason: String,
        /// The offending edge or call.
        span: Span,
    },
    /// A LINREG/LOGREG formula that cannot be fitted.
    #[error("{span}: bad model formula: {reason}")]
    InvalidModel {
        /// What is wrong.
        reason: String,
        /// The offending term.
        span: Span,
    },
    /// Two select items with the same output name.
    #[error("{span}: two results are named `{name}`")]
    DuplicateOutputName {
        /// The name.
        name: String,
        /// The second item.
        span: Span,
    },
}

impl QueryError {
    /// Where in the query text the problem is.
    pub fn span(&self) -> Span {
        match self {
            QueryError::TooLong { span, .. }
            | QueryError::TooDeep { span, .. }
            | QueryError::UnexpectedCharacter { span, .. }
            | QueryError::Unterminated { span, .. }
            | QueryError::BadNumber { span, .. }
            | QueryError::BadIdentifier { span, .. }
            | QueryError::UnexpectedToken { span, .. }
            | QueryError::UnknownFunction { span, .. }
            | QueryError::Unsupported { span, .. }
            | QueryError::UnknownDataset { span, .. }
            | QueryError::DuplicateDataset { span, .. }
            | QueryError::SchemaMismatch { span, .. }
            | QueryError::UnknownColumn { span, .. }
            | QueryError::TypeMismatch { span, .. }
            | QueryError::UnknownLabel { span, .. }
            | QueryError::DivisionByZero { span }
            | QueryError::UnguardedDivision { span, .. }
            | QueryError::NestedAggregate { span, .. }
            | QueryError::AggregateInWhere { span, .. }
            | QueryError::NonAggregateSelectItem { span, .. }
            | QueryError::NoAggregate { span }
            | QueryError::BadHistogramEdges { span, .. }
            | QueryError::InvalidModel { span, .. }
            | QueryError::DuplicateOutputName { span, .. } => *span,
        }
    }

    /// How to fix it, in one or two sentences.
    pub fn hint(&self) -> String {
        match self {
            QueryError::TooLong { .. } => {
                "split the computation into several smaller queries".to_string()
            }
            QueryError::TooDeep { .. } => {
                "simplify the expression or remove redundant parentheses".to_string()
            }
            QueryError::UnexpectedCharacter { found, .. } => match found {
                '`' => "quote identifiers with double quotes: \"order\"".to_string(),
                '!' => "write NOT for negation and <> (or !=) for inequality".to_string(),
                '&' => "write AND".to_string(),
                '|' => "write OR; string concatenation is not supported".to_string(),
                '%' => "the remainder operator is not supported".to_string(),
                '[' | ']' | '{' | '}' => "use parentheses ( ) for grouping".to_string(),
                _ => "remove it; string literals go between single quotes: 'flu'".to_string(),
            },
            QueryError::Unterminated { what, .. } => {
                if *what == "string literal" {
                    "close the string with ' on the same line (write '' for a quote inside it)"
                        .to_string()
                } else {
                    "close the name with \" on the same line".to_string()
                }
            }
            QueryError::BadNumber { .. } => {
                "write plain decimal numbers such as 42 or 3.25 (at most 12 decimal places)"
                    .to_string()
            }
            QueryError::BadIdentifier { .. } => {
                "names are letters, digits and _, not starting with a digit".to_string()
            }
            QueryError::UnexpectedToken { hint, .. } => hint.clone(),
            QueryError::UnknownFunction { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean {s}?"),
                None => "the functions are the aggregates COUNT, SUM, AVG, VAR_POP, VAR_SAMP, \
                         STDDEV, STDDEV_POP, STDDEV_SAMP, MIN, MAX, COVAR_POP, COVAR_SAMP, CORR, \
                         HISTOGRAM, LINREG and LOGREG; scalar functions are not supported"
                    .to_string(),
            },
            QueryError::Unsupported { instead, .. } => instead.clone(),
            QueryError::UnknownDataset { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => "list the datasets you may query with `sharenet datasets`".to_string(),
            },
            QueryError::DuplicateDataset { .. } => {
                "list each dataset once: the query runs on the union of the listed datasets"
                    .to_string()
            }
            QueryError::SchemaMismatch { .. } => "datasets queried together must have identical \
                 schemas (same columns, in the same order, with the same types and labels); \
                 query them separately"
                .to_string(),
            QueryError::UnknownColumn { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => "check the dataset's schema; names are case-sensitive".to_string(),
            },
            QueryError::TypeMismatch { hint, .. } => hint.clone(),
            QueryError::UnknownLabel { valid, .. } => {
                let list: Vec<String> = valid.iter().map(|l| format!("'{l}'")).collect();
                format!("the labels are {}", list.join(", "))
            }
            QueryError::DivisionByZero { .. } => "divide by a nonzero number".to_string(),
            QueryError::UnguardedDivision {
                divisor, dividend, ..
            } => {
                format!("guard it: CASE WHEN {divisor} <> 0 THEN {dividend} / {divisor} ELSE 0 END")
            }
            QueryError::NestedAggregate { .. } => {
                "aggregates take row-level expressions; compute the inner aggregate in its own \
                 select item"
                    .to_string()
            }
            QueryError::AggregateInWhere { .. } => {
                "WHERE filters rows before aggregation; put the aggregate in the select list"
                    .to_string()
            }
            QueryError::NonAggregateSelectItem { group_by, .. } => match group_by {
                Some(g) => format!(
                    "only aggregates and the GROUP BY column `{g}` can be selected; wrap it in an \
                     aggregate such as AVG(...)"
                ),
                None => "row-level values are never revealed; wrap it in an aggregate such as \
                         AVG(...), or add GROUP BY for a category column"
                    .to_string(),
            },
            QueryError::NoAggregate { .. } => {
                "add an aggregate, for example COUNT(*) or AVG(column)".to_string()
            }
            QueryError::BadHistogramEdges { .. } => {
                "write HISTOGRAM(column, e1, e2, ...) with numeric literal edges in strictly \
                 increasing order"
                    .to_string()
            }
            QueryError::InvalidModel { .. } => {
                "write LINREG(y ~ x1 + x2) with distinct features that each use a column; the \
                 intercept is always included"
                    .to_string()
            }
            QueryError::DuplicateOutputName { .. } => {
                "give one of them another name with AS".to_string()
            }
        }
    }

    /// A multi-line report for a person: the message, `line:column`, the offending line of
    /// `query_text` with carets under the span, and the hint.
    ///
    /// ```text
    /// error: unknown column `agee`
    ///  --> 1:12
    ///   |
    /// 1 | SELECT AVG(agee) FROM patients
    ///   |            ^^^^
    ///   = help: did you mean `age`?
    /// ```
    pub fn render(&self, query_text: &str) -> String {
        let span = self.span();
        let full = self.to_string();
        // The Display form starts with "line:col: ".
        let message = full.split_once(": ").map_or(full.as_str(), |(_, m)| m);
        let line_no = span.line.max(1);
        let line_text = query_text
            .split('\n')
            .nth(line_no as usize - 1)
            .unwrap_or("")
            .trim_end_matches('\r');
        let gutter = line_no.to_string();
        let pad = " ".repeat(gutter.len());
        // Caret line: keep tabs so the carets line up with the text above.
        let col = span.column.max(1) as usize;
        let mut marker = String::new();
        for ch in line_text.chars().take(col - 1) {
            marker.push(if ch == '\t' { '\t' } else { ' ' });
        }
        let line_start = line_start_offset(query_text, line_no);
        let line_end = line_start + line_text.len();
        let span_end = span.end.min(line_end);
        let width = if span_end > span.start && span.start >= line_start {
            query_text
                .get(span.start..span_end)
                .map_or(1, |s| s.chars().count())
        } else {
            1
        };
        marker.push_str(&"^".repeat(width.max(1)));
        format!(
            "error: {message}\n{pad}--> {span}\n{pad} |\n{gutter} | {line_text}\n{pad} | \
             {marker}\n{pad} = help: {hint}\n",
            hint = self.hint()
        )
    }
}

/// Byte offset where 1-based line `line` starts.
fn line_start_offset(text: &str, line: u32) -> usize {
    if line <= 1 {
        return 0;
    }
    let mut seen = 1;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            seen += 1;
            if seen == line {
                return i + 1;
            }
        }
    }
    text.len()
}
