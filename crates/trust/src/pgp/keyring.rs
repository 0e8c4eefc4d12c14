// SPDX-License-Identifier: Apache-2.0
//! OpenPGP keyrings: a list of certificates (with or without secret key material) read from
//! binary or armored files with a size bound, and written back atomically.
//!
//! Files are Apptainer's layout: `~/.stockade/keys/pgp-public` and `pgp-secret` (binary
//! concatenated certificates), and the global `<sysconfdir>/global-pgp-public`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use openpgp::cert::CertParser;
use openpgp::parse::Parse;
use openpgp::serialize::{Serialize, SerializeInto};
use openpgp::{Cert, Fingerprint, KeyHandle};
use sequoia_openpgp as openpgp;

/// Largest keyring file read.
pub const MAX_KEYRING_BYTES: u64 = 16 << 20;
/// Most certificates kept from one keyring.
pub const MAX_CERTS: usize = 4096;

/// Name of the global public keyring inside the system configuration directory.
pub const GLOBAL_KEYRING: &str = "global-pgp-public";

/// Why a keyring could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// Open/read failure.
    #[error("cannot read keyring {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Larger than [`MAX_KEYRING_BYTES`].
    #[error("keyring {path} too large ({len} bytes, limit {MAX_KEYRING_BYTES})")]
    TooLarge {
        /// File.
        path: PathBuf,
        /// Length.
        len: u64,
    },
    /// Not OpenPGP data.
    #[error("keyring {path}: {reason}")]
    Parse {
        /// File (or `<memory>`).
        path: PathBuf,
        /// Parser's reason.
        reason: String,
    },
    /// More than [`MAX_CERTS`] certificates.
    #[error("keyring {path} holds more than {MAX_CERTS} keys")]
    TooManyCerts {
        /// File.
        path: PathBuf,
    },
    /// Write failure.
    #[error("cannot write keyring {path}")]
    Write {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// A set of OpenPGP certificates, unique by primary fingerprint, in insertion order.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    certs: Vec<Cert>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `path`; a missing file is an empty keyring.
    pub fn load(path: &Path) -> Result<Self, KeyringError> {
        Self::from_bytes(&read_file(path)?, path)
    }

    /// Reads an opened keyring file (at most [`MAX_KEYRING_BYTES`]).
    pub fn read_bounded(f: File, path: &Path) -> Result<Self, KeyringError> {
        Self::from_bytes(&read_bounded_bytes(f, path)?, path)
    }

    /// Parses binary or armored certificates; `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, KeyringError> {
        let mut ring = Self::new();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ring);
        }
        let parse_err = |e: anyhow_like::Error| KeyringError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let binary = super::lenient::dearmor_all(bytes).map_err(|reason| KeyringError::Parse {
            path: path.to_path_buf(),
            reason,
        })?;
        let binary = super::lenient::normalize_signature_mpis(&binary);
        for cert in CertParser::from_bytes(&binary).map_err(parse_err)? {
            let cert = cert.map_err(parse_err)?;
            if ring.certs.len() == MAX_CERTS {
                return Err(KeyringError::TooManyCerts {
                    path: path.to_path_buf(),
                });
            }
            ring.insert(cert);
        }
        Ok(ring)
    }

    /// The certificates.
    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }

    /// Number of certificates.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// Adds `cert`, merging it into an existing one with the same fingerprint.
    pub fn insert(&mut self, cert: Cert) {
        let fp = cert.fingerprint();
        match self.certs.iter().position(|c| c.fingerprint() == fp) {
            Some(i) => {
                let old = self.certs[i].clone();
                // Merging two certificates with the same fingerprint cannot fail.
                self.certs[i] = old.clone().merge_public_and_secret(cert).unwrap_or(old);
            }
            None => self.certs.push(cert),
        }
    }

    /// Adds every certificate of `other`.
    pub fn extend(&mut self, other: &Keyring) {
        for c in &other.certs {
            self.insert(c.clone());
        }
    }

    /// The certificate whose primary fingerprint is `fp`.
    pub fn get(&self, fp: &Fingerprint) -> Option<&Cert> {
        self.certs.iter().find(|c| &c.fingerprint() == fp)
    }

    /// Certificates holding a (sub)key that `handle` designates.
    pub fn certs_with_key(&self, handle: &KeyHandle) -> Vec<&Cert> {
        self.certs
            .iter()
            .filter(|c| c.keys().any(|k| k.key().key_handle().aliases(handle)))
            .collect()
    }

    /// Removes the certificate with primary fingerprint `fp`; true if it was there.
    pub fn remove(&mut self, fp: &Fingerprint) -> bool {
        let before = self.certs.len();
        self.certs.retain(|c| &c.fingerprint() != fp);
        before != self.certs.len()
    }

    /// Binary serialisation; secret key material only when `secret`.
    pub fn to_bytes(&self, secret: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for c in &self.certs {
            // Serialising into a Vec cannot fail for certificates we parsed or built.
            let _ = if secret {
                c.as_tsk().serialize(&mut out)
            } else {
                c.serialize(&mut out)
            };
        }
        out
    }

    /// SHA-256 of the public serialisation (identifies the keyring in cache keys).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(self.to_bytes(false)).into()
    }

    /// The earliest time after `now` at which a key of this keyring (primary or subkey of a
    /// certificate valid at `now` under the standard policy) expires; `None` if none does.
    pub fn earliest_expiry(&self, now: SystemTime) -> Option<SystemTime> {
        let policy = openpgp::policy::StandardPolicy::new();
        self.certs
            .iter()
            .filter_map(|c| c.with_policy(&policy, now).ok())
            .filter_map(|vc| {
                vc.keys()
                    .filter_map(|ka| ka.key_expiration_time())
                    .filter(|t| *t > now)
                    .min()
            })
            .min()
    }

    /// Writes the keyring to `path` atomically (temporary file + rename) with `mode`.
    pub fn save(&self, path: &Path, secret: bool, mode: u32) -> Result<(), KeyringError> {
        write_atomic(path, &self.to_bytes(secret), mode)
    }
}

/// The bytes of the keyring file `path` (at most [`MAX_KEYRING_BYTES`]); a missing file is
/// empty. What [`Keyring::load`] parses, for callers that identify a keyring by its bytes.
pub fn read_file(path: &Path) -> Result<Vec<u8>, KeyringError> {
    match File::open(path) {
        Ok(f) => read_bounded_bytes(f, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(KeyringError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn read_bounded_bytes(f: File, path: &Path) -> Result<Vec<u8>, KeyringError> {
    let read_err = |source| KeyringError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = f.metadata().map_err(read_err)?.len();
    if len > MAX_KEYRING_BYTES {
        return Err(KeyringError::TooLarge {
            path: path.to_path_buf(),
            len,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.take(MAX_KEYRING_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_KEYRING_BYTES {
        return Err(KeyringError::TooLarge {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// Armored serialisation of one certificate (public, or with secret key material).
pub fn armored(cert: &Cert, secret: bool) -> Vec<u8> {
    let out = if secret {
        cert.as_tsk().armored().to_vec()
    } else {
        cert.armored().to_vec()
    };
    // Armoring a parsed certificate cannot fail.
    out.unwrap_or_default()
}

/// Writes `bytes` to `path` through a temporary file in the same directory, then renames.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyringError> {
    let write_err = |source| KeyringError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0))
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_err)
}

mod anyhow_like {
    /// Sequoia's error type.
    pub type Error = sequoia_openpgp::anyhow::Error;
}
