// SPDX-License-Identifier: Apache-2.0
//! The exec helper (a fork of main, born in the container's v2 cgroup) and the process it
//! forks. Design rule (security-cases.md ESC-04, CVE-2016-9962): a process becomes visible
//! in the container only when reaching it gains nothing over the payload itself.
//!
//! The helper stays in the host pid namespace, so nothing in the container can see, signal
//! or ptrace it. It turns non-dumpable, applies `execCPUAffinity.initial`, joins the v1
//! cgroups (`0` into each `tasks` file main opened), waits for main (cgroup fallback,
//! `oom_score_adj`), enters every namespace of init with one `setns(pidfd)`, drops every
//! host descriptor, then does the privileged work: console pty, program lookup, rlimits,
//! personality, scheduling, cwd, bounding set, user, capabilities, no_new_privs and the
//! seccomp filter. Only then does it fork the process into the container's pid namespace
//! (`CLONE_PARENT`, so main waits for it) and exit. That process starts with the payload's
//! credentials and filter, holds stdio, preserved fds and the close-on-exec channel only,
//! takes its terminal (`setsid`, `TIOCSCTTY`), sets its exact `RLIMIT_NPROC` and execs.
//!
//! Cost of the rule: the fork runs under the container's seccomp filter, so a profile must
//! allow `clone` (or `clone3`) for `exec` to work; every common profile does.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use oci_spec::runtime::{PosixRlimit, PosixRlimitType, Spec};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Resource, Rlimit, Signal};
use rustix::thread::ThreadNameSpaceType;
use stockade_sys::clone::{self as cl, Forked, SingleThreaded};

use crate::channel::{Endpoint, Msg};
use crate::exec::ExecOptions;
use crate::init::{self, FinalArgs, InitError, InitResult, IoStep, Step};
use crate::ops::Container;
use crate::procfs::ProcRoot;

/// What the helper needs, prepared by main before the fork.
pub(crate) struct Helper<'a> {
    pub(crate) c: &'a Container,
    pub(crate) spec: &'a Spec,
    pub(crate) o: &'a ExecOptions<'a>,
    pub(crate) seccomp: Option<&'a stockade_seccomp::CompiledFilter>,
    pub(crate) pidfd: BorrowedFd<'a>,
    pub(crate) proc: &'a ProcRoot,
    pub(crate) cgroup_tasks: &'a [OwnedFd],
}

impl Helper<'_> {
    /// Entry point in the forked helper: never returns.
    pub(crate) fn run(&self, chan: &Endpoint) -> ! {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.steps(chan)));
        let err = match res {
            Ok(Err(e)) => e,
            Ok(Ok(never)) => match never {},
            Err(_) => InitError::new(Step::Sync, "exec helper panicked"),
        };
        init::report_and_exit(chan, err)
    }

    fn steps(&self, chan: &Endpoint) -> InitResult<std::convert::Infallible> {
        let p = &self.o.process;
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .step(Step::Harden, "PR_SET_DUMPABLE")?;
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
            .step(Step::Harden, "PR_SET_PDEATHSIG")?;
        init::apply_initial_affinity(p)?;
        let mut keep = vec![chan.as_fd(), self.pidfd, self.proc.as_fd()];
        keep.extend(self.cgroup_tasks.iter().map(AsFd::as_fd));
        stockade_sys::fd::close_all_except(&keep, self.o.preserve_fds)
            .step(Step::Harden, "close fds")?;
        for fd in self.cgroup_tasks {
            rustix::io::write(fd, b"0").step(Step::Harden, "join cgroup")?;
        }
        let single = SingleThreaded::check_at(self.proc.as_fd()).step(Step::Fork, "")?;
        match chan.next() {
            Ok(Msg::Joined) => {}
            _ => return Err(InitError::new(Step::Sync, "expected joined")),
        }
        let flags = u32::try_from(self.c.rec.ns_flags).unwrap_or(0);
        rustix::thread::move_into_thread_name_spaces(
            self.pidfd,
            ThreadNameSpaceType::from_bits_retain(flags),
        )
        .step(Step::JoinNamespace, "setns(pidfd)")?;
        if self.c.rec.ns_flags & cl::NEWUSER != 0 {
            init::setup_become_root()?;
        }
        // from here on nothing of the host is needed: only the channel, stdio and
        // preserved fds stay
        stockade_sys::fd::close_all_except(&[chan.as_fd()], self.o.preserve_fds)
            .step(Step::Harden, "close fds")?;
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
        if let Some(slave) = &console {
            rustix::stdio::dup2_stdin(slave).step(Step::Terminal, "dup2 stdin")?;
            rustix::stdio::dup2_stdout(slave).step(Step::Terminal, "dup2 stdout")?;
            rustix::stdio::dup2_stderr(slave).step(Step::Terminal, "dup2 stderr")?;
        }
        drop(console);
        let limits = p.rlimits().as_deref().unwrap_or_default();
        let nproc = limits
            .iter()
            .find(|l| l.typ() == PosixRlimitType::RlimitNproc);
        apply_rlimits_but_nproc(limits, nproc)?;
        let mut f = FinalArgs {
            process: p,
            spec: self.spec,
            preserve_fds: self.o.preserve_fds,
            seccomp: self.seccomp,
            setsid: false,
            console: None,
            chan: chan.as_fd(),
            rlimits_done: true,
            barrier: None,
        };
        init::prepare_final(&mut f)?;
        match cl::fork_proven(cl::PARENT, None, &single).step(Step::Fork, "")? {
            Forked::Parent(child) => {
                let _ = chan.send(&Msg::Forked(child.pid.as_raw_nonzero().get()), None);
                stockade_sys::misc::exit_now(0)
            }
            Forked::Child => {
                if p.terminal().unwrap_or(false) {
                    take_terminal()?;
                }
                if let Some(l) = nproc {
                    init::apply_rlimits(std::slice::from_ref(l))?;
                }
                init::exec_now(p, &exe)
            }
        }
    }
}

/// Applies every rlimit except `RLIMIT_NPROC`, which is only raised here, to at least the
/// wanted value (never lowered: the kernel checks it when the helper forks the process as
/// the target user); the process then sets the exact value itself (a lowering needs no
/// privilege).
fn apply_rlimits_but_nproc(limits: &[PosixRlimit], nproc: Option<&PosixRlimit>) -> InitResult<()> {
    let others: Vec<PosixRlimit> = limits
        .iter()
        .filter(|l| l.typ() != PosixRlimitType::RlimitNproc)
        .cloned()
        .collect();
    init::apply_rlimits(&others)?;
    let Some(want) = nproc else { return Ok(()) };
    // None is "unlimited", as for rustix
    let at_least = |cur: Option<u64>, want: u64| match cur {
        None => None,
        Some(_) if want == u64::MAX => None,
        Some(c) => Some(c.max(want)),
    };
    let cur = rustix::process::getrlimit(Resource::Nproc);
    let up = Rlimit {
        current: at_least(cur.current, want.soft()),
        maximum: at_least(cur.maximum, want.hard()),
    };
    if up.current == cur.current && up.maximum == cur.maximum {
        return Ok(());
    }
    rustix::process::setrlimit(Resource::Nproc, up)
        .step(Step::Rlimit, &format!("RLIMIT_NPROC {}", want.hard()))
}

/// New session with the pty on fds 0-2 as its controlling terminal.
fn take_terminal() -> InitResult<()> {
    rustix::process::setsid().step(Step::Terminal, "setsid")?;
    rustix::process::ioctl_tiocsctty(rustix::stdio::stdin()).step(Step::Terminal, "TIOCSCTTY")
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
