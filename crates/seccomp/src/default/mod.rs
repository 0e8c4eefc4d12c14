// SPDX-License-Identifier: Apache-2.0
//! The default profile (`stockade-oci spec`, and `stockade` containers): an allowlist with
//! default action `SCMP_ACT_ERRNO` (EPERM), written for this project in the spirit of moby's.
//!
//! Conditional rules, each portable to any OCI runtime (one condition per entry, so no
//! runtime-specific AND/OR reading of repeated indices):
//! * `clone` only without `CLONE_NEW*` flags; `clone3` → ENOSYS so libc falls back to `clone`.
//! * `personality` only for PER_LINUX, PER_LINUX32, UNAME26 and the query value
//!   (CVE-2009-1895: personality flags such as `MMAP_PAGE_ZERO`/`ADDR_NO_RANDOMIZE` weaken a
//!   setuid program).
//! * `ioctl` except `TIOCSTI` and `TIOCLINUX`: pushing characters into the terminal's input
//!   queue makes the *host* shell run them after the container exits (CVE-2017-5226
//!   bubblewrap, CVE-2023-28100 flatpak). The kernel reads `cmd` as 32 bits, so only the low
//!   word is compared (CVE-2019-10063: a 64-bit compare is bypassed with high bits set).
//! * `socket` except `AF_VSOCK` (CVE-2021-26708), for families below 64, low word only.
//!
//! Explicit denials, with reasons, are in `deny.rs`; the allowlist in `allow.rs`.

mod allow;
mod deny;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

/// `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
/// CLONE_NEWPID | CLONE_NEWNET` (`CLONE_NEWTIME` only exists for clone3/unshare).
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7e02_0000;
/// `personality` values allowed: PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, query.
pub const ALLOWED_PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];
/// `ioctl` requests refused: TIOCSTI, TIOCLINUX.
pub const DENIED_IOCTLS: &[u32] = &[0x5412, 0x541c];
/// Socket families refused: AF_VSOCK.
pub const DENIED_SOCKET_FAMILIES: &[u32] = &[40];

/// The default seccomp profile.
pub fn default_profile() -> LinuxSeccomp {
    let mut rules = vec![rule(
        allow::allowed(),
        LinuxSeccompAction::ScmpActAllow,
        None,
        vec![],
    )];
    let clone_index = if cfg!(target_arch = "s390x") { 1 } else { 0 };
    rules.push(allow_if("clone", clone_index, CLONE_NAMESPACE_FLAGS, 0));
    for &p in ALLOWED_PERSONALITIES {
        rules.push(allow_if("personality", 0, u64::MAX, p));
    }
    for (mask, value) in low_word_cover(DENIED_IOCTLS, 32) {
        rules.push(allow_if("ioctl", 1, mask, value));
    }
    for (mask, value) in low_word_cover(DENIED_SOCKET_FAMILIES, 6) {
        rules.push(allow_if("socket", 0, mask, value));
    }
    let enosys = libc::ENOSYS.unsigned_abs();
    rules.push(rule(
        ["clone3"],
        LinuxSeccompAction::ScmpActErrno,
        Some(enosys),
        vec![],
    ));
    for denied in deny::DENIED {
        let names = denied.names.iter().copied();
        rules.push(rule(
            names,
            LinuxSeccompAction::ScmpActErrno,
            Some(EPERM),
            vec![],
        ));
    }
    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(LinuxSeccompAction::ScmpActErrno);
    profile.set_default_errno_ret(Some(EPERM));
    profile.set_architectures(Some(architectures()));
    profile.set_syscalls(Some(rules));
    profile
}

const EPERM: u32 = libc::EPERM.unsigned_abs();

/// The families the default profile denies explicitly: `(syscalls, reason)`, for
/// documentation and for suites that probe each family inside a container.
pub fn denied_families() -> impl Iterator<Item = (&'static [&'static str], &'static str)> {
    deny::DENIED.iter().map(|d| (d.names, d.reason))
}

/// The native ABI only. Each compat ABI (i386, x32; arm on arm64) costs 6-9 ms of libseccomp
/// compile time per container start and adds the compat syscall layer to the attack surface;
/// a 32-bit program is killed (SIGSYS) unless a profile lists its ABI.
fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

fn rule<'a>(
    names: impl IntoIterator<Item = &'a str>,
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    args: Vec<LinuxSeccompArg>,
) -> LinuxSyscall {
    let mut r = LinuxSyscall::default();
    r.set_names(names.into_iter().map(str::to_owned).collect());
    r.set_action(action);
    r.set_errno_ret(errno_ret);
    r.set_args((!args.is_empty()).then_some(args));
    r
}

/// ALLOW `name` when `(arg[index] & mask) == value`.
fn allow_if(name: &str, index: usize, mask: u64, value: u64) -> LinuxSyscall {
    let arg = LinuxSeccompArgBuilder::default().index(index);
    let arg = if mask == u64::MAX {
        arg.op(LinuxSeccompOperator::ScmpCmpEq).value(value)
    } else {
        arg.op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .value(mask)
            .value_two(value)
    };
    let arg = arg
        .build()
        .expect("every field of LinuxSeccompArg has a default");
    rule([name], LinuxSeccompAction::ScmpActAllow, None, vec![arg])
}

/// `(mask, value)` pairs whose union is exactly `{x : low32(x) < 2^width, low32(x) ∉ denied}`
/// under `(x & mask) == value`: a prefix cover of the binary trie of 32-bit values. High
/// 32 bits are never compared (the kernel truncates these `int`/`unsigned int` arguments).
pub(crate) fn low_word_cover(denied: &[u32], width: u32) -> Vec<(u64, u64)> {
    fn walk(denied: &[u32], width: u32, depth: u32, prefix: u64, out: &mut Vec<(u64, u64)>) {
        let shift = width - depth;
        let hit = denied
            .iter()
            .map(|d| u64::from(*d))
            .any(|d| d < (1u64 << width) && d >> shift == prefix);
        if !hit {
            out.push(((0xffff_ffffu64 << shift) & 0xffff_ffff, prefix << shift));
        } else if depth < width {
            walk(denied, width, depth + 1, prefix << 1, out);
            walk(denied, width, depth + 1, (prefix << 1) | 1, out);
        }
    }
    let mut out = Vec::new();
    walk(denied, width.min(32), 0, 0, &mut out);
    out
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
