//! The node's upload intake: store a batch of shares, run the batched dealer verification with the
//! rest of the committee over the MPC protocol, keep the batch only if the committee accepts it,
//! and answer with a signed receipt. Store and MPC work run on blocking threads, never on the
//! async runtime.

use std::time::Duration;

use libp2p::identity::Keypair;
use sharenet_mpc::protocol::{RandomnessSource, Session};
use sharenet_mpc::vss::batch::{DealtShares, commit};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::wire::{BatchUpload, Receipt};
use super::{session_id, verification_context};
use crate::net::{Client, InboundRequest, Protocol};
use crate::store::{DatasetId, DatasetInfo, ShareStore, StoreError, UploadState};

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
                            service
                                .counters
                                .refused
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        // sender: only `upload.origin.owner` can register it on chain. (Issue 13, item 2: check
        // the batch's owner signature against `upload.origin.owner` here, before storing.)
        let id = upload.dataset();
        let dataset = DatasetId(id);
        let context = verification_context(&id, upload.batch);
        let dealt = DealtShares {
            shares: upload.shares.clone(),
            mask: upload.mask,
        };
        let commitment = commit(&context, usize::from(upload.party), &dealt).0;
        // Store first (one transaction), then verify with the committee.
        let store = self.store.clone();
        let stored = upload.clone();
        // An append to a registered dataset (it has a manifest) reopens it for new batches; a
        // failed batch then removes only itself.
        let appending = tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
            let appending = store.was_registered(&dataset)?;
            match store.dataset(&dataset)? {
                None => store.create_dataset(
                    &dataset,
                    &DatasetInfo {
                        name: stored.name.clone(),
                        columns: stored.columns,
                        party: u32::from(stored.party) + 1,
                    },
                )?,
                Some(summary) if summary.state == UploadState::Registered => {
                    store.set_state(&dataset, UploadState::Receiving)?;
                }
                Some(_) => {}
            }
            let columns: Vec<&[sharenet_mpc::field::Mp127]> =
                stored.shares.chunks(stored.rows as usize).collect();
            store.put_batch(&dataset, stored.batch, stored.first_row, &columns)?;
            Ok(appending)
        })
        .await
        .map_err(|e| IntakeError::Internal(e.to_string()))??;
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
        let counter = if accepted {
            &self.counters.accepted
        } else {
            &self.counters.rejected
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err(reason) = &verdict {
            // Nothing half-stored: a batch the committee did not accept removes the dataset.
            warn!(dataset = %dataset, batch = upload.batch, %reason, appending, "dealer verification failed; dropping the upload");
            let store = self.store.clone();
            let batch = upload.batch;
            let _ = tokio::task::spawn_blocking(move || {
                if appending {
                    store.delete_batch(&dataset, batch)
                } else {
                    store.delete_dataset(&dataset)
                }
            })
            .await;
        } else {
            info!(dataset = %dataset, batch = upload.batch, rows = upload.rows, "batch verified and stored");
        }
        Receipt::sign(
            id,
            upload.batch,
            upload.party,
            accepted,
            commitment,
            &self.identity,
        )
        .ok_or_else(|| IntakeError::Internal("could not sign the receipt".into()))
    }
}
