//! What the chain says about the owners of DHT records, as far as the record store needs it: the
//! peer keys of the active nodes (an announcement's owner) and each registered dataset's manifest
//! hash (the one manifest its on-chain owner registered). The node fills it from the chain; this
//! crate does no I/O and only reads it.
//!
//! A record is *confirmed* when the chain backs it (an announcement of an active node, the
//! manifest whose hash the chain registered), *contradicted* when the chain registered another
//! manifest for its dataset, and *unknown* otherwise (a dataset not registered yet, or one this
//! node has not heard of yet; an announcement of a node that is not active).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// How the chain stands to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The chain backs it.
    Confirmed,
    /// The chain registered another manifest for its dataset.
    Contradicted,
    /// The chain says nothing about it (yet).
    Unknown,
}

/// What a record claims to be, as the chain can check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The announcement of the node with this peer key.
    Node([u8; 32]),
    /// A manifest of `dataset` with this manifest hash.
    Manifest {
        /// The dataset id.
        dataset: [u8; 32],
        /// `DatasetManifest::manifest_hash()`.
        hash: [u8; 32],
    },
}

#[derive(Debug, Default)]
struct View {
    active: HashSet<[u8; 32]>,
    manifests: HashMap<[u8; 32], [u8; 32]>,
}

/// A shared, cheaply cloned view of the chain (every clone is the same view).
#[derive(Debug, Clone, Default)]
pub struct ChainView(Arc<RwLock<View>>);

impl ChainView {
    /// An empty view: nothing is confirmed until the node fills it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the active nodes' peer keys.
    pub fn set_active_nodes(&self, peer_keys: impl IntoIterator<Item = [u8; 32]>) {
        if let Ok(mut v) = self.0.write() {
            v.active = peer_keys.into_iter().collect();
        }
    }

    /// Records the manifest hash the chain registers for `dataset` now (a registration or an
    /// append).
    pub fn set_manifest(&self, dataset: [u8; 32], hash: [u8; 32]) {
        if let Ok(mut v) = self.0.write() {
            v.manifests.insert(dataset, hash);
        }
    }

    /// Datasets whose manifest hash is known.
    pub fn datasets(&self) -> usize {
        self.0.read().map_or(0, |v| v.manifests.len())
    }

    /// How the chain stands to `claim`.
    pub fn standing(&self, claim: &Claim) -> Standing {
        let Ok(v) = self.0.read() else {
            return Standing::Unknown;
        };
        match claim {
            Claim::Node(key) if v.active.contains(key) => Standing::Confirmed,
            Claim::Node(_) => Standing::Unknown,
            Claim::Manifest { dataset, hash } => match v.manifests.get(dataset) {
                Some(registered) if registered == hash => Standing::Confirmed,
                Some(_) => Standing::Contradicted,
                None => Standing::Unknown,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stand_as_the_chain_says() {
        let view = ChainView::new();
        let (node, dataset, hash) = ([1; 32], [2; 32], [3; 32]);
        let manifest = Claim::Manifest { dataset, hash };
        assert_eq!(view.standing(&Claim::Node(node)), Standing::Unknown);
        assert_eq!(view.standing(&manifest), Standing::Unknown);
        let shared = view.clone();
        shared.set_active_nodes([node]);
        shared.set_manifest(dataset, hash);
        assert_eq!(view.standing(&Claim::Node(node)), Standing::Confirmed);
        assert_eq!(view.standing(&manifest), Standing::Confirmed);
        let other = Claim::Manifest {
            dataset,
            hash: [4; 32],
        };
        assert_eq!(view.standing(&other), Standing::Contradicted);
        // An append registers a new hash: the old version is contradicted.
        view.set_manifest(dataset, [4; 32]);
        assert_eq!(view.standing(&manifest), Standing::Contradicted);
        assert_eq!(view.datasets(), 1);
        view.set_active_nodes([]);
        assert_eq!(view.standing(&Claim::Node(node)), Standing::Unknown);
    }
}
