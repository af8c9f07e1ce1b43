//! Dataset schemas: ordered, typed columns, their JSON form, validation, and the schema hash that
//! the dataset registry stores on chain; and a [`Catalog`] from dataset names to schemas.
//!
//! JSON form:
//!
//! ```json
//! {"columns": [
//!   {"name": "age", "type": "integer"},
//!   {"name": "bmi", "type": "fixed", "scale": 2},
//!   {"name": "smoker", "type": "boolean"},
//!   {"name": "diagnosis", "type": "category", "labels": ["flu", "cold", "covid"]}
//! ]}
//! ```
//!
//! A `fixed` column with scale `s` stores `round(value × 10^s)` as an integer; a `category`
//! column stores the index of the row's label in `labels` (so the order of labels matters).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// The largest scale of a fixed-point column (12 decimal places).
pub const MAX_SCALE: u8 = 12;
/// The most labels a category column may have.
pub const MAX_LABELS: usize = 1024;
/// The longest column, dataset or label name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Domain separation prefix of the schema hash encoding.
pub const SCHEMA_HASH_DOMAIN: &[u8] = b"sharenet/schema/v1\0";

/// The type of a column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// A signed 64-bit integer.
    Integer,
    /// A decimal fixed-point number stored as `value × 10^scale` (an integer).
    Fixed {
        /// Decimal places, at most [`MAX_SCALE`].
        scale: u8,
    },
    /// `true` / `false`, stored as 1 / 0.
    Boolean,
    /// One of a fixed list of labels, stored as the label's index.
    Category {
        /// The labels, in index order: non-empty, distinct.
        labels: Vec<String>,
    },
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnType::Integer => f.write_str("INTEGER"),
            ColumnType::Fixed { scale } => write!(f, "FIXED({scale})"),
            ColumnType::Boolean => f.write_str("BOOLEAN"),
            ColumnType::Category { labels } => {
                let l: Vec<String> = labels.iter().map(|l| format!("'{l}'")).collect();
                write!(f, "CATEGORY({})", l.join(", "))
            }
        }
    }
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// The name (identifier syntax, unique in its schema).
    pub name: String,
    /// The type.
    pub ty: ColumnType,
}

/// Why a schema (or a catalog entry) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The JSON did not parse or has the wrong shape.
    #[error("schema JSON, line {line} column {column}: {message}")]
    Json {
        /// 1-based line in the JSON text.
        line: usize,
        /// 1-based column in the JSON text.
        column: usize,
        /// What serde_json reported.
        message: String,
    },
    /// A schema without columns.
    #[error("a schema needs at least one column")]
    NoColumns,
    /// A name that is not `[A-Za-z_][A-Za-z0-9_]*` (at most 128 bytes).
    #[error(
        "{what} name {name:?} is not a valid identifier: use letters, digits and _, not starting with a digit, at most 128 characters"
    )]
    BadName {
        /// `"column"` or `"dataset"`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Two columns with the same name.
    #[error("column `{name}` is declared twice (columns {first} and {second}, counting from 1)")]
    DuplicateColumn {
        /// The name.
        name: String,
        /// Position of the first one (1-based).
        first: usize,
        /// Position of the second one (1-based).
        second: usize,
    },
    /// An unknown type name in JSON.
    #[error("column `{column}`: unknown type {ty:?}; use integer, fixed, boolean or category")]
    UnknownType {
        /// The column.
        column: String,
        /// The type as written.
        ty: String,
    },
    /// A field missing for the column's type (`scale` for fixed, `labels` for category), or
    /// present for a type that does not take it.
    #[error("column `{column}`: {problem}")]
    BadTypeFields {
        /// The column.
        column: String,
        /// What is missing or extra.
        problem: String,
    },
    /// A scale above [`MAX_SCALE`].
    #[error("column `{column}`: scale {scale} is above the maximum {MAX_SCALE}")]
    ScaleTooLarge {
        /// The column.
        column: String,
        /// The scale.
        scale: u8,
    },
    /// A category without labels, or with more than [`MAX_LABELS`].
    #[error("column `{column}`: a category needs between 1 and {MAX_LABELS} labels, found {count}")]
    LabelCount {
        /// The column.
        column: String,
        /// How many labels it has.
        count: usize,
    },
    /// An empty label, one with control characters, or one longer than [`MAX_NAME_LEN`].
    #[error(
        "column `{column}`: label {label:?} must be non-empty, at most 128 bytes, without control characters"
    )]
    BadLabel {
        /// The column.
        column: String,
        /// The label.
        label: String,
    },
    /// The same label twice in one category.
    #[error("column `{column}`: label {label:?} is listed twice")]
    DuplicateLabel {
        /// The column.
        column: String,
        /// The label.
        label: String,
    },
    /// A dataset registered twice in a catalog.
    #[error("dataset `{name}` is already in the catalog")]
    DuplicateDataset {
        /// The name.
        name: String,
    },
}

/// Whether `name` is a valid column or dataset name: `[A-Za-z_][A-Za-z0-9_]*`, at most
/// [`MAX_NAME_LEN`] bytes.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A validated dataset schema: ordered columns with unique names. Construct with
/// [`Schema::new`] or [`Schema::from_json`]; every `Schema` value is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawSchema", into = "RawSchema")]
pub struct Schema {
    columns: Vec<Column>,
}

impl Schema {
    /// Validates and builds a schema.
    pub fn new(columns: Vec<Column>) -> Result<Schema, SchemaError> {
        if columns.is_empty() {
            return Err(SchemaError::NoColumns);
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, c) in columns.iter().enumerate() {
            if !is_valid_name(&c.name) {
                return Err(SchemaError::BadName {
                    what: "column",
                    name: c.name.clone(),
                });
            }
            if let Some(first) = seen.insert(&c.name, i) {
                return Err(SchemaError::DuplicateColumn {
                    name: c.name.clone(),
                    first: first + 1,
                    second: i + 1,
                });
            }
            match &c.ty {
                ColumnType::Fixed { scale } if *scale > MAX_SCALE => {
                    return Err(SchemaError::ScaleTooLarge {
                        column: c.name.clone(),
                        scale: *scale,
                    });
                }
                ColumnType::Category { labels } => {
                    if labels.is_empty() || labels.len() > MAX_LABELS {
                        return Err(SchemaError::LabelCount {
                            column: c.name.clone(),
                            count: labels.len(),
                        });
                    }
                    let mut set = HashSet::new();
                    for l in labels {
                        if l.is_empty() || l.len() > MAX_NAME_LEN || l.chars().any(char::is_control)
                        {
                            return Err(SchemaError::BadLabel {
                                column: c.name.clone(),
                                label: l.clone(),
                            });
                        }
                        if !set.insert(l.as_str()) {
                            return Err(SchemaError::DuplicateLabel {
                                column: c.name.clone(),
                                label: l.clone(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Schema { columns })
    }

    /// Parses and validates the JSON form (see the module documentation).
    pub fn from_json(json: &str) -> Result<Schema, SchemaError> {
        let raw: RawSchema = serde_json::from_str(json).map_err(|e| SchemaError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Schema::try_from(raw)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        // Serialising strings, integers and vectors cannot fail.
        serde_json::to_string(&RawSchema::from(self.clone())).unwrap_or_default()
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column named `name` (case-sensitive) and its position.
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }

    /// The canonical byte encoding the hash is computed over:
    ///
    /// ```text
    /// "sharenet/schema/v1\0"
    /// u32 LE  number of columns
    /// per column, in order:
    ///   u32 LE length of the name, then the name's UTF-8 bytes
    ///   u8 type tag: 0 integer, 1 fixed, 2 boolean, 3 category
    ///   fixed:    u8 scale
    ///   category: u32 LE number of labels, then per label (in index order)
    ///             u32 LE length, then the label's UTF-8 bytes
    /// ```
    pub fn canonical_bytes(&self) -> Vec<u8> {
        fn put_str(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        let mut out = SCHEMA_HASH_DOMAIN.to_vec();
        out.extend_from_slice(&(self.columns.len() as u32).to_le_bytes());
        for c in &self.columns {
            put_str(&mut out, &c.name);
            match &c.ty {
                ColumnType::Integer => out.push(0),
                ColumnType::Fixed { scale } => {
                    out.push(1);
                    out.push(*scale);
                }
                ColumnType::Boolean => out.push(2),
                ColumnType::Category { labels } => {
                    out.push(3);
                    out.extend_from_slice(&(labels.len() as u32).to_le_bytes());
                    for l in labels {
                        put_str(&mut out, l);
                    }
                }
            }
        }
        out
    }

    /// blake3 of [`Schema::canonical_bytes`]: the schema hash registered on chain. Independent of
    /// JSON layout and key order; changes with any name, type, scale, label or order.
    pub fn hash(&self) -> [u8; 32] {
        *blake3::hash(&self.canonical_bytes()).as_bytes()
    }

    /// [`Schema::hash`] in lower-case hex.
    pub fn hash_hex(&self) -> String {
        blake3::Hash::from_bytes(self.hash()).to_hex().to_string()
    }

    /// Compares with `other` column by column: `None` if identical, else the position of the first
    /// differing column and a description.
    pub fn first_difference(&self, other: &Schema) -> Option<(usize, String)> {
        let n = self.columns.len().max(other.columns.len());
        for i in 0..n {
            match (self.columns.get(i), other.columns.get(i)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) if a.name != b.name => {
                    return Some((
                        i,
                        format!(
                            "column {} is `{}` in one and `{}` in the other",
                            i + 1,
                            a.name,
                            b.name
                        ),
                    ));
                }
                (Some(a), Some(b)) => {
                    return Some((
                        i,
                        format!(
                            "column `{}` is {} in one and {} in the other",
                            a.name, a.ty, b.ty
                        ),
                    ));
                }
                (Some(a), None) => {
                    return Some((i, format!("column `{}` is missing from the other", a.name)));
                }
                (None, Some(b)) => {
                    return Some((i, format!("it has an extra column `{}`", b.name)));
                }
                (None, None) => {}
            }
        }
        None
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    columns: Vec<RawColumn>,
}

impl TryFrom<RawSchema> for Schema {
    type Error = SchemaError;

    fn try_from(raw: RawSchema) -> Result<Schema, SchemaError> {
        let mut columns = Vec::with_capacity(raw.columns.len());
        for c in raw.columns {
            let fields = |problem: &str| SchemaError::BadTypeFields {
                column: c.name.clone(),
                problem: problem.to_string(),
            };
            let ty = match (c.ty.as_str(), c.scale, &c.labels) {
                ("integer", None, None) => ColumnType::Integer,
                ("boolean", None, None) => ColumnType::Boolean,
                ("fixed", Some(scale), None) => ColumnType::Fixed { scale },
                ("category", None, Some(labels)) => ColumnType::Category {
                    labels: labels.clone(),
                },
                ("fixed", None, _) => return Err(fields("a fixed column needs \"scale\"")),
                ("category", _, None) => return Err(fields("a category column needs \"labels\"")),
                ("integer" | "boolean" | "fixed" | "category", _, _) => {
                    return Err(fields(&format!(
                        "\"scale\" belongs only to fixed and \"labels\" only to category columns, not to {}",
                        c.ty
                    )));
                }
                (other, _, _) => {
                    return Err(SchemaError::UnknownType {
                        column: c.name.clone(),
                        ty: other.to_string(),
                    });
                }
            };
            columns.push(Column { name: c.name, ty });
        }
        Schema::new(columns)
    }
}

impl From<Schema> for RawSchema {
    fn from(s: Schema) -> RawSchema {
        RawSchema {
            columns: s
                .columns
                .into_iter()
                .map(|c| {
                    let (ty, scale, labels) = match c.ty {
                        ColumnType::Integer => ("integer", None, None),
                        ColumnType::Fixed { scale } => ("fixed", Some(scale), None),
                        ColumnType::Boolean => ("boolean", None, None),
                        ColumnType::Category { labels } => ("category", None, Some(labels)),
                    };
                    RawColumn {
                        name: c.name,
                        ty: ty.to_string(),
                        scale,
                        labels,
                    }
                })
                .collect(),
        }
    }
}

/// The datasets a query may name, with their schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    datasets: BTreeMap<String, Schema>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Adds a dataset. Its name must be a valid identifier and not already present.
    pub fn insert(&mut self, name: &str, schema: Schema) -> Result<(), SchemaError> {
        if !is_valid_name(name) {
            return Err(SchemaError::BadName {
                what: "dataset",
                name: name.to_string(),
            });
        }
        if self.datasets.contains_key(name) {
            return Err(SchemaError::DuplicateDataset {
                name: name.to_string(),
            });
        }
        self.datasets.insert(name.to_string(), schema);
        Ok(())
    }

    /// The schema of dataset `name` (case-sensitive).
    pub fn get(&self, name: &str) -> Option<&Schema> {
        self.datasets.get(name)
    }

    /// The dataset names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.datasets.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Schema {
        Schema::from_json(
            r#"{"columns":[{"name":"age","type":"integer"},{"name":"bmi","type":"fixed","scale":2},
               {"name":"smoker","type":"boolean"},
               {"name":"diagnosis","type":"category","labels":["flu","cold"]}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn json_round_trip_and_hash() {
        let s = sample();
        let again = Schema::from_json(&s.to_json()).unwrap();
        assert_eq!(s, again);
        assert_eq!(s.hash(), again.hash());
        // serde through another container validates too.
        let v: Schema = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(v, s);
        assert_eq!(s.hash_hex().len(), 64);
        // Key order and whitespace do not matter; label order does.
        let reordered = Schema::from_json(
            r#"{"columns":[{"type":"integer","name":"age"},{"scale":2,"name":"bmi","type":"fixed"},
               {"name":"smoker","type":"boolean"},
               {"labels":["flu","cold"],"name":"diagnosis","type":"category"}]}"#,
        )
        .unwrap();
        assert_eq!(reordered.hash(), s.hash());
        let swapped = Schema::from_json(
            r#"{"columns":[{"name":"age","type":"integer"},{"name":"bmi","type":"fixed","scale":2},
               {"name":"smoker","type":"boolean"},
               {"name":"diagnosis","type":"category","labels":["cold","flu"]}]}"#,
        )
        .unwrap();
        assert_ne!(swapped.hash(), s.hash());
    }

    #[test]
    fn canonical_encoding_is_as_documented() {
        let s = Schema::new(vec![Column {
            name: "a".into(),
            ty: ColumnType::Fixed { scale: 3 },
        }])
        .unwrap();
        let mut expected = b"sharenet/schema/v1\0".to_vec();
        expected.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'a', 1, 3]);
        assert_eq!(s.canonical_bytes(), expected);
        assert_eq!(s.hash(), *blake3::hash(&expected).as_bytes());
    }

    #[test]
    fn validation_errors() {
        let err = |json: &str| Schema::from_json(json).unwrap_err();
        assert!(matches!(err("{"), SchemaError::Json { .. }));
        assert!(matches!(err(r#"{"columns":[]}"#), SchemaError::NoColumns));
        assert!(matches!(
            err(r#"{"columns":[{"name":"1a","type":"integer"}]}"#),
            SchemaError::BadName { .. }
        ));
        assert_eq!(
            err(r#"{"columns":[{"name":"a","type":"integer"},{"name":"a","type":"boolean"}]}"#),
            SchemaError::DuplicateColumn {
                name: "a".into(),
                first: 1,
                second: 2
            }
        );
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"float"}]}"#),
            SchemaError::UnknownType { .. }
        ));
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"fixed"}]}"#),
            SchemaError::BadTypeFields { .. }
        ));
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"integer","scale":2}]}"#),
            SchemaError::BadTypeFields { .. }
        ));
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"fixed","scale":13}]}"#),
            SchemaError::ScaleTooLarge { scale: 13, .. }
        ));
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"category","labels":[]}]}"#),
            SchemaError::LabelCount { count: 0, .. }
        ));
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"category","labels":["x",""]}]}"#),
            SchemaError::BadLabel { .. }
        ));
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"category","labels":["x","x"]}]}"#),
            SchemaError::DuplicateLabel { .. }
        ));
        assert!(matches!(
            err(r#"{"columns":[{"name":"a","type":"integer","lables":["x"]}]}"#),
            SchemaError::Json { .. }
        ));
        let bad: Result<Schema, _> = serde_json::from_str(r#"{"columns":[]}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn catalog() {
        let mut c = Catalog::new();
        c.insert("hospital_a", sample()).unwrap();
        assert!(matches!(
            c.insert("hospital_a", sample()),
            Err(SchemaError::DuplicateDataset { .. })
        ));
        assert!(matches!(
            c.insert("bad name", sample()),
            Err(SchemaError::BadName { .. })
        ));
        assert!(c.get("hospital_a").is_some());
        assert!(c.get("Hospital_a").is_none());
        assert_eq!(c.names().collect::<Vec<_>>(), vec!["hospital_a"]);
    }
}
