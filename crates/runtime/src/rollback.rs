// SPDX-License-Identifier: Apache-2.0
//! Undo of a failed `create`: kill and reap init, remove the cgroup, remove the state
//! directory, so a failed create leaves nothing behind.

use rustix::process::{Pid, Signal};
use stockade_cgroups::{Manager, ManagerState};

use crate::state::ContainerDir;

/// What a create made so far.
#[derive(Debug)]
pub struct Rollback {
    dir: Option<ContainerDir>,
    cgroup: Option<ManagerState>,
    child: Option<Pid>,
    armed: bool,
}

impl Rollback {
    /// Starts with the (new) state directory.
    pub fn new(dir: ContainerDir) -> Rollback {
        Rollback {
            dir: Some(dir),
            cgroup: None,
            child: None,
            armed: true,
        }
    }

    /// The state directory.
    ///
    /// # Panics
    /// After [`Rollback::take_dir`] (a programming error).
    pub fn dir(&self) -> &ContainerDir {
        self.dir
            .as_ref()
            .expect("state dir is taken only at the very end")
    }

    /// Records the created cgroup.
    pub fn set_cgroup(&mut self, m: &Manager) {
        self.cgroup = Some(m.to_state());
    }

    /// Records init (or the intermediate, replaced once init is forked).
    pub fn set_child(&mut self, pid: Pid) {
        self.child = Some(pid);
    }

    /// Success: nothing to undo.
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    /// Hands the state directory to the caller.
    ///
    /// # Panics
    /// When called twice (a programming error).
    pub fn take_dir(&mut self) -> ContainerDir {
        self.dir.take().expect("state dir is taken once")
    }

    /// Undoes everything recorded.
    pub fn run(&mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        if let Some(pid) = self.child.take() {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            crate::wait::reap(pid);
        }
        if let Some(st) = self.cgroup.take()
            && let Err(e) = crate::wait::destroy_cgroup(&Manager::from_state(st))
        {
            tracing::warn!("rollback: {e}");
        }
        if let Some(dir) = self.dir.take()
            && let Err(e) = dir.remove()
        {
            tracing::warn!("rollback: {e}");
        }
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        self.run();
    }
}
