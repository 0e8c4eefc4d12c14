// SPDX-License-Identifier: Apache-2.0
//! Sealed self-copy (CVE-2019-5736): before any container process exists, the runtime makes
//! sure `/proc/self/exe` cannot be written through, re-executing itself once if needed from
//! * the binary seen through a detached, read-only overlayfs mount (`fsopen("overlay")` with
//!   only lower layers: the binary's directory over `/dev`, or over an empty directory
//!   when `/dev` cannot be a layer; `fsmount` with
//!   `MOUNT_ATTR_RDONLY`): no copy, and a write-open fails with `EROFS` (root only; the
//!   default, see `prefer_overlay`), or
//! * a `memfd` copy sealed against writes, growth, shrinking and further sealing (rootless,
//!   no overlayfs, or a path overlayfs cannot take).
//!
//! Sealed-ness is detected by property (read-only overlayfs, or a memfd with the four seals),
//! never by an environment flag a caller could set.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags, StatVfsMountFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

/// Errors of the sealing step.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// `/proc/self/exe` cannot be inspected.
    #[error("cannot inspect /proc/self/exe")]
    Inspect(#[source] std::io::Error),
    /// Neither overlayfs nor memfd produced an executable sealed copy.
    #[error("cannot re-execute from a sealed copy of the runtime")]
    Reexec(#[source] std::io::Error),
}

const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
const ALL_SEALS: SealFlags = SealFlags::SEAL
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::WRITE);

/// Whether the running image is already sealed.
pub fn is_sealed() -> Result<bool, SealError> {
    let exe = rustix::fs::open(
        "/proc/self/exe",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SealError::Inspect(e.into()))?;
    let fs = rustix::fs::fstatfs(&exe).map_err(|e| SealError::Inspect(e.into()))?;
    if fs.f_type == OVERLAYFS_SUPER_MAGIC {
        let vfs = rustix::fs::fstatvfs(&exe).map_err(|e| SealError::Inspect(e.into()))?;
        return Ok(vfs.f_flag.contains(StatVfsMountFlags::RDONLY));
    }
    Ok(rustix::fs::fcntl_get_seals(&exe).is_ok_and(|s| s.contains(ALL_SEALS)))
}

/// Returns when the image is sealed; otherwise re-executes from a sealed copy (same argv
/// and environment) and does not return unless that fails. `scratch` is a directory where
/// the fallback empty overlay layer lives for the moment the overlay is created (a uniquely named
/// directory, removed at once: nothing stays, e.g. in a state root an engine shares with
/// runc).
pub fn ensure_sealed(scratch: &Path) -> Result<(), SealError> {
    if is_sealed()? {
        return Ok(());
    }
    let argv: Vec<CString> = std::env::args_os().map(to_cstring).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            to_cstring(kv)
        })
        .collect();
    let exe = std::fs::read_link("/proc/self/exe").map_err(SealError::Inspect)?;
    // an unprivileged caller cannot mount overlayfs in the initial user namespace
    let privileged = rustix::process::geteuid().is_root();
    if let Some(fd) = (privileged && prefer_overlay())
        .then(|| overlay_copy(&exe, scratch).ok())
        .flatten()
    {
        let err = stockade_sys::exec::execveat_fd(fd.as_fd(), &argv, &envp);
        tracing::debug!("overlayfs re-exec failed: {err}");
    }
    let fd = memfd_copy().map_err(SealError::Reexec)?;
    Err(SealError::Reexec(stockade_sys::exec::execveat_fd(
        fd.as_fd(),
        &argv,
        &envp,
    )))
}

/// Which copy to try first. Both are sealed; they trade memory for start time: the memfd
/// copies the binary (a few MiB of shmem while the runtime process lives, ~5 ms of system
/// time measured here under load) and the detached overlayfs costs nothing to set up, but
/// dropping its mount fd waits for an RCU grace period in the kernel (`namespace_unlock`).
/// Measured side by side (bench/oci-start.sh conditions), overlayfs wins: it is the default.
/// `STOCKADE_OCI_SEAL=memfd` selects the memfd for measurements; the sealed-ness check does
/// not depend on it.
fn prefer_overlay() -> bool {
    std::env::var_os("STOCKADE_OCI_SEAL").is_none_or(|v| v != "memfd")
}

fn to_cstring(s: OsString) -> CString {
    let mut bytes = s.into_vec();
    bytes.retain(|b| *b != 0);
    CString::new(bytes).unwrap_or_default()
}

fn overlay_copy(exe: &Path, scratch: &Path) -> std::io::Result<OwnedFd> {
    let (dir, name) = match (exe.parent(), exe.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => return Err(std::io::Error::other("no parent directory")),
    };
    let d = dir.to_string_lossy();
    if needs_escaping(&d) {
        return Err(std::io::Error::other("path needs escaping"));
    }
    // The second layer only has to exist and not overlap the first: the binary's directory
    // is on top, so `name` is found there. `/dev` is root's, on a memory filesystem, and
    // always there; an empty directory made in `scratch` (ext4 here: a block allocated,
    // then freed with a synchronous discard when the overlay goes) is the fallback, e.g.
    // for a binary under /dev.
    let mnt = match overlay_mount(&format!("{d}:/dev")) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!("overlay over /dev: {e}");
            let empty = EmptyDir::create(scratch)?;
            let e = empty.0.to_string_lossy();
            if needs_escaping(&e) {
                return Err(std::io::Error::other("path needs escaping"));
            }
            // the superblock holds the layer once created; the name goes when `empty` drops
            overlay_mount(&format!("{d}:{e}"))?
        }
    };
    let fd = rustix::fs::openat(
        &mnt,
        name,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    // the top layer's file, not something of the same name below it (the binary could have
    // been removed meanwhile): a regular file of the running image's size and mtime
    let (got, want) = (rustix::fs::fstat(&fd)?, rustix::fs::stat("/proc/self/exe")?);
    let same = rustix::fs::FileType::from_raw_mode(got.st_mode)
        == rustix::fs::FileType::RegularFile
        && (got.st_size, got.st_mtime, got.st_mtime_nsec)
            == (want.st_size, want.st_mtime, want.st_mtime_nsec);
    if !same {
        return Err(std::io::Error::other(
            "sealed copy differs from the running binary",
        ));
    }
    Ok(fd)
}

fn needs_escaping(s: &str) -> bool {
    s.contains([':', ',', '\\', '\n'])
}

/// A detached read-only overlayfs of `lowerdir` layers (no upper layer: read-only at the
/// superblock, whatever is done to the mount's flags).
fn overlay_mount(lowerdir: &str) -> std::io::Result<OwnedFd> {
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    rustix::mount::fsconfig_set_string(&fs, "lowerdir", lowerdir)?;
    rustix::mount::fsconfig_create(&fs)?;
    Ok(rustix::mount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NODEV,
    )?)
}

/// A new empty directory (mode 0700, unique name) removed when dropped.
struct EmptyDir(std::path::PathBuf);

impl EmptyDir {
    fn create(parent: &Path) -> std::io::Result<EmptyDir> {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o755)
            .create(parent)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let mut last = std::io::Error::from(std::io::ErrorKind::AlreadyExists);
        for n in 0..8u32 {
            let name = format!(".stockade-seal-{}-{}", std::process::id(), nanos ^ n);
            let path = parent.join(name);
            match std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
                .create(&path)
            {
                Ok(()) => return Ok(EmptyDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

impl Drop for EmptyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn memfd_copy() -> std::io::Result<OwnedFd> {
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    let fd = rustix::fs::memfd_create("stockade-oci", flags | MemfdFlags::EXEC)
        .or_else(|_| rustix::fs::memfd_create("stockade-oci", flags))?;
    let mut src = std::fs::File::open("/proc/self/exe")?;
    let mut dst = std::fs::File::from(fd);
    std::io::copy(&mut src, &mut dst)?;
    let fd = OwnedFd::from(dst);
    rustix::fs::fcntl_add_seals(&fd, ALL_SEALS)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_test_binary_is_not_sealed() {
        // cargo runs tests from a plain file in target/: not sealed
        assert!(!is_sealed().unwrap());
    }

    #[test]
    fn test_overlay_copy_is_a_read_only_overlay_that_leaves_nothing() {
        stockade_testutil::require_root!();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let fd = overlay_copy(&exe, scratch.path()).unwrap();
        assert_eq!(
            rustix::fs::fstatfs(&fd).unwrap().f_type,
            OVERLAYFS_SUPER_MAGIC
        );
        let vfs = rustix::fs::fstatvfs(&fd).unwrap();
        assert!(vfs.f_flag.contains(StatVfsMountFlags::RDONLY));
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS));
        // the test binary is not under /dev: the /dev layer was used, no directory made
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }

    #[test]
    fn test_overlay_layer_must_hold_the_running_binary() {
        stockade_testutil::require_root!();
        // a "binary" that is not the running image: refused, nothing left behind
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stockade-oci"), b"not the runtime").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        assert!(overlay_copy(&dir.path().join("stockade-oci"), scratch.path()).is_err());
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }

    #[test]
    fn test_memfd_copy_is_sealed_against_writes() {
        let fd = memfd_copy().unwrap();
        let seals = rustix::fs::fcntl_get_seals(&fd).unwrap();
        assert!(seals.contains(ALL_SEALS));
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        // a write-open may succeed, but no byte can be written through it
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            assert!(std::io::Write::write_all(&mut f, b"x").is_err());
        }
    }
}
