// SPDX-License-Identifier: Apache-2.0
//! `exec`: a new process in a running container. main forks a joiner (plain fork) that
//! hardens itself, joins every namespace init has with one `setns(pidfd, flags)`, and forks
//! the process with `CLONE_PARENT` (so main is its parent and can wait for it; in the
//! container's pid namespace; born in the cgroup on v2). main puts it in the v1 cgroups,
//! then it runs the same final steps as init and execs. The joiner reports the pid and
//! exits.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{Process, Spec};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::process::{Pid, Signal, WaitOptions};
use rustix::thread::ThreadNameSpaceType;
use stockade_sys::clone::{self as cl, Forked};

use crate::channel::{self, Endpoint, Msg};
use crate::error::{self, Result, RuntimeError};
use crate::init::{self, FinalArgs, InitError, InitResult, IoStep, Step};
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

/// `CLONE_NEW*` flags of the namespaces in which `pid` differs from the caller.
pub fn differing_namespaces(proc: &ProcRoot, pid: i32) -> u64 {
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
            matches!((ino(pid, n), ino(me, n)), (Some(a), Some(b)) if a != b)
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
        let proc = ProcRoot::open(&self.proc_root).map_err(|source| RuntimeError::Proc {
            id: o.id.into(),
            source,
        })?;
        let j = Joiner {
            c: &c,
            spec: &spec,
            o,
            seccomp: seccomp.as_ref(),
            pidfd: pidfd.as_fd(),
            into: into.as_ref().map(AsFd::as_fd),
            proc: proc.as_fd(),
        };
        let joiner = match cl::fork_with(0, None) {
            Err(e) => return Err(error::io(o.id, "fork")(e)),
            Ok(Forked::Child) => {
                drop(main_end);
                j.run(&child_end)
            }
            Ok(Forked::Parent(p)) => p.pid,
        };
        drop(child_end);
        let (pid, master) = self.drive_exec(o, &c, &main_end, joiner)?;
        if let Some(p) = o.pid_file {
            crate::write_pid_file(p, pid.as_raw_nonzero().get())
                .map_err(error::io(o.id, format!("pid file {}", p.display())))?;
        }
        let Some(sigfd) = sigfd else { return Ok(0) };
        wait_foreground(o.id, pid, master, sigfd.as_fd())
    }

    /// main's side: cgroup join, console, wait for exec.
    fn drive_exec(
        &self,
        o: &ExecOptions<'_>,
        c: &Container,
        chan: &Endpoint,
        joiner: Pid,
    ) -> Result<(Pid, Option<OwnedFd>)> {
        let pid = match chan.recv() {
            Ok((Msg::Forked(raw), _)) => {
                wait::reap(joiner);
                Pid::from_raw(raw).ok_or_else(|| died(o.id, channel::ChannelError::Closed))?
            }
            Ok((Msg::Failed(source), _)) => {
                wait::reap(joiner);
                return Err(RuntimeError::Init {
                    id: o.id.into(),
                    source,
                });
            }
            Ok((m, _)) => {
                return Err(died(
                    o.id,
                    channel::ChannelError::Unexpected {
                        got: m.name(),
                        want: "forked",
                    },
                ));
            }
            Err(e) => {
                wait::reap(joiner);
                return Err(died(o.id, e));
            }
        };
        let kill = |e: RuntimeError| {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            wait::reap(pid);
            e
        };
        c.cgroup
            .add_pid(pid.as_raw_nonzero().get())
            .map_err(error::cg(o.id))
            .map_err(kill)?;
        if let Some(adj) = o.process.oom_score_adj() {
            let proc = ProcRoot::open(&self.proc_root)
                .map_err(|source| RuntimeError::Proc {
                    id: o.id.into(),
                    source,
                })
                .map_err(kill)?;
            proc.write(
                &format!("{}/oom_score_adj", pid.as_raw_nonzero().get()),
                adj.to_string().as_bytes(),
            )
            .map_err(|source| RuntimeError::Proc {
                id: o.id.into(),
                source,
            })
            .map_err(kill)?;
        }
        chan.send(&Msg::Joined, None)
            .map_err(|e| kill(died(o.id, e)))?;
        let mut master = None;
        loop {
            match chan.recv() {
                Ok((Msg::Console, fd)) => {
                    master =
                        console::hand_over(o.id, fd, o.console_socket, &o.process).map_err(kill)?;
                }
                Err(channel::ChannelError::Closed) => return Ok((pid, master)),
                Ok((Msg::Failed(source), _)) => {
                    wait::reap(pid);
                    return Err(RuntimeError::Init {
                        id: o.id.into(),
                        source,
                    });
                }
                Ok((m, _)) => {
                    return Err(kill(died(
                        o.id,
                        channel::ChannelError::Unexpected {
                            got: m.name(),
                            want: "exec",
                        },
                    )));
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

/// The joiner and the process it forks (both run in the forked child).
struct Joiner<'a> {
    c: &'a Container,
    spec: &'a Spec,
    o: &'a ExecOptions<'a>,
    seccomp: Option<&'a stockade_seccomp::CompiledFilter>,
    pidfd: BorrowedFd<'a>,
    into: Option<BorrowedFd<'a>>,
    proc: BorrowedFd<'a>,
}

impl Joiner<'_> {
    fn run(&self, chan: &Endpoint) -> ! {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.steps(chan)));
        let err = match res {
            Ok(Err(e)) => e,
            Ok(Ok(never)) => match never {},
            Err(_) => InitError::new(Step::Sync, "exec helper panicked"),
        };
        init::report_and_exit(chan, err)
    }

    fn steps(&self, chan: &Endpoint) -> InitResult<std::convert::Infallible> {
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .step(Step::Harden, "PR_SET_DUMPABLE")?;
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
            .step(Step::Harden, "PR_SET_PDEATHSIG")?;
        let mut keep = vec![chan.as_fd(), self.pidfd, self.proc];
        keep.extend(self.into);
        stockade_sys::fd::close_all_except(&keep, self.o.preserve_fds)
            .step(Step::Harden, "close fds")?;
        let flags = u32::try_from(self.c.rec.ns_flags).unwrap_or(0);
        rustix::thread::move_into_thread_name_spaces(
            self.pidfd,
            ThreadNameSpaceType::from_bits_retain(flags),
        )
        .step(Step::JoinNamespace, "setns(pidfd)")?;
        if self.c.rec.ns_flags & cl::NEWUSER != 0 {
            init::setup_become_root()?;
        }
        match cl::fork_with_proc(cl::PARENT, self.into, self.proc).step(Step::Fork, "")? {
            Forked::Parent(child) => {
                let _ = chan.send(&Msg::Forked(child.pid.as_raw_nonzero().get()), None);
                stockade_sys::misc::exit_now(0)
            }
            Forked::Child => self.process_steps(chan),
        }
    }

    fn process_steps(&self, chan: &Endpoint) -> InitResult<std::convert::Infallible> {
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
            .step(Step::Harden, "PR_SET_PDEATHSIG")?;
        match chan.next() {
            Ok(Msg::Joined) => {}
            _ => return Err(InitError::new(Step::Sync, "expected joined")),
        }
        let p = &self.o.process;
        let console = if p.terminal().unwrap_or(false) {
            Some(open_pty(chan)?)
        } else {
            None
        };
        let args = p.args().as_deref().unwrap_or_default();
        let arg0 = args
            .first()
            .ok_or_else(|| InitError::new(Step::Executable, "empty args"))?;
        let exe = init::find_executable(arg0, init::env(p))?;
        rustix::process::set_parent_process_death_signal(None)
            .step(Step::Harden, "PR_SET_PDEATHSIG")?;
        let f = FinalArgs {
            process: p,
            spec: self.spec,
            preserve_fds: self.o.preserve_fds,
            seccomp: self.seccomp,
            setsid: console.is_some(),
            console,
            chan: chan.as_fd(),
            rlimits_done: false,
            barrier: None,
        };
        init::final_steps(f, &exe)
    }
}

/// A pty from the container's `/dev/ptmx`; the master goes to main, the slave is returned.
fn open_pty(chan: &Endpoint) -> InitResult<OwnedFd> {
    let master = rustix::fs::open(
        "/dev/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .step(Step::Console, "/dev/ptmx")?;
    rustix::pty::unlockpt(&master).step(Step::Console, "unlockpt")?;
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY,
    )
    .step(Step::Console, "TIOCGPTPEER")?;
    chan.send(&Msg::Console, Some(master.as_fd()))
        .map_err(|e| InitError::chain(Step::Console, "", &e))?;
    Ok(slave)
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
