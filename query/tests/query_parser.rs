//! The query front end through its public API: the journeys of a researcher's query from text to
//! the typed query the compiler consumes, and the errors a person sees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sharenet_query::ast::UnaryAggregate;
use sharenet_query::{
    Catalog, CmpOp, OutputType, QueryError, QueryKind, Schema, TypedAggregate, TypedExprKind,
    TypedItemKind, ValueType, compile_front_end, parse,
};

const SCHEMA: &str = r#"{"columns":[
    {"name":"age","type":"integer"},
    {"name":"bmi","type":"fixed","scale":2},
    {"name":"smoker","type":"boolean"},
    {"name":"diagnosis","type":"category","labels":["flu","cold","covid"]}
]}"#;

fn two_hospitals() -> Catalog {
    let schema = Schema::from_json(SCHEMA).unwrap();
    let mut c = Catalog::new();
    c.insert("hospital_a", schema.clone()).unwrap();
    c.insert("hospital_b", schema).unwrap();
    c
}

#[test]
fn two_hospitals_grouped_statistics() {
    let text = "SELECT diagnosis,\n       COUNT(*) AS patients,\n       AVG(bmi) AS mean_bmi,\n\
                       STDDEV(bmi)\nFROM hospital_a, hospital_b\n\
                WHERE age >= 18 AND NOT smoker  -- adults who do not smoke\nGROUP BY diagnosis;";
    let q = compile_front_end(text, &two_hospitals()).unwrap();
    assert_eq!(q.datasets, ["hospital_a", "hospital_b"]);
    assert_eq!(q.schema.hash(), Schema::from_json(SCHEMA).unwrap().hash());
    assert_eq!(
        q.kinds,
        [QueryKind::Aggregate, QueryKind::GroupBy]
            .into_iter()
            .collect()
    );
    let names: Vec<&str> = q.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["diagnosis", "patients", "mean_bmi", "STDDEV_SAMP(bmi)"]
    );
    assert_eq!(q.items[0].output, OutputType::GroupKey);
    assert_eq!(q.items[2].output, OutputType::Scalar(ValueType::Fixed(6)));
    assert!(matches!(
        &q.items[3].kind,
        TypedItemKind::Aggregate(TypedAggregate::Unary {
            func: UnaryAggregate::StddevSamp,
            arg
        }) if arg.ty == ValueType::Fixed(2)
    ));
    let filter = q.filter.as_ref().unwrap();
    assert_eq!(filter.ty, ValueType::Bool);
    let TypedExprKind::And(l, r) = &filter.kind else {
        panic!("{filter:?}")
    };
    assert!(matches!(
        l.kind,
        TypedExprKind::Compare { op: CmpOp::Ge, .. }
    ));
    assert!(matches!(r.kind, TypedExprKind::Not(_)));
    assert_eq!(
        q.group_by.as_ref().unwrap().groups,
        ["flu", "cold", "covid"]
    );
    // Layout, comments, keyword case and STDDEV's spelling do not change the canonical text.
    let again = compile_front_end(
        "select diagnosis, count(*) patients, avg(bmi) mean_bmi, stddev_samp((bmi)) \
         from hospital_a, hospital_b where (age >= 18) and (not smoker) group by diagnosis",
        &two_hospitals(),
    )
    .unwrap();
    assert_eq!(again.canonical_text, q.canonical_text);
    assert_eq!(
        parse(&q.canonical_text).unwrap().canonical_text(),
        q.canonical_text
    );
}

#[test]
fn rendered_errors_show_line_column_caret_and_hint() {
    let text = "SELECT AVG(bmi)\nFROM hospital_a\nWHERE diagnosis = 'influenza'";
    let e = compile_front_end(text, &two_hospitals()).unwrap_err();
    assert!(matches!(e, QueryError::UnknownLabel { .. }));
    assert_eq!(
        e.to_string(),
        "3:19: 'influenza' is not a label of category column `diagnosis`"
    );
    assert_eq!(
        e.render(text),
        "error: 'influenza' is not a label of category column `diagnosis`\n --> 3:19\n  |\n\
         3 | WHERE diagnosis = 'influenza'\n  |                   ^^^^^^^^^^^\n  \
         = help: the labels are 'flu', 'cold', 'covid'\n"
    );

    // Tabs before the span are kept so the caret lines up.
    let text = "SELECT\tSUM(age / bmi)\tFROM hospital_a";
    let e = compile_front_end(text, &two_hospitals()).unwrap_err();
    let r = e.render(text);
    assert!(r.contains("\n  |       \t          ^^^\n"), "{r:?}");
    assert!(
        r.contains("CASE WHEN bmi <> 0 THEN age / bmi ELSE 0 END"),
        "{r}"
    );
}

#[test]
fn schema_mismatch_names_the_first_differing_column() {
    let mut c = two_hospitals();
    let other = Schema::from_json(
        r#"{"columns":[{"name":"age","type":"integer"},{"name":"bmi","type":"fixed","scale":2},
           {"name":"smoker","type":"boolean"},
           {"name":"diagnosis","type":"category","labels":["flu","cold"]}]}"#,
    )
    .unwrap();
    c.insert("clinic", other).unwrap();
    let e = compile_front_end("SELECT COUNT(*) FROM hospital_a, clinic", &c).unwrap_err();
    match e {
        QueryError::SchemaMismatch {
            column,
            dataset,
            reference,
            span,
            ..
        } => {
            assert_eq!(column, "diagnosis");
            assert_eq!(dataset, "clinic");
            assert_eq!(reference, "hospital_a");
            assert_eq!((span.line, span.column), (1, 34));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_are_std_errors() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<QueryError>();
    assert_error::<sharenet_query::SchemaError>();
}
