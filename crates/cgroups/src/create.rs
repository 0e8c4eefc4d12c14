// SPDX-License-Identifier: Apache-2.0
//! Creating and removing the container's directories.
//!
//! `create` opens each hierarchy root once and `mkdirat`s relative to it; parents are made
//! only when the leaf's `mkdirat` says `ENOENT`, and remembered so `destroy` removes them
//! when empty. An existing leaf is reused only when it has no process and is not frozen.
//! v1 cpuset directories get their parent's `cpus`/`mems` (they start empty, and an empty
//! cpuset refuses tasks). On pure v2 the root's controllers are enabled in each ancestor's
//! `cgroup.subtree_control`; on a hybrid host only on demand ([`enable_controllers`]).

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use rustix::fs::{CWD, Mode, mkdirat};
use rustix::io::Errno;

use crate::error::{CgroupError, Result};
use crate::fsio::{CgDir, open_dir};
use crate::manager::{Cg, Manager, Version};

/// rmdir attempts on `EBUSY` (tasks still exiting), with doubling sleeps from 10 ms.
const RMDIR_TRIES: u32 = 5;

impl Manager {
    /// Creates the directories (parents too). Rootless without write access to the
    /// hierarchies turns the manager into a no-op one instead of failing.
    pub fn create(&mut self) -> Result<()> {
        self.create_some(|_| true)
    }

    /// Creates only the v2 directory (if any): on a hybrid host the runtime makes it before
    /// the clone (`CLONE_INTO_CGROUP`) and the v1 ones ([`Manager::create_v1`]) while the
    /// child works.
    pub fn create_unified(&mut self) -> Result<()> {
        self.create_some(|cg| cg.version == Version::V2)
    }

    /// Creates only the v1 directories (the rest of [`Manager::create_unified`]).
    pub fn create_v1(&mut self) -> Result<()> {
        self.create_some(|cg| cg.version == Version::V1)
    }

    /// Whether the cgroup has v1 hierarchies (a hybrid or v1 host, cgroup enabled).
    pub fn has_v1(&self) -> bool {
        !self.st.disabled && self.st.dirs.iter().any(|d| d.version == Version::V1)
    }

    fn create_some(&mut self, pick: impl Fn(&Cg) -> bool) -> Result<()> {
        if self.st.disabled {
            return Ok(());
        }
        let mut made = Vec::new();
        let parents_before = self.st.created.len();
        for i in 0..self.st.dirs.len() {
            if !pick(&self.st.dirs[i]) {
                continue;
            }
            match self.create_dir(i) {
                Ok(true) => made.push(i),
                Ok(false) => {}
                Err(e) => {
                    self.rollback(&made, parents_before);
                    if self.st.rootless && is_denied(&e) {
                        tracing::debug!("rootless, cgroup not writable: {e}");
                        self.st.disabled = true;
                        return Ok(());
                    }
                    return Err(e);
                }
            }
        }
        if let Some(u) = self
            .unified_index()
            .filter(|&u| !self.is_hybrid() && pick(&self.st.dirs[u]))
        {
            let cg = &self.st.dirs[u];
            let all: Vec<&str> = cg.controllers.iter().map(String::as_str).collect();
            enable_controllers(cg, &all);
        }
        Ok(())
    }

    /// Makes directory `i`; true when we created the leaf, false when an empty one existed.
    fn create_dir(&mut self, i: usize) -> Result<bool> {
        let cg = self.st.dirs[i].clone();
        let root = open_dir(CWD, &cg.mount).map_err(|source| CgroupError::Open {
            path: cg.mount.clone(),
            source,
        })?;
        let cpuset = cg.version == Version::V1 && cg.has("cpuset");
        let mkdir_err = |e: Errno| CgroupError::Create {
            path: cg.path.clone(),
            source: e.into(),
        };
        let made = match mkdirat(&root, cg.rel.as_str(), Mode::from_raw_mode(0o755)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(Errno::NOENT) => {
                self.make_parents(&root, &cg, cpuset)?;
                match mkdirat(&root, cg.rel.as_str(), Mode::from_raw_mode(0o755)) {
                    Ok(()) => true,
                    Err(Errno::EXIST) => false,
                    Err(e) => return Err(mkdir_err(e)),
                }
            }
            Err(e) => return Err(mkdir_err(e)),
        };
        let leaf = open_dir(&root, Path::new(&cg.rel)).map_err(|source| CgroupError::Open {
            path: cg.path.clone(),
            source,
        })?;
        let dir = CgDir::new(leaf.as_fd(), &cg.path);
        if made && cpuset {
            copy_cpuset(&root, &cg, &cg.rel, dir)?;
        } else if !made {
            check_reusable(&cg, dir)?;
        }
        self.fds[i] = std::cell::OnceCell::from(leaf);
        Ok(made)
    }

    fn make_parents(&mut self, root: &impl AsFd, cg: &Cg, cpuset: bool) -> Result<()> {
        let comps: Vec<&str> = cg.rel.split('/').collect();
        for k in 1..comps.len() {
            let prefix = comps[..k].join("/");
            let path = cg.mount.join(&prefix);
            match mkdirat(root, prefix.as_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) => {
                    self.st.created.push(path.clone());
                    if cpuset {
                        let fd = open_dir(root, Path::new(&prefix)).map_err(|source| {
                            CgroupError::Open {
                                path: path.clone(),
                                source,
                            }
                        })?;
                        copy_cpuset(root, cg, &prefix, CgDir::new(fd.as_fd(), &path))?;
                    }
                }
                Err(Errno::EXIST) => {}
                Err(e) => {
                    return Err(CgroupError::Create {
                        path,
                        source: e.into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Best-effort removal of what a failed `create` made.
    /// Parents made before index `parents_before` of `created` belong to an earlier call.
    fn rollback(&mut self, made: &[usize], parents_before: usize) {
        for &i in made {
            let _ = std::fs::remove_dir(&self.st.dirs[i].path);
            self.fds[i] = std::cell::OnceCell::new();
        }
        for p in self.st.created.drain(parents_before..).rev() {
            let _ = std::fs::remove_dir(p);
        }
    }

    /// Removes the directories (children first, retrying while tasks exit), then the
    /// parents `create` made, when empty. Missing directories are fine.
    pub fn destroy(&self) -> Result<()> {
        if self.st.disabled {
            return Ok(());
        }
        let mut first_err = None;
        for cg in &self.st.dirs {
            if let Err(e) = remove_tree(&cg.path) {
                first_err.get_or_insert(e);
            }
        }
        for p in self.st.created.iter().rev() {
            if let Err(e) = std::fs::remove_dir(p) {
                tracing::debug!("parent cgroup {} kept: {e}", p.display());
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn is_denied(e: &CgroupError) -> bool {
    let source = match e {
        CgroupError::Create { source, .. }
        | CgroupError::Open { source, .. }
        | CgroupError::Write { source, .. } => source,
        _ => return false,
    };
    matches!(
        source.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Copies `cpuset.cpus` and `cpuset.mems` from the parent of `rel` into `dir`.
fn copy_cpuset(root: &impl AsFd, cg: &Cg, rel: &str, dir: CgDir<'_>) -> Result<()> {
    let parent_rel = Path::new(rel).parent().unwrap_or(Path::new(""));
    let parent_path = cg.mount.join(parent_rel);
    let fd = open_dir(root, parent_rel).map_err(|source| CgroupError::Open {
        path: parent_path.clone(),
        source,
    })?;
    let parent = CgDir::new(fd.as_fd(), &parent_path);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = parent.read(file)?;
        if !value.trim().is_empty() {
            dir.write(file, value.trim())?;
        }
    }
    Ok(())
}

/// runc: "should error for a non-empty cgroup", "refuse pre-existing frozen cgroup"; and
/// never a cgroup with children (a config naming `/system.slice` must not get its limits
/// applied there, nor `destroy` walking its children).
fn check_reusable(cg: &Cg, dir: CgDir<'_>) -> Result<()> {
    let path = || cg.path.clone();
    if !dir.read("cgroup.procs")?.trim().is_empty() {
        return Err(CgroupError::NotEmpty { path: path() });
    }
    let entries = std::fs::read_dir(&cg.path).map_err(|source| CgroupError::Read {
        path: path(),
        source,
    })?;
    if entries
        .flatten()
        .any(|e| e.file_type().is_ok_and(|t| t.is_dir()))
    {
        return Err(CgroupError::HasChildren { path: path() });
    }
    let frozen = match cg.version {
        Version::V1 if cg.has("freezer") => dir.read("freezer.state")?.trim() != "THAWED",
        Version::V1 => false,
        Version::V2 => dir.try_read("cgroup.freeze").is_ok_and(|s| s.trim() == "1"),
    };
    if frozen {
        return Err(CgroupError::Frozen { path: path() });
    }
    Ok(())
}

/// Enables `controllers` in `cgroup.subtree_control` of every ancestor of the unified
/// directory `cg` (its mount root included). Best effort: a controller that cannot be enabled
/// shows up later as a missing control file, named in the write error.
pub(crate) fn enable_controllers(cg: &Cg, controllers: &[&str]) {
    if controllers.is_empty() {
        return;
    }
    let all: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
    let comps: Vec<&str> = cg.rel.split('/').collect();
    for k in 0..comps.len() {
        let file = cg
            .mount
            .join(comps[..k].join("/"))
            .join("cgroup.subtree_control");
        if write_once(&file, &all.join(" ")).is_ok() {
            continue;
        }
        for c in &all {
            if let Err(e) = write_once(&file, c) {
                tracing::debug!("cannot write {c} to {}: {e}", file.display());
            }
        }
    }
}

fn write_once(path: &Path, value: &str) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(format!("{value}\n").as_bytes())
}

/// rmdir `path`, removing child cgroups first and retrying on `EBUSY`.
fn remove_tree(path: &Path) -> Result<()> {
    let mut delay = Duration::from_millis(10);
    let mut last = io::Error::from(io::ErrorKind::Other);
    for _ in 0..RMDIR_TRIES {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(Errno::NOTEMPTY.raw_os_error()) => {
                for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        remove_tree(&entry.path())?;
                    }
                }
                last = e;
            }
            Err(e) if e.raw_os_error() == Some(Errno::BUSY.raw_os_error()) => {
                std::thread::sleep(delay);
                delay *= 2;
                last = e;
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    Err(CgroupError::Remove {
        path: path.to_path_buf(),
        source: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{touch, writes};

    #[test]
    fn cpuset_copies_the_parent_lists() {
        let d = tempfile::tempdir().unwrap();
        let cg = Cg {
            version: Version::V1,
            controllers: vec!["cpuset".into()],
            mount: d.path().to_path_buf(),
            rel: "p/c".into(),
            path: d.path().join("p/c"),
        };
        touch(&d.path().join("p/c"), &["cpuset.cpus", "cpuset.mems"]);
        std::fs::write(d.path().join("p/cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(d.path().join("p/cpuset.mems"), "0\n").unwrap();
        let root = open_dir(CWD, d.path()).unwrap();
        let leaf = open_dir(&root, Path::new("p/c")).unwrap();
        copy_cpuset(&root, &cg, "p/c", CgDir::new(leaf.as_fd(), &cg.path)).unwrap();
        assert_eq!(writes(d.path().join("p/c/cpuset.cpus")), ["0-1"]);
        assert_eq!(writes(d.path().join("p/c/cpuset.mems")), ["0"]);
    }
}
