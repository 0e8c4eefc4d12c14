// SPDX-License-Identifier: Apache-2.0
//! The container's init: the clone child of main, born in the new namespaces. It shares
//! main's memory image (a copy), so it needs no configuration message: it reads the
//! [`InitArgs`] main prepared before the clone. Steps, in order (process-model.md):
//! harden → namespaces (slow path) → become root → rootfs → console → hooks → sysctl →
//! masked paths → pivot → cwd, read-only paths → resolve the program → ready → wait for start →
//! startContainer hooks → rlimits, personality, terminal, fds, cwd, user, caps, nnp,
//! seccomp → execve. Failures go back to main as an [`InitError`].

mod creds;
mod error;
mod finish;
mod sched;
mod setup;
mod target;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{Process, Spec};

pub use creds::{CapPlan, apply_rlimits, drop_bounding, set_caps, set_user};
pub use error::{InitError, InitResult, IoStep, Step};
pub use finish::{FinalArgs, exec_now, final_steps, prepare_final};
pub use sched::apply_initial_affinity;
pub use setup::become_root as setup_become_root;
pub use target::{enter_cwd, find_executable};

use crate::channel::{Endpoint, Msg};
use crate::plan::NsPlan;
use crate::procfs::ProcRoot;

/// Everything init needs, prepared by main before the clone.
#[derive(Debug)]
pub struct InitArgs<'a> {
    /// The container's spec.
    pub spec: &'a Spec,
    /// The process to run.
    pub process: &'a Process,
    /// Absolute bundle directory (hooks' cwd is not changed; used by the mount crate).
    pub bundle: &'a Path,
    /// Absolute rootfs.
    pub rootfs: &'a Path,
    /// Namespace plan.
    pub ns: &'a NsPlan,
    /// Running without full host root (unprivileged, or root of a non-initial user
    /// namespace): devices bound, some mounts fall back to binds.
    pub rootless: bool,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// How cgroupfs appears inside the container.
    pub cgroup_view: &'a stockade_mount::CgroupView,
    /// The compiled seccomp filter, if the config has one.
    pub seccomp: Option<&'a stockade_seccomp::CompiledFilter>,
    /// The listening start socket (create): init accepts `start`'s connection on it.
    pub start_listener: Option<BorrowedFd<'a>>,
    /// Host procfs, verified: only for the slow path (thread check after `setns`, time
    /// offsets), so the fast-path init holds no host directory handle.
    pub proc_root: Option<&'a ProcRoot>,
    /// Whether any of prestart, createRuntime or createContainer hooks exist.
    pub create_hooks: bool,
    /// The cgroup v1 `tasks` files of the container, opened by main: init moves itself
    /// (writing `0` moves only the caller and skips the kernel's global threadgroup lock,
    /// whose RCU grace period a `cgroup.procs` write of another pid waits for).
    pub cgroup_tasks: &'a [OwnedFd],
    /// Unshare the cgroup namespace after joining the cgroup (so its root is the
    /// container's cgroup, not main's).
    pub late_cgroupns: bool,
    /// `cgroup_tasks` is empty: main makes the v1 cgroups while init works and sends their
    /// `tasks` files with `Joined`; init joins them (then unshares the cgroup namespace if
    /// `late_cgroupns`) when that arrives, at the latest before the first cgroup mount.
    pub cgroup_join_deferred: bool,
    /// main's effective uid is not 0: with a new user namespace main opens init's id maps
    /// itself, so init must stay dumpable until they are written. Decided by main before
    /// the clone: init's own `geteuid()` turns 0 the moment main writes `uid_map`, which
    /// races with main's `gid_map` write.
    pub unprivileged_main: bool,
}

/// Entry point of the clone child: never returns. Reports a failure to main and exits 1.
pub fn run(args: &InitArgs<'_>, chan: &Endpoint) -> ! {
    let mut sync = setup::Sync::new(chan, args);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        steps(args, chan, &mut sync)
    }));
    let err = match result {
        Ok(Err(e)) => e,
        Ok(Ok(never)) => match never {},
        Err(_) => InitError::new(Step::Sync, "init panicked"),
    };
    sync.report_to_start(&err);
    report_and_exit(chan, err)
}

/// Sends the failure to main and exits. Unread messages are drained first: closing a unix
/// socket with data still queued makes the peer's next read fail with `ECONNRESET`
/// instead of delivering our report.
pub fn report_and_exit(chan: &Endpoint, err: InitError) -> ! {
    let _ = chan.send(&Msg::Failed(err), None);
    chan.drain();
    stockade_sys::misc::exit_now(1)
}

/// The ordered steps; returns only on failure.
fn steps(
    a: &InitArgs<'_>,
    chan: &Endpoint,
    sync: &mut setup::Sync<'_>,
) -> InitResult<std::convert::Infallible> {
    setup::harden(a, chan)?;
    if a.ns.needs_second_fork() {
        setup::slow_namespaces(a, sync)?;
    } else if a.ns.new_user() {
        sync.wait_joined()?;
        setup::set_nondumpable()?;
    }
    if a.ns.new_user()
        || a.ns
            .joins
            .iter()
            .any(|(f, _)| *f == stockade_sys::clone::NEWUSER)
    {
        setup::become_root()?;
    }
    setup::set_hostname(a.spec)?;
    let prepared = setup::prepare_rootfs(a, sync)?;
    setup::console(a, &prepared, chan)?;
    let state = if a.create_hooks {
        Some(setup::create_hooks(a, sync)?)
    } else {
        None
    };
    setup::before_pivot(a, &prepared)?;
    let pivoted = prepared
        .pivot()
        .map_err(|e| InitError::chain(Step::Pivot, "", &e))?;
    setup::after_pivot(a, &pivoted)?;
    // closed now: the final fd sweep must not close what a live object still owns
    drop(pivoted);
    let exe = find_executable(
        &a.process.args().as_deref().unwrap_or_default()[0],
        env(a.process),
    )?;
    apply_rlimits(a.process.rlimits().as_deref().unwrap_or_default())?;
    let listener = finish::early_seccomp(a)?;
    sync.wait_joined()?;
    chan.send(&Msg::Ready, listener.as_ref().map(AsFd::as_fd))
        .map_err(|e| InitError::chain(Step::Sync, "ready", &e))?;
    let seccomp_loaded = listener.is_some();
    drop(listener);
    let state = sync.wait_proceed(a, state)?;
    finish::run_start_hooks(a.spec, &state)?;
    let barrier = sync.barrier();
    finish::exec_process(a, &exe, seccomp_loaded, chan.as_fd(), barrier)
}

/// The process environment (empty when unset).
pub fn env(p: &Process) -> &[String] {
    p.env().as_deref().unwrap_or_default()
}

/// The console slave kept for the final step.
pub type ConsoleSlave = Option<OwnedFd>;
