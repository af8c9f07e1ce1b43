//! The query language (`query/`): the text a requester submits, which every committee member
//! lexes, parses, type-checks against the datasets' schemas and compiles. The catalog holds the
//! example schema (`examples/patients/schema.json`) as `patients` and as `clinic_b`.
//!
//! Checked: the canonical text of a parsed query parses to the same tree (the program hash is
//! computed over it); checking and compiling never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sharenet_query::{Catalog, CompileOptions, MAX_QUERY_BYTES, Schema, check, compile, parse};

fn catalog() -> Option<&'static Catalog> {
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let schema =
                Schema::from_json(include_str!("../../examples/patients/schema.json")).ok()?;
            let mut catalog = Catalog::new();
            catalog.insert("patients", schema.clone()).ok()?;
            catalog.insert("clinic_b", schema).ok()?;
            Some(catalog)
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = parse(text) else {
        return;
    };
    let canonical = query.canonical_text();
    if canonical.len() <= MAX_QUERY_BYTES {
        match parse(&canonical) {
            Ok(again) => assert_eq!(
                again.without_spans(),
                query.without_spans(),
                "the canonical text {canonical:?} parses to another query"
            ),
            Err(e) => panic!("the canonical text {canonical:?} does not parse: {e}"),
        }
    }
    let Some(catalog) = catalog() else {
        return;
    };
    let Ok(typed) = check(&query, catalog) else {
        return;
    };
    assert_eq!(typed.canonical_text, canonical);
    let _ = compile(&typed, 1000, &CompileOptions::default());
});
