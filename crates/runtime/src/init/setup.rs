// SPDX-License-Identifier: Apache-2.0
//! Init steps up to "ready": hardening, the slow-path namespaces, becoming root in a new
//! user namespace, hostname, rootfs assembly (stockade-mount), console, createContainer
//! hooks, and the steps after pivot_root.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use oci_spec::runtime::Spec;
use rustix::fs::{Mode, OFlags};
use rustix::process::{Gid, Signal, Uid};
use rustix::thread::LinkNameSpaceType;
use stockade_mount::{PivotedRootfs, PreparedRootfs, RootfsConfig};
use stockade_sys::clone::{self as cl, Forked};

use super::error::{InitError, InitResult, IoStep, Step};
use super::{InitArgs, target};
use crate::channel::{Endpoint, Msg};
use crate::hooks::{self, HookKind};
use crate::procfs::ProcRoot;

/// Non-dumpable first (CVE-2016-9962), killed with main until start, and every descriptor
/// but stdio, `--preserve-fds`, the channel and the start socket closed (and, on the slow
/// path only, the procfs handle).
///
/// Rootless with a new user namespace, main (not root) must open init's `uid_map`, which
/// procfs gives to root once init is non-dumpable: init then turns non-dumpable right
/// after its maps are written ([`Sync::wait_joined`] / the slow path), before anything
/// else happens; no container process exists yet in that window.
pub fn harden(a: &InitArgs<'_>, chan: &Endpoint) -> InitResult<()> {
    if !maps_by_unprivileged_main(a) {
        set_nondumpable()?;
    }
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .step(Step::Harden, "PR_SET_PDEATHSIG")?;
    join_cgroup(a)?;
    let mut keep = vec![chan.as_fd()];
    keep.extend(a.start_listener);
    keep.extend(a.proc_root.map(ProcRoot::as_fd));
    stockade_sys::fd::close_all_except(&keep, a.preserve_fds).step(Step::Harden, "close fds")
}

/// Moves init into the container's v1 cgroups (it is born in the v2 one), then creates
/// its cgroup namespace when that was left out of the clone. The intermediate of the slow
/// path does this too; its child inherits both.
fn join_cgroup(a: &InitArgs<'_>) -> InitResult<()> {
    if a.cgroup_join_deferred {
        return Ok(()); // on `Joined` (Sync::recv)
    }
    join_tasks(a.cgroup_tasks, a.late_cgroupns && !a.ns.needs_second_fork())
}

/// Writes `0` into each v1 `tasks` file, then unshares the cgroup namespace if asked.
fn join_tasks(tasks: &[OwnedFd], unshare_cgroupns: bool) -> InitResult<()> {
    for fd in tasks {
        rustix::io::write(fd, b"0").step(Step::Harden, "join cgroup")?;
    }
    if unshare_cgroupns {
        stockade_sys::misc::unshare(cl::NEWCGROUP).step(Step::Unshare, "cgroup namespace")?;
    }
    Ok(())
}

/// main (not init: see [`InitArgs::unprivileged_main`]) writes the maps without root.
fn maps_by_unprivileged_main(a: &InitArgs<'_>) -> bool {
    a.unprivileged_main && a.ns.new_user()
}

/// `PR_SET_DUMPABLE 0`.
pub fn set_nondumpable() -> InitResult<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .step(Step::Harden, "PR_SET_DUMPABLE")
}

/// init's view of the channel: remembers `Joined` whenever it arrives, and joins the v1
/// cgroups whose `tasks` files come with it ([`InitArgs::cgroup_join_deferred`]).
#[derive(Debug)]
pub struct Sync<'c> {
    chan: &'c Endpoint,
    joined: bool,
    /// `Some(unshare the cgroup namespace after joining)` when the `tasks` files come
    /// with `Joined`.
    join_on_joined: Option<bool>,
    /// `start`'s connection, kept open (close-on-exec) until `execve`:
    /// `start` waits for its end of file, so it returns once the program runs, and reads
    /// a failure report written here instead.
    barrier: Option<OwnedFd>,
}

impl<'c> Sync<'c> {
    /// Wraps init's end.
    pub fn new(chan: &'c Endpoint, a: &InitArgs<'_>) -> Sync<'c> {
        Sync {
            chan,
            joined: false,
            join_on_joined: a.cgroup_join_deferred.then_some(a.late_cgroupns),
            barrier: None,
        }
    }

    /// The exec barrier (see the field), if `start` released init.
    pub fn barrier(&self) -> Option<BorrowedFd<'_>> {
        self.barrier.as_ref().map(AsFd::as_fd)
    }

    /// Writes a failure after `start` to its connection, where `start` reads it.
    pub fn report_to_start(&self, err: &InitError) {
        if let (Some(fd), Ok(text)) = (&self.barrier, serde_json::to_vec(err)) {
            let _ = rustix::io::write(fd, &text);
        }
    }

    /// Receives the next message other than `Joined` (or `Joined` itself when that is
    /// what the step waits for).
    fn recv(&mut self, want: &'static str) -> InitResult<Msg> {
        loop {
            let (msg, fds) = self
                .chan
                .recv_fds()
                .map_err(|e| InitError::chain(Step::Sync, want, &e))?;
            match msg {
                Msg::Joined => {
                    if let Some(unshare) = self.join_on_joined.take() {
                        join_tasks(&fds, unshare)?;
                    }
                    drop(fds);
                    self.joined = true;
                    if want == "joined" {
                        return Ok(Msg::Joined);
                    }
                }
                Msg::Failed(e) => return Err(e),
                other => return Ok(other),
            }
        }
    }

    /// Waits until main put init in its cgroup (and wrote id maps of a clone-time userns).
    pub fn wait_joined(&mut self) -> InitResult<()> {
        if !self.joined {
            let msg = self.recv("joined")?;
            if !self.joined {
                return Err(InitError::new(
                    Step::Sync,
                    format!("got {} for joined", msg.name()),
                ));
            }
        }
        Ok(())
    }

    /// Sends `msg` and waits for the answer `want`.
    fn ask(&mut self, msg: &Msg, want: &'static str) -> InitResult<Msg> {
        self.chan
            .send(msg, None)
            .map_err(|e| InitError::chain(Step::Sync, want, &e))?;
        let got = self.recv(want)?;
        if got.name() != want {
            return Err(InitError::new(
                Step::Sync,
                format!("got {} for {want}", got.name()),
            ));
        }
        Ok(got)
    }

    /// Waits for `Proceed`; clears the parent-death signal; with `wait_start`, acknowledges
    /// (main may exit) and blocks until `start`. Returns the state JSON for hooks.
    pub fn wait_proceed(&mut self, a: &InitArgs<'_>, _prior: Option<String>) -> InitResult<String> {
        let Msg::Proceed { state, wait_start } = self.recv("proceed")? else {
            return Err(InitError::new(Step::Sync, "expected proceed"));
        };
        rustix::process::set_parent_process_death_signal(None)
            .step(Step::Harden, "PR_SET_PDEATHSIG")?;
        if wait_start {
            self.chan
                .send(&Msg::Detached, None)
                .map_err(|e| InitError::chain(Step::Sync, "", &e))?;
            self.barrier = accept_start(a)?;
        }
        Ok(state)
    }
}

/// Blocks until `start` connects to the start socket, then writes one byte. The
/// connection stays open (close-on-exec) as the exec barrier.
fn accept_start(a: &InitArgs<'_>) -> InitResult<Option<OwnedFd>> {
    let Some(listener) = a.start_listener else {
        return Ok(None);
    };
    let conn = loop {
        match rustix::net::accept_with(listener, rustix::net::SocketFlags::CLOEXEC) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other.step(Step::StartWait, "accept start")?,
        }
    };
    rustix::io::write(&conn, b"0").step(Step::StartWait, "start socket")?;
    Ok(Some(conn))
}

/// Slow path: join namespaces by path (user first), unshare the new ones, write time
/// offsets, wait for the cgroup join, and fork the real init (`CLONE_PARENT`, so main is
/// its parent); the intermediate reports the pid and exits.
pub fn slow_namespaces(a: &InitArgs<'_>, sync: &mut Sync<'_>) -> InitResult<()> {
    for (flag, path) in &a.ns.joins {
        let what = path.display().to_string();
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .step(Step::JoinNamespace, &what)?;
        rustix::thread::move_into_link_name_space(fd.as_fd(), link_type(*flag))
            .step(Step::JoinNamespace, &what)?;
    }
    let time = if a.ns.new_time { cl::NEWTIME } else { 0 };
    if a.ns.new_flags | time != 0 {
        stockade_sys::misc::unshare(a.ns.new_flags | time).step(Step::Unshare, "")?;
    }
    if a.ns.new_user() {
        sync.ask(&Msg::MapsNeeded, "maps-written")?;
        set_nondumpable()?;
    }
    if a.ns.new_time {
        write_time_offsets(a)?;
    }
    sync.wait_joined()?;
    let proc = a
        .proc_root
        .ok_or_else(|| InitError::new(Step::Fork, "no procfs handle"))?;
    match cl::fork_with_proc(cl::PARENT, None, proc.as_fd()).step(Step::Fork, "")? {
        Forked::Child => {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
                .step(Step::Harden, "PR_SET_PDEATHSIG")?;
            // the real init keeps no host procfs handle
            let mut keep = vec![sync.chan.as_fd()];
            keep.extend(a.start_listener);
            stockade_sys::fd::close_all_except(&keep, a.preserve_fds)
                .step(Step::Harden, "close fds")
        }
        Forked::Parent(child) => {
            let _ = sync
                .chan
                .send(&Msg::Forked(child.pid.as_raw_nonzero().get()), None);
            stockade_sys::misc::exit_now(0)
        }
    }
}

fn link_type(flag: u64) -> Option<LinkNameSpaceType> {
    Some(match flag {
        cl::NEWUSER => LinkNameSpaceType::User,
        cl::NEWNS => LinkNameSpaceType::Mount,
        cl::NEWCGROUP => LinkNameSpaceType::ControlGroup,
        cl::NEWUTS => LinkNameSpaceType::HostNameAndNISDomainName,
        cl::NEWIPC => LinkNameSpaceType::InterProcessCommunication,
        cl::NEWNET => LinkNameSpaceType::Network,
        cl::NEWPID => LinkNameSpaceType::ProcessID,
        cl::NEWTIME => LinkNameSpaceType::Time,
        _ => return None,
    })
}

fn write_time_offsets(a: &InitArgs<'_>) -> InitResult<()> {
    let Some(offsets) = a
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        let secs = off.secs().unwrap_or(0);
        let nanos = off.nanosecs().unwrap_or(0);
        text.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    let proc = a
        .proc_root
        .ok_or_else(|| InitError::new(Step::TimeOffsets, "no procfs handle"))?;
    proc.write(&format!("{pid}/timens_offsets"), text.as_bytes())
        .map_err(|e| InitError::chain(Step::TimeOffsets, "", &e))
}

/// uid/gid 0 in the new user namespace (its maps are written by then).
pub fn become_root() -> InitResult<()> {
    let (u, g) = (Uid::ROOT, Gid::ROOT);
    rustix::thread::set_thread_res_gid(g, g, g).step(Step::BecomeRoot, "setresgid 0")?;
    rustix::thread::set_thread_res_uid(u, u, u).step(Step::BecomeRoot, "setresuid 0")
}

/// hostname and domainname from the spec.
pub fn set_hostname(spec: &Spec) -> InitResult<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        rustix::system::sethostname(h.as_bytes()).step(Step::Hostname, h)?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        rustix::system::setdomainname(d.as_bytes()).step(Step::Hostname, d)?;
    }
    Ok(())
}

/// Assembles the rootfs (before pivot).
/// The cgroups are joined (waiting for `Joined`) right before the first cgroup mount, and
/// in any case before this returns: a cgroup namespace's root and a bind view's host
/// directories must be final before cgroupfs is mounted, and no process may be forked
/// (createContainer hooks) outside the container's cgroups.
pub fn prepare_rootfs(a: &InitArgs<'_>, sync: &mut Sync<'_>) -> InitResult<PreparedRootfs> {
    let cfg = RootfsConfig {
        spec: a.spec,
        bundle: a.bundle,
        rootfs: a.rootfs,
        rootless: a.rootless,
        no_pivot: a.no_pivot,
        cgroup_view: a.cgroup_view,
    };
    let mut gate_err = None;
    let res = stockade_mount::prepare_rootfs_gated(&cfg, &mut || match sync.wait_joined() {
        Ok(()) => true,
        Err(e) => {
            gate_err = Some(e);
            false
        }
    });
    if let Some(e) = gate_err {
        return Err(e);
    }
    let prepared = res.map_err(|e| InitError::chain(Step::Rootfs, "", &e))?;
    sync.wait_joined()?;
    Ok(prepared)
}

/// With `terminal`: a pty from the container's devpts, its slave bound on /dev/console,
/// the master sent to main, and the slave made init's stdio and controlling terminal right
/// away (runc's `setupConsole`). The runtime's own stdio must not survive in init past
/// `create`: an engine (containerd's shim via go-runc) waits for end of file on the pipe it
/// gave the runtime before it calls `start`.
pub fn console(a: &InitArgs<'_>, prepared: &PreparedRootfs, chan: &Endpoint) -> InitResult<()> {
    if !a.process.terminal().unwrap_or(false) {
        return Ok(());
    }
    let (master, slave) = prepared
        .open_console_pty()
        .map_err(|e| InitError::chain(Step::Console, "", &e))?;
    prepared
        .bind_console(slave.as_fd())
        .map_err(|e| InitError::chain(Step::Console, "/dev/console", &e))?;
    chan.send(&Msg::Console, Some(master.as_fd()))
        .map_err(|e| InitError::chain(Step::Console, "", &e))?;
    drop(master);
    attach_terminal(slave)
}

/// New session, `slave` on fds 0-2, and `slave` as the controlling terminal.
fn attach_terminal(slave: OwnedFd) -> InitResult<()> {
    match rustix::process::setsid() {
        Ok(_) | Err(rustix::io::Errno::PERM) => {} // already a session leader
        Err(e) => return Err(InitError::io(Step::Terminal, "setsid", &e.into())),
    }
    rustix::stdio::dup2_stdin(&slave).step(Step::Terminal, "dup2 stdin")?;
    rustix::stdio::dup2_stdout(&slave).step(Step::Terminal, "dup2 stdout")?;
    rustix::stdio::dup2_stderr(&slave).step(Step::Terminal, "dup2 stderr")?;
    rustix::process::ioctl_tiocsctty(&slave).step(Step::Terminal, "TIOCSCTTY")
}

/// Asks main to run prestart/createRuntime, then runs createContainer here (container
/// namespaces, before pivot_root). Returns the state JSON main sent.
pub fn create_hooks(a: &InitArgs<'_>, sync: &mut Sync<'_>) -> InitResult<String> {
    let Msg::HooksDone(state) = sync.ask(&Msg::Hooks, "hooks-done")? else {
        return Err(InitError::new(Step::Sync, "expected hooks-done"));
    };
    let list = hooks::list(a.spec, HookKind::CreateContainer);
    hooks::run_all(HookKind::CreateContainer, list, &state)
        .map_err(|e| InitError::chain(Step::Hook, "", &e))?;
    Ok(state)
}

/// sysctls, through our procfs mount's fd, before pivot_root: the masks go on as pivot
/// starts (stockade-mount, `masks.rs`: their source then leaves with the old root).
pub fn before_pivot(a: &InitArgs<'_>, prepared: &PreparedRootfs) -> InitResult<()> {
    if let Some(sysctl) = a.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        prepared
            .write_sysctls(sysctl)
            .map_err(|e| InitError::chain(Step::Sysctl, "", &e))?;
    }
    Ok(())
}

/// cwd creation, read-only paths (and masked paths when not applied before pivot_root),
/// read-only root.
pub fn after_pivot(a: &InitArgs<'_>, pivoted: &PivotedRootfs) -> InitResult<()> {
    target::ensure_cwd(a.process.cwd())?;
    pivoted
        .finalize()
        .map_err(|e| InitError::chain(Step::Finalize, "", &e))
}
