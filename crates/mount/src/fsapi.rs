// SPDX-License-Identifier: Apache-2.0
//! Thin helpers over the fd-based mount API (Linux 5.2+/5.12+): a filesystem is created
//! detached (`fsopen`/`fsconfig`/`fsmount`) or a tree is cloned (`open_tree`), its flags are
//! set on the fd (`mount_setattr`), and only then is it attached onto a target fd resolved
//! inside the rootfs (`move_mount` with both `*_EMPTY_PATH` flags). No step resolves a path
//! the container controls.

use std::ffi::CStr;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::fs::StatVfsMountFlags as V;
use rustix::io::Errno;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags as A, MoveMountFlags, OpenTreeFlags,
};
use stockade_sys::mount::{AT_EMPTY_PATH, AT_RECURSIVE, MountAttr, mount_setattr};

use crate::rootfs::options::{AttrChange, Propagation};

/// Flags the kernel locks on mounts inherited from a more privileged user namespace
/// (`MNT_LOCK_*`): a clone in a user namespace may not clear them.
pub(crate) const LOCKABLE: A = A::MOUNT_ATTR_RDONLY
    .union(A::MOUNT_ATTR_NOSUID)
    .union(A::MOUNT_ATTR_NODEV)
    .union(A::MOUNT_ATTR_NOEXEC)
    .union(A::MOUNT_ATTR_NODIRATIME);

/// Creates a filesystem context: `fsopen(fstype)`, `source`, superblock flags, then each
/// data option (`key=value` as a string, a bare word as a flag), then `fsconfig_create`.
/// On failure returns the step and the kernel's own message from the context log.
pub(crate) fn new_fs(
    fstype: &str,
    source: Option<&str>,
    sb_flags: &[&str],
    data: &[String],
) -> Result<OwnedFd, (String, Errno)> {
    let fs = rustix::mount::fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| ("fsopen".to_owned(), e))?;
    let step = |what: &str, e: Errno| (with_log(&fs, what), e);
    if let Some(src) = source.filter(|s| !s.is_empty()) {
        rustix::mount::fsconfig_set_string(&fs, "source", src).map_err(|e| step("source", e))?;
    }
    for flag in sb_flags {
        rustix::mount::fsconfig_set_flag(&fs, *flag).map_err(|e| step(flag, e))?;
    }
    for opt in data {
        match opt.split_once('=') {
            Some((k, v)) => rustix::mount::fsconfig_set_string(&fs, k, v),
            None => rustix::mount::fsconfig_set_flag(&fs, opt.as_str()),
        }
        .map_err(|e| step(opt, e))?;
    }
    rustix::mount::fsconfig_create(&fs).map_err(|e| step("create", e))?;
    Ok(fs)
}

/// `what` plus the kernel's error message for this context, if it logged one.
fn with_log(fs: &OwnedFd, what: &str) -> String {
    let mut buf = [0u8; 256];
    match rustix::io::read(fs, &mut buf) {
        Ok(n) if n > 2 => {
            let msg = String::from_utf8_lossy(&buf[2..n]);
            format!("{what}: {}", msg.trim_end())
        }
        _ => what.to_owned(),
    }
}

/// `fsmount` with the given mount attributes: a detached mount fd.
pub(crate) fn fs_mount(fs: BorrowedFd<'_>, attrs: A) -> Result<OwnedFd, Errno> {
    rustix::mount::fsmount(fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
}

/// Creates and mounts a filesystem in one go (detached).
pub(crate) fn new_mount(
    fstype: &str,
    source: Option<&str>,
    data: &[String],
    attrs: A,
) -> Result<OwnedFd, (String, Errno)> {
    let fs = new_fs(fstype, source, &[], data)?;
    fs_mount(rustix::fd::AsFd::as_fd(&fs), attrs).map_err(|e| ("fsmount".to_owned(), e))
}

/// Clones the mount at `fd` (`open_tree(fd, "", AT_EMPTY_PATH|OPEN_TREE_CLONE)`), with its
/// submounts when `recursive`: a detached copy, like a bind mount not yet attached.
pub(crate) fn clone_fd(fd: BorrowedFd<'_>, recursive: bool) -> Result<OwnedFd, Errno> {
    let mut f = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH;
    if recursive {
        f |= OpenTreeFlags::AT_RECURSIVE;
    }
    rustix::mount::open_tree(fd, c"", f)
}

/// Attaches the detached (or moves the attached) mount `tree` onto `target`.
pub(crate) fn attach(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> Result<(), Errno> {
    let f = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    rustix::mount::move_mount(tree, c"", target, c"", f)
}

/// `mount_setattr` on the mount `fd` refers to (the tree with `recursive`).
pub(crate) fn set_attrs(fd: BorrowedFd<'_>, recursive: bool, ch: AttrChange) -> Result<(), Errno> {
    if ch.is_empty() {
        return Ok(());
    }
    let attr = MountAttr {
        attr_set: u64::from(ch.set.bits()),
        attr_clr: u64::from(ch.clr.bits()),
        ..MountAttr::default()
    };
    setattr(fd, recursive, &attr)
}

/// Changes the propagation of the mount `fd` refers to (the tree with `recursive`).
pub(crate) fn set_propagation(
    fd: BorrowedFd<'_>,
    p: Propagation,
    recursive: bool,
) -> Result<(), Errno> {
    let attr = MountAttr {
        propagation: p.ms_bits(),
        ..MountAttr::default()
    };
    setattr(fd, recursive, &attr)
}

fn setattr(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> Result<(), Errno> {
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    let path: &CStr = c"";
    mount_setattr(fd, path, flags, attr).map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))
}

/// The lockable attributes the mount at `fd` currently has (from `fstatvfs`).
pub(crate) fn current_locked(fd: BorrowedFd<'_>) -> Result<A, Errno> {
    let f = rustix::fs::fstatvfs(fd)?.f_flag;
    let mut a = A::empty();
    for (v, m) in [
        (V::RDONLY, A::MOUNT_ATTR_RDONLY),
        (V::NOSUID, A::MOUNT_ATTR_NOSUID),
        (V::NODEV, A::MOUNT_ATTR_NODEV),
        (V::NOEXEC, A::MOUNT_ATTR_NOEXEC),
        (V::NODIRATIME, A::MOUNT_ATTR_NODIRATIME),
    ] {
        if f.contains(v) {
            a |= m;
        }
    }
    Ok(a)
}

/// Sets `ch` on a cloned tree; when the kernel refuses (`EPERM`: flags locked by a more
/// privileged user namespace), keeps the locked flags the mount has and retries, unless the
/// caller explicitly asked to clear one of them (`explicit_clr`), as runc does.
pub(crate) fn set_attrs_keep_locked(
    fd: BorrowedFd<'_>,
    recursive: bool,
    ch: AttrChange,
    explicit_clr: A,
) -> Result<(), Errno> {
    match set_attrs(fd, recursive, ch) {
        Err(Errno::PERM) => {
            let cur = current_locked(fd)?;
            if !(cur & explicit_clr & LOCKABLE).is_empty() {
                return Err(Errno::PERM);
            }
            let keep = cur & LOCKABLE;
            let retry = AttrChange {
                set: ch.set | keep,
                clr: ch.clr - keep,
            };
            tracing::debug!(?keep, "mount flags locked by the kernel are kept");
            set_attrs(fd, recursive, retry)
        }
        other => other,
    }
}
