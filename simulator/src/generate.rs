//! Tables in plaintext: seeded synthetic patient data, CSV in the format the node's uploader reads
//! (`sharenet_node::table::read_csv`), and a CSV loader giving the same values.
//!
//! A [`Table`] keeps every value exactly as the network stores it: an integer in the column's
//! units (`INTEGER` as is, `FIXED(s)` as `round(value × 10^s)`, `BOOLEAN` as 1/0, `CATEGORY` as
//! the label's index). The plaintext reference ([`crate::plaintext`]) computes on these units, so
//! it sees exactly the values that were shared, with no decimal-to-binary rounding on the way.

use std::fmt::Write as _;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sharenet_query::{Column, ColumnType, Schema, SchemaError};

/// The bit width the node's uploader enforces by default: `|units| < 2^31`.
pub const DEFAULT_VALUE_BITS: u32 = sharenet_node::table::DEFAULT_VALUE_BITS;

/// The most rows a generated table may have (a simulator run is meant to finish in minutes).
pub const MAX_GENERATED_ROWS: usize = 1_000_000;

/// Why a table could not be generated or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The CSV does not fit the schema (line and column inside).
    #[error(transparent)]
    Table(#[from] sharenet_node::table::TableError),
    /// A row count of 0 or above [`MAX_GENERATED_ROWS`].
    #[error("a generated table needs between 1 and {MAX_GENERATED_ROWS} rows, not {rows}")]
    Rows {
        /// The requested count.
        rows: usize,
    },
    /// A schema that does not validate.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A row given to [`Table::new`] does not match the schema.
    #[error("row {row}: {reason}")]
    Row {
        /// 0-based row index.
        row: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A table in plaintext: its schema and its rows, each value in the column's stored units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    schema: Schema,
    rows: Vec<Vec<i64>>,
}

impl Table {
    /// A table from rows of stored units. Every row must have one value per column; booleans
    /// must be 0/1, categories a label index, numbers within [`DEFAULT_VALUE_BITS`].
    pub fn new(schema: Schema, rows: Vec<Vec<i64>>) -> Result<Table, GenerateError> {
        let limit = 1i64 << DEFAULT_VALUE_BITS;
        for (r, row) in rows.iter().enumerate() {
            if row.len() != schema.columns().len() {
                return Err(GenerateError::Row {
                    row: r,
                    reason: format!(
                        "{} values for {} columns",
                        row.len(),
                        schema.columns().len()
                    ),
                });
            }
            for (column, v) in schema.columns().iter().zip(row) {
                let ok = match &column.ty {
                    ColumnType::Integer | ColumnType::Fixed { .. } => v.abs() < limit,
                    ColumnType::Boolean => *v == 0 || *v == 1,
                    ColumnType::Category { labels } => {
                        usize::try_from(*v).is_ok_and(|i| i < labels.len())
                    }
                };
                if !ok {
                    return Err(GenerateError::Row {
                        row: r,
                        reason: format!("value {v} does not fit column `{}`", column.name),
                    });
                }
            }
        }
        Ok(Table { schema, rows })
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The rows, each value in its column's stored units.
    pub fn rows(&self) -> &[Vec<i64>] {
        &self.rows
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The value of `column` in `row` as a number: fixed-point units divided by `10^scale`,
    /// booleans 0/1, categories their label index. `None` when out of range.
    pub fn value(&self, row: usize, column: usize) -> Option<f64> {
        let units = *self.rows.get(row)?.get(column)?;
        let scale = match self.schema.columns().get(column)?.ty {
            ColumnType::Fixed { scale } => i32::from(scale),
            _ => 0,
        };
        Some(units as f64 / 10f64.powi(scale))
    }

    /// The table as CSV text: a header with the column names, then one line per row, in the
    /// format the node's uploader reads (`sharenet_node::table::read_csv`): integers as written,
    /// fixed-point numbers with exactly `scale` decimals, booleans `true`/`false`, categories by
    /// label.
    pub fn to_csv(&self) -> String {
        let columns = self.schema.columns();
        let mut out = String::with_capacity(self.rows.len() * 8 * columns.len().max(1));
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        out.push_str(&names.join(","));
        out.push('\n');
        for row in &self.rows {
            for (i, (column, v)) in columns.iter().zip(row).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(&mut out, &column.ty, *v);
            }
            out.push('\n');
        }
        out
    }

    /// Reads CSV text (header first) against `schema`, with the rules of the node's uploader:
    /// fields are trimmed; the header names the columns in order; integers in `i64`; fixed-point
    /// numbers with at most `scale` decimals; booleans `true/false`, `1/0`, `yes/no` (any case);
    /// categories by exact label; numbers within [`DEFAULT_VALUE_BITS`].
    pub fn from_csv(text: &str, schema: Schema) -> Result<Table, GenerateError> {
        // The node's own reader: the simulator reads a CSV exactly as an upload does.
        let rows = sharenet_node::table::read_csv_units(text.as_bytes(), &schema, &[])?;
        Ok(Table { schema, rows })
    }
}

/// Writes one value in CSV form.
fn write_value(out: &mut String, ty: &ColumnType, v: i64) {
    match ty {
        ColumnType::Integer => {
            let _ = write!(out, "{v}");
        }
        ColumnType::Fixed { scale } => out.push_str(&format_fixed(v, *scale)),
        ColumnType::Boolean => out.push_str(if v != 0 { "true" } else { "false" }),
        ColumnType::Category { labels } => {
            // Table::new and the loaders only admit valid indices.
            let label = usize::try_from(v).ok().and_then(|i| labels.get(i));
            out.push_str(label.map_or("", String::as_str));
        }
    }
}

/// `units / 10^scale` written with exactly `scale` decimals (`-1234`, 2 → `-12.34`).
pub fn format_fixed(units: i64, scale: u8) -> String {
    if scale == 0 {
        return units.to_string();
    }
    let digits = units.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, frac) = padded.split_at(padded.len() - scale);
    let sign = if units < 0 { "-" } else { "" };
    format!("{sign}{whole}.{frac}")
}

/// Decimal places of the `bmi` column.
pub const BMI_SCALE: u8 = 1;
/// Decimal places of the `cost` column.
pub const COST_SCALE: u8 = 2;

/// The schema of the synthetic patient tables:
///
/// | column | type | meaning |
/// |---|---|---|
/// | `age` | integer | years, 18..=95 |
/// | `sex` | category `f`, `m` | |
/// | `bmi` | fixed, scale 1 | body-mass index, 15.0..=55.0 |
/// | `bp` | integer | systolic blood pressure, mmHg, 85..=220 |
/// | `diagnosis` | boolean | has the condition under study |
/// | `cost` | fixed, scale 2 | yearly treatment cost |
pub fn patients_schema() -> Result<Schema, GenerateError> {
    let column = |name: &str, ty: ColumnType| Column {
        name: name.to_string(),
        ty,
    };
    let columns = vec![
        column("age", ColumnType::Integer),
        column(
            "sex",
            ColumnType::Category {
                labels: vec!["f".to_string(), "m".to_string()],
            },
        ),
        column("bmi", ColumnType::Fixed { scale: BMI_SCALE }),
        column("bp", ColumnType::Integer),
        column("diagnosis", ColumnType::Boolean),
        column("cost", ColumnType::Fixed { scale: COST_SCALE }),
    ];
    // Valid by construction (distinct identifiers, two labels); the error path is never taken.
    Ok(Schema::new(columns)?)
}

/// A standard normal deviate (Box–Muller), so the generator needs no distribution crate.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // 1 − u is in (0, 1]: ln never sees 0.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `rows` synthetic patients from `seed` (ChaCha8): the same seed always gives the same table.
///
/// The columns are related the way clinical data roughly is, so that correlations, group
/// differences and a regression have something to find:
///
/// - `age` ~ N(52, 16²), clamped to 18..=95; `sex` f/m with probability ½ (male = 1 for m);
/// - `bmi` = 23 + 0.06·(age − 18) + 0.8·male + N(0, 4²), clamped to 15..=55;
/// - `bp` = 88 + 0.45·age + 0.9·bmi + 4·male + N(0, 10²), clamped to 85..=220;
/// - `diagnosis` with probability σ(−9.5 + 0.06·age + 0.18·bmi + 0.01·(bp − 120)) (about a fifth);
/// - `cost` = 900 + 22·age + 35·bmi + 4,500·diagnosis + N(0, 700²), at least 50.
pub fn patients(rows: usize, seed: u64) -> Result<Table, GenerateError> {
    if rows == 0 || rows > MAX_GENERATED_ROWS {
        return Err(GenerateError::Rows { rows });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bmi_unit = 10f64.powi(i32::from(BMI_SCALE));
    let cost_unit = 10f64.powi(i32::from(COST_SCALE));
    let mut out = Vec::with_capacity(rows);
    for _ in 0..rows {
        let age = (52.0 + 16.0 * normal(&mut rng)).round().clamp(18.0, 95.0);
        let male = f64::from(u8::from(rng.random::<bool>()));
        let bmi =
            (23.0 + 0.06 * (age - 18.0) + 0.8 * male + 4.0 * normal(&mut rng)).clamp(15.0, 55.0);
        let bmi = (bmi * bmi_unit).round() / bmi_unit;
        let bp = (88.0 + 0.45 * age + 0.9 * bmi + 4.0 * male + 10.0 * normal(&mut rng))
            .round()
            .clamp(85.0, 220.0);
        let logit = -9.5 + 0.06 * age + 0.18 * bmi + 0.01 * (bp - 120.0);
        let p = 1.0 / (1.0 + (-logit).exp());
        let diagnosis = f64::from(u8::from(rng.random::<f64>() < p));
        let cost =
            (900.0 + 22.0 * age + 35.0 * bmi + 4500.0 * diagnosis + 700.0 * normal(&mut rng))
                .max(50.0);
        // Every value is clamped to a small range above, so these conversions are exact.
        out.push(vec![
            age as i64,
            male as i64,
            (bmi * bmi_unit).round() as i64,
            bp as i64,
            diagnosis as i64,
            (cost * cost_unit).round() as i64,
        ]);
    }
    Table::new(patients_schema()?, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharenet_node::table::TableError;

    fn column(t: &Table, name: &str) -> Vec<f64> {
        let (c, _) = t.schema().column(name).unwrap();
        (0..t.len()).map(|r| t.value(r, c).unwrap()).collect()
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    fn corr(a: &[f64], b: &[f64]) -> f64 {
        let (ma, mb) = (mean(a), mean(b));
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    #[test]
    fn the_same_seed_gives_the_same_table() {
        let a = patients(300, 7).unwrap();
        assert_eq!(a, patients(300, 7).unwrap());
        assert_ne!(a, patients(300, 8).unwrap());
        // A longer table from the same seed starts with the same rows.
        assert_eq!(&patients(400, 7).unwrap().rows()[..300], a.rows());
        assert!(matches!(
            patients(0, 1),
            Err(GenerateError::Rows { rows: 0 })
        ));
    }

    #[test]
    fn patients_are_plausible_and_correlated() {
        let t = patients(5000, 42).unwrap();
        let age = column(&t, "age");
        let bmi = column(&t, "bmi");
        let bp = column(&t, "bp");
        let diagnosis = column(&t, "diagnosis");
        let cost = column(&t, "cost");
        let male = column(&t, "sex");
        assert!(age.iter().all(|a| (18.0..=95.0).contains(a)));
        assert!(bmi.iter().all(|b| (15.0..=55.0).contains(b)));
        assert!(bp.iter().all(|b| (85.0..=220.0).contains(b)));
        assert!((mean(&age) - 52.0).abs() < 2.0, "{}", mean(&age));
        assert!((mean(&male) - 0.5).abs() < 0.05);
        let prevalence = mean(&diagnosis);
        assert!((0.1..0.35).contains(&prevalence), "{prevalence}");
        // The relations the generator documents show up in the data.
        assert!(corr(&age, &bp) > 0.3, "{}", corr(&age, &bp));
        assert!(corr(&bmi, &bp) > 0.15, "{}", corr(&bmi, &bp));
        assert!(corr(&diagnosis, &cost) > 0.5, "{}", corr(&diagnosis, &cost));
        assert!(corr(&age, &diagnosis) > 0.1);
        // Values are on the declared grid: bmi has one decimal, cost two.
        let (b, _) = t.schema().column("bmi").unwrap();
        assert!(t.rows().iter().any(|r| r[b] % 10 != 0));
    }

    #[test]
    fn csv_round_trips_through_our_loader_and_the_nodes_uploader() {
        let t = patients(200, 3).unwrap();
        let csv = t.to_csv();
        assert!(csv.starts_with("age,sex,bmi,bp,diagnosis,cost\n"));
        assert_eq!(Table::from_csv(&csv, t.schema().clone()).unwrap(), t);
        // The node reads the same units, column by column.
        let schema = Schema::from_json(&t.schema().to_json()).unwrap();
        let encoded = sharenet_node::table::read_csv(csv.as_bytes(), &schema, &[]).unwrap();
        assert_eq!(encoded.rows, t.len());
        for (c, column) in encoded.columns.iter().enumerate() {
            let ours: Vec<i64> = t.rows().iter().map(|r| r[c]).collect();
            let theirs: Vec<i64> = column.iter().map(|v| v.to_signed() as i64).collect();
            assert_eq!(ours, theirs, "column {c}");
        }
    }

    #[test]
    fn fixed_point_is_written_with_its_scale() {
        assert_eq!(format_fixed(-1234, 2), "-12.34");
        assert_eq!(format_fixed(5, 3), "0.005");
        assert_eq!(format_fixed(-5, 1), "-0.5");
        assert_eq!(format_fixed(70, 0), "70");
        assert_eq!(format_fixed(0, 2), "0.00");
    }

    #[test]
    fn bad_csv_is_refused_with_line_and_column() {
        let schema = Schema::from_json(
            r#"{"columns":[{"name":"x","type":"fixed","scale":1},{"name":"c","type":"category","labels":["a","b"]}]}"#,
        )
        .unwrap();
        let read = |text: &str| Table::from_csv(text, schema.clone());
        assert_eq!(
            read("x, c\n 1.5 , b\n-2,a\n").unwrap().rows(),
            &[vec![15, 1], vec![-20, 0]]
        );
        assert!(matches!(
            read("c,x\n"),
            Err(GenerateError::Table(TableError::Header { .. }))
        ));
        assert_eq!(read("x,c\n"), Err(GenerateError::Table(TableError::Empty)));
        assert!(matches!(
            read("x,c\n1,a\n2\n"),
            Err(GenerateError::Table(TableError::FieldCount {
                line: 3,
                expected: 2,
                found: 1
            }))
        ));
        for (row, column, needle) in [
            ("1.25,a", 1, "more than 1 decimal"),
            ("x,a", 1, "not a decimal"),
            ("1,z", 2, "not one of the column's labels (a, b)"),
            ("300000000,a", 1, "out of range"),
        ] {
            match read(&format!("x,c\n1,a\n{row}\n")) {
                Err(GenerateError::Table(TableError::Value {
                    line: 3,
                    column: c,
                    reason,
                    ..
                })) => {
                    assert_eq!(c, column, "{row}");
                    assert!(reason.contains(needle), "{row}: {reason}");
                }
                other => panic!("{row}: {other:?}"),
            }
        }
        assert!(matches!(
            Table::new(schema.clone(), vec![vec![1, 2]]),
            Err(GenerateError::Row { row: 0, .. })
        ));
    }
}
