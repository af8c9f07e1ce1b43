//! The query language front end: a hand-written lexer and recursive-descent parser for the SQL
//! subset researchers write, dataset schemas, and a type checker that produces the typed query the
//! IR compiler consumes. The language, its types and what each query reveals are documented in
//! `docs/query-language.md`.
//!
//! ```
//! use sharenet_mpc::query::{Catalog, Schema, compile_front_end};
//!
//! let schema = Schema::from_json(r#"{"columns":[
//!     {"name":"age","type":"integer"},
//!     {"name":"diagnosis","type":"category","labels":["flu","cold"]}]}"#).unwrap();
//! let mut catalog = Catalog::new();
//! catalog.insert("patients", schema).unwrap();
//! let q = compile_front_end(
//!     "select diagnosis, count(*), avg(age) from patients where age >= 18 group by diagnosis",
//!     &catalog,
//! ).unwrap();
//! assert_eq!(q.items.len(), 3);
//! assert_eq!(
//!     q.canonical_text,
//!     "SELECT diagnosis, COUNT(*), AVG(age) FROM patients WHERE age >= 18 GROUP BY diagnosis"
//! );
//! ```

pub mod ast;
mod check;
pub mod compile;
mod error;
mod lexer;
mod parser;
pub mod schema;
mod suggest;
pub mod typed;

pub use ast::{Query, Span};
pub use check::{MAX_FEATURES, MAX_HISTOGRAM_EDGES, check};
pub use compile::{
    Cell, CompileError, CompileOptions, CompiledQuery, ItemLayout, QueryResult, assemble, compile,
    format_number,
};
pub use error::QueryError;
pub use lexer::MAX_LITERAL_SCALE;
pub use parser::{MAX_DEPTH, MAX_QUERY_BYTES, parse};
pub use schema::{Catalog, Column, ColumnType, Schema, SchemaError};
pub use typed::{
    ArithOp, CmpOp, DIV_SCALE, GroupBy, OutputType, QueryKind, TypedAggregate, TypedExpr,
    TypedExprKind, TypedItemKind, TypedModel, TypedQuery, TypedSelectItem, ValueType,
};

/// Parses and type-checks `text` against `catalog`: everything that can be refused before any
/// computation starts is refused here.
pub fn compile_front_end(text: &str, catalog: &Catalog) -> Result<TypedQuery, QueryError> {
    check(&parse(text)?, catalog)
}

#[cfg(test)]
mod tests;
