// SPDX-License-Identifier: Apache-2.0
//! Scheduling attributes of the calling process that `rustix` has no call for:
//! `ioprio_set(2)`, `sched_setattr(2)` and `set_mempolicy(2)` (runtime-spec 1.2
//! `process.ioPriority`, `process.scheduler`, `linux.memoryPolicy`).

use std::io;

/// `IOPRIO_WHO_PROCESS`.
const IOPRIO_WHO_PROCESS: libc::c_long = 1;
/// Bits of the class in an I/O priority value.
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, class << 13 | level)` on the calling thread (with no
/// thread started yet, the whole process): `class` 1 (RT), 2 (BE), 3 (IDLE), `level` 0..=7.
pub fn ioprio_set_self(class: u32, level: u32) -> io::Result<()> {
    if class > 3 || level > 7 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let value = libc::c_long::from((class << IOPRIO_CLASS_SHIFT) | level);
    // SAFETY: integer arguments only; the call changes the caller's I/O priority.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `struct sched_attr` (`SCHED_ATTR_SIZE_VER0` layout, 48 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    size: u32,
    /// `SCHED_OTHER` 0, `FIFO` 1, `RR` 2, `BATCH` 3, `IDLE` 5, `DEADLINE` 6.
    pub policy: u32,
    /// `SCHED_FLAG_*` bits.
    pub flags: u64,
    /// Nice value (`SCHED_OTHER`, `SCHED_BATCH`).
    pub nice: i32,
    /// Static priority (`SCHED_FIFO`, `SCHED_RR`: 1..=99).
    pub priority: u32,
    /// `SCHED_DEADLINE` runtime, ns.
    pub runtime: u64,
    /// `SCHED_DEADLINE` deadline, ns.
    pub deadline: u64,
    /// `SCHED_DEADLINE` period, ns.
    pub period: u64,
}

/// `sched_setattr(0, attr, 0)`: the calling thread's policy and parameters.
pub fn sched_setattr_self(attr: &SchedAttr) -> io::Result<()> {
    let mut a = *attr;
    a.size = u32::try_from(size_of::<SchedAttr>()).map_err(|_| io::Error::other("size"))?;
    // SAFETY: `a` is a fully initialised `struct sched_attr` of the size it declares and
    // outlives the call, which only reads it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0 as libc::pid_t,
            std::ptr::addr_of!(a),
            0 as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `set_mempolicy(mode, nodemask, maxnode)` for the calling thread; `mode` includes the
/// `MPOL_F_*` flags, `nodes` is the node mask as 64-bit words (empty: no mask).
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if nodes.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // the kernel reads maxnode - 1 bits; one more than we hold is the usual idiom
        (nodes.as_ptr(), nodes.len() * 64 + 1)
    };
    // SAFETY: `ptr` is null or points to `nodes`, which holds at least `maxnode - 1` bits
    // and outlives the call; the kernel only reads it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_set_mempolicy,
            libc::c_long::from(mode),
            ptr,
            maxnode as libc::c_ulong,
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
    fn test_sched_attr_layout() {
        assert_eq!(size_of::<SchedAttr>(), 48);
    }

    #[test]
    fn test_ioprio_refuses_bad_values_and_lowers_this_thread() {
        assert!(ioprio_set_self(4, 0).is_err());
        assert!(ioprio_set_self(2, 8).is_err());
        // a test thread of its own: best-effort level 7 (lowering needs no privilege)
        std::thread::spawn(|| ioprio_set_self(2, 7).unwrap())
            .join()
            .unwrap();
    }

    #[test]
    fn test_default_mempolicy_is_accepted() {
        // MPOL_DEFAULT without nodes resets to the default: harmless for the test process
        set_mempolicy(0, &[]).unwrap();
    }
}
