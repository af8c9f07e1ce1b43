//! What a node publishes in the DHT: its own signed announcement (at start, every
//! [`ANNOUNCE_INTERVAL`], and whenever its addresses or the chain's epoch change), and the
//! manifests of the datasets it holds, re-put every [`MANIFEST_REPUT_INTERVAL`] so that they
//! outlive Kademlia's record TTL (48 h) after the uploading client is gone.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::B256;
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol as AddrProtocol;
use sharenet_chain_adapter::Ledger;
use sharenet_dht::record::{MAX_ADDR_LEN, MAX_ANNOUNCED_ADDRS};
use sharenet_dht::{Key, NodeAnnouncement, RecordContent, SignedRecord};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::NodeError;
use crate::http::SharedStatus;
use crate::net::{Client, NetError};
use crate::store::{DatasetId, ShareStore, UploadState};

/// How often a node re-signs and re-publishes its announcement (well within the 48 h for which
/// an announcement is valid).
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(4 * 3600);
/// How often the announcer checks whether the epoch or the addresses changed.
const ANNOUNCE_CHECK: Duration = Duration::from_secs(1);
/// How soon a failed announcement is first tried again (then twice as late each time).
const ANNOUNCE_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two tries of a failed announcement.
const ANNOUNCE_RETRY_MAX: Duration = Duration::from_secs(60);
/// How often a committee member re-puts the manifests of the datasets it holds (well below
/// Kademlia's 48 h record TTL).
pub const MANIFEST_REPUT_INTERVAL: Duration = Duration::from_secs(6 * 3600);
/// How soon a manifest that could not be found or published is first tried again (then twice as
/// late each time, up to [`MANIFEST_RETRY_MAX`]).
const MANIFEST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait before a manifest that could not be found or published is tried again.
const MANIFEST_RETRY_MAX: Duration = Duration::from_secs(600);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The addresses a node announces: its listen addresses with its peer id, at most 16.
pub fn announced_addresses(listen: &[Multiaddr], peer: libp2p::PeerId) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for addr in listen {
        let addr = if addr.iter().any(|p| matches!(p, AddrProtocol::P2p(_))) {
            addr.clone()
        } else {
            addr.clone().with(AddrProtocol::P2p(peer))
        };
        let s = addr.to_string();
        if s.len() <= MAX_ADDR_LEN && !out.contains(&s) {
            out.push(s);
        }
        if out.len() == MAX_ANNOUNCED_ADDRS {
            break;
        }
    }
    out
}

/// Signs and publishes this node's announcement for `epoch`.
pub async fn publish_announcement(client: &Client, epoch: u64) -> Result<(), NetError> {
    let peer_key = client.peer_key().ok_or_else(|| NetError::RecordRefused {
        reason: "the node identity is not an ed25519 key".into(),
    })?;
    let listen = client.listen_addrs().await?;
    let addresses = announced_addresses(&listen, client.local_peer_id());
    let announcement = NodeAnnouncement {
        peer_key,
        addresses,
        epoch,
        timestamp: unix_now(),
    };
    let record = client.sign_announcement(&announcement)?;
    client.put_record(record).await
}

/// Publishes the node's announcement at start, every [`ANNOUNCE_INTERVAL`], and when the epoch
/// (from the chain follower's status) or the listen addresses change. Runs until the swarm stops.
pub(super) async fn announce(client: Client, status: SharedStatus) {
    let mut last: Option<(u64, Vec<Multiaddr>, Instant)> = None;
    let mut retry_at: Option<Instant> = None;
    let mut backoff = ANNOUNCE_RETRY_FIRST;
    loop {
        let epoch = status.lock().map(|s| s.epoch).unwrap_or_default();
        let listen = match client.listen_addrs().await {
            Ok(a) => a,
            Err(NetError::Closed) => return,
            Err(_) => Vec::new(),
        };
        let due = match &last {
            None => true,
            Some((e, a, at)) => *e != epoch || *a != listen || at.elapsed() >= ANNOUNCE_INTERVAL,
        };
        if due && retry_at.is_none_or(|r| Instant::now() >= r) {
            match publish_announcement(&client, epoch).await {
                Ok(()) => {
                    debug!(epoch, "node announcement published");
                    last = Some((epoch, listen, Instant::now()));
                    retry_at = None;
                    backoff = ANNOUNCE_RETRY_FIRST;
                }
                Err(NetError::Closed) => return,
                Err(e) => {
                    debug!(error = %e, "node announcement not published yet; retrying");
                    // Typically no peer is connected yet (the chain follower dials them).
                    retry_at = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(ANNOUNCE_RETRY_MAX);
                }
            }
        }
        tokio::time::sleep(ANNOUNCE_CHECK).await;
    }
}

/// The current retry delay; doubles the next one, up to [`MANIFEST_RETRY_MAX`].
fn back_off(retry: &mut Duration) -> Duration {
    let now = *retry;
    *retry = (now * 2).min(MANIFEST_RETRY_MAX);
    now
}

/// Keeps the manifests of the datasets this node holds alive in the DHT.
pub(super) struct ManifestKeeper<L> {
    pub(super) client: Client,
    pub(super) store: ShareStore,
    pub(super) ledger: L,
    /// Woken when a dataset is acknowledged (its manifest should be fetched now).
    pub(super) wake: Arc<Notify>,
}

impl<L: Ledger> ManifestKeeper<L> {
    /// Runs until the swarm stops.
    pub(super) async fn run(self) {
        let mut retry = MANIFEST_RETRY;
        loop {
            let next = match self.round().await {
                Ok(true) => {
                    retry = MANIFEST_RETRY;
                    MANIFEST_REPUT_INTERVAL
                }
                Ok(false) => back_off(&mut retry),
                Err(NodeError::Net(NetError::Closed)) => return,
                Err(e) => {
                    warn!(error = %e, "keeping the dataset manifests failed; retrying");
                    back_off(&mut retry)
                }
            };
            // A newly acknowledged dataset wakes the keeper at once (and resets the back-off).
            tokio::select! {
                _ = tokio::time::sleep(next) => {}
                _ = self.wake.notified() => retry = MANIFEST_RETRY,
            }
        }
    }

    /// One pass over the registered datasets held here: find each one's manifest (stored, or
    /// fetched from the DHT and checked against the chain's manifest hash) and re-put it.
    /// Returns whether every manifest was published.
    async fn round(&self) -> Result<bool, NodeError> {
        let store = self.store.clone();
        let datasets = tokio::task::spawn_blocking(move || store.datasets())
            .await
            .map_err(|e| NodeError::Task(e.to_string()))??;
        let mut all = true;
        for d in datasets {
            if d.state != UploadState::Registered {
                continue;
            }
            match self.keep(d.id).await {
                Ok(true) => {}
                Ok(false) => all = false,
                Err(NodeError::Net(NetError::Closed)) => return Err(NetError::Closed.into()),
                Err(e) => {
                    debug!(dataset = %d.id, error = %e, "manifest not re-published");
                    all = false;
                }
            }
        }
        Ok(all)
    }

    async fn keep(&self, id: DatasetId) -> Result<bool, NodeError> {
        let chain_hash = self
            .ledger
            .dataset_info(B256::from(id.0))
            .await?
            .manifestHash;
        let matches = |r: &SignedRecord| match r.content() {
            Ok(RecordContent::Manifest(m)) => m.is_registered_version(&id.0, &chain_hash.0),
            _ => false,
        };
        let store = self.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.manifest(&id))
            .await
            .map_err(|e| NodeError::Task(e.to_string()))??
            .and_then(|bytes| SignedRecord::from_bytes(&bytes).ok())
            .filter(|r| matches(r));
        let record = match stored {
            Some(r) => r,
            None => {
                let found = self
                    .client
                    .get_signed_records(Key::for_dataset(&id.0))
                    .await?;
                let Some(f) = found.into_iter().find(|f| matches(&f.record)) else {
                    debug!(dataset = %id, "the manifest registered on chain is not in the DHT yet");
                    return Ok(false);
                };
                let store = self.store.clone();
                let bytes = f.record.to_bytes();
                tokio::task::spawn_blocking(move || store.put_manifest(&id, &bytes))
                    .await
                    .map_err(|e| NodeError::Task(e.to_string()))??;
                info!(dataset = %id, "dataset manifest fetched from the DHT and stored");
                f.record
            }
        };
        // A manifest held locally that contradicts the chain (a squatter's, published first)
        // would make the store refuse the registered one: remove it.
        let key = Key::for_dataset(&id.0);
        if let Some(local) = self.client.local_record(key).await?
            && !matches(&local)
        {
            warn!(dataset = %id, "removing a stored manifest that contradicts the chain");
            self.client.remove_local_record(key).await?;
        }
        match self.client.put_record(record).await {
            Ok(()) => Ok(true),
            Err(NetError::NotPublished { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn announced_addresses_carry_the_peer_id_and_are_bounded() {
        let peer = libp2p::PeerId::random();
        let listen: Vec<Multiaddr> = (0..20)
            .map(|i| format!("/ip4/10.0.0.{i}/tcp/4001").parse().unwrap())
            .chain(["/ip4/10.0.0.0/tcp/4001".parse().unwrap()])
            .collect();
        let out = announced_addresses(&listen, peer);
        assert_eq!(out.len(), MAX_ANNOUNCED_ADDRS);
        assert_eq!(out[0], format!("/ip4/10.0.0.0/tcp/4001/p2p/{peer}"));
        let with_id: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}").parse().unwrap();
        assert_eq!(
            announced_addresses(std::slice::from_ref(&with_id), peer),
            vec![with_id.to_string()]
        );
    }
}
