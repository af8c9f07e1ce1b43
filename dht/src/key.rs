//! The 256-bit key space: keys are blake3 outputs in key-derivation mode, one context string per
//! domain (pools, nodes, datasets), so that a key of one domain can never equal the key of another
//! domain for any inputs (short of a blake3 collision). Distances are XOR, as in Kademlia.

use std::fmt;

use libp2p::kad::RecordKey;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// blake3 key-derivation context of pool keys (placement of a pool's committee).
pub const POOL_CONTEXT: &str = "sharenet 2026-11 dht pool key v1";
/// blake3 key-derivation context of node keys (a node's position in the key space).
pub const NODE_CONTEXT: &str = "sharenet 2026-11 dht node key v1";
/// blake3 key-derivation context of dataset keys (where a dataset's manifest is stored).
pub const DATASET_CONTEXT: &str = "sharenet 2026-11 dht dataset key v1";

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A record key is not a sharenet key: it must be exactly 32 bytes.
    #[error("a sharenet DHT key is {KEY_LEN} bytes, this record key has {len}")]
    WrongLength {
        /// Length of the key that was given.
        len: usize,
    },
}

/// A point of the 256-bit key space.
///
/// Keys are public (hashes of public identifiers); `Debug` and `Display` print them in hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// Wraps 32 raw bytes (no hashing): use the `for_*` constructors to derive keys.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw bytes of the key.
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The raw bytes of the key, by value.
    pub const fn to_bytes(self) -> [u8; KEY_LEN] {
        self.0
    }

    /// The placement key of a pool: `blake3::derive_key(POOL_CONTEXT, pool id as UTF-8 bytes)`.
    ///
    /// This is the `poolKey` the dataset registry stores next to the pool name.
    pub fn for_pool(pool: &str) -> Self {
        Self(blake3::derive_key(POOL_CONTEXT, pool.as_bytes()))
    }

    /// The key of a node: `blake3::derive_key(NODE_CONTEXT, raw 32-byte ed25519 peer key)`.
    pub fn for_node(peer_public_key: &[u8; 32]) -> Self {
        Self(blake3::derive_key(NODE_CONTEXT, peer_public_key))
    }

    /// The key of a dataset: `blake3::derive_key(DATASET_CONTEXT, 32-byte dataset id)`.
    pub fn for_dataset(dataset_id: &[u8; 32]) -> Self {
        Self(blake3::derive_key(DATASET_CONTEXT, dataset_id))
    }

    /// XOR distance between two keys.
    pub fn distance(&self, other: &Key) -> Distance {
        let mut d = [0u8; KEY_LEN];
        for (i, out) in d.iter_mut().enumerate() {
            *out = self.0[i] ^ other.0[i];
        }
        Distance(d)
    }

    /// The libp2p Kademlia record key holding these 32 bytes.
    pub fn to_record_key(&self) -> RecordKey {
        RecordKey::new(&self.0)
    }
}

impl From<Key> for RecordKey {
    fn from(k: Key) -> Self {
        k.to_record_key()
    }
}

impl TryFrom<&RecordKey> for Key {
    type Error = KeyError;

    fn try_from(k: &RecordKey) -> Result<Self, KeyError> {
        let bytes: &[u8] = k.as_ref();
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Key)
            .map_err(|_| KeyError::WrongLength { len: bytes.len() })
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(")?;
        write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

/// The XOR distance between two keys, read as a 256-bit big-endian unsigned integer.
///
/// `Ord` is the numeric order. XOR is a metric: `d(a, b) = 0` iff `a = b`, `d(a, b) = d(b, a)`,
/// `d(a, c) = d(a, b) ^ d(b, c) <= d(a, b) + d(b, c)`, and for a given `a` and `d` exactly one
/// `b` has `d(a, b) = d` (so two distinct keys are never at the same distance from a third).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Distance([u8; KEY_LEN]);

impl Distance {
    /// The zero distance (a key to itself).
    pub const ZERO: Distance = Distance([0u8; KEY_LEN]);

    /// Wraps 32 raw big-endian bytes.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The big-endian bytes of the distance.
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Whether the distance is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0u8; KEY_LEN]
    }

    /// Number of leading zero bits (256 for the zero distance): the length of the common prefix
    /// of the two keys.
    pub fn leading_zeros(&self) -> u32 {
        let mut n = 0u32;
        for b in self.0 {
            if b == 0 {
                n += 8;
            } else {
                return n + b.leading_zeros();
            }
        }
        n
    }

    /// The Kademlia bucket index, `floor(log2(distance))` in `0..=255`, `None` for the zero
    /// distance (the same numbering as libp2p-kad's `Distance::ilog2`).
    pub fn bucket_index(&self) -> Option<u8> {
        let lz = self.leading_zeros();
        if lz >= 256 {
            None
        } else {
            u8::try_from(255 - lz).ok()
        }
    }

    /// XOR of two distances (`d(a, b) ^ d(b, c) = d(a, c)`).
    pub fn xor(&self, other: &Distance) -> Distance {
        let mut d = [0u8; KEY_LEN];
        for (i, out) in d.iter_mut().enumerate() {
            *out = self.0[i] ^ other.0[i];
        }
        Distance(d)
    }
}

impl fmt::Debug for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Distance(")?;
        write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    struct H<'a>(&'a [u8]);
    impl fmt::Display for H<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_hex(f, self.0)
        }
    }
    H(bytes).to_string()
}
