//! A length-prefixed bytes codec for request-response, and the admission every inbound request
//! passes *before its body is read*.
//!
//! A frame is a 4-byte little-endian length, then that many bytes. Reading a request:
//!
//! 1. the length is read and checked against the protocol's size limit;
//! 2. [`Admission::admit`] decides, from the sending peer and the announced length, whether the
//!    body may be read at all: a protocol open to allow-listed peers only refuses anyone else, and
//!    every protocol reserves the announced length against a byte budget per peer and in total,
//!    and one request slot against a per-peer count. A refused request is never read: its stream
//!    is dropped after the four bytes of its length;
//! 3. the body is read into a buffer that grows with the bytes that actually arrive (never more
//!    than twice what arrived, never more than the announced length), so a peer that announces a
//!    large frame and sends little costs little memory.
//!
//! The reservation ([`Reservation`]) travels with the request and is released when the request is
//! dropped: after the service answered an upload or job request, after the MPC router took an
//! envelope. The budgets thus bound every inbound byte the node holds on a protocol's behalf,
//! from the first byte read to the answer.
//!
//! Request-response gives a codec no peer identity, so [`PeerTagged`] wraps each
//! request-response behaviour: when a connection is established it tells the protocol's
//! [`Admission`] the remote peer, and the codec cloned for that connection's handler keeps it.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::request_response::{self, Codec};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId, StreamProtocol};

/// Budgets of one protocol's inbound requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests of one peer read or held at once.
    pub requests_per_peer: usize,
    /// Announced bytes of one peer's requests held at once.
    pub bytes_per_peer: usize,
    /// Announced bytes of everyone's requests held at once.
    pub bytes_total: usize,
}

/// Why a request was refused before its body was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The announced length is over the protocol's limit.
    TooLarge,
    /// The protocol is for allow-listed peers only.
    NotAllowed,
    /// A budget is used up.
    Busy,
}

#[derive(Debug, Default)]
struct Held {
    per_peer: HashMap<PeerId, (usize, usize)>,
    total: usize,
}

/// Counts of refusals, by reason (read them with `load(Relaxed)`).
#[derive(Debug, Default)]
pub struct AdmissionCounters {
    /// Over the size limit.
    pub too_large: AtomicU64,
    /// From a peer not on the allow-list.
    pub not_allowed: AtomicU64,
    /// Over a budget.
    pub busy: AtomicU64,
}

/// The inbound admission of one protocol (shared by the codecs of all its connections).
#[derive(Debug)]
pub struct Admission {
    max_request: usize,
    /// `Some`: only these peers may send requests (MPC: the active nodes on chain).
    allowed: Option<Mutex<HashSet<PeerId>>>,
    budget: Budget,
    held: Mutex<Held>,
    /// The remote peer of the connection whose handler is being created (see [`PeerTagged`]).
    connecting: Mutex<Option<PeerId>>,
    counters: AdmissionCounters,
}

impl Admission {
    /// Admission for a protocol with requests of at most `max_request` bytes, open to every
    /// peer (`allow_listed == false`) or to allow-listed peers only.
    pub fn new(max_request: usize, allow_listed: bool, budget: Budget) -> Arc<Admission> {
        Arc::new(Admission {
            max_request,
            allowed: allow_listed.then(|| Mutex::new(HashSet::new())),
            budget,
            held: Mutex::default(),
            connecting: Mutex::new(None),
            counters: AdmissionCounters::default(),
        })
    }

    /// Replaces the allow-list (no effect on a protocol open to everyone).
    pub fn set_allowed(&self, peers: &HashSet<PeerId>) {
        if let Some(allowed) = &self.allowed
            && let Ok(mut a) = allowed.lock()
        {
            a.clone_from(peers);
        }
    }

    /// The refusal counters.
    pub fn counters(&self) -> &AdmissionCounters {
        &self.counters
    }

    /// Decides whether `peer` may send a request of `len` bytes now; reserves it if so.
    pub fn admit(self: &Arc<Self>, peer: PeerId, len: usize) -> Result<Reservation, Refused> {
        let refuse = |reason: Refused, counter: &AtomicU64| {
            counter.fetch_add(1, Relaxed);
            Err(reason)
        };
        if len > self.max_request {
            return refuse(Refused::TooLarge, &self.counters.too_large);
        }
        if let Some(allowed) = &self.allowed {
            let ok = allowed.lock().map(|a| a.contains(&peer)).unwrap_or(false);
            if !ok {
                return refuse(Refused::NotAllowed, &self.counters.not_allowed);
            }
        }
        let Ok(mut held) = self.held.lock() else {
            return refuse(Refused::Busy, &self.counters.busy);
        };
        let b = self.budget;
        let (requests, bytes) = held.per_peer.get(&peer).copied().unwrap_or((0, 0));
        let fits = requests < b.requests_per_peer
            && bytes.saturating_add(len) <= b.bytes_per_peer
            && held.total.saturating_add(len) <= b.bytes_total;
        if !fits {
            drop(held);
            return refuse(Refused::Busy, &self.counters.busy);
        }
        held.per_peer.insert(peer, (requests + 1, bytes + len));
        held.total += len;
        Ok(Reservation {
            admission: Arc::clone(self),
            peer,
            bytes: len,
        })
    }

    fn release(&self, peer: PeerId, len: usize) {
        if let Ok(mut held) = self.held.lock() {
            held.total = held.total.saturating_sub(len);
            if let Some((requests, bytes)) = held.per_peer.get_mut(&peer) {
                *requests = requests.saturating_sub(1);
                *bytes = bytes.saturating_sub(len);
                if *requests == 0 {
                    held.per_peer.remove(&peer);
                }
            }
        }
    }

    /// Announced bytes held now, in total (for tests and metrics).
    pub fn held_bytes(&self) -> usize {
        self.held.lock().map_or(0, |h| h.total)
    }
}

/// A request's share of its protocol's budgets, released when dropped.
#[derive(Debug)]
pub struct Reservation {
    admission: Arc<Admission>,
    peer: PeerId,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.admission.release(self.peer, self.bytes);
    }
}

/// A request or response as the codec carries it: the bytes, and for an inbound request its
/// reservation.
pub struct Frame {
    /// The message.
    pub bytes: Vec<u8>,
    /// Held while the request is (`None` for what this node sends, and for responses).
    pub reservation: Option<Reservation>,
}

/// The length only: a frame carries shares and MPC messages.
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("bytes", &self.bytes.len())
            .field("reserved", &self.reservation.is_some())
            .finish()
    }
}

impl From<Vec<u8>> for Frame {
    fn from(bytes: Vec<u8>) -> Frame {
        Frame {
            bytes,
            reservation: None,
        }
    }
}

/// Requests and responses are opaque byte strings; each protocol bounds their sizes and admits
/// inbound requests by [`Admission`].
#[derive(Debug)]
pub struct BytesCodec {
    /// Largest response accepted or sent.
    pub max_response: usize,
    /// Largest request sent, and the admission of inbound ones.
    pub admission: Arc<Admission>,
    /// The remote peer of this codec's connection (`None` in the behaviour's own copy).
    peer: Option<PeerId>,
}

impl BytesCodec {
    /// The codec of a protocol whose inbound requests pass `admission`.
    pub fn new(admission: Arc<Admission>, max_response: usize) -> BytesCodec {
        BytesCodec {
            max_response,
            admission,
            peer: None,
        }
    }

    /// The codec of one connection to `peer` (what the behaviour hands each connection; public
    /// for tests and tools that read frames outside a swarm).
    pub fn for_peer(admission: Arc<Admission>, max_response: usize, peer: PeerId) -> BytesCodec {
        BytesCodec {
            max_response,
            admission,
            peer: Some(peer),
        }
    }
}

impl Clone for BytesCodec {
    /// The behaviour clones its codec once for each new connection's handler: that copy takes
    /// the remote peer [`PeerTagged`] announced; the handler's own clones (one per stream) keep it.
    fn clone(&self) -> Self {
        let peer = self.peer.or_else(|| {
            self.admission
                .connecting
                .lock()
                .ok()
                .and_then(|mut c| c.take())
        });
        BytesCodec {
            max_response: self.max_response,
            admission: Arc::clone(&self.admission),
            peer,
        }
    }
}

/// Bytes read at once into a growing body.
const READ_STEP: usize = 64 << 10;

async fn read_length<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<usize> {
    let mut header = [0u8; 4];
    io.read_exact(&mut header).await?;
    usize::try_from(u32::from_le_bytes(header)).map_err(|_| refused("a length beyond usize"))
}

/// Reads `len` bytes, growing the buffer with what arrives.
async fn read_body<T: AsyncRead + Unpin + Send>(io: &mut T, len: usize) -> io::Result<Vec<u8>> {
    let mut body: Vec<u8> = Vec::new();
    while body.len() < len {
        let filled = body.len();
        let step = (len - filled).min(READ_STEP);
        if body.capacity() < filled + step {
            // Double (bounded by the announced length): memory stays within twice what arrived.
            let target = len.min((2 * filled).max(filled + step));
            body.reserve_exact(target - filled);
        }
        body.resize(filled + step, 0);
        io.read_exact(&mut body[filled..]).await?;
    }
    Ok(body)
}

fn refused(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

async fn write_bounded<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    data: &[u8],
    max: usize,
) -> io::Result<()> {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|_| data.len() <= max)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("message of {} bytes exceeds the limit of {max}", data.len()),
            )
        })?;
    io.write_all(&len.to_le_bytes()).await?;
    io.write_all(data).await?;
    io.close().await
}

impl Codec for BytesCodec {
    type Protocol = StreamProtocol;
    type Request = Frame;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &Self::Protocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let len = read_length(io).await?;
        let Some(peer) = self.peer else {
            return Err(refused("a request on a connection without a peer"));
        };
        let reservation = self
            .admission
            .admit(peer, len)
            .map_err(|reason| match reason {
                Refused::TooLarge => refused("the message exceeds the protocol's limit"),
                Refused::NotAllowed => refused("the peer may not use this protocol"),
                Refused::Busy => refused("the peer's budget for this protocol is used up"),
            })?;
        let bytes = read_body(io, len).await?;
        Ok(Frame {
            bytes,
            reservation: Some(reservation),
        })
    }

    async fn read_response<T>(&mut self, _: &Self::Protocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let len = read_length(io).await?;
        if len > self.max_response {
            return Err(refused("the response exceeds the protocol's limit"));
        }
        read_body(io, len).await
    }

    async fn write_request<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        req: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_bounded(io, &req.bytes, self.admission.max_request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_bounded(io, &res, self.max_response).await
    }
}

/// A request-response behaviour whose codec learns the remote peer of each connection.
pub struct PeerTagged {
    inner: request_response::Behaviour<BytesCodec>,
    admission: Arc<Admission>,
}

impl PeerTagged {
    /// Wraps `inner`, whose codec admits requests by `admission`.
    pub fn new(inner: request_response::Behaviour<BytesCodec>, admission: Arc<Admission>) -> Self {
        PeerTagged { inner, admission }
    }

    /// The protocol's admission.
    pub fn admission(&self) -> &Arc<Admission> {
        &self.admission
    }

    fn tag(&self, peer: PeerId) {
        if let Ok(mut c) = self.admission.connecting.lock() {
            *c = Some(peer);
        }
    }
}

impl std::ops::Deref for PeerTagged {
    type Target = request_response::Behaviour<BytesCodec>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for PeerTagged {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl NetworkBehaviour for PeerTagged {
    type ConnectionHandler =
        <request_response::Behaviour<BytesCodec> as NetworkBehaviour>::ConnectionHandler;
    type ToSwarm = request_response::Event<Frame, Vec<u8>>;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.tag(peer);
        self.inner.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.tag(peer);
        self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner
            .on_connection_handler_event(peer_id, connection_id, event);
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Budget = Budget {
        requests_per_peer: 2,
        bytes_per_peer: 100,
        bytes_total: 150,
    };

    #[test]
    fn admission_reserves_announced_lengths_per_peer_and_in_total() {
        let admission = Admission::new(80, false, BUDGET);
        let (a, b) = (PeerId::random(), PeerId::random());
        assert_eq!(admission.admit(a, 81).err(), Some(Refused::TooLarge));
        let r1 = admission.admit(a, 60).unwrap();
        assert_eq!(
            admission.admit(a, 41).err(),
            Some(Refused::Busy),
            "a's bytes"
        );
        let r2 = admission.admit(a, 40).unwrap();
        assert_eq!(
            admission.admit(a, 0).err(),
            Some(Refused::Busy),
            "a's requests"
        );
        assert_eq!(
            admission.admit(b, 51).err(),
            Some(Refused::Busy),
            "the total"
        );
        let r3 = admission.admit(b, 50).unwrap();
        assert_eq!(admission.held_bytes(), 150);
        drop(r1);
        let _r4 = admission.admit(a, 10).unwrap();
        drop((r2, r3));
        assert_eq!(admission.held_bytes(), 10);
        let c = admission.counters();
        assert_eq!(
            (
                c.too_large.load(Relaxed),
                c.busy.load(Relaxed),
                c.not_allowed.load(Relaxed)
            ),
            (1, 3, 0)
        );
    }

    #[test]
    fn an_allow_listed_protocol_refuses_everyone_else() {
        let admission = Admission::new(80, true, BUDGET);
        let (a, b) = (PeerId::random(), PeerId::random());
        assert_eq!(admission.admit(a, 1).err(), Some(Refused::NotAllowed));
        admission.set_allowed(&HashSet::from([a]));
        let _held = admission.admit(a, 1).unwrap();
        assert_eq!(admission.admit(b, 1).err(), Some(Refused::NotAllowed));
        assert_eq!(admission.counters().not_allowed.load(Relaxed), 2);
    }

    #[test]
    fn a_body_is_read_as_it_arrives_and_a_refused_one_not_at_all() {
        let admission = Admission::new(
            1 << 20,
            true,
            Budget {
                requests_per_peer: 4,
                bytes_per_peer: 1 << 20,
                bytes_total: 1 << 20,
            },
        );
        let peer = PeerId::random();
        admission.set_allowed(&HashSet::from([peer]));
        if let Ok(mut c) = admission.connecting.lock() {
            *c = Some(peer);
        }
        let proto = StreamProtocol::new("/test/1");
        let mut codec = BytesCodec::new(admission.clone(), 16).clone();
        // 200 KiB announced and sent.
        let body: Vec<u8> = (0..200 << 10).map(|i| (i % 251) as u8).collect();
        let mut wire = (body.len() as u32).to_le_bytes().to_vec();
        wire.extend_from_slice(&body);
        let frame =
            futures::executor::block_on(codec.read_request(&proto, &mut wire.as_slice())).unwrap();
        assert_eq!(frame.bytes, body);
        assert!(frame.bytes.capacity() <= body.len());
        assert_eq!(admission.held_bytes(), body.len());
        drop(frame);
        assert_eq!(admission.held_bytes(), 0);
        // 1 MiB announced, 10 bytes sent: the read fails at the end of the input with a small
        // buffer; a stranger's frame is refused after its length.
        let mut short = (1u32 << 20).to_le_bytes().to_vec();
        short.extend_from_slice(&[1; 10]);
        assert!(
            futures::executor::block_on(codec.read_request(&proto, &mut short.as_slice())).is_err()
        );
        admission.set_allowed(&HashSet::new());
        let mut input = short.as_slice();
        assert!(futures::executor::block_on(codec.read_request(&proto, &mut input)).is_err());
        assert_eq!(input.len(), 10, "nothing after the length was read");
        assert_eq!(admission.held_bytes(), 0);
    }
}
