// SPDX-License-Identifier: Apache-2.0
//! Raw system calls of the probe.
//!
//! The probe is a test-only binary (never shipped) whose whole job is to call syscalls that the
//! runtime under test must allow or deny, and to report the kernel's answer. Every call is a
//! thin wrapper that returns `Err(errno)`; no wrapper keeps state. This file is the probe's only
//! `unsafe` code (an exception to the workspace rule, which concerns shipped crates).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::mem::MaybeUninit;

/// Result of a raw syscall: the non-negative return value, or the errno.
pub type SysResult = Result<i64, i32>;

/// The calling thread's errno.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check(ret: i64) -> SysResult {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn c(s: &str) -> Result<CString, i32> {
    CString::new(s).map_err(|_| libc::EINVAL)
}

/// A syscall whose arguments are all integers (null pointers included).
pub fn syscall_ints(nr: libc::c_long, a: [u64; 5]) -> SysResult {
    // SAFETY: every argument is a plain integer; the kernel validates them and never
    // dereferences a pointer we did not pass (zero means NULL).
    let ret = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) };
    check(ret)
}

/// `getrlimit(resource)` as (soft, hard).
pub fn getrlimit(resource: u32) -> Result<(u64, u64), i32> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit for the duration of the call.
    let ret = unsafe { libc::getrlimit(resource, &mut rl) };
    check(i64::from(ret)).map(|_| (rl.rlim_cur, rl.rlim_max))
}

/// The current execution domain (`personality(0xffffffff)`).
pub fn personality() -> SysResult {
    // SAFETY: 0xffffffff only queries the persona; nothing is changed.
    let ret = unsafe { libc::personality(0xffff_ffff) };
    check(i64::from(ret))
}

/// (nodename, domainname, machine) from `uname(2)`.
pub fn uname() -> Result<(String, String, String), i32> {
    let mut u = MaybeUninit::<libc::utsname>::zeroed();
    // SAFETY: `u` is a writable utsname; on success the kernel fills it with NUL-terminated
    // strings.
    let ret = unsafe { libc::uname(u.as_mut_ptr()) };
    check(i64::from(ret))?;
    // SAFETY: uname succeeded, so the struct is initialised (it was zeroed before anyway).
    let u = unsafe { u.assume_init() };
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| b.to_ne_bytes()[0])
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok((s(&u.nodename), s(&u.domainname), s(&u.machine)))
}

/// Supplementary groups of the process.
pub fn getgroups() -> Result<Vec<u32>, i32> {
    let mut buf = vec![0u32; 256];
    let len = libc::c_int::try_from(buf.len()).map_err(|_| libc::EINVAL)?;
    // SAFETY: `buf` holds `len` gid_t slots.
    let n = unsafe { libc::getgroups(len, buf.as_mut_ptr()) };
    let n = usize::try_from(check(i64::from(n))?).map_err(|_| libc::EINVAL)?;
    buf.truncate(n);
    Ok(buf)
}

/// `isatty(fd)`.
pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// `unshare(flags)`.
pub fn unshare(flags: i32) -> SysResult {
    // SAFETY: unshare takes only an integer.
    check(i64::from(unsafe { libc::unshare(flags) }))
}

/// `mount(source, target, fstype, flags, data)`.
pub fn mount(src: &str, target: &str, fstype: &str, flags: u64, data: Option<&str>) -> SysResult {
    let (s, t, f) = (c(src)?, c(target)?, c(fstype)?);
    let d = data.map(c).transpose()?;
    let dp = d.as_ref().map_or(std::ptr::null(), |d| d.as_ptr().cast());
    // SAFETY: all strings are NUL-terminated CStrings alive for the call; data may be NULL.
    check(i64::from(unsafe {
        libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags, dp)
    }))
}

/// `umount2(target, flags)`.
pub fn umount2(target: &str, flags: i32) -> SysResult {
    let t = c(target)?;
    // SAFETY: `t` is a valid C string.
    check(i64::from(unsafe { libc::umount2(t.as_ptr(), flags) }))
}

/// Clears `FD_CLOEXEC` so the descriptor survives `execve`.
pub fn clear_cloexec(fd: i32) -> SysResult {
    // SAFETY: F_SETFD with 0 only changes the descriptor flags of `fd`.
    check(i64::from(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }))
}

/// `renameat2(a, b, RENAME_EXCHANGE)`.
pub fn rename_exchange(a: &str, b: &str) -> SysResult {
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid C strings; AT_FDCWD resolves relative to the cwd.
    let ret = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    check(i64::from(ret))
}

/// `mknod(path, mode, makedev(major, minor))`.
pub fn mknod(path: &str, mode: u32, major: u32, minor: u32) -> SysResult {
    let p = c(path)?;
    // SAFETY: `p` is a valid C string; makedev is pure arithmetic.
    check(i64::from(unsafe {
        libc::mknod(p.as_ptr(), mode, libc::makedev(major, minor))
    }))
}

/// `fork()`: Ok(0) in the child. The probe is single-threaded whenever it forks.
pub fn fork() -> SysResult {
    // SAFETY: callers fork only from single-threaded code paths and the child either execs,
    // calls only async-signal-safe functions, or exits with `exit_now`.
    check(i64::from(unsafe { libc::fork() }))
}

/// `_exit(code)` without running destructors or atexit handlers (for forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// `waitpid(pid, 0)`: the raw wait status.
pub fn waitpid(pid: i32) -> Result<i32, i32> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    check(i64::from(unsafe { libc::waitpid(pid, &mut status, 0) })).map(|_| status)
}

/// `waitpid(pid, __WALL)`: also waits for ptrace-stopped non-children.
pub fn waitpid_all(pid: i32) -> Result<i32, i32> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    check(i64::from(unsafe {
        libc::waitpid(pid, &mut status, libc::__WALL)
    }))
    .map(|_| status)
}

/// `kill(pid, sig)`.
pub fn kill(pid: i32, sig: i32) -> SysResult {
    // SAFETY: kill takes only integers.
    check(i64::from(unsafe { libc::kill(pid, sig) }))
}

/// `prctl(PR_SET_PDEATHSIG, sig)`.
pub fn set_pdeathsig(sig: i32) -> SysResult {
    // SAFETY: integer-only prctl.
    check(i64::from(unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0)
    }))
}

/// `ptrace(request, pid, 0, 0)`.
pub fn ptrace(request: u32, pid: i32) -> SysResult {
    // SAFETY: attach/seize/detach requests with NULL addr/data read or write no memory of ours.
    let ret = unsafe {
        libc::ptrace(
            request,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    check(ret)
}

/// `process_vm_readv` of `len` bytes at `addr` in `pid`.
pub fn process_vm_read(pid: i32, addr: usize, len: usize) -> SysResult {
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: the local iovec points into `buf` (len bytes, alive for the call); the remote
    // address is only interpreted by the kernel in the other process.
    check(unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) } as i64)
}

/// `io_uring_setup(entries, &params)`; closes the ring on success.
pub fn io_uring_setup(entries: u32) -> SysResult {
    let mut params = [0u8; 120];
    // SAFETY: `params` is a zeroed io_uring_params (120 bytes) the kernel may write to.
    let ret = unsafe { libc::syscall(libc::SYS_io_uring_setup, entries, params.as_mut_ptr()) };
    close_if_fd(check(ret))
}

/// `bpf(BPF_PROG_LOAD)` of a two-instruction socket filter (`r0 = 0; exit`).
pub fn bpf_prog_load() -> SysResult {
    // mov64 r0, 0 ; exit
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = b"GPL\0";
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // BPF_PROG_TYPE_SOCKET_FILTER
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes()); // insn_cnt
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    // SAFETY: attr is a 128-byte bpf_attr whose pointers reference `insns` and `license`,
    // both alive for the call.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len()) };
    close_if_fd(check(ret))
}

/// `perf_event_open` of a user-space-only software clock on the calling process.
pub fn perf_event_open() -> SysResult {
    let mut attr = [0u8; 136];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // PERF_TYPE_SOFTWARE
    attr[4..8].copy_from_slice(&136u32.to_ne_bytes()); // size
    // flags at offset 40: disabled(bit 0) | exclude_kernel(bit 5) | exclude_hv(bit 6)
    attr[40..48].copy_from_slice(&(1u64 | 1 << 5 | 1 << 6).to_ne_bytes());
    // SAFETY: attr is a PERF_ATTR_SIZE_VER8 struct alive for the call.
    let ret = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), 0, -1, -1, 8) };
    close_if_fd(check(ret))
}

/// `add_key("user", desc, "x", 1, KEY_SPEC_PROCESS_KEYRING)`.
pub fn add_key(desc: &str) -> SysResult {
    let (t, d) = (c("user")?, c(desc)?);
    let payload = b"x";
    // SAFETY: type/description are C strings, payload points to 1 readable byte.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            t.as_ptr(),
            d.as_ptr(),
            payload.as_ptr(),
            1,
            -2,
        )
    };
    check(ret)
}

/// `init_module(empty image, 0, "")`.
pub fn init_module() -> SysResult {
    let params = c("")?;
    let image = [0u8; 1];
    // SAFETY: a zero-length image pointer and an empty parameter string; the kernel checks
    // CAP_SYS_MODULE before reading anything.
    check(unsafe { libc::syscall(libc::SYS_init_module, image.as_ptr(), 0, params.as_ptr()) })
}

/// `finit_module(-1, "", 0)` and `delete_module(name, O_NONBLOCK)` share this shape.
pub fn module_call(nr: libc::c_long, name: &str) -> SysResult {
    let s = c(name)?;
    if nr == libc::SYS_finit_module {
        // SAFETY: finit_module(fd -1, params C string, 0).
        return check(unsafe { libc::syscall(nr, -1, s.as_ptr(), 0) });
    }
    // SAFETY: delete_module(name C string, flags).
    check(unsafe { libc::syscall(nr, s.as_ptr(), libc::O_NONBLOCK) })
}

/// `name_to_handle_at(AT_FDCWD, path)` then `open_by_handle_at(mount_fd, handle, O_RDONLY)`
/// with a mount fd of `path` itself (the "shocker" sequence).
pub fn open_by_handle(path: &str) -> SysResult {
    let p = c(path)?;
    let mut handle = [0u8; 8 + 128];
    handle[0..4].copy_from_slice(&128u32.to_ne_bytes()); // handle_bytes
    let mut mount_id: libc::c_int = 0;
    // SAFETY: `handle` is a file_handle with room for 128 bytes; mount_id is an out-int.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            p.as_ptr(),
            handle.as_mut_ptr(),
            &mut mount_id,
            0,
        )
    };
    check(ret)?;
    // SAFETY: `p` is a valid C string.
    let mfd = check(i64::from(unsafe {
        libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC)
    }))?;
    // SAFETY: `handle` was filled by name_to_handle_at; mfd is an open descriptor.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mfd,
            handle.as_ptr(),
            libc::O_RDONLY,
        )
    };
    let res = close_if_fd(check(ret));
    close(mfd);
    res
}

/// `setns(fd, nstype)`.
pub fn setns(fd: i32, nstype: i32) -> SysResult {
    // SAFETY: integer-only.
    check(i64::from(unsafe { libc::setns(fd, nstype) }))
}

/// `sethostname(name)`.
pub fn sethostname(name: &str) -> SysResult {
    // SAFETY: pointer and length describe `name`'s bytes.
    check(i64::from(unsafe {
        libc::sethostname(name.as_ptr().cast(), name.len())
    }))
}

/// `chroot(path)`.
pub fn chroot(path: &str) -> SysResult {
    let p = c(path)?;
    // SAFETY: `p` is a valid C string.
    check(i64::from(unsafe { libc::chroot(p.as_ptr()) }))
}

/// `swapon(path, 0)`.
pub fn swapon(path: &str) -> SysResult {
    let p = c(path)?;
    // SAFETY: `p` is a valid C string.
    check(unsafe { libc::syscall(libc::SYS_swapon, p.as_ptr(), 0) })
}

/// `socket(domain, type, protocol)`, closed on success.
pub fn socket(domain: i32, ty: i32, proto: i32) -> SysResult {
    // SAFETY: integer-only.
    close_if_fd(check(i64::from(unsafe { libc::socket(domain, ty, proto) })))
}

/// Filesystem magic of `path` (`statfs.f_type`).
pub fn statfs_magic(path: &str) -> SysResult {
    let p = c(path)?;
    let mut st = MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `p` is a C string and `st` a writable statfs.
    check(i64::from(unsafe {
        libc::statfs(p.as_ptr(), st.as_mut_ptr())
    }))?;
    // SAFETY: statfs succeeded and filled the struct (zeroed before anyway).
    Ok(unsafe { st.assume_init() }.f_type)
}

/// Closes a descriptor, ignoring errors.
pub fn close(fd: i64) {
    if let Ok(fd) = i32::try_from(fd) {
        // SAFETY: the caller owns `fd` and never uses it again.
        unsafe { libc::close(fd) };
    }
}

fn close_if_fd(r: SysResult) -> SysResult {
    if let Ok(fd) = r {
        close(fd);
    }
    r
}

/// Writes `data` to `fd` once.
pub fn write(fd: i32, data: &[u8]) -> SysResult {
    // SAFETY: pointer and length describe `data`.
    check(unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) } as i64)
}

/// Name of an errno value ("EPERM").
pub fn errname(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ENOEXEC => "ENOEXEC",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ESTALE => "ESTALE",
        libc::EXDEV => "EXDEV",
        libc::ENXIO => "ENXIO",
        libc::ENODEV => "ENODEV",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        _ => return format!("E{e}"),
    };
    n.to_string()
}
