// SPDX-License-Identifier: Apache-2.0
//! Real filters loaded into a helper process (no root needed: the helper sets no_new_privs).
// Integration tests are their own test crates: the lib-oriented lints do not apply.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{probes, profile_args, results, run};

fn with_profile(json: &str, steps: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut args = profile_args(dir.path(), json);
    args.push("--nnp".into());
    args.extend(probes(steps));
    run(&args)
}

#[test]
fn errno_rule_bites_with_its_errno() {
    let out = with_profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
            {"names":["setns"],"action":"SCMP_ACT_ERRNO"}]}"#,
        &["mkdirat", "setns", "getppid"],
    );
    let r = results(&out);
    assert_eq!(r["mkdirat"], libc::EACCES);
    assert_eq!(r["setns"], libc::EPERM, "errnoRet defaults to EPERM");
    assert_eq!(r["getppid"], 0);
}

#[test]
fn argument_condition_bites_only_for_its_value() {
    // personality(READ_IMPLIES_EXEC) refused with E2BIG (7); other values allowed.
    let out = with_profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":7,
             "args":[{"index":0,"value":4194304,"op":"SCMP_CMP_EQ"}]}]}"#,
        &["personality=0x400000", "personality=0xffffffff"],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "personality errno 7", "{text}");
    assert!(lines[1].starts_with("personality ok "), "{text}");
}

#[test]
fn kill_process_kills_with_sigsys() {
    let out = with_profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        &["mkdirat", "getppid", "setns"],
    );
    assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{:?}", out.status);
    let r = results(&out);
    assert!(r.contains_key("mkdirat"), "the probe before the kill ran");
    assert!(!r.contains_key("setns"), "nothing runs after the kill");
}

#[test]
fn status_shows_filter_mode_and_nnp() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = profile_args(dir.path(), r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    args.extend(["--nnp".into(), "status".into()]);
    let text = String::from_utf8(run(&args).stdout).unwrap();
    assert!(text.contains("Seccomp: 2"), "{text}");
    assert!(text.contains("NoNewPrivs: 1"), "{text}");
    let unfiltered = String::from_utf8(run(&["--none".into(), "status".into()]).stdout).unwrap();
    assert!(unfiltered.contains("Seccomp: 0"), "{unfiltered}");
}

#[test]
fn newer_syscalls_get_enosys_under_an_errno_default() {
    // mseal (Linux 6.10) is newer than everything this profile names: ENOSYS, not EPERM.
    let out = with_profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","close",
            "exit_group","exit","futex","sigaltstack","munmap","mmap","brk","rt_sigprocmask",
            "rt_sigaction","getppid","statx","openat","fstat","newfstatat","poll","ioctl",
            "clone3"],"action":"SCMP_ACT_ALLOW"}]}"#,
        &["getppid", "mseal", "mkdirat"],
    );
    let r = results(&out);
    assert_eq!(r["getppid"], 0);
    assert_eq!(r["mseal"], libc::ENOSYS);
    assert_eq!(
        r["mkdirat"],
        libc::EPERM,
        "older, not allowed: the default action"
    );
}

#[test]
fn loading_without_nnp_or_cap_sys_admin_fails_cleanly() {
    if stockade_testutil::is_root() {
        // Root has CAP_SYS_ADMIN, the kernel accepts the filter without no_new_privs.
        let dir = tempfile::tempdir().unwrap();
        let mut args = profile_args(dir.path(), r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
        args.push("status".into());
        let text = String::from_utf8(run(&args).stdout).unwrap();
        assert!(
            text.contains("Seccomp: 2") && text.contains("NoNewPrivs: 0"),
            "{text}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut args = profile_args(dir.path(), r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    args.push("status".into());
    let out = common::helper().args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot load the seccomp filter"), "{err}");
}
