// SPDX-License-Identifier: Apache-2.0
//! `exec`: a new process in a running container, main's side. main forks a helper born in
//! the container's v2 cgroup (`exec_helper`): invisible to the container (it stays in the
//! host pid namespace), it joins the v1 cgroups and every namespace init has, does all the
//! privileged setup of the process, and only then forks the process itself with
//! `CLONE_PARENT` (main is its parent and waits for it). That process appears in the
//! container holding the final credentials, the seccomp filter, the container's cgroups and
//! root and no host descriptor; it only sets its controlling terminal and execs.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::Process;
use rustix::fs::AtFlags;
use rustix::process::{Pid, Signal, WaitOptions};
use stockade_sys::clone::{self as cl, Forked};

use crate::channel::{self, Endpoint, Msg};
use crate::error::{self, Result, RuntimeError};
use crate::exec_helper::Helper;
use crate::oci_state::Status;
use crate::ops::Container;
use crate::plan::{ALL_NS, ns_name};
use crate::procfs::ProcRoot;
use crate::{Runtime, console, wait};

/// Options of `exec`.
#[derive(Debug, Clone)]
pub struct ExecOptions<'a> {
    /// Container id.
    pub id: &'a str,
    /// The process (built by the caller from `--process` or the flags).
    pub process: Process,
    /// Return once it runs (`-d`).
    pub detach: bool,
    /// Where to write its pid.
    pub pid_file: Option<&'a Path>,
    /// Console socket for `terminal: true`.
    pub console_socket: Option<&'a Path>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
}

/// `CLONE_NEW*` flags of the namespaces in which `pid` differs from the caller. Where
/// `pid`'s namespace cannot be inspected (an unprivileged main may not look at a
/// non-dumpable init's `ns/`), the config's plan decides (`planned`: the namespaces the
/// container created or joined).
pub fn differing_namespaces(proc: &ProcRoot, pid: i32, planned: u64) -> u64 {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let ino = |p: i32, name: &str| {
        rustix::fs::statat(proc.as_fd(), format!("{p}/ns/{name}"), AtFlags::empty())
            .ok()
            .map(|s| (s.st_dev, s.st_ino))
    };
    ALL_NS
        .iter()
        .filter(|f| {
            let n = ns_name(**f);
            match (ino(pid, n), ino(me, n)) {
                (Some(a), Some(b)) => a != b,
                _ => planned & **f != 0,
            }
        })
        .fold(0, |acc, f| acc | f)
}

impl Runtime {
    /// Runs a process in the container; returns its exit code (0 when detached).
    pub fn exec(&self, o: &ExecOptions<'_>) -> Result<i32> {
        let c = self.load(o.id)?;
        let status = self.status(&c);
        if !matches!(status, Status::Created | Status::Running) {
            return Err(RuntimeError::Status {
                id: o.id.into(),
                status: status.to_string(),
                action: "exec",
            });
        }
        let terminal = o.process.terminal().unwrap_or(false);
        if terminal && o.detach && o.console_socket.is_none() {
            return Err(RuntimeError::Request {
                id: o.id.into(),
                reason: "terminal needs --console-socket when detached".into(),
            });
        }
        let spec = c.spec()?;
        let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            Some(s) => {
                Some(
                    stockade_seccomp::compile(s).map_err(|source| RuntimeError::Seccomp {
                        id: o.id.into(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let pidfd = self
            .init_pidfd(&c.rec)
            .ok_or_else(|| RuntimeError::Status {
                id: o.id.into(),
                status: "stopped".into(),
                action: "exec",
            })?;
        let sigfd = if o.detach {
            None
        } else {
            Some(
                stockade_sys::signal::block_into_signalfd(stockade_sys::signal::FORWARDED)
                    .map_err(error::io(o.id, "signalfd"))?,
            )
        };
        let (main_end, child_end) = channel::pair().map_err(|e| died(o.id, e))?;
        let into = c.cgroup.clone_into_fd();
        let tasks = crate::create::v1_tasks_files(o.id, &c.cgroup)?;
        let proc = ProcRoot::open(&self.proc_root).map_err(|source| RuntimeError::Proc {
            id: o.id.into(),
            source,
        })?;
        let h = Helper {
            c: &c,
            spec: &spec,
            o,
            seccomp: seccomp.as_ref(),
            pidfd: pidfd.as_fd(),
            proc: &proc,
            cgroup_tasks: &tasks,
        };
        let helper = match cl::fork_with(0, into.as_ref().map(AsFd::as_fd)) {
            Err(e) => return Err(error::io(o.id, "fork")(e)),
            Ok(Forked::Child) => {
                drop(main_end);
                h.run(&child_end)
            }
            Ok(Forked::Parent(p)) => p,
        };
        drop((child_end, tasks, into));
        let (pid, master) = self.drive_exec(o, &c, &proc, &main_end, helper)?;
        if let Some(p) = o.pid_file {
            crate::write_pid_file(p, pid.as_raw_nonzero().get())
                .map_err(error::io(o.id, format!("pid file {}", p.display())))?;
        }
        let Some(sigfd) = sigfd else { return Ok(0) };
        wait_foreground(o.id, pid, master, sigfd.as_fd())
    }

    /// main's side: the helper's cgroup (when it was not born in it) and oom_score_adj
    /// (inherited by the process), then the console and the process's pid until it execs.
    fn drive_exec(
        &self,
        o: &ExecOptions<'_>,
        c: &Container,
        proc: &ProcRoot,
        chan: &Endpoint,
        helper: cl::Child,
    ) -> Result<(Pid, Option<OwnedFd>)> {
        let hpid = helper.pid;
        let kill = |e: RuntimeError| {
            let _ = rustix::process::kill_process(hpid, Signal::KILL);
            wait::reap(hpid);
            e
        };
        let raw = hpid.as_raw_nonzero().get();
        if !helper.in_cgroup && c.cgroup.clone_into_fd().is_some() {
            c.cgroup
                .add_pid(raw)
                .map_err(error::cg(o.id))
                .map_err(kill)?;
        }
        if let Some(adj) = o.process.oom_score_adj() {
            proc.write(&format!("{raw}/oom_score_adj"), adj.to_string().as_bytes())
                .map_err(|source| RuntimeError::Proc {
                    id: o.id.into(),
                    source,
                })
                .map_err(kill)?;
        }
        chan.send(&Msg::Joined, None)
            .map_err(|e| kill(died(o.id, e)))?;
        let mut pid = None;
        let mut master = None;
        loop {
            match chan.recv() {
                Ok((Msg::Console, fd)) => {
                    master =
                        console::hand_over(o.id, fd, o.console_socket, &o.process).map_err(kill)?;
                }
                Ok((Msg::Forked(raw), _)) => {
                    wait::reap(hpid);
                    pid = Some(
                        Pid::from_raw(raw)
                            .ok_or_else(|| died(o.id, channel::ChannelError::Closed))?,
                    );
                }
                Err(channel::ChannelError::Closed) => {
                    return match pid {
                        Some(p) => Ok((p, master)),
                        None => {
                            wait::reap(hpid);
                            Err(died(o.id, channel::ChannelError::Closed))
                        }
                    };
                }
                Ok((Msg::Failed(source), _)) => {
                    wait::reap(pid.unwrap_or(hpid));
                    return Err(RuntimeError::Init {
                        id: o.id.into(),
                        source,
                    });
                }
                Ok((m, _)) => {
                    let e = died(
                        o.id,
                        channel::ChannelError::Unexpected {
                            got: m.name(),
                            want: "exec",
                        },
                    );
                    if let Some(p) = pid {
                        let _ = rustix::process::kill_process(p, Signal::KILL);
                        wait::reap(p);
                    }
                    return Err(kill(e));
                }
                Err(e) => return Err(kill(died(o.id, e))),
            }
        }
    }
}

fn died(id: &str, source: channel::ChannelError) -> RuntimeError {
    RuntimeError::InitDied {
        id: id.into(),
        status: "exec helper failed".into(),
        source,
    }
}

/// Foreground exec: forward signals until the process exits; its exit code.
fn wait_foreground(
    id: &str,
    pid: Pid,
    master: Option<OwnedFd>,
    sigfd: BorrowedFd<'_>,
) -> Result<i32> {
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| error::io(id, "pidfd_open")(e.into()))?;
    crate::run::proxy_until_exit(id, &pidfd, master.as_ref(), sigfd)?;
    let st = rustix::process::waitpid(Some(pid), WaitOptions::empty())
        .map_err(|e| error::io(id, "wait")(e.into()))?;
    Ok(st.map(|(_, s)| wait::exit_code(s)).unwrap_or(255))
}
