// SPDX-License-Identifier: Apache-2.0
//! Entering the rootfs. `pivot_root(".", ".")` with the rootfs as cwd stacks the old root on
//! top of the new one; the old root is made `rslave` (through its fd, so the detach cannot
//! propagate to the host) and lazily detached: no path to the host's root or its unmasked
//! /proc stays reachable (ESC-12). `--no-pivot` moves the rootfs over `/` and chroots, after
//! detaching every full proc/sysfs mount outside the rootfs (or covering it with a tmpfs),
//! as runc's `msMoveRoot`, so the kernel will not allow a fresh procfs in a nested userns.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{MountAttrFlags, MountPropagationFlags, MoveMountFlags, UnmountFlags};

use super::options::Propagation;
use crate::MountError;
use crate::fsapi::{fs_mount, new_fs, set_propagation};
use crate::mountinfo::{is_under, read_own};

fn err(step: &'static str) -> impl Fn(Errno) -> MountError {
    move |source| MountError::Pivot { step, source }
}

/// `pivot_root` into `root` (the rootfs mount's root fd), then drop the old root.
pub(crate) fn pivot_root(root: BorrowedFd<'_>) -> Result<(), MountError> {
    let old = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err("open the old root"))?;
    rustix::process::fchdir(root).map_err(err("chdir to the rootfs"))?;
    rustix::process::pivot_root(".", ".").map_err(err("pivot_root"))?;
    rustix::process::fchdir(&old).map_err(err("chdir to the old root"))?;
    set_propagation(old.as_fd(), Propagation::Slave, true)
        .map_err(err("make the old root rslave"))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(err("detach the old root"))?;
    rustix::process::chdir("/").map_err(err("chdir /"))?;
    // `/` must now be the rootfs mount itself, not anything left of the old root (ESC-12)
    let here = mount_id(rustix::fs::CWD).map_err(err("check the new root"))?;
    if here != mount_id(root).map_err(err("check the new root"))? {
        return Err(err("check the new root")(Errno::BUSY));
    }
    Ok(())
}

fn mount_id(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    let stx = rustix::fs::statx(
        fd,
        "",
        rustix::fs::AtFlags::EMPTY_PATH,
        rustix::fs::StatxFlags::MNT_ID,
    )?;
    Ok(stx.stx_mnt_id)
}

/// `--no-pivot`: hide the host's full proc/sysfs mounts, move the rootfs onto `/`, chroot.
pub(crate) fn move_root(root: BorrowedFd<'_>, rootfs: &Path) -> Result<(), MountError> {
    hide_host_pseudo_fs(rootfs)?;
    rustix::process::fchdir(root).map_err(err("chdir to the rootfs"))?;
    let f = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH;
    rustix::mount::move_mount(root, c"", rustix::fs::CWD, "/", f)
        .map_err(err("move the rootfs onto /"))?;
    rustix::process::chroot(".").map_err(err("chroot"))?;
    rustix::process::chdir("/").map_err(err("chdir /"))
}

fn hide_host_pseudo_fs(rootfs: &Path) -> Result<(), MountError> {
    let mut full: Vec<_> = read_own()?
        .into_iter()
        .filter(|m| m.root == "/" && (m.fstype == "proc" || m.fstype == "sysfs"))
        .filter(|m| !is_under(&m.mount_point, rootfs))
        .collect();
    // Deepest first, so a parent detach does not leave children to fail on.
    full.sort_by_key(|m| std::cmp::Reverse(m.mount_point.as_os_str().len()));
    for m in full {
        let p = m.mount_point.as_path();
        match rustix::mount::mount_change(
            p,
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        ) {
            Ok(()) => {}
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(err("make a host pseudo-fs rslave")(e)),
        }
        match rustix::mount::unmount(p, UnmountFlags::DETACH) {
            Ok(()) => {}
            Err(Errno::INVAL | Errno::PERM) => cover_with_tmpfs(p)?,
            Err(e) => return Err(err("detach a host pseudo-fs")(e)),
        }
    }
    Ok(())
}

fn cover_with_tmpfs(p: &Path) -> Result<(), MountError> {
    let fs = new_fs("tmpfs", Some("tmpfs"), &[], &["size=0".into()])
        .map_err(|(_, e)| err("cover a host pseudo-fs")(e))?;
    let mnt = fs_mount(fs.as_fd(), MountAttrFlags::MOUNT_ATTR_RDONLY)
        .map_err(err("cover a host pseudo-fs"))?;
    let f = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH;
    rustix::mount::move_mount(&mnt, c"", rustix::fs::CWD, p, f)
        .map_err(err("cover a host pseudo-fs"))
}

/// After the switch: apply a requested non-private `rootfsPropagation` to `/` (runc 1.2).
pub(crate) fn apply_root_propagation(
    root: BorrowedFd<'_>,
    prop: Option<(Propagation, bool)>,
) -> Result<(), MountError> {
    match prop {
        Some((p, rec)) if p != Propagation::Private => {
            set_propagation(root, p, rec).map_err(|source| MountError::Propagation {
                dest: "/".into(),
                source,
            })
        }
        _ => Ok(()),
    }
}
