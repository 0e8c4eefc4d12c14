// SPDX-License-Identifier: Apache-2.0
//! Drop guards: whatever a test made is undone even when it panics.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bundle::CGROUP_PREFIX;
use crate::runtime::{Opts, Runtime};

/// Force-deletes a container when dropped: `kill KILL`, `delete -f`, then removes the e2e
/// cgroup directories of that id from every hierarchy (killing stragglers first).
#[derive(Debug)]
pub struct ContainerGuard<'a> {
    rt: &'a Runtime,
    id: String,
}

impl<'a> ContainerGuard<'a> {
    /// Guards container `id` of runtime `rt`.
    pub fn new(rt: &'a Runtime, id: &str) -> Self {
        Self {
            rt,
            id: id.to_string(),
        }
    }
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        // runc, crun and stockade-oci all keep a container's state in `<root>/<id>`: when
        // that is gone (a foreground `run` that ended, a deleted container) there is nothing
        // for `kill`/`delete` to do, and the two runtime calls are most of a race loop's cost
        let known = self.rt.root().join(&self.id).exists() || !self.rt.root().exists();
        if known {
            let o = Opts {
                timeout: Some(Duration::from_secs(20)),
                ..Opts::default()
            };
            let _ = self.rt.cmd_opts(&["kill", &self.id, "KILL"], &o);
            let _ = self.rt.cmd_opts(&["delete", "-f", &self.id], &o);
        }
        remove_cgroups(&format!("{CGROUP_PREFIX}{}", self.id));
    }
}

/// Every directory named `name` directly under a cgroup hierarchy root.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let Ok(h) = fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = h
        .flatten()
        .map(|e| e.path().join(name))
        .filter(|p| p.is_dir())
        .collect();
    if Path::new("/sys/fs/cgroup")
        .join(name)
        .join("cgroup.procs")
        .exists()
    {
        v.push(Path::new("/sys/fs/cgroup").join(name)); // pure cgroup v2 host
    }
    v
}

/// Kills the processes of, then removes, cgroup `name` in every hierarchy.
pub fn remove_cgroups(name: &str) {
    for dir in cgroup_dirs(name) {
        for _ in 0..50 {
            for pid in fs::read_to_string(dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
            {
                if let Some(p) = pid
                    .trim()
                    .parse::<i32>()
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
            }
            let _ = fs::write(dir.join("freezer.state"), "THAWED");
            if fs::remove_dir(&dir).is_ok() || !dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Lazily unmounts a path when dropped.
#[derive(Debug)]
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}

/// Runs a closure when dropped (for one-off cleanups: `ip netns del`, `userdel`, ...).
pub struct Defer<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

impl<F: FnMut()> std::fmt::Debug for Defer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Defer")
    }
}
