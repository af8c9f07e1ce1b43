//! The data owner's side of a dataset (the library behind `sharenet dataset upload`): find the
//! pool's committee from the chain's active nodes, choose a random salt (the dataset id is
//! `datasetIdFor(owner account, salt)`, so only this account can register it), upload the table
//! with verification, register the dataset on chain with its committee, the committee's epoch
//! and the manifest hash, and wait for every committee member to acknowledge it. The manifest, signed with the client's identity, is published in the DHT
//! right after the registration (committee members then fetch it, check it against the chain's
//! manifest hash and keep it alive).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256};
use libp2p::{Multiaddr, PeerId};
use sharenet_chain_adapter::{ChainError, ContractError, Ledger, NewDataset};
use sharenet_dht::{Committee, DatasetManifest, Key, ManifestMember, NodeInfo, select_committee};
use sharenet_query::Schema;

use crate::daemon::peer_id_from_chain_key;
use crate::net::{Client, NetError};
use crate::table::EncodedTable;
use crate::upload::uploader::{BatchAuthor, UploadError, upload_rows, upload_table};
use crate::upload::wire::{DatasetOrigin, Receipt};

/// Why an owner operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OwnerError {
    /// The chain.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// The pool's committee could not be formed.
    #[error("committee for pool '{pool}': {reason}")]
    Committee {
        /// The pool.
        pool: String,
        /// Why.
        reason: String,
    },
    /// A committee member could not be reached.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The upload failed (nothing was registered on chain).
    #[error("upload failed, nothing was registered: {0}")]
    Upload(#[from] UploadError),
    /// The dataset cannot be appended to by this account, or with this schema.
    #[error("dataset {dataset}: {reason}")]
    Dataset {
        /// The dataset id.
        dataset: B256,
        /// Why.
        reason: String,
    },
    /// The dataset is registered on chain but its manifest could not be put in the DHT.
    #[error("dataset registered, but its manifest was not published in the DHT: {0}")]
    ManifestNotPublished(NetError),
    /// Not every member acknowledged in time.
    #[error("{missing} committee member(s) did not acknowledge the dataset within {timeout:?}")]
    NotAcknowledged {
        /// How many are missing.
        missing: usize,
        /// How long we waited.
        timeout: Duration,
    },
}

/// What an upload did.
#[derive(Debug, Clone)]
pub struct UploadSummary {
    /// The dataset id.
    pub dataset: [u8; 32],
    /// Rows uploaded.
    pub rows: usize,
    /// The committee, in party order.
    pub committee: Vec<PeerId>,
    /// Their accounts.
    pub accounts: Vec<Address>,
    /// Receipts collected (one per member per batch).
    pub receipts: usize,
    /// The manifest registered on chain.
    pub manifest: DatasetManifest,
}

/// The digest of one node's receipts for a dataset (batch order), acknowledged on chain.
pub fn receipts_digest<'a>(receipts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("sharenet 2026 dataset receipts");
    for r in receipts {
        h.update(&(r.len() as u64).to_le_bytes());
        h.update(r);
    }
    *h.finalize().as_bytes()
}

/// Each member's entry in a manifest: its key and the digest of its receipts (batch order).
pub fn manifest_members(peer_keys: &[[u8; 32]], receipts: &[Receipt]) -> Vec<ManifestMember> {
    peer_keys
        .iter()
        .enumerate()
        .map(|(party, peer_key)| {
            let mine: Vec<Vec<u8>> = receipts
                .iter()
                .filter(|r| usize::from(r.party) == party)
                .map(Receipt::encode)
                .collect();
            ManifestMember {
                peer_key: *peer_key,
                receipt_hash: receipts_digest(mine.iter().map(Vec::as_slice)),
            }
        })
        .collect()
}

/// The address to dial a node at, from the network address it registered on chain; `None` if
/// it does not parse. A `/p2p/…` part is left for [`Client::dial`], the one place that checks it
/// names the peer dialled and drops it (and refuses one before the end).
pub fn dial_address(registered: &str) -> Option<Multiaddr> {
    registered.parse::<Multiaddr>().ok()
}

/// The pool's committee of `n` among the chain's active nodes.
pub async fn committee_for_pool<L: Ledger>(
    ledger: &L,
    pool: &str,
    n: usize,
) -> Result<(Committee, u64), OwnerError> {
    let epoch = ledger.epoch().await?;
    let mut nodes = Vec::new();
    for account in ledger.active_nodes().await? {
        let info = ledger.node_info(account).await?;
        nodes.push(NodeInfo {
            account: account.into_array(),
            peer_key: info.peerKey.0,
            network_address: info.networkAddress,
        });
    }
    let committee =
        select_committee(epoch, &nodes, pool, n).map_err(|e| OwnerError::Committee {
            pool: pool.to_string(),
            reason: e.to_string(),
        })?;
    Ok((committee, epoch))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The manifest of `dataset` whose hash is the one registered on chain, from the DHT (`None` if
/// no peer holds it).
pub async fn registered_manifest(
    client: &Client,
    dataset: B256,
    registered_hash: B256,
) -> Result<Option<DatasetManifest>, OwnerError> {
    let found = client
        .get_signed_records(Key::for_dataset(&dataset.0))
        .await?;
    Ok(found.into_iter().find_map(|f| match f.record.content() {
        Ok(sharenet_dht::RecordContent::Manifest(m))
            if m.is_registered_version(&dataset.0, &registered_hash.0) =>
        {
            Some(m)
        }
        _ => None,
    }))
}

/// Puts a signed manifest in the DHT, trying again until `deadline` while no peer takes it.
pub async fn publish_manifest(
    client: &Client,
    record: sharenet_dht::SignedRecord,
    deadline: tokio::time::Instant,
) -> Result<(), OwnerError> {
    loop {
        match client.put_record(record.clone()).await {
            Ok(()) => return Ok(()),
            Err(e @ (NetError::NotPublished { .. } | NetError::Timeout { .. })) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(OwnerError::ManifestNotPublished(e));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(OwnerError::ManifestNotPublished(e)),
        }
    }
}

/// A registration refused because the active set changed since the committee was chosen, as a
/// committee error that says what to do; any other chain error as it is.
fn stale_committee(e: ChainError, pool: &str) -> OwnerError {
    match e.contract_error() {
        Some(ContractError::StaleCommitteeEpoch(s)) => OwnerError::Committee {
            pool: pool.to_string(),
            reason: format!(
                "the active set changed during the upload (epoch {} -> {}): the shares are on the \
                 old committee; upload again",
                s.committeeEpoch, s.current
            ),
        },
        _ => OwnerError::Chain(e),
    }
}

/// Uploads `table` as dataset `name` into `pool` with a committee of `n` and threshold `t`,
/// registers it on chain and waits for every member's acknowledgement.
#[allow(clippy::too_many_arguments)]
pub async fn upload_dataset<L: Ledger>(
    ledger: &L,
    client: &Client,
    schema: &Schema,
    table: &EncodedTable,
    name: &str,
    pool: &str,
    n: usize,
    t: usize,
    min_cohort: u32,
    batch_rows: usize,
    ack_timeout: Duration,
) -> Result<UploadSummary, OwnerError> {
    let (committee, epoch) = committee_for_pool(ledger, pool, n).await?;
    let mut peers = Vec::with_capacity(n);
    for member in committee.members() {
        let peer = peer_id_from_chain_key(B256::from(member.node.peer_key)).ok_or_else(|| {
            OwnerError::Committee {
                pool: pool.to_string(),
                reason: "a member's peer key is not an ed25519 key".into(),
            }
        })?;
        if let Some(addr) = dial_address(&member.node.network_address) {
            client.dial(peer, addr).await?;
        }
        peers.push(peer);
    }
    let owner = ledger.account();
    // The id derives from this account and a fresh salt: the batches name both, and nobody who
    // sees them (or the registration in the mempool) can register this id but this account.
    let origin = DatasetOrigin {
        owner: owner.into_array(),
        salt: rand::random(),
    };
    let dataset = origin.id();
    let author = BatchAuthor {
        origin,
        signer: ledger,
    };
    let receipts = upload_table(client, &peers, t, author, name, table, batch_rows).await?;
    // Each member's receipts in batch order → its receipt hash in the manifest.
    let members = manifest_members(&committee.peer_keys(), &receipts);
    let manifest = DatasetManifest {
        dataset_id: dataset,
        owner: owner.into_array(),
        pool: pool.to_string(),
        name: name.to_string(),
        schema_hash: schema.hash(),
        schema: schema.to_json(),
        min_cohort,
        rows: table.rows as u64,
        columns: table.columns.len() as u32,
        threshold: t as u8,
        committee_epoch: epoch,
        members,
        version: 1,
        created_at: unix_now(),
    };
    // Sign before registering: a manifest that cannot be signed must not be registered.
    let signed = client.sign_manifest(&manifest)?;
    let accounts: Vec<Address> = committee
        .accounts()
        .into_iter()
        .map(Address::from)
        .collect();
    let (_, registered) = ledger
        .register_dataset(&NewDataset {
            salt: B256::from(origin.salt),
            committee_epoch: epoch,
            pool_key: B256::from(*Key::for_pool(pool).as_bytes()),
            pool: pool.to_string(),
            schema_hash: B256::from(schema.hash()),
            manifest_hash: B256::from(manifest.manifest_hash()),
            rows: table.rows as u64,
            committee: accounts.clone(),
            threshold: t as u8,
        })
        .await
        .map_err(|e| stale_committee(e, pool))?;
    if registered != B256::from(dataset) {
        return Err(OwnerError::Dataset {
            dataset: registered,
            reason: format!(
                "the registry derived another id than {} from this account and salt",
                B256::from(dataset)
            ),
        });
    }
    let deadline = tokio::time::Instant::now() + ack_timeout;
    publish_manifest(client, signed, deadline).await?;
    // Every member acknowledges once it sees the registration and holds the shares.
    loop {
        let mut missing = 0;
        for account in &accounts {
            if !ledger
                .has_acknowledged(B256::from(dataset), *account)
                .await?
            {
                missing += 1;
            }
        }
        if missing == 0 {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(OwnerError::NotAcknowledged {
                missing,
                timeout: ack_timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(UploadSummary {
        dataset,
        rows: table.rows,
        committee: peers,
        accounts,
        receipts: receipts.len(),
        manifest,
    })
}

/// The committee's peers (dialled) and their registered keys, from their chain accounts, in
/// party order.
async fn committee_peers<L: Ledger>(
    ledger: &L,
    client: &Client,
    accounts: &[Address],
) -> Result<Vec<(PeerId, [u8; 32])>, OwnerError> {
    let mut peers = Vec::with_capacity(accounts.len());
    for account in accounts {
        let info = ledger.node_info(*account).await?;
        let peer = peer_id_from_chain_key(info.peerKey).ok_or_else(|| OwnerError::Committee {
            pool: String::new(),
            reason: format!("member {account} has no ed25519 peer key"),
        })?;
        if let Some(addr) = dial_address(&info.networkAddress) {
            client.dial(peer, addr).await?;
        }
        peers.push((peer, info.peerKey.0));
    }
    Ok(peers)
}

/// Appends `table`'s rows to dataset `dataset` (the M2M path: a device or gateway adding
/// readings): the same committee verifies and stores the new batches, then the owner records the
/// new row count and manifest hash on chain.
pub async fn append_dataset<L: Ledger>(
    ledger: &L,
    client: &Client,
    dataset: B256,
    schema: &Schema,
    table: &EncodedTable,
    batch_rows: usize,
) -> Result<UploadSummary, OwnerError> {
    let info = ledger.dataset_info(dataset).await?;
    let refuse = |reason: &str| OwnerError::Dataset {
        dataset,
        reason: reason.to_string(),
    };
    if info.owner != ledger.account() {
        return Err(refuse("only its owner can append to it"));
    }
    if info.retired {
        return Err(refuse("it is retired"));
    }
    if info.schemaHash.0 != schema.hash() {
        return Err(refuse(
            "the schema differs from the one it was registered with",
        ));
    }
    let members_keys = committee_peers(ledger, client, &info.committee).await?;
    // The new manifest keeps the owner's name and cohort rule of the registered one.
    let previous = registered_manifest(client, dataset, info.manifestHash)
        .await?
        .ok_or_else(|| refuse("its registered manifest is not in the DHT (its committee keeps it there: is the committee up?)"))?;
    let peers: Vec<PeerId> = members_keys.iter().map(|(p, _)| *p).collect();
    let t = usize::from(info.threshold);
    let name = format!("append to {dataset}");
    let origin = DatasetOrigin {
        owner: info.owner.into_array(),
        salt: info.salt.0,
    };
    if origin.id() != dataset.0 {
        return Err(refuse("its id does not derive from its owner and salt"));
    }
    let author = BatchAuthor {
        origin,
        signer: ledger,
    };
    let receipts = upload_rows(
        client, &peers, t, author, &name, table, batch_rows, info.rows,
    )
    .await?;
    let total = info.rows + table.rows as u64;
    let keys: Vec<[u8; 32]> = members_keys.iter().map(|(_, k)| *k).collect();
    let members = manifest_members(&keys, &receipts);
    let manifest = DatasetManifest {
        dataset_id: dataset.0,
        owner: info.owner.into_array(),
        pool: info.pool.clone(),
        name: previous.name,
        schema_hash: schema.hash(),
        schema: schema.to_json(),
        min_cohort: previous.min_cohort,
        rows: total,
        columns: table.columns.len() as u32,
        threshold: info.threshold,
        committee_epoch: ledger.epoch().await?,
        members,
        // Versions count rows: every append raises them.
        version: total,
        created_at: unix_now(),
    };
    let signed = client.sign_manifest(&manifest)?;
    ledger
        .append_rows(dataset, total, B256::from(manifest.manifest_hash()))
        .await?;
    // The committee's manifest keepers fetch the new version from the DHT once they see the
    // append on chain.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    publish_manifest(client, signed, deadline).await?;
    Ok(UploadSummary {
        dataset: dataset.0,
        rows: table.rows,
        committee: peers,
        accounts: info.committee.clone(),
        receipts: receipts.len(),
        manifest,
    })
}
