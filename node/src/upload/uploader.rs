//! The client side of an upload (the data owner's library, used by the CLI and the simulator):
//! share each batch for the committee, sign each node's batch as the dataset's owner, send each
//! node only its own shares, and collect every node's signed receipt.

use futures::future::try_join_all;
use libp2p::PeerId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::Mp127;
use sharenet_mpc::shamir::ShamirParams;
use sharenet_mpc::vss::batch::{DealtShares, commit, deal};

use super::verification_context;
use super::wire::{BatchUpload, DatasetOrigin, OWNER_SIGNATURE_BYTES, Receipt};
use crate::net::{Client, NetError, Protocol};
use crate::table::EncodedTable;

/// Why an upload failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The committee or threshold is not usable.
    #[error("invalid committee: {0}")]
    Committee(String),
    /// A node could not be reached.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A node refused the batch.
    #[error("node {peer} refused batch {batch}: {reason}")]
    Refused {
        /// The node.
        peer: PeerId,
        /// The batch.
        batch: u64,
        /// Its reason.
        reason: String,
    },
    /// The committee's dealer verification rejected the batch (the shares were inconsistent).
    #[error(
        "the committee rejected batch {batch}: its shares do not lie on one polynomial of degree t (dealer verification failed); the upload was discarded by every node"
    )]
    Rejected {
        /// The batch.
        batch: u64,
    },
    /// The owner's key could not sign a batch.
    #[error("could not sign batch {batch} as the dataset's owner: {reason}")]
    Signing {
        /// The batch.
        batch: u64,
        /// Why.
        reason: String,
    },
    /// A receipt is not signed by the node or does not match what was sent.
    #[error("node {peer} returned an invalid receipt for batch {batch}")]
    BadReceipt {
        /// The node.
        peer: PeerId,
        /// The batch.
        batch: u64,
    },
}

/// Signs upload batches as a dataset's owner: EIP-191 `personal_sign` by the owner's chain
/// account, which nodes check against the batch's owner before they store anything.
pub trait BatchSigner: Sync {
    /// Signs `message` ([`BatchUpload::signing_message`]); r ‖ s ‖ v.
    fn sign_batch(&self, message: &[u8]) -> Result<[u8; OWNER_SIGNATURE_BYTES], String>;
}

impl<L: sharenet_chain_adapter::Ledger> BatchSigner for L {
    fn sign_batch(&self, message: &[u8]) -> Result<[u8; OWNER_SIGNATURE_BYTES], String> {
        self.sign_message(message).map_err(|e| e.to_string())
    }
}

/// A [`BatchSigner`] holding a secp256k1 key itself (tools and tests without a chain; an
/// owner's client signs through its ledger).
pub struct KeyBatchSigner(pub alloy::signers::local::PrivateKeySigner);

impl BatchSigner for KeyBatchSigner {
    fn sign_batch(&self, message: &[u8]) -> Result<[u8; OWNER_SIGNATURE_BYTES], String> {
        use alloy::signers::SignerSync;
        self.0
            .sign_message_sync(message)
            .map(|s| s.as_bytes())
            .map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for KeyBatchSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyBatchSigner")
            .field(&self.0.address())
            .finish()
    }
}

/// Who uploads: the dataset the batches name, and the owner account's signer.
#[derive(Clone, Copy)]
pub struct BatchAuthor<'a> {
    /// The dataset's owner and salt.
    pub origin: DatasetOrigin,
    /// Signs as `origin.owner` (a batch signed by anyone else is refused by every node).
    pub signer: &'a dyn BatchSigner,
}

impl std::fmt::Debug for BatchAuthor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchAuthor")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// One batch, dealt: each party's shares (column-major) and mask share.
pub fn deal_batch(
    table: &EncodedTable,
    first_row: usize,
    rows: usize,
    n: usize,
    t: usize,
) -> Result<Vec<DealtShares<Mp127>>, UploadError> {
    let params =
        ShamirParams::honest_majority(n, t).map_err(|e| UploadError::Committee(e.to_string()))?;
    let mut values = Vec::with_capacity(rows * table.columns.len());
    for column in &table.columns {
        values.extend_from_slice(&column[first_row..first_row + rows]);
    }
    let mut rng = StdRng::from_rng(&mut rand::rng());
    Ok(deal(params, &values, &mut rng))
}

/// Signs one dealt batch of the dataset `author` names for each member, sends it to the
/// committee and checks every receipt.
#[allow(clippy::too_many_arguments)]
pub async fn send_batch(
    client: &Client,
    committee: &[PeerId],
    t: usize,
    author: BatchAuthor<'_>,
    name: &str,
    batch: u64,
    first_row: u64,
    rows: u32,
    columns: u32,
    dealt: Vec<DealtShares<Mp127>>,
) -> Result<Vec<Receipt>, UploadError> {
    let dataset = author.origin.id();
    let context = verification_context(&dataset, batch);
    let mut messages = Vec::with_capacity(committee.len());
    for (party, d) in dealt.into_iter().enumerate() {
        let expected = commit(&context, party, &d).0;
        let message = BatchUpload {
            origin: author.origin,
            name: name.to_string(),
            batch,
            first_row,
            rows,
            columns,
            party: party as u16,
            t: t as u8,
            committee: committee.to_vec(),
            shares: d.shares,
            mask: d.mask,
            owner_signature: [0; OWNER_SIGNATURE_BYTES],
        }
        .sign_with(|message| author.signer.sign_batch(message))
        .map_err(|reason| UploadError::Signing { batch, reason })?
        .encode();
        messages.push((expected, message));
    }
    let requests = committee
        .iter()
        .zip(messages)
        .map(|(peer, (expected, message))| async move {
            let answer = client.request(Protocol::Upload, *peer, message).await?;
            if let Some(reason) = answer.strip_prefix(b"ERR ") {
                return Err(UploadError::Refused {
                    peer: *peer,
                    batch,
                    reason: String::from_utf8_lossy(reason).into_owned(),
                });
            }
            let receipt = Receipt::decode(&answer)
                .map_err(|_| UploadError::BadReceipt { peer: *peer, batch })?;
            if !receipt.verify(peer)
                || receipt.dataset != dataset
                || receipt.batch != batch
                || receipt.commitment != expected
            {
                return Err(UploadError::BadReceipt { peer: *peer, batch });
            }
            Ok(receipt)
        });
    // The first failure ends the batch: the others' answers no longer matter.
    let receipts: Vec<Receipt> = try_join_all(requests).await?;
    if receipts.iter().any(|r| !r.accepted) {
        return Err(UploadError::Rejected { batch });
    }
    Ok(receipts)
}

/// Uploads a whole table as the dataset `author` names, in batches of `batch_rows` rows;
/// returns every node's receipts.
pub async fn upload_table(
    client: &Client,
    committee: &[PeerId],
    t: usize,
    author: BatchAuthor<'_>,
    name: &str,
    table: &EncodedTable,
    batch_rows: usize,
) -> Result<Vec<Receipt>, UploadError> {
    upload_rows(client, committee, t, author, name, table, batch_rows, 0).await
}

/// Uploads `table` as rows `start_row..` of a dataset (an append when `start_row > 0`). Batch
/// indices are the batches' first rows, so an append never reuses the index of a stored batch.
#[allow(clippy::too_many_arguments)]
pub async fn upload_rows(
    client: &Client,
    committee: &[PeerId],
    t: usize,
    author: BatchAuthor<'_>,
    name: &str,
    table: &EncodedTable,
    batch_rows: usize,
    start_row: u64,
) -> Result<Vec<Receipt>, UploadError> {
    let batch_rows = batch_rows.max(1);
    let mut receipts = Vec::new();
    let mut first = 0;
    while first < table.rows {
        let rows = batch_rows.min(table.rows - first);
        let dealt = deal_batch(table, first, rows, committee.len(), t)?;
        let row = start_row + first as u64;
        receipts.extend(
            send_batch(
                client,
                committee,
                t,
                author,
                name,
                row,
                row,
                rows as u32,
                table.columns.len() as u32,
                dealt,
            )
            .await?,
        );
        first += rows;
    }
    Ok(receipts)
}
