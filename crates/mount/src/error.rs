// SPDX-License-Identifier: Apache-2.0
//! The one error type of rootfs assembly: a variant per failed step, naming the path, option,
//! device or sysctl concerned; the errno (if any) is the `#[source]`.

use std::error::Error as _;
use std::path::PathBuf;

use rustix::io::Errno;

/// A rootfs assembly step that failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A mount option that cannot be applied.
    #[error("invalid mount option {option:?} for {dest}")]
    InvalidOption {
        /// The option as written in the config.
        option: String,
        /// The mount destination.
        dest: PathBuf,
    },
    /// `idmap`/`ridmap` mounts are refused.
    #[error("idmapped mounts are not supported: {dest}")]
    IdmapUnsupported {
        /// The mount destination.
        dest: PathBuf,
    },
    /// A destination that is not acceptable in itself (empty, the root).
    #[error("invalid mount destination {dest:?}: {reason}")]
    InvalidDestination {
        /// The destination as written.
        dest: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A destination inside `/proc` that is not one of the lxcfs-style files.
    #[error("{dest} cannot be mounted because it is inside /proc")]
    InsideProc {
        /// The destination.
        dest: PathBuf,
    },
    /// A mount on `/proc` whose source is not procfs.
    #[error("{dest} cannot be mounted because its source is not of type proc")]
    NotProcOnProc {
        /// The destination.
        dest: PathBuf,
    },
    /// proc/sysfs destination reached through a symlink or not a directory (CVE-2019-16884).
    #[error("filesystem {fstype} must be mounted on an ordinary directory: {dest}")]
    NotOrdinaryDirectory {
        /// The filesystem type.
        fstype: String,
        /// The destination.
        dest: PathBuf,
    },
    /// Resolving a path inside the rootfs failed.
    #[error("cannot resolve {path} in the rootfs")]
    Resolve {
        /// The path inside the rootfs.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Creating a mount point (directory or file) inside the rootfs failed.
    #[error("cannot create {path} in the rootfs")]
    Create {
        /// The path inside the rootfs.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Opening a bind source (or a host device) failed.
    #[error("cannot open mount source {path}")]
    OpenSource {
        /// The host path.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Creating a new filesystem instance failed (fsopen/fsconfig/fsmount).
    #[error("cannot mount {fstype} on {dest} ({step})")]
    NewFs {
        /// The filesystem type.
        fstype: String,
        /// The destination.
        dest: PathBuf,
        /// The syscall or option that failed.
        step: String,
        /// The errno.
        source: Errno,
    },
    /// Cloning a mount tree (open_tree) failed.
    #[error("cannot clone mount {path}")]
    CloneTree {
        /// The path cloned.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Attaching a mount onto its target (move_mount) failed.
    #[error("cannot attach mount at {dest}")]
    Attach {
        /// The destination.
        dest: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Changing mount flags (mount_setattr) failed.
    #[error("cannot set mount flags of {dest}")]
    SetFlags {
        /// The destination.
        dest: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Changing mount propagation failed.
    #[error("cannot set mount propagation of {dest}")]
    Propagation {
        /// The mount concerned.
        dest: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Copying the former contents into a `tmpcopyup` tmpfs failed.
    #[error("cannot copy the contents of {dest} into its tmpfs")]
    CopyUp {
        /// The destination.
        dest: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Making the rootfs a private bind mount of itself failed.
    #[error("cannot bind the rootfs {path} onto itself")]
    BindRootfs {
        /// The rootfs path.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// Reading or parsing `/proc/self/mountinfo` failed.
    #[error("cannot read the mount table ({what})")]
    MountInfo {
        /// What was wrong.
        what: String,
        /// The errno, if the read failed.
        source: Option<Errno>,
    },
    /// Creating a device node (or its bind mount) failed.
    #[error("cannot create device {path}")]
    Device {
        /// The device path in the container.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// A device entry of the config or the host node does not fit.
    #[error("invalid device {path}: {reason}")]
    InvalidDevice {
        /// The device path in the container.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Creating a `/dev` symlink failed.
    #[error("cannot create /dev symlink {name}")]
    DevSymlink {
        /// The link name under /dev.
        name: String,
        /// The errno.
        source: Errno,
    },
    /// A console step failed.
    #[error("cannot set up the console ({step})")]
    Console {
        /// The step.
        step: &'static str,
        /// The errno.
        source: Errno,
    },
    /// A pivot_root / MS_MOVE step failed.
    #[error("cannot switch to the rootfs ({step})")]
    Pivot {
        /// The step.
        step: &'static str,
        /// The errno.
        source: Errno,
    },
    /// A sysctl key that is not a plain dotted or slashed name.
    #[error("invalid sysctl name {key:?}")]
    InvalidSysctl {
        /// The key.
        key: String,
    },
    /// Writing a sysctl failed (including a detected overmount: EXDEV).
    #[error("cannot write sysctl {key}")]
    Sysctl {
        /// The key.
        key: String,
        /// The errno.
        source: Errno,
    },
    /// A procfs handle is not what it should be (CVE-2025-52881).
    #[error("{what} is not on a procfs")]
    NotProcfs {
        /// The file concerned.
        what: String,
    },
    /// Masking a path failed.
    #[error("cannot mask {path}")]
    Mask {
        /// The path in the container.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// The caller's `before_cgroup` step of [`crate::prepare_rootfs_gated`] failed.
    #[error("stopped before the cgroup mount")]
    Gate,
    /// Making a path (or the root) read-only failed.
    #[error("cannot make {path} read-only")]
    Readonly {
        /// The path in the container.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
}

impl MountError {
    /// The errno behind this error, if a syscall failed (for the serde error that crosses
    /// from init to main).
    pub fn errno(&self) -> Option<i32> {
        self.source()
            .and_then(|s| s.downcast_ref::<Errno>())
            .map(|e| e.raw_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_is_extracted_and_message_does_not_repeat_it() {
        let e = MountError::Resolve {
            path: "/a/b".into(),
            source: Errno::NOENT,
        };
        assert_eq!(e.errno(), Some(libc_enoent()));
        assert_eq!(e.to_string(), "cannot resolve /a/b in the rootfs");
        let e = MountError::InsideProc {
            dest: "/proc/sys".into(),
        };
        assert_eq!(e.errno(), None);
    }

    fn libc_enoent() -> i32 {
        Errno::NOENT.raw_os_error()
    }
}
