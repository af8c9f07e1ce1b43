//! Bad input from the network or the caller gives a typed error naming the culprit, never a
//! panic or a hang: a rogue party sends hand-crafted frames to two honest parties.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Barrier;
use std::time::Duration;

use sharenet_mpc::field::{Field, FieldError, Mp127};
use sharenet_mpc::protocol::{ProtocolError, RandomnessSource, Session};
use sharenet_mpc::transport::memory::run_in_memory_with_timeout;
use sharenet_mpc::transport::{Transport, TransportError};

const OPEN: u8 = 6;

fn frame(version: u8, kind: u8, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![version, kind];
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(payload);
    m
}

/// Waits at its barrier when dropped: when its party returns, or unwinds from a panic (so that
/// a failing party cannot leave the others waiting for ever).
struct WaitOnDrop<'a>(&'a Barrier);

impl Drop for WaitOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// Parties 0 and 1 open two values; party 2 sends `rogue` (if any) to both instead of its
/// shares. Returns the errors of parties 0 and 1.
///
/// Party 2 keeps its endpoint (letting go of it would close its links) until both honest
/// parties have their error: it never sends its shares, so when it is silent the honest
/// parties can only end at their receive timeout, however slowly any thread runs (no sleep
/// races the timeout).
fn honest_errors(rogue: Option<Vec<u8>>) -> Vec<ProtocolError> {
    let all_done = Barrier::new(3);
    let results = run_in_memory_with_timeout(3, Duration::from_millis(300), |mut tr| {
        // Dropped before `tr`: party 2's links stay open until the barrier opens.
        let _all_done = WaitOnDrop(&all_done);
        if tr.me() == 2 {
            if let Some(bytes) = &rogue {
                tr.send(0, bytes.clone()).unwrap();
                tr.send(1, bytes.clone()).unwrap();
            }
            return None;
        }
        let mut s = Session::<Mp127, _>::new(3, 1, tr, RandomnessSource::HyperInvertible).unwrap();
        Some(s.open(&[Mp127::ONE, Mp127::from_u64(2)]).unwrap_err())
    });
    results.into_iter().flatten().collect()
}

#[test]
fn message_of_the_wrong_kind() {
    for e in honest_errors(Some(frame(1, 1, 0, &[0; 32]))) {
        assert_eq!(
            e,
            ProtocolError::UnexpectedMessage {
                from: 2,
                expected: "Open",
                got: "Input"
            }
        );
    }
}

#[test]
fn out_of_order_message() {
    for e in honest_errors(Some(frame(1, OPEN, 5, &[0; 32]))) {
        assert_eq!(
            e,
            ProtocolError::OutOfOrder {
                from: 2,
                expected: 0,
                got: 5
            }
        );
    }
}

#[test]
fn non_canonical_field_element() {
    let mut payload = vec![0u8; 16];
    payload.extend_from_slice(&[0xff; 16]);
    for e in honest_errors(Some(frame(1, OPEN, 0, &payload))) {
        assert_eq!(
            e,
            ProtocolError::Field {
                from: 2,
                source: FieldError::NonCanonical { field: Mp127::NAME }
            }
        );
    }
}

#[test]
fn wrong_payload_length() {
    for e in honest_errors(Some(frame(1, OPEN, 0, &[0; 31]))) {
        assert_eq!(
            e,
            ProtocolError::WrongLength {
                from: 2,
                expected_bytes: 32,
                got_bytes: 31
            }
        );
    }
}

#[test]
fn truncated_header_and_unknown_version() {
    for rogue in [vec![1u8, OPEN, 0], frame(9, OPEN, 0, &[0; 32])] {
        for e in honest_errors(Some(rogue)) {
            assert!(matches!(e, ProtocolError::Malformed { from: 2, .. }), "{e}");
        }
    }
}

#[test]
fn silent_party_times_out() {
    for e in honest_errors(None) {
        assert!(
            matches!(
                e,
                ProtocolError::Transport(TransportError::Timeout { peer: 2, .. })
            ),
            "{e}"
        );
    }
}

#[test]
fn wrong_party_indices_are_refused() {
    let results = run_in_memory_with_timeout(3, Duration::from_millis(300), |tr| {
        let mut s = Session::<Mp127, _>::new(3, 1, tr, RandomnessSource::HyperInvertible).unwrap();
        let a = s.open_to(3, &[Mp127::ONE]).unwrap_err();
        let b = s.input(7, None, 1).unwrap_err();
        (a, b)
    });
    for (a, b) in results {
        assert_eq!(
            a,
            ProtocolError::BadParty {
                party: 3,
                endpoints: 3
            }
        );
        assert_eq!(
            b,
            ProtocolError::BadParty {
                party: 7,
                endpoints: 3
            }
        );
    }
}
