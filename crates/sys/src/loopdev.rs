// SPDX-License-Identifier: Apache-2.0
//! Loop device ioctls `rustix` lacks: `LOOP_CTL_GET_FREE` on `/dev/loop-control` and
//! `LOOP_CONFIGURE` (Linux 5.8), which binds a backing file to a loop device with an offset,
//! a size limit and flags in one atomic call (no window where the device is bound but not
//! yet limited to the partition or not yet read-only).
//!
//! Callers pick the device number with [`get_free`], open `/dev/loopN` and call
//! [`configure`]; `EBUSY` means another process took the device first (retry with a new
//! number).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `LOOP_CTL_GET_FREE` from linux/loop.h.
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
/// `LOOP_CONFIGURE` from linux/loop.h.
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
/// `LOOP_GET_STATUS64` from linux/loop.h.
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;

/// `LO_FLAGS_READ_ONLY`: the device refuses writes.
pub const FLAG_READ_ONLY: u32 = 1;
/// `LO_FLAGS_AUTOCLEAR`: the device detaches itself on its last close (last unmount).
pub const FLAG_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` (232 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

impl LoopInfo64 {
    const fn zeroed() -> Self {
        LoopInfo64 {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: 0,
            lo_sizelimit: 0,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: 0,
            lo_file_name: [0; 64],
            lo_crypt_name: [0; 64],
            lo_encrypt_key: [0; 32],
            lo_init: [0; 2],
        }
    }
}

/// `struct loop_config` (304 bytes).
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// What a loop device is bound to (`LOOP_GET_STATUS64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopStatus {
    /// Offset into the backing file.
    pub offset: u64,
    /// Size limit (0 = to the end of the file).
    pub sizelimit: u64,
    /// `LO_FLAGS_*`.
    pub flags: u32,
    /// Inode number of the backing file.
    pub inode: u64,
    /// Device of the backing file.
    pub device: u64,
}

/// `LOOP_CTL_GET_FREE`: the number of a free loop device (allocating one if needed).
pub fn get_free(control: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: the request takes no argument; `control` is an open descriptor borrowed for
    // the duration of the call.
    let rc = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(rc).map_err(|_| io::Error::other("negative loop number"))
}

/// `LOOP_CONFIGURE`: binds `backing` to the loop device `dev` over
/// `[offset, offset + sizelimit)` with `flags` (`FLAG_*`).
pub fn configure(
    dev: BorrowedFd<'_>,
    backing: BorrowedFd<'_>,
    offset: u64,
    sizelimit: u64,
    flags: u32,
) -> io::Result<()> {
    let fd = u32::try_from(backing.as_raw_fd())
        .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let mut info = LoopInfo64::zeroed();
    info.lo_offset = offset;
    info.lo_sizelimit = sizelimit;
    info.lo_flags = flags;
    let cfg = LoopConfig {
        fd,
        block_size: 0,
        info,
        reserved: [0; 8],
    };
    // SAFETY: `cfg` is a fully initialised `struct loop_config` living on this stack frame for
    // the whole call; the kernel only reads it. Both descriptors are open (borrowed).
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE, std::ptr::from_ref(&cfg)) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `LOOP_GET_STATUS64`: what `dev` is bound to (`ENXIO` when unbound).
pub fn status(dev: BorrowedFd<'_>) -> io::Result<LoopStatus> {
    let mut info = LoopInfo64::zeroed();
    // SAFETY: the kernel writes exactly one `struct loop_info64` through the pointer, which
    // points at a live, correctly sized local; `dev` is open for the call.
    let rc = unsafe {
        libc::ioctl(
            dev.as_raw_fd(),
            LOOP_GET_STATUS64,
            std::ptr::from_mut(&mut info),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(LoopStatus {
        offset: info.lo_offset,
        sizelimit: info.lo_sizelimit,
        flags: info.lo_flags,
        inode: info.lo_inode,
        device: info.lo_device,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_struct_sizes_match_the_kernel() {
        assert_eq!(size_of::<LoopInfo64>(), 232);
        assert_eq!(size_of::<LoopConfig>(), 304);
    }
}
