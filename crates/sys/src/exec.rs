// SPDX-License-Identifier: Apache-2.0
//! Program replacement: `execveat(fd, "", AT_EMPTY_PATH)` (run a sealed image from its fd)
//! and `execve(path)`. Both return only on failure.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

fn null_terminated(list: &[CString]) -> Vec<*const libc::c_char> {
    list.iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Replaces the process image with the file open at `fd`; returns the error on failure.
pub fn execveat_fd(fd: BorrowedFd<'_>, argv: &[CString], envp: &[CString]) -> io::Error {
    let argv_p = null_terminated(argv);
    let envp_p = null_terminated(envp);
    // SAFETY: argv_p/envp_p are null-terminated arrays of pointers to NUL-terminated strings
    // owned by `argv`/`envp`, which outlive the call; the path is the empty C string with
    // AT_EMPTY_PATH, so the kernel execs `fd` itself. On success the call does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            envp_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    io::Error::last_os_error()
}

/// Replaces the process image with `path`; returns the error on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let argv_p = null_terminated(argv);
    let envp_p = null_terminated(envp);
    // SAFETY: as for execveat_fd: every pointer refers to live NUL-terminated strings and
    // both arrays end with a null pointer.
    unsafe {
        libc::execve(path.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
    }
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_execve_missing_file_fails() {
        let err = execve(c"/nonexistent/stockade", &[CString::from(c"x")], &[]);
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }
}
