//! A node's key files: its libp2p ed25519 identity and its chain account key. Both are created
//! with mode 0600 and refused if others can read them.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;
use libp2p::identity::Keypair;
use zeroize::Zeroize;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists and is readable by group or others.
    #[error("key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The contents are not a key of the expected kind.
    #[error("key file {path} does not hold a valid {kind} key")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which kind of key was expected.
        kind: &'static str,
    },
    /// Refusing to overwrite an existing key.
    #[error(
        "key file {path} already exists; remove it first if you really mean to replace this identity"
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to a new file with mode 0600 (fails if it exists).
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                KeyError::Io {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Reads a secret file after checking that only its owner can read it.
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>, KeyError> {
    let mode = fs::metadata(path).map_err(io(path))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    fs::read(path).map_err(io(path))
}

/// Creates a new libp2p ed25519 identity in `path`.
pub fn create_identity(path: &Path) -> Result<Keypair, KeyError> {
    let key = Keypair::generate_ed25519();
    let bytes = key.to_protobuf_encoding().map_err(|_| KeyError::Invalid {
        path: path.to_path_buf(),
        kind: "ed25519 identity",
    })?;
    write_secret_file(path, &bytes)?;
    Ok(key)
}

/// Loads the libp2p identity in `path`.
pub fn load_identity(path: &Path) -> Result<Keypair, KeyError> {
    let bytes = read_secret_file(path)?;
    let key = Keypair::from_protobuf_encoding(&bytes).map_err(|_| KeyError::Invalid {
        path: path.to_path_buf(),
        kind: "ed25519 identity",
    })?;
    if key.clone().try_into_ed25519().is_err() {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
            kind: "ed25519 identity",
        });
    }
    Ok(key)
}

/// The 32-byte ed25519 public key of an identity (what the chain binds to the account).
pub fn peer_key_bytes(key: &Keypair) -> Option<[u8; 32]> {
    key.public().try_into_ed25519().ok().map(|pk| pk.to_bytes())
}

/// The client identity (libp2p ed25519 key) of a chain account: derived from the account key so
/// that every command run by one owner signs its dataset manifests with the same key (a DHT
/// store only lets a manifest's first signer publish newer versions) and a researcher is
/// reachable under the same peer id as long as it keeps its account key.
pub fn client_identity(chain_key: &PrivateKeySigner) -> Keypair {
    let mut secret = blake3::derive_key(
        "sharenet 2026-11 client identity from account key v1",
        chain_key.to_bytes().as_slice(),
    );
    let key = Keypair::ed25519_from_bytes(&mut secret[..]);
    secret.zeroize();
    // 32 bytes are always a valid ed25519 secret; the fallback is unreachable but keeps this
    // total.
    key.unwrap_or_else(|_| Keypair::generate_ed25519())
}

/// Creates a new chain account key (hex) in `path`.
pub fn create_chain_key(path: &Path) -> Result<PrivateKeySigner, KeyError> {
    let signer = PrivateKeySigner::random();
    let hex: String = signer
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    write_secret_file(path, format!("{hex}\n").as_bytes())?;
    Ok(signer)
}

/// Loads the chain account key (hex, optional `0x`) in `path`.
pub fn load_chain_key(path: &Path) -> Result<PrivateKeySigner, KeyError> {
    let bytes = read_secret_file(path)?;
    let invalid = || KeyError::Invalid {
        path: path.to_path_buf(),
        kind: "secp256k1 account",
    };
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let hex = text.trim().trim_start_matches("0x");
    hex.parse::<PrivateKeySigner>().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "sharenet-keys-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn rand_suffix() -> u64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    #[test]
    fn client_identity_is_stable_per_account_and_differs_between_accounts() {
        let a = PrivateKeySigner::random();
        let b = PrivateKeySigner::random();
        assert_eq!(
            client_identity(&a).public().to_peer_id(),
            client_identity(&a).public().to_peer_id()
        );
        assert_ne!(
            client_identity(&a).public().to_peer_id(),
            client_identity(&b).public().to_peer_id()
        );
    }

    #[test]
    fn keys_round_trip_with_private_permissions() {
        let d = dir();
        let id = create_identity(&d.join("node.key")).unwrap();
        let chain = create_chain_key(&d.join("chain.key")).unwrap();
        let mode = fs::metadata(d.join("node.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            load_identity(&d.join("node.key")).unwrap().public(),
            id.public()
        );
        assert_eq!(
            load_chain_key(&d.join("chain.key")).unwrap().address(),
            chain.address()
        );
        assert!(matches!(
            create_identity(&d.join("node.key")),
            Err(KeyError::Exists { .. })
        ));
        fs::set_permissions(d.join("chain.key"), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_chain_key(&d.join("chain.key")),
            Err(KeyError::Permissions { mode: 0o644, .. })
        ));
        fs::write(d.join("bad.key"), b"nonsense").unwrap();
        fs::set_permissions(d.join("bad.key"), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_identity(&d.join("bad.key")),
            Err(KeyError::Invalid { .. })
        ));
        assert!(matches!(
            load_chain_key(&d.join("bad.key")),
            Err(KeyError::Invalid { .. })
        ));
        fs::remove_dir_all(d).unwrap();
    }
}
