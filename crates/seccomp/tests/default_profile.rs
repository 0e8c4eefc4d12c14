// SPDX-License-Identifier: Apache-2.0
//! The default profile, loaded for real: escape families refused, a userland still works.
// Integration tests are their own test crates: the lib-oriented lints do not apply.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use common::{probes, results, run};

/// (probe, errno expected under the default profile)
const REFUSED: &[(&str, i32)] = &[
    ("unshare=0x10000000", libc::EPERM), // CLONE_NEWUSER
    ("unshare=0x20000", libc::EPERM),    // CLONE_NEWNS
    ("setns", libc::EPERM),
    ("clone=0x10000000", libc::EPERM), // clone(CLONE_NEWUSER)
    ("clone=0x40000000", libc::EPERM), // clone(CLONE_NEWNET)
    ("clone3", libc::ENOSYS),
    ("io_uring_setup", libc::EPERM),
    ("io_uring_enter", libc::EPERM),
    ("io_uring_register", libc::EPERM),
    ("bpf", libc::EPERM),
    ("userfaultfd", libc::EPERM),
    ("keyctl", libc::EPERM),
    ("add_key", libc::EPERM),
    ("request_key", libc::EPERM),
    ("perf_event_open", libc::EPERM),
    ("open_by_handle_at", libc::EPERM),
    ("name_to_handle_at", libc::EPERM),
    ("mount", libc::EPERM),
    ("umount2", libc::EPERM),
    ("pivot_root", libc::EPERM),
    ("fsopen", libc::EPERM),
    ("open_tree", libc::EPERM),
    ("move_mount", libc::EPERM),
    ("init_module", libc::EPERM),
    ("finit_module", libc::EPERM),
    ("delete_module", libc::EPERM),
    ("ptrace", libc::EPERM),
    ("personality=0x400000", libc::EPERM), // READ_IMPLIES_EXEC
    ("ioctl=0x5412", libc::EPERM),         // TIOCSTI
    ("ioctl=0x100005412", libc::EPERM),    // TIOCSTI, high bits set
    ("ioctl=0x541c", libc::EPERM),         // TIOCLINUX
    ("socket=40", libc::EPERM),            // AF_VSOCK
    ("mseal", libc::ENOSYS),               // newer than the profile
];

/// Allowed calls and the kernel's own answer to the probe's harmless arguments.
const ALLOWED: &[(&str, i32)] = &[
    ("getppid", 0),
    ("clone=0x1200011", libc::EINVAL), // fork-like flags reach the kernel
    ("personality=0xffffffff", 0),
    ("personality=0x8", 0),
    ("ioctl=0x5401", libc::EBADF), // TCGETS on fd -1
    ("socket=2", libc::EINVAL),    // AF_INET with bad type flags
    ("mkdirat", libc::EFAULT),     // NULL path
];

fn key(probe: &str) -> &str {
    probe.split('=').next().unwrap_or(probe)
}

/// Runs each probe in its own helper (several probes share a syscall name).
fn probe_each(extra: &[&str], list: &[(&str, i32)]) -> Vec<(String, i32, i32)> {
    list.iter()
        .map(|(p, want)| {
            let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            args.extend(probes(&[p]));
            let got = results(&run(&args))[key(p)];
            (p.to_string(), *want, got)
        })
        .collect()
}

#[test]
fn default_profile_refuses_escape_families() {
    let wrong: Vec<_> = probe_each(&["--default", "--nnp"], REFUSED)
        .into_iter()
        .filter(|(_, want, got)| want != got)
        .collect();
    assert!(wrong.is_empty(), "(probe, expected, got): {wrong:?}");
}

#[test]
fn refusals_come_from_the_filter_not_the_kernel() {
    stockade_testutil::require_root!();
    // Without a filter, root gets a different answer for every probe (EFAULT, EBADF,
    // EINVAL...), so the EPERM/ENOSYS above is the filter's.
    let same: Vec<_> = probe_each(&["--none"], REFUSED)
        .into_iter()
        .filter(|(_, want, got)| want == got)
        .collect();
    assert!(
        same.is_empty(),
        "unfiltered answer equals the filtered one: {same:?}"
    );
}

#[test]
fn default_profile_allows_ordinary_calls() {
    let wrong: Vec<_> = probe_each(&["--default", "--nnp"], ALLOWED)
        .into_iter()
        .filter(|(_, want, got)| want != got)
        .collect();
    assert!(wrong.is_empty(), "(probe, expected, got): {wrong:?}");
}

#[test]
fn busybox_shell_ls_and_ps_work_under_the_default_profile() {
    let out = run(&[
        "--default".into(),
        "--nnp".into(),
        "exec".into(),
        "/bin/busybox".into(),
        "sh".into(),
        "-c".into(),
        "ls / && ps && grep Seccomp: /proc/self/status".into(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("proc") && text.contains("PID"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "{text}");
}

#[test]
fn debian_userland_works_under_the_default_profile() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "set -e; d={d}; mkdir -p $d/a/b; echo hello > $d/a/f; cp $d/a/f $d/a/b/g; \
         mv $d/a/b/g $d/a/b/h; ln -s h $d/a/b/l; chmod 600 $d/a/b/h; cat $d/a/b/l; \
         tar -C $d -czf $d/t.tgz a; mkdir $d/x; tar -C $d/x -xzf $d/t.tgz; \
         cmp $d/a/f $d/x/a/f; rm -r $d/a $d/x; ls -la / >/dev/null; ps aux >/dev/null; \
         id; uname -r >/dev/null; date >/dev/null; dpkg-query -W bash >/dev/null; \
         sort /etc/passwd | head -1 >/dev/null; \
         python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); \
c=socket.create_connection(s.getsockname()); a,_=s.accept(); c.sendall(b\"ping\"); \
print(\"net\", a.recv(4).decode())'; \
         sh -c 'sleep 0.1 & wait'; echo done",
        d = dir.path().display()
    );
    let out = run(&[
        "--default".into(),
        "--nnp".into(),
        "exec".into(),
        "/bin/bash".into(),
        "-c".into(),
        script,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {text}\nstderr: {err}");
    assert!(
        text.contains("hello") && text.contains("net ping") && text.ends_with("done\n"),
        "{text}"
    );
}
