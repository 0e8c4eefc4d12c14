// SPDX-License-Identifier: Apache-2.0
//! [`prepare_rootfs`]: propagation of `/`, the rootfs bound onto itself, the config's mounts in
//! order, devices and `/dev` links, and the handles later steps need (procfs, mask source).

use std::cell::OnceCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::fs::{Mode, OFlags, StatxFlags};

use super::masks::MaskSource;
use super::options::Propagation;
use super::plan::{MountKind, plan_mounts};
use super::{Assembly, Finish, PreparedRootfs, RootfsConfig, devices, mounts};
use crate::MountError;
use crate::fsapi::{attach, set_propagation};
use crate::mountinfo::read_own;
use crate::procfs::ProcRoot;

/// Assembles the rootfs inside the current (new, private) mount namespace: everything up to,
/// but not including, pivot_root. Errors name the mount, device or path concerned.
pub fn prepare_rootfs(cfg: &RootfsConfig<'_>) -> Result<PreparedRootfs, MountError> {
    prepare_rootfs_gated(cfg, &mut || true)
}

/// [`prepare_rootfs`], calling `before_cgroup` once right before the first `cgroup` mount
/// (the runtime joins the container's cgroups there: a cgroup namespace's root, and the
/// host directories a bind view shows, must be final by then). When it returns false,
/// assembly stops with [`MountError::Gate`] (the caller knows why).
pub fn prepare_rootfs_gated(
    cfg: &RootfsConfig<'_>,
    before_cgroup: &mut dyn FnMut() -> bool,
) -> Result<PreparedRootfs, MountError> {
    let spec = cfg.spec;
    let plan = plan_mounts(spec, cfg.bundle)?;
    let linux = spec.linux().as_ref();
    let root_propagation = root_propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    let parent_may_be_shared = set_host_root_propagation(root_propagation)?;
    // rootfsPropagation slave: the rootfs must stay a slave of the host mount it is in
    // (`master:` on `/`), so a shared parent becomes a slave rather than private
    let parent_to = match root_propagation {
        Some((Propagation::Slave, _)) => Propagation::Slave,
        _ => Propagation::Private,
    };
    let root = bind_rootfs(cfg.rootfs, parent_may_be_shared, parent_to)?;

    let mut a = Assembly {
        root: root.as_fd(),
        rootless: cfg.rootless,
        cgroup_view: cfg.cgroup_view,
        proc_mnt: None,
        devpts_mnt: None,
        deferred_ro: Vec::new(),
    };
    let mut gate_open = false;
    for m in &plan {
        tracing::debug!(dest = %m.dest().display(), kind = ?m.kind, "mount");
        if matches!(m.kind, MountKind::Cgroup) && !gate_open {
            if !before_cgroup() {
                return Err(MountError::Gate);
            }
            gate_open = true;
        }
        mounts::mount_entry(&mut a, m)?;
    }
    let dev_is_bind = plan
        .iter()
        .any(|m| m.rel == Path::new("dev") && matches!(m.kind, MountKind::Bind { .. }));
    if !dev_is_bind {
        devices::setup_dev(&a, spec)?;
    }

    let list = |v: Option<&Vec<String>>| -> Vec<PathBuf> {
        v.map(|v| v.iter().map(PathBuf::from).collect())
            .unwrap_or_default()
    };
    let masked = list(linux.and_then(|l| l.masked_paths().as_ref()));
    let readonly = list(linux.and_then(|l| l.readonly_paths().as_ref()));
    let mask_source = if masked.is_empty() {
        None
    } else {
        Some(MaskSource::new(!parent_may_be_shared && !cfg.no_pivot)?)
    };
    let proc = proc_handle(a.proc_mnt.take(), spec)?;
    let Assembly {
        devpts_mnt,
        deferred_ro,
        ..
    } = a;
    Ok(PreparedRootfs {
        root,
        rootfs: cfg.rootfs.to_path_buf(),
        no_pivot: cfg.no_pivot,
        root_propagation,
        devpts: devpts_mnt.map(OnceCell::from).unwrap_or_default(),
        finish: Finish {
            proc,
            deferred_ro,
            masked,
            readonly,
            readonly_root: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
            mask_source,
        },
    })
}

/// `linux.rootfsPropagation` (`shared`, `rslave`, ...).
fn root_propagation(s: Option<&str>) -> Result<Option<(Propagation, bool)>, MountError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => Propagation::parse(s)
            .map(Some)
            .ok_or_else(|| MountError::InvalidOption {
                option: s.to_owned(),
                dest: PathBuf::from("rootfsPropagation"),
            }),
    }
}

/// Makes `/` of our mount namespace `rslave` (default) or what the config asks, so nothing
/// we mount propagates back to the host. Returns whether some mount may still be shared
/// (not after a recursive slave/private change: then the mount table need not be read).
fn set_host_root_propagation(p: Option<(Propagation, bool)>) -> Result<bool, MountError> {
    let (p, rec) = p.unwrap_or((Propagation::Slave, true));
    let slash = open_path(Path::new("/"))?;
    set_propagation(slash.as_fd(), p, rec).map_err(|source| MountError::Propagation {
        dest: "/".into(),
        source,
    })?;
    Ok(!(rec && matches!(p, Propagation::Slave | Propagation::Private)))
}

fn open_path(p: &Path) -> Result<OwnedFd, MountError> {
    rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| MountError::BindRootfs {
        path: p.to_path_buf(),
        source,
    })
}

/// Binds the rootfs onto itself (recursively): it becomes a mount point (pivot_root needs
/// one) whose fd is the root of every later lookup. A shared parent mount is made private
/// (or a slave, `parent_to`) first, so neither the bind nor pivot_root can propagate to the
/// host.
fn bind_rootfs(
    rootfs: &Path,
    parent_may_be_shared: bool,
    parent_to: Propagation,
) -> Result<OwnedFd, MountError> {
    let err = |source| MountError::BindRootfs {
        path: rootfs.to_path_buf(),
        source,
    };
    let dir = open_path(rootfs)?;
    if parent_may_be_shared {
        make_parent_unshared(dir.as_fd(), rootfs, parent_to)?;
    }
    let tree = crate::fsapi::clone_fd(dir.as_fd(), true).map_err(err)?;
    attach(tree.as_fd(), dir.as_fd()).map_err(err)?;
    Ok(tree)
}

fn make_parent_unshared(
    dir: BorrowedFd<'_>,
    rootfs: &Path,
    to: Propagation,
) -> Result<(), MountError> {
    let err = |source| MountError::BindRootfs {
        path: rootfs.to_path_buf(),
        source,
    };
    let id = mount_id(dir).map_err(err)?;
    let table = read_own()?;
    let Some(parent) = table.iter().find(|m| m.id == id && m.shared) else {
        return Ok(());
    };
    // mount_setattr acts on a mount root: open the parent's mount point, check it is that mount.
    let root = open_path(&parent.mount_point)?;
    if mount_id(root.as_fd()).map_err(err)? != id {
        return Err(MountError::MountInfo {
            what: format!(
                "mount {} moved while preparing the rootfs",
                parent.mount_point.display()
            ),
            source: None,
        });
    }
    set_propagation(root.as_fd(), to, false).map_err(err)
}

fn mount_id(fd: BorrowedFd<'_>) -> Result<u64, rustix::io::Errno> {
    let stx = rustix::fs::statx(fd, "", rustix::fs::AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)?;
    Ok(stx.stx_mnt_id)
}

/// The verified procfs handle for sysctl writes: the container's /proc mount, else (only if
/// sysctls are configured) a private instance made now, while a full /proc is still visible.
fn proc_handle(proc_mnt: Option<OwnedFd>, spec: &Spec) -> Result<Option<ProcRoot>, MountError> {
    if let Some(p) = proc_mnt.and_then(|fd| ProcRoot::new(fd).ok()) {
        return Ok(Some(p));
    }
    let has_sysctls = spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().as_ref())
        .is_some_and(|s| !s.is_empty());
    if has_sysctls {
        ProcRoot::private().map(Some)
    } else {
        Ok(None)
    }
}
