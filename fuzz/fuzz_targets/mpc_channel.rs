//! The protocol message framing every MPC message travels in, inside an `/sharenet/mpc/1`
//! envelope's payload (`mpc/src/protocol/channel.rs`): version, kind, per-link sequence number,
//! then raw bytes or canonical field elements.
//!
//! The input is a script of receives on one link: `[op, count, len u16 LE, message]*`, where
//! `op` picks the expected kind (11 kinds) and whether raw bytes, `count` Mp127 elements or
//! `count` Ristretto scalars are expected. The receiver stops at the first error, as a session
//! does. Checked: whatever is received, sent again by a fresh sender, gives the same messages
//! (no non-canonical element or header is accepted).
#![no_main]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use sharenet_mpc::field::{Mp127, RistrettoScalar};
use sharenet_mpc::protocol::{Channel, MessageKind};
use sharenet_mpc::transport::{Transport, TransportError, TransportStats};

const KINDS: [MessageKind; 11] = [
    MessageKind::Input,
    MessageKind::PrssKeys,
    MessageKind::DoubleRandomDeal,
    MessageKind::ToKing,
    MessageKind::FromKing,
    MessageKind::Open,
    MessageKind::OpenTo,
    MessageKind::VssCommitment,
    MessageKind::VssCombined,
    MessageKind::RandomDeal,
    MessageKind::Reshare,
];

/// One end of a two-endpoint link: records what it sends, replays what it is given.
#[derive(Clone, Default)]
struct Wire {
    me: usize,
    sent: Rc<RefCell<Vec<Vec<u8>>>>,
    inbox: Rc<RefCell<VecDeque<Vec<u8>>>>,
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

fuzz_target!(|data: &[u8]| {
    let receiving = Wire {
        me: 1,
        ..Wire::default()
    };
    let sending = Wire::default();
    let mut receiver = Channel::new::<Mp127>(receiving.clone());
    let mut sender = Channel::new::<Mp127>(sending.clone());
    let mut consumed = Vec::new();
    let mut rest = data;
    while rest.len() >= 4 {
        let (op, count) = (rest[0], usize::from(rest[1]));
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let message = rest[4..4 + len].to_vec();
        rest = &rest[4 + len..];
        let kind = KINDS[usize::from(op) % KINDS.len()];
        receiving.inbox.borrow_mut().push_back(message.clone());
        let ok = match (op / 11) % 3 {
            0 => match receiver.recv_bytes(0, kind) {
                Ok(payload) => sender.send_bytes(1, kind, &payload).is_ok(),
                Err(_) => false,
            },
            1 => match receiver.recv_elements::<Mp127>(0, kind, count) {
                Ok(values) => {
                    assert_eq!(values.len(), count);
                    sender.send_elements(1, kind, &values).is_ok()
                }
                Err(_) => false,
            },
            _ => match receiver.recv_elements::<RistrettoScalar>(0, kind, count) {
                Ok(values) => {
                    assert_eq!(values.len(), count);
                    sender.send_elements(1, kind, &values).is_ok()
                }
                Err(_) => false,
            },
        };
        if !ok {
            break;
        }
        consumed.push(message);
    }
    assert_eq!(
        *sending.sent.borrow(),
        consumed,
        "a received message re-encodes to other bytes"
    );
});
