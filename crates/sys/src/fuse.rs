// SPDX-License-Identifier: Apache-2.0
//! FUSE device calls rustix lacks: `FUSE_DEV_IOC_CLONE`, which attaches a freshly opened
//! `/dev/fuse` fd to an existing connection so each server thread reads its own fd.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// `_IOR(229, 0, uint32_t)` from linux/fuse.h.
const FUSE_DEV_IOC_CLONE: libc::c_ulong = 0x8004_e500;

/// Attaches `new` (a fresh `/dev/fuse` open) to the connection of `session`.
pub fn clone_session(new: &OwnedFd, session: BorrowedFd<'_>) -> io::Result<()> {
    let src: u32 = u32::try_from(session.as_raw_fd())
        .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: `new` is an open fd owned by the caller for the duration of the call; the ioctl
    // reads exactly one u32 through the pointer, which points at a live local.
    let rc = unsafe { libc::ioctl(new.as_raw_fd(), FUSE_DEV_IOC_CLONE, &src as *const u32) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
