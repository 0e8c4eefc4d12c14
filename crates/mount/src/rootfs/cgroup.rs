// SPDX-License-Identifier: Apache-2.0
//! The container's cgroup filesystem, from the [`CgroupView`] the runtime computed: fresh
//! cgroupfs instances when the container has its own cgroup namespace, read-only binds of its
//! host cgroup directories otherwise. Always read-only inside, whatever the config says.
//! Each hierarchy is mounted on a directory made in our own fresh tmpfs (never a path of the
//! image), and the tmpfs is made read-only last.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::MountAttrFlags as A;

use super::Assembly;
use super::mounts::{apply_propagation, open_source, target_dir};
use super::options::AttrChange;
use super::plan::PlannedMount;
use crate::fsapi::{attach, fs_mount, new_fs, set_attrs, set_attrs_keep_locked};
use crate::resolve::open_beneath;
use crate::{CgroupView, MountError};

/// Flags of every cgroup mount inside the container.
const CG_ATTRS: A = A::MOUNT_ATTR_RDONLY
    .union(A::MOUNT_ATTR_NOSUID)
    .union(A::MOUNT_ATTR_NODEV)
    .union(A::MOUNT_ATTR_NOEXEC);

/// Mounts the cgroup entry `m` according to the view.
pub(crate) fn mount_cgroup(a: &mut Assembly<'_>, m: &PlannedMount) -> Result<(), MountError> {
    match a.cgroup_view {
        CgroupView::None => {
            tracing::debug!(dest = %m.dest().display(), "no cgroup view: cgroup mount skipped");
            Ok(())
        }
        CgroupView::Namespaced {
            v1_hierarchies,
            unified,
        } => {
            if v1_hierarchies.is_empty() {
                return if *unified {
                    mount_unified_at_dest(a, m)
                } else {
                    Ok(())
                };
            }
            let tmpfs = tmpfs_at_dest(a, m)?;
            for h in v1_hierarchies {
                let dir = subdir(tmpfs.as_fd(), m, h)?;
                let data: Vec<String> = h.split(',').map(str::to_owned).collect();
                let mnt = fresh(m, "cgroup", &data)?;
                attach_at(m, mnt.as_fd(), dir.as_fd())?;
                link_merged(tmpfs.as_fd(), m, h)?;
            }
            if *unified {
                let dir = subdir(tmpfs.as_fd(), m, "unified")?;
                attach_at(m, fresh(m, "cgroup2", &[])?.as_fd(), dir.as_fd())?;
            }
            finish_tmpfs(m, tmpfs.as_fd())
        }
        CgroupView::Bind { dirs } => {
            if let [(name, host)] = dirs.as_slice()
                && name.is_empty()
            {
                let (target, _) = target_dir(a.root, m)?;
                return attach_at(m, bind_ro(m, host)?.as_fd(), target.as_fd());
            }
            let tmpfs = tmpfs_at_dest(a, m)?;
            for (name, host) in dirs {
                let dir = subdir(tmpfs.as_fd(), m, name)?;
                attach_at(m, bind_ro(m, host)?.as_fd(), dir.as_fd())?;
                link_merged(tmpfs.as_fd(), m, name)?;
            }
            finish_tmpfs(m, tmpfs.as_fd())
        }
    }
}

/// A cgroup2 instance directly at the destination (pure v2 host, own cgroup namespace).
fn mount_unified_at_dest(a: &mut Assembly<'_>, m: &PlannedMount) -> Result<(), MountError> {
    let (target, _) = target_dir(a.root, m)?;
    let mnt = fresh(m, "cgroup2", &[])?;
    attach_at(m, mnt.as_fd(), target.as_fd())?;
    apply_propagation(m, mnt.as_fd())
}

fn fresh(m: &PlannedMount, fstype: &str, data: &[String]) -> Result<OwnedFd, MountError> {
    let err = |step: String, source| MountError::NewFs {
        fstype: fstype.to_owned(),
        dest: m.dest(),
        step,
        source,
    };
    let fs = new_fs(fstype, Some(fstype), &[], data).map_err(|(s, e)| err(s, e))?;
    fs_mount(fs.as_fd(), CG_ATTRS).map_err(|e| err("fsmount".into(), e))
}

fn bind_ro(m: &PlannedMount, host: &Path) -> Result<OwnedFd, MountError> {
    let tree = open_source(host, true)?;
    let ch = AttrChange {
        set: CG_ATTRS,
        clr: A::empty(),
    };
    set_attrs_keep_locked(tree.as_fd(), true, ch, A::empty()).map_err(|source| {
        MountError::SetFlags {
            dest: m.dest(),
            source,
        }
    })?;
    Ok(tree)
}

fn attach_at(m: &PlannedMount, mnt: BorrowedFd<'_>, dir: BorrowedFd<'_>) -> Result<(), MountError> {
    attach(mnt, dir).map_err(|source| MountError::Attach {
        dest: m.dest(),
        source,
    })
}

/// A writable `mode=755` tmpfs attached at the destination; returns its mount fd.
fn tmpfs_at_dest(a: &mut Assembly<'_>, m: &PlannedMount) -> Result<OwnedFd, MountError> {
    let (target, _) = target_dir(a.root, m)?;
    let attrs = A::MOUNT_ATTR_NOSUID | A::MOUNT_ATTR_NODEV | A::MOUNT_ATTR_NOEXEC;
    let fs = new_fs("tmpfs", Some("tmpfs"), &[], &["mode=755".to_owned()]).map_err(
        |(step, source)| MountError::NewFs {
            fstype: "tmpfs".into(),
            dest: m.dest(),
            step,
            source,
        },
    )?;
    let mnt = fs_mount(fs.as_fd(), attrs).map_err(|source| MountError::NewFs {
        fstype: "tmpfs".into(),
        dest: m.dest(),
        step: "fsmount".into(),
        source,
    })?;
    attach_at(m, mnt.as_fd(), target.as_fd())?;
    apply_propagation(m, mnt.as_fd())?;
    Ok(mnt)
}

fn finish_tmpfs(m: &PlannedMount, tmpfs: BorrowedFd<'_>) -> Result<(), MountError> {
    let ro = AttrChange {
        set: A::MOUNT_ATTR_RDONLY,
        clr: A::empty(),
    };
    set_attrs(tmpfs, false, ro).map_err(|source| MountError::SetFlags {
        dest: m.dest(),
        source,
    })
}

/// The directory name of a hierarchy: `name=systemd` → `systemd`, `cpu,cpuacct` as is.
fn dir_name(h: &str) -> &str {
    h.strip_prefix("name=").unwrap_or(h)
}

/// Creates (in our tmpfs) and opens the directory for hierarchy `h`.
fn subdir(tmpfs: BorrowedFd<'_>, m: &PlannedMount, h: &str) -> Result<OwnedFd, MountError> {
    let name = dir_name(h);
    let path = m.dest().join(name);
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(MountError::InvalidDestination {
            dest: path,
            reason: "bad cgroup name",
        });
    }
    match rustix::fs::mkdirat(tmpfs, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(source) => return Err(MountError::Create { path, source }),
    }
    open_beneath(
        tmpfs,
        OsStr::new(name),
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .map_err(|source| MountError::Resolve { path, source })
}

/// `cpu,cpuacct` also answers as `cpu` and `cpuacct` (symlinks), as on the host.
fn link_merged(tmpfs: BorrowedFd<'_>, m: &PlannedMount, h: &str) -> Result<(), MountError> {
    let name = dir_name(h);
    if !name.contains(',') {
        return Ok(());
    }
    for part in name
        .split(',')
        .filter(|p| !p.is_empty() && !p.contains('='))
    {
        match rustix::fs::symlinkat(name, tmpfs, part) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(source) => {
                let path: PathBuf = m.dest().join(part);
                return Err(MountError::Create { path, source });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_dir_names() {
        assert_eq!(dir_name("name=systemd"), "systemd");
        assert_eq!(dir_name("cpu,cpuacct"), "cpu,cpuacct");
        assert_eq!(dir_name("memory"), "memory");
    }
}
