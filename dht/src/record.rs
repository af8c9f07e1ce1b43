//! The signed records stored in the DHT: dataset manifests and node announcements.
//!
//! A record's value is a [`SignedRecord`] envelope (kind, canonical payload, ed25519 signer key,
//! signature), at most [`MAX_RECORD_SIZE`] bytes. Its Kademlia key is derived from its content
//! (`Key::for_dataset(dataset id)` for a manifest, `Key::for_node(peer key)` for an announcement),
//! so a record can only be stored under the one key it belongs to. The byte layout is in
//! `docs/dht.md`; [`SignedRecord::validate`] is the one gate every record passes before it is
//! stored or used.

use std::str::FromStr;

use libp2p::Multiaddr;
use libp2p::identity::{self, Keypair, PeerId};
use libp2p::kad::{Record, RecordKey};
use std::time::Instant;

use crate::codec::{DecodeError, Reader, Writer, check_len};
use crate::committee::{MAX_COMMITTEE, MAX_POOL_NAME};
use crate::key::{Key, hex};

/// Largest encoded record (envelope included), in bytes. Checked before anything is decoded.
pub const MAX_RECORD_SIZE: usize = 64 * 1024;
/// How far in the future (seconds) a record's timestamp may be, to allow for clock skew.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// How long (seconds) an announcement is valid after its timestamp: a node re-signs and
/// re-publishes its announcement well within this (e.g. every few hours).
pub const ANNOUNCEMENT_MAX_AGE_SECS: u64 = 48 * 3600;
/// Most listen addresses in an announcement.
pub const MAX_ANNOUNCED_ADDRS: usize = 16;
/// Longest dataset display name in a manifest.
pub const MAX_DATASET_NAME: usize = 64;
/// Longest schema JSON in a manifest.
pub const MAX_SCHEMA_JSON: usize = 16 * 1024;
/// Longest listen address (mirrors the node registry's `MAX_NETWORK_ADDRESS`).
pub const MAX_ADDR_LEN: usize = 256;

/// Magic bytes opening every envelope.
pub const ENVELOPE_MAGIC: [u8; 4] = *b"SNDR";
/// Envelope format version.
pub const ENVELOPE_VERSION: u8 = 1;
/// What is signed: `SIGNING_DOMAIN || kind byte || payload`.
pub const SIGNING_DOMAIN: &[u8] = b"sharenet dht record v1\0";
/// blake3 key-derivation context of the manifest hash registered on chain.
pub const MANIFEST_HASH_CONTEXT: &str = "sharenet 2026-11 dataset manifest hash v1";
/// Length of the envelope header before the payload.
pub const ENVELOPE_HEADER_LEN: usize = 4 + 1 + 1 + 32 + 64 + 4;

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The encoded record is larger than [`MAX_RECORD_SIZE`].
    #[error("record of {size} bytes is larger than the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a well-formed record.
    #[error("malformed record: {0}")]
    Malformed(#[from] DecodeError),
    /// The envelope does not start with [`ENVELOPE_MAGIC`].
    #[error("not a sharenet DHT record (bad magic bytes)")]
    BadMagic,
    /// The envelope version is not supported.
    #[error("record envelope version {version} is not supported (expected {ENVELOPE_VERSION})")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// Unknown record kind byte.
    #[error("unknown record kind {kind}")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// The envelope's kind and the payload's own kind tag disagree.
    #[error("envelope says {envelope:?} but the payload is tagged {payload}")]
    KindMismatch {
        /// The envelope's kind.
        envelope: RecordKind,
        /// The payload's tag byte.
        payload: u8,
    },
    /// The record is of another kind than the caller expected.
    #[error("expected a {expected:?} record, found a {found:?}")]
    WrongKind {
        /// Expected kind.
        expected: RecordKind,
        /// Found kind.
        found: RecordKind,
    },
    /// The record key is not the key derived from the record's content.
    #[error("record stored under key {found} but its content belongs under {expected}")]
    KeyMismatch {
        /// The key derived from the content (hex).
        expected: String,
        /// The key it was stored or requested under (hex).
        found: String,
    },
    /// The signer's public key is not a valid ed25519 key.
    #[error("the signer's public key is not a valid ed25519 key")]
    InvalidSignerKey,
    /// The signature does not verify.
    #[error("the signature does not verify under the signer's key")]
    BadSignature,
    /// The record's timestamp is too far in the future.
    #[error(
        "timestamp {timestamp} is more than {MAX_CLOCK_SKEW_SECS} s after the local clock ({now}); check the clocks"
    )]
    FromTheFuture {
        /// The record's timestamp (unix seconds).
        timestamp: u64,
        /// The local clock (unix seconds).
        now: u64,
    },
    /// The record is too old.
    #[error("record timestamped {timestamp} expired at {expired_at} (now {now})")]
    Expired {
        /// The record's timestamp (unix seconds).
        timestamp: u64,
        /// When it expired (unix seconds).
        expired_at: u64,
        /// The local clock (unix seconds).
        now: u64,
    },
    /// An announcement is signed by another key than the peer it announces.
    #[error("announcement of peer {announced} is signed by {signer}; a node announces only itself")]
    SignerNotAnnouncedPeer {
        /// The announced peer key (hex).
        announced: String,
        /// The signer (hex).
        signer: String,
    },
    /// A field breaks a content rule (e.g. threshold not below half the committee).
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The signing key is not an ed25519 key.
    #[error("records are signed with ed25519 keys only")]
    NotEd25519,
    /// The keypair refused to sign.
    #[error("signing failed")]
    SigningFailed,
}

/// The kinds of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A [`DatasetManifest`], stored under `Key::for_dataset(dataset_id)`.
    DatasetManifest,
    /// A [`NodeAnnouncement`], stored under `Key::for_node(peer_key)`.
    NodeAnnouncement,
}

impl RecordKind {
    /// The kind byte on the wire.
    pub const fn to_byte(self) -> u8 {
        match self {
            RecordKind::DatasetManifest => 1,
            RecordKind::NodeAnnouncement => 2,
        }
    }

    /// The kind of a kind byte.
    pub fn from_byte(b: u8) -> Result<Self, RecordError> {
        match b {
            1 => Ok(RecordKind::DatasetManifest),
            2 => Ok(RecordKind::NodeAnnouncement),
            kind => Err(RecordError::UnknownKind { kind }),
        }
    }
}

/// One committee member of a dataset: its peer key and the hash of its upload receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestMember {
    /// The member's ed25519 peer key.
    pub peer_key: [u8; 32],
    /// Hash of the member's signed upload receipt (its commitment to its shares).
    pub receipt_hash: [u8; 32],
}

/// What a dataset is and where its shares live. Public: ids, hashes and counts only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetManifest {
    /// The dataset id (as registered on chain).
    pub dataset_id: [u8; 32],
    /// The owner's chain account.
    pub owner: [u8; 20],
    /// The pool (1..=128 bytes of UTF-8).
    pub pool: String,
    /// The owner's display name for the dataset (1..=64 bytes of UTF-8; not unique).
    pub name: String,
    /// Hash of the declared schema.
    pub schema_hash: [u8; 32],
    /// The declared schema as JSON (1..=16 KiB); readers check it against `schema_hash`.
    pub schema: String,
    /// Smallest group (cohort) a query result may describe; smaller groups are suppressed.
    pub min_cohort: u32,
    /// Number of rows.
    pub rows: u64,
    /// Number of columns.
    pub columns: u32,
    /// Shamir threshold `t` (`1 <= t` and `2t < n`, as the dataset registry requires).
    pub threshold: u8,
    /// The epoch of the active set the committee was selected from.
    pub committee_epoch: u64,
    /// The committee in party order (1..=64 members, distinct peer keys).
    pub members: Vec<ManifestMember>,
    /// Version, incremented by every append; a store never replaces a version by a lower one.
    pub version: u64,
    /// Creation time of this version (unix seconds).
    pub created_at: u64,
}

/// A node's listen addresses, signed by the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAnnouncement {
    /// The node's ed25519 peer key (the signer must be this key).
    pub peer_key: [u8; 32],
    /// Listen multiaddrs (1..=16, each 1..=256 bytes and parseable as a `Multiaddr`).
    pub addresses: Vec<String>,
    /// The chain epoch the node saw when it signed.
    pub epoch: u64,
    /// When it signed (unix seconds).
    pub timestamp: u64,
}

const MANIFEST_TAG: u8 = 1;
const ANNOUNCEMENT_TAG: u8 = 2;

impl DatasetManifest {
    /// The key this manifest is stored under.
    pub fn record_key(&self) -> Key {
        Key::for_dataset(&self.dataset_id)
    }

    /// The canonical payload bytes (layout in `docs/dht.md`). Meaningful for a manifest that
    /// passes [`DatasetManifest::check`] (signing checks it first).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(MANIFEST_TAG);
        w.bytes(&self.dataset_id);
        w.bytes(&self.owner);
        w.bytes16(self.pool.as_bytes());
        w.bytes16(self.name.as_bytes());
        w.bytes(&self.schema_hash);
        w.bytes16(self.schema.as_bytes());
        w.u32(self.min_cohort);
        w.u64(self.rows);
        w.u32(self.columns);
        w.u8(self.threshold);
        w.u64(self.committee_epoch);
        w.u16(u16::try_from(self.members.len()).unwrap_or(u16::MAX));
        for m in &self.members {
            w.bytes(&m.peer_key);
            w.bytes(&m.receipt_hash);
        }
        w.u64(self.version);
        w.u64(self.created_at);
        w.finish()
    }

    /// Decodes and checks a canonical payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(bytes);
        let tag = r.u8("kind")?;
        if tag != MANIFEST_TAG {
            return Err(RecordError::KindMismatch {
                envelope: RecordKind::DatasetManifest,
                payload: tag,
            });
        }
        let dataset_id = r.array("dataset_id")?;
        let owner = r.array("owner")?;
        let pool = r.str16("pool", 1, MAX_POOL_NAME)?;
        let name = r.str16("name", 1, MAX_DATASET_NAME)?;
        let schema_hash = r.array("schema_hash")?;
        let schema = r.str16("schema", 1, MAX_SCHEMA_JSON)?;
        let min_cohort = r.u32("min_cohort")?;
        let rows = r.u64("rows")?;
        let columns = r.u32("columns")?;
        let threshold = r.u8("threshold")?;
        let committee_epoch = r.u64("committee_epoch")?;
        let count = usize::from(r.u16("members")?);
        check_len("members", count, 1, MAX_COMMITTEE)?;
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            members.push(ManifestMember {
                peer_key: r.array("members.peer_key")?,
                receipt_hash: r.array("members.receipt_hash")?,
            });
        }
        let version = r.u64("version")?;
        let created_at = r.u64("created_at")?;
        r.finish()?;
        let m = DatasetManifest {
            dataset_id,
            owner,
            pool,
            name,
            schema_hash,
            schema,
            min_cohort,
            rows,
            columns,
            threshold,
            committee_epoch,
            members,
            version,
            created_at,
        };
        m.check()?;
        Ok(m)
    }

    /// Checks the content rules (the ones decoding alone does not enforce).
    pub fn check(&self) -> Result<(), RecordError> {
        let invalid = |field, reason: &str| RecordError::InvalidField {
            field,
            reason: reason.to_owned(),
        };
        if self.pool.is_empty() || self.pool.len() > MAX_POOL_NAME {
            return Err(invalid("pool", "must be 1 to 128 bytes"));
        }
        if self.name.is_empty() || self.name.len() > MAX_DATASET_NAME {
            return Err(invalid("name", "must be 1 to 64 bytes"));
        }
        if self.schema.is_empty() || self.schema.len() > MAX_SCHEMA_JSON {
            return Err(invalid("schema", "must be 1 to 16384 bytes of JSON"));
        }
        let n = self.members.len();
        if n == 0 || n > MAX_COMMITTEE {
            return Err(invalid("members", "a committee has 1 to 64 members"));
        }
        for (i, m) in self.members.iter().enumerate() {
            if self.members[..i].iter().any(|o| o.peer_key == m.peer_key) {
                return Err(RecordError::InvalidField {
                    field: "members",
                    reason: format!("peer key {} is listed twice", hex(&m.peer_key)),
                });
            }
        }
        let t = usize::from(self.threshold);
        if t == 0 || 2 * t >= n {
            return Err(RecordError::InvalidField {
                field: "threshold",
                reason: format!("t = {t} with n = {n}: need 1 <= t and 2t < n"),
            });
        }
        Ok(())
    }

    /// The manifest hash registered on chain: `blake3::derive_key(MANIFEST_HASH_CONTEXT, payload)`.
    pub fn manifest_hash(&self) -> [u8; 32] {
        blake3::derive_key(MANIFEST_HASH_CONTEXT, &self.encode())
    }

    /// Whether this is the manifest of `dataset` whose hash the chain registers (`registered`,
    /// the dataset's `manifestHash`): the one check every reader of a manifest makes before
    /// trusting it (owners, requesters, members, the CLI).
    pub fn is_registered_version(&self, dataset: &[u8; 32], registered: &[u8; 32]) -> bool {
        self.dataset_id == *dataset && self.manifest_hash() == *registered
    }
}

impl NodeAnnouncement {
    /// The key this announcement is stored under.
    pub fn record_key(&self) -> Key {
        Key::for_node(&self.peer_key)
    }

    /// The canonical payload bytes (layout in `docs/dht.md`). Meaningful for an announcement
    /// that passes [`NodeAnnouncement::check`] (signing checks it first).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(ANNOUNCEMENT_TAG);
        w.bytes(&self.peer_key);
        w.u64(self.epoch);
        w.u64(self.timestamp);
        w.u8(u8::try_from(self.addresses.len()).unwrap_or(u8::MAX));
        for a in &self.addresses {
            w.bytes16(a.as_bytes());
        }
        w.finish()
    }

    /// Decodes and checks a canonical payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(bytes);
        let tag = r.u8("kind")?;
        if tag != ANNOUNCEMENT_TAG {
            return Err(RecordError::KindMismatch {
                envelope: RecordKind::NodeAnnouncement,
                payload: tag,
            });
        }
        let peer_key = r.array("peer_key")?;
        let epoch = r.u64("epoch")?;
        let timestamp = r.u64("timestamp")?;
        let count = usize::from(r.u8("addresses")?);
        check_len("addresses", count, 1, MAX_ANNOUNCED_ADDRS)?;
        let mut addresses = Vec::with_capacity(count);
        for _ in 0..count {
            addresses.push(r.str16("addresses", 1, MAX_ADDR_LEN)?);
        }
        r.finish()?;
        let a = NodeAnnouncement {
            peer_key,
            addresses,
            epoch,
            timestamp,
        };
        a.check()?;
        Ok(a)
    }

    /// Checks the content rules: 1..=16 addresses, each a parseable multiaddr of at most 256 bytes.
    pub fn check(&self) -> Result<(), RecordError> {
        let n = self.addresses.len();
        if n == 0 || n > MAX_ANNOUNCED_ADDRS {
            return Err(RecordError::InvalidField {
                field: "addresses",
                reason: format!("{n} addresses, allowed 1 to {MAX_ANNOUNCED_ADDRS}"),
            });
        }
        for a in &self.addresses {
            if a.is_empty() || a.len() > MAX_ADDR_LEN {
                return Err(RecordError::InvalidField {
                    field: "addresses",
                    reason: format!(
                        "an address of {} bytes, allowed 1 to {MAX_ADDR_LEN}",
                        a.len()
                    ),
                });
            }
            if Multiaddr::from_str(a).is_err() {
                return Err(RecordError::InvalidField {
                    field: "addresses",
                    reason: "an address is not a multiaddr".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The listen addresses as multiaddrs (those that parse; all do after validation).
    pub fn multiaddrs(&self) -> Vec<Multiaddr> {
        self.addresses
            .iter()
            .filter_map(|a| Multiaddr::from_str(a).ok())
            .collect()
    }
}

/// The decoded content of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordContent {
    /// A dataset manifest.
    Manifest(DatasetManifest),
    /// A node announcement.
    Announcement(NodeAnnouncement),
}

impl RecordContent {
    /// The kind of this content.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordContent::Manifest(_) => RecordKind::DatasetManifest,
            RecordContent::Announcement(_) => RecordKind::NodeAnnouncement,
        }
    }

    /// The key the content belongs under.
    pub fn record_key(&self) -> Key {
        match self {
            RecordContent::Manifest(m) => m.record_key(),
            RecordContent::Announcement(a) => a.record_key(),
        }
    }

    /// The content's timestamp (unix seconds).
    pub fn timestamp(&self) -> u64 {
        match self {
            RecordContent::Manifest(m) => m.created_at,
            RecordContent::Announcement(a) => a.timestamp,
        }
    }

    /// When the content stops being valid (unix seconds), if ever: announcements expire
    /// [`ANNOUNCEMENT_MAX_AGE_SECS`] after their timestamp; manifests do not expire by themselves.
    pub fn expires_at(&self) -> Option<u64> {
        match self {
            RecordContent::Manifest(_) => None,
            RecordContent::Announcement(a) => {
                Some(a.timestamp.saturating_add(ANNOUNCEMENT_MAX_AGE_SECS))
            }
        }
    }

    fn decode(kind: RecordKind, payload: &[u8]) -> Result<Self, RecordError> {
        match kind {
            RecordKind::DatasetManifest => DatasetManifest::decode(payload).map(Self::Manifest),
            RecordKind::NodeAnnouncement => {
                NodeAnnouncement::decode(payload).map(Self::Announcement)
            }
        }
    }
}

/// A record that passed [`SignedRecord::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidRecord {
    /// The decoded content.
    pub content: RecordContent,
    /// The key that signed it.
    pub signer_public_key: [u8; 32],
}

impl ValidRecord {
    /// The manifest, if this is one.
    pub fn manifest(&self) -> Option<&DatasetManifest> {
        match &self.content {
            RecordContent::Manifest(m) => Some(m),
            RecordContent::Announcement(_) => None,
        }
    }

    /// The announcement, if this is one.
    pub fn announcement(&self) -> Option<&NodeAnnouncement> {
        match &self.content {
            RecordContent::Announcement(a) => Some(a),
            RecordContent::Manifest(_) => None,
        }
    }

    /// The manifest, or [`RecordError::WrongKind`].
    pub fn into_manifest(self) -> Result<DatasetManifest, RecordError> {
        match self.content {
            RecordContent::Manifest(m) => Ok(m),
            other => Err(RecordError::WrongKind {
                expected: RecordKind::DatasetManifest,
                found: other.kind(),
            }),
        }
    }

    /// The announcement, or [`RecordError::WrongKind`].
    pub fn into_announcement(self) -> Result<NodeAnnouncement, RecordError> {
        match self.content {
            RecordContent::Announcement(a) => Ok(a),
            other => Err(RecordError::WrongKind {
                expected: RecordKind::NodeAnnouncement,
                found: other.kind(),
            }),
        }
    }
}

/// The envelope stored as a Kademlia record's value.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRecord {
    /// What the payload is.
    pub kind: RecordKind,
    /// The canonical payload.
    pub payload: Vec<u8>,
    /// The signer's ed25519 public key.
    pub signer_public_key: [u8; 32],
    /// ed25519 signature over `SIGNING_DOMAIN || kind byte || payload`.
    pub signature: [u8; 64],
}

impl std::fmt::Debug for SignedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedRecord")
            .field("kind", &self.kind)
            .field("payload_len", &self.payload.len())
            .field("signer", &hex(&self.signer_public_key))
            .finish_non_exhaustive()
    }
}

fn signed_message(kind: RecordKind, payload: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNING_DOMAIN.len() + 1 + payload.len());
    msg.extend_from_slice(SIGNING_DOMAIN);
    msg.push(kind.to_byte());
    msg.extend_from_slice(payload);
    msg
}

fn ed25519_public(keypair: &Keypair) -> Result<[u8; 32], RecordError> {
    keypair
        .public()
        .try_into_ed25519()
        .map(|pk| pk.to_bytes())
        .map_err(|_| RecordError::NotEd25519)
}

/// The libp2p peer id of a raw ed25519 public key.
pub fn peer_id_of(public_key: &[u8; 32]) -> Result<PeerId, RecordError> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(public_key)
        .map_err(|_| RecordError::InvalidSignerKey)?;
    Ok(PeerId::from_public_key(&identity::PublicKey::from(pk)))
}

impl SignedRecord {
    fn sign(kind: RecordKind, payload: Vec<u8>, keypair: &Keypair) -> Result<Self, RecordError> {
        let signer_public_key = ed25519_public(keypair)?;
        let sig = keypair
            .sign(&signed_message(kind, &payload))
            .map_err(|_| RecordError::SigningFailed)?;
        let signature =
            <[u8; 64]>::try_from(sig.as_slice()).map_err(|_| RecordError::SigningFailed)?;
        let rec = SignedRecord {
            kind,
            payload,
            signer_public_key,
            signature,
        };
        let size = rec.encoded_len();
        if size > MAX_RECORD_SIZE {
            return Err(RecordError::TooLarge {
                size,
                max: MAX_RECORD_SIZE,
            });
        }
        Ok(rec)
    }

    /// Signs a manifest with the owner's ed25519 (client) key, after checking its content rules.
    pub fn sign_manifest(
        manifest: &DatasetManifest,
        keypair: &Keypair,
    ) -> Result<Self, RecordError> {
        manifest.check()?;
        Self::sign(RecordKind::DatasetManifest, manifest.encode(), keypair)
    }

    /// Signs a node's announcement with the node's own key (which must be the announced peer key).
    pub fn sign_announcement(
        announcement: &NodeAnnouncement,
        keypair: &Keypair,
    ) -> Result<Self, RecordError> {
        announcement.check()?;
        let signer = ed25519_public(keypair)?;
        if signer != announcement.peer_key {
            return Err(RecordError::SignerNotAnnouncedPeer {
                announced: hex(&announcement.peer_key),
                signer: hex(&signer),
            });
        }
        Self::sign(RecordKind::NodeAnnouncement, announcement.encode(), keypair)
    }

    /// Length of [`SignedRecord::to_bytes`].
    pub fn encoded_len(&self) -> usize {
        ENVELOPE_HEADER_LEN + self.payload.len()
    }

    /// The envelope bytes (layout in `docs/dht.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&ENVELOPE_MAGIC);
        w.u8(ENVELOPE_VERSION);
        w.u8(self.kind.to_byte());
        w.bytes(&self.signer_public_key);
        w.bytes(&self.signature);
        w.u32(u32::try_from(self.payload.len()).unwrap_or(u32::MAX));
        w.bytes(&self.payload);
        w.finish()
    }

    /// Parses an envelope (size, magic, version, kind, lengths); does not verify anything else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() > MAX_RECORD_SIZE {
            return Err(RecordError::TooLarge {
                size: bytes.len(),
                max: MAX_RECORD_SIZE,
            });
        }
        let mut r = Reader::new(bytes);
        if r.array::<4>("magic")? != ENVELOPE_MAGIC {
            return Err(RecordError::BadMagic);
        }
        let version = r.u8("version")?;
        if version != ENVELOPE_VERSION {
            return Err(RecordError::UnsupportedVersion { version });
        }
        let kind = RecordKind::from_byte(r.u8("kind")?)?;
        let signer_public_key = r.array("signer_public_key")?;
        let signature = r.array("signature")?;
        let len = usize::try_from(r.u32("payload_len")?).unwrap_or(usize::MAX);
        check_len("payload", len, 1, MAX_RECORD_SIZE - ENVELOPE_HEADER_LEN)?;
        let payload = r.take(len, "payload")?.to_vec();
        r.finish()?;
        Ok(SignedRecord {
            kind,
            payload,
            signer_public_key,
            signature,
        })
    }

    /// Decodes the payload without checking the signature (to derive the key, for instance).
    pub fn content(&self) -> Result<RecordContent, RecordError> {
        RecordContent::decode(self.kind, &self.payload)
    }

    /// Checks everything about a record found under `key`, at local time `now` (unix seconds):
    /// size, payload decoding and content rules, kind, key derived from the content, signature,
    /// timestamp not more than [`MAX_CLOCK_SKEW_SECS`] in the future, announcements not expired
    /// and signed by the announced peer.
    pub fn validate(&self, now: u64, key: &RecordKey) -> Result<ValidRecord, RecordError> {
        let size = self.encoded_len();
        if size > MAX_RECORD_SIZE {
            return Err(RecordError::TooLarge {
                size,
                max: MAX_RECORD_SIZE,
            });
        }
        let content = self.content()?;
        let expected = content.record_key();
        if expected.as_bytes().as_slice() != key.as_ref() {
            return Err(RecordError::KeyMismatch {
                expected: expected.to_string(),
                found: hex(key.as_ref()),
            });
        }
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&self.signer_public_key)
            .map_err(|_| RecordError::InvalidSignerKey)?;
        let sig = ed25519_dalek::Signature::from_bytes(&self.signature);
        vk.verify_strict(&signed_message(self.kind, &self.payload), &sig)
            .map_err(|_| RecordError::BadSignature)?;
        if let RecordContent::Announcement(a) = &content
            && a.peer_key != self.signer_public_key
        {
            return Err(RecordError::SignerNotAnnouncedPeer {
                announced: hex(&a.peer_key),
                signer: hex(&self.signer_public_key),
            });
        }
        let timestamp = content.timestamp();
        if timestamp > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(RecordError::FromTheFuture { timestamp, now });
        }
        if let Some(expired_at) = content.expires_at()
            && now >= expired_at
        {
            return Err(RecordError::Expired {
                timestamp,
                expired_at,
                now,
            });
        }
        Ok(ValidRecord {
            content,
            signer_public_key: self.signer_public_key,
        })
    }

    /// [`SignedRecord::from_bytes`] then [`SignedRecord::validate`].
    pub fn validate_bytes(
        bytes: &[u8],
        now: u64,
        key: &RecordKey,
    ) -> Result<ValidRecord, RecordError> {
        Self::from_bytes(bytes)?.validate(now, key)
    }

    /// Validates a Kademlia record's value against its key (its `publisher` is not trusted: the
    /// signature inside the value is what counts).
    pub fn validate_kad_record(record: &Record, now: u64) -> Result<ValidRecord, RecordError> {
        Self::validate_bytes(&record.value, now, &record.key)
    }

    /// The Kademlia record holding this envelope: key derived from the content, publisher the
    /// signer's peer id, and the given local expiry (Kademlia's `put_record` replaces the publisher
    /// by the local peer id; that is fine, the signer is inside the value).
    pub fn to_kad_record(&self, expires: Option<Instant>) -> Result<Record, RecordError> {
        let key = self.content()?.record_key();
        let mut record = Record::new(key.to_record_key(), self.to_bytes());
        record.publisher = Some(peer_id_of(&self.signer_public_key)?);
        record.expires = expires;
        Ok(record)
    }

    /// [`SignedRecord::to_kad_record`] with the local expiry derived from the content (an
    /// announcement expires [`ANNOUNCEMENT_MAX_AGE_SECS`] after its timestamp, a manifest has no
    /// local expiry), given the wall clock `now_unix` and the monotonic instant `now`.
    pub fn to_kad_record_expiring(
        &self,
        now_unix: u64,
        now: Instant,
    ) -> Result<Record, RecordError> {
        let expires = expiry_instant(self.content()?.expires_at(), now_unix, now);
        self.to_kad_record(expires)
    }
}

/// The local monotonic instant at which a record with content deadline `expires_at` (unix
/// seconds) expires, given the current unix time and instant; `None` if `expires_at` is `None`.
pub fn expiry_instant(expires_at: Option<u64>, now_unix: u64, now: Instant) -> Option<Instant> {
    let deadline = expires_at?;
    let secs = deadline.saturating_sub(now_unix);
    // Far-future deadlines that overflow Instant are treated as "no local expiry".
    now.checked_add(std::time::Duration::from_secs(secs))
}
