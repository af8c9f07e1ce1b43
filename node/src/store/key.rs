//! The node-local at-rest key and its key file.
//!
//! The key file holds exactly the 32 raw key bytes, mode 0600. It is created atomically (written
//! to a temporary file created with mode 0600, synced, then hard-linked into place, so the key
//! file never exists half-written and two racing creators end up with the same key), and a key
//! file that group or others may access is refused.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::Generate;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::StoreError;

/// Length of an at-rest key in bytes.
pub const AT_REST_KEY_BYTES: usize = 32;

/// The node-local key that encrypts shares at rest. Zeroized on drop; `Debug` is redacted.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AtRestKey {
    bytes: [u8; AT_REST_KEY_BYTES],
}

impl core::fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AtRestKey(<redacted>)")
    }
}

impl AtRestKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, StoreError> {
        let bytes = <[u8; AT_REST_KEY_BYTES]>::try_generate().map_err(|_| StoreError::Rng)?;
        Ok(AtRestKey { bytes })
    }

    /// A key from raw bytes (for key management tools and tests; the node uses
    /// [`AtRestKey::load_or_create`]).
    pub fn from_bytes(bytes: [u8; AT_REST_KEY_BYTES]) -> Self {
        AtRestKey { bytes }
    }

    pub(crate) fn expose(&self) -> &[u8; AT_REST_KEY_BYTES] {
        &self.bytes
    }

    /// Loads the key file at `path`, or creates it with a fresh random key if it does not exist.
    ///
    /// A new file is created with mode 0600. An existing file whose mode lets group or others
    /// read, write or execute it is refused with [`StoreError::KeyFilePermissions`]; a file that
    /// does not hold exactly 32 bytes is refused with [`StoreError::KeyFileFormat`].
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        match File::open(path) {
            Ok(file) => Self::read_from(file, path),
            Err(e) if e.kind() == ErrorKind::NotFound => Self::create(path),
            Err(source) => Err(key_io(path, source)),
        }
    }

    /// Loads an existing key file (no creation), with the same checks as
    /// [`AtRestKey::load_or_create`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| key_io(path, e))?;
        Self::read_from(file, path)
    }

    fn read_from(mut file: File, path: &Path) -> Result<Self, StoreError> {
        // Inspect the opened file itself, not the path, so the checked file is the read one.
        let meta = file.metadata().map_err(|e| key_io(path, e))?;
        if !meta.is_file() {
            return Err(key_io(
                path,
                std::io::Error::new(ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::KeyFilePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        if meta.len() != AT_REST_KEY_BYTES as u64 {
            return Err(StoreError::KeyFileFormat {
                path: path.to_path_buf(),
                len: meta.len(),
            });
        }
        let mut key = AtRestKey {
            bytes: [0u8; AT_REST_KEY_BYTES],
        };
        file.read_exact(&mut key.bytes)
            .map_err(|e| key_io(path, e))?;
        // A file that grew between the length check and the read is not a key file.
        let mut probe = [0u8; 1];
        if file.read(&mut probe).map_err(|e| key_io(path, e))? != 0 {
            return Err(StoreError::KeyFileFormat {
                path: path.to_path_buf(),
                len: meta.len().saturating_add(1),
            });
        }
        Ok(key)
    }

    fn create(path: &Path) -> Result<Self, StoreError> {
        let key = Self::generate()?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "key".to_owned());
        let suffix = u64::try_generate().map_err(|_| StoreError::Rng)?;
        let tmp = dir.join(format!(
            ".{file_name}.{}.{suffix:016x}.tmp",
            std::process::id()
        ));
        let written = (|| -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&key.bytes)?;
            file.sync_all()
        })();
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(key_io(path, source));
        }
        // hard_link fails if `path` exists: a concurrent creator won, and we use its key.
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| key_io(&dir, e))?;
                tracing::info!(path = %path.display(), "created at-rest key file");
                Ok(key)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Self::load(path),
            Err(source) => Err(key_io(path, source)),
        }
    }
}

fn key_io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::KeyFileIo {
        path: path.to_path_buf(),
        source,
    }
}
