//! The node's upload intake: store a batch of shares, run the batched dealer verification with the
//! rest of the committee over the MPC protocol, keep the batch only if the committee accepts it,
//! and answer with a signed receipt. Store and MPC work run on blocking threads, never on the
//! async runtime.

use std::time::Duration;

use libp2p::identity::Keypair;
use sharenet_mpc::protocol::{RandomnessSource, Session};
use sharenet_mpc::vss::batch::{DealtShares, commit};
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc;

use sharenet_mpc::field::Mp127;
use tracing::{info, warn};

use super::wire::{BatchUpload, Receipt};
use super::{session_id, verification_context};
use crate::net::{Client, InboundRequest, Protocol};
use crate::store::{BatchRange, DatasetId, DatasetInfo, ShareStore, StoreError, UploadState};

/// Upload counters, exported as metrics.
#[derive(Debug, Default)]
pub struct UploadCounters {
    /// Batches verified by the committee and stored.
    pub accepted: std::sync::atomic::AtomicU64,
    /// Batches the committee's dealer verification rejected (dropped).
    pub rejected: std::sync::atomic::AtomicU64,
    /// Requests refused before verification (malformed, not in the committee, storage errors).
    pub refused: std::sync::atomic::AtomicU64,
}

/// What the intake needs.
#[derive(Clone)]
pub struct UploadService {
    /// The node's share store.
    pub store: ShareStore,
    /// The swarm.
    pub client: Client,
    /// The node's identity (signs receipts).
    pub identity: Keypair,
    /// How long the committee's verification round may wait for a party.
    pub verify_timeout: Duration,
    /// Counters for the metrics endpoint.
    pub counters: std::sync::Arc<UploadCounters>,
    /// When each dataset last took a verified batch (the abandoned-upload collector reads it).
    pub activity: super::collect::UploadActivity,
}

impl std::fmt::Debug for UploadService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadService").finish_non_exhaustive()
    }
}

/// Why a batch was refused (sent back to the uploader as text).
#[derive(Debug, thiserror::Error)]
enum IntakeError {
    #[error("{0}")]
    Wire(#[from] super::wire::WireError),
    #[error("this node is not party {party} of the committee named in the upload")]
    NotInCommittee { party: u16 },
    #[error(
        "the batch is not signed by the dataset's owner account (a batch must carry the personal_sign signature of the owner it names)"
    )]
    NotSignedByOwner,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl UploadService {
    /// Serves upload requests from `inbound` until it closes.
    pub async fn run(self, mut inbound: mpsc::Receiver<InboundRequest>) {
        while let Some(request) = inbound.recv().await {
            if request.protocol != Protocol::Upload {
                continue;
            }
            let service = self.clone();
            // One span per upload request: ids and sizes only, never values.
            let span =
                tracing::info_span!("upload", peer = %request.peer, bytes = request.payload.len());
            tokio::spawn(tracing::Instrument::instrument(
                async move {
                    let peer = request.peer;
                    let answer = match service.handle(&request.payload).await {
                        Ok(receipt) => receipt.encode(),
                        Err(e) => {
                            service.counters.refused.fetch_add(1, Relaxed);
                            warn!(%peer, error = %e, "upload refused");
                            format!("ERR {e}").into_bytes()
                        }
                    };
                    let _ = service.client.respond(request, answer).await;
                },
                span,
            ));
        }
    }

    async fn handle(&self, payload: &[u8]) -> Result<Receipt, IntakeError> {
        let upload = BatchUpload::decode(payload)?;
        let me = self.client.local_peer_id();
        if upload.committee.get(usize::from(upload.party)) != Some(&me) {
            return Err(IntakeError::NotInCommittee {
                party: upload.party,
            });
        }
        // The id is derived from the owner and the salt the batch names, never taken from the
        // sender, and only that owner can register it on chain; the batch must carry that
        // owner's signature. Checked before anything is stored or any state changes.
        if !upload.is_signed_by_owner() {
            return Err(IntakeError::NotSignedByOwner);
        }
        let id = upload.dataset();
        let dataset = DatasetId(id);
        let context = verification_context(&id, upload.batch);
        let dealt = DealtShares {
            shares: upload.shares.clone(),
            mask: upload.mask,
        };
        let commitment = commit(&context, usize::from(upload.party), &dealt).0;
        // Verify with the committee first, store after: a batch the committee rejects leaves
        // nothing behind and changes no dataset's state.
        let transport = self.client.mpc_transport(
            session_id(&id, upload.batch),
            usize::from(upload.party),
            upload.committee.clone(),
            self.verify_timeout,
        );
        let (n, t) = (upload.committee.len(), usize::from(upload.t));
        let session_span = tracing::info_span!("verification session", dataset = %dataset, batch = upload.batch, n, t);
        let verdict = tokio::task::spawn_blocking(move || {
            let _entered = session_span.enter();
            let mut session = Session::new(n, t, transport, RandomnessSource::HyperInvertible)
                .map_err(|e| e.to_string())?;
            session
                .verify_dealing(&context, &dealt)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| IntakeError::Internal(e.to_string()))?;
        let accepted = verdict.is_ok();
        let (batch, party) = (upload.batch, upload.party);
        if let Err(reason) = &verdict {
            self.counters.rejected.fetch_add(1, Relaxed);
            warn!(dataset = %dataset, batch, %reason, "dealer verification failed; nothing stored");
        } else {
            let store = self.store.clone();
            let rows = upload.rows;
            tokio::task::spawn_blocking(move || store_verified(&store, &dataset, &upload))
                .await
                .map_err(|e| IntakeError::Internal(e.to_string()))??;
            self.activity.touch(dataset);
            self.counters.accepted.fetch_add(1, Relaxed);
            info!(dataset = %dataset, batch, rows, "batch verified and stored");
        }
        let receipt = Receipt::sign(id, batch, party, accepted, commitment, &self.identity)
            .ok_or_else(|| IntakeError::Internal("could not sign the receipt".into()))?;
        if accepted {
            // Kept with the shares: the acknowledgement on chain carries the digest of this
            // node's receipts, as the owner's manifest does.
            let store = self.store.clone();
            let bytes = receipt.encode();
            let range = BatchRange {
                start: batch,
                end: batch.saturating_add(1),
            };
            tokio::task::spawn_blocking(move || store.put_receipt(&dataset, range, &bytes))
                .await
                .map_err(|e| IntakeError::Internal(e.to_string()))??;
        }
        Ok(receipt)
    }
}

/// Stores a batch the committee verified: creates the dataset at its first batch, and reopens a
/// registered dataset for an append (`Registered → Receiving`, until the chain records the new
/// rows). A batch stored already, identically, changes nothing, so a replayed batch never
/// reopens a dataset; if a reopened dataset refuses the batch, it is registered again.
fn store_verified(
    store: &ShareStore,
    dataset: &DatasetId,
    upload: &BatchUpload,
) -> Result<(), StoreError> {
    let columns: Vec<&[Mp127]> = upload.shares.chunks(upload.rows as usize).collect();
    let put = || store.put_batch(dataset, upload.batch, upload.first_row, &columns);
    if store.dataset(dataset)?.is_none() {
        let info = DatasetInfo {
            name: upload.name.clone(),
            columns: upload.columns,
            party: u32::from(upload.party) + 1,
        };
        match store.create_dataset(dataset, &info) {
            // Another batch of the same upload created it first.
            Ok(()) | Err(StoreError::DatasetExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    match put() {
        Err(StoreError::NotReceiving {
            state: UploadState::Registered,
            ..
        }) => {
            store.set_state(dataset, UploadState::Receiving)?;
            put().map(|_| ()).inspect_err(|_| {
                // Nothing was appended: back to registered (through Verified, the only way).
                let _ = store
                    .set_state(dataset, UploadState::Verified)
                    .and_then(|()| store.set_state(dataset, UploadState::Registered));
            })
        }
        other => other.map(|_| ()),
    }
}
