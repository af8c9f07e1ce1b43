//! Known-answer vectors for field arithmetic and Lagrange coefficients, generated independently
//! with Python integers (`tests/vectors/generate.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use sharenet_mpc::field::{Field, Mp127, RistrettoScalar};
use sharenet_mpc::shamir::LagrangeCache;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn element<F: Field>(v: &Value) -> F {
    F::read_bytes(&unhex(v.as_str().unwrap())).unwrap()
}

fn check<F: Field>(file: &str) {
    let text = std::fs::read_to_string(format!(
        "{}/tests/vectors/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let arithmetic = doc["arithmetic"].as_array().unwrap();
    assert!(arithmetic.len() >= 50);
    for case in arithmetic {
        let a: F = element(&case["a"]);
        let b: F = element(&case["b"]);
        assert_eq!(a + b, element::<F>(&case["sum"]), "{case}");
        assert_eq!(a - b, element::<F>(&case["difference"]), "{case}");
        assert_eq!(a * b, element::<F>(&case["product"]), "{case}");
        match &case["a_inverse"] {
            Value::Null => assert_eq!(a.inverse(), None),
            inv => assert_eq!(a.inverse(), Some(element::<F>(inv)), "{case}"),
        }
    }
    let sets = doc["lagrange"].as_array().unwrap();
    let mut cache = LagrangeCache::<F>::new(7);
    for case in sets {
        let parties: Vec<usize> = case["parties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap() as usize)
            .collect();
        let expected: Vec<F> = case["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(element::<F>)
            .collect();
        let got = match case["target"].as_u64() {
            None => cache.at_zero(&parties).unwrap().to_vec(),
            Some(target) => cache.at_point(&parties, target as usize).unwrap().to_vec(),
        };
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn mp127_known_answers() {
    check::<Mp127>("mp127.json");
}

#[test]
fn ristretto_scalar_known_answers() {
    check::<RistrettoScalar>("ristretto_scalar.json");
}
