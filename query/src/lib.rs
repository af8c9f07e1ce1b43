//! sharenet's query language: what a researcher writes and how it becomes a computation. A
//! hand-written lexer and recursive-descent parser for the SQL subset researchers write, dataset
//! schemas, a type checker that produces the typed query, the compiler from the typed query to the
//! MPC IR of `sharenet_mpc::ir` (which the committee runs), and the assembly of what the receiver
//! opens into a result table ([`QueryResult`] of [`Cell`]s) with its formatting. The language, its
//! types and what each query reveals are documented in `docs/query-language.md`.
//!
//! This crate must stay pure: no file or network I/O, no async runtime (no tokio), no libp2p. It
//! sees query text, schemas and the opened aggregates it formats, never a row of a dataset. It
//! depends on `sharenet-mpc` for the IR, and `sharenet-mpc` must never depend on it. The one
//! exception to purity is the `query-bench` binary, which runs a compiled query on a committee
//! over loopback TCP.
//!
//! ```
//! use sharenet_query::{Catalog, Schema, compile_front_end};
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
pub mod result;
pub mod schema;
mod suggest;
pub mod typed;

pub use ast::{Query, Span};
pub use check::{MAX_FEATURES, MAX_HISTOGRAM_EDGES, check};
pub use compile::{CompileError, CompileOptions, CompiledQuery, ItemLayout, compile};
pub use error::QueryError;
pub use lexer::MAX_LITERAL_SCALE;
pub use parser::{MAX_DEPTH, MAX_QUERY_BYTES, parse};
pub use result::{Cell, QueryResult, assemble, format_number};
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
