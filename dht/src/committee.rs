//! Committee selection: the `n` active nodes of an epoch closest in XOR distance to a pool's key.
//!
//! The input is the chain's active set at an epoch, so every node that reads the same epoch
//! computes the same committee: the answer depends only on the *set* of nodes (never on the order
//! they were listed in, nor on any node's local routing table).
//!
//! Order of the members: by increasing `Key::for_node(peer key) XOR Key::for_pool(pool)`, ties
//! broken by the node key bytes and then the peer key bytes. Two distinct node keys are never at
//! the same XOR distance from the pool key, so the tie-breaks only make the order total on paper;
//! duplicate peer keys are refused. A member's position `i` (0-based) is its MPC party index; its
//! Shamir evaluation point is `i + 1`.

use std::collections::HashSet;

use crate::key::{Distance, Key, hex};

/// Largest committee (mirrors the dataset registry's `MAX_COMMITTEE`).
pub const MAX_COMMITTEE: usize = 64;
/// Longest pool id in bytes (mirrors the dataset registry's `MAX_POOL_NAME`).
pub const MAX_POOL_NAME: usize = 128;

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitteeError {
    /// A committee needs at least one member.
    #[error("a committee needs at least one member (n = 0 was asked)")]
    EmptyCommittee,
    /// `n` is above [`MAX_COMMITTEE`].
    #[error("a committee has at most {max} members, {requested} were asked")]
    TooLarge {
        /// Requested size.
        requested: usize,
        /// The limit.
        max: usize,
    },
    /// Fewer active nodes than committee seats.
    #[error(
        "a committee of {requested} was asked but only {available} nodes are active at epoch {epoch}"
    )]
    NotEnoughNodes {
        /// Requested size.
        requested: usize,
        /// Active nodes in the set.
        available: usize,
        /// The epoch of the active set.
        epoch: u64,
    },
    /// The same peer key appears twice in the active set.
    #[error("peer key {peer_key} appears twice in the active set; the chain binds each key once")]
    DuplicatePeerKey {
        /// The duplicated key, hex.
        peer_key: String,
    },
    /// The same account appears twice in the active set.
    #[error("account 0x{account} appears twice in the active set")]
    DuplicateAccount {
        /// The duplicated account, hex.
        account: String,
    },
    /// The pool id is empty or longer than [`MAX_POOL_NAME`] bytes.
    #[error("a pool id is 1 to {max} bytes of UTF-8, this one has {len}")]
    BadPoolName {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A registered pool key is not `Key::for_pool` of the registered pool id.
    #[error("the registered pool key is not the key of pool '{pool}'")]
    PoolKeyMismatch {
        /// The registered pool id.
        pool: String,
    },
    /// A registered committee is not the one the placement rule selects.
    #[error(
        "the committee is not the placement rule's for pool '{pool}' at epoch {epoch}: member {position} differs"
    )]
    NotThePlacement {
        /// The pool id.
        pool: String,
        /// The epoch of the active set checked against.
        epoch: u64,
        /// The first party index (0-based) whose account differs.
        position: usize,
    },
}

/// An active node as the node registry lists it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    /// The node's chain account (20-byte address).
    pub account: [u8; 20],
    /// The node's ed25519 peer key (raw 32 bytes, as registered on chain).
    pub peer_key: [u8; 32],
    /// The network address registered on chain (a multiaddr string; not used for selection).
    pub network_address: String,
}

/// A committee member: the node, its key, and its distance to the pool key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The node.
    pub node: NodeInfo,
    /// `Key::for_node(node.peer_key)`.
    pub node_key: Key,
    /// XOR distance from `node_key` to the pool key.
    pub distance: Distance,
}

/// The committee of a pool at an epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committee {
    /// The epoch of the active set it was selected from.
    pub epoch: u64,
    /// The pool id.
    pub pool: String,
    /// `Key::for_pool(pool)`.
    pub pool_key: Key,
    members: Vec<Member>,
}

impl Committee {
    /// The members in party order (index `i` is MPC party `i`, evaluation point `i + 1`).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Number of members `n`.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the committee is empty (never, for a committee built by [`select_committee`]).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The honest-majority threshold of this committee: [`Committee::threshold_for`]`(n)`.
    pub fn threshold(&self) -> usize {
        Self::threshold_for(self.members.len())
    }

    /// The largest `t` with `t < n / 2`, i.e. `(n - 1) / 2` (0 for `n <= 2`): any `t` members
    /// learn nothing, `t + 1` reconstruct.
    pub fn threshold_for(n: usize) -> usize {
        n.saturating_sub(1) / 2
    }

    /// The party index of a peer key, if it is a member.
    pub fn party_index(&self, peer_key: &[u8; 32]) -> Option<usize> {
        self.members
            .iter()
            .position(|m| &m.node.peer_key == peer_key)
    }

    /// The members' peer keys in party order (as a dataset manifest lists them).
    pub fn peer_keys(&self) -> Vec<[u8; 32]> {
        self.members.iter().map(|m| m.node.peer_key).collect()
    }

    /// The members' accounts in party order (as the dataset registry takes them).
    pub fn accounts(&self) -> Vec<[u8; 20]> {
        self.members.iter().map(|m| m.node.account).collect()
    }
}

/// Selects the committee of `pool` among the active set `nodes` of `epoch`: the `n` nodes whose
/// node key is closest to the pool key, in party order (see the module documentation).
///
/// The result does not depend on the order of `nodes`. Errors: `n` is 0 or above
/// [`MAX_COMMITTEE`], the pool id is empty or too long, a peer key or account appears twice, or
/// fewer than `n` nodes are given.
pub fn select_committee(
    epoch: u64,
    nodes: &[NodeInfo],
    pool: &str,
    n: usize,
) -> Result<Committee, CommitteeError> {
    if n == 0 {
        return Err(CommitteeError::EmptyCommittee);
    }
    if n > MAX_COMMITTEE {
        return Err(CommitteeError::TooLarge {
            requested: n,
            max: MAX_COMMITTEE,
        });
    }
    if pool.is_empty() || pool.len() > MAX_POOL_NAME {
        return Err(CommitteeError::BadPoolName {
            len: pool.len(),
            max: MAX_POOL_NAME,
        });
    }
    let mut peer_keys = HashSet::with_capacity(nodes.len());
    let mut accounts = HashSet::with_capacity(nodes.len());
    for node in nodes {
        if !peer_keys.insert(node.peer_key) {
            return Err(CommitteeError::DuplicatePeerKey {
                peer_key: hex(&node.peer_key),
            });
        }
        if !accounts.insert(node.account) {
            return Err(CommitteeError::DuplicateAccount {
                account: hex(&node.account),
            });
        }
    }
    if nodes.len() < n {
        return Err(CommitteeError::NotEnoughNodes {
            requested: n,
            available: nodes.len(),
            epoch,
        });
    }
    let pool_key = Key::for_pool(pool);
    // Rank by (distance, node key, peer key) without cloning: only the n winners are copied.
    let mut ranked: Vec<(Distance, Key, &NodeInfo)> = nodes
        .iter()
        .map(|node| {
            let node_key = Key::for_node(&node.peer_key);
            (node_key.distance(&pool_key), node_key, node)
        })
        .collect();
    let order = |a: &(Distance, Key, &NodeInfo), b: &(Distance, Key, &NodeInfo)| {
        (a.0, a.1, a.2.peer_key).cmp(&(b.0, b.1, b.2.peer_key))
    };
    if ranked.len() > n {
        ranked.select_nth_unstable_by(n - 1, order);
        ranked.truncate(n);
    }
    ranked.sort_unstable_by(order);
    let all: Vec<Member> = ranked
        .into_iter()
        .map(|(distance, node_key, node)| Member {
            distance,
            node_key,
            node: node.clone(),
        })
        .collect();
    Ok(Committee {
        epoch,
        pool: pool.to_owned(),
        pool_key,
        members: all,
    })
}

/// Checks a committee someone registered against the placement rule: `pool_key` must be
/// `Key::for_pool(pool)` and `accounts` (party order) must be exactly
/// [`select_committee`]`(epoch, nodes, pool, accounts.len())`, member by member. This is the
/// check a node makes before acknowledging a dataset registration: the owner chooses the
/// committee it registers (the chain cannot recompute the blake3 placement), and a node must
/// not vouch for a committee an owner packed with its own nodes.
pub fn verify_committee(
    epoch: u64,
    nodes: &[NodeInfo],
    pool: &str,
    pool_key: &[u8; 32],
    accounts: &[[u8; 20]],
) -> Result<Committee, CommitteeError> {
    if Key::for_pool(pool).as_bytes() != pool_key {
        return Err(CommitteeError::PoolKeyMismatch {
            pool: pool.to_owned(),
        });
    }
    let committee = select_committee(epoch, nodes, pool, accounts.len())?;
    let selected = committee.accounts();
    if let Some(position) = (0..accounts.len()).find(|&i| selected.get(i) != accounts.get(i)) {
        return Err(CommitteeError::NotThePlacement {
            pool: pool.to_owned(),
            epoch,
            position,
        });
    }
    Ok(committee)
}
