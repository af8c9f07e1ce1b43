//! Scale mode: a DHT-level simulation of a large sharenet network (1,000 nodes by default),
//! routing and record storage only, no MPC.
//!
//! Each simulated node has its own k-bucket routing table, filled by the way it joined
//! ([`Bootstrap`]), and its own [`sharenet_dht::PersistentRecordStore`] (the validating store the
//! real node gives to Kademlia). Lookups are a port of libp2p-kad's iterative closest-peers
//! lookup (α requests in flight, k results), counted in hops (request/response times on the
//! critical path; see [`LookupModel`]). Records are real signed
//! [`sharenet_dht::DatasetManifest`]s; committees are computed with the real
//! [`sharenet_dht::select_committee`]. Time is simulated: every request takes one time unit.
//!
//! [`run`] measures, under one seed: lookup hops and requests in the settled network and after
//! churn; whether every node computes the same committee from the chain's active set (it must:
//! 100 %), and how often the n closest nodes a node's own DHT lookup returns would have given
//! the same committee; and how many published manifests are still found after a fraction of
//! the nodes left and as many fresh ones joined, before any repair, after one Kademlia
//! replication interval, and after the committees' own re-put.
//!
//! Why a discrete simulation rather than 1,000 libp2p swarms over a memory transport: see the
//! "Scale mode" section of `docs/simulator.md`.

mod lookup;
mod network;
mod report;
mod run;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use network::{Get, Lookup, Network, NodeId, Put, Replication, SIM_NOW_UNIX};
pub use report::{
    CommitteeStats, LookupStats, NetworkStats, RecordProbe, RecordStage, ScaleReport, Summary,
};
pub use run::run;

/// Largest network [`ScaleConfig::validate`] accepts (memory grows with nodes × k).
pub const MAX_NODES: usize = 100_000;
/// Largest bucket size accepted.
pub const MAX_K: usize = 64;
/// Largest number of lookups, pools or records accepted (each costs simulated work).
pub const MAX_WORK: usize = 1_000_000;

/// Where nodes and keys sit in the key space the DHT routes in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeySpace {
    /// What the node's libp2p-kad does: a node sits at `sha256(peer id)` and a record or pool
    /// key `K` at `sha256(K)`. Committee selection (by `Key::for_node` vs `Key::for_pool`) is
    /// unrelated to these positions.
    #[default]
    Libp2p,
    /// A Kademlia that routes on sharenet keys directly: a node sits at
    /// `Key::for_node(peer key)` and a key at itself, so that the DHT's "n closest to a pool"
    /// is meant to be the pool's committee.
    Sharenet,
}

/// When a lookup sends its next requests. Every request takes one time unit either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LookupModel {
    /// What libp2p does: as soon as one answer arrives, send to the best peers not yet asked
    /// (up to α in flight). A hop is one request/response time on the critical path.
    #[default]
    Eager,
    /// The textbook round model: send α requests, wait for all their answers, repeat. A hop is
    /// a round. Fewer requests than libp2p sends, and at least as many hops.
    Rounds,
}

/// How a node fills its routing table when it joins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Bootstrap {
    /// Classic Kademlia: add one random live node (the bootstrap node), then libp2p's
    /// `bootstrap()` (a lookup of the node's own key, then one random lookup per bucket farther
    /// than its closest neighbour's).
    #[default]
    Kademlia,
    /// What the sharenet node also does: at every epoch it adds (and dials) every active node
    /// listed on chain, so a joiner adds them all and all of them add the joiner (k-bucket
    /// limits apply), then `bootstrap()` as above.
    ChainSeeded,
}

/// Parameters of a scale run. `Default` is the 1,000-node run `sharenet sim --scale` makes (docs/simulator.md "Scale mode").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleConfig {
    /// Nodes in the network (at least `k` and at least `committee_size`).
    pub nodes: usize,
    /// Bucket size and number of closest peers a lookup returns (libp2p: 20).
    pub k: usize,
    /// Requests in flight per lookup (libp2p: 3).
    pub alpha: usize,
    /// Random lookups measured, in the settled network and again after churn.
    pub lookups: usize,
    /// Pools whose committee every node computes.
    pub pools: usize,
    /// Committee size n (3 to 64: a manifest needs a threshold `1 <= t`, `2t < n`).
    pub committee_size: usize,
    /// Dataset manifests published.
    pub records: usize,
    /// Fraction of the nodes that leave (and as many fresh nodes join), `0 <= f < 1`.
    pub churn_fraction: f64,
    /// Seed of every random choice: same seed, same report.
    pub seed: u64,
    /// The key space the DHT routes in.
    pub key_space: KeySpace,
    /// How joining nodes fill their routing tables.
    pub bootstrap: Bootstrap,
    /// When lookups send their requests.
    pub lookup_model: LookupModel,
    /// Periodic bootstraps every node runs once the network is built (libp2p: every 5 min).
    pub refresh_rounds: usize,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        ScaleConfig {
            nodes: 1000,
            k: 20,
            alpha: 3,
            lookups: 2000,
            pools: 50,
            committee_size: 5,
            records: 500,
            churn_fraction: 0.2,
            seed: 1,
            key_space: KeySpace::default(),
            bootstrap: Bootstrap::default(),
            lookup_model: LookupModel::default(),
            refresh_rounds: 1,
        }
    }
}

impl ScaleConfig {
    /// Checks the parameters; the error names the field and the accepted range.
    pub fn validate(&self) -> Result<(), ScaleError> {
        let bad =
            |field: &'static str, reason: String| Err(ScaleError::InvalidConfig { field, reason });
        if self.k == 0 || self.k > MAX_K {
            return bad(
                "k",
                format!("is {}; use 1 to {MAX_K} (libp2p uses 20)", self.k),
            );
        }
        if self.alpha == 0 || self.alpha > self.k {
            return bad(
                "alpha",
                format!("is {}; use 1 to k = {} (libp2p uses 3)", self.alpha, self.k),
            );
        }
        if self.committee_size < 3 || self.committee_size > sharenet_dht::committee::MAX_COMMITTEE {
            return bad(
                "committee_size",
                format!(
                    "is {}; use 3 to {} (a manifest needs 1 <= t and 2t < n)",
                    self.committee_size,
                    sharenet_dht::committee::MAX_COMMITTEE
                ),
            );
        }
        let min_nodes = self.k.max(self.committee_size).max(2);
        if self.nodes < min_nodes || self.nodes > MAX_NODES {
            return bad(
                "nodes",
                format!(
                    "is {}; use {min_nodes} (at least k and the committee size) to {MAX_NODES}",
                    self.nodes
                ),
            );
        }
        if !self.churn_fraction.is_finite() || !(0.0..1.0).contains(&self.churn_fraction) {
            return bad(
                "churn_fraction",
                format!("is {}; use 0 <= f < 1 (0.2 is 20 %)", self.churn_fraction),
            );
        }
        for (field, value) in [
            ("lookups", self.lookups),
            ("pools", self.pools),
            ("records", self.records),
            ("refresh_rounds", self.refresh_rounds),
        ] {
            if value > MAX_WORK {
                return bad(field, format!("is {value}; use at most {MAX_WORK}"));
            }
        }
        if self.records > 0 && self.pools == 0 {
            return bad(
                "pools",
                "is 0 but records are published; every dataset belongs to a pool".to_owned(),
            );
        }
        Ok(())
    }

    /// Nodes that leave (and join) in the churn step: `round(churn_fraction × nodes)`.
    pub fn churn_count(&self) -> usize {
        // In range by `validate`: 0 <= f < 1 and nodes <= MAX_NODES.
        let count = (self.churn_fraction * self.nodes as f64).round();
        if count.is_finite() && count >= 0.0 {
            (count as usize).min(self.nodes)
        } else {
            0
        }
    }
}

/// Errors of the scale mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScaleError {
    /// A configuration value is out of range.
    #[error("scale mode: `{field}` {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// More nodes than node ids.
    #[error("scale mode: too many nodes for 32-bit node ids")]
    TooManyNodes,
    /// An operation was asked of a node that has left (or never existed).
    #[error("scale mode: node {node} is not a live node")]
    NotLive {
        /// The node index.
        node: u32,
    },
    /// A node identity could not be made.
    #[error("scale mode: could not make a node identity: {reason}")]
    Identity {
        /// Why.
        reason: String,
    },
    /// Committee selection failed.
    #[error("scale mode: committee selection failed: {0}")]
    Committee(#[from] sharenet_dht::CommitteeError),
    /// A measurement worker thread failed (a bug: please report it).
    #[error("scale mode: internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
    /// A record could not be made, signed or stored.
    #[error("scale mode: record: {reason}")]
    Record {
        /// Why.
        reason: String,
    },
}

/// An independent random stream per purpose, all from one seed: adding a draw to one part of
/// the simulation does not shift the choices of another.
pub(crate) fn rng_for(seed: u64, purpose: &str) -> ChaCha8Rng {
    let mut input = Vec::with_capacity(8 + purpose.len());
    input.extend_from_slice(&seed.to_le_bytes());
    input.extend_from_slice(purpose.as_bytes());
    ChaCha8Rng::from_seed(blake3::derive_key(
        "sharenet 2026-11 simulator scale rng v1",
        &input,
    ))
}
