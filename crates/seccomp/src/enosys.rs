// SPDX-License-Identifier: Apache-2.0
//! The ENOSYS prologue: syscalls newer than any the profile names fail with `ENOSYS`.
//!
//! With a default action of `SCMP_ACT_ERRNO(EPERM)`, a syscall the profile has never heard of
//! (added to the kernel after the profile, or unknown to this libseccomp) fails with EPERM,
//! and libc treats EPERM as a real refusal instead of falling back to an older call (glibc
//! does fall back on ENOSYS: `clone3` → `clone`, `fchmodat2` → `fchmodat`, `faccessat2` →
//! `faccessat`). runc solves this by patching the BPF; we do the same in spirit: a short
//! prologue, per architecture we know the audit number of, returns `ERRNO(ENOSYS)` when the
//! syscall number is above the highest one the profile names for that architecture, and
//! falls through to libseccomp's program otherwise. Only for a default `SCMP_ACT_ERRNO`
//! (other than ENOSYS): KILL/TRAP defaults keep their exact meaning. x32 (numbers with bit
//! 30 set) always falls through.

use libseccomp::{ScmpAction, ScmpArch, ScmpSyscall};
use stockade_sys::seccomp::SockFilter;

use crate::plan::Plan;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// Audit architecture numbers (`AUDIT_ARCH_*`) of the ABIs the prologue covers.
fn audit_arch(arch: ScmpArch) -> Option<u32> {
    match arch {
        ScmpArch::X8664 => Some(0xc000_003e),
        ScmpArch::X86 => Some(0x4000_0003),
        ScmpArch::Aarch64 => Some(0xc000_00b7),
        ScmpArch::Arm => Some(0x4000_0028),
        _ => None,
    }
}

/// `(audit arch, highest syscall number named, is x86_64)` for each covered architecture.
fn limits(plan: &Plan) -> Vec<(u32, u32, bool)> {
    let mut arches: Vec<ScmpArch> = plan.arches.iter().map(|(a, _)| *a).collect();
    arches.push(ScmpArch::native());
    let mut out: Vec<(u32, u32, bool)> = Vec::new();
    for arch in arches {
        let Some(audit) = audit_arch(arch) else {
            continue;
        };
        if out.iter().any(|(a, _, _)| *a == audit) {
            continue;
        }
        let max = plan
            .known_names
            .iter()
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            .filter_map(|s| u32::try_from(i32::from(s)).ok())
            .filter(|nr| *nr < X32_SYSCALL_BIT)
            .max();
        if let Some(max) = max {
            out.push((audit, max, arch == ScmpArch::X8664));
        }
    }
    out
}

/// Returns the prologue to put in front of libseccomp's program (empty when not wanted).
pub(crate) fn prologue(plan: &Plan) -> Vec<SockFilter> {
    match plan.default {
        ScmpAction::Errno(e) if e != libc::ENOSYS => {}
        _ => return Vec::new(),
    }
    let arches = limits(plan);
    if arches.is_empty() {
        return Vec::new();
    }
    // Layout: ld arch; one jeq per arch; ja END; per-arch blocks; ret ENOSYS; END.
    let n = arches.len();
    let block_len = |x86_64: bool| if x86_64 { 3 } else { 2 };
    let mut starts = Vec::with_capacity(n);
    let mut pos = n + 2;
    for &(_, _, x86_64) in &arches {
        starts.push(pos);
        pos += block_len(x86_64);
    }
    let enosys = pos;
    let end = enosys + 1;
    let off = |from: usize, to: usize| u8::try_from(to - from - 1).expect("prologue is short");
    let mut prog = vec![stmt(BPF_LD_W_ABS, OFFSET_ARCH)];
    for (i, &(audit, _, _)) in arches.iter().enumerate() {
        prog.push(jump(BPF_JMP_JEQ_K, audit, off(1 + i, starts[i]), 0));
    }
    let ja = u32::try_from(end - (n + 2)).expect("prologue is short");
    prog.push(stmt(BPF_JMP_JA, ja));
    for (i, &(_, max, x86_64)) in arches.iter().enumerate() {
        prog.push(stmt(BPF_LD_W_ABS, OFFSET_NR));
        if x86_64 {
            prog.push(jump(
                BPF_JMP_JGE_K,
                X32_SYSCALL_BIT,
                off(starts[i] + 1, end),
                0,
            ));
        }
        let at = prog.len();
        prog.push(jump(BPF_JMP_JGT_K, max, off(at, enosys), off(at, end)));
    }
    prog.push(stmt(
        BPF_RET_K,
        SECCOMP_RET_ERRNO | libc::ENOSYS.unsigned_abs(),
    ));
    debug_assert_eq!(prog.len(), end);
    prog
}

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Data, run};
    use crate::{compile, parse_profile};

    const AUDIT_X86_64: u32 = 0xc000_003e;
    const ALLOW: u32 = 0x7fff_0000;

    fn filter(json: &str) -> Vec<SockFilter> {
        compile(&parse_profile(json.as_bytes()).unwrap())
            .unwrap()
            .program()
            .to_vec()
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn newer_syscalls_get_enosys_older_ones_the_default() {
        let prog = filter(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[{"names":["read","write","openat2"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let call = |nr| {
            run(
                &prog,
                &Data {
                    nr,
                    arch: AUDIT_X86_64,
                    args: [0; 6],
                },
            )
        };
        assert_eq!(call(0), ALLOW); // read
        assert_eq!(call(437), ALLOW); // openat2, the highest named
        assert_eq!(call(2), SECCOMP_RET_ERRNO | 1); // open: older, not allowed → EPERM
        assert_eq!(call(438), SECCOMP_RET_ERRNO | 38); // pidfd_getfd: newer → ENOSYS
        assert_eq!(call(462), SECCOMP_RET_ERRNO | 38);
        // i386: its own table (read = 3, openat2 = 437).
        let i386 = |nr| {
            run(
                &prog,
                &Data {
                    nr,
                    arch: 0x4000_0003,
                    args: [0; 6],
                },
            )
        };
        assert_eq!(i386(3), ALLOW);
        assert_eq!(i386(500), SECCOMP_RET_ERRNO | 38);
        // x32 numbers fall through to libseccomp, which kills an ABI not in the filter.
        let x32 = run(
            &prog,
            &Data {
                nr: X32_SYSCALL_BIT | 500,
                arch: AUDIT_X86_64,
                args: [0; 6],
            },
        );
        assert_eq!(x32, 0x8000_0000, "SECCOMP_RET_KILL_PROCESS");
    }

    #[test]
    fn no_prologue_for_allow_kill_or_enosys_defaults() {
        for default in [
            r#""SCMP_ACT_ALLOW""#,
            r#""SCMP_ACT_KILL_PROCESS""#,
            r#""SCMP_ACT_ERRNO","defaultErrnoRet":38"#,
        ] {
            let json = format!(
                r#"{{"defaultAction":{default},"syscalls":[{{"names":["read"],"action":"SCMP_ACT_LOG"}}]}}"#
            );
            let plan = crate::plan::build(&parse_profile(json.as_bytes()).unwrap()).unwrap();
            assert!(prologue(&plan).is_empty(), "{default}");
        }
        let json = br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let plan = crate::plan::build(&parse_profile(json).unwrap()).unwrap();
        assert!(!prologue(&plan).is_empty());
    }
}
