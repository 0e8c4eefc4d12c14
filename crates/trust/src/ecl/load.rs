// SPDX-License-Identifier: Apache-2.0
//! Loading `<sysconfdir>/ecl.toml` safely: no symlink, a regular root-owned file that only
//! root can write, bounded size.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::config::{self, ConfigError, EclConfig, MAX_ECL_BYTES};
use crate::cache::VerifyCache;
use crate::pgp::GLOBAL_KEYRING;

/// File name inside the system configuration directory.
pub const ECL_FILE: &str = "ecl.toml";

/// Why the ECL could not be loaded. The caller must then refuse to run any SIF.
#[derive(Debug, thiserror::Error)]
pub enum EclError {
    /// Cannot open or read.
    #[error("cannot read {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("{path} is not a regular file")]
    NotRegular {
        /// File.
        path: PathBuf,
    },
    /// Not owned by root, or writable by group/others.
    #[error("{path} must be owned by root and writable only by root (uid {uid}, mode {mode:o})")]
    Unsafe {
        /// File.
        path: PathBuf,
        /// Owner.
        uid: u32,
        /// Mode bits.
        mode: u32,
    },
    /// Malformed or invalid.
    #[error("invalid {path}")]
    Config {
        /// File.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ConfigError,
    },
}

/// A loaded ECL.
#[derive(Debug, Clone)]
pub struct Ecl {
    pub(super) config: EclConfig,
    pub(super) path: PathBuf,
    pub(super) digest: [u8; 32],
    pub(super) cache: Option<VerifyCache>,
    keyring: PathBuf,
}

impl Ecl {
    /// Loads `<sysconfdir>/ecl.toml`. A missing file is a deactivated list; anything else
    /// that is wrong is an error (deny everything). The result uses the verification cache
    /// in [`VerifyCache::DEFAULT_DIR`] (see [`Ecl::without_cache`]) and
    /// `<sysconfdir>/global-pgp-public` as the global keyring.
    pub fn load(sysconfdir: &Path) -> Result<Self, EclError> {
        Ok(Self::load_uncached(sysconfdir)?.with_cache(VerifyCache::new(VerifyCache::DEFAULT_DIR)))
    }

    fn load_uncached(sysconfdir: &Path) -> Result<Self, EclError> {
        let path = sysconfdir.join(ECL_FILE);
        let read_err = |source| EclError::Read {
            path: path.clone(),
            source,
        };
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0))
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::from_config(EclConfig::default(), path, [0; 32]));
            }
            Err(e) => return Err(read_err(e)),
        };
        let meta = file.metadata().map_err(read_err)?;
        if !meta.file_type().is_file() {
            return Err(EclError::NotRegular { path });
        }
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            return Err(EclError::Unsafe {
                path,
                uid: meta.uid(),
                mode: meta.mode() & 0o7777,
            });
        }
        let bytes = read_bounded(file).map_err(read_err)?;
        Self::from_bytes(&bytes, &path)
    }

    /// Parses and validates `bytes` (no ownership checks: for tests and tools).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, EclError> {
        let config = config::parse_and_validate(bytes).map_err(|source| EclError::Config {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::from_config(
            config,
            path.to_path_buf(),
            sha2::Sha256::digest(bytes).into(),
        ))
    }

    fn from_config(config: EclConfig, path: PathBuf, digest: [u8; 32]) -> Self {
        let dir = path.parent().unwrap_or(Path::new("/"));
        Self {
            keyring: dir.join(GLOBAL_KEYRING),
            config,
            path,
            digest,
            cache: None,
        }
    }

    /// Uses `cache` for verified results (see `docs/design/verify-cache.md`).
    pub fn with_cache(mut self, cache: VerifyCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Verifies every time (no cache).
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Uses `path` as the global keyring for [`Ecl::check_global`] (default: the
    /// `global-pgp-public` next to the `ecl.toml`).
    pub fn with_global_keyring(mut self, path: impl Into<PathBuf>) -> Self {
        self.keyring = path.into();
        self
    }

    /// The global keyring [`Ecl::check_global`] reads.
    pub fn global_keyring(&self) -> &Path {
        &self.keyring
    }

    /// The configuration.
    pub fn config(&self) -> &EclConfig {
        &self.config
    }

    /// True when the list is active.
    pub fn activated(&self) -> bool {
        self.config.activated
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_bounded(file: File) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(MAX_ECL_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_ECL_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_ECL_BYTES} bytes"
        )));
    }
    Ok(bytes)
}
