// SPDX-License-Identifier: Apache-2.0
//! Operations on an existing container: state, start, kill, delete, pause/resume, ps, list,
//! update, stats. The pid in `state.json` is trusted only when its start time still
//! matches, and signals go through a pidfd opened and then checked the same way.

use std::os::fd::OwnedFd;
use std::time::Duration;

use oci_spec::runtime::{LinuxResources, Spec};
use rustix::process::{Pid, PidfdFlags, Signal};
use stockade_cgroups::Manager;

use crate::error::{self, Result, RuntimeError};
use crate::hooks::{self, HookKind};
use crate::oci_state::{StateView, Status};
use crate::procfs::ProcRoot;
use crate::state::{ContainerDir, Record, StateError};
use crate::{Runtime, config, oci_state};

/// The listening socket `start` connects to; the container is `created` while it exists.
pub const START_SOCKET: &str = "start.sock";

/// A loaded container.
#[derive(Debug)]
pub struct Container {
    /// State directory.
    pub dir: ContainerDir,
    /// Recorded state.
    pub rec: Record,
    /// Its cgroup.
    pub cgroup: Manager,
}

impl Container {
    /// The saved config.
    pub fn spec(&self) -> Result<Spec> {
        let path = self.dir.file("config.json");
        let raw = config::read_bounded(&path)?;
        Ok(config::parse_spec(&path, &raw)?)
    }

    fn id(&self) -> &str {
        &self.rec.id
    }

    fn status_err(&self, status: Status, action: &'static str) -> RuntimeError {
        RuntimeError::Status {
            id: self.id().into(),
            status: status.to_string(),
            action,
        }
    }
}

impl Runtime {
    /// Loads a container's state.
    pub fn load(&self, id: &str) -> Result<Container> {
        let dir = self.root.open(id)?;
        let rec = dir.load()?;
        let st =
            serde_json::from_value(rec.cgroup.clone()).map_err(|source| StateError::Corrupt {
                path: dir.file("state.json"),
                source,
            })?;
        Ok(Container {
            dir,
            rec,
            cgroup: Manager::from_state(st),
        })
    }

    /// Whether init (pid + start time) is still alive (not a zombie).
    fn init_alive(&self, rec: &Record) -> bool {
        let Ok(proc) = ProcRoot::open(&self.proc_root) else {
            return false;
        };
        matches!(proc.stat(rec.pid), Ok((s, t)) if t == rec.start_time && s != 'Z' && s != 'X')
    }

    /// The container's status now.
    pub fn status(&self, c: &Container) -> Status {
        if !self.init_alive(&c.rec) {
            return Status::Stopped;
        }
        if c.dir.file(START_SOCKET).exists() {
            return Status::Created;
        }
        if c.cgroup.is_enabled() && c.cgroup.is_frozen().unwrap_or(false) {
            return Status::Paused;
        }
        Status::Running
    }

    /// A pidfd for init, checked against the recorded start time; None once it is gone.
    pub fn init_pidfd(&self, rec: &Record) -> Option<OwnedFd> {
        let pid = Pid::from_raw(rec.pid)?;
        let fd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()?;
        self.init_alive(rec).then_some(fd)
    }

    /// `state`.
    pub fn state(&self, id: &str) -> Result<StateView> {
        let c = self.load(id)?;
        Ok(StateView::new(&c.rec, self.status(&c)))
    }

    /// `list`: every container's state (unreadable ones are skipped with a warning).
    pub fn list(&self) -> Result<Vec<StateView>> {
        let mut out = Vec::new();
        for id in self.root.list()? {
            match self.load(&id) {
                Ok(c) => out.push(StateView::new(&c.rec, self.status(&c))),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        Ok(out)
    }

    /// `start`: releases init through the start socket, waits until the program runs (or
    /// reports init's failure), then runs poststart hooks.
    pub fn start(&self, id: &str) -> Result<()> {
        let c = self.load(id)?;
        c.dir.lock()?;
        let status = self.status(&c);
        if status != Status::Created {
            return Err(c.status_err(status, "start"));
        }
        let sock_path = c.dir.file(START_SOCKET);
        let mut conn = std::os::unix::net::UnixStream::connect(c.dir.socket_path(START_SOCKET))
            .map_err(|_| c.status_err(Status::Stopped, "start"))?;
        let mut first = [0u8; 1];
        match std::io::Read::read(&mut conn, &mut first) {
            Ok(1) => {}
            _ => return Err(c.status_err(Status::Stopped, "start")),
        }
        std::fs::remove_file(&sock_path).map_err(error::io(id, "remove start.sock"))?;
        if let Err(e) = wait_exec(id, &mut conn) {
            if hooks::failed_in_hook(&e) {
                // runtime.md#lifecycle: a failing startContainer hook stops the container and
                // continues at "destroyed" and poststop
                if let Err(d) = self.destroy(c) {
                    tracing::warn!("{d}");
                }
            }
            return Err(e);
        }
        let spec = c.spec()?;
        let state = oci_state::hook_state(&c.rec, Status::Running.oci());
        hooks::run_all_warn(
            HookKind::Poststart,
            hooks::list(&spec, HookKind::Poststart),
            &state,
        );
        Ok(())
    }

    /// `kill [--all] ID SIG`.
    pub fn kill(&self, id: &str, signo: i32, all: bool) -> Result<()> {
        let c = self.load(id)?;
        let not_running = || RuntimeError::NotRunning { id: id.into() };
        if self.status(&c) == Status::Stopped && !all {
            return Err(not_running());
        }
        if all && c.cgroup.is_enabled() {
            return c.cgroup.kill_all(signo).map_err(error::cg(id));
        }
        let pidfd = self.init_pidfd(&c.rec).ok_or_else(not_running)?;
        stockade_sys::signal::pidfd_send(&pidfd, signo).map_err(error::io(id, "kill"))
    }

    /// `delete [--force]`: a running container needs `force` (it is killed); removes the
    /// cgroup, runs poststop hooks and removes the state. `force` on an unknown id is fine.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let c = match self.load(id) {
            Err(RuntimeError::State(StateError::NotFound(_))) if force => {
                if let Ok(dir) = self.root.open(id) {
                    dir.remove()?; // a create that died before writing state
                }
                return Ok(());
            }
            other => other?,
        };
        c.dir.lock()?;
        let status = self.status(&c);
        // runtime.md#delete: deleting a container that is not stopped MUST fail (a created
        // one too: runc deletes it, engines pass --force)
        if status != Status::Stopped && !force {
            return Err(c.status_err(status, "delete without --force"));
        }
        self.destroy(c)
    }

    /// Kills everything, removes the cgroup, runs poststop hooks, removes the state.
    fn destroy(&self, c: Container) -> Result<()> {
        let id = c.rec.id.clone();
        let id = id.as_str();
        self.stop_all(&c);
        crate::wait::destroy_cgroup(&c.cgroup).map_err(error::cg(id))?;
        if let Ok(spec) = c.spec() {
            let state = oci_state::hook_state(&c.rec, Status::Stopped.oci());
            hooks::run_all_warn(
                HookKind::Poststop,
                hooks::list(&spec, HookKind::Poststop),
                &state,
            );
        }
        c.dir.remove()?;
        Ok(())
    }

    /// Kills init and everything in the cgroup, thaws a frozen cgroup, waits for init.
    fn stop_all(&self, c: &Container) {
        let pidfd = self.init_pidfd(&c.rec);
        if c.cgroup.is_enabled() {
            let _ = c.cgroup.kill_all(libc::SIGKILL);
            let _ = c.cgroup.thaw();
        }
        if let Some(fd) = pidfd {
            let _ = rustix::process::pidfd_send_signal(&fd, Signal::KILL);
            if !crate::wait::pidfd_exited(&fd, Duration::from_secs(10)) {
                tracing::warn!("container {}: init did not exit after SIGKILL", c.rec.id);
            }
        }
    }

    /// `pause` (freezer).
    pub fn pause(&self, id: &str) -> Result<()> {
        let c = self.load(id)?;
        let status = self.status(&c);
        if status != Status::Running {
            return Err(c.status_err(status, "pause"));
        }
        c.cgroup.freeze().map_err(error::cg(id))
    }

    /// `resume`.
    pub fn resume(&self, id: &str) -> Result<()> {
        let c = self.load(id)?;
        let status = self.status(&c);
        if status != Status::Paused {
            return Err(c.status_err(status, "resume"));
        }
        c.cgroup.thaw().map_err(error::cg(id))
    }

    /// `ps`: pids in the container's cgroup (init alone without a cgroup).
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let c = self.load(id)?;
        if !c.cgroup.is_enabled() {
            return Ok(if self.init_alive(&c.rec) {
                vec![c.rec.pid]
            } else {
                Vec::new()
            });
        }
        c.cgroup.pids().map_err(error::cg(id))
    }

    /// `update`: changes limits of a live container.
    pub fn update(&self, id: &str, res: &LinuxResources) -> Result<()> {
        let c = self.load(id)?;
        let status = self.status(&c);
        if status == Status::Stopped {
            return Err(c.status_err(status, "update"));
        }
        for w in c.cgroup.update(res).map_err(error::cg(id))? {
            tracing::warn!("container {id}: {w}");
        }
        Ok(())
    }

    /// `events --stats`: the cgroup statistics as JSON.
    pub fn stats(&self, id: &str) -> Result<serde_json::Value> {
        let c = self.load(id)?;
        let st = c.cgroup.stats().map_err(error::cg(id))?;
        Ok(serde_json::to_value(st).unwrap_or_default())
    }
}

/// After the start byte: init keeps the connection open until its `execve` closes it;
/// bytes before the end of file are init's failure report (JSON `InitError`).
fn wait_exec(id: &str, conn: &mut std::os::unix::net::UnixStream) -> Result<()> {
    let mut report = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(conn, &mut report)
        && e.kind() != std::io::ErrorKind::ConnectionReset
    {
        return Err(error::io(id, "read start.sock")(e));
    }
    if report.is_empty() {
        return Ok(());
    }
    let source = serde_json::from_slice(&report).unwrap_or_else(|_| {
        crate::init::InitError::new(crate::init::Step::Exec, String::from_utf8_lossy(&report))
    });
    Err(RuntimeError::Init {
        id: id.into(),
        source,
    })
}
