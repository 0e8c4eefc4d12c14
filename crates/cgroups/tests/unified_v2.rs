// SPDX-License-Identifier: Apache-2.0
//! Privileged tests of the cgroup v2 code paths on the host's cgroup2 mount (on this hybrid
//! host `/sys/fs/cgroup/unified`, which has `cgroup.procs`, `cgroup.freeze`, `cgroup.kill`,
//! `cgroup.events`, hugetlb and BPF device programs): the manager is given a pure v2 layout
//! of that mount.
// Integration tests are their own test crates: the lib-oriented lints do not apply.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use common::{TestCg, host, wait_for};
use oci_spec::runtime::LinuxResources;
use stockade_cgroups::{Layout, Unified};
use stockade_testutil::require_root;

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// The host's cgroup2 mount as a pure v2 layout. No controllers are listed, so `create`
/// enables nothing in the shared root's `cgroup.subtree_control`.
fn v2_layout() -> Option<Layout> {
    let u = host().unified()?.clone();
    Some(Layout::V2 {
        unified: Unified {
            controllers: Vec::new(),
            ..u
        },
    })
}

fn attached_programs(cg: &TestCg) -> usize {
    let dir = std::fs::File::open(cg.dir("")).unwrap();
    stockade_sys::bpf::query_cgroup_device(dir.as_fd())
        .unwrap()
        .len()
}

#[test]
fn bpf_device_filter_denies_and_is_replaced_on_update() {
    require_root!();
    let Some(layout) = v2_layout() else {
        return eprintln!("*** skipped: no cgroup2 mount ***");
    };
    let mut cg = TestCg::new(&layout, "");
    // Deny-list program: everything but /dev/null.
    cg.m.apply(&res(r#"{"devices":[{"allow":true,"access":"rwm"},
        {"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#))
        .unwrap();
    assert_eq!(attached_programs(&cg), 1);
    cg.spawn("head -c 3 /dev/zero | wc -c; cat /dev/null; echo rc=$?");
    let (_, out, err) = cg.wait();
    assert_eq!(out, "3\nrc=1\n", "stderr: {err}");
    assert!(err.contains("/dev/null: Operation not permitted"), "{err}");
    // Allow-list program replacing it: /dev/null readable, /dev/urandom (1:9) denied.
    cg.m.update(&res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"r"}]}"#))
        .unwrap();
    assert_eq!(
        attached_programs(&cg),
        1,
        "the old program was replaced, not stacked"
    );
    cg.spawn("cat /dev/null && echo null-ok; head -c 1 /dev/urandom | wc -c");
    let (_, out, err) = cg.wait();
    assert_eq!(out, "null-ok\n0\n", "stderr: {err}");
    assert!(
        err.contains("/dev/urandom") && err.contains("Operation not permitted"),
        "{err}"
    );
    // Allow-everything removes our program.
    cg.m.update(&res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#))
        .unwrap();
    assert_eq!(attached_programs(&cg), 0);
}

#[test]
fn v2_freeze_pids_and_cgroup_kill() {
    require_root!();
    let Some(layout) = v2_layout() else {
        return eprintln!("*** skipped: no cgroup2 mount ***");
    };
    let mut cg = TestCg::new(&layout, "/nested");
    let pid = cg.spawn("sleep 30 & exec sleep 30");
    let pids = wait_for(5, || {
        let p = cg.m.pids().unwrap();
        (p.len() == 2).then_some(p)
    })
    .expect("shell and its child in the cgroup");
    assert!(pids.contains(&i32::try_from(pid).unwrap()));
    cg.m.freeze().unwrap();
    assert!(cg.m.is_frozen().unwrap());
    assert!(cg.read("", "cgroup.events").contains("frozen 1"));
    // SIGKILL uses cgroup.kill, which also reaches frozen tasks.
    cg.m.kill_all(9).unwrap();
    let (status, _, _) = cg.wait();
    assert_eq!(status.signal(), Some(9));
    wait_for(5, || cg.m.pids().unwrap().is_empty().then_some(())).expect("all killed");
    cg.m.thaw().unwrap();
    assert!(!cg.m.is_frozen().unwrap());
}

/// Writes `-hugetlb` back to the root's `cgroup.subtree_control` when the test enabled it.
struct RestoreSubtree(Option<PathBuf>);

impl Drop for RestoreSubtree {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::write(p, "-hugetlb\n");
        }
    }
}

#[test]
fn hybrid_hugetlb_limit_goes_to_the_unified_mount() {
    require_root!();
    let layout = host();
    let Layout::Hybrid { unified, .. } = &layout else {
        return eprintln!("*** skipped: not a hybrid host ***");
    };
    if !unified.controllers.iter().any(|c| c == "hugetlb") {
        return eprintln!("*** skipped: no hugetlb on the cgroup2 mount ***");
    }
    let root_ctl = unified.mount.join("cgroup.subtree_control");
    let before = std::fs::read_to_string(&root_ctl).unwrap();
    let _restore = RestoreSubtree((!before.contains("hugetlb")).then(|| root_ctl.clone()));
    let cg = TestCg::new(&layout, "");
    cg.m.apply(&res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}"#))
        .unwrap();
    assert_eq!(cg.read("", "hugetlb.2MB.max"), "0");
    assert!(cg.m.stats().unwrap().hugetlb.contains_key("2MB"));
}
