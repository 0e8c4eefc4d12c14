// SPDX-License-Identifier: Apache-2.0
//! Starting the container from inside the session with `stockade-runtime`'s own init: the
//! same clone, rootfs assembly (in-root resolution, detached mounts, pivot_root), fd
//! sweep, credential drop, `no_new_privs` and `execve` as `stockade-oci` — only main's
//! side is ours, because a session run has nothing else for main to do: no cgroup (the
//! run is a process of the user, like Apptainer's), no hooks, no state directory, no user
//! namespace to map (the session already is one).
//!
//! `Runtime::run` cannot be used yet: it refuses a non-root caller whose spec creates no
//! user namespace, and it always creates a cgroup (see the report's runtime wish list).
//! Once it takes a "session" launch, this file reduces to one call.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rustix::process::{Pid, PidfdFlags, WaitOptions};
use stockade_runtime::channel::{self, ChannelError, Msg};
use stockade_runtime::init::{self, InitArgs};
use stockade_runtime::plan::NsPlan;
use stockade_sys::clone::{self as cl, Forked};

/// Runs the container of `bundle` (its `config.json` is `config`) in the foreground;
/// `started` learns init's pid before the program is released. `userns`: main is in a
/// user namespace (devices are bound from the host, not created). Returns the exit status.
pub fn run(
    id: &str,
    bundle: &Path,
    config: &[u8],
    userns: bool,
    started: &mut dyn FnMut(Pid),
) -> Result<i32> {
    let spec = stockade_runtime::config::parse_spec(&bundle.join("config.json"), config)?;
    let rootfs = spec
        .root()
        .as_ref()
        .map(|r| PathBuf::from(r.path()))
        .context("root is missing")?;
    let ns = NsPlan::from_spec(&spec);
    let process = spec.process().clone().unwrap_or_default();
    let view = stockade_mount::CgroupView::None;
    let args = InitArgs {
        spec: &spec,
        process: &process,
        bundle,
        rootfs: &rootfs,
        ns: &ns,
        rootless: userns,
        no_pivot: false,
        preserve_fds: 0,
        cgroup_view: &view,
        seccomp: None,
        start_listener: None,
        // fast path only (no namespace joined by path): init needs no host procfs handle
        proc_root: None,
        create_hooks: false,
        cgroup_tasks: &[],
        late_cgroupns: false,
        cgroup_join_deferred: false,
        unprivileged_main: !rustix::process::geteuid().is_root(),
    };
    // blocked before the clone so none is lost; init resets its mask before execve
    let sigfd = stockade_sys::signal::block_into_signalfd(stockade_sys::signal::FORWARDED)
        .context("signalfd")?;
    let (main_end, init_end) = channel::pair()?;
    let child = match cl::fork_with(ns.new_flags, None).context("cannot clone the container")? {
        Forked::Child => {
            drop(main_end);
            init::run(&args, &init_end)
        }
        Forked::Parent(c) => c,
    };
    drop(init_end);
    let pid = child.pid;
    let pidfd = match child.pidfd {
        Some(fd) => fd,
        None => rustix::process::pidfd_open(pid, PidfdFlags::empty()).context("pidfd_open")?,
    };
    let mut kill = KillOnDrop {
        pidfd: &pidfd,
        pid,
        armed: true,
    };
    let console = until_ready(id, &main_end, pid)?;
    started(pid);
    main_end.send(
        &Msg::Proceed {
            state: "{}".into(),
            wait_start: false,
        },
        None,
    )?;
    match main_end.recv() {
        Err(ChannelError::Closed) => {}
        Ok((Msg::Failed(e), _)) => return Err(died(pid, anyhow!(e))),
        Ok((other, _)) => bail!("container init sent {} instead of starting", other.name()),
        Err(e) => return Err(died(pid, e.into())),
    }
    kill.armed = false;
    stockade_runtime::run::proxy_until_exit(id, &pidfd, console.as_ref(), sigfd.as_fd())?;
    let st = rustix::process::waitpid(Some(pid), WaitOptions::empty()).context("wait")?;
    Ok(st
        .map(|(_, s)| stockade_runtime::wait::exit_code(s))
        .unwrap_or(255))
}

/// Serves init until it is ready; returns the console master it sent, if any.
fn until_ready(
    id: &str,
    chan: &channel::Endpoint,
    pid: Pid,
) -> Result<Option<std::os::fd::OwnedFd>> {
    // init may already have failed (its report is queued for us): read it rather than
    // reporting the broken pipe
    let _ = chan.send(&Msg::Joined, None);
    let mut console = None;
    loop {
        let (msg, fd) = chan.recv().map_err(|e| died(pid, e.into()))?;
        match msg {
            Msg::Console => console = fd,
            Msg::Ready => return Ok(console),
            Msg::Failed(e) => return Err(died(pid, anyhow!(e))),
            other => bail!("container {id}: init sent {} before ready", other.name()),
        }
    }
}

/// The error of a failed init, after reaping it.
fn died(pid: Pid, e: anyhow::Error) -> anyhow::Error {
    let status = stockade_runtime::wait::reap_status(pid).unwrap_or_else(|| "failed".into());
    e.context(format!("container init {status}"))
}

/// SIGKILLs (through its pidfd: never a reused pid) and reaps init unless disarmed.
struct KillOnDrop<'a> {
    pidfd: &'a std::os::fd::OwnedFd,
    pid: Pid,
    armed: bool,
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = stockade_sys::signal::pidfd_send(self.pidfd, libc_sigkill());
            let _ = rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG);
        }
    }
}

const fn libc_sigkill() -> i32 {
    rustix::process::Signal::KILL.as_raw()
}
