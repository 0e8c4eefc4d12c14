// SPDX-License-Identifier: Apache-2.0
//! Unit tests of `compile`: the exported program is run through the test BPF interpreter.

use libseccomp::{ScmpArch, ScmpSyscall};

use super::*;
use crate::eval::{Data, run};
use crate::parse_profile;

const ALLOW: u32 = 0x7fff_0000;
const ERRNO: u32 = 0x0005_0000;
const KILL_PROCESS: u32 = 0x8000_0000;
const NOTIFY: u32 = 0x7fc0_0000;

fn compiled(json: &str) -> CompiledFilter {
    compile(&parse_profile(json.as_bytes()).unwrap()).unwrap()
}

fn native_audit() -> u32 {
    match ScmpArch::native() {
        ScmpArch::X8664 => 0xc000_003e,
        ScmpArch::Aarch64 => 0xc000_00b7,
        other => panic!("no audit number for {other:?} in this test"),
    }
}

fn nr(name: &str) -> u32 {
    u32::try_from(i32::from(ScmpSyscall::from_name(name).unwrap())).unwrap()
}

fn verdict(f: &CompiledFilter, name: &str, args: [u64; 6]) -> u32 {
    run(
        f.program(),
        &Data {
            nr: nr(name),
            arch: native_audit(),
            args,
        },
    )
}

#[test]
fn errno_rule_with_errno_ret() {
    let f = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(verdict(&f, "mkdirat", [0; 6]), ERRNO | 13);
    assert_eq!(verdict(&f, "getppid", [0; 6]), ERRNO | 1);
    assert_eq!(verdict(&f, "read", [0; 6]), ALLOW);
    assert_eq!(f.flags(), 0);
    assert!(!f.has_notify());
}

#[test]
fn argument_conditions() {
    let f = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":22,
             "args":[{"index":0,"value":4194304,"op":"SCMP_CMP_EQ"}]},
            {"names":["socket"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"},{"index":1,"value":3,"op":"SCMP_CMP_EQ"}]},
            {"names":["kill"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":1,"value":9,"op":"SCMP_CMP_EQ"},{"index":1,"value":15,"op":"SCMP_CMP_EQ"}]},
            {"names":["clone"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":2114060288,"valueTwo":268435456,"op":"SCMP_CMP_MASKED_EQ"}]},
            {"names":["mmap"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":1,"value":4096,"op":"SCMP_CMP_GT"}]}]}"#,
    );
    let with = |a0, a1| [a0, a1, 0, 0, 0, 0];
    assert_eq!(verdict(&f, "personality", with(0x40_0000, 0)), ERRNO | 22);
    assert_eq!(verdict(&f, "personality", with(0x8, 0)), ALLOW);
    // distinct indices: AND
    assert_eq!(verdict(&f, "socket", with(2, 3)), ERRNO | 1);
    assert_eq!(verdict(&f, "socket", with(2, 1)), ALLOW);
    // repeated index: OR
    assert_eq!(verdict(&f, "kill", with(1, 9)), ERRNO | 1);
    assert_eq!(verdict(&f, "kill", with(1, 15)), ERRNO | 1);
    assert_eq!(verdict(&f, "kill", with(1, 0)), ALLOW);
    // masked: (flags & CLONE_NEW*) == CLONE_NEWUSER
    assert_eq!(verdict(&f, "clone", with(0x1000_0011, 0)), ERRNO | 1);
    assert_eq!(verdict(&f, "clone", with(0x1002_0011, 0)), ALLOW);
    assert_eq!(verdict(&f, "mmap", with(0, 8192)), ERRNO | 1);
    assert_eq!(verdict(&f, "mmap", with(0, 4096)), ALLOW);
}

#[test]
fn kill_and_notify_and_flags() {
    let f = compiled(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
            "listenerMetadata":"m","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG"],
            "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"},
                        {"names":["mkdirat"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert_eq!(verdict(&f, "getppid", [0; 6]), KILL_PROCESS);
    assert_eq!(verdict(&f, "mkdirat", [0; 6]), NOTIFY);
    assert!(f.has_notify());
    assert_eq!(
        f.listener_path(),
        Some(std::path::Path::new("/run/agent.sock"))
    );
    assert_eq!(f.listener_metadata(), "m");
    let want = sys::FLAG_TSYNC | sys::FLAG_LOG | sys::FLAG_NEW_LISTENER | sys::FLAG_TSYNC_ESRCH;
    assert_eq!(f.flags(), want);
}

#[test]
fn unsupported_and_foreign_arches() {
    // libseccomp 2.5 has no LoongArch: a clear error naming it.
    let err = compile(
        &parse_profile(
            br#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_LOONGARCH64"]}"#,
        )
        .unwrap(),
    );
    if let Err(e) = err {
        assert_eq!(
            e.to_string(),
            "architecture SCMP_ARCH_LOONGARCH64 is not supported by this libseccomp"
        );
    }
    // A syscall from an ABI not in the filter kills the process.
    let f = compiled(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    let foreign = if native_audit() == 0xc000_003e {
        0x4000_0028
    } else {
        0x4000_0003
    };
    assert_eq!(
        run(
            f.program(),
            &Data {
                nr: 1,
                arch: foreign,
                args: [0; 6]
            }
        ),
        KILL_PROCESS
    );
}

#[test]
fn decode_rejects_partial_instructions() {
    assert!(decode(&[0; 12]).is_err());
    assert!(decode(&[]).is_err());
    let one = decode(&[0x06, 0, 1, 2, 0, 0, 0xff, 0x7f]).unwrap();
    assert_eq!(
        one,
        [SockFilter {
            code: 6,
            jt: 1,
            jf: 2,
            k: 0x7fff_0000
        }]
    );
}

#[test]
fn long_programs_are_refused_before_the_kernel_sees_them() {
    let long = vec![SockFilter::default(); sys::MAX_INSTRUCTIONS + 1];
    match check_length(long) {
        Err(SeccompError::ProgramTooLong { count, limit }) => {
            assert_eq!((count, limit), (4097, 4096))
        }
        other => panic!("unexpected: {other:?}"),
    }
    assert!(check_length(vec![SockFilter::default(); sys::MAX_INSTRUCTIONS]).is_ok());
}
