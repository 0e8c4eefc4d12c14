// SPDX-License-Identifier: Apache-2.0
//! Leak snapshots: what a test can leave on the host (mounts, cgroups, loop devices, network
//! namespaces and links, processes, state entries, our own descriptors), restricted to a
//! scope so that concurrent tests and other users of the machine do not show up as leaks.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// What belongs to the test: path prefixes (bundles, runtime root) and name prefixes
/// (cgroups, netns, links).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    paths: Vec<String>,
    names: Vec<String>,
    state_root: Option<PathBuf>,
}

impl Scope {
    /// An empty scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a path prefix (mount points, loop backing files, process roots, fd targets).
    pub fn path(mut self, p: &Path) -> Self {
        self.paths.push(p.to_string_lossy().into_owned());
        self
    }

    /// Adds a name prefix (cgroup directories, /run/netns entries, network links).
    pub fn name(mut self, n: &str) -> Self {
        self.names.push(n.to_string());
        self
    }

    /// The runtime state root whose entries are listed.
    pub fn state_root(mut self, p: &Path) -> Self {
        self.state_root = Some(p.to_path_buf());
        self.paths.push(p.to_string_lossy().into_owned());
        self
    }

    fn has_path(&self, s: &str) -> bool {
        self.paths.iter().any(|p| s.contains(p.as_str()))
    }

    fn has_name(&self, s: &str) -> bool {
        self.names.iter().any(|n| s.starts_with(n.as_str()))
    }
}

/// One snapshot: a set of `kind: item` strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(pub BTreeSet<String>);

fn walk_cgroups(dir: &Path, depth: u32, scope: &Scope, out: &mut BTreeSet<String>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_dir() || p.is_symlink() {
            continue;
        }
        if scope.has_name(&e.file_name().to_string_lossy()) {
            out.insert(format!("cgroup: {}", p.display()));
        }
        if depth > 0 {
            walk_cgroups(&p, depth - 1, scope, out);
        }
    }
}

impl Snapshot {
    /// Takes a snapshot of everything in `scope`.
    pub fn take(scope: &Scope) -> Self {
        let mut s = BTreeSet::new();
        for l in fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
        {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() > 4 && (scope.has_path(f[4]) || scope.has_path(f[3])) {
                s.insert(format!("mount: {} (root {})", f[4], f[3]));
            }
        }
        walk_cgroups(Path::new("/sys/fs/cgroup"), 3, scope, &mut s);
        for e in fs::read_dir("/sys/block").into_iter().flatten().flatten() {
            let bf = fs::read_to_string(e.path().join("loop/backing_file")).unwrap_or_default();
            if !bf.is_empty() && scope.has_path(&bf) {
                s.insert(format!(
                    "loop: {} -> {}",
                    e.file_name().to_string_lossy(),
                    bf.trim()
                ));
            }
        }
        for dir in ["/run/netns", "/sys/class/net"] {
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if scope.has_name(&n) {
                    s.insert(format!("net: {dir}/{n}"));
                }
            }
        }
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let root = fs::read_link(e.path().join("root"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie_child = stat.rsplit_once(')').is_some_and(|(_, r)| {
                let f: Vec<&str> = r.split_whitespace().collect();
                f.first() == Some(&"Z")
                    && f.get(1) == Some(&std::process::id().to_string().as_str())
            });
            // a zombie child of this process is usually a command another test thread is
            // about to wait for: it counts only if it is still unreaped a moment later
            if scope.has_path(&root) || (zombie_child && still_zombie(&e.path(), &stat)) {
                let comm = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
                s.insert(format!(
                    "process: {pid} {} root={root}{}",
                    comm.trim(),
                    if zombie_child { " (zombie)" } else { "" }
                ));
            }
        }
        for e in fs::read_dir("/proc/self/fd")
            .into_iter()
            .flatten()
            .flatten()
        {
            let t = fs::read_link(e.path())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if scope.has_path(&t) {
                s.insert(format!("fd: {t}"));
            }
        }
        if let Some(root) = &scope.state_root {
            for e in fs::read_dir(root).into_iter().flatten().flatten() {
                s.insert(format!("state: {}", e.path().display()));
            }
        }
        Self(s)
    }

    /// Items present in `after` but not in `self`.
    pub fn added(&self, after: &Snapshot) -> Vec<String> {
        after.0.difference(&self.0).cloned().collect()
    }
}

/// `/proc/<pid>` still shows the same unreaped process (same stat line) after 500 ms.
fn still_zombie(proc_dir: &Path, stat: &str) -> bool {
    std::thread::sleep(std::time::Duration::from_millis(500));
    fs::read_to_string(proc_dir.join("stat")).is_ok_and(|now| now == stat)
}

/// Number of open descriptors of this process.
pub fn fd_count() -> usize {
    fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
