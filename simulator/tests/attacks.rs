#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The adversary examples (`squatter`, `framing-owner`, `stale-requester`) run on a real
//! in-process network at a small size: every attack is refused, nothing honest is lost (the
//! honest uploads are stored, the honest queries agree with plaintext), and nobody honest is
//! slashed. What the record says is checked against independent expectations: dataset ids
//! recomputed from the accounts and the salt, stakes read as numbers, the plaintext.
//!
//! The runs share two cores: they are serialised.

use std::str::FromStr;

use alloy::primitives::{Address, B256, U256};
use sharenet_simulator::report::{
    AttackOutcome, AttackRecord, FaultKind, JobOutcome, RunRecord, UploadOutcome,
};

#[path = "support/examples.rs"]
mod examples;

use examples::{ONE_AT_A_TIME, ROWS, assert_all_met, run};

/// Nothing honest lost: every upload stored, every job completed and agreeing with plaintext.
fn assert_nothing_lost(record: &RunRecord) {
    for u in &record.uploads {
        assert_eq!(u.outcome, UploadOutcome::Stored, "{}", u.dataset);
    }
    for j in &record.jobs {
        assert_eq!(j.outcome, JobOutcome::Completed, "{}", j.name);
        let c = j.comparison.as_ref().unwrap();
        assert!(c.agree, "{}: {}", j.name, c.explain(true));
        assert_eq!(j.expected.as_ref().unwrap().rows_read, ROWS);
    }
}

/// Nobody honest slashed, read from the numbers: every honest node (listed) keeps the 1 ether
/// it staked and was never slashed.
fn assert_nobody_slashed(attack: &AttackRecord, honest: &[usize]) {
    let nodes: Vec<usize> = attack.stakes.iter().map(|s| s.node).collect();
    assert_eq!(nodes, honest, "the honest nodes' stakes are all read");
    let ether = U256::from(10u64).pow(U256::from(18u64));
    for s in &attack.stakes {
        assert_eq!(U256::from_str(&s.before).unwrap(), ether, "{s:?}");
        assert_eq!(U256::from_str(&s.after).unwrap(), ether, "{s:?}");
        assert_eq!((s.slashes_before, s.slashes_after), (0, 0), "{s:?}");
    }
}

fn fact<T: FromStr>(attack: &AttackRecord, key: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    T::from_str(
        attack
            .facts
            .get(key)
            .unwrap_or_else(|| panic!("no fact {key}")),
    )
    .unwrap()
}

fn check<'a>(attack: &'a AttackRecord, what: &str) -> &'a sharenet_simulator::report::AttackCheck {
    attack
        .checks
        .iter()
        .find(|c| c.what.contains(what))
        .unwrap_or_else(|| panic!("no check {what}: {:?}", attack.checks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatter_gets_an_id_of_its_own_and_nothing_else() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("squatter").await;
    assert_all_met(&record);
    assert_nothing_lost(&record);
    let [attack] = record.attacks.as_slice() else {
        panic!("one attack: {:?}", record.attacks)
    };
    assert_eq!(
        (attack.kind.as_str(), attack.by.as_str()),
        ("squatter", "mallory")
    );
    assert!(
        matches!(&attack.outcome, AttackOutcome::Refused { reason } if reason.contains("NotDatasetOwner")),
        "{:?}",
        attack.outcome
    );
    // The ids, recomputed here from the accounts and the salt: the registry's rule.
    let owner: Address = fact(attack, "owner");
    let squatter: Address = fact(attack, "squatter");
    let salt: B256 = fact(attack, "salt");
    let dataset: B256 = fact(attack, "dataset");
    let squatted: B256 = fact(attack, "squatted");
    assert_ne!(owner, squatter);
    assert_eq!(dataset, sharenet_chain_adapter::dataset_id_for(owner, salt));
    assert_eq!(
        squatted,
        sharenet_chain_adapter::dataset_id_for(squatter, salt)
    );
    assert_ne!(dataset, squatted);
    // No member acknowledged or holds the copy; the owner's dataset is the owner's.
    for what in [
        "members that acknowledged the squatter's copy",
        "members holding anything under the squatter's id",
    ] {
        let c = check(attack, what);
        assert_eq!((c.actual.as_str(), c.holds), ("0", true), "{c:?}");
    }
    let c = check(attack, "the owner of the owner's dataset");
    assert_eq!(c.actual, format!("{owner:#x}"));
    // Its job on its copy was served by nobody.
    assert!(
        attack
            .steps
            .iter()
            .any(|s| s.starts_with("its job on its copy:") && !s.contains("served")),
        "{:?}",
        attack.steps
    );
    assert_nobody_slashed(attack, &[0, 1, 2]);
    assert!(record.faults.iter().any(|f| f.kind == FaultKind::Other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_with_puppets_cannot_slash_an_honest_node() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("framing-owner").await;
    assert_all_met(&record);
    assert_nothing_lost(&record);
    let [attack] = record.attacks.as_slice() else {
        panic!("one attack: {:?}", record.attacks)
    };
    assert_eq!(attack.kind, "framing_owner");
    assert!(
        matches!(&attack.outcome, AttackOutcome::Refused { reason } if reason.contains("AccusedHasNotAcknowledged")),
        "{:?}",
        attack.outcome
    );
    for (what, value) in [
        ("the victim handled the registration", "true"),
        ("the victim refused the registration", "true"),
        ("the victim acknowledged", "false"),
        ("the victim is still active", "true"),
        ("the victim treats the dataset as registered", "false"),
    ] {
        let c = check(attack, what);
        assert_eq!((c.actual.as_str(), c.holds), (value, true), "{c:?}");
    }
    // Nodes 2 and 3 are the puppets: the honest nodes are 0 and 1, the victim among them.
    assert_nobody_slashed(attack, &[0, 1]);
    let victim: Address = fact(attack, "victim");
    assert_eq!(attack.stakes[0].account, format!("{victim:#x}"));
    // The attack is on the timeline, on the puppets' and the victim's lanes.
    let mark = record
        .faults
        .iter()
        .find(|f| f.kind == FaultKind::Other)
        .unwrap();
    assert_eq!(mark.nodes, vec![2, 3, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_requester_gets_nothing_when_it_starts() {
    let _one = ONE_AT_A_TIME.lock().await;
    let record = run("stale-requester").await;
    assert_all_met(&record);
    assert_nothing_lost(&record);
    let [refund, revoke] = record.attacks.as_slice() else {
        panic!("two attacks: {:?}", record.attacks)
    };
    assert_eq!((refund.by.as_str(), revoke.by.as_str()), ("eve", "mike"));
    for (attack, why) in [(refund, "refunded"), (revoke, "revoked")] {
        assert!(
            matches!(&attack.outcome, AttackOutcome::Refused { reason } if reason.contains(why)),
            "{:?}",
            attack.outcome
        );
        let c = check(attack, "bytes the members sent");
        assert_eq!((c.actual.as_str(), c.holds), ("0", true), "{c:?}");
        assert!(
            attack
                .steps
                .iter()
                .any(|s| s.contains("every member prepared it")),
            "{:?}",
            attack.steps
        );
        assert_nobody_slashed(attack, &[0, 1, 2]);
    }
    assert_eq!(check(refund, "the job's status").actual, "Refunded");
    assert_eq!(
        check(refund, "preparing the refunded job again").actual,
        "0"
    );
    assert_eq!(check(revoke, "the grant is revoked").actual, "true");
    // The honest job after the attacks ran on the chain's clock that moved past eve's deadline,
    // and still agrees (checked above).
    let after = record.jobs.iter().find(|j| j.name == "after").unwrap();
    assert!(after.submitted_ms >= 3000);
}
