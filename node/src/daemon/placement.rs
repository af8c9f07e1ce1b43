//! The check behind every acknowledgement of a dataset registration: its committee must be the
//! placement rule's (`sharenet_dht::verify_committee`) over the chain's active set at the
//! registration. An owner chooses the committee it registers, and the chain cannot recompute the
//! blake3 placement; a node that acknowledged a committee an owner packed with its own nodes could
//! be slashed by them, so it acknowledges only the committee everyone computes.
//!
//! The active set "at the registration" is the one the chain follower has rebuilt from the node
//! registry's events up to the registration's log position ([`ActiveSet`]): the follower may read
//! a registration long after it was mined, when the set has changed again. The registry refuses a
//! registration whose `committeeEpoch` is not the epoch of its block, so the set rebuilt here is
//! the set the owner chose from.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use sharenet_chain_adapter::ChainEventKind;
use sharenet_chain_adapter::bindings::DatasetRegistry::DatasetRegistered;
use sharenet_chain_adapter::bindings::NodeRegistry::NodeRegistryEvents;
use sharenet_dht::{CommitteeError, NodeInfo, verify_committee};

/// The node registry's active set as of some position in the chain's event stream, rebuilt
/// from its events (`NodeRegistered` binds a peer key, `StakeReleased` frees it,
/// `ActiveSetChanged` moves a node in or out and sets the epoch). Persisted with the follower's
/// event cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActiveSet {
    epoch: u64,
    /// Peer key of every registered account.
    keys: BTreeMap<Address, B256>,
    active: BTreeSet<Address>,
}

/// Why a registration that lists this node is not acknowledged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The registration's epoch is not the epoch of the set it was mined at.
    #[error(
        "registered for the active set of epoch {registered}, but the chain was at epoch {current}"
    )]
    Epoch {
        /// The `committeeEpoch` it names.
        registered: u64,
        /// The epoch at its log position.
        current: u64,
    },
    /// An active node's peer key was never seen (the events read are incomplete).
    #[error("active node {0} has no registered peer key in the events read")]
    UnknownKey(Address),
    /// The committee is not the placement rule's.
    #[error("{0}")]
    Placement(#[from] CommitteeError),
}

impl ActiveSet {
    /// Applies one event (anything but a node registry event is ignored).
    pub(crate) fn apply(&mut self, event: &ChainEventKind) {
        let ChainEventKind::Node(e) = event else {
            return;
        };
        match e {
            NodeRegistryEvents::NodeRegistered(r) => {
                self.keys.insert(r.node, r.peerKey);
            }
            NodeRegistryEvents::StakeReleased(r) => {
                self.keys.remove(&r.node);
            }
            NodeRegistryEvents::ActiveSetChanged(c) => {
                self.epoch = c.epoch;
                if c.active {
                    self.active.insert(c.node);
                } else {
                    self.active.remove(&c.node);
                }
            }
            _ => {}
        }
    }

    fn nodes(&self) -> Result<Vec<NodeInfo>, Refusal> {
        self.active
            .iter()
            .map(|account| {
                let key = self
                    .keys
                    .get(account)
                    .ok_or(Refusal::UnknownKey(*account))?;
                Ok(NodeInfo {
                    account: account.into_array(),
                    peer_key: key.0,
                    // Not used by the selection.
                    network_address: String::new(),
                })
            })
            .collect()
    }
}

/// Whether a registration may be acknowledged as far as its committee goes: it names the epoch
/// of `active` (the set at its log position) and its pool key and committee, in party order, are
/// the placement rule's over that set.
pub(crate) fn check_registration(active: &ActiveSet, e: &DatasetRegistered) -> Result<(), Refusal> {
    if e.committeeEpoch != active.epoch {
        return Err(Refusal::Epoch {
            registered: e.committeeEpoch,
            current: active.epoch,
        });
    }
    let accounts: Vec<[u8; 20]> = e.committee.iter().map(|a| a.into_array()).collect();
    verify_committee(
        active.epoch,
        &active.nodes()?,
        &e.pool,
        &e.poolKey.0,
        &accounts,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use alloy::primitives::U256;
    use sharenet_chain_adapter::bindings::NodeRegistry::{
        ActiveSetChanged, NodeRegistered, StakeReleased,
    };
    use sharenet_dht::{Key, select_committee};

    use super::*;

    fn account(i: u8) -> Address {
        Address::repeat_byte(i)
    }

    fn key(i: u8) -> B256 {
        B256::from(*blake3::hash(&[i]).as_bytes())
    }

    fn registered(i: u8) -> ChainEventKind {
        ChainEventKind::Node(NodeRegistryEvents::NodeRegistered(NodeRegistered {
            node: account(i),
            peerKey: key(i),
            networkAddress: String::new(),
            deposit: U256::from(1),
        }))
    }

    fn changed(epoch: u64, i: u8, active: bool) -> ChainEventKind {
        ChainEventKind::Node(NodeRegistryEvents::ActiveSetChanged(ActiveSetChanged {
            epoch,
            node: account(i),
            active,
        }))
    }

    fn registration(epoch: u64, pool: &str, committee: Vec<Address>) -> DatasetRegistered {
        DatasetRegistered {
            datasetId: B256::repeat_byte(1),
            owner: account(99),
            poolKey: B256::from(*Key::for_pool(pool).as_bytes()),
            salt: B256::ZERO,
            committeeEpoch: epoch,
            pool: pool.into(),
            schemaHash: B256::ZERO,
            manifestHash: B256::ZERO,
            rows: 1,
            committee,
            threshold: 1,
        }
    }

    /// The placement committee of `pool` over the nodes `members`, computed directly.
    fn placed(epoch: u64, members: &[u8], pool: &str, n: usize) -> Vec<Address> {
        let nodes: Vec<NodeInfo> = members
            .iter()
            .map(|&i| NodeInfo {
                account: account(i).into_array(),
                peer_key: key(i).0,
                network_address: String::new(),
            })
            .collect();
        select_committee(epoch, &nodes, pool, n)
            .unwrap()
            .accounts()
            .into_iter()
            .map(Address::from)
            .collect()
    }

    #[test]
    fn the_set_follows_joins_exits_and_re_registrations() {
        let mut set = ActiveSet::default();
        let mut epoch = 0;
        for i in 1..=6 {
            set.apply(&registered(i));
            epoch += 1;
            set.apply(&changed(epoch, i, true));
        }
        let at_six = set.clone();
        let committee = placed(6, &[1, 2, 3, 4, 5, 6], "clinics", 3);
        check_registration(&set, &registration(6, "clinics", committee.clone())).unwrap();
        // A member leaves: the same committee is no longer the placement of the new epoch's set,
        // and a registration naming the old epoch at this position is refused.
        let leaving = committee[0][0];
        set.apply(&changed(7, leaving, false));
        assert!(matches!(
            check_registration(&set, &registration(6, "clinics", committee.clone())),
            Err(Refusal::Epoch {
                registered: 6,
                current: 7
            })
        ));
        assert!(matches!(
            check_registration(&set, &registration(7, "clinics", committee.clone())),
            Err(Refusal::Placement(CommitteeError::NotThePlacement { .. }))
        ));
        let rest: Vec<u8> = (1..=6).filter(|&i| i != leaving).collect();
        check_registration(
            &set,
            &registration(7, "clinics", placed(7, &rest, "clinics", 3)),
        )
        .unwrap();
        // The set of epoch 6 was kept apart (the follower applies a page to a copy).
        check_registration(&at_six, &registration(6, "clinics", committee)).unwrap();
        // It withdraws and registers again under a new key: the new key places it.
        set.apply(&ChainEventKind::Node(NodeRegistryEvents::StakeReleased(
            StakeReleased {
                node: account(leaving),
                amount: U256::from(1),
            },
        )));
        assert!(!set.keys.contains_key(&account(leaving)));
        set.apply(&registered(leaving));
        set.apply(&changed(8, leaving, true));
        assert_eq!((set.epoch, set.active.len()), (8, 6));
        check_registration(
            &set,
            &registration(8, "clinics", placed(8, &[1, 2, 3, 4, 5, 6], "clinics", 3)),
        )
        .unwrap();
    }

    #[test]
    fn a_packed_committee_or_a_wrong_pool_key_is_refused() {
        let mut set = ActiveSet::default();
        for i in 1..=7 {
            set.apply(&registered(i));
            set.apply(&changed(u64::from(i), i, true));
        }
        let good = placed(7, &[1, 2, 3, 4, 5, 6, 7], "clinics", 3);
        // Two of the owner's nodes next to one victim from the placement.
        let outside: Vec<Address> = (1..=7).map(account).filter(|a| !good.contains(a)).collect();
        let packed = vec![outside[0], outside[1], good[0]];
        assert!(matches!(
            check_registration(&set, &registration(7, "clinics", packed)),
            Err(Refusal::Placement(CommitteeError::NotThePlacement { .. }))
        ));
        let mut wrong_key = registration(7, "clinics", good);
        wrong_key.poolKey = B256::repeat_byte(7);
        assert!(matches!(
            check_registration(&set, &wrong_key),
            Err(Refusal::Placement(CommitteeError::PoolKeyMismatch { .. }))
        ));
        // An active node whose registration was never read cannot be placed: refuse.
        set.apply(&changed(8, 42, true));
        assert!(matches!(
            check_registration(&set, &registration(8, "clinics", vec![account(1)])),
            Err(Refusal::UnknownKey(a)) if a == account(42)
        ));
    }
}
