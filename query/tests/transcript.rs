//! The session transcript digest of whole query runs: equal at every honest party of a run,
//! different for different data, and a party that received a corrupted opened value either fails
//! or ends with a digest that differs from the others' — never a silently matching one. The
//! protocol-level cases are in `mpc/tests/transcript.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../mpc/tests/support/tampering.rs"]
mod tampering;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::ir::{ExecError, ReceivedOutput, execute, receive};
use sharenet_mpc::protocol::{OutsideParty, ProtocolError, RandomnessSource, Session};
use sharenet_mpc::shamir::{ShamirError, share_with_degree};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory_with_timeout;
use sharenet_query::{
    Catalog, Cell, CompileOptions, CompiledQuery, Schema, assemble, compile, compile_front_end,
};
use tampering::{FROM_KING, TamperRule, Tampering};

fn session<T: Transport>(n: usize, t: usize, tr: T, seed: u64) -> Session<Mp127, T> {
    let rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003) + tr.me() as u64);
    Session::with_rng(n, t, tr, RandomnessSource::Auto, rng).unwrap()
}

const SCHEMA: &str = r#"{"columns":[
  {"name":"age","type":"integer"},
  {"name":"sex","type":"category","labels":["f","m"]},
  {"name":"cost","type":"fixed","scale":2}]}"#;

/// age, sex, cost×100.
type Row = [i64; 3];

fn patients(rows: usize, seed: u64) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..rows)
        .map(|_| {
            [
                rng.random_range(18..90),
                rng.random_range(0..2),
                rng.random_range(1_000..500_000),
            ]
        })
        .collect()
}

fn compiled(rows: usize) -> CompiledQuery {
    let mut catalog = Catalog::new();
    catalog
        .insert("clinic", Schema::from_json(SCHEMA).unwrap())
        .unwrap();
    let typed = compile_front_end(
        "SELECT sex, COUNT(*), AVG(cost), STDDEV(cost), MAX(age) FROM clinic \
         WHERE age >= 40 GROUP BY sex",
        &catalog,
    )
    .unwrap();
    let options = CompileOptions {
        min_cohort: 2,
        ..CompileOptions::default()
    };
    compile(&typed, rows, &options).unwrap()
}

/// Each computing party's digest after the run (or its error), and what the receiver got.
struct QueryRun {
    digests: Vec<Result<[u8; 32], ExecError>>,
    received: Result<Vec<ReceivedOutput>, ExecError>,
}

/// The query over `table`, stored at the points 1..N of a committee of `big_n` and run by the
/// `live` members (re-shared first), with session randomness from `seed`, the dealing's from
/// `deal_seed`, and an optional corruption of one message received by party `victim`.
fn run_query(
    (big_n, t, live): (usize, usize, &[u64]),
    table: &[Row],
    seed: u64,
    deal_seed: u64,
    tamper: Option<(usize, TamperRule)>,
) -> QueryRun {
    let query = compiled(table.len());
    let mut rng = StdRng::seed_from_u64(deal_seed);
    let stored: Vec<Vec<Vec<Mp127>>> = query
        .inputs
        .iter()
        .map(|&c| {
            let column: Vec<Mp127> = table.iter().map(|r| Mp127::from_i64(r[c])).collect();
            share_with_degree(big_n, t, &column, &mut rng)
        })
        .collect();
    let n = live.len();
    let receiver = n;
    let mut results = run_in_memory_with_timeout(n + 1, Duration::from_secs(5), |tr| {
        let me = tr.me();
        if me == receiver {
            let mut r = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
            return Err(receive(&mut r, &query.program));
        }
        let rule = tamper.and_then(|(victim, rule)| (victim == me).then_some(rule));
        let tr = Tampering {
            inner: tr,
            rule,
            seen: 0,
        };
        let mut s = session(n, t, tr, seed);
        let member = live[me] as usize - 1;
        let mine: Vec<Vec<Mp127>> = stored.iter().map(|c| c[member].clone()).collect();
        let outcome = s
            .reshare_columns_from_points(live, &mine)
            .map_err(ExecError::from)
            .and_then(|inputs| execute(&mut s, &query.program, &inputs, receiver));
        Ok(outcome.map(|_| s.transcript_digest()))
    });
    let received = results.pop().unwrap().unwrap_err();
    QueryRun {
        digests: results.into_iter().map(|r| r.unwrap()).collect(),
        received,
    }
}

fn all_equal(digests: &[Result<[u8; 32], ExecError>]) -> [u8; 32] {
    let first = *digests[0].as_ref().unwrap();
    for (party, d) in digests.iter().enumerate() {
        assert_eq!(d.as_ref().unwrap(), &first, "party {party}");
    }
    first
}

#[test]
fn every_party_of_a_query_run_has_the_same_digest() {
    let table = patients(80, 1);
    for committee in [
        (3, 1, &[1u64, 2, 3][..]),
        (5, 2, &[1, 2, 3, 4, 5][..]),
        (5, 1, &[1, 3, 4, 5][..]),
    ] {
        let run = run_query(committee, &table, 1, 2, None);
        all_equal(&run.digests);
        // The run itself is right (the COUNT of each group), so the digest is of a correct run.
        let result = assemble(&compiled(table.len()), &run.received.unwrap());
        for (g, row) in result.rows.iter().enumerate() {
            let count = table
                .iter()
                .filter(|r| r[0] >= 40 && r[1] == g as i64)
                .count();
            assert_eq!(row[1], Cell::Number(count as f64), "{committee:?}");
        }
    }
}

#[test]
fn the_digest_binds_the_data_and_the_run() {
    let committee = (3, 1, &[1u64, 2, 3][..]);
    let table = patients(60, 1);
    let base = all_equal(&run_query(committee, &table, 1, 2, None).digests);
    // Same data and session randomness, different sharing randomness: the opened (masked)
    // values are the same, so is the digest.
    assert_eq!(
        all_equal(&run_query(committee, &table, 1, 3, None).digests),
        base
    );
    // One changed cell: different digest.
    let mut changed = table.clone();
    changed[17][2] += 1;
    assert_ne!(
        all_equal(&run_query(committee, &changed, 1, 2, None).digests),
        base
    );
    // Different data altogether: different digest.
    let other = patients(60, 9);
    assert_ne!(
        all_equal(&run_query(committee, &other, 1, 2, None).digests),
        base
    );
    // Same data, fresh masks: a different run, a different digest.
    assert_ne!(
        all_equal(&run_query(committee, &table, 5, 2, None).digests),
        base
    );
}

#[test]
fn a_corrupted_message_in_a_query_never_yields_a_matching_digest() {
    let table = patients(40, 5);
    let committee = (3, 1, &[1u64, 2, 3][..]);
    let honest = run_query(committee, &table, 1, 2, None);
    let honest_digest = all_equal(&honest.digests);
    let honest_output = honest.received.unwrap();
    // (victim, king whose broadcast it receives corrupted, which broadcast, caught by the MPC).
    for (victim, from, nth, caught) in [
        (0, 1, 1, true),
        (1, 2, 7, true),
        (2, 0, 3, false),
        (0, 2, 20, false),
        (1, 0, 40, false),
    ] {
        let what = format!("victim {victim}, broadcast #{nth} of king {from}");
        let rule = TamperRule {
            from,
            kind: FROM_KING,
            nth,
        };
        let run = run_query(committee, &table, 1, 2, Some((victim, rule)));
        if caught {
            // The victim's wrong share reaches a later opening to everyone (a masked comparison
            // value): every party sees n shares off one polynomial and stops; the receiver gets
            // nothing.
            for d in &run.digests {
                assert!(
                    matches!(
                        d,
                        Err(ExecError::Protocol(ProtocolError::Shamir(
                            ShamirError::Inconsistent { .. }
                        )))
                    ),
                    "{what}: {:?}",
                    d.as_ref().map(|_| ())
                );
            }
            assert!(run.received.is_err(), "{what}");
            continue;
        }
        // The wrong share went through a multiplication, whose king re-randomised it into a
        // consistent sharing of a wrong value: the run completes and the receiver gets a wrong
        // result with no error. Only the digests tell: the victim hashed the corrupted
        // broadcast, the others the genuine one.
        let digests: Vec<[u8; 32]> = run.digests.into_iter().map(Result::unwrap).collect();
        for (party, d) in digests.iter().enumerate() {
            if party != victim {
                assert_ne!(d, &digests[victim], "{what}: silently matching digest");
                let other = (0..digests.len()).find(|p| *p != victim && *p != party);
                if let Some(other) = other {
                    assert_eq!(d, &digests[other], "{what}");
                }
            }
            assert_ne!(d, &honest_digest, "{what}");
        }
        assert_ne!(run.received.unwrap(), honest_output, "{what}");
    }
}

/// A member that sends the receiver a wrong output share (n = 4 ≥ 3t + 1 with t = 1): the
/// receiver corrects it, gets the same result as an untampered run, and names the sender.
#[test]
fn a_wrong_output_share_is_corrected_and_its_sender_named() {
    const OPEN_TO: u8 = 7;
    let table = patients(60, 9);
    let query = compiled(table.len());
    let (n, t, liar) = (4, 1, 2);
    let run = |tamper: bool| {
        let mut rng = StdRng::seed_from_u64(3);
        let stored: Vec<Vec<Vec<Mp127>>> = query
            .inputs
            .iter()
            .map(|&c| {
                let column: Vec<Mp127> = table.iter().map(|r| Mp127::from_i64(r[c])).collect();
                share_with_degree(n, t, &column, &mut rng)
            })
            .collect();
        let mut results = run_in_memory_with_timeout(n + 1, Duration::from_secs(5), |tr| {
            let me = tr.me();
            if me == n {
                let tr = Tampering {
                    inner: tr,
                    rule: tamper.then_some(TamperRule {
                        from: liar,
                        kind: OPEN_TO,
                        nth: 2,
                    }),
                    seen: 0,
                };
                let mut r = OutsideParty::<Mp127, _>::new(n, t, tr).unwrap();
                return Some(sharenet_mpc::ir::receive_checked(&mut r, &query.program).unwrap());
            }
            let mut s = session(n, t, tr, 5);
            let mine: Vec<Vec<Mp127>> = stored.iter().map(|c| c[me].clone()).collect();
            execute(&mut s, &query.program, &mine, n).unwrap();
            None
        });
        results.pop().unwrap().unwrap()
    };
    let (honest, none) = run(false);
    assert!(none.is_empty());
    let (corrected, named) = run(true);
    assert_eq!(named, vec![liar]);
    assert_eq!(
        assemble(&query, &corrected).to_string(),
        assemble(&query, &honest).to_string()
    );
}
