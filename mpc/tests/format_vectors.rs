//! Known-answer vectors for the protocol message framing and the loopback TCP transport,
//! generated independently from docs/protocol.md (`tests/vectors/generate_formats.py`, which
//! writes `tests/vectors/channel.json`): the bytes a `Channel` sends, what it decodes, and the
//! typed error for each malformed message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use sharenet_mpc::field::{Field, FieldError, Mp127, RistrettoScalar};
use sharenet_mpc::protocol::{Channel, MessageKind, ProtocolError};
use sharenet_mpc::transport::tcp::TcpTransport;
use sharenet_mpc::transport::{Transport, TransportError, TransportStats};

fn vectors() -> Value {
    let path = format!("{}/tests/vectors/channel.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn kind(name: &str) -> MessageKind {
    match name {
        "Input" => MessageKind::Input,
        "PrssKeys" => MessageKind::PrssKeys,
        "DoubleRandomDeal" => MessageKind::DoubleRandomDeal,
        "ToKing" => MessageKind::ToKing,
        "FromKing" => MessageKind::FromKing,
        "Open" => MessageKind::Open,
        "OpenTo" => MessageKind::OpenTo,
        "VssCommitment" => MessageKind::VssCommitment,
        "VssCombined" => MessageKind::VssCombined,
        "RandomDeal" => MessageKind::RandomDeal,
        "Reshare" => MessageKind::Reshare,
        other => panic!("unknown kind {other}"),
    }
}

/// One end of a two-endpoint link that records what is sent and replays given messages.
#[derive(Clone)]
struct Wire {
    me: usize,
    sent: Rc<RefCell<Vec<Vec<u8>>>>,
    inbox: Rc<RefCell<VecDeque<Vec<u8>>>>,
}

impl Wire {
    fn new(me: usize, inbox: Vec<Vec<u8>>) -> Self {
        Wire {
            me,
            sent: Rc::default(),
            inbox: Rc::new(RefCell::new(inbox.into())),
        }
    }
}

impl Transport for Wire {
    fn me(&self) -> usize {
        self.me
    }
    fn endpoints(&self) -> usize {
        2
    }
    fn send(&mut self, _to: usize, message: Vec<u8>) -> Result<(), TransportError> {
        self.sent.borrow_mut().push(message);
        Ok(())
    }
    fn recv(&mut self, from: usize) -> Result<Vec<u8>, TransportError> {
        self.inbox
            .borrow_mut()
            .pop_front()
            .ok_or(TransportError::Closed { peer: from })
    }
    fn stats(&self) -> TransportStats {
        TransportStats::default()
    }
}

fn elements<F: Field>(v: &Value) -> Vec<F> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| F::read_bytes(&unhex(e)).unwrap())
        .collect()
}

#[test]
fn a_link_encodes_and_decodes_as_the_vectors_say() {
    let doc = vectors();
    let link = doc["link"].as_array().unwrap();
    assert!(link.len() >= 11);
    let wire = Wire::new(0, Vec::new());
    let mut sender = Channel::new::<Mp127>(wire.clone());
    for m in link {
        let k = kind(m["kind"].as_str().unwrap());
        match m["field"].as_str() {
            Some("Mp127") => sender.send_elements(1, k, &elements::<Mp127>(&m["elements"])),
            Some("RistrettoScalar") => {
                sender.send_elements(1, k, &elements::<RistrettoScalar>(&m["elements"]))
            }
            _ => sender.send_bytes(1, k, &unhex(&m["payload"])),
        }
        .unwrap();
    }
    let expected: Vec<Vec<u8>> = link.iter().map(|m| unhex(&m["encoded"])).collect();
    assert_eq!(*wire.sent.borrow(), expected);

    let mut receiver = Channel::new::<Mp127>(Wire::new(1, expected));
    for m in link {
        let k = kind(m["kind"].as_str().unwrap());
        match m["field"].as_str() {
            Some("Mp127") => {
                let want = elements::<Mp127>(&m["elements"]);
                let got = receiver.recv_elements::<Mp127>(0, k, want.len()).unwrap();
                assert_eq!(got, want, "{m}");
            }
            Some("RistrettoScalar") => {
                let want = elements::<RistrettoScalar>(&m["elements"]);
                let got = receiver
                    .recv_elements::<RistrettoScalar>(0, k, want.len())
                    .unwrap();
                assert_eq!(got, want, "{m}");
            }
            _ => assert_eq!(receiver.recv_bytes(0, k).unwrap(), unhex(&m["payload"])),
        }
    }
}

/// The error as the vectors write it; `field` is the field the receiver expected.
fn error_json<F: Field>(e: &ProtocolError) -> Value {
    match e {
        ProtocolError::Malformed { from: 0, reason } => {
            json!({"error": "Malformed", "reason": reason})
        }
        ProtocolError::UnexpectedMessage {
            from: 0,
            expected,
            got,
        } => json!({"error": "UnexpectedMessage", "expected": expected, "got": got}),
        ProtocolError::OutOfOrder {
            from: 0,
            expected,
            got,
        } => json!({"error": "OutOfOrder", "expected": expected, "got": got}),
        ProtocolError::WrongLength {
            from: 0,
            expected_bytes,
            got_bytes,
        } => json!({
            "error": "WrongLength", "expected_bytes": expected_bytes, "got_bytes": got_bytes
        }),
        ProtocolError::Field {
            from: 0,
            source: FieldError::NonCanonical { field },
        } if *field == F::NAME => json!({"error": "Field", "source": "NonCanonical"}),
        other => json!({ "unexpected": format!("{other:?}") }),
    }
}

fn receive_one<F: Field>(encoded: Vec<u8>, k: MessageKind, count: usize) -> Value {
    let mut receiver = Channel::new::<F>(Wire::new(1, vec![encoded]));
    match receiver.recv_elements::<F>(0, k, count) {
        Ok(_) => json!("accepted"),
        Err(e) => error_json::<F>(&e),
    }
}

#[test]
fn malformed_messages_are_refused_with_the_expected_error() {
    let doc = vectors();
    let cases = doc["malformed"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let expect = &case["expect"];
        let k = kind(expect["kind"].as_str().unwrap());
        let count = expect["count"].as_u64().unwrap() as usize;
        let encoded = unhex(&case["encoded"]);
        let got = match expect["field"].as_str().unwrap() {
            "Mp127" => receive_one::<Mp127>(encoded, k, count),
            _ => receive_one::<RistrettoScalar>(encoded, k, count),
        };
        assert_eq!(got, case["error"], "{}", case["name"]);
    }
}

const TIMEOUT: Duration = Duration::from_secs(30);

fn session(doc: &Value) -> [u8; 16] {
    unhex(&doc["tcp"]["session"]).try_into().unwrap()
}

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn tcp_hellos_and_frames_are_the_vectors() {
    let doc = vectors();
    let tcp = &doc["tcp"];
    let session = session(&doc);
    // Endpoint `index`, the last of `index + 1`, dials every lower endpoint (all at one raw
    // listener here) and greets each with its hello.
    for hello in tcp["hellos"].as_array().unwrap() {
        let index = hello["index"].as_u64().unwrap() as usize;
        let (raw, raw_addr) = listener();
        let (own, own_addr) = listener();
        let mut addrs = vec![raw_addr; index];
        addrs.push(own_addr);
        let transport = TcpTransport::connect(index, &own, &addrs, session, TIMEOUT).unwrap();
        for _ in 0..index {
            let (mut stream, _) = raw.accept().unwrap();
            assert_eq!(read_exactly(&mut stream, 28), unhex(&hello["encoded"]));
        }
        drop(transport);
    }

    let (raw, raw_addr) = listener();
    let (own, own_addr) = listener();
    let mut transport =
        TcpTransport::connect(1, &own, &[raw_addr, own_addr], session, TIMEOUT).unwrap();
    let (mut stream, _) = raw.accept().unwrap();
    read_exactly(&mut stream, 28);
    for frame in tcp["frames"].as_array().unwrap() {
        let encoded = unhex(&frame["encoded"]);
        transport.send(0, unhex(&frame["message"])).unwrap();
        assert_eq!(read_exactly(&mut stream, encoded.len()), encoded);
        stream.write_all(&encoded).unwrap();
        assert_eq!(transport.recv(0).unwrap(), unhex(&frame["message"]));
    }
}

#[test]
fn tcp_frames_over_the_limit_are_refused_before_they_are_read() {
    let doc = vectors();
    let session = session(&doc);
    for case in doc["tcp"]["frame_malformed"].as_array().unwrap() {
        let (raw, raw_addr) = listener();
        let (own, own_addr) = listener();
        let mut transport =
            TcpTransport::connect(1, &own, &[raw_addr, own_addr], session, TIMEOUT).unwrap();
        let (mut stream, _) = raw.accept().unwrap();
        read_exactly(&mut stream, 28);
        stream.write_all(&unhex(&case["header"])).unwrap();
        let error = &case["error"];
        assert_eq!(error["error"], "TooLarge");
        assert_eq!(
            transport.recv(0),
            Err(TransportError::TooLarge {
                peer: 0,
                size: error["size"].as_u64().unwrap() as usize,
                max: error["max"].as_u64().unwrap() as usize,
            }),
            "{}",
            case["name"]
        );
    }
}

/// Endpoint 0 of two accepts one raw connection that sends `hello` and then closes its side.
fn accept_hello(session: [u8; 16], hello: &[u8]) -> Result<TcpTransport, TransportError> {
    let (own, own_addr) = listener();
    let addrs = [own_addr, own_addr];
    let hello = hello.to_vec();
    let dialer = std::thread::spawn(move || {
        let mut stream = TcpStream::connect_timeout(&own_addr, TIMEOUT).unwrap();
        stream.write_all(&hello).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        stream
    });
    let result = TcpTransport::connect(0, &own, &addrs, session, TIMEOUT);
    drop(dialer.join().unwrap());
    result
}

#[test]
fn tcp_hellos_are_checked() {
    let doc = vectors();
    let session = session(&doc);
    let good = doc["tcp"]["hellos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["index"] == 1)
        .unwrap();
    assert!(accept_hello(session, &unhex(&good["encoded"])).is_ok());
    for case in doc["tcp"]["hello_malformed"].as_array().unwrap() {
        assert!(
            matches!(
                accept_hello(session, &unhex(&case["encoded"])),
                Err(TransportError::Handshake(_))
            ),
            "{}",
            case["name"]
        );
    }
}
