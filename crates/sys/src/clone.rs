// SPDX-License-Identifier: Apache-2.0
//! Process creation without `CLONE_VM`: `clone3(2)` with namespace flags, a pidfd and
//! `CLONE_INTO_CGROUP`, falling back to `clone(2)` on kernels without `clone3`.
//!
//! Both behave like `fork(2)`: the child gets a copy of the address space and returns from
//! the call on the same stack. That is only sound in a single-threaded process (another
//! thread could hold the allocator lock forever in the child), so [`fork_with`] checks the
//! thread count first and refuses otherwise.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::process::Pid;

/// `CLONE_NEWNS`.
pub const NEWNS: u64 = libc::CLONE_NEWNS as u64;
/// `CLONE_NEWUTS`.
pub const NEWUTS: u64 = libc::CLONE_NEWUTS as u64;
/// `CLONE_NEWIPC`.
pub const NEWIPC: u64 = libc::CLONE_NEWIPC as u64;
/// `CLONE_NEWUSER`.
pub const NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
/// `CLONE_NEWPID`.
pub const NEWPID: u64 = libc::CLONE_NEWPID as u64;
/// `CLONE_NEWNET`.
pub const NEWNET: u64 = libc::CLONE_NEWNET as u64;
/// `CLONE_NEWCGROUP`.
pub const NEWCGROUP: u64 = libc::CLONE_NEWCGROUP as u64;
/// `CLONE_NEWTIME` (only through `unshare`, see the module doc of the runtime).
pub const NEWTIME: u64 = libc::CLONE_NEWTIME as u64;
/// `CLONE_PARENT`: the child's parent is the caller's parent.
pub const PARENT: u64 = libc::CLONE_PARENT as u64;

const CLONE_PIDFD: u64 = libc::CLONE_PIDFD as u64;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const NS_FLAGS: u64 = NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP | PARENT;

/// The kernel's `struct clone_args` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The parent's view of a new child.
#[derive(Debug)]
pub struct Child {
    /// The child's pid in the caller's pid namespace.
    pub pid: Pid,
    /// A pidfd for the child (always on kernels with `clone3`).
    pub pidfd: Option<OwnedFd>,
    /// Whether the child was born in the requested cgroup (`CLONE_INTO_CGROUP` worked).
    pub in_cgroup: bool,
}

/// Which side of a fork this is.
#[derive(Debug)]
pub enum Forked {
    /// The new process.
    Child,
    /// The caller, with the child's handle.
    Parent(Child),
}

/// True when the calling process has exactly one thread: `/proc/self/task` has two links
/// plus one per thread (procfs `proc_task_getattr`).
pub fn is_single_threaded() -> io::Result<bool> {
    let st = rustix::fs::stat("/proc/self/task")?;
    Ok(st.st_nlink == 3)
}

/// [`is_single_threaded`] through a procfs directory handle of a pid namespace the caller
/// is in (needed after `setns` into a mount namespace whose `/proc` belongs to a pid
/// namespace the caller is not part of).
pub fn is_single_threaded_at(proc: BorrowedFd<'_>) -> io::Result<bool> {
    let st = rustix::fs::statat(proc, "self/task", rustix::fs::AtFlags::empty())?;
    Ok(st.st_nlink == 3)
}

/// Forks the caller into new namespaces (`flags`: any of the constants of this module
/// except `NEWTIME`), optionally born directly into the cgroup v2 directory `cgroup`.
/// The child gets `SIGCHLD` as exit signal.
///
/// Refuses (`EDEADLK`-like `Other` error) when the process has more than one thread.
pub fn fork_with(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Forked> {
    fork_checked(flags, cgroup, None)
}

/// [`fork_with`], checking the thread count through the procfs handle `proc`.
pub fn fork_with_proc(
    flags: u64,
    cgroup: Option<BorrowedFd<'_>>,
    proc: BorrowedFd<'_>,
) -> io::Result<Forked> {
    fork_checked(flags, cgroup, Some(proc))
}

/// Proof that the calling process had one thread when it was made. It cannot cross
/// threads (`!Send`); its holder must not start a thread before [`fork_proven`] uses it.
/// It lets a process check through a procfs handle, close that handle, and fork later
/// (an exec helper must hold no host descriptor once its child is visible in the
/// container).
#[derive(Debug)]
pub struct SingleThreaded(std::marker::PhantomData<*const ()>);

impl SingleThreaded {
    /// Checks the thread count through the procfs handle `proc`.
    pub fn check_at(proc: BorrowedFd<'_>) -> io::Result<SingleThreaded> {
        if is_single_threaded_at(proc)? {
            Ok(SingleThreaded(std::marker::PhantomData))
        } else {
            Err(io::Error::other("refusing to fork a multithreaded process"))
        }
    }
}

/// [`fork_with`] after an earlier check (see [`SingleThreaded`]).
pub fn fork_proven(
    flags: u64,
    cgroup: Option<BorrowedFd<'_>>,
    _proof: &SingleThreaded,
) -> io::Result<Forked> {
    fork_unchecked(flags, cgroup)
}

fn fork_checked(
    flags: u64,
    cgroup: Option<BorrowedFd<'_>>,
    proc: Option<BorrowedFd<'_>>,
) -> io::Result<Forked> {
    if flags & !NS_FLAGS != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let single = match proc {
        Some(p) => is_single_threaded_at(p)?,
        None => is_single_threaded()?,
    };
    if !single {
        return Err(io::Error::other("refusing to fork a multithreaded process"));
    }
    fork_unchecked(flags, cgroup)
}

/// Only called once the process is known to be single-threaded.
fn fork_unchecked(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Forked> {
    if flags & !NS_FLAGS != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    match clone3(flags, cgroup) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => clone_legacy(flags),
        Err(e) if e.raw_os_error() == Some(libc::E2BIG) => clone_legacy(flags),
        // a seccomp profile that predates clone3 may answer EPERM for it (exec forks its
        // last helper under the container's filter); plain clone is what such profiles allow
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && cgroup.is_none() => clone_legacy(flags),
        other => other,
    }
}

fn clone3(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | CLONE_PIDFD,
        pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
        // with CLONE_PARENT the child inherits the caller's exit signal; clone3 wants 0
        exit_signal: if flags & PARENT != 0 {
            0
        } else {
            libc::SIGCHLD as u64
        },
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = u64::try_from(fd.as_raw_fd()).map_err(|_| io::Error::other("bad fd"))?;
    }
    // SAFETY: `args` is a valid, fully initialised `struct clone_args` whose size we pass;
    // `pidfd` outlives the call. Without CLONE_VM the child gets its own copy of memory and
    // returns on its own copy of this stack, like fork(2). The process is single-threaded
    // (fork_checked, or a SingleThreaded proof whose holder started no thread), so no lock
    // can be held by a thread that does not exist in the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::addr_of_mut!(args),
            size_of::<CloneArgs>(),
        )
    };
    finish(ret, pidfd, cgroup.is_some())
}

fn clone_legacy(flags: u64) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let raw_flags = flags | CLONE_PIDFD | libc::SIGCHLD as u64;
    // SAFETY: the raw clone syscall (x86_64 argument order: flags, stack, parent_tid,
    // child_tid, tls) with a null stack duplicates the caller like fork(2); CLONE_PIDFD
    // stores the pidfd through the parent_tid pointer, valid for the call. Single-threaded
    // as checked by fork_checked or proven by a SingleThreaded token.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            raw_flags,
            0usize,
            std::ptr::addr_of_mut!(pidfd),
            0usize,
            0usize,
        )
    };
    finish(ret, pidfd, false)
}

fn finish(ret: libc::c_long, pidfd: libc::c_int, want_cgroup: bool) -> io::Result<Forked> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if ret == 0 {
        return Ok(Forked::Child);
    }
    let raw = i32::try_from(ret).map_err(|_| io::Error::other("pid out of range"))?;
    let pid = Pid::from_raw(raw).ok_or_else(|| io::Error::other("clone returned pid 0"))?;
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: the kernel just created this descriptor for us (CLONE_PIDFD) and nothing
        // else owns it.
        unsafe { OwnedFd::from_raw_fd(pidfd) }
    });
    Ok(Forked::Parent(Child {
        pid,
        pidfd,
        in_cgroup: want_cgroup,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_threads_counted() {
        // libtest runs this on a worker thread: the process has at least two threads.
        assert!(!is_single_threaded().unwrap());
        assert!(fork_with(0, None).is_err());
    }

    #[test]
    fn test_rejects_unknown_flags() {
        let err = fork_with(NEWTIME, None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
