// SPDX-License-Identifier: Apache-2.0
//! Performs one planned mount: the target is resolved (and created) inside the rootfs as an
//! fd, the new filesystem or the cloned bind source is prepared detached with its final flags,
//! then attached onto that fd (`move_mount`). Nothing is mounted through a path the container
//! can swap (CVE-2021-30465, CVE-2019-19921).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::{MountAttrFlags as A, OpenTreeFlags};

use super::Assembly;
use super::copyup::copy_up;
use super::plan::{MountKind, PlannedMount, is_allowed_proc_file};
use crate::MountError;
use crate::fsapi::{self, attach, fs_mount, new_fs, set_attrs_keep_locked};
use crate::procfs::{PROC_SUPER_MAGIC, fs_magic};
use crate::resolve::{ensure_file, mkdir_all};
use crate::rootfs::options::AttrChange;

/// Flags a bind remount replaces when any flag option is given (runc's `mount --bind -o`).
const BIND_REPLACED: A = A::MOUNT_ATTR_RDONLY
    .union(A::MOUNT_ATTR_NOSUID)
    .union(A::MOUNT_ATTR_NODEV)
    .union(A::MOUNT_ATTR_NOEXEC)
    .union(A::MOUNT_ATTR_NODIRATIME)
    .union(A::MOUNT_ATTR_NOSYMFOLLOW);

/// Mounts one entry of the plan.
pub(crate) fn mount_entry(a: &mut Assembly<'_>, m: &PlannedMount) -> Result<(), MountError> {
    match &m.kind {
        MountKind::Bind { recursive } => mount_bind(a, m, *recursive),
        MountKind::Cgroup => super::cgroup::mount_cgroup(a, m),
        MountKind::Sysfs | MountKind::Mqueue => mount_pseudo(a, m),
        _ => mount_fresh(a, m),
    }
}

/// Resolves (creating it if needed) the directory target of `m`. proc and sysfs targets must
/// be reached without any symlink (CVE-2019-16884, CVE-2023-27561).
pub(crate) fn target_dir(
    root: BorrowedFd<'_>,
    m: &PlannedMount,
) -> Result<(OwnedFd, bool), MountError> {
    let strict = matches!(m.kind, MountKind::Proc | MountKind::Sysfs);
    let extra = if strict {
        ResolveFlags::NO_SYMLINKS
    } else {
        ResolveFlags::empty()
    };
    let (fd, created) = mkdir_all(root, &m.rel, extra).map_err(|e| match e {
        MountError::Resolve {
            source: Errno::LOOP | Errno::NOTDIR,
            ..
        } if strict => MountError::NotOrdinaryDirectory {
            fstype: m.fstype.clone(),
            dest: m.dest(),
        },
        other => other,
    })?;
    check_target(m, fd.as_fd())?;
    Ok((fd, created))
}

/// The resolved target may not be a procfs file other than the allowed ones: catches a
/// destination that reaches an already mounted /proc through a symlink.
fn check_target(m: &PlannedMount, target: BorrowedFd<'_>) -> Result<(), MountError> {
    let magic = fs_magic(target).map_err(|source| MountError::Resolve {
        path: m.dest(),
        source,
    })?;
    if magic != PROC_SUPER_MAGIC || is_allowed_proc_file(&m.rel) || m.rel == Path::new("proc") {
        return Ok(());
    }
    Err(MountError::InsideProc { dest: m.dest() })
}

fn new_fs_err(m: &PlannedMount, fstype: &str) -> impl Fn((String, Errno)) -> MountError {
    let dest = m.dest();
    let fstype = fstype.to_owned();
    move |(step, source)| MountError::NewFs {
        fstype: fstype.clone(),
        dest: dest.clone(),
        step,
        source,
    }
}

/// tmpfs, proc, devpts, mqueue and any other filesystem type: a new instance.
fn mount_fresh(a: &mut Assembly<'_>, m: &PlannedMount) -> Result<(), MountError> {
    let (target, created) = target_dir(a.root, m)?;
    let data = fresh_data(m, target.as_fd(), created)?;
    let want = m.opts.attrs.set | m.opts.rec_attrs.set;
    // As runc: a read-only tmpfs or /dev stays writable until finalize, so later mounts,
    // devices and the console can still be created below it.
    let defer_ro = want.contains(A::MOUNT_ATTR_RDONLY)
        && (m.kind == MountKind::Tmpfs || m.rel == Path::new("dev"));
    let attrs = if defer_ro {
        want - A::MOUNT_ATTR_RDONLY
    } else {
        want
    };
    let source = m.source.as_deref().and_then(Path::to_str);
    let fs = new_fs(&m.fstype, source, &m.opts.sb_flags, &data)
        .or_else(|e| retry_devpts_without_gid(a, m, source, &data, e))
        .map_err(new_fs_err(m, &m.fstype))?;
    let mnt = fs_mount(fs.as_fd(), attrs)
        .map_err(|e| new_fs_err(m, &m.fstype)(("fsmount".to_owned(), e)))?;
    if m.opts.tmpcopyup && m.kind == MountKind::Tmpfs {
        copy_up(target.as_fd(), mnt.as_fd(), &m.dest())?;
    }
    attach(mnt.as_fd(), target.as_fd()).map_err(|source| MountError::Attach {
        dest: m.dest(),
        source,
    })?;
    apply_propagation(m, mnt.as_fd())?;
    match m.kind {
        MountKind::Proc if m.rel == Path::new("proc") => a.proc_mnt = Some(mnt),
        MountKind::Devpts if m.rel == Path::new("dev/pts") => a.devpts_mnt = Some(mnt),
        _ if defer_ro => a.deferred_ro.push((m.dest(), mnt)),
        _ => {}
    }
    Ok(())
}

/// Data options with our additions: a tmpfs over an existing directory keeps its mode
/// (runc); devpts is always a new instance with a usable `ptmx`.
fn fresh_data(
    m: &PlannedMount,
    target: BorrowedFd<'_>,
    created: bool,
) -> Result<Vec<String>, MountError> {
    let mut data = Vec::with_capacity(m.opts.data.len() + 2);
    match m.kind {
        MountKind::Tmpfs if !created => {
            let st = rustix::fs::fstat(target).map_err(|source| MountError::Resolve {
                path: m.dest(),
                source,
            })?;
            data.push(format!("mode={:04o}", st.st_mode & 0o7777));
        }
        MountKind::Devpts => {
            if !m.opts.data.iter().any(|d| d == "newinstance") {
                data.push("newinstance".to_owned());
            }
            if !m.opts.data.iter().any(|d| d.starts_with("ptmxmode=")) {
                data.push("ptmxmode=0666".to_owned());
            }
        }
        _ => {}
    }
    data.extend(m.opts.data.iter().cloned());
    Ok(data)
}

/// In a user namespace `gid=5` fails unless gid 5 is mapped: retry without it (crun).
fn retry_devpts_without_gid(
    a: &Assembly<'_>,
    m: &PlannedMount,
    source: Option<&str>,
    data: &[String],
    err: (String, Errno),
) -> Result<OwnedFd, (String, Errno)> {
    if m.kind != MountKind::Devpts || !a.rootless || err.1 != Errno::INVAL {
        return Err(err);
    }
    let without: Vec<String> = data
        .iter()
        .filter(|d| !d.starts_with("gid="))
        .cloned()
        .collect();
    if without.len() == data.len() {
        return Err(err);
    }
    tracing::debug!(dest = %m.dest().display(), "devpts gid= unmapped, mounting without it");
    new_fs(&m.fstype, source, &m.opts.sb_flags, &without)
}

/// sysfs and mqueue. When the user namespace may not mount one (no network / IPC namespace
/// of its own), the host's `/sys` (read-only) or `/dev/mqueue` is bound recursively instead,
/// as runc's rootless spec and crun do.
fn mount_pseudo(a: &mut Assembly<'_>, m: &PlannedMount) -> Result<(), MountError> {
    let (target, _) = target_dir(a.root, m)?;
    let attrs = m.opts.attrs.set | m.opts.rec_attrs.set;
    let source = m.source.as_deref().and_then(Path::to_str);
    let (host, extra) = match m.kind {
        MountKind::Sysfs => ("/sys", A::MOUNT_ATTR_RDONLY),
        _ => ("/dev/mqueue", A::empty()),
    };
    let mnt = match fsapi::new_mount(&m.fstype, source, &m.opts.data, attrs) {
        Ok(mnt) => mnt,
        Err((_, Errno::PERM)) if a.rootless => bind_host(m, Path::new(host), attrs | extra)?,
        Err(e) => return Err(new_fs_err(m, &m.fstype)(e)),
    };
    attach(mnt.as_fd(), target.as_fd()).map_err(|source| MountError::Attach {
        dest: m.dest(),
        source,
    })?;
    apply_propagation(m, mnt.as_fd())
}

fn bind_host(m: &PlannedMount, host: &Path, attrs: A) -> Result<OwnedFd, MountError> {
    tracing::debug!(fstype = %m.fstype, "not mountable in this user namespace: binding the host's");
    let tree = open_source(host, true)?;
    let set = attrs | A::MOUNT_ATTR_NOSUID | A::MOUNT_ATTR_NODEV | A::MOUNT_ATTR_NOEXEC;
    set_attrs_keep_locked(
        tree.as_fd(),
        true,
        AttrChange {
            set,
            clr: A::empty(),
        },
        A::empty(),
    )
    .map_err(|source| MountError::SetFlags {
        dest: m.dest(),
        source,
    })?;
    Ok(tree)
}

/// Clones a host path (a trusted bind source from the config) as a detached tree.
pub(crate) fn open_source(path: &Path, recursive: bool) -> Result<OwnedFd, MountError> {
    let mut f = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        f |= OpenTreeFlags::AT_RECURSIVE;
    }
    rustix::mount::open_tree(rustix::fs::CWD, path, f).map_err(|source| MountError::OpenSource {
        path: path.to_path_buf(),
        source,
    })
}

/// Bind mounts: clone the source, set the requested flags on the clone (keeping what the
/// kernel locked in a user namespace), attach it on the target.
fn mount_bind(a: &mut Assembly<'_>, m: &PlannedMount, recursive: bool) -> Result<(), MountError> {
    let src = m.source.as_deref().ok_or(MountError::InvalidOption {
        option: "source".into(),
        dest: m.dest(),
    })?;
    let tree = open_source(src, recursive)?;
    if m.rel == Path::new("proc") {
        check_proc_bind_source(m, tree.as_fd())?;
    }
    let st = rustix::fs::fstat(&tree).map_err(|source| MountError::OpenSource {
        path: src.to_path_buf(),
        source,
    })?;
    let target = if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        target_dir(a.root, m)?.0
    } else {
        let fd = ensure_file(a.root, &m.rel)?;
        check_target(m, fd.as_fd())?;
        fd
    };
    let is_dev = m.rel == Path::new("dev");
    let top = m.opts.attrs;
    let defer_ro = is_dev && top.set.contains(A::MOUNT_ATTR_RDONLY);
    if !top.is_empty() {
        let mut set = top.set;
        if defer_ro {
            set -= A::MOUNT_ATTR_RDONLY;
        }
        let ch = AttrChange {
            set,
            clr: top.clr | (BIND_REPLACED - top.set),
        };
        set_attrs_keep_locked(tree.as_fd(), false, ch, top.clr).map_err(|source| {
            MountError::SetFlags {
                dest: m.dest(),
                source,
            }
        })?;
    }
    set_attrs_keep_locked(tree.as_fd(), true, m.opts.rec_attrs, m.opts.rec_attrs.clr).map_err(
        |source| MountError::SetFlags {
            dest: m.dest(),
            source,
        },
    )?;
    attach(tree.as_fd(), target.as_fd()).map_err(|source| MountError::Attach {
        dest: m.dest(),
        source,
    })?;
    apply_propagation(m, tree.as_fd())?;
    if m.rel == Path::new("proc") {
        a.proc_mnt = Some(tree);
    } else if defer_ro {
        a.deferred_ro.push((m.dest(), tree));
    }
    Ok(())
}

/// Only a procfs may be bound onto /proc (runc's `checkProcMount`).
fn check_proc_bind_source(m: &PlannedMount, tree: BorrowedFd<'_>) -> Result<(), MountError> {
    let magic = fs_magic(tree).map_err(|source| MountError::OpenSource {
        path: m.source.clone().unwrap_or_default(),
        source,
    })?;
    if magic != PROC_SUPER_MAGIC {
        return Err(MountError::NotProcOnProc { dest: m.dest() });
    }
    Ok(())
}

/// Applies the mount's propagation options, in order, on the attached mount.
pub(crate) fn apply_propagation(m: &PlannedMount, mnt: BorrowedFd<'_>) -> Result<(), MountError> {
    for &(p, rec) in &m.opts.propagation {
        fsapi::set_propagation(mnt, p, rec).map_err(|source| MountError::Propagation {
            dest: m.dest(),
            source,
        })?;
    }
    Ok(())
}

/// Opens the target of an already-resolved `O_PATH` fd as a directory for reading.
pub(crate) fn reopen_dir(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let f = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::openat(fd, ".", f, rustix::fs::Mode::empty())
}
