// SPDX-License-Identifier: Apache-2.0
//! The few `bpf(2)` commands a cgroup v2 device filter needs: load a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program, attach it to a cgroup directory (atomically replacing
//! an older one when there is exactly one), list and detach what is attached.
//!
//! Each command has its own `#[repr(C)]` prefix of `union bpf_attr` (linux/bpf.h); the kernel
//! accepts a shorter attribute and zero-fills the rest. The instructions themselves are built
//! by safe code (`stockade-cgroups::devices::bpf`) from [`Insn`] values.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

/// `BPF_PROG_TYPE_CGROUP_DEVICE`.
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` attach type.
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_F_REPLACE: u32 = 4;
/// Most programs we list on one cgroup (the kernel allows 64 per attach point).
const MAX_QUERY: u32 = 64;
/// Size of the verifier log requested after a failed load.
const LOG_SIZE: u32 = 64 * 1024;

/// One eBPF instruction (`struct bpf_insn`): opcode, dst/src registers, offset, immediate.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode (class | size/op | source).
    pub code: u8,
    regs: u8,
    /// Signed jump / memory offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// Builds an instruction; `dst` and `src` are register numbers 0..=10.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
    /// Destination register.
    pub const fn dst(&self) -> u8 {
        self.regs & 0x0f
    }
    /// Source register.
    pub const fn src(&self) -> u8 {
        self.regs >> 4
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Runs one `bpf(2)` command on a fully initialised attribute struct.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is an exclusively borrowed, initialised #[repr(C)] prefix of
    // `union bpf_attr` for `cmd`, valid for `size_of::<T>()` bytes for the whole call; every
    // pointer stored inside it (instructions, license, log, id array) is set by our callers
    // from live borrows that outlive this call. The kernel writes back only within the struct.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_mut(attr),
            size_of::<T>() as libc::c_ulong,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let raw = i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    // SAFETY: the kernel just returned `raw` as a new descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // Open descriptors are never negative.
    u32::try_from(fd.as_raw_fd()).unwrap_or(u32::MAX)
}

/// Loads a cgroup device program. On a verifier rejection the returned error carries the
/// verifier log (last lines) in its message.
pub fn load_cgroup_device_prog(insns: &[Insn], license: &CStr) -> io::Result<OwnedFd> {
    let insn_cnt =
        u32::try_from(insns.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut attr = ProgLoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..9].copy_from_slice(b"stockade\0");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => owned_fd(fd),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EACCES)) => {
            let mut log = vec![0u8; LOG_SIZE as usize];
            attr.log_level = 1;
            attr.log_size = LOG_SIZE;
            attr.log_buf = log.as_mut_ptr() as u64;
            let again = bpf(BPF_PROG_LOAD, &mut attr);
            if let Ok(fd) = again {
                return owned_fd(fd);
            }
            let text = String::from_utf8_lossy(log.split(|b| *b == 0).next().unwrap_or(&[]))
                .lines()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .join(" | ");
            Err(io::Error::new(e.kind(), format!("{e} (verifier: {text})")))
        }
        Err(e) => Err(e),
    }
}

/// Attaches `prog` to the cgroup directory `cgroup` as a device filter (multi mode), atomically
/// replacing `replace` when given.
pub fn attach_cgroup_device(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    replace: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    if let Some(old) = replace {
        attr.attach_flags |= BPF_F_REPLACE;
        attr.replace_bpf_fd = fd_u32(old);
    }
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches `prog` from the device-filter attach point of `cgroup`.
pub fn detach_cgroup_device(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type: ATTACH_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Ids of the device programs attached directly to `cgroup` (not inherited ones).
pub fn query_cgroup_device(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = [0u32; MAX_QUERY as usize];
    let mut attr = QueryAttr {
        target_fd: fd_u32(cgroup),
        attach_type: ATTACH_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: MAX_QUERY,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    let n = attr.prog_cnt.min(MAX_QUERY) as usize;
    Ok(ids[..n].to_vec())
}

/// Opens a loaded program by id.
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    owned_fd(bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_layout_matches_struct_bpf_insn() {
        assert_eq!(size_of::<Insn>(), 8);
        let i = Insn::new(0xbf, 1, 3, -2, 7);
        assert_eq!((i.dst(), i.src(), i.off, i.imm), (1, 3, -2, 7));
        assert_eq!(size_of::<ProgLoadAttr>(), 64);
        assert_eq!(size_of::<QueryAttr>(), 32);
    }
}
