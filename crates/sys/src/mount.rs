// SPDX-License-Identifier: Apache-2.0
//! `mount_setattr(2)` (Linux 5.12), which `rustix` does not wrap: changes the flags and the
//! propagation of a mount, or of a whole mount tree with `AT_RECURSIVE`, through an fd.
//!
//! JUSTIFICATION: the alternative, `mount(MS_REMOUNT|MS_BIND)`, needs a path (or a
//! `/proc/self/fd` magic link) and cannot act recursively; this call works on an fd from
//! `open_tree`/`fsmount`/`openat2` without resolving anything.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `MOUNT_ATTR_*` bits and a propagation type (`MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`,
/// `MS_UNBINDABLE`, or 0 to leave it) for [`mount_setattr`]; same layout as `struct mount_attr`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    /// Attributes to set.
    pub attr_set: u64,
    /// Attributes to clear (for atime: `MOUNT_ATTR__ATIME` to replace the atime mode).
    pub attr_clr: u64,
    /// New propagation type, 0 to keep.
    pub propagation: u64,
    /// User namespace fd for `MOUNT_ATTR_IDMAP`; unused here, always 0.
    pub userns_fd: u64,
}

/// `AT_EMPTY_PATH`: act on `dirfd` itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `AT_RECURSIVE`: act on every mount of the tree.
pub const AT_RECURSIVE: u32 = 0x8000;
/// `AT_SYMLINK_NOFOLLOW`: do not follow a final symlink.
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;

/// `mount_setattr(dirfd, path, flags, attr)`. Use an empty `path` with [`AT_EMPTY_PATH`] to
/// change the mount `dirfd` refers to.
pub fn mount_setattr(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u32,
    attr: &MountAttr,
) -> io::Result<()> {
    // SAFETY: `path` is a valid NUL-terminated string for the call's duration; `attr` points to
    // a live, correctly laid-out `struct mount_attr` whose size is passed alongside; the kernel
    // only reads both. `dirfd` is a borrowed, open descriptor.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            libc::c_uint::from(flags),
            std::ptr::from_ref(attr),
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_attr_has_the_kernel_layout() {
        // MOUNT_ATTR_SIZE_VER0 is 32.
        assert_eq!(std::mem::size_of::<MountAttr>(), 32);
    }

    #[test]
    fn bad_fd_is_an_error_not_a_crash() {
        let f = std::fs::File::open("/").expect("open /");
        let fd = std::os::fd::AsFd::as_fd(&f);
        // Unknown attribute bits are refused by the kernel with EINVAL.
        let attr = MountAttr {
            attr_set: 1 << 40,
            ..MountAttr::default()
        };
        assert!(mount_setattr(fd, c"", AT_EMPTY_PATH, &attr).is_err());
    }
}
