// SPDX-License-Identifier: Apache-2.0
//! Verified procfs access (CVE-2025-52881, CVE-2019-16884).
//!
//! Writes under /proc never go through a path the container can redirect. A [`ProcRoot`] is
//! the fd of a procfs mount *we* created (the container's /proc `fsmount` fd, or a private
//! detached instance), checked to be the root of a procfs. Files are opened beneath it with
//! `RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: anything
//! mounted over a file or directory on the way (a tmpfs file, a bind of another procfs file)
//! makes the open fail with `EXDEV`, and the opened file is checked to be on procfs again.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FsWord, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::MountError;

/// `PROC_SUPER_MAGIC`.
pub(crate) const PROC_SUPER_MAGIC: FsWord = 0x9fa0;
/// `DEVPTS_SUPER_MAGIC`.
pub(crate) const DEVPTS_SUPER_MAGIC: FsWord = 0x1cd1;
/// The inode number of a procfs root directory.
const PROC_ROOT_INO: u64 = 1;

/// The filesystem magic of the file `fd` refers to (`fstatfs`).
pub(crate) fn fs_magic(fd: BorrowedFd<'_>) -> Result<FsWord, Errno> {
    Ok(rustix::fs::fstatfs(fd)?.f_type)
}

/// The root of a procfs mount we made, for verified opens.
#[derive(Debug)]
pub(crate) struct ProcRoot {
    fd: OwnedFd,
}

impl ProcRoot {
    /// Wraps the fd of a procfs mount root, checking it is one.
    pub(crate) fn new(fd: OwnedFd) -> Result<Self, MountError> {
        let not = || MountError::NotProcfs {
            what: "the /proc handle".into(),
        };
        let magic = fs_magic(fd.as_fd()).map_err(|_| not())?;
        let st = rustix::fs::fstat(&fd).map_err(|_| not())?;
        if magic != PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO {
            return Err(not());
        }
        Ok(Self { fd })
    }

    /// A private, detached procfs instance of the caller's pid namespace (nothing in the
    /// container can see or cover it).
    pub(crate) fn private() -> Result<Self, MountError> {
        let mnt = crate::fsapi::new_mount(
            "proc",
            Some("proc"),
            &[],
            rustix::mount::MountAttrFlags::empty(),
        )
        .map_err(|(step, source)| MountError::NewFs {
            fstype: "proc".into(),
            dest: PathBuf::from("(private)"),
            step,
            source,
        })?;
        Self::new(mnt)
    }

    /// Opens `rel` beneath the procfs root without crossing any mount or following any
    /// link, then checks the result is still on procfs.
    pub(crate) fn open(&self, rel: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
        let resolve = ResolveFlags::BENEATH
            | ResolveFlags::NO_XDEV
            | ResolveFlags::NO_SYMLINKS
            | ResolveFlags::NO_MAGICLINKS;
        let fd = rustix::fs::openat2(
            &self.fd,
            rel,
            flags | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NOCTTY,
            Mode::empty(),
            resolve,
        )?;
        if fs_magic(fd.as_fd())? != PROC_SUPER_MAGIC {
            return Err(Errno::XDEV);
        }
        Ok(fd)
    }

    /// Writes `value` to `rel` (e.g. `sys/kernel/domainname`) through a verified open.
    pub(crate) fn write(&self, rel: &Path, value: &[u8]) -> Result<(), Errno> {
        let fd = self.open(rel, OFlags::WRONLY)?;
        let mut rest = value;
        while !rest.is_empty() {
            match rustix::io::write(&fd, rest) {
                Ok(0) => return Err(Errno::IO),
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Maps a sysctl key to its path under /proc: `net.ipv4.ip_forward` →
/// `sys/net/ipv4/ip_forward`; a key with `/` is taken as a path (`net/ipv4/conf/eth0.1/x`,
/// for names that contain dots). Anything that is not plain names is refused.
pub(crate) fn sysctl_path(key: &str) -> Result<PathBuf, MountError> {
    let invalid = || MountError::InvalidSysctl {
        key: key.to_owned(),
    };
    if key.is_empty() || key.contains('\0') || key.starts_with('/') || key.starts_with('.') {
        return Err(invalid());
    }
    let rel = if key.contains('/') {
        key.to_owned()
    } else {
        key.replace('.', "/")
    };
    if rel
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(invalid());
    }
    Ok(Path::new("sys").join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_to_proc_sys_paths() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").expect("key"),
            PathBuf::from("sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/eth0.1/forwarding").expect("key"),
            PathBuf::from("sys/net/ipv4/conf/eth0.1/forwarding")
        );
        for bad in [
            "",
            "/etc/passwd",
            "..",
            "kernel/../../x",
            "a//b",
            ".kernel",
            "a\0b",
            "a/./b",
        ] {
            assert!(sysctl_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_non_procfs_fd_is_refused() {
        let fd = rustix::fs::open("/", OFlags::PATH, Mode::empty()).expect("open /");
        assert!(matches!(
            ProcRoot::new(fd),
            Err(MountError::NotProcfs { .. })
        ));
    }

    #[test]
    fn reads_through_host_proc_are_verified() {
        // The host's /proc is a procfs root: open beneath it works, a symlink is refused.
        let fd = rustix::fs::open("/proc", OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
            .expect("open /proc");
        let p = ProcRoot::new(fd).expect("procfs");
        p.open(Path::new("sys/kernel/ostype"), OFlags::RDONLY)
            .expect("ostype");
        assert_eq!(
            p.open(Path::new("self/status"), OFlags::RDONLY).err(),
            Some(Errno::LOOP)
        );
        assert_eq!(
            p.open(Path::new("../etc"), OFlags::RDONLY).err(),
            Some(Errno::XDEV)
        );
    }
}
