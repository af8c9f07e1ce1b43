//! Loopback TCP transport with length-prefixed, size-bounded frames, for benchmarks and tests
//! that want real sockets. It is not authenticated or encrypted: the node carries protocol
//! messages over libp2p (Noise) instead, and this transport must only be used on loopback.
//!
//! Frame: a 4-byte little-endian length, then that many bytes. One reader thread per peer drains
//! its socket into a bounded queue, so two parties that send large messages to each other at the
//! same time never deadlock on full socket buffers.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::{
    DEFAULT_RECV_TIMEOUT, MAX_MESSAGE_BYTES, Transport, TransportError, TransportStats, check_peer,
    check_send,
};

/// Frames that may wait in a peer's inbox before its reader stops draining the socket.
const INBOX_CAPACITY: usize = 256;

const HELLO_MAGIC: &[u8; 8] = b"SNMPCv1\0";
/// Length of the hello a connecting endpoint sends (see [`decode_hello`]).
pub const HELLO_BYTES: usize = 8 + 16 + 4;

/// Frames (or the error that ended the link) that a peer's reader thread hands over.
type Inbox = Receiver<Result<Vec<u8>, TransportError>>;

/// One endpoint of a session over TCP.
#[derive(Debug)]
pub struct TcpTransport {
    me: usize,
    writers: Vec<Option<TcpStream>>,
    inboxes: Vec<Option<Inbox>>,
    timeout: Duration,
    max_message: usize,
    stats: TransportStats,
}

fn io_error(peer: usize, e: &std::io::Error) -> TransportError {
    TransportError::Io {
        peer,
        kind: e.kind(),
        detail: e.to_string(),
    }
}

impl TcpTransport {
    /// Connects endpoint `me` to every other endpoint of a session: it dials the endpoints with
    /// a lower index at `addrs[j]` and accepts the higher ones on `listener`. `session` tags the
    /// session so that a connection meant for another one is refused.
    pub fn connect(
        me: usize,
        listener: &TcpListener,
        addrs: &[SocketAddr],
        session: [u8; 16],
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let endpoints = addrs.len();
        if me >= endpoints {
            return Err(TransportError::BadPeer {
                peer: me,
                endpoints,
            });
        }
        let deadline = Instant::now() + timeout;
        let mut streams: Vec<Option<TcpStream>> = (0..endpoints).map(|_| None).collect();
        for (j, addr) in addrs.iter().enumerate().take(me) {
            let mut stream = dial(j, *addr, deadline)?;
            let mut hello = Vec::with_capacity(HELLO_BYTES);
            hello.extend_from_slice(HELLO_MAGIC);
            hello.extend_from_slice(&session);
            hello.extend_from_slice(&(me as u32).to_le_bytes());
            stream.write_all(&hello).map_err(|e| io_error(j, &e))?;
            streams[j] = Some(stream);
        }
        listener
            .set_nonblocking(true)
            .map_err(|e| io_error(me, &e))?;
        let mut pending = endpoints - me - 1;
        while pending > 0 {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream
                        .set_nonblocking(false)
                        .map_err(|e| io_error(me, &e))?;
                    let j = read_hello(&mut stream, session, me, endpoints, deadline)?;
                    if streams[j].is_some() {
                        return Err(TransportError::Handshake(format!(
                            "endpoint {j} connected twice"
                        )));
                    }
                    streams[j] = Some(stream);
                    pending -= 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(TransportError::Handshake(format!(
                            "{pending} endpoint(s) did not connect within {timeout:?}"
                        )));
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(io_error(me, &e)),
            }
        }
        let mut writers = Vec::with_capacity(endpoints);
        let mut inboxes = Vec::with_capacity(endpoints);
        for (peer, stream) in streams.into_iter().enumerate() {
            let Some(stream) = stream else {
                writers.push(None);
                inboxes.push(None);
                continue;
            };
            stream.set_nodelay(true).map_err(|e| io_error(peer, &e))?;
            stream
                .set_write_timeout(Some(timeout))
                .map_err(|e| io_error(peer, &e))?;
            stream
                .set_read_timeout(None)
                .map_err(|e| io_error(peer, &e))?;
            let reader = stream.try_clone().map_err(|e| io_error(peer, &e))?;
            let (tx, rx) = bounded(INBOX_CAPACITY);
            thread::Builder::new()
                .name(format!("mpc-tcp-reader-{me}-{peer}"))
                .spawn(move || read_frames(peer, reader, MAX_MESSAGE_BYTES, tx))
                .map_err(|e| io_error(peer, &e))?;
            writers.push(Some(stream));
            inboxes.push(Some(rx));
        }
        Ok(TcpTransport {
            me,
            writers,
            inboxes,
            timeout,
            max_message: MAX_MESSAGE_BYTES,
            stats: TransportStats::default(),
        })
    }
}

fn dial(peer: usize, addr: SocketAddr, deadline: Instant) -> Result<TcpStream, TransportError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Handshake(format!(
                "could not connect to endpoint {peer} at {addr} in time"
            )));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(io_error(peer, &e)),
        }
    }
}

fn read_hello(
    stream: &mut TcpStream,
    session: [u8; 16],
    me: usize,
    endpoints: usize,
    deadline: Instant,
) -> Result<usize, TransportError> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream
        .set_read_timeout(Some(left))
        .map_err(|e| io_error(me, &e))?;
    let mut hello = [0u8; HELLO_BYTES];
    stream
        .read_exact(&mut hello)
        .map_err(|e| TransportError::Handshake(format!("incomplete hello: {e}")))?;
    decode_hello(&hello, session, me, endpoints)
}

/// Checks the hello a connecting endpoint sends (`"SNMPCv1\0"`, the 16-byte session tag, its
/// index as a little-endian `u32`) on behalf of endpoint `me` of a session of `endpoints`, and
/// returns the connecting endpoint's index, which must be above `me`. Anything but exactly
/// [`HELLO_BYTES`] bytes is refused. Public so that the format can be fuzzed and tested without
/// sockets; [`TcpTransport::connect`] reads hellos with it.
pub fn decode_hello(
    hello: &[u8],
    session: [u8; 16],
    me: usize,
    endpoints: usize,
) -> Result<usize, TransportError> {
    if hello.len() != HELLO_BYTES {
        return Err(TransportError::Handshake(format!(
            "a hello of {} bytes, expected {HELLO_BYTES}",
            hello.len()
        )));
    }
    if &hello[..8] != HELLO_MAGIC {
        return Err(TransportError::Handshake("not an MPC session hello".into()));
    }
    if hello[8..24] != session {
        return Err(TransportError::Handshake(
            "hello for a different session".into(),
        ));
    }
    let mut index = [0u8; 4];
    index.copy_from_slice(&hello[24..28]);
    let j = u32::from_le_bytes(index) as usize;
    if j <= me || j >= endpoints {
        return Err(TransportError::Handshake(format!(
            "endpoint {me} expected a hello from an index in {}..{endpoints}, got {j}",
            me + 1
        )));
    }
    Ok(j)
}

/// Reads frames from `peer` until the connection ends, the inbox is dropped, or a frame breaks
/// the rules; the error that ends it is delivered as the last item.
fn read_frames(
    peer: usize,
    mut stream: TcpStream,
    max: usize,
    inbox: Sender<Result<Vec<u8>, TransportError>>,
) {
    loop {
        match read_frame(peer, &mut stream, max) {
            Ok(body) => {
                if inbox.send(Ok(body)).is_err() {
                    return;
                }
            }
            Err(err) => {
                if matches!(err, TransportError::TooLarge { .. }) {
                    let _ = stream.shutdown(Shutdown::Both);
                }
                let _ = inbox.send(Err(err));
                return;
            }
        }
    }
}

/// Reads one frame (a 4-byte little-endian length, then that many bytes) sent by endpoint
/// `peer`: a length over `max` is [`TransportError::TooLarge`] and nothing more is read; the
/// stream ending inside the frame is [`TransportError::Closed`]. Public so that the framing can
/// be fuzzed and tested on any reader; the transport's reader threads use it.
pub fn read_frame<R: Read>(
    peer: usize,
    stream: &mut R,
    max: usize,
) -> Result<Vec<u8>, TransportError> {
    let closed_or_io = |e: std::io::Error| {
        if e.kind() == ErrorKind::UnexpectedEof {
            TransportError::Closed { peer }
        } else {
            io_error(peer, &e)
        }
    };
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).map_err(closed_or_io)?;
    let size = u32::from_le_bytes(header) as usize;
    if size > max {
        return Err(TransportError::TooLarge { peer, size, max });
    }
    let mut body = vec![0u8; size];
    stream.read_exact(&mut body).map_err(closed_or_io)?;
    Ok(body)
}

impl Transport for TcpTransport {
    fn me(&self) -> usize {
        self.me
    }

    fn endpoints(&self) -> usize {
        self.writers.len()
    }

    fn send(&mut self, to: usize, message: Vec<u8>) -> Result<(), TransportError> {
        check_send(
            self.me,
            to,
            self.endpoints(),
            message.len(),
            self.max_message,
        )?;
        let stream = self.writers[to]
            .as_mut()
            .ok_or(TransportError::Closed { peer: to })?;
        let header = (message.len() as u32).to_le_bytes();
        stream
            .write_all(&header)
            .and_then(|()| stream.write_all(&message))
            .map_err(|e| match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout {
                    peer: to,
                    timeout: self.timeout,
                },
                _ => io_error(to, &e),
            })?;
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += 4 + message.len() as u64;
        Ok(())
    }

    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError> {
        check_peer(self.me, from, self.endpoints())?;
        let inbox = self.inboxes[from]
            .as_ref()
            .ok_or(TransportError::Closed { peer: from })?;
        match inbox.recv_timeout(self.timeout) {
            Ok(Ok(message)) => {
                self.stats.messages_received += 1;
                self.stats.bytes_received += 4 + message.len() as u64;
                Ok(message)
            }
            Ok(Err(e)) => {
                // The reader has stopped; later receives must fail the same way, not hang.
                self.inboxes[from] = None;
                Err(e)
            }
            Err(RecvTimeoutError::Timeout) => Err(TransportError::Timeout {
                peer: from,
                timeout: self.timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(TransportError::Closed { peer: from }),
        }
    }

    fn stats(&self) -> TransportStats {
        self.stats
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        // Ends the reader threads: their blocking reads return once the socket is shut down.
        for stream in self.writers.iter().flatten() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Runs `party(transport)` for every endpoint of a fresh session over loopback TCP, each on its
/// own thread, and returns the results in endpoint order.
pub fn run_on_loopback<R, P>(endpoints: usize, party: P) -> Result<Vec<R>, TransportError>
where
    R: Send,
    P: Fn(TcpTransport) -> R + Sync,
{
    let listeners = (0..endpoints)
        .map(|i| TcpListener::bind("127.0.0.1:0").map_err(|e| io_error(i, &e)))
        .collect::<Result<Vec<_>, _>>()?;
    let addrs = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| l.local_addr().map_err(|e| io_error(i, &e)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut session = [0u8; 16];
    session[..8].copy_from_slice(&(std::process::id() as u64).to_le_bytes());
    session[8..].copy_from_slice(&(addrs[0].port() as u64).to_le_bytes());
    thread::scope(|scope| {
        let party = &party;
        let addrs = &addrs;
        let handles: Vec<_> = listeners
            .iter()
            .enumerate()
            .map(|(me, listener)| {
                scope.spawn(move || {
                    TcpTransport::connect(me, listener, addrs, session, DEFAULT_RECV_TIMEOUT)
                        .map(party)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(payload) => std::panic::resume_unwind(payload),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_messages_cross_both_ways_without_deadlock() {
        let results = run_on_loopback(3, |mut t| {
            let me = t.me();
            let big = vec![me as u8; 8 << 20];
            for to in (0..3).filter(|&p| p != me) {
                t.send(to, big.clone()).unwrap();
                t.send(to, vec![me as u8]).unwrap();
            }
            let mut sizes = Vec::new();
            for from in (0..3).filter(|&p| p != me) {
                let a = t.recv(from).unwrap();
                let b = t.recv(from).unwrap();
                assert!(a.iter().all(|&x| x == from as u8));
                sizes.push((a.len(), b));
            }
            sizes
        })
        .unwrap();
        for (me, sizes) in results.iter().enumerate() {
            for (k, from) in (0..3).filter(|&p| p != me).enumerate() {
                assert_eq!(sizes[k], (8 << 20, vec![from as u8]));
            }
        }
    }

    fn pair(timeout: Duration) -> (TcpTransport, TcpStream) {
        // Endpoint 0 of a two-endpoint session, with the raw socket of a hand-driven endpoint 1.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let session = [7u8; 16];
        let raw = thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let mut hello = HELLO_MAGIC.to_vec();
            hello.extend_from_slice(&session);
            hello.extend_from_slice(&1u32.to_le_bytes());
            s.write_all(&hello).unwrap();
            s
        });
        let t = TcpTransport::connect(0, &listener, &[addr, addr], session, timeout).unwrap();
        (t, raw.join().unwrap())
    }

    #[test]
    fn oversized_frame_is_refused() {
        let (mut t, mut raw) = pair(Duration::from_secs(5));
        raw.write_all(&u32::MAX.to_le_bytes()).unwrap();
        assert!(matches!(
            t.recv(1),
            Err(TransportError::TooLarge { peer: 1, .. })
        ));
        // The link stays failed rather than hanging.
        assert!(matches!(t.recv(1), Err(TransportError::Closed { peer: 1 })));
    }

    #[test]
    fn truncated_frame_and_silence_are_errors() {
        let (mut t, mut raw) = pair(Duration::from_millis(100));
        assert!(matches!(
            t.recv(1),
            Err(TransportError::Timeout { peer: 1, .. })
        ));
        raw.write_all(&10u32.to_le_bytes()).unwrap();
        raw.write_all(&[1, 2, 3]).unwrap();
        drop(raw);
        assert!(matches!(t.recv(1), Err(TransportError::Closed { peer: 1 })));
    }

    #[test]
    fn wrong_hello_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        for (magic, session, index) in [
            (*HELLO_MAGIC, [7u8; 16], 5u32),
            (*HELLO_MAGIC, [8u8; 16], 1),
            (*b"GET / HT", [7u8; 16], 1),
        ] {
            let raw = thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let mut hello = magic.to_vec();
                hello.extend_from_slice(&session);
                hello.extend_from_slice(&index.to_le_bytes());
                s.write_all(&hello).unwrap();
                s
            });
            let r = TcpTransport::connect(
                0,
                &listener,
                &[addr, addr],
                [7u8; 16],
                Duration::from_secs(5),
            );
            assert!(matches!(r, Err(TransportError::Handshake(_))), "{r:?}");
            drop(raw.join());
        }
    }
}
