//! Dataset manifests from the DHT: a short-lived client dials the committees, fetches each
//! dataset's signed manifest and checks its hash against the one registered on chain. The chain
//! is the authority: a manifest whose hash differs is reported as such, never trusted.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use alloy::primitives::{Address, B256};
use sharenet_chain_adapter::{DatasetInfo, Ledger};
use sharenet_dht::{DatasetManifest, Key, RecordContent};
use sharenet_node::daemon::peer_id_from_chain_key;
use sharenet_node::net::Client;

use crate::target::Session;

/// What the DHT says about one dataset's manifest.
#[derive(Debug, Clone)]
pub enum ManifestState {
    /// The manifest whose hash the chain registered.
    Registered(DatasetManifest),
    /// Manifests were found, but none has the registered hash (the newest is given).
    Mismatch(DatasetManifest),
    /// No committee member answered with one.
    NotFound,
    /// The committee could not be reached.
    Unreachable(String),
}

impl ManifestState {
    /// The manifest to take the name and schema from: only the registered one.
    pub fn registered(&self) -> Option<&DatasetManifest> {
        match self {
            ManifestState::Registered(m) => Some(m),
            _ => None,
        }
    }

    /// A word for humans and JSON.
    pub fn status(&self) -> &'static str {
        match self {
            ManifestState::Registered(_) => "matches the chain",
            ManifestState::Mismatch(_) => "differs from the chain (not trusted)",
            ManifestState::NotFound => "not found in the DHT",
            ManifestState::Unreachable(_) => "committee unreachable",
        }
    }
}

/// Fetches the manifests of `datasets` (id, on-chain record) within about `budget`.
pub async fn fetch(
    session: &Session,
    datasets: &[(B256, DatasetInfo)],
    budget: Duration,
) -> HashMap<B256, ManifestState> {
    let mut out = HashMap::new();
    if datasets.is_empty() {
        return out;
    }
    let client = match crate::dataset::network_client(budget) {
        Ok(c) => c,
        Err(f) => {
            for (id, _) in datasets {
                out.insert(*id, ManifestState::Unreachable(f.message.clone()));
            }
            return out;
        }
    };
    let members: HashSet<Address> = datasets
        .iter()
        .flat_map(|(_, info)| info.committee.iter().copied())
        .collect();
    let reached = dial_all(session, &client, members, budget).await;
    let mut tasks = Vec::new();
    for (id, info) in datasets {
        if !info.committee.iter().any(|a| reached.contains(a)) {
            out.insert(
                *id,
                ManifestState::Unreachable("no committee member answered a dial".into()),
            );
            continue;
        }
        let (client, id, hash) = (client.clone(), *id, info.manifestHash);
        tasks.push(tokio::spawn(async move {
            let state = tokio::time::timeout(budget, lookup(&client, id, hash))
                .await
                .unwrap_or(ManifestState::NotFound);
            (id, state)
        }));
    }
    for t in tasks {
        if let Ok((id, state)) = t.await {
            out.insert(id, state);
        }
    }
    let _ = client.shutdown().await;
    out
}

/// Dials the nodes of `accounts` (their addresses from the chain) concurrently; the ones reached.
async fn dial_all(
    session: &Session,
    client: &Client,
    accounts: HashSet<Address>,
    budget: Duration,
) -> HashSet<Address> {
    let mut tasks = Vec::new();
    for account in accounts {
        let Ok(info) = session.ledger.node_info(account).await else {
            continue;
        };
        let Some(peer) = peer_id_from_chain_key(info.peerKey) else {
            continue;
        };
        let Some(addr) = sharenet_node::owner::dial_address(&info.networkAddress) else {
            continue;
        };
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let ok = matches!(
                tokio::time::timeout(budget, client.dial(peer, addr)).await,
                Ok(Ok(()))
            );
            (account, ok)
        }));
    }
    let mut reached = HashSet::new();
    for t in tasks {
        if let Ok((account, true)) = t.await {
            reached.insert(account);
        }
    }
    reached
}

/// The manifest of `id` with hash `registered`, else the newest other one; a few tries while the
/// fresh client's routing table fills.
async fn lookup(client: &Client, id: B256, registered: B256) -> ManifestState {
    let mut newest: Option<DatasetManifest> = None;
    for attempt in 0..5u64 {
        if let Ok(found) = client.get_signed_records(Key::for_dataset(&id.0)).await {
            for f in found {
                if let Ok(RecordContent::Manifest(m)) = f.record.content()
                    && m.dataset_id == id.0
                {
                    if m.is_registered_version(&id.0, &registered.0) {
                        return ManifestState::Registered(m);
                    }
                    if newest.as_ref().is_none_or(|n| m.version > n.version) {
                        newest = Some(m);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
    }
    match newest {
        Some(m) => ManifestState::Mismatch(m),
        None => ManifestState::NotFound,
    }
}
