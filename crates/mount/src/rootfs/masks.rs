// SPDX-License-Identifier: Apache-2.0
//! `maskedPaths` and `readonlyPaths` (ESC-07, ESC-13).
//!
//! Masks never use a path the container could have planted (CVE-2025-31133: a `/dev/null`
//! symlink to `core_pattern`). Their source is our own private, read-only tmpfs holding one
//! empty file and one empty directory: a masked file is a read-only bind of the empty file
//! (reads give 0 bytes, writes fail with `EROFS`), a masked directory a read-only bind of the
//! empty directory (all share one superblock).
//!
//! Where that tmpfs lives decides what it costs: closing the fd of a *detached* mount
//! dissolves it, and the kernel then waits for an RCU grace period (`namespace_unlock`).
//! So by default it is attached on the old root's `/proc` after the createContainer hooks
//! (`/` is `rslave`, so nothing propagates), the masks are applied just before pivot_root,
//! and the old root's detach, which waits for its grace period anyway, takes it along.
//! When `/` may be shared (a `rootfsPropagation` asking for it), with `--no-pivot`, or if
//! the attach fails, it stays detached: masks are then applied after pivot_root (or, after
//! a failed attach, right away), and on kernels that cannot
//! clone a detached mount (< 6.15) files are masked with the host's `/dev/null`, opened
//! before pivot_root and verified to be char 1:3, and directories with one fresh read-only
//! tmpfs each.
//! Read-only paths are recursive clones of themselves made read-only with `mount_setattr`
//! (their nosuid/nodev/noexec kept) and mounted back on top.

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::{FsPickFlags, MountAttrFlags as A, OpenTreeFlags};

use super::options::AttrChange;
use crate::MountError;
use crate::fsapi::{attach, clone_fd, fs_mount, new_fs, set_attrs};
use crate::resolve::{absolute, clean, openat2_in_root};

const RO: AttrChange = AttrChange {
    set: A::MOUNT_ATTR_RDONLY,
    clr: A::empty(),
};
const MASK_ATTRS: A = A::MOUNT_ATTR_RDONLY
    .union(A::MOUNT_ATTR_NOSUID)
    .union(A::MOUNT_ATTR_NODEV)
    .union(A::MOUNT_ATTR_NOEXEC);

/// Where masks come from.
#[derive(Debug)]
pub(crate) enum MaskSource {
    /// Private read-only tmpfs with `f` (empty file) and `d` (empty dir); its device number.
    /// Masks from it go on after pivot_root, unless `before_pivot`, where it is attached on
    /// the old root's `/proc` first ([`MaskSource::settle`]).
    Private {
        mnt: OwnedFd,
        dev: u64,
        before_pivot: bool,
    },
    /// Old kernels: a verified host /dev/null, and fresh tmpfs for directories.
    DevNull { null: OwnedFd },
}

fn mask_err(path: &Path) -> impl Fn(Errno) -> MountError + '_ {
    move |source| MountError::Mask {
        path: path.to_path_buf(),
        source,
    }
}

const HERE: &str = "(mask source)";

impl MaskSource {
    /// Builds the source; call before pivot_root (the fallback needs the host's /dev/null).
    /// `before_pivot`: `/` is a slave or private mount of this (new) mount namespace and
    /// pivot_root (not `--no-pivot`) will detach the old root, so the tmpfs may be parked on
    /// it and the masks applied just before pivot_root.
    pub(crate) fn new(before_pivot: bool) -> Result<Self, MountError> {
        let here = Path::new(HERE);
        let mnt = private_tmpfs().map_err(mask_err(here))?;
        let dev = rustix::fs::fstat(&mnt).map_err(mask_err(here))?.st_dev;
        if before_pivot {
            return Ok(Self::Private {
                mnt,
                dev,
                before_pivot,
            });
        }
        Self::probe(mnt, dev)
    }

    /// A detached source: can a detached mount be cloned here (kernel 6.15)? The probe
    /// clone's drop waits for a grace period; only this path pays it.
    fn probe(mnt: OwnedFd, dev: u64) -> Result<Self, MountError> {
        match rustix::mount::open_tree(
            &mnt,
            "f",
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        ) {
            Ok(_) => Ok(Self::Private {
                mnt,
                dev,
                before_pivot: false,
            }),
            Err(Errno::INVAL) => {
                tracing::debug!("cannot clone a detached mount: masking with /dev/null");
                Ok(Self::DevNull {
                    null: verified_dev_null()?,
                })
            }
            Err(e) => Err(mask_err(Path::new(HERE))(e)),
        }
    }

    /// Whether the masks go on just before pivot_root.
    pub(crate) fn before_pivot(&self) -> bool {
        matches!(
            self,
            Self::Private {
                before_pivot: true,
                ..
            }
        )
    }

    /// Right before the masks go on (after the createContainer hooks, which may need the
    /// host's /proc): attaches the tmpfs on the old root's `/proc`, or falls back to a
    /// detached source if that fails.
    pub(crate) fn settle(self) -> Result<Self, MountError> {
        let Self::Private {
            mnt,
            dev,
            before_pivot: true,
        } = self
        else {
            return Ok(self);
        };
        match attach_on_old_root(mnt.as_fd()) {
            Ok(()) => Ok(Self::Private {
                mnt,
                dev,
                before_pivot: true,
            }),
            Err(e) => {
                tracing::debug!("mask source stays detached: {e}");
                Self::probe(mnt, dev)
            }
        }
    }

    fn is_mask(&self, st_dev: u64) -> bool {
        matches!(self, Self::Private { dev, .. } if *dev == st_dev)
    }

    /// A detached read-only mount to put over a file (`dir == false`) or a directory.
    fn clone_for(&self, dir: bool) -> Result<OwnedFd, Errno> {
        let (tree, attrs) = match self {
            Self::Private { mnt, .. } => {
                let f = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
                (
                    rustix::mount::open_tree(mnt, if dir { "d" } else { "f" }, f)?,
                    MASK_ATTRS,
                )
            }
            // nodev would make the device unreadable.
            Self::DevNull { null } if !dir => (
                clone_fd(null.as_fd(), false)?,
                MASK_ATTRS - A::MOUNT_ATTR_NODEV,
            ),
            Self::DevNull { .. } => {
                let fs = new_fs(
                    "tmpfs",
                    Some("tmpfs"),
                    &[],
                    &["size=0".into(), "mode=0555".into()],
                )
                .map_err(|(_, e)| e)?;
                return fs_mount(fs.as_fd(), MASK_ATTRS);
            }
        };
        set_attrs(
            tree.as_fd(),
            false,
            AttrChange {
                set: attrs,
                clr: A::empty(),
            },
        )?;
        Ok(tree)
    }
}

/// Puts the (detached) mask tmpfs on the old root's `/proc`, a directory of the host tree
/// that is not the root itself (a mount stacked on the old root's `/` would be what
/// pivot's `umount2(".")` detaches, leaving the old root in place) and that nothing in init
/// resolves by path any more once the hooks have run. pivot_root carries it along with the
/// old root, whose detach unmounts both under one grace period; dropping its fd then costs
/// nothing. Clones of an attached mount work on every kernel with the mount API.
fn attach_on_old_root(mnt: BorrowedFd<'_>) -> Result<(), Errno> {
    let dir = rustix::fs::open(
        "/proc",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    attach(mnt, dir.as_fd())
}

/// tmpfs with an empty file `f` (0444) and an empty dir `d` (0555), then made read-only at
/// the superblock, so no mount of it can ever be written.
fn private_tmpfs() -> Result<OwnedFd, Errno> {
    let data = [
        "size=4k".to_owned(),
        "nr_inodes=4".to_owned(),
        "mode=0555".to_owned(),
    ];
    let fs = new_fs("tmpfs", Some("tmpfs"), &[], &data).map_err(|(_, e)| e)?;
    let mnt = fs_mount(
        fs.as_fd(),
        A::MOUNT_ATTR_NOSUID | A::MOUNT_ATTR_NODEV | A::MOUNT_ATTR_NOEXEC,
    )?;
    rustix::fs::mkdirat(&mnt, "d", Mode::from_raw_mode(0o555))?;
    let f = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
    drop(rustix::fs::openat(
        &mnt,
        "f",
        f,
        Mode::from_raw_mode(0o444),
    )?);
    let pick = rustix::mount::fspick(
        &mnt,
        "",
        FsPickFlags::FSPICK_CLOEXEC | FsPickFlags::FSPICK_EMPTY_PATH,
    )?;
    rustix::mount::fsconfig_set_flag(&pick, "ro")?;
    rustix::mount::fsconfig_reconfigure(&pick)?;
    Ok(mnt)
}

/// The host's `/dev/null`, refused unless it is the character device 1:3.
fn verified_dev_null() -> Result<OwnedFd, MountError> {
    let path = Path::new("/dev/null");
    let fd = rustix::fs::open(
        path,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| MountError::OpenSource {
        path: path.into(),
        source,
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|source| MountError::OpenSource {
        path: path.into(),
        source,
    })?;
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice
        || st.st_rdev != rustix::fs::makedev(1, 3)
    {
        return Err(MountError::InvalidDevice {
            path: path.into(),
            reason: "not char 1:3",
        });
    }
    Ok(fd)
}

/// Resolves `p` in-root; `None` when it does not exist (skipped, as runc).
fn resolve_existing(root: BorrowedFd<'_>, p: &Path) -> Result<Option<(PathBuf, OwnedFd)>, Errno> {
    let rel = clean(p);
    if rel.as_os_str().is_empty() {
        return Err(Errno::INVAL);
    }
    match openat2_in_root(root, &rel, OFlags::PATH, ResolveFlags::empty()) {
        Ok(fd) => Ok(Some((absolute(&rel), fd))),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Masks each path (duplicates and already-masked targets once).
pub(crate) fn mask_paths(
    root: BorrowedFd<'_>,
    src: &MaskSource,
    paths: &[PathBuf],
) -> Result<(), MountError> {
    let mut seen = HashSet::new();
    for p in paths {
        if !seen.insert(clean(p)) {
            continue;
        }
        let Some((abs, target)) = resolve_existing(root, p).map_err(mask_err(p))? else {
            continue;
        };
        let st = rustix::fs::fstat(&target).map_err(mask_err(&abs))?;
        if src.is_mask(st.st_dev) {
            continue;
        }
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let tree = src.clone_for(is_dir).map_err(mask_err(&abs))?;
        attach(tree.as_fd(), target.as_fd()).map_err(mask_err(&abs))?;
    }
    Ok(())
}

/// Makes each path read-only (recursively), keeping its other flags.
pub(crate) fn readonly_paths(root: BorrowedFd<'_>, paths: &[PathBuf]) -> Result<(), MountError> {
    for p in paths {
        let err = |source| MountError::Readonly {
            path: p.clone(),
            source,
        };
        let Some((_, target)) = resolve_existing(root, p).map_err(err)? else {
            continue;
        };
        let tree = clone_fd(target.as_fd(), true).map_err(err)?;
        set_attrs(tree.as_fd(), true, RO).map_err(err)?;
        attach(tree.as_fd(), target.as_fd()).map_err(err)?;
    }
    Ok(())
}

/// Makes the mount `fd` read-only (the root, or a deferred /dev).
pub(crate) fn make_readonly(fd: BorrowedFd<'_>, path: &Path) -> Result<(), MountError> {
    set_attrs(fd, false, RO).map_err(|source| MountError::Readonly {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_dev_null_is_verified() {
        let fd = verified_dev_null().expect("/dev/null is char 1:3 here");
        let st = rustix::fs::fstat(&fd).expect("fstat");
        assert_eq!(st.st_rdev, rustix::fs::makedev(1, 3));
    }

    #[test]
    fn missing_paths_are_skipped_and_the_root_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let fd = rustix::fs::open(root.path(), OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
            .expect("open");
        assert!(
            resolve_existing(fd.as_fd(), Path::new("/proc/nope"))
                .expect("ok")
                .is_none()
        );
        assert_eq!(
            resolve_existing(fd.as_fd(), Path::new("/")).err(),
            Some(Errno::INVAL)
        );
        std::fs::write(root.path().join("f"), b"").expect("f");
        let (abs, _) = resolve_existing(fd.as_fd(), Path::new("f"))
            .expect("ok")
            .expect("some");
        assert_eq!(abs, PathBuf::from("/f"));
    }
}
