//! MPC sessions over the swarm: an envelope format, a router that hands each session's messages
//! to it in order, and a [`Transport`] that the blocking MPC code of `sharenet-mpc` runs on.
//!
//! Request-response opens a fresh stream per message, so two messages from one peer may arrive in
//! either order; every envelope carries a per-(session, sender) sequence number and the router
//! releases messages strictly in sequence. Messages may arrive before the local side of a session
//! starts (parties start at slightly different times): the router keeps them, bounded in count
//! per session and in the number of sessions, and forgets sessions nobody claimed in time.
//!
//! What the router holds (messages waiting for their turn, and messages queued for a session
//! that has not read them yet) is bounded in bytes: per session ([`MAX_SESSION_BYTES`]), per
//! sending peer across sessions ([`MAX_PEER_BYTES`]) and in all ([`MAX_ROUTER_BYTES`]). A message
//! beyond a bound is refused, and its sender is told so ([`MpcVerdict::Busy`]) and tries again
//! later: a refused message is never acknowledged as delivered.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use libp2p::PeerId;
use sharenet_mpc::transport::{Transport, TransportError, TransportStats, check_send};
use tokio::sync::mpsc;

use super::client::Command;

/// A session identifier agreed by all parties (e.g. derived from a job id).
pub type SessionId = [u8; 32];

const ENVELOPE_HEADER: usize = 32 + 8;
/// Messages buffered per (session, peer) before the session is claimed or while out of order.
pub const MAX_BUFFERED: usize = 4096;
/// Sessions the router tracks at once.
pub const MAX_SESSIONS: usize = 256;
/// How long messages for an unclaimed session are kept.
pub const UNCLAIMED_TTL: Duration = Duration::from_secs(120);
/// Payload bytes one session holds before it reads them (all its peers together).
pub const MAX_SESSION_BYTES: usize = 128 << 20;
/// Payload bytes held for one sending peer, across all sessions.
pub const MAX_PEER_BYTES: usize = 256 << 20;
/// Payload bytes the router holds in all.
pub const MAX_ROUTER_BYTES: usize = 1 << 30;

/// The receiver's answer to an MPC envelope (the request-response response of
/// `/sharenet/mpc/1`): empty for accepted, one byte otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpcVerdict {
    /// Routed to its session (or a duplicate of a message that was).
    Accepted,
    /// Refused for now: the router is over a bound. The sender tries again later.
    Busy,
    /// Refused: not an envelope. The sender gives up.
    Malformed,
}

impl MpcVerdict {
    /// The response bytes: nothing, `[1]` or `[2]`.
    pub fn encode(self) -> Vec<u8> {
        match self {
            MpcVerdict::Accepted => Vec::new(),
            MpcVerdict::Busy => vec![1],
            MpcVerdict::Malformed => vec![2],
        }
    }

    /// Reads a response; anything unknown counts as [`MpcVerdict::Malformed`].
    pub fn decode(bytes: &[u8]) -> MpcVerdict {
        match bytes {
            [] => MpcVerdict::Accepted,
            [1] => MpcVerdict::Busy,
            _ => MpcVerdict::Malformed,
        }
    }
}

/// Why the router refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// Shorter than the envelope header.
    #[error("malformed MPC envelope")]
    Malformed,
    /// Too many sessions, or too many buffered messages or bytes.
    #[error("MPC router is full")]
    Full,
    /// A sequence number that was already delivered.
    #[error("duplicate MPC message")]
    Duplicate,
}

/// Encodes an envelope: session id, sequence number, payload.
pub fn encode_envelope(session: &SessionId, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_HEADER + payload.len());
    out.extend_from_slice(session);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits an envelope into its session id, sequence number and payload; shorter than the
/// 40-byte header is [`RouteError::Malformed`].
pub fn decode_envelope(envelope: &[u8]) -> Result<(SessionId, u64, &[u8]), RouteError> {
    if envelope.len() < ENVELOPE_HEADER {
        return Err(RouteError::Malformed);
    }
    let (header, payload) = envelope.split_at(ENVELOPE_HEADER);
    let mut session = [0u8; 32];
    session.copy_from_slice(&header[..32]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&header[32..]);
    Ok((session, u64::from_le_bytes(seq), payload))
}

struct PeerQueue {
    next: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    /// Payload bytes held: pending, and queued for the session but not read yet.
    bytes: usize,
    /// `None` once the link is closed: the session's receiver then reads what is queued and
    /// sees the link closed; later messages are dropped.
    tx: Option<Sender<Vec<u8>>>,
    rx: Option<Receiver<Vec<u8>>>,
}

impl PeerQueue {
    fn new() -> Self {
        let (tx, rx) = bounded(MAX_BUFFERED);
        PeerQueue {
            next: 0,
            pending: BTreeMap::new(),
            bytes: 0,
            tx: Some(tx),
            rx: Some(rx),
        }
    }
}

struct SessionInbox {
    peers: HashMap<PeerId, PeerQueue>,
    /// Payload bytes held for this session (the sum over its queues).
    bytes: usize,
    claimed: bool,
    created: Instant,
    /// The first peer whose link was closed: the session cannot complete (every round of the
    /// protocols needs every endpoint), so every receive fails once nothing is queued.
    broken: Arc<OnceLock<PeerId>>,
}

impl SessionInbox {
    fn new(claimed: bool) -> Self {
        SessionInbox {
            peers: HashMap::new(),
            bytes: 0,
            claimed,
            created: Instant::now(),
            broken: Arc::default(),
        }
    }
}

/// Sessions whose sent bytes are remembered (the most recent ones).
pub const SENT_LOG: usize = 4096;

/// Bytes this node sent per session, for the most recent [`SENT_LOG`] sessions.
#[derive(Default)]
struct SentLog {
    bytes: HashMap<SessionId, Arc<AtomicU64>>,
    order: VecDeque<SessionId>,
}

impl SentLog {
    fn counter(&mut self, session: SessionId) -> Arc<AtomicU64> {
        if let Some(c) = self.bytes.get(&session) {
            return c.clone();
        }
        while self.order.len() >= SENT_LOG {
            if let Some(old) = self.order.pop_front() {
                self.bytes.remove(&old);
            }
        }
        let c = Arc::new(AtomicU64::new(0));
        self.bytes.insert(session, c.clone());
        self.order.push_back(session);
        c
    }
}

/// The router's sessions and what they hold.
#[derive(Default)]
struct Inboxes {
    sessions: HashMap<SessionId, SessionInbox>,
    /// Payload bytes held per sending peer, across sessions.
    per_peer: HashMap<PeerId, usize>,
    /// Payload bytes held in all.
    total: usize,
}

impl Inboxes {
    /// Accounts `len` bytes of `peer` leaving the router (read by a session or dropped).
    fn free(&mut self, peer: PeerId, len: usize) {
        self.total = self.total.saturating_sub(len);
        if let Some(b) = self.per_peer.get_mut(&peer) {
            *b = b.saturating_sub(len);
            if *b == 0 {
                self.per_peer.remove(&peer);
            }
        }
    }

    /// Removes a session and frees what it held.
    fn forget(&mut self, session: &SessionId) {
        if let Some(inbox) = self.sessions.remove(session) {
            for (peer, queue) in inbox.peers {
                self.free(peer, queue.bytes);
            }
        }
    }
}

/// Routes incoming MPC envelopes to sessions, in order.
#[derive(Clone, Default)]
pub struct MpcRouter {
    inboxes: Arc<Mutex<Inboxes>>,
    sent: Arc<Mutex<SentLog>>,
}

impl std::fmt::Debug for MpcRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpcRouter").finish_non_exhaustive()
    }
}

impl MpcRouter {
    /// Hands one envelope from `from` to its session.
    pub fn deliver(&self, from: PeerId, envelope: Vec<u8>) -> Result<(), RouteError> {
        let (session, seq, payload) = decode_envelope(&envelope)?;
        let len = payload.len();
        let mut guard = self.inboxes.lock().map_err(|_| RouteError::Full)?;
        let state = &mut *guard;
        if !state.sessions.contains_key(&session) {
            let expired: Vec<SessionId> = state
                .sessions
                .iter()
                .filter(|(_, s)| !s.claimed && s.created.elapsed() >= UNCLAIMED_TTL)
                .map(|(id, _)| *id)
                .collect();
            for id in &expired {
                state.forget(id);
            }
            if state.sessions.len() >= MAX_SESSIONS {
                return Err(RouteError::Full);
            }
            state.sessions.insert(session, SessionInbox::new(false));
        }
        let peer_bytes = state.per_peer.get(&from).copied().unwrap_or(0);
        let total = state.total;
        let inbox = state.sessions.get_mut(&session).ok_or(RouteError::Full)?;
        let queue = inbox.peers.entry(from).or_insert_with(PeerQueue::new);
        if seq < queue.next || queue.pending.contains_key(&seq) {
            return Err(RouteError::Duplicate);
        }
        if queue.pending.len() >= MAX_BUFFERED
            || inbox.bytes + len > MAX_SESSION_BYTES
            || peer_bytes + len > MAX_PEER_BYTES
            || total + len > MAX_ROUTER_BYTES
        {
            return Err(RouteError::Full);
        }
        queue.pending.insert(seq, payload.to_vec());
        queue.bytes += len;
        inbox.bytes += len;
        let mut dropped = 0;
        while let Some(message) = queue.pending.remove(&queue.next) {
            let Some(tx) = &queue.tx else {
                // The link was closed: the session no longer reads it.
                dropped += message.len();
                queue.next += 1;
                continue;
            };
            match tx.try_send(message) {
                Ok(()) => queue.next += 1,
                Err(TrySendError::Full(message)) => {
                    // The session is not reading: keep it pending, refuse more beyond the bound.
                    queue.pending.insert(queue.next, message);
                    break;
                }
                Err(TrySendError::Disconnected(message)) => {
                    dropped += message.len();
                    queue.next += 1;
                }
            }
        }
        queue.bytes -= dropped;
        inbox.bytes -= dropped;
        *state.per_peer.entry(from).or_insert(0) += len;
        state.total += len;
        state.free(from, dropped);
        Ok(())
    }

    /// Accounts a message of `len` bytes from `from` that `session` has read.
    fn consumed(&self, session: &SessionId, from: PeerId, len: usize) {
        let Ok(mut guard) = self.inboxes.lock() else {
            return;
        };
        let state = &mut *guard;
        let Some(inbox) = state.sessions.get_mut(session) else {
            // Released already: its bytes were freed then.
            return;
        };
        if let Some(queue) = inbox.peers.get_mut(&from) {
            let len = len.min(queue.bytes);
            queue.bytes -= len;
            inbox.bytes = inbox.bytes.saturating_sub(len);
            state.free(from, len);
        }
    }

    /// Payload bytes the router holds now.
    pub fn held_bytes(&self) -> usize {
        self.inboxes.lock().map_or(0, |s| s.total)
    }

    /// Claims a session's inboxes, one per peer, in the given order, and the mark of a broken
    /// session.
    fn claim(&self, session: SessionId, peers: &[PeerId]) -> Claimed {
        let Ok(mut state) = self.inboxes.lock() else {
            return Claimed {
                inboxes: peers.iter().map(|_| None).collect(),
                broken: Arc::default(),
            };
        };
        let inbox = state
            .sessions
            .entry(session)
            .or_insert_with(|| SessionInbox::new(true));
        inbox.claimed = true;
        let inboxes = peers
            .iter()
            .map(|p| {
                inbox
                    .peers
                    .entry(*p)
                    .or_insert_with(PeerQueue::new)
                    .rx
                    .take()
            })
            .collect();
        Claimed {
            inboxes,
            broken: inbox.broken.clone(),
        }
    }

    /// Closes the link from `peer` in `session`: the session reads what is already queued, then
    /// sees the link closed ([`TransportError::Closed`]). For a message this node could not
    /// deliver to `peer`: the session cannot complete without it.
    pub fn close_link(&self, session: &SessionId, peer: PeerId) {
        if let Ok(mut state) = self.inboxes.lock()
            && let Some(inbox) = state.sessions.get_mut(session)
        {
            let _ = inbox.broken.set(peer);
            if let Some(queue) = inbox.peers.get_mut(&peer) {
                queue.tx = None;
            }
        }
    }

    /// Closes the link from `peer` in every claimed session (the peer's connection is gone);
    /// returns how many sessions had it.
    pub fn close_peer(&self, peer: PeerId) -> usize {
        let Ok(mut state) = self.inboxes.lock() else {
            return 0;
        };
        let mut closed = 0;
        for inbox in state.sessions.values_mut().filter(|s| s.claimed) {
            if let Some(queue) = inbox.peers.get_mut(&peer)
                && queue.tx.take().is_some()
            {
                let _ = inbox.broken.set(peer);
                closed += 1;
            }
        }
        closed
    }

    /// Bytes this node sent in `sessions` (envelopes included), among the most recent
    /// [`SENT_LOG`] sessions it took part in.
    pub fn bytes_sent(&self, sessions: &[SessionId]) -> u64 {
        let Ok(log) = self.sent.lock() else {
            return 0;
        };
        sessions
            .iter()
            .filter_map(|s| log.bytes.get(s))
            .map(|c| c.load(Relaxed))
            .sum()
    }

    fn sent_counter(&self, session: SessionId) -> Arc<AtomicU64> {
        match self.sent.lock() {
            Ok(mut log) => log.counter(session),
            Err(_) => Arc::default(),
        }
    }

    /// Forgets a finished session.
    pub fn release(&self, session: &SessionId) {
        if let Ok(mut state) = self.inboxes.lock() {
            state.forget(session);
        }
    }

    /// Sessions currently tracked.
    pub fn sessions(&self) -> usize {
        self.inboxes.lock().map_or(0, |s| s.sessions.len())
    }
}

/// What [`MpcRouter::claim`] hands a session.
struct Claimed {
    inboxes: Vec<Option<Receiver<Vec<u8>>>>,
    broken: Arc<OnceLock<PeerId>>,
}

/// How often a waiting receive checks whether its session broke.
const BROKEN_POLL: Duration = Duration::from_millis(50);

/// One party's transport for one MPC session over the swarm. Runs on a blocking thread (never
/// on the async runtime): sends go to the event loop through its bounded command channel,
/// receives wait on the router's per-peer queues with a timeout.
pub struct SwarmTransport {
    session: SessionId,
    me: usize,
    peers: Vec<PeerId>,
    commands: mpsc::Sender<Command>,
    inboxes: Vec<Option<Receiver<Vec<u8>>>>,
    broken: Arc<OnceLock<PeerId>>,
    sent: Arc<AtomicU64>,
    next_seq: Vec<u64>,
    timeout: Duration,
    router: MpcRouter,
    stats: TransportStats,
}

impl std::fmt::Debug for SwarmTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmTransport")
            .field("me", &self.me)
            .field("endpoints", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl SwarmTransport {
    pub(crate) fn new(
        session: SessionId,
        me: usize,
        peers: Vec<PeerId>,
        commands: mpsc::Sender<Command>,
        router: MpcRouter,
        timeout: Duration,
    ) -> Self {
        let Claimed { inboxes, broken } = router.claim(session, &peers);
        let sent = router.sent_counter(session);
        let n = peers.len();
        SwarmTransport {
            session,
            me,
            peers,
            commands,
            inboxes,
            broken,
            sent,
            next_seq: vec![0; n],
            timeout,
            router,
            stats: TransportStats::default(),
        }
    }
}

impl Drop for SwarmTransport {
    fn drop(&mut self) {
        self.router.release(&self.session);
    }
}

impl Transport for SwarmTransport {
    fn me(&self) -> usize {
        self.me
    }

    fn endpoints(&self) -> usize {
        self.peers.len()
    }

    fn send(&mut self, to: usize, message: Vec<u8>) -> Result<(), TransportError> {
        let size = ENVELOPE_HEADER + message.len();
        check_send(
            self.me,
            to,
            self.peers.len(),
            size,
            super::behaviour::MAX_MPC_MESSAGE,
        )?;
        let seq = self.next_seq[to];
        let envelope = encode_envelope(&self.session, seq, &message);
        let bytes = envelope.len() as u64;
        self.commands
            .blocking_send(Command::SendMpc {
                peer: self.peers[to],
                envelope,
            })
            .map_err(|_| TransportError::Closed { peer: to })?;
        self.next_seq[to] = seq + 1;
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += bytes;
        self.sent.fetch_add(bytes, Relaxed);
        Ok(())
    }

    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError> {
        let endpoints = self.peers.len();
        if from >= endpoints || from == self.me {
            return Err(TransportError::BadPeer {
                peer: from,
                endpoints,
            });
        }
        let inbox = self.inboxes[from]
            .as_ref()
            .ok_or(TransportError::Closed { peer: from })?;
        // Waits in short slices: a session whose link to another endpoint closed (that peer is
        // gone) cannot complete, so it fails at once rather than at its timeout.
        let until = Instant::now() + self.timeout;
        loop {
            let slice = until
                .saturating_duration_since(Instant::now())
                .min(BROKEN_POLL);
            match inbox.recv_timeout(slice) {
                Ok(message) => {
                    self.router
                        .consumed(&self.session, self.peers[from], message.len());
                    self.stats.messages_received += 1;
                    self.stats.bytes_received += message.len() as u64;
                    return Ok(message);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(TransportError::Closed { peer: from });
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(gone) = self.broken.get() {
                        let peer = self.peers.iter().position(|p| p == gone).unwrap_or(from);
                        return Err(TransportError::Closed { peer });
                    }
                    if Instant::now() >= until {
                        return Err(TransportError::Timeout {
                            peer: from,
                            timeout: self.timeout,
                        });
                    }
                }
            }
        }
    }

    fn stats(&self) -> TransportStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_releases_messages_in_sequence_and_refuses_replays() {
        let router = MpcRouter::default();
        let peer = PeerId::random();
        let session = [7u8; 32];
        // Arrive out of order, before the session is claimed.
        router
            .deliver(peer, encode_envelope(&session, 1, b"second"))
            .unwrap();
        router
            .deliver(peer, encode_envelope(&session, 0, b"first"))
            .unwrap();
        assert_eq!(
            router.deliver(peer, encode_envelope(&session, 0, b"again")),
            Err(RouteError::Duplicate)
        );
        assert_eq!(
            router.deliver(peer, vec![1, 2, 3]),
            Err(RouteError::Malformed)
        );
        let inboxes = router.claim(session, &[peer]).inboxes;
        let rx = inboxes[0].as_ref().unwrap();
        assert_eq!(rx.try_recv().unwrap(), b"first");
        assert_eq!(rx.try_recv().unwrap(), b"second");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_closed_link_ends_after_what_is_queued() {
        let router = MpcRouter::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        let session = [9u8; 32];
        let other = [10u8; 32];
        router
            .deliver(a, encode_envelope(&session, 0, b"queued"))
            .unwrap();
        let claimed = router.claim(session, &[a, b]);
        let inboxes = claimed.inboxes;
        assert!(claimed.broken.get().is_none());
        assert_eq!(router.close_peer(a), 1);
        assert_eq!(
            claimed.broken.get(),
            Some(&a),
            "the session is marked broken"
        );
        // Later messages from `a` are dropped; `b` is unaffected.
        router
            .deliver(a, encode_envelope(&session, 1, b"late"))
            .unwrap();
        router
            .deliver(b, encode_envelope(&session, 0, b"b"))
            .unwrap();
        let rx = inboxes[0].as_ref().unwrap();
        assert_eq!(rx.recv().unwrap(), b"queued");
        assert!(rx.recv().is_err(), "closed after what was queued");
        assert_eq!(inboxes[1].as_ref().unwrap().recv().unwrap(), b"b");
        // An unclaimed session keeps its messages (the peer may come back before it starts);
        // close_link closes one link of one session.
        router.deliver(a, encode_envelope(&other, 0, b"x")).unwrap();
        assert_eq!(router.close_peer(a), 0);
        let inboxes = router.claim(other, &[a, b]).inboxes;
        assert_eq!(inboxes[0].as_ref().unwrap().recv().unwrap(), b"x");
        router.close_link(&other, b);
        assert!(inboxes[1].as_ref().unwrap().recv().is_err());
    }

    #[test]
    fn a_session_with_a_closed_link_fails_its_receives_at_once() {
        let router = MpcRouter::default();
        let (a, b, me) = (PeerId::random(), PeerId::random(), PeerId::random());
        let session = [11u8; 32];
        let (commands, _keep) = mpsc::channel(4);
        let timeout = Duration::from_secs(30);
        let mut transport = SwarmTransport::new(
            session,
            2,
            vec![a, b, me],
            commands,
            router.clone(),
            timeout,
        );
        router
            .deliver(a, encode_envelope(&session, 0, b"sent before"))
            .unwrap();
        // b's connection is lost: what a already sent is still read, then the session fails
        // without waiting for its timeout: `Closed`, where waiting would end in `Timeout`.
        assert_eq!(router.close_peer(b), 1);
        assert_eq!(transport.recv(0).unwrap(), b"sent before");
        assert_eq!(
            transport.recv(0),
            Err(TransportError::Closed { peer: 1 }),
            "names the endpoint that is gone"
        );
    }

    #[test]
    fn bytes_sent_are_counted_per_session_for_recent_sessions() {
        let router = MpcRouter::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        let (commands, mut queue) = mpsc::channel(16);
        let mut transport = SwarmTransport::new(
            [1; 32],
            0,
            vec![a, b],
            commands.clone(),
            router.clone(),
            Duration::from_secs(1),
        );
        transport.send(1, vec![0; 100]).unwrap();
        transport.send(1, vec![0; 20]).unwrap();
        drop(transport);
        let mut other = SwarmTransport::new(
            [2; 32],
            0,
            vec![a, b],
            commands,
            router.clone(),
            Duration::from_secs(1),
        );
        other.send(1, vec![0; 10]).unwrap();
        let envelope = ENVELOPE_HEADER as u64;
        assert_eq!(router.bytes_sent(&[[1; 32]]), 120 + 2 * envelope);
        assert_eq!(
            router.bytes_sent(&[[1; 32], [2; 32], [3; 32]]),
            130 + 3 * envelope
        );
        while queue.try_recv().is_ok() {}
        // Only the most recent sessions are remembered.
        let mut log = SentLog::default();
        for i in 0..=SENT_LOG {
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&(i as u64).to_le_bytes());
            log.counter(s).fetch_add(1, Relaxed);
        }
        assert_eq!(log.bytes.len(), SENT_LOG);
        assert!(!log.bytes.contains_key(&[0u8; 32]));
    }

    #[test]
    fn buffered_bytes_are_bounded_per_session_and_per_peer() {
        const MIB: usize = 1 << 20;
        let router = MpcRouter::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        // One peer floods one session nobody started with 1 MiB messages: refused before the
        // session holds 128 MiB.
        let flood = |router: &MpcRouter, peer: PeerId, session: SessionId, up_to: usize| {
            let mut held = 0;
            for seq in 0..up_to as u64 {
                match router.deliver(peer, encode_envelope(&session, seq, &vec![7u8; MIB])) {
                    Ok(()) => held += MIB,
                    Err(RouteError::Full) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            held
        };
        let held = flood(&router, a, [1; 32], 130);
        assert!(held <= 128 * MIB, "one session holds {} MiB", held / MIB);
        // Across sessions, one peer holds at most 256 MiB.
        let mut total = held;
        for s in 2..6u8 {
            total += flood(&router, a, [s; 32], 130);
        }
        assert!(total <= 256 * MIB, "one peer holds {} MiB", total / MIB);
        // Another peer still gets its messages through.
        router
            .deliver(b, encode_envelope(&[9; 32], 0, b"honest"))
            .unwrap();
    }

    #[test]
    fn router_bounds_the_number_of_sessions() {
        let router = MpcRouter::default();
        let peer = PeerId::random();
        for i in 0..MAX_SESSIONS {
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&(i as u64).to_le_bytes());
            router.deliver(peer, encode_envelope(&s, 0, b"x")).unwrap();
        }
        assert_eq!(
            router.deliver(peer, encode_envelope(&[0xff; 32], 0, b"x")),
            Err(RouteError::Full)
        );
    }
}
