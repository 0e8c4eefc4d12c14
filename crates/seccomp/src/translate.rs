// SPDX-License-Identifier: Apache-2.0
//! OCI profile values to libseccomp and kernel values: actions, architectures, comparison
//! operators and filter flags.

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp};
use oci_spec::runtime::{
    Arch, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use stockade_sys::seccomp as sys;

use crate::SeccompError;

/// The largest errno the kernel passes back (`MAX_ERRNO`).
const MAX_ERRNO: u32 = 4095;

/// Maps an OCI action (with its `errnoRet`) to libseccomp's. `SCMP_ACT_ERRNO` without
/// `errnoRet` returns EPERM; `SCMP_ACT_TRACE` passes `errnoRet` (default EPERM) to the tracer;
/// `SCMP_ACT_KILL` is the historical name of `SCMP_ACT_KILL_THREAD`.
pub(crate) fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    context: impl FnOnce() -> String,
) -> Result<ScmpAction, SeccompError> {
    use LinuxSeccompAction as A;
    let value = errno_ret.unwrap_or(libc::EPERM.unsigned_abs());
    let out_of_range = |value| SeccompError::ErrnoOutOfRange {
        context: context(),
        value,
    };
    Ok(match action {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => {
            let errno = i32::try_from(value).ok().filter(|_| value <= MAX_ERRNO);
            ScmpAction::Errno(errno.ok_or_else(|| out_of_range(value))?)
        }
        A::ScmpActTrace => {
            ScmpAction::Trace(u16::try_from(value).map_err(|_| out_of_range(value))?)
        }
        A::ScmpActNotify => ScmpAction::Notify,
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
    })
}

/// How strict an action is, in the kernel's precedence order (higher wins when several
/// filters or rules apply).
pub(crate) fn strictness(action: ScmpAction) -> u8 {
    match action {
        ScmpAction::KillProcess => 7,
        ScmpAction::KillThread => 6,
        ScmpAction::Trap => 5,
        ScmpAction::Errno(_) => 4,
        ScmpAction::Notify => 3,
        ScmpAction::Trace(_) => 2,
        ScmpAction::Log => 1,
        _ => 0,
    }
}

/// A short name for messages, e.g. `SCMP_ACT_ERRNO(13)`.
pub(crate) fn action_name(action: ScmpAction) -> String {
    match action {
        ScmpAction::KillProcess => "SCMP_ACT_KILL_PROCESS".into(),
        ScmpAction::KillThread => "SCMP_ACT_KILL_THREAD".into(),
        ScmpAction::Trap => "SCMP_ACT_TRAP".into(),
        ScmpAction::Errno(e) => format!("SCMP_ACT_ERRNO({e})"),
        ScmpAction::Trace(t) => format!("SCMP_ACT_TRACE({t})"),
        ScmpAction::Notify => "SCMP_ACT_NOTIFY".into(),
        ScmpAction::Log => "SCMP_ACT_LOG".into(),
        _ => "SCMP_ACT_ALLOW".into(),
    }
}

/// Maps an OCI architecture; `None` for `SCMP_ARCH_NATIVE` (always present).
pub(crate) fn arch(arch: Arch) -> Option<ScmpArch> {
    Some(match arch {
        Arch::ScmpArchNative => return None,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    })
}

/// Maps one argument condition. For `SCMP_CMP_MASKED_EQ`, `value` is the mask and
/// `valueTwo` the value compared with `arg & mask` (runc and libseccomp order).
pub(crate) fn condition(arg: &LinuxSeccompArg, name: &str) -> Result<ScmpArgCompare, SeccompError> {
    use LinuxSeccompOperator as O;
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| *i <= 5)
        .ok_or_else(|| SeccompError::ArgIndex {
            name: name.to_owned(),
            index: arg.index(),
        })?;
    let value = arg.value();
    let op = match arg.op() {
        O::ScmpCmpNe => ScmpCompareOp::NotEqual,
        O::ScmpCmpLt => ScmpCompareOp::Less,
        O::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        O::ScmpCmpEq => ScmpCompareOp::Equal,
        O::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        O::ScmpCmpGt => ScmpCompareOp::Greater,
        O::ScmpCmpMaskedEq => {
            let datum = arg.value_two().unwrap_or(0);
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(value),
                datum,
            ));
        }
    };
    Ok(ScmpArgCompare::new(index, op, value))
}

/// Maps the OCI filter flags to `SECCOMP_FILTER_FLAG_*` bits.
pub(crate) fn flags(flags: &[LinuxSeccompFilterFlag]) -> u32 {
    flags.iter().fold(0, |bits, flag| {
        bits | match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => sys::FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => sys::FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => sys::FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                sys::FLAG_WAIT_KILLABLE_RECV
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompArgBuilder;

    fn ctx() -> String {
        "test".into()
    }

    #[test]
    fn errno_defaults_to_eperm_and_is_bounded() {
        let errno = LinuxSeccompAction::ScmpActErrno;
        assert_eq!(
            action(errno, None, ctx).unwrap(),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(action(errno, Some(38), ctx).unwrap(), ScmpAction::Errno(38));
        assert_eq!(action(errno, Some(0), ctx).unwrap(), ScmpAction::Errno(0));
        // 65536 would wrap to errno 0 ("success") in a 16-bit field: refused.
        let err = action(errno, Some(65536), ctx).unwrap_err();
        assert_eq!(
            err.to_string(),
            "errnoRet 65536 of test is out of range 0..=4095"
        );
        assert!(action(errno, Some(4096), ctx).is_err());
        let trace = LinuxSeccompAction::ScmpActTrace;
        assert_eq!(
            action(trace, Some(5000), ctx).unwrap(),
            ScmpAction::Trace(5000)
        );
        assert!(action(trace, Some(70000), ctx).is_err());
    }

    #[test]
    fn kill_is_kill_thread() {
        let kill = action(LinuxSeccompAction::ScmpActKill, None, ctx).unwrap();
        assert_eq!(kill, ScmpAction::KillThread);
        assert!(strictness(ScmpAction::KillProcess) > strictness(kill));
        assert!(strictness(ScmpAction::Errno(1)) > strictness(ScmpAction::Notify));
        assert!(strictness(ScmpAction::Log) > strictness(ScmpAction::Allow));
    }

    #[test]
    fn arches_map_and_native_is_implicit() {
        assert_eq!(arch(Arch::ScmpArchNative), None);
        assert_eq!(arch(Arch::ScmpArchX86_64), Some(ScmpArch::X8664));
        assert_eq!(arch(Arch::ScmpArchX32), Some(ScmpArch::X32));
        assert_eq!(arch(Arch::ScmpArchAarch64), Some(ScmpArch::Aarch64));
        assert_eq!(arch(Arch::ScmpArchArm), Some(ScmpArch::Arm));
    }

    #[test]
    fn masked_eq_uses_value_as_mask() {
        let arg = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(0x7e02_0000u64)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()
            .unwrap();
        let want = ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(0x7e02_0000), 0);
        assert_eq!(condition(&arg, "clone").unwrap(), want);
        let arg = LinuxSeccompArgBuilder::default()
            .index(6usize)
            .value(1u64)
            .op(LinuxSeccompOperator::ScmpCmpEq)
            .build()
            .unwrap();
        let err = condition(&arg, "read").unwrap_err();
        assert_eq!(
            err.to_string(),
            "argument index 6 of syscall read is out of range 0..=5"
        );
    }

    #[test]
    fn flags_map_to_kernel_bits() {
        use LinuxSeccompFilterFlag as F;
        assert_eq!(flags(&[]), 0);
        let all = [
            F::SeccompFilterFlagTsync,
            F::SeccompFilterFlagLog,
            F::SeccompFilterFlagSpecAllow,
        ];
        assert_eq!(flags(&all), 0b111);
        assert_eq!(flags(&[F::SeccompFilterFlagWaitKillableRecv]), 1 << 5);
    }
}
