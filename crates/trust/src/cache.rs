// SPDX-License-Identifier: Apache-2.0
//! Verification cache (design: `docs/design/verify-cache.md`).
//!
//! An entry says "this exact file content, under this ECL/keyring/options/version, verified".
//! Its name is a SHA-256 over the file's identity — device, inode, size, mtime and **ctime**
//! in ns (ctime cannot be set by users), the filesystem type — plus the caller's context
//! (ECL and keyring digests, options) and our version. Entries live in a root-owned
//! directory that only root writes; anyone may read. Files on filesystems without a stable,
//! local ctime (FUSE, NFS, overlay…) are never cached, nor files changed in the last
//! [`VerifyCache::DEFAULT_MIN_AGE`] (coarse timestamps could hide a change made in the same
//! tick as the verification). An entry also carries a `not_after` time (key expirations,
//! at most [`VerifyCache::MAX_ENTRY_AGE`]): time-dependent validity is re-checked by a full
//! verification once it passes.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{Mode, OFlags};
use sha2::Digest as _;

/// Filesystems whose ctime is local and stable (ext2/3/4, xfs, btrfs, tmpfs, zfs, f2fs).
const CACHEABLE_FS: [i64; 6] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0x2FC1_2FC1,
    0xF2F5_2010,
];

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A cache key: the identity it was computed from and its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    identity: [i64; 8],
    digest: String,
}

/// Why an entry was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Only root writes the cache.
    #[error("not root: the verification cache is written only by root")]
    NotRoot,
    /// The file changed while it was verified.
    #[error("image changed during verification")]
    Changed,
    /// The directory is missing or not root-owned and private.
    #[error("cache directory {0} unsafe or missing")]
    UnsafeDir(PathBuf),
    /// I/O.
    #[error("cannot write cache entry in {path}")]
    Io {
        /// Directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The cache directory and its policy.
#[derive(Clone, Debug)]
pub struct VerifyCache {
    dir: PathBuf,
    min_age: Duration,
}

impl VerifyCache {
    /// Default location.
    pub const DEFAULT_DIR: &'static str = "/var/cache/stockade/verify";
    /// Files changed more recently than this are not cached.
    pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(2);
    /// Longest an entry is trusted (signatures may expire; we do not read them on a hit).
    pub const MAX_ENTRY_AGE: Duration = Duration::from_secs(24 * 3600);

    /// A cache in `dir` (created by [`VerifyCache::store`] when running as root).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            min_age: Self::DEFAULT_MIN_AGE,
        }
    }

    /// Changes the minimum age of cached files (tests).
    pub fn with_min_age(mut self, min_age: Duration) -> Self {
        self.min_age = min_age;
        self
    }

    /// The key of `file` under `context`, or `None` when the file must not be cached.
    pub fn key(&self, file: &File, context: &[u8]) -> Option<CacheKey> {
        let st = rustix::fs::fstat(file.as_fd()).ok()?;
        let fs_type = rustix::fs::fstatfs(file.as_fd()).ok()?.f_type;
        if !CACHEABLE_FS.contains(&fs_type) || (st.st_mode & 0o170000) != 0o100000 {
            return None;
        }
        let ctime =
            Duration::new(st.st_ctime.unsigned_abs(), 0) + Duration::from_nanos(st.st_ctime_nsec);
        let changed = SystemTime::UNIX_EPOCH + ctime;
        if SystemTime::now()
            .duration_since(changed)
            .unwrap_or_default()
            < self.min_age
        {
            return None;
        }
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let identity = [
            as_i64(st.st_dev),
            as_i64(st.st_ino),
            st.st_size,
            st.st_mtime,
            as_i64(st.st_mtime_nsec),
            st.st_ctime,
            as_i64(st.st_ctime_nsec),
            fs_type,
        ];
        let mut h = sha2::Sha256::new();
        h.update(b"stockade-verify-cache-v2\0");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update([0]);
        for v in identity {
            h.update(v.to_le_bytes());
        }
        h.update(context);
        Some(CacheKey {
            identity,
            digest: hex(&h.finalize()),
        })
    }

    fn open_dir(&self) -> Option<File> {
        let dir = File::options()
            .read(true)
            .custom_flags(i32::try_from((OFlags::DIRECTORY | OFlags::NOFOLLOW).bits()).unwrap_or(0))
            .open(&self.dir)
            .ok()?;
        let m = dir.metadata().ok()?;
        (m.uid() == 0 && m.mode() & 0o022 == 0).then_some(dir)
    }

    /// True when `key` was stored by root and its `not_after` has not passed.
    pub fn lookup(&self, key: &CacheKey) -> bool {
        let Some(dir) = self.open_dir() else {
            return false;
        };
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let Ok(fd) = rustix::fs::openat(&dir, key.digest.as_str(), flags, Mode::empty()) else {
            return false;
        };
        let mut f = File::from(fd);
        let Ok(m) = f.metadata() else { return false };
        if m.uid() != 0 || m.mode() & 0o022 != 0 || !m.is_file() || m.len() > 256 {
            return false;
        }
        let mut text = String::new();
        if f.read_to_string(&mut text).is_err() {
            return false;
        }
        let Some(not_after) = parse_entry(&text, key) else {
            return false;
        };
        unix_secs(SystemTime::now()) < not_after
    }

    /// Records `key` as verified for [`VerifyCache::MAX_ENTRY_AGE`], if still true of `file`
    /// and we are root.
    pub fn store(&self, key: &CacheKey, file: &File) -> Result<(), CacheError> {
        self.store_until(key, file, SystemTime::now() + Self::MAX_ENTRY_AGE)
    }

    /// Records `key` as verified until `not_after` (capped at [`VerifyCache::MAX_ENTRY_AGE`]
    /// from now), if still true of `file` and we are root.
    pub fn store_until(
        &self,
        key: &CacheKey,
        file: &File,
        not_after: SystemTime,
    ) -> Result<(), CacheError> {
        let not_after = unix_secs(not_after.min(SystemTime::now() + Self::MAX_ENTRY_AGE));
        if !rustix::process::geteuid().is_root() {
            return Err(CacheError::NotRoot);
        }
        let now = self.key(file, b"").ok_or(CacheError::Changed)?;
        if now.identity != key.identity {
            return Err(CacheError::Changed);
        }
        let io_err = |source| CacheError::Io {
            path: self.dir.clone(),
            source,
        };
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&self.dir)
                .map_err(io_err)?;
        }
        let dir = self
            .open_dir()
            .ok_or_else(|| CacheError::UnsafeDir(self.dir.clone()))?;
        let tmp = format!(".{}.{}", key.digest, std::process::id());
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, tmp.as_str(), flags, Mode::from_raw_mode(0o644))
            .map_err(|e| io_err(e.into()))?;
        let mut f = File::from(fd);
        let written = f
            .write_all(entry_text(key, not_after).as_bytes())
            .and_then(|()| f.sync_all());
        let renamed = written.and_then(|()| {
            rustix::fs::renameat(&dir, tmp.as_str(), &dir, key.digest.as_str()).map_err(Into::into)
        });
        if renamed.is_err() {
            let _ = rustix::fs::unlinkat(&dir, tmp.as_str(), rustix::fs::AtFlags::empty());
        }
        renamed.map_err(io_err)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn entry_text(key: &CacheKey, not_after: u64) -> String {
    format!("stockade-verify-cache 2 {} {not_after}\n", key.digest)
}

/// The `not_after` of an entry for `key`; `None` unless the text is exactly ours.
fn parse_entry(text: &str, key: &CacheKey) -> Option<u64> {
    let rest = text
        .strip_prefix("stockade-verify-cache 2 ")?
        .strip_prefix(key.digest.as_str())?
        .strip_prefix(' ')?
        .strip_suffix('\n')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}
