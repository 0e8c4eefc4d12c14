// SPDX-License-Identifier: Apache-2.0
//! Container rootfs assembly, called by the container init inside its new mount namespace.
//! The order of steps and the CVE each closes is in `docs/design/rootfs.md`.

mod cgroup;
mod console;
mod copyup;
mod devices;
mod masks;
mod mounts;
pub(crate) mod options;
mod pivot;
mod plan;
mod prepare;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use prepare::{prepare_rootfs, prepare_rootfs_gated};

use rustix::mount::MountAttrFlags;

use self::masks::MaskSource;
use self::options::Propagation;
use crate::MountError;
use crate::procfs::{ProcRoot, sysctl_path};

/// What [`prepare_rootfs`] needs: the spec, where the bundle and the rootfs are (host paths),
/// and facts the runtime decided.
#[derive(Debug, Clone, Copy)]
pub struct RootfsConfig<'a> {
    /// The container config.
    pub spec: &'a oci_spec::runtime::Spec,
    /// The bundle directory (relative bind sources are relative to it).
    pub bundle: &'a Path,
    /// The rootfs directory (absolute host path).
    pub rootfs: &'a Path,
    /// Init runs in a user namespace: devices are bound from the host, locked mount flags
    /// are kept, sysfs falls back to a read-only bind of /sys.
    pub rootless: bool,
    /// `--no-pivot`: `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// How `cgroup` mounts are made.
    pub cgroup_view: &'a CgroupView,
}

/// How the container's cgroup filesystem is built (always read-only inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupView {
    /// The container has its own cgroup namespace: fresh cgroupfs mounts. v1: one per
    /// hierarchy option string (`memory`, `cpu,cpuacct`, `name=systemd`) in a tmpfs at the
    /// destination, plus `unified` (cgroup2) if set; v2 only: cgroup2 at the destination.
    Namespaced {
        /// v1 hierarchies, as their mount option strings.
        v1_hierarchies: Vec<String>,
        /// Whether a cgroup2 hierarchy is mounted too.
        unified: bool,
    },
    /// No cgroup namespace: bind `(name under the destination, host dir)`; a single entry
    /// with an empty name is bound at the destination itself.
    Bind {
        /// The directories to bind.
        dirs: Vec<(String, PathBuf)>,
    },
    /// No cgroup mount at all.
    None,
}

/// State while mounting: the rootfs fd and the handles later steps need.
#[derive(Debug)]
pub(crate) struct Assembly<'a> {
    pub root: BorrowedFd<'a>,
    pub rootless: bool,
    pub cgroup_view: &'a CgroupView,
    /// The container's /proc mount (for verified writes).
    pub proc_mnt: Option<OwnedFd>,
    /// The container's /dev/pts mount (for the console).
    pub devpts_mnt: Option<OwnedFd>,
    /// Mounts to make read-only in [`PivotedRootfs::finalize`] (a read-only /dev).
    pub deferred_ro: Vec<(PathBuf, OwnedFd)>,
}

/// What finalize needs, carried across pivot.
#[derive(Debug)]
struct Finish {
    proc: Option<ProcRoot>,
    deferred_ro: Vec<(PathBuf, OwnedFd)>,
    masked: Vec<PathBuf>,
    readonly: Vec<PathBuf>,
    readonly_root: bool,
    mask_source: Option<MaskSource>,
}

/// The rootfs with every mount and device in place, before pivot_root.
#[derive(Debug)]
pub struct PreparedRootfs {
    root: OwnedFd,
    rootfs: PathBuf,
    no_pivot: bool,
    root_propagation: Option<(Propagation, bool)>,
    /// The container's devpts mount (or a private one made for the console).
    devpts: OnceCell<OwnedFd>,
    finish: Finish,
}

impl PreparedRootfs {
    /// Opens a pty pair on the container's own devpts instance: `(master, slave)`. The slave
    /// comes from `TIOCGPTPEER`, never from a path. Without a devpts mount in the config, a
    /// private instance is made (and kept, so the pty can be bound as the console).
    pub fn open_console_pty(&self) -> Result<(OwnedFd, OwnedFd), MountError> {
        if let Some(d) = self.devpts.get() {
            return console::open_pty(d.as_fd());
        }
        let data = ["newinstance".to_owned(), "ptmxmode=0666".to_owned()];
        let mnt = crate::fsapi::new_mount("devpts", Some("devpts"), &data, MountAttrFlags::empty())
            .map_err(|(step, source)| MountError::NewFs {
                fstype: "devpts".into(),
                dest: "(private)".into(),
                step,
                source,
            })?;
        let d = self.devpts.get_or_init(|| mnt);
        console::open_pty(d.as_fd())
    }

    /// Binds the pty `slave` onto `/dev/console` without resolving any container path
    /// outside the rootfs (a `dev/console` symlink is replaced, not followed).
    pub fn bind_console(&self, slave: BorrowedFd<'_>) -> Result<(), MountError> {
        console::bind_console(self.root.as_fd(), slave)
    }

    /// Writes sysctls like [`PivotedRootfs::write_sysctls`], before pivot_root. Call it
    /// before [`pivot`](Self::pivot) when there are any: pivot may put the masks on first, and
    /// a sysctl under a masked path could not be written after that.
    pub fn write_sysctls(&self, sysctls: &HashMap<String, String>) -> Result<(), MountError> {
        write_sysctls(&self.finish, sysctls)
    }

    /// Switches into the rootfs: `pivot_root` and detach of the old root, or `MS_MOVE` +
    /// `chroot` with `no_pivot`. The cwd is `/` afterwards. When the mask source sits on
    /// the old root (the default, `masks.rs`), the masked paths are applied first.
    pub fn pivot(mut self) -> Result<PivotedRootfs, MountError> {
        if let Some(src) = self.finish.mask_source.take_if(|s| s.before_pivot()) {
            let src = src.settle()?;
            masks::mask_paths(self.root.as_fd(), &src, &self.finish.masked)?;
        }
        if self.no_pivot {
            pivot::move_root(self.root.as_fd(), &self.rootfs)?;
        } else {
            pivot::pivot_root(self.root.as_fd())?;
        }
        pivot::apply_root_propagation(self.root.as_fd(), self.root_propagation)?;
        Ok(PivotedRootfs {
            root: self.root,
            finish: self.finish,
        })
    }
}

/// The rootfs after pivot_root: sysctls and the final read-only/masking steps remain.
#[derive(Debug)]
pub struct PivotedRootfs {
    root: OwnedFd,
    finish: Finish,
}

impl PivotedRootfs {
    /// Writes sysctls (`net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`) through the
    /// procfs mount we made, refusing anything mounted over the file (CVE-2025-52881). Keys
    /// are written in sorted order; the first failure stops. With the default (attached)
    /// mask source, call [`PreparedRootfs::write_sysctls`] instead: the masks are on by now.
    pub fn write_sysctls(&self, sysctls: &HashMap<String, String>) -> Result<(), MountError> {
        write_sysctls(&self.finish, sysctls)
    }

    /// Read-only paths, masked paths (unless applied before pivot_root), read-only /dev if
    /// requested, then the read-only root (`root.readonly`).
    pub fn finalize(&self) -> Result<(), MountError> {
        let f = &self.finish;
        masks::readonly_paths(self.root.as_fd(), &f.readonly)?;
        if let Some(src) = &f.mask_source {
            masks::mask_paths(self.root.as_fd(), src, &f.masked)?;
        }
        for (path, fd) in &f.deferred_ro {
            masks::make_readonly(fd.as_fd(), path)?;
        }
        if f.readonly_root {
            masks::make_readonly(self.root.as_fd(), Path::new("/"))?;
        }
        Ok(())
    }
}

/// Writes sysctls (`net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`) through the
/// procfs mount we made, refusing anything mounted over the file (CVE-2025-52881). Keys are
/// written in sorted order; the first failure stops.
fn write_sysctls(finish: &Finish, sysctls: &HashMap<String, String>) -> Result<(), MountError> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let private;
    let proc = match &finish.proc {
        Some(p) => p,
        None => {
            private = ProcRoot::private()?;
            &private
        }
    };
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        let rel = sysctl_path(key)?;
        let value = sysctls.get(key).map(String::as_bytes).unwrap_or_default();
        proc.write(&rel, value)
            .map_err(|source| MountError::Sysctl {
                key: key.clone(),
                source,
            })?;
    }
    Ok(())
}
