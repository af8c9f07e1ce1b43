//! Reading a table for upload: a CSV file with a header, checked against the dataset's schema and
//! encoded into field elements column by column. Every error names the line and column and says
//! how to fix it; nothing about the values is printed beyond what the owner's own file shows.

use std::io::Read;

use sharenet_mpc::field::{Field, Mp127};
use sharenet_query::{ColumnType, Schema};

/// Default bit width of INTEGER and FIXED values (`|v × 10^scale| < 2^31`), as the query compiler
/// assumes.
pub const DEFAULT_VALUE_BITS: u32 = 31;

/// Why a CSV could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file could not be read or is not valid CSV.
    #[error("line {line}: {message}")]
    Csv {
        /// 1-based line.
        line: u64,
        /// What the CSV reader reported.
        message: String,
    },
    /// The header is missing or does not name the schema's columns in order.
    #[error(
        "line 1: the header must be `{expected}` (the schema's columns, in order); found `{found}`"
    )]
    Header {
        /// The expected header.
        expected: String,
        /// The header found.
        found: String,
    },
    /// A row has the wrong number of fields.
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount {
        /// 1-based line.
        line: u64,
        /// Fields expected.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// A value does not fit its column's type.
    #[error("line {line}, column {column} (`{name}`): {reason}")]
    Value {
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: usize,
        /// The column's name.
        name: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The file has no data rows.
    #[error("the file has a header but no rows")]
    Empty,
}

/// A table encoded for sharing: one vector of field elements per schema column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedTable {
    /// Column-major values.
    pub columns: Vec<Vec<Mp127>>,
    /// Number of rows.
    pub rows: usize,
}

fn encode_value(ty: &ColumnType, text: &str, bits: u32) -> Result<i64, String> {
    let limit = 1i128 << bits;
    let check = |v: i128| -> Result<i64, String> {
        if v.abs() >= limit {
            return Err(format!(
                "{text:?} is out of range: |value| must be below 2^{bits} in the column's units"
            ));
        }
        i64::try_from(v).map_err(|_| format!("{text:?} is out of range"))
    };
    match ty {
        ColumnType::Integer => {
            let v: i128 = text
                .parse()
                .map_err(|_| format!("{text:?} is not an integer"))?;
            check(v)
        }
        ColumnType::Fixed { scale } => {
            let (negative, digits) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
            if whole.is_empty() && frac.is_empty()
                || !whole.chars().all(|c| c.is_ascii_digit())
                || !frac.chars().all(|c| c.is_ascii_digit())
            {
                return Err(format!("{text:?} is not a decimal number"));
            }
            if frac.len() > usize::from(*scale) {
                return Err(format!("{text:?} has more than {scale} decimal places"));
            }
            let mut units: i128 = 0;
            for c in whole
                .chars()
                .chain(frac.chars())
                .chain(std::iter::repeat_n('0', usize::from(*scale) - frac.len()))
            {
                units = units
                    .checked_mul(10)
                    .and_then(|u| u.checked_add(i128::from(c as u8 - b'0')))
                    .ok_or_else(|| format!("{text:?} is out of range"))?;
            }
            check(if negative { -units } else { units })
        }
        ColumnType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(1),
            "false" | "0" | "no" => Ok(0),
            _ => Err(format!("{text:?} is not a boolean (use true/false or 1/0)")),
        },
        ColumnType::Category { labels } => labels
            .iter()
            .position(|l| l == text)
            .map(|i| i as i64)
            .ok_or_else(|| {
                let shown: Vec<&str> = labels.iter().take(10).map(String::as_str).collect();
                format!(
                    "{text:?} is not one of the column's labels ({})",
                    shown.join(", ")
                )
            }),
    }
}

/// Reads a CSV (header = the schema's column names, in order) into each row's values in the
/// columns' stored units (integers; decimals × 10^scale; booleans 0/1; category label indexes),
/// checking every value against its column's type and bit width (`bits[i]`, default
/// [`DEFAULT_VALUE_BITS`]). Errors carry the CSV line and column.
pub fn read_csv_units<R: Read>(
    reader: R,
    schema: &Schema,
    bits: &[Option<u32>],
) -> Result<Vec<Vec<i64>>, TableError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let columns = schema.columns();
    let expected: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut records = csv.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            return Err(TableError::Csv {
                line: e.position().map_or(1, |p| p.line()),
                message: e.to_string(),
            });
        }
        None => {
            return Err(TableError::Header {
                expected: expected.join(","),
                found: String::new(),
            });
        }
    };
    if header.iter().collect::<Vec<_>>() != expected {
        return Err(TableError::Header {
            expected: expected.join(","),
            found: header.iter().collect::<Vec<_>>().join(","),
        });
    }
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| TableError::Csv {
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != columns.len() {
            return Err(TableError::FieldCount {
                line,
                expected: columns.len(),
                found: record.len(),
            });
        }
        let mut row = Vec::with_capacity(columns.len());
        for (i, (column, text)) in columns.iter().zip(record.iter()).enumerate() {
            let width = bits.get(i).copied().flatten().unwrap_or(DEFAULT_VALUE_BITS);
            row.push(encode_value(&column.ty, text, width).map_err(|reason| {
                TableError::Value {
                    line,
                    column: i + 1,
                    name: column.name.clone(),
                    reason,
                }
            })?);
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(TableError::Empty);
    }
    Ok(rows)
}

/// [`read_csv_units`], encoded column by column as field elements for sharing.
pub fn read_csv<R: Read>(
    reader: R,
    schema: &Schema,
    bits: &[Option<u32>],
) -> Result<EncodedTable, TableError> {
    let rows = read_csv_units(reader, schema, bits)?;
    let mut columns: Vec<Vec<Mp127>> = vec![Vec::with_capacity(rows.len()); schema.columns().len()];
    for row in &rows {
        for (column, v) in columns.iter_mut().zip(row) {
            column.push(Mp127::from_i64(*v));
        }
    }
    Ok(EncodedTable {
        columns,
        rows: rows.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::from_json(
            r#"{"columns":[{"name":"age","type":"integer"},{"name":"bmi","type":"fixed","scale":1},
            {"name":"smoker","type":"boolean"},{"name":"sex","type":"category","labels":["f","m"]}]}"#,
        )
        .unwrap()
    }

    fn read(text: &str) -> Result<EncodedTable, TableError> {
        read_csv(text.as_bytes(), &schema(), &[])
    }

    #[test]
    fn a_good_file_is_encoded_column_by_column() {
        let t = read("age,bmi,smoker,sex\n34,22.5,true,f\n-1,-0.5,0,m\n70,30,no,m\n").unwrap();
        assert_eq!(t.rows, 3);
        let col = |i: usize| {
            t.columns[i]
                .iter()
                .map(|v| v.to_signed())
                .collect::<Vec<_>>()
        };
        assert_eq!(col(0), vec![34, -1, 70]);
        assert_eq!(col(1), vec![225, -5, 300]);
        assert_eq!(col(2), vec![1, 0, 0]);
        assert_eq!(col(3), vec![0, 1, 1]);
    }

    #[test]
    fn bad_files_point_at_line_and_column() {
        assert!(matches!(read(""), Err(TableError::Header { .. })));
        assert!(matches!(
            read("age,bmi,sex,smoker\n1,2,f,true\n"),
            Err(TableError::Header { .. })
        ));
        assert_eq!(read("age,bmi,smoker,sex\n"), Err(TableError::Empty));
        assert_eq!(
            read("age,bmi,smoker,sex\n1,2,true,f\n1,2,true\n"),
            Err(TableError::FieldCount {
                line: 3,
                expected: 4,
                found: 3
            })
        );
        for (row, column, needle) in [
            ("x,2,true,f", 1, "not an integer"),
            ("1,2.25,true,f", 2, "more than 1 decimal"),
            ("1,abc,true,f", 2, "not a decimal"),
            ("1,2,maybe,f", 3, "not a boolean"),
            ("1,2,true,x", 4, "not one of the column's labels (f, m)"),
            ("4294967296,2,true,f", 1, "out of range"),
        ] {
            match read(&format!("age,bmi,smoker,sex\n1,2,true,f\n{row}\n")) {
                Err(TableError::Value {
                    line: 3,
                    column: c,
                    reason,
                    ..
                }) => {
                    assert_eq!(c, column, "{row}");
                    assert!(reason.contains(needle), "{row}: {reason}");
                }
                other => panic!("{row}: {other:?}"),
            }
        }
    }
}
