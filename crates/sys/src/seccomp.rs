// SPDX-License-Identifier: Apache-2.0
//! `seccomp(2)`: install a classic-BPF filter, and probe what an installed filter decides.
//!
//! [`set_mode_filter`] is the only call the container init makes for seccomp: the program was
//! compiled (by `stockade-seccomp`, with libseccomp) in the runtime's main process before the
//! clone, so here nothing is allocated or parsed. The kernel requires `no_new_privs` or
//! `CAP_SYS_ADMIN` in the caller's user namespace; the caller sets `PR_SET_NO_NEW_PRIVS` first
//! when the configuration asks for it (runc's order).
//!
//! [`probe`] issues one system call from a fixed list with arguments chosen so that the call
//! cannot touch memory or state outside the calling process: the filter's verdict (an errno,
//! `SIGSYS`, a notification) is what is being observed. Tests and the in-container probe use it.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// One classic-BPF instruction, laid out like the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SockFilter {
    /// Opcode (`BPF_LD | BPF_W | BPF_ABS`, ...).
    pub code: u16,
    /// Jump offset when the condition is true.
    pub jt: u8,
    /// Jump offset when the condition is false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

const _: () = assert!(size_of::<SockFilter>() == size_of::<libc::sock_filter>());
const _: () = assert!(align_of::<SockFilter>() == align_of::<libc::sock_filter>());

/// Longest program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// `SECCOMP_FILTER_FLAG_TSYNC`: apply the filter to every thread of the process.
pub const FLAG_TSYNC: u32 = 1 << 0;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action except `SECCOMP_RET_ALLOW`.
pub const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep Speculative Store Bypass mitigation off.
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification fd.
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: report a TSYNC failure as `ESRCH` (needed with a listener).
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: a notified task waits killably (Linux 5.19).
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Installs `program` with `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
///
/// Returns the user-notification fd when `flags` has [`FLAG_NEW_LISTENER`]. Allocation-free:
/// safe to call between `fork`/`clone` and `execve`. A TSYNC failure without
/// [`FLAG_TSYNC_ESRCH`] (the kernel returns the thread id) is reported as `ESRCH`.
pub fn set_mode_filter(program: &[SockFilter], flags: u32) -> io::Result<Option<OwnedFd>> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `prog` points to `len` initialised instructions with the kernel's
    // `struct sock_filter` layout (asserted above) that outlive the call; the kernel copies
    // the program and only reads through the pointer. No Rust-visible state changes.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::c_uint::from(flags),
            &raw const prog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & FLAG_NEW_LISTENER == 0 {
        return if ret == 0 {
            Ok(None)
        } else {
            Err(io::Error::from_raw_os_error(libc::ESRCH))
        };
    }
    let fd = RawFd::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: with NEW_LISTENER a non-negative return value is a new fd that nobody else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// A system call issued only to observe a filter's verdict. Every variant passes integers and
/// null pointers the kernel rejects, or changes only the calling process, so an allowed call
/// fails harmlessly (`EFAULT`, `EBADF`, `EINVAL`...) or has a process-local effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probe {
    /// `getppid()`.
    Getppid,
    /// `personality(persona)` (changes only this process's execution domain).
    Personality(u64),
    /// `unshare(flags)` (only this process moves to new namespaces).
    Unshare(u64),
    /// `clone(flags | CLONE_SIGHAND)` without `CLONE_VM`: the kernel refuses this combination
    /// with `EINVAL` before creating anything, so only the filter's view of `flags` matters.
    Clone(u64),
    /// `clone3(NULL, 0)`.
    Clone3,
    /// `setns(-1, 0)`.
    Setns,
    /// `io_uring_setup(0, NULL)`.
    IoUringSetup,
    /// `io_uring_enter(-1, 0, 0, 0, NULL, 0)`.
    IoUringEnter,
    /// `io_uring_register(-1, 0, NULL, 0)`.
    IoUringRegister,
    /// `bpf(-1, NULL, 0)`.
    Bpf,
    /// `userfaultfd(-1)` (invalid flags).
    Userfaultfd,
    /// `keyctl(-1)` (invalid operation).
    Keyctl,
    /// `add_key(NULL, NULL, NULL, 0, 0)`.
    AddKey,
    /// `request_key(NULL, NULL, NULL, 0)`.
    RequestKey,
    /// `perf_event_open(NULL, 0, -1, -1, 0)`.
    PerfEventOpen,
    /// `open_by_handle_at(-1, NULL, 0)`.
    OpenByHandleAt,
    /// `name_to_handle_at(-1, NULL, NULL, NULL, 0)`.
    NameToHandleAt,
    /// `mount(NULL, NULL, NULL, 0, NULL)`.
    Mount,
    /// `umount2(NULL, 0)`.
    Umount2,
    /// `pivot_root(NULL, NULL)`.
    PivotRoot,
    /// `fsopen(NULL, 0)`.
    Fsopen,
    /// `open_tree(-1, NULL, 0)`.
    OpenTree,
    /// `move_mount(-1, NULL, -1, NULL, 0)`.
    MoveMount,
    /// `init_module(NULL, 0, NULL)`.
    InitModule,
    /// `finit_module(-1, NULL, 0)`.
    FinitModule,
    /// `delete_module(NULL, 0)`.
    DeleteModule,
    /// `ptrace(-1, 0, 0, 0)` (invalid request).
    Ptrace,
    /// `mkdirat(-1, NULL, 0)`.
    Mkdirat,
    /// `ioctl(-1, cmd, 0)`: the full 64-bit `cmd` register is passed, high bits included.
    Ioctl(u64),
    /// `socket(domain, <invalid type flags>, 0)`: the kernel answers `EINVAL` if allowed.
    Socket(u64),
    /// `mseal(NULL, 0, 0)`: a syscall newer than libseccomp 2.5 knows (Linux 6.10).
    Mseal,
}

impl Probe {
    fn call(self) -> (libc::c_long, [u64; 6]) {
        const NONE: u64 = u64::MAX; // -1 as an fd / operation / flags word
        let (nr, args) = match self {
            Self::Getppid => (libc::SYS_getppid, [0; 6]),
            Self::Personality(p) => (libc::SYS_personality, [p, 0, 0, 0, 0, 0]),
            Self::Unshare(f) => (libc::SYS_unshare, [f, 0, 0, 0, 0, 0]),
            Self::Clone(f) => {
                let flags = (f | libc::CLONE_SIGHAND as u64) & !(libc::CLONE_VM as u64);
                (libc::SYS_clone, [flags, 0, 0, 0, 0, 0])
            }
            Self::Clone3 => (libc::SYS_clone3, [0; 6]),
            Self::Setns => (libc::SYS_setns, [NONE, 0, 0, 0, 0, 0]),
            Self::IoUringSetup => (libc::SYS_io_uring_setup, [0; 6]),
            Self::IoUringEnter => (libc::SYS_io_uring_enter, [NONE, 0, 0, 0, 0, 0]),
            Self::IoUringRegister => (libc::SYS_io_uring_register, [NONE, 0, 0, 0, 0, 0]),
            Self::Bpf => (libc::SYS_bpf, [NONE, 0, 0, 0, 0, 0]),
            Self::Userfaultfd => (libc::SYS_userfaultfd, [NONE, 0, 0, 0, 0, 0]),
            Self::Keyctl => (libc::SYS_keyctl, [NONE, 0, 0, 0, 0, 0]),
            Self::AddKey => (libc::SYS_add_key, [0; 6]),
            Self::RequestKey => (libc::SYS_request_key, [0; 6]),
            Self::PerfEventOpen => (libc::SYS_perf_event_open, [0, 0, NONE, NONE, 0, 0]),
            Self::OpenByHandleAt => (libc::SYS_open_by_handle_at, [NONE, 0, 0, 0, 0, 0]),
            Self::NameToHandleAt => (libc::SYS_name_to_handle_at, [NONE, 0, 0, 0, 0, 0]),
            Self::Mount => (libc::SYS_mount, [0; 6]),
            Self::Umount2 => (libc::SYS_umount2, [0; 6]),
            Self::PivotRoot => (libc::SYS_pivot_root, [0; 6]),
            Self::Fsopen => (libc::SYS_fsopen, [0; 6]),
            Self::OpenTree => (libc::SYS_open_tree, [NONE, 0, 0, 0, 0, 0]),
            Self::MoveMount => (libc::SYS_move_mount, [NONE, 0, NONE, 0, 0, 0]),
            Self::InitModule => (libc::SYS_init_module, [0; 6]),
            Self::FinitModule => (libc::SYS_finit_module, [NONE, 0, 0, 0, 0, 0]),
            Self::DeleteModule => (libc::SYS_delete_module, [0; 6]),
            Self::Ptrace => (libc::SYS_ptrace, [NONE, 0, 0, 0, 0, 0]),
            Self::Mkdirat => (libc::SYS_mkdirat, [NONE, 0, 0, 0, 0, 0]),
            Self::Ioctl(cmd) => (libc::SYS_ioctl, [NONE, cmd, 0, 0, 0, 0]),
            Self::Socket(d) => (libc::SYS_socket, [d, 0x7fff_0000, 0, 0, 0, 0]),
            Self::Mseal => (libc::SYS_mseal, [0; 6]),
        };
        (nr, args)
    }
}

/// Issues `probe` and returns the raw return value, or the errno it failed with.
pub fn probe(probe: Probe) -> io::Result<i64> {
    let (nr, [a, b, c, d, e, f]) = probe.call();
    // SAFETY: every `Probe` passes only integers, `-1` fds and null pointers (see each
    // variant), so the kernel never reads or writes caller memory, and the calls that can
    // succeed (`getppid`, `personality`, `unshare`, `mseal` of nothing) change only
    // process-local attributes that Rust does not track. `clone` cannot create a task: the
    // kernel rejects `CLONE_SIGHAND` without `CLONE_VM` before copying anything.
    let ret = unsafe { libc::syscall(nr, a, b, c, d, e, f) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_fail_harmlessly_without_a_filter() {
        assert!(probe(Probe::Getppid).is_ok());
        let einval = Some(libc::EINVAL);
        assert_eq!(
            probe(Probe::Clone(0)).map_err(|e| e.raw_os_error()),
            Err(einval)
        );
        assert_eq!(
            probe(Probe::Clone3).map_err(|e| e.raw_os_error()),
            Err(einval)
        );
        assert_eq!(
            probe(Probe::Setns).map_err(|e| e.raw_os_error()),
            Err(Some(libc::EBADF))
        );
        assert_eq!(
            probe(Probe::Socket(2)).map_err(|e| e.raw_os_error()),
            Err(einval)
        );
        assert_eq!(
            probe(Probe::Ioctl(0x5412)).map_err(|e| e.raw_os_error()),
            Err(Some(libc::EBADF))
        );
    }

    #[test]
    fn empty_program_is_rejected_by_the_kernel() {
        let err = set_mode_filter(&[], 0).expect_err("an empty program is invalid");
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
