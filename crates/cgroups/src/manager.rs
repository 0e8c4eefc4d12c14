// SPDX-License-Identifier: Apache-2.0
//! The per-container [`Manager`]: one directory per hierarchy (every mounted v1 hierarchy,
//! plus the unified one), the parents it created, and lazily opened directory fds.

use std::cell::OnceCell;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detect::Layout;
use crate::error::{CgroupError, Result};
use crate::fsio::{CgDir, open_dir};
use crate::path::Requested;

/// Which cgroup interface a directory speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Version {
    V1,
    V2,
}

/// The container's directory in one hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cg {
    pub(crate) version: Version,
    /// v1: the hierarchy's controllers; v2: those available at the root.
    pub(crate) controllers: Vec<String>,
    pub(crate) mount: PathBuf,
    /// Below `mount`, no leading `/`, never empty.
    pub(crate) rel: String,
    pub(crate) path: PathBuf,
}

impl Cg {
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
    /// The v1 directory name under `/sys/fs/cgroup` (`cpu,cpuacct`, `systemd` for
    /// `name=systemd`).
    fn dir_name(&self) -> String {
        let opts = self.controllers.join(",");
        opts.strip_prefix("name=")
            .map_or(opts.clone(), str::to_string)
    }
}

/// What [`Manager::to_state`] returns and [`Manager::from_state`] takes: enough for later
/// commands (`exec`, `kill`, `delete`, `events`...) to find the same directories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerState {
    pub(crate) id: String,
    pub(crate) dirs: Vec<Cg>,
    /// Parents created by `create`, outermost first (removed by `destroy` when empty).
    pub(crate) created: Vec<PathBuf>,
    pub(crate) rootless: bool,
    /// No cgroup at all (rootless without delegation).
    pub(crate) disabled: bool,
}

/// The cgroup mounts a container should see (mapped by the runtime to the mount crate's
/// `CgroupView`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountView {
    /// A cgroup namespace: mount fresh cgroupfs instances. `v1_hierarchies` are mount option
    /// strings (`cpu,cpuacct`, `name=systemd`; the directory is the string without `name=`);
    /// `unified` asks for a cgroup2 mount (at `/sys/fs/cgroup` when there is no v1 entry,
    /// else at `/sys/fs/cgroup/unified`).
    Namespaced {
        /// v1 mount options, one entry per hierarchy.
        v1_hierarchies: Vec<String>,
        /// Whether to mount cgroup2.
        unified: bool,
    },
    /// No cgroup namespace: bind the container's own directories. Each entry is (directory
    /// name under `/sys/fs/cgroup`, host path); the name is empty for pure v2 (the mount is
    /// `/sys/fs/cgroup` itself) and `unified` for the hybrid cgroup2 directory.
    Bind {
        /// (name, host directory).
        dirs: Vec<(String, PathBuf)>,
    },
    /// No cgroup to show.
    None,
}

/// One container's cgroups. Created with [`Manager::new`] (no filesystem access), then
/// [`Manager::create`]; later commands rebuild it with [`Manager::from_state`].
#[derive(Debug)]
pub struct Manager {
    pub(crate) st: ManagerState,
    pub(crate) fds: Vec<OnceCell<OwnedFd>>,
}

impl Manager {
    /// Resolves `cgroups_path` (OCI semantics, see the crate docs) in every hierarchy of
    /// `layout`. Rootless on a host with v1 hierarchies gives a disabled (no-op) manager.
    pub fn new(layout: &Layout, cgroups_path: &str, id: &str, rootless: bool) -> Result<Manager> {
        let req = Requested::parse(cgroups_path, id, rootless)?;
        let mut dirs = Vec::new();
        for h in layout.hierarchies() {
            dirs.push(cg(
                Version::V1,
                h.controllers.clone(),
                &h.mount,
                req.resolve(&h.current),
            ));
        }
        if let Some(u) = layout.unified() {
            dirs.push(cg(
                Version::V2,
                u.controllers.clone(),
                &u.mount,
                req.resolve(&u.current),
            ));
        }
        let disabled = rootless && !layout.hierarchies().is_empty();
        Ok(Manager::from_state(ManagerState {
            id: id.to_string(),
            dirs,
            created: Vec::new(),
            rootless,
            disabled,
        }))
    }

    /// Rebuilds a manager saved with [`Manager::to_state`].
    pub fn from_state(st: ManagerState) -> Manager {
        let fds = st.dirs.iter().map(|_| OnceCell::new()).collect();
        Manager { st, fds }
    }

    /// What to keep in the container's state file.
    pub fn to_state(&self) -> ManagerState {
        self.st.clone()
    }

    /// False for a rootless manager without a cgroup (every operation is a no-op or says so).
    pub fn is_enabled(&self) -> bool {
        !self.st.disabled
    }

    pub(crate) fn is_rootless(&self) -> bool {
        self.st.rootless
    }

    pub(crate) fn is_hybrid(&self) -> bool {
        self.st.dirs.iter().any(|d| d.version == Version::V1)
            && self.st.dirs.iter().any(|d| d.version == Version::V2)
    }

    pub(crate) fn require_enabled(&self) -> Result<()> {
        if self.st.disabled {
            return Err(CgroupError::NoCgroup {
                id: self.st.id.clone(),
            });
        }
        Ok(())
    }

    /// `(hierarchy, directory)` for each hierarchy: `cpu,cpuacct`, `name=systemd`, and `""`
    /// for the unified one. Empty when disabled.
    pub fn paths(&self) -> Vec<(String, PathBuf)> {
        if self.st.disabled {
            return Vec::new();
        }
        self.st
            .dirs
            .iter()
            .map(|d| match d.version {
                Version::V1 => (d.controllers.join(","), d.path.clone()),
                Version::V2 => (String::new(), d.path.clone()),
            })
            .collect()
    }

    /// The open directory `i`, opening it on first use.
    pub(crate) fn dir(&self, i: usize) -> Result<CgDir<'_>> {
        let cg = &self.st.dirs[i];
        let cell = &self.fds[i];
        if cell.get().is_none() {
            let fd = open_dir(rustix::fs::CWD, &cg.path).map_err(|source| CgroupError::Open {
                path: cg.path.clone(),
                source,
            })?;
            let _ = cell.set(fd);
        }
        let fd = cell
            .get()
            .map(AsFd::as_fd)
            .ok_or_else(|| CgroupError::Open {
                path: cg.path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        Ok(CgDir::new(fd, &cg.path))
    }

    pub(crate) fn unified_index(&self) -> Option<usize> {
        self.st.dirs.iter().position(|d| d.version == Version::V2)
    }

    /// The unified directory (for BPF device filters, `cgroup.kill`...), if any.
    pub(crate) fn unified_dir(&self) -> Result<Option<CgDir<'_>>> {
        self.unified_index().map(|i| self.dir(i)).transpose()
    }

    /// Where `controller` lives: its v1 hierarchy, else the unified directory when the
    /// controller is available there (enabled down to it on a hybrid host, where `create`
    /// enables nothing).
    pub(crate) fn target(&self, controller: &str) -> Result<Option<Target<'_>>> {
        self.find(controller, true)
    }

    /// Like [`Self::target`] for reading: never enables a controller.
    pub(crate) fn target_ro(&self, controller: &str) -> Result<Option<Target<'_>>> {
        self.find(controller, false)
    }

    fn find(&self, controller: &str, enable: bool) -> Result<Option<Target<'_>>> {
        let v1 = self
            .st
            .dirs
            .iter()
            .position(|d| d.version == Version::V1 && d.has(controller));
        if let Some(i) = v1 {
            return Ok(Some(Target {
                dir: self.dir(i)?,
                version: Version::V1,
            }));
        }
        match self.unified_index() {
            Some(i) if self.st.dirs[i].has(controller) => {
                if enable && self.is_hybrid() {
                    crate::create::enable_controllers(&self.st.dirs[i], &[controller]);
                }
                Ok(Some(Target {
                    dir: self.dir(i)?,
                    version: Version::V2,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Moves `pid` into the container's cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        if self.st.disabled {
            return Ok(());
        }
        let value = pid.to_string();
        for i in 0..self.st.dirs.len() {
            self.dir(i)?.write("cgroup.procs", &value)?;
        }
        Ok(())
    }

    /// Moves `pid` into the container's v2 directory only, if there is one (the v1 ones are
    /// joined by the process itself).
    pub fn add_pid_unified(&self, pid: i32) -> Result<()> {
        if self.st.disabled {
            return Ok(());
        }
        match self.unified_dir()? {
            Some(d) => d.write("cgroup.procs", &pid.to_string()),
            None => Ok(()),
        }
    }

    /// A new fd of the unified directory for `clone3(CLONE_INTO_CGROUP)` (v2 and hybrid).
    /// On hybrid the v1 hierarchies still need [`Manager::add_pid`].
    pub fn clone_into_fd(&self) -> Option<OwnedFd> {
        if self.st.disabled {
            return None;
        }
        let dir = self.unified_dir().ok()??;
        rustix::io::fcntl_dupfd_cloexec(dir, 0).ok()
    }

    /// The cgroup mounts the container should get.
    pub fn mount_view(&self, cgroupns: bool) -> MountView {
        if self.st.disabled {
            return MountView::None;
        }
        let v1 = self.st.dirs.iter().filter(|d| d.version == Version::V1);
        let unified = self.st.dirs.iter().find(|d| d.version == Version::V2);
        if cgroupns {
            return MountView::Namespaced {
                v1_hierarchies: v1.map(|d| d.controllers.join(",")).collect(),
                unified: unified.is_some(),
            };
        }
        let hybrid = self.is_hybrid();
        let mut dirs: Vec<(String, PathBuf)> = v1.map(|d| (d.dir_name(), d.path.clone())).collect();
        if let Some(u) = unified {
            dirs.push((
                if hybrid {
                    "unified".into()
                } else {
                    String::new()
                },
                u.path.clone(),
            ));
        }
        MountView::Bind { dirs }
    }
}

/// A controller's directory and interface version.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub(crate) dir: CgDir<'a>,
    pub(crate) version: Version,
}

fn cg(version: Version, controllers: Vec<String>, mount: &Path, rel: String) -> Cg {
    let path = mount.join(&rel);
    Cg {
        version,
        controllers,
        mount: mount.to_path_buf(),
        rel,
        path,
    }
}

#[cfg(test)]
mod tests;
