// SPDX-License-Identifier: Apache-2.0
//! Sweeps over the fd table: close or mark close-on-exec everything outside a keep list,
//! so no descriptor of the runtime (or leaked by its caller) reaches container code
//! (CVE-2024-21626). `close_range(2)` where the kernel has it, `/proc/self/fd` otherwise.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

fn close_range(first: u32, last: u32, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range only touches the caller's fd table; callers of this module
    // guarantee the closed numbers are not owned by live Rust objects that will be dropped
    // (see close_all_except), or only set CLOEXEC, which invalidates nothing.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn open_fds() -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for ent in std::fs::read_dir("/proc/self/fd")? {
        if let Some(n) = ent?.file_name().to_str().and_then(|s| s.parse().ok()) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Closes every descriptor except 0, 1, 2, `first_keep..first_keep+keep_count` (the
/// `--preserve-fds` range) and `keep`.
///
/// Objects that own a closed descriptor must never be dropped afterwards (the number could
/// be reused): call this only in a process that ends in `execve` or `_exit`.
pub fn close_all_except(keep: &[BorrowedFd<'_>], preserve: u32) -> io::Result<()> {
    let mut ranges: Vec<u32> = keep
        .iter()
        .filter_map(|fd| u32::try_from(fd.as_raw_fd()).ok())
        .collect();
    ranges.extend(3..3 + preserve);
    ranges.extend(0..3);
    ranges.sort_unstable();
    ranges.dedup();
    let mut next = 0u32;
    for &k in &ranges {
        if k > next {
            close_gap(next, k - 1)?;
        }
        next = k + 1;
    }
    close_gap(next, u32::MAX)
}

fn close_gap(first: u32, last: u32) -> io::Result<()> {
    match close_range(first, last, 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            for fd in open_fds()?
                .into_iter()
                .filter(|fd| (first..=last).contains(fd))
            {
                let raw = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
                // SAFETY: same contract as close_range above; EBADF (the read_dir fd) is
                // harmless.
                unsafe { libc::close(raw) };
            }
            Ok(())
        }
        other => other,
    }
}

/// Marks every descriptor from `first` on close-on-exec.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    match close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) {
        Err(e)
            if e.raw_os_error() == Some(libc::ENOSYS) || e.raw_os_error() == Some(libc::EINVAL) =>
        {
            for fd in open_fds()?.into_iter().filter(|fd| *fd >= first) {
                set_cloexec_raw(fd, true)?;
            }
            Ok(())
        }
        other => other,
    }
}

/// Clears close-on-exec on `3..3+count` (the fds handed over with `--preserve-fds`).
/// Missing descriptors are an error naming the number.
pub fn inherit_preserved(count: u32) -> io::Result<()> {
    for fd in 3..3 + count {
        set_cloexec_raw(fd, false)
            .map_err(|e| io::Error::new(e.kind(), format!("preserved fd {fd}: {e}")))?;
    }
    Ok(())
}

fn set_cloexec_raw(fd: u32, on: bool) -> io::Result<()> {
    let raw = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
    // SAFETY: F_GETFD/F_SETFD only read and change the flag of descriptor `raw` in our own
    // table; an invalid number yields EBADF.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(raw, libc::F_SETFD, new) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_missing_preserved_fd_is_named() {
        let err = inherit_preserved(4000).unwrap_err();
        assert!(err.to_string().contains("preserved fd 3"), "{err}");
    }
}
