//! The iterative Kademlia lookup.
//!
//! [`ClosestIter`] is a port of libp2p-kad 0.49's `ClosestPeersIter` (the iterator behind
//! `get_closest_peers`, `get_record`, `put_record` and `bootstrap` in libp2p 0.57), over node
//! indices and sharenet [`Distance`]s instead of `PeerId`s: the same progress rule, the same
//! `Stalled` state that widens the parallelism from α to k, the same termination (the k closest
//! known peers that did not fail have all answered, or nobody is left to ask). What the port
//! leaves out is time: a request is answered (or fails) within the round it was sent in, so the
//! number of rounds of a lookup is its number of *hops* (sequential request/response trips, each
//! with up to α requests in flight, up to k while stalled).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use sharenet_dht::{Distance, Key};

use super::network::NodeId;

/// State of one peer known to a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PeerState {
    NotContacted,
    Waiting,
    Succeeded,
    Failed,
}

/// State of the iterator (libp2p's `State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IterState {
    Iterating { no_progress: usize },
    Stalled,
    Finished,
}

/// What [`ClosestIter::next`] asks the driver to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send a request to this node.
    Contact(NodeId),
    /// Nothing more to send until answers arrive.
    Wait,
    /// The lookup is over.
    Finished,
}

/// The closest-peers iterator (see the module documentation).
#[derive(Clone, Debug)]
pub(crate) struct ClosestIter {
    target: Key,
    k: usize,
    alpha: usize,
    state: IterState,
    /// Every peer heard of, by distance to the target. libp2p keeps all of them too (the map is
    /// not truncated to k), which matters for the stalled phase.
    closest: BTreeMap<Distance, (NodeId, PeerState)>,
    num_waiting: usize,
}

impl ClosestIter {
    /// A lookup of `target` seeded with the local routing table's closest entries (`seeds`,
    /// with their positions); like libp2p, at most `k` of them are used.
    pub(crate) fn new(
        target: Key,
        k: usize,
        alpha: usize,
        seeds: impl IntoIterator<Item = (NodeId, Key)>,
    ) -> Self {
        let closest = seeds
            .into_iter()
            .take(k)
            .map(|(node, pos)| (pos.distance(&target), (node, PeerState::NotContacted)))
            .collect();
        ClosestIter {
            target,
            k,
            alpha,
            state: IterState::Iterating { no_progress: 0 },
            closest,
            num_waiting: 0,
        }
    }

    fn at_capacity(&self) -> bool {
        match self.state {
            IterState::Stalled => self.num_waiting >= self.k.max(self.alpha),
            IterState::Iterating { .. } => self.num_waiting >= self.alpha,
            IterState::Finished => true,
        }
    }

    /// The next step (libp2p's `next`, without timeouts: every answer arrives).
    pub(crate) fn next(&mut self) -> Next {
        if self.state == IterState::Finished {
            return Next::Finished;
        }
        let mut result_counter = Some(0usize);
        let at_capacity = self.at_capacity();
        for (node, state) in self.closest.values_mut() {
            match *state {
                PeerState::Waiting => {
                    if at_capacity {
                        return Next::Wait;
                    }
                    // A request to one of the closest is pending: not done yet, whatever the
                    // farther peers said.
                    result_counter = None;
                }
                PeerState::Succeeded => {
                    if let Some(count) = result_counter.as_mut() {
                        *count += 1;
                        if *count >= self.k {
                            self.state = IterState::Finished;
                            return Next::Finished;
                        }
                    }
                }
                PeerState::NotContacted => {
                    if at_capacity {
                        return Next::Wait;
                    }
                    *state = PeerState::Waiting;
                    self.num_waiting += 1;
                    return Next::Contact(*node);
                }
                PeerState::Failed => {}
            }
        }
        if self.num_waiting > 0 {
            Next::Wait
        } else {
            self.state = IterState::Finished;
            Next::Finished
        }
    }

    /// A successful answer from `node` (at `pos`) listing `closer` peers (with positions).
    pub(crate) fn on_success(
        &mut self,
        node: NodeId,
        pos: &Key,
        closer: impl IntoIterator<Item = (NodeId, Key)>,
    ) {
        if self.state == IterState::Finished {
            return;
        }
        let distance = pos.distance(&self.target);
        match self.closest.get_mut(&distance) {
            Some((n, state @ PeerState::Waiting)) if *n == node => {
                self.num_waiting = self.num_waiting.saturating_sub(1);
                *state = PeerState::Succeeded;
            }
            _ => return,
        }
        // The k-th closest known distance (or the farthest, with fewer than k known): a new
        // peer inside it is progress.
        let cur_range = self
            .closest
            .keys()
            .nth(self.k.saturating_sub(1))
            .or_else(|| self.closest.keys().next_back())
            .copied()
            .unwrap_or(distance);
        let mut progress = self.closest.len() < self.k;
        for (peer, peer_pos) in closer {
            let d = peer_pos.distance(&self.target);
            if let Entry::Vacant(e) = self.closest.entry(d) {
                e.insert((peer, PeerState::NotContacted));
                progress = progress || d < cur_range;
            }
        }
        self.state = match self.state {
            IterState::Iterating { no_progress } => {
                let no_progress = if progress { 0 } else { no_progress + 1 };
                if no_progress >= self.alpha {
                    IterState::Stalled
                } else {
                    IterState::Iterating { no_progress }
                }
            }
            IterState::Stalled if progress => IterState::Iterating { no_progress: 0 },
            other => other,
        };
    }

    /// A failed request to `node` (at `pos`): the node has left the network.
    pub(crate) fn on_failure(&mut self, node: NodeId, pos: &Key) {
        if self.state == IterState::Finished {
            return;
        }
        let distance = pos.distance(&self.target);
        if let Some((n, state @ PeerState::Waiting)) = self.closest.get_mut(&distance)
            && *n == node
        {
            self.num_waiting = self.num_waiting.saturating_sub(1);
            *state = PeerState::Failed;
        }
    }

    /// Ends the lookup early (a `get_record` that found its record).
    pub(crate) fn finish(&mut self) {
        self.state = IterState::Finished;
    }

    /// The result: the (at most k) closest peers that answered, closest first.
    pub(crate) fn into_result(self) -> Vec<NodeId> {
        self.closest
            .into_values()
            .filter(|(_, s)| *s == PeerState::Succeeded)
            .map(|(n, _)| n)
            .take(self.k)
            .collect()
    }
}
