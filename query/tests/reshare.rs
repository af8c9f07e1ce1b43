//! A compiled query on columns re-shared from a live subset of the committee that stored them,
//! checked against plaintext: the committee's points 1..N hold the table, some members are down,
//! and the live ones re-share (`reshare_columns_from_points`) before running the program.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::ir::{execute, receive};
use sharenet_mpc::protocol::{OutsideParty, RandomnessSource, Session};
use sharenet_mpc::shamir::share_with_degree;
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory;
use sharenet_query::{Catalog, Cell, CompileOptions, Schema, assemble, compile};

const SCHEMA: &str = r#"{"columns":[
  {"name":"age","type":"integer"},
  {"name":"sex","type":"category","labels":["f","m"]},
  {"name":"cost","type":"fixed","scale":2}]}"#;

#[test]
fn a_compiled_query_runs_on_reshared_columns() {
    // The committee of N = 5 stored the table; members 2 and 4 are down.
    let (big_n, t, live) = (5usize, 1usize, [1u64, 3, 5]);
    let n = live.len();
    let mut rng = StdRng::seed_from_u64(7);
    let rows: Vec<[i64; 3]> = (0..120)
        .map(|_| {
            [
                rng.random_range(18..90),
                rng.random_range(0..2),
                rng.random_range(1_000..500_000),
            ]
        })
        .collect();
    let mut catalog = Catalog::new();
    catalog
        .insert("clinic", Schema::from_json(SCHEMA).unwrap())
        .unwrap();
    let typed = sharenet_query::compile_front_end(
        "SELECT sex, COUNT(*), SUM(cost), AVG(cost), MIN(age) FROM clinic WHERE age >= 40 GROUP BY sex",
        &catalog,
    )
    .unwrap();
    let options = CompileOptions {
        min_cohort: 2,
        ..CompileOptions::default()
    };
    let compiled = compile(&typed, rows.len(), &options).unwrap();
    let columns: Vec<Vec<Mp127>> = compiled
        .inputs
        .iter()
        .map(|&c| rows.iter().map(|r| Mp127::from_i64(r[c])).collect())
        .collect();
    // Stored at the committee's points: stored[column][member].
    let stored: Vec<Vec<Vec<Mp127>>> = columns
        .iter()
        .map(|c| share_with_degree(big_n, t, c, &mut rng))
        .collect();
    let receiver = n;
    let results = run_in_memory(n + 1, |tr| {
        let me = tr.me();
        if me == receiver {
            let mut r = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            return Some(receive(&mut r, &compiled.program).unwrap());
        }
        let mut s = Session::new(n, t, tr, RandomnessSource::Auto).unwrap();
        let member = live[me] as usize - 1;
        let mine: Vec<Vec<Mp127>> = stored.iter().map(|c| c[member].clone()).collect();
        let inputs = s.reshare_columns_from_points(&live, &mine).unwrap();
        execute(&mut s, &compiled.program, &inputs, receiver).unwrap();
        None
    });
    let received = results.into_iter().flatten().next().unwrap();
    let result = assemble(&compiled, &received);
    assert_eq!(result.rows.len(), 2);
    for (g, row) in result.rows.iter().enumerate() {
        let group: Vec<&[i64; 3]> = rows
            .iter()
            .filter(|r| r[0] >= 40 && r[1] == g as i64)
            .collect();
        assert_eq!(row[0], Cell::Label(["f", "m"][g].into()));
        let number = |c: &Cell| match c {
            Cell::Number(v) => *v,
            other => panic!("expected a number, got {other:?}"),
        };
        let sum: f64 = group.iter().map(|r| r[2] as f64 / 100.0).sum();
        assert_eq!(number(&row[1]), group.len() as f64);
        assert!((number(&row[2]) - sum).abs() < 1e-6, "SUM");
        let avg = sum / group.len() as f64;
        assert!((number(&row[3]) - avg).abs() <= 1e-6 * avg, "AVG");
        let min = group.iter().map(|r| r[0]).min().unwrap();
        assert_eq!(number(&row[4]), min as f64);
    }
}
