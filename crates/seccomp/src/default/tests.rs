// SPDX-License-Identifier: Apache-2.0
//! Unit tests of the default profile: content, and verdicts of its compiled program.

use std::collections::HashSet;

use libseccomp::{ScmpArch, ScmpSyscall};

use super::*;
use crate::compile;
use crate::eval::{Data, run};

const ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 0x0005_0001;
const ENOSYS: u32 = 0x0005_0026;

/// Syscalls the brief and the security cases require to be refused.
const REQUIRED_DENIALS: &[&str] = &[
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "name_to_handle_at",
    "mount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsmount",
    "move_mount",
    "open_tree",
    "fspick",
    "mount_setattr",
    "ptrace",
];

fn entries() -> Vec<LinuxSyscall> {
    default_profile().syscalls().clone().unwrap()
}

fn allowed_unconditionally() -> HashSet<String> {
    entries()
        .into_iter()
        .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
        .flat_map(|r| r.names().clone())
        .collect()
}

#[test]
fn every_required_denial_is_explicit_and_never_allowed() {
    let allowed: HashSet<String> = entries()
        .into_iter()
        .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow)
        .flat_map(|r| r.names().clone())
        .collect();
    let denied: HashSet<String> = entries()
        .into_iter()
        .filter(|r| r.action() == LinuxSeccompAction::ScmpActErrno && r.errno_ret() == Some(1))
        .flat_map(|r| r.names().clone())
        .collect();
    for name in REQUIRED_DENIALS {
        assert!(denied.contains(*name), "{name} is not denied explicitly");
        assert!(!allowed.contains(*name), "{name} is allowed");
    }
    let overlap: Vec<_> = denied.intersection(&allowed).collect();
    assert!(overlap.is_empty(), "both allowed and denied: {overlap:?}");
}

#[test]
fn clone_personality_ioctl_socket_are_conditional_and_clone3_is_enosys() {
    let allowed = allowed_unconditionally();
    for name in ["clone", "clone3", "personality", "ioctl", "socket"] {
        assert!(
            !allowed.contains(name),
            "{name} must not be allowed unconditionally"
        );
    }
    let clone3 = entries()
        .into_iter()
        .find(|r| r.names() == &["clone3"])
        .unwrap();
    assert_eq!(clone3.action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(clone3.errno_ret(), Some(38));
}

#[test]
fn common_syscalls_are_allowed() {
    let allowed = allowed_unconditionally();
    for name in [
        "read",
        "write",
        "openat",
        "close",
        "execve",
        "mmap",
        "brk",
        "futex",
        "getdents64",
        "newfstatat",
        "statx",
        "wait4",
        "rt_sigaction",
        "socketpair",
        "connect",
        "sendto",
        "recvfrom",
        "epoll_wait",
        "pipe2",
        "dup3",
        "fchownat",
        "renameat2",
        "unlinkat",
        "chroot",
        "setresuid",
        "capset",
        "prctl",
        "exit_group",
        "getrandom",
        "rseq",
    ] {
        assert!(allowed.contains(name), "{name} is not allowed");
    }
}

#[test]
fn names_are_unique_and_known() {
    let mut seen = HashSet::new();
    for name in allow::allowed() {
        assert!(seen.insert(name), "{name} listed twice");
    }
    // Every name is a real syscall on some architecture libseccomp knows (typo guard).
    let arches = [
        ScmpArch::X8664,
        ScmpArch::X86,
        ScmpArch::X32,
        ScmpArch::Aarch64,
        ScmpArch::Arm,
    ];
    for name in allow::allowed().chain(deny::DENIED.iter().flat_map(|d| d.names.iter().copied())) {
        let known = arches
            .iter()
            .any(|a| ScmpSyscall::from_name_by_arch(name, *a).is_ok());
        let newer_than_libseccomp = [
            "mseal",
            "getxattrat",
            "setxattrat",
            "listxattrat",
            "removexattrat",
        ];
        assert!(
            known || newer_than_libseccomp.contains(&name),
            "{name} is not a syscall"
        );
    }
}

#[test]
fn low_word_cover_is_exact() {
    let cover = low_word_cover(DENIED_IOCTLS, 32);
    let allowed = |x: u64| cover.iter().any(|(m, v)| x & m == *v);
    for x in [
        0u64,
        0x5401,
        0x5411,
        0x5413,
        0x541b,
        0x541d,
        0xffff_ffff,
        0x8000_5412,
    ] {
        assert!(allowed(x), "{x:#x}");
    }
    for x in [0x5412u64, 0x541c, 0x1_0000_5412, 0xffff_ffff_0000_541c] {
        assert!(!allowed(x), "{x:#x}");
    }
    assert!(cover.len() < 40, "{} rules", cover.len());
    let families = low_word_cover(DENIED_SOCKET_FAMILIES, 6);
    let allowed = |x: u64| families.iter().any(|(m, v)| x & m == *v);
    assert!((0..64).filter(|f| *f != 40).all(allowed));
    assert!(!allowed(40) && !allowed(0x7_0000_0028) && !allowed(64) && !allowed(0x1_0000));
    assert_eq!(families.len(), 6);
}

#[test]
fn compiled_default_profile_verdicts() {
    let filter = compile(&default_profile()).unwrap();
    let audit = match ScmpArch::native() {
        ScmpArch::X8664 => 0xc000_003e,
        ScmpArch::Aarch64 => 0xc000_00b7,
        _ => return,
    };
    let nr = |n: &str| u32::try_from(i32::from(ScmpSyscall::from_name(n).unwrap())).unwrap();
    let call = |n: &str, a0: u64, a1: u64| {
        run(
            filter.program(),
            &Data {
                nr: nr(n),
                arch: audit,
                args: [a0, a1, 0, 0, 0, 0],
            },
        )
    };
    assert_eq!(call("read", 0, 0), ALLOW);
    assert_eq!(call("clone", 0x0120_0011, 0), ALLOW); // fork-like flags
    assert_eq!(call("clone", 0x1000_0011, 0), EPERM); // CLONE_NEWUSER
    assert_eq!(call("clone", 0x4000_0000, 0), EPERM); // CLONE_NEWNET
    assert_eq!(call("clone3", 0, 0), ENOSYS);
    assert_eq!(call("personality", 0xffff_ffff, 0), ALLOW);
    assert_eq!(call("personality", 0x8, 0), ALLOW);
    assert_eq!(call("personality", 0x40_0000, 0), EPERM); // READ_IMPLIES_EXEC
    assert_eq!(call("ioctl", 1, 0x5401), ALLOW); // TCGETS
    assert_eq!(call("ioctl", 1, 0x5412), EPERM); // TIOCSTI
    assert_eq!(call("ioctl", 1, 0xdead_0000_5412), EPERM); // TIOCSTI with high bits
    assert_eq!(call("ioctl", 1, 0x541c), EPERM); // TIOCLINUX
    assert_eq!(call("socket", 2, 1), ALLOW);
    assert_eq!(call("socket", 40, 1), EPERM);
    assert_eq!(call("socket", 0x1_0000_0028, 1), EPERM);
    for name in REQUIRED_DENIALS {
        assert_eq!(call(name, 0, 0), EPERM, "{name}");
    }
    assert_eq!(
        run(
            filter.program(),
            &Data {
                nr: 462,
                arch: audit,
                args: [0; 6]
            }
        ),
        ENOSYS
    ); // mseal
    eprintln!("default profile: {} instructions", filter.program().len());
    assert!(
        filter.program().len() < 1500,
        "{} instructions",
        filter.program().len()
    );
}
