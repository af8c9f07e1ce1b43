//! The schedule: the jobs, each at its time, and the faults, applied and lifted at theirs, on
//! the scenario clock. The run ends when the last job has ended; faults still pending then do
//! not happen, and faults still in force are recorded as lasting to the end of the run.

use std::sync::Arc;

use sharenet_node::net::{CorruptTarget as NetCorrupt, LinkFault};
use tokio::sync::watch;

use super::jobs::{self, Context};
use super::{EngineError, Event};
use crate::report::{AttackRecord, FaultEvent, FaultKind, JobRecord, describe_fault};
use crate::scenario::{CorruptTarget, Fault};

/// One change the schedule makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Fault `index` starts.
    Start(usize),
    /// Fault `index` ends (a restart, a heal, a restored link, an honest node again).
    End(usize),
}

/// Every fault's start and end, in time order (ends first at equal times, so that a fault
/// ending when the next starts on the same link does not undo it).
fn actions(faults: &[Fault]) -> Vec<(u64, Action)> {
    let mut out = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        let (at, end) = match f {
            Fault::Crash { at, restart_at, .. } => (*at, *restart_at),
            Fault::Link { at, until, .. }
            | Fault::Partition { at, until, .. }
            | Fault::CorruptMessages { at, until, .. } => (*at, *until),
            // Acts during set-up.
            Fault::ByzantineDealer { .. } => continue,
        };
        out.push((at.0, Action::Start(i)));
        if let Some(end) = end {
            out.push((end.0, Action::End(i)));
        }
    }
    out.sort_by_key(|(t, a)| (*t, matches!(a, Action::Start(_))));
    out
}

/// Pairs of nodes a partition separates (both directions).
fn separated(groups: &[Vec<usize>], nodes: usize) -> Vec<(usize, usize)> {
    let side = |n: usize| {
        groups
            .iter()
            .position(|g| g.contains(&n))
            .unwrap_or(groups.len())
    };
    let mut out = Vec::new();
    for a in 0..nodes {
        for b in 0..nodes {
            if a != b && side(a) != side(b) {
                out.push((a, b));
            }
        }
    }
    out
}

/// What the schedule produced: the jobs (in scenario order), the fault events as they happened,
/// and the attacks (in scenario order, with those of set-up).
type Schedule = (Vec<JobRecord>, Vec<FaultEvent>, Vec<AttackRecord>);

/// Runs the jobs, the attacks and the faults; the run ends when the last job and the last
/// attack have ended.
pub(super) async fn run_schedule(ctx: Context) -> Result<Schedule, EngineError> {
    let ctx = Arc::new(ctx);
    let (done_tx, done_rx) = watch::channel(false);
    let faults = tokio::spawn(apply_faults(ctx.clone(), done_rx));
    let mut handles = Vec::with_capacity(ctx.scenario.jobs.len());
    for i in 0..ctx.scenario.jobs.len() {
        handles.push(tokio::spawn(jobs::run(ctx.clone(), i)));
    }
    let mut attack_handles = Vec::new();
    for (i, a) in ctx.scenario.attacks.iter().enumerate() {
        if a.at().is_some() {
            attack_handles.push((i, tokio::spawn(super::attacks::run(ctx.clone(), i))));
        }
    }
    let mut records = Vec::with_capacity(handles.len());
    let mut detections = Vec::new();
    let mut failure = None;
    for handle in handles {
        match handle.await {
            Ok((record, events)) => {
                records.push(record);
                detections.extend(events);
            }
            Err(e) => failure = Some(EngineError::Internal(format!("a job task failed: {e}"))),
        }
    }
    let mut attacks = ctx.setup.attacks.clone();
    for (i, handle) in attack_handles {
        match handle.await {
            Ok((record, event)) => {
                attacks.insert(i, record);
                detections.push(event);
            }
            Err(e) => failure = Some(EngineError::Internal(format!("an attack task failed: {e}"))),
        }
    }
    let _ = done_tx.send(true);
    let mut events = match faults.await {
        Ok(result) => result?,
        Err(e) => return Err(EngineError::Internal(format!("the fault task failed: {e}"))),
    };
    if let Some(e) = failure {
        return Err(e);
    }
    let mut all = ctx.setup.events.clone();
    all.append(&mut events);
    all.extend(detections);
    all.sort_by_key(|e| e.at_ms);
    Ok((records, all, attacks.into_values().collect()))
}

/// Applies the faults at their times until `done`; returns what happened.
async fn apply_faults(
    ctx: Arc<Context>,
    mut done: watch::Receiver<bool>,
) -> Result<Vec<FaultEvent>, EngineError> {
    let scenario = ctx.scenario.clone();
    let nodes = scenario.network.nodes;
    // Index of each fault's event in `events`, once it started.
    let mut started: Vec<Option<usize>> = vec![None; scenario.faults.len()];
    let mut corrupted_before: Vec<u64> = vec![0; scenario.faults.len()];
    let mut corrupted_after: Vec<Option<u64>> = vec![None; scenario.faults.len()];
    let mut events: Vec<FaultEvent> = Vec::new();
    for (time, action) in actions(&scenario.faults) {
        tokio::select! {
            _ = tokio::time::sleep_until(ctx.clock.instant(time)) => {}
            _ = done.wait_for(|d| *d) => break,
        }
        if *done.borrow() {
            break;
        }
        let now = ctx.clock.elapsed_ms();
        let (index, start) = match action {
            Action::Start(i) => (i, true),
            Action::End(i) => (i, false),
        };
        let Some(fault) = scenario.faults.get(index) else {
            continue;
        };
        let what = match (fault, start) {
            (Fault::Crash { node, .. }, true) => match ctx.net.crash(*node).await {
                Ok(_) => format!("node {node} crashed"),
                Err(e) => format!("node {node} could not be crashed: {e}"),
            },
            // A node that cannot start again stays down; the run goes on.
            (Fault::Crash { node, .. }, false) => match ctx.net.restart(*node).await {
                Ok(_) => format!("node {node} restarted"),
                Err(e) => format!("node {node} could not restart: {e}"),
            },
            (
                Fault::Link {
                    from,
                    to,
                    delay_ms,
                    jitter_ms,
                    loss,
                    ..
                },
                on,
            ) => {
                let link = LinkFault {
                    delay: std::time::Duration::from_millis(*delay_ms),
                    jitter: std::time::Duration::from_millis(*jitter_ms),
                    loss: *loss,
                };
                for a in from {
                    for b in to.iter().filter(|b| *b != a) {
                        let (Some(faults), Some(peer)) =
                            (ctx.net.faults.get(*a), ctx.net.peers.get(*b))
                        else {
                            continue;
                        };
                        if on {
                            faults
                                .set_link(*peer, link)
                                .map_err(|e| EngineError::Internal(e.to_string()))?;
                        } else {
                            faults.clear_link(peer);
                        }
                    }
                }
                if on {
                    describe_fault(fault)
                } else {
                    format!("links from {from:?} restored")
                }
            }
            (Fault::Partition { groups, .. }, on) => {
                for (a, b) in separated(groups, nodes) {
                    if let (Some(faults), Some(peer)) =
                        (ctx.net.faults.get(a), ctx.net.peers.get(b))
                    {
                        faults.set_unreachable(*peer, on);
                    }
                }
                if on {
                    describe_fault(fault)
                } else {
                    "the partition healed".to_string()
                }
            }
            (Fault::CorruptMessages { node, target, .. }, on) => {
                let Some(faults) = ctx.net.faults.get(*node) else {
                    continue;
                };
                if on {
                    corrupted_before[index] = faults.counters().corrupted;
                    faults.set_corrupt(Some(match target {
                        CorruptTarget::Protocol => NetCorrupt::Protocol,
                        CorruptTarget::Output => NetCorrupt::Output,
                        CorruptTarget::Multiplication => NetCorrupt::MultiplicationShare,
                        CorruptTarget::King => NetCorrupt::KingValue,
                        CorruptTarget::Opening => NetCorrupt::OpeningShare,
                        CorruptTarget::RandomBits => NetCorrupt::RandomDeal,
                    }));
                    describe_fault(fault)
                } else {
                    faults.set_corrupt(None);
                    let total = faults.counters().corrupted;
                    corrupted_after[index] = Some(total);
                    let count = total - corrupted_before[index];
                    format!("node {node} stopped corrupting messages ({count} corrupted)")
                }
            }
            (Fault::ByzantineDealer { .. }, _) => continue,
        };
        ctx.tell(Event::Fault {
            at_ms: now,
            what: what.clone(),
        });
        if start {
            started[index] = Some(events.len());
            events.push(event(fault, now, nodes, what));
        } else if let Some(e) = started[index].and_then(|i| events.get_mut(i)) {
            e.until_ms = Some(now);
        }
    }
    // Say how many messages each corruption touched (counted when it ended, or now).
    for (index, fault) in scenario.faults.iter().enumerate() {
        if let (Fault::CorruptMessages { node, .. }, Some(e)) =
            (fault, started[index].and_then(|i| events.get_mut(i)))
        {
            let n = corrupted_after[index].unwrap_or_else(|| {
                ctx.net
                    .faults
                    .get(*node)
                    .map_or(0, |f| f.counters().corrupted)
            }) - corrupted_before[index];
            e.note = format!("{}; {n} message(s) corrupted", e.note);
        }
    }
    Ok(events)
}

/// The event of a fault that started at `now` (its end is filled in when it ends).
fn event(fault: &Fault, now: u64, nodes: usize, note: String) -> FaultEvent {
    let (kind, involved, groups) = match fault {
        Fault::Crash { node, .. } => (FaultKind::Crash, vec![*node], Vec::new()),
        Fault::Link { from, .. } => (FaultKind::Link, from.clone(), Vec::new()),
        Fault::Partition { groups, .. } => {
            (FaultKind::Partition, (0..nodes).collect(), groups.clone())
        }
        Fault::CorruptMessages { node, .. } => {
            (FaultKind::CorruptMessages, vec![*node], Vec::new())
        }
        Fault::ByzantineDealer { nodes, .. } => {
            (FaultKind::ByzantineDealer, nodes.clone(), Vec::new())
        }
    };
    FaultEvent {
        at_ms: now,
        until_ms: None,
        kind,
        nodes: involved,
        groups,
        job: None,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Millis;

    #[test]
    fn a_partition_separates_every_pair_across_sides() {
        // {0, 1} | {2} | the rest {3}.
        let pairs = separated(&[vec![0, 1], vec![2]], 4);
        assert!(pairs.contains(&(0, 2)) && pairs.contains(&(2, 0)));
        assert!(pairs.contains(&(1, 3)) && pairs.contains(&(3, 2)));
        assert!(!pairs.contains(&(0, 1)) && !pairs.contains(&(1, 0)));
        assert_eq!(pairs.len(), 4 * 3 - 2);
    }

    #[test]
    fn actions_are_in_time_order_with_ends_first() {
        let link = |at, until| Fault::Link {
            from: vec![0],
            to: vec![1],
            delay_ms: 5,
            jitter_ms: 0,
            loss: 0.0,
            at: Millis(at),
            until: Some(Millis(until)),
        };
        let faults = vec![
            link(2000, 4000),
            link(0, 2000),
            Fault::Crash {
                node: 1,
                at: Millis(100),
                restart_at: None,
            },
        ];
        assert_eq!(
            actions(&faults),
            vec![
                (0, Action::Start(1)),
                (100, Action::Start(2)),
                (2000, Action::End(1)),
                (2000, Action::Start(0)),
                (4000, Action::End(0)),
            ]
        );
    }
}
