// SPDX-License-Identifier: Apache-2.0
//! Process attributes `rustix` has no safe call for: `personality(2)` and `_exit(2)`.

use std::io;

/// Sets the execution domain (`personality(2)`), e.g. `PER_LINUX32` = 0x0008.
pub fn set_personality(persona: u64) -> io::Result<()> {
    let p = libc::c_ulong::try_from(persona).map_err(|_| io::Error::other("bad persona"))?;
    // SAFETY: personality only changes a flag word of the calling process.
    let ret = unsafe { libc::personality(p) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Ends the process at once, without running atexit handlers, destructors or stdio flushes
/// (a forked child must not run its parent's clean-ups).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no user-space state.
    unsafe { libc::_exit(code) }
}

/// `unshare(2)` of namespace flags (`clone::NEW*`). Refused in a multithreaded process:
/// the other threads would keep the old namespaces (and `CLONE_NEWUSER` fails anyway).
pub fn unshare(flags: u64) -> io::Result<()> {
    if !crate::clone::is_single_threaded()? {
        return Err(io::Error::other(
            "refusing to unshare in a multithreaded process",
        ));
    }
    let raw =
        libc::c_int::try_from(flags).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: unshare changes only the calling (single) thread's namespaces; no memory is
    // shared with another thread whose view of fds or namespaces could become stale.
    if unsafe { libc::unshare(raw) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
