//! Fault injection for simulated networks: a cloneable [`LinkFaults`] handle that the simulator
//! holds for each of its in-process nodes and the node's event loop consults when it sends.
//!
//! Off by default: a node started without a handle (every real node) never consults one. With a
//! handle, the event loop asks it about every MPC envelope and every upload or job request it
//! sends to a peer (Kademlia, identify and ping traffic is not affected):
//!
//! - **delay and jitter**: the message leaves after the link's delay plus a uniform jitter;
//! - **loss**: a connection-oriented transport (TCP, QUIC) retransmits what it loses, so a loss
//!   is modelled as its cost in time: each loss of a message adds a retransmission timeout,
//!   [`RETRANSMISSION_TIMEOUT`] doubling at each further loss of the same message (TCP's
//!   back-off), at most [`MAX_RETRANSMISSIONS`] times;
//! - **unreachable** (a partition): the message is not sent and its sending fails as on a
//!   connection that broke: an MPC envelope goes through the event loop's ordinary retry path
//!   (a few attempts with a growing back-off, so a short partition only delays it), a request
//!   fails at once;
//! - **corruption**: the node flips one bit in the payload of its outgoing MPC messages, either
//!   its protocol messages to other committee members ([`CorruptTarget::Protocol`]) or its
//!   output shares to a job's requester ([`CorruptTarget::Output`], the messages to a session's
//!   outside endpoint, which is not an active node), or only its protocol messages of one kind:
//!   the degree-`2t` shares it sends a multiplication's king
//!   ([`CorruptTarget::MultiplicationShare`]), the opened products it broadcasts as a king
//!   ([`CorruptTarget::KingValue`]), its shares of openings to all
//!   ([`CorruptTarget::OpeningShare`]), or the random values it deals (random bits, bounded
//!   integers: [`CorruptTarget::RandomDeal`]): each deviation a malicious member can make
//!   inside the computation. The bit is the lowest bit of the first field element after the MPC
//!   channel header, so the message stays well-formed and only its value is wrong;
//! - **colluding output shares** ([`OutputShift`]): the node adds a chosen field element to the
//!   first value of its output shares to a requester, from a chosen message of each session on.
//!   Members that agree on their shifts (each the value at its own point of one polynomial of
//!   degree `t`) send consistent wrong shares: what a colluding minority would do to shift a
//!   result, or to make the requester blame an honest member.
//!
//! A delayed message waits in a timer task that hands it back to the event loop when its time
//! comes: the event loop never sleeps. At most [`MAX_HELD`] messages wait at once per node; a
//! message beyond that is dropped as by a full link queue (an MPC envelope is then retried).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::PeerId;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::protocol::MessageKind;

/// The time a lost message costs before its first retransmission (TCP's minimum RTO, RFC 6298
/// recommends 1 s, Linux uses 200 ms).
pub const RETRANSMISSION_TIMEOUT: Duration = Duration::from_millis(200);
/// Losses of one message counted at most (the back-off then stops growing the delay).
pub const MAX_RETRANSMISSIONS: u32 = 6;
/// The longest delay or jitter a link may have.
pub const MAX_LINK_DELAY: Duration = Duration::from_secs(60);
/// Messages held back by delays at once, per node.
pub const MAX_HELD: usize = 4096;
/// Offset of the corrupted byte in an MPC envelope: the envelope header (session id and
/// sequence number, 40 bytes), then the MPC channel header (version, kind, sequence number, 10
/// bytes), then the first field element, least significant byte first.
pub const CORRUPT_OFFSET: usize = 40 + 10;
/// Offset of the MPC message kind in an envelope: after the envelope header and the channel
/// header's version byte.
pub const KIND_OFFSET: usize = 40 + 1;

/// Why a fault could not be set.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// A loss probability outside `[0, 1)`.
    #[error("a loss probability is in [0, 1), not {0}")]
    Loss(f64),
    /// A delay or jitter longer than [`MAX_LINK_DELAY`].
    #[error("a link delay or jitter is at most {MAX_LINK_DELAY:?}, not {0:?}")]
    Delay(Duration),
}

/// A degraded link from this node to one peer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkFault {
    /// Added to every message.
    pub delay: Duration,
    /// A uniform extra delay between zero and this.
    pub jitter: Duration,
    /// Probability that one transmission of a message is lost, in `[0, 1)`.
    pub loss: f64,
}

/// Which outgoing MPC messages a corrupt node tampers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CorruptTarget {
    /// Its protocol messages to the other committee members (active nodes).
    Protocol,
    /// Its output shares to a requester (a session's outside endpoint, not an active node).
    Output,
    /// Only its degree-`2t` shares to a multiplication's king (MPC kind `ToKing`): an additive
    /// error in the product, which the malicious-security check catches.
    MultiplicationShare,
    /// Only the opened products it broadcasts as a king (MPC kind `FromKing`): the same error in
    /// everyone's product, caught by the same check.
    KingValue,
    /// Only its shares of openings to all members (MPC kind `Open`): caught by the opening's own
    /// consistency check (all `n` shares on one polynomial of degree `t`).
    OpeningShare,
    /// Only the shares of the random values it deals (MPC kind `RandomDeal`: random bits, bounded
    /// integers): an inconsistent sharing of a random value.
    RandomDeal,
}

impl CorruptTarget {
    /// The one MPC message kind this target corrupts, for the targets limited to one kind.
    pub fn message_kind(self) -> Option<MessageKind> {
        match self {
            CorruptTarget::Protocol | CorruptTarget::Output => None,
            CorruptTarget::MultiplicationShare => Some(MessageKind::ToKing),
            CorruptTarget::KingValue => Some(MessageKind::FromKing),
            CorruptTarget::OpeningShare => Some(MessageKind::Open),
            CorruptTarget::RandomDeal => Some(MessageKind::RandomDeal),
        }
    }
}

/// A consistent shift of a member's output shares (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputShift {
    /// Added to the first field element of each shifted message.
    pub delta: Mp127,
    /// The first message of a session (by its envelope sequence number to the requester, from
    /// 0) that is shifted: 1 leaves a query's first output message, its cohort gates, alone.
    pub from_message: u64,
}

/// Counts of what the faults did, for the simulator's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounters {
    /// Messages held back by a delay (delay, jitter or retransmissions).
    pub delayed: u64,
    /// Retransmissions simulated (losses).
    pub lost: u64,
    /// Messages not sent because their peer was unreachable.
    pub unreachable: u64,
    /// MPC messages corrupted.
    pub corrupted: u64,
    /// Messages dropped because [`MAX_HELD`] were already held back.
    pub overflow: u64,
}

/// What to do with one outgoing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendFault {
    /// Send it now.
    Now,
    /// Send it after this long (the caller holds a [`Held`] slot while it waits).
    After(Duration),
    /// Do not send it: the connection to the peer is broken.
    Unreachable,
    /// Do not send it: too many messages are held back already.
    Overflow,
}

#[derive(Debug)]
struct State {
    links: HashMap<PeerId, LinkFault>,
    unreachable: HashSet<PeerId>,
    corrupt: Option<CorruptTarget>,
    shift: Option<OutputShift>,
    rng: StdRng,
}

#[derive(Debug, Default)]
struct Counters {
    delayed: AtomicU64,
    lost: AtomicU64,
    unreachable: AtomicU64,
    corrupted: AtomicU64,
    overflow: AtomicU64,
}

/// The faults of one node's outgoing links; cheap to clone (every clone is the same handle).
/// The simulator changes them while the node runs; the node's event loop reads them.
#[derive(Debug, Clone)]
pub struct LinkFaults {
    state: Arc<Mutex<State>>,
    counters: Arc<Counters>,
    held: Arc<AtomicUsize>,
}

/// A slot of the bounded set of held-back messages, released when dropped.
#[derive(Debug)]
pub(crate) struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl LinkFaults {
    /// No faults; jitter and losses will be drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        LinkFaults {
            state: Arc::new(Mutex::new(State {
                links: HashMap::new(),
                unreachable: HashSet::new(),
                corrupt: None,
                shift: None,
                rng: StdRng::seed_from_u64(seed),
            })),
            counters: Arc::default(),
            held: Arc::default(),
        }
    }

    fn with<T>(&self, default: T, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock (a panic elsewhere while holding it) means no faults.
        match self.state.lock() {
            Ok(mut state) => f(&mut state),
            Err(_) => default,
        }
    }

    /// Degrades the link to `peer` (replacing what it had).
    pub fn set_link(&self, peer: PeerId, fault: LinkFault) -> Result<(), FaultError> {
        if !(fault.loss.is_finite() && (0.0..1.0).contains(&fault.loss)) {
            return Err(FaultError::Loss(fault.loss));
        }
        for d in [fault.delay, fault.jitter] {
            if d > MAX_LINK_DELAY {
                return Err(FaultError::Delay(d));
            }
        }
        self.with((), |s| {
            s.links.insert(peer, fault);
        });
        Ok(())
    }

    /// Restores the link to `peer`.
    pub fn clear_link(&self, peer: &PeerId) {
        self.with((), |s| {
            s.links.remove(peer);
        });
    }

    /// Makes `peer` unreachable (`true`, a partition) or reachable again (`false`, healed).
    pub fn set_unreachable(&self, peer: PeerId, unreachable: bool) {
        self.with((), |s| {
            if unreachable {
                s.unreachable.insert(peer);
            } else {
                s.unreachable.remove(&peer);
            }
        });
    }

    /// Starts (`Some`) or stops (`None`) corrupting outgoing MPC messages.
    pub fn set_corrupt(&self, target: Option<CorruptTarget>) {
        self.with((), |s| s.corrupt = target);
    }

    /// Starts (`Some`) or stops (`None`) shifting this node's output shares.
    pub fn set_output_shift(&self, shift: Option<OutputShift>) {
        self.with((), |s| s.shift = shift);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.with((), |s| {
            s.links.clear();
            s.unreachable.clear();
            s.corrupt = None;
            s.shift = None;
        });
    }

    /// What the faults did so far.
    pub fn counters(&self) -> FaultCounters {
        let c = &self.counters;
        FaultCounters {
            delayed: c.delayed.load(Relaxed),
            lost: c.lost.load(Relaxed),
            unreachable: c.unreachable.load(Relaxed),
            corrupted: c.corrupted.load(Relaxed),
            overflow: c.overflow.load(Relaxed),
        }
    }

    /// Whether `peer` is unreachable now.
    pub(crate) fn is_unreachable(&self, peer: &PeerId) -> bool {
        self.with(false, |s| s.unreachable.contains(peer))
    }

    /// Decides the fate of one message to `peer`; with [`SendFault::After`], also returns the
    /// slot the message holds while it waits.
    pub(crate) fn on_send(&self, peer: &PeerId) -> (SendFault, Option<Held>) {
        let decision = self.with(SendFault::Now, |s| {
            if s.unreachable.contains(peer) {
                return SendFault::Unreachable;
            }
            let Some(link) = s.links.get(peer).copied() else {
                return SendFault::Now;
            };
            let mut delay = link.delay;
            if !link.jitter.is_zero() {
                let jitter_us = u64::try_from(link.jitter.as_micros()).unwrap_or(u64::MAX);
                delay += Duration::from_micros(s.rng.random_range(0..=jitter_us));
            }
            let mut losses = 0;
            while losses < MAX_RETRANSMISSIONS && link.loss > 0.0 && s.rng.random_bool(link.loss) {
                delay += RETRANSMISSION_TIMEOUT * (1u32 << losses);
                losses += 1;
            }
            self.counters.lost.fetch_add(u64::from(losses), Relaxed);
            if delay.is_zero() {
                SendFault::Now
            } else {
                SendFault::After(delay)
            }
        });
        match decision {
            SendFault::Unreachable => {
                self.counters.unreachable.fetch_add(1, Relaxed);
                (decision, None)
            }
            SendFault::After(_) => {
                if self.held.fetch_add(1, Relaxed) >= MAX_HELD {
                    self.held.fetch_sub(1, Relaxed);
                    self.counters.overflow.fetch_add(1, Relaxed);
                    return (SendFault::Overflow, None);
                }
                self.counters.delayed.fetch_add(1, Relaxed);
                (decision, Some(Held(self.held.clone())))
            }
            SendFault::Now | SendFault::Overflow => (decision, None),
        }
    }

    /// Corrupts an outgoing MPC envelope if this node corrupts messages of its kind now:
    /// `to_outside` is true for a message to a session's outside endpoint (a requester). Returns
    /// whether it was corrupted (a message without a field element is left as it is).
    pub(crate) fn corrupt_mpc(&self, to_outside: bool, envelope: &mut [u8]) -> bool {
        let (target, shift) = self.with((None, None), |s| (s.corrupt, s.shift));
        if to_outside && let Some(shift) = shift {
            return self.shift_output(shift, envelope);
        }
        let applies = match target {
            Some(CorruptTarget::Protocol) => !to_outside,
            Some(CorruptTarget::Output) => to_outside,
            Some(one_kind) => {
                !to_outside
                    && one_kind
                        .message_kind()
                        .is_some_and(|k| envelope.get(KIND_OFFSET) == Some(&(k as u8)))
            }
            None => false,
        };
        if !applies || envelope.len() <= CORRUPT_OFFSET {
            return false;
        }
        envelope[CORRUPT_OFFSET] ^= 0x01;
        self.counters.corrupted.fetch_add(1, Relaxed);
        true
    }

    fn shift_output(&self, shift: OutputShift, envelope: &mut [u8]) -> bool {
        let element = CORRUPT_OFFSET..CORRUPT_OFFSET + Mp127::BYTES;
        let Some(seq) = envelope
            .get(32..40)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
        else {
            return false;
        };
        let Some(value) = envelope
            .get(element.clone())
            .and_then(|b| Mp127::read_bytes(b).ok())
        else {
            return false;
        };
        if seq < shift.from_message {
            return false;
        }
        (value + shift.delta).write_bytes(&mut envelope[element]);
        self.counters.corrupted.fetch_add(1, Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay_of(f: &LinkFaults, peer: &PeerId) -> Option<Duration> {
        match f.on_send(peer) {
            (SendFault::Now, _) => Some(Duration::ZERO),
            (SendFault::After(d), held) => {
                assert!(held.is_some());
                Some(d)
            }
            _ => None,
        }
    }

    #[test]
    fn no_fault_sends_at_once() {
        let f = LinkFaults::new(1);
        let peer = PeerId::random();
        assert_eq!(f.on_send(&peer).0, SendFault::Now);
        let mut envelope = vec![0u8; 80];
        assert!(!f.corrupt_mpc(false, &mut envelope));
        assert!(!f.corrupt_mpc(true, &mut envelope));
        assert_eq!(f.counters(), FaultCounters::default());
    }

    #[test]
    fn delay_and_jitter_stay_in_their_range_and_only_on_that_link() {
        let f = LinkFaults::new(2);
        let slow = PeerId::random();
        let other = PeerId::random();
        f.set_link(
            slow,
            LinkFault {
                delay: Duration::from_millis(20),
                jitter: Duration::from_millis(10),
                loss: 0.0,
            },
        )
        .unwrap();
        let mut seen_jitter = false;
        for _ in 0..200 {
            let d = delay_of(&f, &slow).unwrap();
            assert!(
                d >= Duration::from_millis(20) && d <= Duration::from_millis(30),
                "{d:?}"
            );
            seen_jitter |= d > Duration::from_millis(21);
            assert_eq!(delay_of(&f, &other), Some(Duration::ZERO));
        }
        assert!(seen_jitter, "the jitter is drawn");
        assert_eq!(f.counters().delayed, 200);
        f.clear_link(&slow);
        assert_eq!(delay_of(&f, &slow), Some(Duration::ZERO));
    }

    #[test]
    fn losses_cost_retransmission_timeouts_with_back_off() {
        let f = LinkFaults::new(3);
        let peer = PeerId::random();
        f.set_link(
            peer,
            LinkFault {
                loss: 0.5,
                ..LinkFault::default()
            },
        )
        .unwrap();
        let rto = RETRANSMISSION_TIMEOUT;
        // 0, 1, 2, ... losses: 0, rto, 3 rto, 7 rto, ...
        let allowed: Vec<Duration> = (0..=MAX_RETRANSMISSIONS)
            .map(|k| rto * ((1u32 << k) - 1))
            .collect();
        let mut lossless = 0;
        let runs = 2000;
        for _ in 0..runs {
            let d = delay_of(&f, &peer).unwrap();
            assert!(allowed.contains(&d), "{d:?}");
            lossless += usize::from(d.is_zero());
        }
        // Half of the messages get through the first time (binomial, 2000 draws: ±5 sd).
        assert!((900..=1100).contains(&lossless), "{lossless}");
        let lost = f.counters().lost;
        // About one loss per message on average (geometric with p = 1/2, capped).
        assert!((1700..=2300).contains(&lost), "{lost}");
    }

    #[test]
    fn bad_links_are_refused() {
        let f = LinkFaults::new(4);
        let peer = PeerId::random();
        let loss = |loss| LinkFault {
            loss,
            ..LinkFault::default()
        };
        assert_eq!(f.set_link(peer, loss(1.0)), Err(FaultError::Loss(1.0)));
        assert!(f.set_link(peer, loss(f64::NAN)).is_err());
        assert!(f.set_link(peer, loss(-0.1)).is_err());
        let slow = LinkFault {
            delay: Duration::from_secs(61),
            ..LinkFault::default()
        };
        assert!(matches!(f.set_link(peer, slow), Err(FaultError::Delay(_))));
        assert_eq!(f.on_send(&peer).0, SendFault::Now);
    }

    #[test]
    fn a_partition_makes_peers_unreachable_until_healed() {
        let f = LinkFaults::new(5);
        let (a, b) = (PeerId::random(), PeerId::random());
        f.set_unreachable(a, true);
        assert_eq!(f.on_send(&a).0, SendFault::Unreachable);
        assert!(f.is_unreachable(&a));
        assert_eq!(f.on_send(&b).0, SendFault::Now);
        f.set_unreachable(a, false);
        assert_eq!(f.on_send(&a).0, SendFault::Now);
        assert_eq!(f.counters().unreachable, 1);
        f.set_unreachable(b, true);
        f.clear();
        assert!(!f.is_unreachable(&b));
    }

    #[test]
    fn corruption_flips_one_bit_of_the_first_element_of_the_chosen_messages() {
        let f = LinkFaults::new(6);
        let original: Vec<u8> = (0..90u8).collect();
        f.set_corrupt(Some(CorruptTarget::Protocol));
        let mut m = original.clone();
        assert!(!f.corrupt_mpc(true, &mut m), "output shares are left alone");
        assert!(f.corrupt_mpc(false, &mut m));
        let changed: Vec<usize> = (0..m.len()).filter(|&i| m[i] != original[i]).collect();
        assert_eq!(changed, vec![CORRUPT_OFFSET]);
        assert_eq!(m[CORRUPT_OFFSET] ^ original[CORRUPT_OFFSET], 1);
        f.set_corrupt(Some(CorruptTarget::Output));
        let mut m = original.clone();
        assert!(!f.corrupt_mpc(false, &mut m));
        assert!(f.corrupt_mpc(true, &mut m));
        // A message without a field element (header only) is not touched.
        let mut short = vec![0u8; CORRUPT_OFFSET];
        assert!(!f.corrupt_mpc(true, &mut short));
        f.set_corrupt(None);
        let mut m = original.clone();
        assert!(!f.corrupt_mpc(false, &mut m) && !f.corrupt_mpc(true, &mut m));
        assert_eq!(f.counters().corrupted, 2);
    }

    #[test]
    fn a_one_kind_corruption_flips_only_messages_of_that_kind_to_members() {
        let f = LinkFaults::new(9);
        let targets = [
            (CorruptTarget::MultiplicationShare, 4u8),
            (CorruptTarget::KingValue, 5),
            (CorruptTarget::OpeningShare, 6),
            (CorruptTarget::RandomDeal, 10),
        ];
        let with_kind = |kind: u8| {
            let mut m: Vec<u8> = (0..90u8).collect();
            m[KIND_OFFSET] = kind;
            m
        };
        let mut corrupted = 0;
        for (target, kind) in targets {
            assert_eq!(target.message_kind().map(|k| k as u8), Some(kind));
            f.set_corrupt(Some(target));
            for other in [1u8, 4, 5, 6, 7, 10, 11] {
                let original = with_kind(other);
                let mut m = original.clone();
                let flipped = f.corrupt_mpc(false, &mut m);
                assert_eq!(flipped, other == kind, "{target:?} on kind {other}");
                let changed: Vec<usize> = (0..m.len()).filter(|&i| m[i] != original[i]).collect();
                if flipped {
                    corrupted += 1;
                    assert_eq!(changed, vec![CORRUPT_OFFSET]);
                    assert_eq!(m[CORRUPT_OFFSET] ^ original[CORRUPT_OFFSET], 1);
                } else {
                    assert!(
                        changed.is_empty(),
                        "a message of another kind is left alone"
                    );
                }
                // Never its messages to a requester, whatever their kind.
                let mut out = original.clone();
                assert!(!f.corrupt_mpc(true, &mut out));
                assert_eq!(out, original);
            }
            // A message of the kind without a field element (header only) is not touched.
            let mut short = with_kind(kind);
            short.truncate(CORRUPT_OFFSET);
            assert!(!f.corrupt_mpc(false, &mut short));
        }
        assert_eq!(f.counters().corrupted, corrupted);
        assert_eq!(corrupted, 4);
    }

    #[test]
    fn an_output_shift_adds_to_the_first_element_of_later_output_messages() {
        let f = LinkFaults::new(8);
        let delta = Mp127::from_u64(5);
        f.set_output_shift(Some(OutputShift {
            delta,
            from_message: 1,
        }));
        let envelope = |seq: u64, value: u64| {
            let mut e = vec![0u8; CORRUPT_OFFSET + 32];
            e[32..40].copy_from_slice(&seq.to_le_bytes());
            Mp127::from_u64(value).write_bytes(&mut e[CORRUPT_OFFSET..CORRUPT_OFFSET + 16]);
            Mp127::from_u64(9).write_bytes(&mut e[CORRUPT_OFFSET + 16..]);
            e
        };
        let mut first = envelope(0, 40);
        assert!(!f.corrupt_mpc(true, &mut first), "message 0 is left alone");
        assert_eq!(first, envelope(0, 40));
        let mut second = envelope(1, 40);
        assert!(f.corrupt_mpc(true, &mut second));
        assert_eq!(
            second,
            envelope(1, 45),
            "only the first element moved, by delta"
        );
        let mut protocol = envelope(3, 40);
        assert!(
            !f.corrupt_mpc(false, &mut protocol),
            "messages to members are left alone"
        );
        let mut short = vec![0u8; CORRUPT_OFFSET + 8];
        assert!(!f.corrupt_mpc(true, &mut short));
        f.clear();
        let mut after = envelope(2, 40);
        assert!(!f.corrupt_mpc(true, &mut after));
        assert_eq!(f.counters().corrupted, 1);
    }

    #[test]
    fn held_messages_are_bounded() {
        let f = LinkFaults::new(7);
        let peer = PeerId::random();
        f.set_link(
            peer,
            LinkFault {
                delay: Duration::from_millis(5),
                ..LinkFault::default()
            },
        )
        .unwrap();
        let mut held = Vec::new();
        for _ in 0..MAX_HELD {
            let (fault, slot) = f.on_send(&peer);
            assert!(matches!(fault, SendFault::After(_)));
            held.push(slot.unwrap());
        }
        assert_eq!(f.on_send(&peer).0, SendFault::Overflow);
        assert_eq!(f.counters().overflow, 1);
        held.pop();
        assert!(matches!(f.on_send(&peer).0, SendFault::After(_)));
    }
}
