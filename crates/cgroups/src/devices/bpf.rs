// SPDX-License-Identifier: Apache-2.0
//! cgroup v2 device filter: a [`DeviceState`] compiled to eBPF and attached to the container's
//! cgroup directory (`BPF_CGROUP_DEVICE`, multi mode), replacing what we attached before.
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! (`access_type` = access bits << 16 | device type) into r2 = type, r3 = access, r4 = major,
//! r5 = minor, then tests one block per exception in turn:
//!
//! ```text
//! if r2 != TYPE  goto next        (omitted for no type: never, exceptions are b or c)
//! r1 = r3 & MASK; if r1 ... goto next   allow-list: MASK = ~access, need r1 == 0
//!                                       deny-list:  MASK = access,  need r1 != 0
//! if r4 != MAJOR goto next        (omitted for *)
//! if r5 != MINOR goto next        (omitted for *)
//! r0 = VERDICT; exit              allow-list: 1, deny-list: 0
//! ```
//!
//! and ends with `r0 = default; exit`. That is exactly the v1 kernel check
//! ([`DeviceState::check`]): order does not matter since every block has the same verdict.

use std::ffi::CStr;
use std::os::fd::AsFd;

use stockade_sys::bpf::{self as sys, Insn};

use super::{ACC_ALL, DevType, DeviceState};
use crate::error::{CgroupError, Result};
use crate::fsio::CgDir;

const LDX_MEM_W: u8 = 0x61;
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;
/// `BPF_DEVCG_DEV_BLOCK` / `BPF_DEVCG_DEV_CHAR`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const LICENSE: &CStr = c"Apache-2.0";

/// Compiles the state to a device program.
pub fn program(state: &DeviceState) -> Vec<Insn> {
    let mut p = vec![
        Insn::new(LDX_MEM_W, 2, 1, 0, 0),
        Insn::new(ALU64_AND_K, 2, 0, 0, 0xffff),
        Insn::new(LDX_MEM_W, 3, 1, 0, 0),
        Insn::new(ALU64_RSH_K, 3, 0, 0, 16),
        Insn::new(LDX_MEM_W, 4, 1, 4, 0),
        Insn::new(LDX_MEM_W, 5, 1, 8, 0),
    ];
    let allow_list = !state.default_allow;
    for (&(typ, major, minor), &access) in &state.exceptions {
        // Each test is (insns before the jump, jump opcode, register, immediate).
        let mut tests: Vec<(Vec<Insn>, u8, u8, i32)> = Vec::new();
        let t = match typ {
            DevType::Block => DEV_BLOCK,
            DevType::Char => DEV_CHAR,
        };
        tests.push((vec![], JMP_JNE_K, 2, t));
        if access != ACC_ALL {
            let (mask, jump) = if allow_list {
                (!access & ACC_ALL, JMP_JNE_K)
            } else {
                (access, JMP_JEQ_K)
            };
            let pre = vec![
                Insn::new(ALU64_MOV_X, 1, 3, 0, 0),
                Insn::new(ALU64_AND_K, 1, 0, 0, i32::from(mask)),
            ];
            tests.push((pre, jump, 1, 0));
        }
        for (reg, num) in [(4, major), (5, minor)] {
            if let Some(n) = num {
                // dev_number() keeps numbers within i32.
                tests.push((vec![], JMP_JNE_K, reg, i32::try_from(n).unwrap_or(i32::MAX)));
            }
        }
        let len: usize = tests.iter().map(|(pre, ..)| pre.len() + 1).sum::<usize>() + 2;
        let mut at = 0;
        for (pre, jump, reg, imm) in tests {
            at += pre.len() + 1;
            p.extend(pre);
            let skip = i16::try_from(len - at).unwrap_or(i16::MAX);
            p.push(Insn::new(jump, reg, 0, skip, imm));
        }
        p.push(Insn::new(ALU64_MOV_K, 0, 0, 0, i32::from(allow_list)));
        p.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    }
    p.push(Insn::new(
        ALU64_MOV_K,
        0,
        0,
        0,
        i32::from(state.default_allow),
    ));
    p.push(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// Loads the program for `state` and attaches it to `dir`, replacing the programs attached
/// there before (atomically when there was exactly one). An allow-everything state detaches
/// our programs and attaches none.
pub(crate) fn install(dir: CgDir<'_>, state: &DeviceState) -> Result<()> {
    let err = |step, source| CgroupError::DeviceFilter {
        step,
        path: dir.path().to_path_buf(),
        source,
    };
    let old = sys::query_cgroup_device(dir.as_fd()).map_err(|e| err("query", e))?;
    let old_fds: Vec<_> = old
        .iter()
        .filter_map(|id| sys::prog_fd_by_id(*id).ok())
        .collect();
    if state.default_allow && state.exceptions.is_empty() {
        for fd in &old_fds {
            sys::detach_cgroup_device(dir.as_fd(), fd.as_fd()).map_err(|e| err("detach", e))?;
        }
        return Ok(());
    }
    let prog =
        sys::load_cgroup_device_prog(&program(state), LICENSE).map_err(|e| err("load", e))?;
    if let [only] = old_fds.as_slice()
        && sys::attach_cgroup_device(dir.as_fd(), prog.as_fd(), Some(only.as_fd())).is_ok()
    {
        return Ok(());
    }
    sys::attach_cgroup_device(dir.as_fd(), prog.as_fd(), None).map_err(|e| err("attach", e))?;
    for fd in &old_fds {
        sys::detach_cgroup_device(dir.as_fd(), fd.as_fd()).map_err(|e| err("detach", e))?;
    }
    Ok(())
}
