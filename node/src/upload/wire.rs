//! The upload protocol's messages: one batch of one party's shares (client → node), signed by
//! the dataset's owner account, and the node's signed receipt (node → client). Fixed
//! little-endian layouts, bounded, decoded without panics.

use alloy::primitives::{Address, B256};
use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey};
use sharenet_mpc::field::{Field, Mp127};

const BATCH_MAGIC: &[u8; 4] = b"SNUP";
const RECEIPT_MAGIC: &[u8; 4] = b"SNRC";
/// Version 3: a batch names its dataset by owner and salt (the id is derived from them) and
/// ends with the owner's signature.
const BATCH_VERSION: u8 = 3;
/// Length of the owner's signature: r ‖ s ‖ v (secp256k1, Ethereum's form).
pub const OWNER_SIGNATURE_BYTES: usize = 65;
/// What the owner signs (EIP-191 `personal_sign`) for a batch: this line, then the blake3 hash
/// of the batch without its signature, in lowercase hex.
const SIGNING_PREFIX: &str = "sharenet upload batch v3\n";
const RECEIPT_VERSION: u8 = 1;
/// Largest committee an upload names.
pub const MAX_COMMITTEE: usize = 64;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Truncated, trailing bytes, wrong magic or version, or an impossible field.
    #[error("malformed upload message: {0}")]
    Malformed(&'static str),
}

/// What an upload names its dataset by: the owner's chain account and the salt the dataset id
/// derives from. The id is `DatasetRegistry.datasetIdFor(owner, salt)`, which only `owner` can
/// register, so shares stored under it can only ever be registered (and granted) by `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetOrigin {
    /// The owner's account: the only account that can register the dataset, and the one whose
    /// signature every batch carries.
    pub owner: [u8; 20],
    /// The salt the owner chose for this dataset.
    pub salt: [u8; 32],
}

impl DatasetOrigin {
    /// The dataset id: `keccak256(abi.encode(owner, salt))`, as the registry derives it.
    pub fn id(&self) -> [u8; 32] {
        sharenet_chain_adapter::dataset_id_for(Address::from(self.owner), B256::from(self.salt)).0
    }
}

/// One party's shares of one batch, signed by the dataset's owner.
#[derive(Clone, PartialEq, Eq)]
pub struct BatchUpload {
    /// The dataset's owner and salt (its id is [`DatasetOrigin::id`]).
    pub origin: DatasetOrigin,
    /// Dataset name.
    pub name: String,
    /// Batch index.
    pub batch: u64,
    /// First row of the batch.
    pub first_row: u64,
    /// Rows in the batch.
    pub rows: u32,
    /// Columns.
    pub columns: u32,
    /// The receiving node's party index in the committee.
    pub party: u16,
    /// Threshold.
    pub t: u8,
    /// The committee, in party order.
    pub committee: Vec<PeerId>,
    /// Shares, column-major (`columns × rows`).
    pub shares: Vec<Mp127>,
    /// Share of the batch's random mask (dealer verification).
    pub mask: Mp127,
    /// The owner's signature of [`BatchUpload::signing_message`] (r ‖ s ‖ v); all zeros until
    /// [`BatchUpload::sign_with`].
    pub owner_signature: [u8; OWNER_SIGNATURE_BYTES],
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn array32(&mut self) -> Result<[u8; 32], WireError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        Ok(a)
    }
    fn short_bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::from(self.u8()?);
        self.take(len)
    }
    fn element(&mut self) -> Result<Mp127, WireError> {
        Mp127::read_bytes(self.take(16)?)
            .map_err(|_| WireError::Malformed("non-canonical field element"))
    }
}

/// Ids, sizes and the signature only: the shares and the mask never reach a log.
impl std::fmt::Debug for BatchUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchUpload")
            .field("dataset", &B256::from(self.dataset()))
            .field("batch", &self.batch)
            .field("first_row", &self.first_row)
            .field("rows", &self.rows)
            .field("columns", &self.columns)
            .field("party", &self.party)
            .field("t", &self.t)
            .field("committee", &self.committee.len())
            .field("shares", &self.shares.len())
            .finish_non_exhaustive()
    }
}

impl BatchUpload {
    /// The dataset id the batch is stored under.
    pub fn dataset(&self) -> [u8; 32] {
        self.origin.id()
    }

    /// The text the owner signs for this batch (EIP-191 `personal_sign`): a fixed line, then
    /// the blake3 hash of the encoded batch without its signature, in hex. It covers every
    /// field, the shares included, so a signature is good for this one party's batch only.
    pub fn signing_message(&self) -> Vec<u8> {
        let digest = blake3::hash(&self.body());
        format!("{SIGNING_PREFIX}{}", digest.to_hex()).into_bytes()
    }

    /// Signs the batch with `sign` (the owner's `personal_sign`, e.g. `Ledger::sign_message`).
    pub fn sign_with<E>(
        mut self,
        sign: impl FnOnce(&[u8]) -> Result<[u8; OWNER_SIGNATURE_BYTES], E>,
    ) -> Result<Self, E> {
        self.owner_signature = sign(&self.signing_message())?;
        Ok(self)
    }

    /// Whether the batch carries a valid signature of `origin.owner`: the one check that a
    /// batch comes from the account that alone can register its dataset.
    pub fn is_signed_by_owner(&self) -> bool {
        let Ok(signature) = alloy::primitives::Signature::from_raw(&self.owner_signature) else {
            return false;
        };
        signature
            .recover_address_from_msg(self.signing_message())
            .is_ok_and(|signer| signer == Address::from(self.origin.owner))
    }

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.body();
        out.extend_from_slice(&self.owner_signature);
        out
    }

    /// Everything but the signature: what the owner signs.
    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.shares.len() * 16 + OWNER_SIGNATURE_BYTES);
        out.extend_from_slice(BATCH_MAGIC);
        out.push(BATCH_VERSION);
        out.extend_from_slice(&self.origin.owner);
        out.extend_from_slice(&self.origin.salt);
        out.extend_from_slice(&self.batch.to_le_bytes());
        out.extend_from_slice(&self.first_row.to_le_bytes());
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&self.columns.to_le_bytes());
        out.extend_from_slice(&self.party.to_le_bytes());
        out.push(self.t);
        out.push(self.committee.len() as u8);
        for peer in &self.committee {
            let bytes = peer.to_bytes();
            out.push(bytes.len() as u8);
            out.extend_from_slice(&bytes);
        }
        let name = &self.name.as_bytes()[..self.name.len().min(255)];
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        for v in self.shares.iter().chain(std::iter::once(&self.mask)) {
            out.extend_from_slice(&v.to_bytes_vec());
        }
        out
    }

    /// Decodes and checks a message.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader(bytes);
        if r.take(4)? != BATCH_MAGIC || r.u8()? != BATCH_VERSION {
            return Err(WireError::Malformed("not an upload batch"));
        }
        let mut owner = [0u8; 20];
        owner.copy_from_slice(r.take(20)?);
        let origin = DatasetOrigin {
            owner,
            salt: r.array32()?,
        };
        let batch = r.u64()?;
        let first_row = r.u64()?;
        let rows = r.u32()?;
        let columns = r.u32()?;
        let party = r.u16()?;
        let t = r.u8()?;
        let n = usize::from(r.u8()?);
        if !(3..=MAX_COMMITTEE).contains(&n) || 2 * usize::from(t) >= n || usize::from(party) >= n {
            return Err(WireError::Malformed(
                "committee size, threshold or party index out of range",
            ));
        }
        let mut committee = Vec::with_capacity(n);
        for _ in 0..n {
            committee.push(
                PeerId::from_bytes(r.short_bytes()?)
                    .map_err(|_| WireError::Malformed("bad peer id"))?,
            );
        }
        let name = String::from_utf8(r.short_bytes()?.to_vec())
            .map_err(|_| WireError::Malformed("name is not UTF-8"))?;
        // rows × columns shares and the mask, 16 bytes each, then the signature: checked
        // arithmetic, so that no product wraps around to the length of a short message.
        let count = (rows as usize)
            .checked_mul(columns as usize)
            .filter(|c| *c > 0)
            .filter(|c| {
                c.checked_add(1)
                    .and_then(|elements| elements.checked_mul(Mp127::BYTES))
                    .and_then(|bytes| bytes.checked_add(OWNER_SIGNATURE_BYTES))
                    == Some(r.0.len())
            })
            .ok_or(WireError::Malformed(
                "share count does not match rows × columns",
            ))?;
        let mut shares = Vec::with_capacity(count);
        for _ in 0..count {
            shares.push(r.element()?);
        }
        let mask = r.element()?;
        let mut owner_signature = [0u8; OWNER_SIGNATURE_BYTES];
        owner_signature.copy_from_slice(r.take(OWNER_SIGNATURE_BYTES)?);
        Ok(BatchUpload {
            origin,
            name,
            batch,
            first_row,
            rows,
            columns,
            party,
            t,
            committee,
            shares,
            mask,
            owner_signature,
        })
    }
}

/// A node's signed answer to a batch upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Dataset id.
    pub dataset: [u8; 32],
    /// Batch index.
    pub batch: u64,
    /// The node's party index.
    pub party: u16,
    /// Whether the committee's dealer verification accepted the batch and it is stored.
    pub accepted: bool,
    /// The node's commitment to the shares it received (`vss::batch::commit`).
    pub commitment: [u8; 32],
    /// The signer's public key (protobuf encoding).
    pub signer: Vec<u8>,
    /// ed25519 signature over the fields above.
    pub signature: Vec<u8>,
}

impl Receipt {
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(RECEIPT_MAGIC);
        out.push(RECEIPT_VERSION);
        out.extend_from_slice(&self.dataset);
        out.extend_from_slice(&self.batch.to_le_bytes());
        out.extend_from_slice(&self.party.to_le_bytes());
        out.push(u8::from(self.accepted));
        out.extend_from_slice(&self.commitment);
        out
    }

    /// A receipt signed with `key`.
    pub fn sign(
        dataset: [u8; 32],
        batch: u64,
        party: u16,
        accepted: bool,
        commitment: [u8; 32],
        key: &Keypair,
    ) -> Option<Self> {
        let mut r = Receipt {
            dataset,
            batch,
            party,
            accepted,
            commitment,
            signer: key.public().encode_protobuf(),
            signature: Vec::new(),
        };
        r.signature = key.sign(&r.signed_bytes()).ok()?;
        Some(r)
    }

    /// Checks the signature and that the signer is `peer`.
    pub fn verify(&self, peer: &PeerId) -> bool {
        let Ok(pk) = PublicKey::try_decode_protobuf(&self.signer) else {
            return false;
        };
        pk.to_peer_id() == *peer && pk.verify(&self.signed_bytes(), &self.signature)
    }

    /// A blake3 hash of the receipt, as acknowledged on chain.
    pub fn hash(&self) -> [u8; 32] {
        *blake3::hash(&self.encode()).as_bytes()
    }

    /// Encodes the receipt.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.push(self.signer.len() as u8);
        out.extend_from_slice(&self.signer);
        out.push(self.signature.len() as u8);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes a receipt (the signature is checked by [`Receipt::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader(bytes);
        if r.take(4)? != RECEIPT_MAGIC || r.u8()? != RECEIPT_VERSION {
            return Err(WireError::Malformed("not a receipt"));
        }
        let dataset = r.array32()?;
        let batch = r.u64()?;
        let party = r.u16()?;
        let accepted = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Malformed("bad accepted flag")),
        };
        let commitment = r.array32()?;
        let signer = r.short_bytes()?.to_vec();
        let signature = r.short_bytes()?.to_vec();
        if !r.0.is_empty() {
            return Err(WireError::Malformed("trailing bytes"));
        }
        Ok(Receipt {
            dataset,
            batch,
            party,
            accepted,
            commitment,
            signer,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = BatchUpload::decode(&bytes);
            let _ = Receipt::decode(&bytes);
        }

        #[test]
        fn corrupting_any_byte_of_a_batch_never_panics(at in 0usize..200, value in any::<u8>()) {
            let mut bytes = sample().encode();
            let i = at % bytes.len();
            bytes[i] = value;
            if let Ok(decoded) = BatchUpload::decode(&bytes) {
                // Whatever decodes re-encodes to the same bytes: no silent reinterpretation.
                prop_assert_eq!(decoded.encode(), bytes);
            }
        }
    }

    fn sample() -> BatchUpload {
        BatchUpload {
            origin: DatasetOrigin {
                owner: [4; 20],
                salt: [3; 32],
            },
            name: "clinic".into(),
            batch: 2,
            first_row: 512,
            rows: 2,
            columns: 3,
            party: 1,
            t: 1,
            committee: (0..3).map(|_| PeerId::random()).collect(),
            shares: (0..6u64).map(Mp127::from_u64).collect(),
            mask: Mp127::from_u64(99),
            owner_signature: [7; OWNER_SIGNATURE_BYTES],
        }
    }

    fn personal_sign(
        key: &alloy::signers::local::PrivateKeySigner,
    ) -> impl FnOnce(&[u8]) -> Result<[u8; 65], alloy::signers::Error> + '_ {
        use alloy::signers::SignerSync;
        move |message| Ok(key.sign_message_sync(message)?.as_bytes())
    }

    #[test]
    fn only_the_owners_signature_of_this_very_batch_verifies() {
        let owner = alloy::signers::local::PrivateKeySigner::random();
        let stranger = alloy::signers::local::PrivateKeySigner::random();
        let mut unsigned = sample();
        unsigned.origin.owner = owner.address().into_array();
        assert!(!unsigned.is_signed_by_owner(), "an unsigned batch");
        let signed = unsigned.clone().sign_with(personal_sign(&owner)).unwrap();
        assert!(signed.is_signed_by_owner());
        let decoded = BatchUpload::decode(&signed.encode()).unwrap();
        assert!(
            decoded.is_signed_by_owner(),
            "the signature survives the wire"
        );
        // Another account's signature, however valid, is not the owner's.
        let by_stranger = unsigned
            .clone()
            .sign_with(personal_sign(&stranger))
            .unwrap();
        assert!(!by_stranger.is_signed_by_owner());
        // The signature covers every field: a share, the batch index, the committee.
        let mut share_changed = signed.clone();
        share_changed.shares[3] = Mp127::from_u64(1234);
        assert!(!share_changed.is_signed_by_owner());
        let mut batch_changed = signed.clone();
        batch_changed.batch += 1;
        assert!(!batch_changed.is_signed_by_owner());
        let mut committee_changed = signed.clone();
        committee_changed.committee[0] = PeerId::random();
        assert!(!committee_changed.is_signed_by_owner());
        // Claiming the stranger's batch for the stranger's own account moves it to another id.
        let mut relabelled = by_stranger.clone();
        relabelled.origin.owner = stranger.address().into_array();
        assert!(
            !relabelled.is_signed_by_owner(),
            "the owner field is signed too"
        );
    }

    #[test]
    fn debug_output_shows_no_share() {
        let text = format!("{:?}", sample());
        assert!(text.contains("shares: 6"), "{text}");
        assert!(!text.contains("Mp127") && !text.contains("mask"), "{text}");
    }

    #[test]
    fn messages_round_trip_and_truncations_are_refused() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(BatchUpload::decode(&bytes).unwrap(), m);
        for cut in [0, 5, 40, 60, bytes.len() - 1] {
            assert!(BatchUpload::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extended = bytes.clone();
        extended.extend_from_slice(&[0; 16]);
        assert!(BatchUpload::decode(&extended).is_err());
        let mut non_canonical = bytes.clone();
        let at = non_canonical.len() - OWNER_SIGNATURE_BYTES - 16;
        non_canonical[at..at + 16].copy_from_slice(&[0xff; 16]);
        assert!(BatchUpload::decode(&non_canonical).is_err());
    }

    #[test]
    fn a_share_count_whose_byte_length_overflows_is_refused() {
        // rows × columns = 2^60: (count + 1) × 16 wraps to 16 bytes, exactly the mask that
        // follows (then the signature), so unchecked arithmetic would accept the message and reserve 2^60 shares.
        let mut m = sample();
        m.rows = 1 << 30;
        m.columns = 1 << 30;
        m.shares.clear();
        let bytes = m.encode();
        assert_eq!(
            BatchUpload::decode(&bytes),
            Err(WireError::Malformed(
                "share count does not match rows × columns"
            ))
        );
        m.rows = u32::MAX;
        m.columns = u32::MAX;
        assert!(BatchUpload::decode(&m.encode()).is_err());
    }

    #[test]
    fn receipts_are_signed_by_the_node() {
        let key = Keypair::generate_ed25519();
        let r = Receipt::sign([1; 32], 4, 2, true, [9; 32], &key).unwrap();
        let decoded = Receipt::decode(&r.encode()).unwrap();
        assert!(decoded.verify(&key.public().to_peer_id()));
        assert!(!decoded.verify(&PeerId::random()));
        let mut forged = decoded.clone();
        forged.accepted = false;
        assert!(!forged.verify(&key.public().to_peer_id()));
    }
}
