//! Tests of the lexer, parser, printer and type checker.

use proptest::prelude::*;

use super::ast::*;
use super::lexer::{Tok, lex};
use super::*;

fn catalog() -> Catalog {
    let schema = Schema::from_json(
        r#"{"columns":[
            {"name":"age","type":"integer"},
            {"name":"bmi","type":"fixed","scale":2},
            {"name":"weight","type":"fixed","scale":1},
            {"name":"smoker","type":"boolean"},
            {"name":"diagnosis","type":"category","labels":["flu","cold","covid"]},
            {"name":"severity","type":"category","labels":["flu","cold","covid"]},
            {"name":"sex","type":"category","labels":["f","m"]},
            {"name":"order","type":"integer"}
        ]}"#,
    )
    .unwrap();
    let other = Schema::from_json(
        r#"{"columns":[
            {"name":"age","type":"integer"},
            {"name":"bmi","type":"fixed","scale":3},
            {"name":"weight","type":"fixed","scale":1},
            {"name":"smoker","type":"boolean"},
            {"name":"diagnosis","type":"category","labels":["flu","cold","covid"]},
            {"name":"severity","type":"category","labels":["flu","cold","covid"]},
            {"name":"sex","type":"category","labels":["f","m"]},
            {"name":"order","type":"integer"}
        ]}"#,
    )
    .unwrap();
    let mut c = Catalog::new();
    c.insert("patients", schema.clone()).unwrap();
    c.insert("clinic_b", schema).unwrap();
    c.insert("other", other).unwrap();
    c
}

fn ok(q: &str) -> TypedQuery {
    match compile_front_end(q, &catalog()) {
        Ok(t) => t,
        Err(e) => panic!("{q}\n{}", e.render(q)),
    }
}

fn err(q: &str) -> QueryError {
    match compile_front_end(q, &catalog()) {
        Ok(_) => panic!("accepted: {q}"),
        Err(e) => {
            // Rendering never panics and always points somewhere.
            let r = e.render(q);
            assert!(r.contains('^'), "{r}");
            assert!(r.contains("help:"), "{r}");
            e
        }
    }
}

fn at(e: &QueryError) -> (u32, u32) {
    (e.span().line, e.span().column)
}

/// The first select item of `SELECT {e} FROM patients`, without spans.
fn pexpr(e: &str) -> Expr {
    let q = parse(&format!("SELECT {e} FROM patients")).unwrap();
    q.select[0].expr.without_spans()
}

fn aggregate_arg(q: &TypedQuery, i: usize) -> &TypedExpr {
    match &q.items[i].kind {
        TypedItemKind::Aggregate(TypedAggregate::Unary { arg, .. }) => arg,
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- parsing

#[test]
fn parses_a_full_query() {
    let text = "-- mean age per diagnosis\nselect Diagnosis_Count, COUNT(*) AS n, avg(age) mean\n\
                FROM patients, \"clinic_b\"\nWHERE age >= 18 and not smoker;";
    let q = parse(text).unwrap();
    assert_eq!(q.select.len(), 3);
    assert_eq!(q.select[1].alias.as_ref().unwrap().name, "n");
    assert_eq!(q.select[2].alias.as_ref().unwrap().name, "mean");
    assert_eq!(q.from.len(), 2);
    assert_eq!(q.from[1].name, "clinic_b");
    assert_eq!((q.from[1].span.line, q.from[1].span.column), (3, 16));
    assert_eq!(q.select[0].expr.span.line, 2);
    assert_eq!(q.select[0].expr.span.column, 8);
    assert_eq!(
        q.canonical_text(),
        "SELECT Diagnosis_Count, COUNT(*) AS n, AVG(age) AS mean FROM patients, clinic_b \
         WHERE age >= 18 AND NOT smoker"
    );
    let agg = &q.select[2].expr;
    assert_eq!(&text[agg.span.start..agg.span.end], "avg(age)");
}

#[test]
fn canonical_names_of_aliased_functions() {
    let q = parse(
        "SELECT stddev(a), variance(a), covar(a, b), Stddev_Pop(a), COVAR_SAMP(a,b), \
         x != 1 AS c FROM t",
    )
    .unwrap();
    assert_eq!(
        q.canonical_text(),
        "SELECT STDDEV_SAMP(a), VAR_SAMP(a), COVAR_POP(a, b), STDDEV_POP(a), COVAR_SAMP(a, b), \
         x <> 1 AS c FROM t"
    );
}

#[test]
fn literals() {
    assert_eq!(
        pexpr("3.25").kind,
        ExprKind::Number(Number {
            units: 325,
            scale: 2
        })
    );
    assert_eq!(pexpr("0.05").to_string(), "0.05");
    assert_eq!(pexpr("007").to_string(), "7");
    assert_eq!(pexpr("3.0").to_string(), "3.0");
    assert_eq!(pexpr("'it''s'").kind, ExprKind::String("it's".into()));
    assert_eq!(pexpr("'it''s'").to_string(), "'it''s'");
    assert_eq!(pexpr("TrUe").kind, ExprKind::Bool(true));
    assert_eq!(pexpr("\"order\"").kind, ExprKind::Column("order".into()));
    assert_eq!(pexpr("\"order\"").to_string(), "\"order\"");
    assert_eq!(pexpr("-3").to_string(), "-3");
    assert_eq!(pexpr("- -3").to_string(), "-(-3)");
    assert_eq!(
        pexpr("9223372036854775807").to_string(),
        "9223372036854775807"
    );
    assert_eq!(pexpr("0.000000000001").to_string(), "0.000000000001");
    let n = |units, scale| Number { units, scale }.to_string();
    assert_eq!(n(-5, 2), "-0.05");
    assert_eq!(n(i64::MIN, 0), "-9223372036854775808");
    assert_eq!(n(1, 25), "0.0000000000000000000000001");
    assert_eq!(n(12345, 3), "12.345");
}

#[test]
fn precedence() {
    assert_eq!(pexpr("a + b * c"), pexpr("a + (b * c)"));
    assert_ne!(pexpr("a + b * c"), pexpr("(a + b) * c"));
    assert_eq!(pexpr("NOT a AND b"), pexpr("(NOT a) AND b"));
    assert_ne!(pexpr("NOT a AND b"), pexpr("NOT (a AND b)"));
    assert_eq!(pexpr("a OR b AND c"), pexpr("a OR (b AND c)"));
    assert_ne!(pexpr("a OR b AND c"), pexpr("(a OR b) AND c"));
    assert_eq!(pexpr("a - b - c"), pexpr("(a - b) - c"));
    assert_eq!(pexpr("a / b * c"), pexpr("(a / b) * c"));
    assert_eq!(pexpr("-a * b"), pexpr("(-a) * b"));
    assert_eq!(pexpr("NOT a = b"), pexpr("NOT (a = b)"));
    assert_eq!(
        pexpr("a = b AND c < d + 1"),
        pexpr("(a = b) AND (c < (d + 1))")
    );
    assert_eq!(pexpr("a OR NOT b OR c"), pexpr("(a OR (NOT b)) OR c"));
    // The printer keeps exactly the parentheses that matter.
    assert_eq!(pexpr("a - (b - c)").to_string(), "a - (b - c)");
    assert_eq!(pexpr("(a - b) - c").to_string(), "a - b - c");
    assert_eq!(pexpr("((a)) * (b + c)").to_string(), "a * (b + c)");
    assert_eq!(pexpr("NOT (a AND b)").to_string(), "NOT (a AND b)");
    assert_eq!(pexpr("(a = b) = c").to_string(), "(a = b) = c");
    assert_eq!(pexpr("a = (b = c)").to_string(), "a = (b = c)");
    assert_eq!(
        pexpr("LINREG(y ~ (a + b) + c * d + -e)").to_string(),
        "LINREG(y ~ (a + b) + c * d + -e)"
    );
    assert_eq!(
        pexpr("HISTOGRAM(x, -1.5, 0, 2)").to_string(),
        "HISTOGRAM(x, -1.5, 0, 2)"
    );
}

#[test]
fn case_expressions() {
    let e = pexpr("CASE WHEN a > 1 THEN 1 WHEN b THEN 2 ELSE 3 END");
    let ExprKind::Case { arms, .. } = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(arms.len(), 2);
    assert_eq!(
        e.to_string(),
        "CASE WHEN a > 1 THEN 1 WHEN b THEN 2 ELSE 3 END"
    );
}

// ---------------------------------------------------------------- lexical errors

#[test]
fn unexpected_character() {
    let e = err("SELECT COUNT(*)\nFROM patients WHERE age @ 3");
    assert!(matches!(
        e,
        QueryError::UnexpectedCharacter { found: '@', .. }
    ));
    assert_eq!(at(&e), (2, 25));
    let e = err("SELECT COUNT(*) FROM `patients`");
    assert!(matches!(
        e,
        QueryError::UnexpectedCharacter { found: '`', .. }
    ));
    assert!(e.hint().contains("double quotes"));
    let e = err("SELECT COUNT(*) FROM patients WHERE é = 1");
    assert!(matches!(
        e,
        QueryError::UnexpectedCharacter { found: 'é', .. }
    ));
    assert_eq!(at(&e), (1, 37));
    let e = err("SELECT COUNT(*) FROM patients WHERE !smoker");
    assert!(matches!(
        e,
        QueryError::UnexpectedCharacter { found: '!', .. }
    ));
}

#[test]
fn unterminated() {
    let e = err("SELECT COUNT(*) FROM patients\nWHERE diagnosis = 'flu");
    assert!(matches!(
        e,
        QueryError::Unterminated {
            what: "string literal",
            ..
        }
    ));
    assert_eq!(at(&e), (2, 19));
    let e = err("SELECT COUNT(*) FROM patients WHERE diagnosis = 'flu\n' ");
    assert!(matches!(e, QueryError::Unterminated { .. }));
    let e = err("SELECT AVG(\"age) FROM patients");
    assert!(matches!(
        e,
        QueryError::Unterminated {
            what: "quoted identifier",
            ..
        }
    ));
    assert_eq!(at(&e), (1, 12));
}

#[test]
fn bad_numbers() {
    for (q, col) in [
        ("SELECT SUM(age * 1.2.3) FROM patients", 18),
        ("SELECT SUM(age * 12abc) FROM patients", 18),
        ("SELECT SUM(age * 1e5) FROM patients", 18),
        ("SELECT SUM(age * .5) FROM patients", 18),
        ("SELECT SUM(age * 3.) FROM patients", 18),
        ("SELECT SUM(age * 9223372036854775808) FROM patients", 18),
        ("SELECT SUM(age * 0.1234567890123) FROM patients", 18),
    ] {
        let e = err(q);
        assert!(matches!(e, QueryError::BadNumber { .. }), "{q}: {e:?}");
        assert_eq!(at(&e), (1, col), "{q}");
    }
    let e = err("SELECT SUM(age * 1e5) FROM patients");
    assert!(e.to_string().contains("exponent"), "{e}");
}

#[test]
fn bad_quoted_identifier() {
    let e = err("SELECT AVG(\"my age\") FROM patients");
    assert!(matches!(e, QueryError::BadIdentifier { .. }));
    assert_eq!(at(&e), (1, 12));
    assert!(matches!(
        err("SELECT AVG(\"\") FROM patients"),
        QueryError::BadIdentifier { .. }
    ));
}

// ---------------------------------------------------------------- syntax errors

fn expect_unexpected(q: &str, line: u32, col: u32, expected: &str) {
    let e = err(q);
    match &e {
        QueryError::UnexpectedToken { expected: x, .. } => {
            assert!(x.contains(expected), "{q}: expected {x:?}")
        }
        other => panic!("{q}: {other:?}"),
    }
    assert_eq!(at(&e), (line, col), "{q}");
}

#[test]
fn syntax_errors() {
    expect_unexpected("", 1, 1, "SELECT");
    expect_unexpected("  -- nothing\n", 2, 1, "SELECT");
    expect_unexpected("SELECT COUNT(*) patients", 1, 25, "FROM");
    expect_unexpected("SELECT FROM patients", 1, 8, "expression");
    expect_unexpected("SELECT AVG(age FROM patients", 1, 16, "`)`");
    expect_unexpected("SELECT AVG((age) FROM patients", 1, 18, "`)`");
    expect_unexpected("SELECT COUNT(*) FROM", 1, 21, "dataset");
    expect_unexpected("SELECT COUNT(*) FROM patients WHERE", 1, 36, "expression");
    expect_unexpected(
        "SELECT SUM(CASE WHEN smoker 1 ELSE 0 END) FROM patients",
        1,
        29,
        "THEN",
    );
    expect_unexpected(
        "SELECT SUM(CASE WHEN smoker THEN 1 END) FROM patients",
        1,
        36,
        "ELSE",
    );
    expect_unexpected("SELECT COUNT(1 < age < 3) FROM patients", 1, 22, "AND");
    expect_unexpected("SELECT SUM(*) FROM patients", 1, 12, "expression");
    expect_unexpected(
        "SELECT COUNT(*) FROM patients WHERE age > 3 age",
        1,
        45,
        "end of query",
    );
    expect_unexpected(
        "SELECT COUNT(*) FROM patients; SELECT COUNT(*) FROM patients",
        1,
        32,
        "end of query",
    );
    expect_unexpected("SELECT CORR(age) FROM patients", 1, 16, "`,`");
    expect_unexpected("SELECT AVG(age, bmi) FROM patients", 1, 15, "`)`");
    expect_unexpected("SELECT LINREG(age bmi) FROM patients", 1, 19, "`~`");
    expect_unexpected(
        "SELECT LINREG(age ~ bmi - weight) FROM patients",
        1,
        25,
        "`+`",
    );
    expect_unexpected("SELECT COUNT(*) FROM patients GROUP diagnosis", 1, 37, "BY");
    expect_unexpected("SELECT COUNT(*) FROM patients GROUP BY", 1, 39, "column");
    expect_unexpected("SELECT AVG(select) FROM patients", 1, 12, "expression");
    expect_unexpected("SELECT COUNT(*) FROM select", 1, 22, "dataset");
    let e = err("SELECT AVG(order) FROM patients");
    // `order` is reserved and names a column here: the hint says how to quote it.
    assert!(matches!(e, QueryError::UnexpectedToken { .. }), "{e:?}");
    assert!(e.hint().contains("\"order\""), "{}", e.hint());
    assert!(ok("SELECT AVG(\"order\") FROM patients").items.len() == 1);
    let e = err("SELECT AVG(case) FROM patients");
    assert!(matches!(e, QueryError::UnexpectedToken { .. }), "{e:?}");
}

#[test]
fn unknown_function() {
    let e = err("SELECT SUMM(age) FROM patients");
    assert_eq!(
        e,
        QueryError::UnknownFunction {
            name: "SUMM".into(),
            suggestion: Some("SUM".into()),
            span: e.span()
        }
    );
    assert_eq!(at(&e), (1, 8));
    let e = err("SELECT COUNT(*) FROM patients WHERE abs(age) > 3");
    assert!(matches!(
        e,
        QueryError::UnknownFunction {
            suggestion: None,
            ..
        }
    ));
    assert_eq!(at(&e), (1, 37));
    assert!(e.hint().contains("scalar functions"));
}

fn expect_unsupported(q: &str, line: u32, col: u32, feature: &str) {
    let e = err(q);
    match &e {
        QueryError::Unsupported { feature: f, .. } => {
            assert!(f.contains(feature), "{q}: feature {f:?}")
        }
        other => panic!("{q}: {other:?}"),
    }
    assert_eq!(at(&e), (line, col), "{q}");
}

#[test]
fn unsupported_features() {
    expect_unsupported("SELECT * FROM patients", 1, 8, "SELECT *");
    expect_unsupported(
        "SELECT COUNT(*) FROM patients JOIN clinic_b ON a = b",
        1,
        31,
        "JOIN",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients\nORDER BY age",
        2,
        1,
        "ORDER BY",
    );
    expect_unsupported("SELECT COUNT(*) FROM patients LIMIT 10", 1, 31, "LIMIT");
    expect_unsupported(
        "SELECT COUNT(*) FROM patients GROUP BY diagnosis HAVING COUNT(*) > 3",
        1,
        50,
        "HAVING",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients GROUP BY diagnosis ORDER BY diagnosis",
        1,
        50,
        "ORDER BY",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM (SELECT age FROM patients)",
        1,
        22,
        "subqueries",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients WHERE age > (SELECT AVG(age) FROM patients)",
        1,
        44,
        "subqueries",
    );
    expect_unsupported(
        "SELECT COUNT(DISTINCT age) FROM patients",
        1,
        14,
        "DISTINCT",
    );
    expect_unsupported("SELECT DISTINCT age FROM patients", 1, 8, "DISTINCT");
    expect_unsupported(
        "SELECT COUNT(*) FROM patients WHERE diagnosis IN ('flu', 'cold')",
        1,
        47,
        "IN",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients WHERE age BETWEEN 1 AND 3",
        1,
        41,
        "BETWEEN",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients WHERE age IS NULL",
        1,
        41,
        "NULL",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients WHERE age = NULL",
        1,
        43,
        "NULL",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients WHERE diagnosis LIKE 'f%'",
        1,
        47,
        "LIKE",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients UNION SELECT COUNT(*) FROM clinic_b",
        1,
        31,
        "set operations",
    );
    expect_unsupported("DELETE FROM patients", 1, 1, "other than SELECT");
    expect_unsupported("WITH x AS (SELECT 1) SELECT COUNT(*) FROM x", 1, 1, "WITH");
    expect_unsupported("SELECT COUNT(*) FROM patients p", 1, 31, "aliases");
    expect_unsupported("SELECT COUNT(*) FROM patients AS p", 1, 31, "aliases");
    expect_unsupported("SELECT AVG(patients.age) FROM patients", 1, 12, "qualified");
    expect_unsupported(
        "SELECT COUNT(*) FROM patients GROUP BY diagnosis, sex",
        1,
        49,
        "several columns",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients GROUP BY age / 10",
        1,
        40,
        "expression",
    );
    expect_unsupported(
        "SELECT COUNT(*) FROM patients GROUP BY 1",
        1,
        40,
        "position",
    );
    expect_unsupported("SELECT COUNT(*) FROM patients WHERE age == 3", 1, 41, "==");
    expect_unsupported(
        "SELECT COUNT(*) /* hi */ FROM patients",
        1,
        17,
        "block comments",
    );
    expect_unsupported(
        "SELECT SUM(CASE smoker WHEN TRUE THEN 1 ELSE 0 END) FROM patients",
        1,
        17,
        "CASE value",
    );
    expect_unsupported(
        "SELECT SUM(age) / COUNT(*) FROM patients",
        1,
        8,
        "arithmetic on aggregate",
    );
}

#[test]
fn limits() {
    let deep = format!(
        "SELECT SUM({}age{}) FROM patients",
        "(".repeat(500),
        ")".repeat(500)
    );
    let e = err(&deep);
    assert!(matches!(e, QueryError::TooDeep { limit: 100, .. }));
    // SUM's argument is level 1; the error points at the parenthesis that opens level 101.
    assert_eq!(at(&e), (1, 11 + 100));
    let long_chain = format!("SELECT SUM(age{}) FROM patients", " + age".repeat(5000));
    let e = err(&long_chain);
    assert!(matches!(e, QueryError::TooDeep { .. }));
    // The 100th `+` makes the tree 101 levels tall; the error points at its right operand.
    assert_eq!(at(&e), (1, 6 * 100 + 12));
    let nots = format!("SELECT COUNT({}smoker) FROM patients", "NOT ".repeat(500));
    assert!(matches!(err(&nots), QueryError::TooDeep { .. }));
    let negs = format!("SELECT SUM({}age) FROM patients", "- ".repeat(500));
    assert!(matches!(err(&negs), QueryError::TooDeep { .. }));
    let cases = format!(
        "SELECT SUM({}1{}) FROM patients",
        "CASE WHEN smoker THEN ".repeat(200),
        " ELSE 0 END".repeat(200)
    );
    assert!(matches!(err(&cases), QueryError::TooDeep { .. }));
    // Just inside the limit is fine.
    let fine = format!("SELECT SUM(age{}) FROM patients", " + age".repeat(60));
    ok(&fine);
    let huge = format!(
        "SELECT COUNT(*) FROM patients {}",
        "-".repeat(MAX_QUERY_BYTES)
    );
    let e = err(&huge);
    assert!(matches!(e, QueryError::TooLong { .. }));
    assert_eq!(at(&e), (1, MAX_QUERY_BYTES as u32 + 1));
}

// ---------------------------------------------------------------- names and schemas

#[test]
fn unknown_dataset_and_column() {
    let e = err("SELECT COUNT(*) FROM patient");
    assert_eq!(
        e,
        QueryError::UnknownDataset {
            name: "patient".into(),
            suggestion: Some("patients".into()),
            span: e.span()
        }
    );
    assert_eq!(at(&e), (1, 22));
    let e = err("SELECT AVG(agee) FROM patients");
    assert_eq!(
        e,
        QueryError::UnknownColumn {
            name: "agee".into(),
            suggestion: Some("age".into()),
            span: e.span()
        }
    );
    assert_eq!(at(&e), (1, 12));
    assert!(e.hint().contains("`age`"));
    let e = err("SELECT AVG(Age) FROM patients");
    assert!(matches!(e, QueryError::UnknownColumn { suggestion: Some(ref s), .. } if s == "age"));
    let e = err("SELECT AVG(temperature) FROM patients");
    assert!(matches!(
        e,
        QueryError::UnknownColumn {
            suggestion: None,
            ..
        }
    ));
    let e = err("SELECT COUNT(*) FROM patients WHERE diagnosis = covid");
    assert!(
        matches!(e, QueryError::UnknownColumn { suggestion: Some(ref s), .. } if s == "'covid'")
    );
    let e = err("SELECT COUNT(*) FROM patients GROUP BY diagnoses");
    assert!(matches!(e, QueryError::UnknownColumn { .. }));
    assert_eq!(at(&e), (1, 40));
}

#[test]
fn union_of_datasets() {
    let q = ok("SELECT COUNT(*), AVG(bmi) FROM patients, clinic_b");
    assert_eq!(q.datasets, vec!["patients", "clinic_b"]);
    assert_eq!(q.schema, catalog().get("patients").unwrap().clone());
    let e = err("SELECT COUNT(*) FROM patients, clinic_b, other");
    match &e {
        QueryError::SchemaMismatch {
            dataset,
            reference,
            column,
            detail,
            ..
        } => {
            assert_eq!(dataset, "other");
            assert_eq!(reference, "patients");
            assert_eq!(column, "bmi");
            assert!(
                detail.contains("FIXED(2)") && detail.contains("FIXED(3)"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(at(&e), (1, 42));
    let e = err("SELECT COUNT(*) FROM patients, patients");
    assert!(matches!(e, QueryError::DuplicateDataset { .. }));
    assert_eq!(at(&e), (1, 32));
}

// ---------------------------------------------------------------- types

#[test]
fn numeric_promotion() {
    let q = ok(
        "SELECT SUM(age + bmi), SUM(age * bmi), SUM(bmi * weight), SUM(age / 3), \
                SUM(bmi / 0.5 * 1), SUM(age - 2), SUM(-weight), SUM(age * 2.5) FROM patients",
    );
    let tys: Vec<ValueType> = (0..8).map(|i| aggregate_arg(&q, i).ty).collect();
    assert_eq!(
        tys,
        vec![
            ValueType::Fixed(2),
            ValueType::Fixed(2),
            ValueType::Fixed(2),
            ValueType::Fixed(6),
            ValueType::Fixed(6),
            ValueType::Int,
            ValueType::Fixed(1),
            ValueType::Fixed(1),
        ]
    );
    // `+` converts its Int operand; `*` does not.
    let TypedExprKind::Arith { op, lhs, rhs } = &aggregate_arg(&q, 0).kind else {
        panic!()
    };
    assert_eq!(*op, ArithOp::Add);
    assert!(matches!(lhs.kind, TypedExprKind::Convert(_)));
    assert_eq!(lhs.ty, ValueType::Fixed(2));
    assert_eq!(rhs.ty, ValueType::Fixed(2));
    let TypedExprKind::Arith { lhs, .. } = &aggregate_arg(&q, 1).kind else {
        panic!()
    };
    assert_eq!(lhs.ty, ValueType::Int);
    assert!(matches!(lhs.kind, TypedExprKind::Column { index: 0, .. }));
    // Outputs.
    assert_eq!(q.items[0].output, OutputType::Scalar(ValueType::Fixed(2)));
    assert_eq!(q.items[5].output, OutputType::Scalar(ValueType::Int));
}

#[test]
fn aggregate_types() {
    let q = ok(
        "SELECT COUNT(*), COUNT(smoker), SUM(smoker), AVG(age), AVG(smoker), VAR_POP(bmi), \
                STDDEV(age), MIN(smoker), MAX(bmi), CORR(age, bmi), COVAR(age, smoker) \
                FROM patients",
    );
    let outs: Vec<&OutputType> = q.items.iter().map(|i| &i.output).collect();
    use ValueType::*;
    assert_eq!(
        outs,
        vec![
            &OutputType::Scalar(Int),
            &OutputType::Scalar(Int),
            &OutputType::Scalar(Int),
            &OutputType::Scalar(Fixed(6)),
            &OutputType::Scalar(Fixed(6)),
            &OutputType::Scalar(Fixed(6)),
            &OutputType::Scalar(Fixed(6)),
            &OutputType::Scalar(Bool),
            &OutputType::Scalar(Fixed(2)),
            &OutputType::Scalar(Fixed(6)),
            &OutputType::Scalar(Fixed(6)),
        ]
    );
    // SUM of a boolean counts it as 0/1 through an explicit conversion.
    let arg = aggregate_arg(&q, 2);
    assert_eq!(arg.ty, Int);
    assert!(matches!(arg.kind, TypedExprKind::Convert(ref inner) if inner.ty == Bool));
    assert!(matches!(
        q.items[6].kind,
        TypedItemKind::Aggregate(TypedAggregate::Unary {
            func: UnaryAggregate::StddevSamp,
            ..
        })
    ));
    assert_eq!(q.kinds, [QueryKind::Aggregate].into_iter().collect());
    assert_eq!(q.items[0].name, "COUNT(*)");
}

fn expect_mismatch(q: &str, line: u32, col: u32, context: &str) -> QueryError {
    let e = err(q);
    match &e {
        QueryError::TypeMismatch { context: c, .. } => assert!(c.contains(context), "{q}: {c}"),
        other => panic!("{q}: {other:?}"),
    }
    assert_eq!(at(&e), (line, col), "{q}");
    e
}

#[test]
fn type_mismatches() {
    expect_mismatch("SELECT COUNT(age) FROM patients", 1, 14, "COUNT");
    expect_mismatch("SELECT SUM(diagnosis) FROM patients", 1, 12, "SUM");
    expect_mismatch("SELECT SUM(age + smoker) FROM patients", 1, 18, "+");
    expect_mismatch("SELECT SUM(-smoker) FROM patients", 1, 13, "-");
    expect_mismatch("SELECT COUNT(NOT age) FROM patients", 1, 18, "NOT");
    expect_mismatch("SELECT COUNT(smoker AND age) FROM patients", 1, 25, "AND");
    expect_mismatch("SELECT COUNT(*) FROM patients WHERE age", 1, 37, "WHERE");
    expect_mismatch("SELECT COUNT(age > smoker) FROM patients", 1, 20, ">");
    expect_mismatch("SELECT COUNT(smoker < TRUE) FROM patients", 1, 14, "<");
    expect_mismatch("SELECT COUNT(diagnosis = sex) FROM patients", 1, 26, "=");
    expect_mismatch("SELECT COUNT(diagnosis > 'flu') FROM patients", 1, 14, ">");
    expect_mismatch("SELECT COUNT(age = 'flu') FROM patients", 1, 14, "label");
    expect_mismatch("SELECT COUNT('flu' = 'flu') FROM patients", 1, 14, "=");
    expect_mismatch("SELECT MIN(diagnosis) FROM patients", 1, 12, "MIN");
    expect_mismatch(
        "SELECT SUM(CASE WHEN smoker THEN 1 ELSE FALSE END) FROM patients",
        1,
        41,
        "CASE",
    );
    expect_mismatch(
        "SELECT SUM(CASE WHEN age THEN 1 ELSE 0 END) FROM patients",
        1,
        22,
        "WHEN",
    );
    expect_mismatch(
        "SELECT COUNT(*) FROM patients GROUP BY age",
        1,
        40,
        "GROUP BY",
    );
    expect_mismatch(
        "SELECT HISTOGRAM(smoker, 1) FROM patients",
        1,
        18,
        "HISTOGRAM",
    );
    expect_mismatch(
        "SELECT LOGREG(age ~ bmi) FROM patients",
        1,
        15,
        "LOGREG target",
    );
    expect_mismatch(
        "SELECT LINREG(age ~ diagnosis) FROM patients",
        1,
        21,
        "LINREG feature",
    );
    let e = expect_mismatch("SELECT COUNT(*) FROM patients WHERE 'flu'", 1, 37, "label");
    assert!(e.hint().contains("diagnosis = 'flu'"));
}

#[test]
fn categories_and_labels() {
    let q = ok(
        "SELECT COUNT(*) FROM patients WHERE diagnosis = 'covid' OR 'cold' <> severity \
                OR diagnosis = severity",
    );
    let Some(TypedExpr {
        kind: TypedExprKind::Or(l, _),
        ..
    }) = &q.filter
    else {
        panic!("{:?}", q.filter)
    };
    let TypedExprKind::Or(first, second) = &l.kind else {
        panic!()
    };
    let TypedExprKind::Compare { op, lhs, rhs } = &first.kind else {
        panic!()
    };
    assert_eq!(*op, CmpOp::Eq);
    assert_eq!(lhs.ty, ValueType::Category(4));
    assert_eq!(
        rhs.kind,
        TypedExprKind::Label {
            index: 2,
            label: "covid".into()
        }
    );
    let TypedExprKind::Compare { lhs, rhs, .. } = &second.kind else {
        panic!()
    };
    assert!(matches!(lhs.kind, TypedExprKind::Label { index: 1, .. }));
    // `severity` has the same labels as `diagnosis`: the same type.
    assert_eq!(rhs.ty, ValueType::Category(4));
    assert!(matches!(rhs.kind, TypedExprKind::Column { index: 5, .. }));
    let e = err("SELECT COUNT(*) FROM patients WHERE severity = 'mild'");
    assert!(matches!(e, QueryError::UnknownLabel { ref column, .. } if column == "severity"));
    let e = err("SELECT COUNT(*) FROM patients WHERE diagnosis = sex");
    assert!(
        e.to_string()
            .ends_with("expects CATEGORY('flu', 'cold', 'covid') (the type of the left side), found CATEGORY('f', 'm')"),
        "{e}"
    );
    let e = err("SELECT COUNT(*) FROM patients\nWHERE diagnosis = 'Flu'");
    match &e {
        QueryError::UnknownLabel {
            column,
            label,
            valid,
            ..
        } => {
            assert_eq!(column, "diagnosis");
            assert_eq!(label, "Flu");
            assert_eq!(valid, &vec!["flu", "cold", "covid"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(at(&e), (2, 19));
    assert_eq!(e.hint(), "the labels are 'flu', 'cold', 'covid'");
    // A category-valued CASE compared with a label.
    ok("SELECT COUNT(CASE WHEN smoker THEN diagnosis ELSE severity END = 'flu') FROM patients");
}

#[test]
fn case_unification() {
    let q = ok(
        "SELECT SUM(CASE WHEN smoker THEN 1 WHEN age > 3 THEN bmi ELSE 2.5 END), \
                COUNT(CASE WHEN smoker THEN age > 3 ELSE FALSE END) FROM patients",
    );
    let arg = aggregate_arg(&q, 0);
    assert_eq!(arg.ty, ValueType::Fixed(2));
    let TypedExprKind::Case { arms, otherwise } = &arg.kind else {
        panic!()
    };
    assert!(
        arms.iter()
            .all(|(c, v)| c.ty == ValueType::Bool && v.ty == ValueType::Fixed(2))
    );
    assert_eq!(otherwise.ty, ValueType::Fixed(2));
    assert!(matches!(arms[0].1.kind, TypedExprKind::Convert(_)));
    assert_eq!(aggregate_arg(&q, 1).ty, ValueType::Bool);
}

#[test]
fn group_by() {
    let q = ok("SELECT diagnosis, COUNT(*) AS n, AVG(age) FROM patients GROUP BY diagnosis");
    let g = q.group_by.as_ref().unwrap();
    assert_eq!((g.column, g.name.as_str()), (4, "diagnosis"));
    assert_eq!(g.groups, vec!["flu", "cold", "covid"]);
    assert_eq!(q.items[0].kind, TypedItemKind::GroupKey);
    assert_eq!(q.items[0].name, "diagnosis");
    assert_eq!(q.items[1].name, "n");
    assert_eq!(
        q.kinds,
        [QueryKind::Aggregate, QueryKind::GroupBy]
            .into_iter()
            .collect()
    );
    let q = ok("SELECT COUNT(*) FROM patients GROUP BY smoker");
    assert_eq!(q.group_by.unwrap().groups, vec!["false", "true"]);
}

#[test]
fn aggregate_placement() {
    let e = err("SELECT SUM(AVG(age)) FROM patients");
    assert!(
        matches!(e, QueryError::NestedAggregate { ref inner, ref outer, .. }
        if inner == "AVG" && outer == "SUM")
    );
    assert_eq!(at(&e), (1, 12));
    let e = err("SELECT LINREG(age ~ COUNT(*)) FROM patients");
    assert!(matches!(e, QueryError::NestedAggregate { .. }));
    assert_eq!(at(&e), (1, 21));
    let e = err("SELECT COUNT(*) FROM patients WHERE COUNT(*) > 10");
    assert!(matches!(e, QueryError::AggregateInWhere { .. }));
    assert_eq!(at(&e), (1, 37));
}

#[test]
fn non_aggregate_items() {
    let e = err("SELECT age FROM patients");
    assert!(matches!(
        e,
        QueryError::NonAggregateSelectItem { group_by: None, .. }
    ));
    assert_eq!(at(&e), (1, 8));
    let e = err("SELECT COUNT(*), age FROM patients GROUP BY diagnosis");
    assert!(matches!(
        e,
        QueryError::NonAggregateSelectItem {
            group_by: Some(_),
            ..
        }
    ));
    assert_eq!(at(&e), (1, 18));
    let e = err("SELECT COUNT(*), age + 1 FROM patients");
    assert!(matches!(e, QueryError::NonAggregateSelectItem { .. }));
    let e = err("SELECT 1 FROM patients");
    assert!(matches!(e, QueryError::NonAggregateSelectItem { .. }));
    let e = err("SELECT diagnosis FROM patients GROUP BY diagnosis");
    assert!(matches!(e, QueryError::NoAggregate { .. }));
    assert_eq!(at(&e), (1, 8));
}

#[test]
fn duplicate_output_names() {
    let e = err("SELECT AVG(age) AS x, SUM(age) AS x FROM patients");
    assert!(matches!(e, QueryError::DuplicateOutputName { ref name, .. } if name == "x"));
    assert_eq!(at(&e), (1, 23));
    let e = err("SELECT COUNT(*), count(*) FROM patients");
    assert!(matches!(e, QueryError::DuplicateOutputName { .. }));
    ok("SELECT COUNT(*), COUNT(*) AS n FROM patients");
}

#[test]
fn histograms() {
    let q = ok("SELECT HISTOGRAM(age, 18, 40.5, 65), HISTOGRAM(bmi, -1, 0) FROM patients");
    let TypedItemKind::Aggregate(TypedAggregate::Histogram { arg, edges }) = &q.items[0].kind
    else {
        panic!()
    };
    assert_eq!(arg.ty, ValueType::Fixed(1));
    assert_eq!(edges, &vec![180, 405, 650]);
    assert_eq!(q.items[0].output, OutputType::Histogram { bins: 4 });
    let TypedItemKind::Aggregate(TypedAggregate::Histogram { arg, edges }) = &q.items[1].kind
    else {
        panic!()
    };
    assert_eq!(arg.ty, ValueType::Fixed(2));
    assert!(matches!(arg.kind, TypedExprKind::Column { .. }));
    assert_eq!(edges, &vec![-100, 0]);
    assert_eq!(q.kinds, [QueryKind::Histogram].into_iter().collect());

    let e = err("SELECT HISTOGRAM(age, 40, 18) FROM patients");
    assert!(matches!(e, QueryError::BadHistogramEdges { .. }));
    assert_eq!(at(&e), (1, 27));
    let e = err("SELECT HISTOGRAM(age, 18, 18.0) FROM patients");
    assert!(matches!(e, QueryError::BadHistogramEdges { .. }));
    assert_eq!(at(&e), (1, 27));
    let e = err("SELECT HISTOGRAM(age) FROM patients");
    assert!(matches!(e, QueryError::BadHistogramEdges { .. }));
    assert_eq!(at(&e), (1, 8));
    let e = err("SELECT HISTOGRAM(age, bmi) FROM patients");
    assert!(matches!(e, QueryError::BadHistogramEdges { .. }));
    assert_eq!(at(&e), (1, 23));
    let e = err("SELECT HISTOGRAM(age, 9223372036854775807, 0.5) FROM patients");
    assert!(matches!(e, QueryError::BadHistogramEdges { .. }));
    assert_eq!(at(&e), (1, 23));
}

#[test]
fn regressions() {
    let q = ok("SELECT LINREG(bmi ~ age + smoker + weight * 2), \
                LOGREG(diagnosis = 'flu' ~ age + bmi) AS risk FROM patients");
    let TypedItemKind::Aggregate(TypedAggregate::LinReg(m)) = &q.items[0].kind else {
        panic!()
    };
    assert_eq!(m.target.ty, ValueType::Fixed(2));
    assert_eq!(m.features.len(), 3);
    assert_eq!(m.features[1].ty, ValueType::Int);
    assert_eq!(m.feature_names, vec!["age", "smoker", "weight * 2"]);
    assert_eq!(
        q.items[0].output,
        OutputType::Coefficients {
            terms: vec![
                "intercept".into(),
                "age".into(),
                "smoker".into(),
                "weight * 2".into()
            ],
            scale: 6,
            r_squared: true
        }
    );
    let TypedItemKind::Aggregate(TypedAggregate::LogReg(m)) = &q.items[1].kind else {
        panic!()
    };
    assert_eq!(m.target.ty, ValueType::Bool);
    assert!(matches!(
        q.items[1].output,
        OutputType::Coefficients {
            r_squared: false,
            ..
        }
    ));
    assert_eq!(
        q.kinds,
        [QueryKind::LinReg, QueryKind::LogReg].into_iter().collect()
    );

    let e = err("SELECT LINREG(age ~ bmi + 1) FROM patients");
    assert!(matches!(e, QueryError::InvalidModel { .. }));
    assert_eq!(at(&e), (1, 27));
    let e = err("SELECT LINREG(age ~ bmi + age) FROM patients");
    assert!(matches!(e, QueryError::InvalidModel { .. }));
    assert_eq!(at(&e), (1, 27));
    let e = err("SELECT LINREG(age ~ bmi + (bmi)) FROM patients");
    assert!(matches!(e, QueryError::InvalidModel { .. }));
    assert_eq!(at(&e), (1, 28));
    let e = err("SELECT LINREG(3 ~ bmi) FROM patients");
    assert!(matches!(e, QueryError::InvalidModel { .. }));
}

#[test]
fn division_guards() {
    // Nonzero literals.
    ok("SELECT SUM(age / 2), SUM(age / -0.5), SUM(bmi / (3)) FROM patients");
    let e = err("SELECT SUM(age / 0) FROM patients");
    assert!(matches!(e, QueryError::DivisionByZero { .. }));
    assert_eq!(at(&e), (1, 18));
    assert!(matches!(
        err("SELECT SUM(age / -0.00) FROM patients"),
        QueryError::DivisionByZero { .. }
    ));
    // Unguarded.
    let e = err("SELECT SUM(age / bmi) FROM patients");
    assert_eq!(
        e,
        QueryError::UnguardedDivision {
            divisor: "bmi".into(),
            dividend: "age".into(),
            span: e.span()
        }
    );
    assert_eq!(at(&e), (1, 18));
    assert_eq!(
        e.hint(),
        "guard it: CASE WHEN bmi <> 0 THEN age / bmi ELSE 0 END"
    );
    // Guarded forms.
    for q in [
        "SELECT SUM(CASE WHEN bmi <> 0 THEN age / bmi ELSE 0 END) FROM patients",
        "SELECT SUM(CASE WHEN bmi != 0.0 THEN age / bmi ELSE 0 END) FROM patients",
        "SELECT SUM(CASE WHEN 0 <> bmi THEN age / (bmi) ELSE 0 END) FROM patients",
        "SELECT SUM(CASE WHEN bmi > 0 THEN age / bmi ELSE 0 END) FROM patients",
        "SELECT SUM(CASE WHEN smoker AND bmi < 0 THEN age / bmi ELSE 0 END) FROM patients",
        "SELECT SUM(CASE WHEN bmi = 0 THEN 0 ELSE age / bmi END) FROM patients",
        "SELECT SUM(CASE WHEN bmi = 0 THEN 0 WHEN age / bmi > 3 THEN 1 ELSE 2 END) FROM patients",
        "SELECT SUM(CASE WHEN NOT (bmi = 0) THEN age / bmi ELSE 0 END) FROM patients",
        "SELECT SUM(CASE WHEN bmi + 1 <> 0 THEN age / (bmi + 1) ELSE 0 END) FROM patients",
        "SELECT SUM(CASE WHEN bmi <> 0 THEN CASE WHEN age <> 0 THEN bmi / age / bmi ELSE 0 END \
         ELSE 0 END) FROM patients",
        "SELECT COUNT(*) FROM patients WHERE bmi <> 0 AND age / bmi > 2",
        "SELECT COUNT(*) FROM patients WHERE age / bmi > 2 AND bmi <> 0",
        "SELECT COUNT(*) FROM patients WHERE bmi = 0 OR age / bmi > 2",
        // The AND is false when bmi = 0 whatever the quotient: NOT of it is safe too.
        "SELECT COUNT(*) FROM patients WHERE NOT (bmi <> 0 AND age / bmi > 2)",
    ] {
        ok(q);
    }
    // Guards that do not protect the division.
    for (q, col) in [
        (
            "SELECT SUM(CASE WHEN bmi <> 0 THEN 1 ELSE age / bmi END) FROM patients",
            49,
        ),
        (
            "SELECT SUM(CASE WHEN bmi <> 0 THEN 0 WHEN smoker THEN age / bmi ELSE 0 END) \
             FROM patients",
            61,
        ),
        (
            "SELECT SUM(CASE WHEN bmi <> 0 THEN age / (bmi + 1) ELSE 0 END) FROM patients",
            43,
        ),
        (
            "SELECT SUM(CASE WHEN bmi >= 0 THEN age / bmi ELSE 0 END) FROM patients",
            42,
        ),
        (
            "SELECT SUM(CASE WHEN smoker OR bmi <> 0 THEN age / bmi ELSE 0 END) FROM patients",
            52,
        ),
        (
            "SELECT COUNT(*) FROM patients WHERE bmi <> 0 OR age / bmi > 2",
            55,
        ),
        (
            "SELECT COUNT(*) FROM patients WHERE NOT (bmi = 0) OR age / bmi > 2",
            60,
        ),
    ] {
        let e = err(q);
        assert!(
            matches!(e, QueryError::UnguardedDivision { .. }),
            "{q}: {e:?}"
        );
        assert_eq!(at(&e), (1, col), "{q}");
        let s = e.span();
        assert!(
            q[..s.start].ends_with("/ ") || q[..s.start].ends_with("/ ("),
            "{q}"
        );
    }
}

#[test]
fn query_kinds_and_canonical_text() {
    let q = ok(
        "select diagnosis, histogram(age, 10, 20), linreg(bmi ~ age)\nfrom patients\n\
                group by diagnosis -- per diagnosis\n;",
    );
    assert_eq!(
        q.kinds,
        [QueryKind::GroupBy, QueryKind::Histogram, QueryKind::LinReg]
            .into_iter()
            .collect()
    );
    assert_eq!(
        q.canonical_text,
        "SELECT diagnosis, HISTOGRAM(age, 10, 20), LINREG(bmi ~ age) FROM patients GROUP BY \
         diagnosis"
    );
    assert_eq!(QueryKind::GroupBy.as_str(), "group_by");
    assert_eq!(
        serde_json::to_string(&QueryKind::LinReg).unwrap(),
        format!("\"{}\"", QueryKind::LinReg.as_str())
    );
}

#[test]
fn render_points_at_the_span() {
    let text = "SELECT COUNT(*)\nFROM patients\nWHERE AVG(agee) > 3";
    let e = err(text);
    // The aggregate in WHERE is found before its argument is resolved.
    assert!(matches!(e, QueryError::AggregateInWhere { .. }));
    let r = e.render(text);
    assert_eq!(
        r,
        "error: aggregate AVG in WHERE\n --> 3:7\n  |\n3 | WHERE AVG(agee) > 3\n  |       \
         ^^^^^^^^^\n  = help: WHERE filters rows before aggregation; put the aggregate in the \
         select list\n"
    );
    let text = "SELECT COUNT(*) FROM patients WHERE diagnosis = 'flu";
    let r = err(text).render(text);
    assert!(r.contains("--> 1:49"), "{r}");
    assert!(
        r.ends_with(
            "help: close the string with ' on the same line (write '' for a quote inside it)\n"
        ),
        "{r}"
    );
}

// ---------------------------------------------------------------- properties

fn leaf_expr() -> impl Strategy<Value = Expr> {
    let e = |kind| Expr {
        kind,
        span: Span::default(),
    };
    prop_oneof![
        ident().prop_map(move |n| e(ExprKind::Column(n))),
        (0..=i64::MAX, 0u8..=12)
            .prop_map(move |(units, scale)| e(ExprKind::Number(Number { units, scale }))),
        "[a-z' %_-]{0,6}".prop_map(move |s| e(ExprKind::String(s))),
        any::<bool>().prop_map(move |b| e(ExprKind::Bool(b))),
    ]
}

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("Age_2".to_string()),
        Just("count".to_string()),
        Just("linreg".to_string()),
        Just("order".to_string()),
        Just("select".to_string()),
        Just("True".to_string()),
        "_?[a-zA-Z][a-zA-Z0-9_]{0,8}",
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    prop::sample::select(vec![Add, Sub, Mul, Div, Eq, Ne, Lt, Le, Gt, Ge, And, Or])
}

fn unary_agg() -> impl Strategy<Value = UnaryAggregate> {
    use UnaryAggregate::*;
    prop::sample::select(vec![
        Count, Sum, Avg, VarPop, VarSamp, StddevPop, StddevSamp, Min, Max,
    ])
}

fn binary_agg() -> impl Strategy<Value = BinaryAggregate> {
    use BinaryAggregate::*;
    prop::sample::select(vec![CovarPop, CovarSamp, Corr])
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    let e = |kind| Expr {
        kind,
        span: Span::default(),
    };
    leaf_expr().prop_recursive(5, 48, 4, move |inner| {
        let agg = prop_oneof![
            Just(Aggregate::CountStar),
            (unary_agg(), inner.clone()).prop_map(|(func, arg)| Aggregate::Unary { func, arg }),
            (binary_agg(), inner.clone(), inner.clone())
                .prop_map(|(func, a, b)| Aggregate::Binary { func, a, b }),
            (
                inner.clone(),
                prop::collection::vec((i64::MIN + 1..=i64::MAX, 0u8..=12), 0..4)
            )
                .prop_map(|(arg, edges)| Aggregate::Histogram {
                    arg,
                    edges: edges
                        .into_iter()
                        .map(|(units, scale)| Edge {
                            value: Number { units, scale },
                            span: Span::default()
                        })
                        .collect()
                }),
            (
                any::<bool>(),
                inner.clone(),
                prop::collection::vec(inner.clone(), 1..4)
            )
                .prop_map(|(lin, target, features)| {
                    let m = Model { target, features };
                    if lin {
                        Aggregate::LinReg(m)
                    } else {
                        Aggregate::LogReg(m)
                    }
                }),
        ];
        prop_oneof![
            (any::<bool>(), inner.clone()).prop_map(move |(neg, operand)| e(ExprKind::Unary {
                op: if neg { UnaryOp::Neg } else { UnaryOp::Not },
                operand: Box::new(operand)
            })),
            (binary_op(), inner.clone(), inner.clone()).prop_map(move |(op, l, r)| e(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                }
            )),
            (
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                inner.clone()
            )
                .prop_map(move |(arms, otherwise)| e(ExprKind::Case {
                    arms: arms
                        .into_iter()
                        .map(|(cond, then)| WhenArm {
                            cond,
                            then,
                            span: Span::default()
                        })
                        .collect(),
                    otherwise: Box::new(otherwise)
                })),
            agg.prop_map(move |a| e(ExprKind::Aggregate(Box::new(a)))),
        ]
    })
}

fn arb_query() -> impl Strategy<Value = Query> {
    let id = |name: String| Ident {
        name,
        span: Span::default(),
    };
    (
        prop::collection::vec((arb_expr(), prop::option::of(ident())), 1..4),
        prop::collection::vec(ident(), 1..3),
        prop::option::of(arb_expr()),
        prop::option::of(ident()),
    )
        .prop_map(move |(items, from, filter, group_by)| Query {
            select: items
                .into_iter()
                .map(|(expr, alias)| SelectItem {
                    expr,
                    alias: alias.map(id),
                    span: Span::default(),
                })
                .collect(),
            from: from.into_iter().map(id).collect(),
            filter,
            group_by: group_by.map(id),
            span: Span::default(),
        })
}

const SOUP: &[&str] = &[
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
    "FALSE",
    "COUNT",
    "SUM",
    "AVG",
    "HISTOGRAM",
    "LINREG",
    "LOGREG",
    "CORR",
    "ORDER",
    "NULL",
    "IN",
    "patients",
    "other",
    "age",
    "bmi",
    "smoker",
    "diagnosis",
    "\"order\"",
    "'flu'",
    "'x",
    "0",
    "3.25",
    "1e5",
    "(",
    ")",
    ",",
    ";",
    "*",
    "+",
    "-",
    "/",
    "=",
    "<>",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "~",
    ".",
    "--",
    "\n",
    "/*",
    "@",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_identity(q in arb_query()) {
        let text = q.canonical_text();
        let parsed = parse(&text);
        prop_assert!(parsed.is_ok(), "{text}: {:?}", parsed.err());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.without_spans(), q);
        prop_assert_eq!(parsed.canonical_text(), text);
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,80}") {
        if let Err(e) = compile_front_end(&text, &catalog()) {
            let _ = e.render(&text);
            let s = e.span();
            prop_assert!(s.start <= s.end && s.end <= text.len());
        }
    }

    #[test]
    fn never_panics_on_token_soup(
        toks in prop::collection::vec(prop::sample::select(SOUP), 0..40),
        sep in prop::sample::select(vec![" ", "", "\n"]),
    ) {
        let text = toks.join(sep);
        match compile_front_end(&text, &catalog()) {
            Ok(q) => {
                // Whatever is accepted prints to text that is accepted again identically.
                let again = compile_front_end(&q.canonical_text, &catalog());
                prop_assert!(again.is_ok());
                prop_assert_eq!(again.unwrap().canonical_text, q.canonical_text);
            }
            Err(e) => {
                let _ = e.render(&text);
                let s = e.span();
                prop_assert!(s.start <= s.end && s.end <= text.len());
            }
        }
    }

    #[test]
    fn valid_prefix_soups_never_panic(
        toks in prop::collection::vec(prop::sample::select(SOUP), 0..30),
    ) {
        let text = format!("SELECT COUNT(*), AVG({}) FROM patients", toks.join(" "));
        if let Err(e) = compile_front_end(&text, &catalog()) {
            let _ = e.render(&text);
        }
    }
}

#[test]
fn lexer_tokens() {
    let toks: Vec<Tok> = lex("a<>b != c <= >= -- comment\n'x''y' \"q\" 1.50")
        .unwrap()
        .into_iter()
        .map(|t| t.tok)
        .collect();
    assert_eq!(
        toks,
        vec![
            Tok::Ident("a".into()),
            Tok::Ne,
            Tok::Ident("b".into()),
            Tok::Ne,
            Tok::Ident("c".into()),
            Tok::Le,
            Tok::Ge,
            Tok::Str("x'y".into()),
            Tok::QuotedIdent("q".into()),
            Tok::Number(Number {
                units: 150,
                scale: 2
            }),
            Tok::Eof
        ]
    );
}

// ---------------------------------------------------------------- well-typed queries

/// The promotion rules, written independently of the checker.
fn model_common(a: ValueType, b: ValueType) -> ValueType {
    match (a, b) {
        (ValueType::Int, ValueType::Int) => ValueType::Int,
        _ => ValueType::Fixed(a.scale().unwrap().max(b.scale().unwrap())),
    }
}

fn model_div(a: ValueType, b: ValueType) -> ValueType {
    ValueType::Fixed(a.scale().unwrap().max(b.scale().unwrap()).max(6))
}

/// Numeric expressions over the test schema with their expected type.
fn typed_num(depth: u32) -> BoxedStrategy<(String, ValueType)> {
    use ValueType::*;
    let leaf = prop_oneof![
        Just(("age".to_string(), Int)),
        Just(("bmi".to_string(), Fixed(2))),
        Just(("weight".to_string(), Fixed(1))),
        Just(("\"order\"".to_string(), Int)),
        (0i64..1000).prop_map(|v| (v.to_string(), Int)),
        (0i64..1000, 1u8..=4)
            .prop_map(|(units, scale)| (Number { units, scale }.to_string(), Fixed(scale))),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let n = || typed_num(depth - 1);
    // A literal zero divisor is refused even where a guard would make it unreachable.
    let divisor = || {
        typed_num(depth - 1).prop_filter("literal zero", |(b, _)| {
            !b.chars().all(|c| c == '0' || c == '.')
        })
    };
    prop_oneof![
        leaf,
        (n(), n(), prop::sample::select(vec!["+", "-", "*"]))
            .prop_map(|((a, ta), (b, tb), op)| (format!("({a} {op} {b})"), model_common(ta, tb))),
        (n(), 1i64..50).prop_map(|((a, ta), d)| (format!("({a} / {d})"), model_div(ta, Int))),
        (n(), divisor()).prop_map(|((a, ta), (b, tb))| (
            format!("CASE WHEN {b} <> 0 THEN {a} / ({b}) ELSE 0 END"),
            model_common(model_div(ta, tb), Int)
        )),
        (n(), divisor()).prop_map(|((a, ta), (b, tb))| (
            format!("CASE WHEN {b} = 0.0 THEN -1 ELSE ({a}) / {b} END"),
            model_common(Int, model_div(ta, tb))
        )),
        n().prop_map(|(a, ta)| (format!("(- {a})"), ta)),
        (typed_bool(depth - 1), n(), n()).prop_map(|(c, (a, ta), (b, tb))| (
            format!("CASE WHEN {c} THEN {a} ELSE {b} END"),
            model_common(ta, tb)
        )),
    ]
    .boxed()
}

/// Boolean expressions over the test schema.
fn typed_bool(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop::sample::select(vec![
        "smoker",
        "TRUE",
        "diagnosis = 'flu'",
        "'cold' <> severity",
        "diagnosis = severity",
        "sex <> 'm'",
    ])
    .prop_map(str::to_string);
    if depth == 0 {
        return leaf.boxed();
    }
    let b = || typed_bool(depth - 1);
    let n = || typed_num(depth - 1);
    prop_oneof![
        leaf,
        (
            n(),
            n(),
            prop::sample::select(vec!["=", "<>", "!=", "<", "<=", ">", ">="])
        )
            .prop_map(|((a, _), (c, _), op)| format!("{a} {op} {c}")),
        (b(), b(), prop::sample::select(vec!["AND", "OR"]))
            .prop_map(|(x, y, op)| format!("({x}) {op} ({y})")),
        b().prop_map(|x| format!("NOT ({x})")),
        (b(), b(), b()).prop_map(|(c, x, y)| format!("CASE WHEN {c} THEN {x} ELSE {y} END")),
        (b(), b()).prop_map(|(x, y)| format!("({x}) = ({y})")),
    ]
    .boxed()
}

/// The invariants the compiler relies on, checked on every node.
fn well_formed(e: &TypedExpr) {
    use TypedExprKind as K;
    match &e.kind {
        K::Column { .. } | K::Bool(_) => {}
        K::Int(_) => assert_eq!(e.ty, ValueType::Int),
        K::Fixed { scale, .. } => assert_eq!(e.ty, ValueType::Fixed(*scale)),
        K::Label { .. } => assert!(matches!(e.ty, ValueType::Category(_))),
        K::Convert(inner) => {
            well_formed(inner);
            match (inner.ty, e.ty) {
                (ValueType::Bool, ValueType::Int) | (ValueType::Int, ValueType::Fixed(_)) => {}
                (ValueType::Fixed(a), ValueType::Fixed(b)) => assert!(b > a),
                other => panic!("bad conversion {other:?}"),
            }
        }
        K::Neg(inner) => {
            well_formed(inner);
            assert!(inner.ty.is_numeric());
            assert_eq!(inner.ty, e.ty);
        }
        K::Arith { op, lhs, rhs } => {
            well_formed(lhs);
            well_formed(rhs);
            assert!(lhs.ty.is_numeric() && rhs.ty.is_numeric());
            match op {
                ArithOp::Add | ArithOp::Sub => {
                    assert_eq!(lhs.ty, rhs.ty);
                    assert_eq!(lhs.ty, e.ty);
                }
                ArithOp::Mul => assert_eq!(e.ty, model_common(lhs.ty, rhs.ty)),
                ArithOp::Div => assert_eq!(e.ty, model_div(lhs.ty, rhs.ty)),
            }
        }
        K::Compare { op, lhs, rhs } => {
            well_formed(lhs);
            well_formed(rhs);
            assert_eq!(e.ty, ValueType::Bool);
            assert_eq!(lhs.ty, rhs.ty);
            if !lhs.ty.is_numeric() {
                assert!(matches!(op, CmpOp::Eq | CmpOp::Ne));
            }
        }
        K::And(a, b) | K::Or(a, b) => {
            well_formed(a);
            well_formed(b);
            assert_eq!(
                (a.ty, b.ty, e.ty),
                (ValueType::Bool, ValueType::Bool, ValueType::Bool)
            );
        }
        K::Not(a) => {
            well_formed(a);
            assert_eq!((a.ty, e.ty), (ValueType::Bool, ValueType::Bool));
        }
        K::Case { arms, otherwise } => {
            for (c, v) in arms {
                well_formed(c);
                well_formed(v);
                assert_eq!(c.ty, ValueType::Bool);
                assert_eq!(v.ty, e.ty);
            }
            well_formed(otherwise);
            assert_eq!(otherwise.ty, e.ty);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn well_typed_queries_are_accepted_with_the_expected_types(
        (num, ty) in typed_num(3),
        cond in typed_bool(2),
        (x, _) in typed_num(1),
        grouped in any::<bool>(),
    ) {
        let group = if grouped { " GROUP BY diagnosis" } else { "" };
        let key = if grouped { "diagnosis, " } else { "" };
        let text = format!(
            "SELECT {key}SUM({num}), AVG({num}) AS mean, COUNT({cond}) AS n, \
             LINREG(bmi * 1000000 ~ ({num} + age) + smoker) AS fit, HISTOGRAM({x}, 1, 2.5) AS h \
             FROM patients, clinic_b WHERE {cond}{group}"
        );
        let q = match compile_front_end(&text, &catalog()) {
            Ok(q) => q,
            Err(e) => return Err(TestCaseError::fail(e.render(&text))),
        };
        let base = usize::from(grouped);
        let items = &q.items[base..];
        prop_assert_eq!(aggregate_arg(&q, base).ty, ty);
        prop_assert_eq!(&items[0].output, &OutputType::Scalar(ty));
        prop_assert_eq!(
            &items[1].output,
            &OutputType::Scalar(ValueType::Fixed(ty.scale().unwrap().max(6)))
        );
        for item in items {
            match &item.kind {
                TypedItemKind::Aggregate(TypedAggregate::Unary { arg, .. })
                | TypedItemKind::Aggregate(TypedAggregate::Histogram { arg, .. }) => well_formed(arg),
                TypedItemKind::Aggregate(TypedAggregate::LinReg(m)) => {
                    well_formed(&m.target);
                    m.features.iter().for_each(well_formed);
                }
                other => panic!("{other:?}"),
            }
        }
        well_formed(q.filter.as_ref().unwrap());
        let mut kinds = vec![QueryKind::Aggregate, QueryKind::Histogram, QueryKind::LinReg];
        if grouped {
            kinds.push(QueryKind::GroupBy);
        }
        prop_assert_eq!(&q.kinds, &kinds.into_iter().collect());
        // The canonical text type-checks to the same result.
        let again = compile_front_end(&q.canonical_text, &catalog()).unwrap();
        prop_assert_eq!(&again.canonical_text, &q.canonical_text);
        prop_assert_eq!(
            again.items.iter().map(|i| &i.output).collect::<Vec<_>>(),
            q.items.iter().map(|i| &i.output).collect::<Vec<_>>()
        );
    }
}
