// SPDX-License-Identifier: Apache-2.0
//! Privileged tests on the host's real cgroups (v1 hierarchies here, hybrid with a cgroup2
//! mount): limits are hit for real, processes frozen for real, and nothing is left behind.
// Integration tests are their own test crates: the lib-oriented lints do not apply.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{TestCg, host, leftovers, proc_state, wait_for};
use oci_spec::runtime::LinuxResources;
use stockade_cgroups::devices::DeviceState;
use stockade_testutil::require_root;

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

#[test]
fn detect_matches_proc_self_cgroup() {
    require_root!();
    let layout = host();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for h in layout.hierarchies() {
        assert!(h.mount.is_dir(), "{}", h.mount.display());
        let line = own
            .lines()
            .find(|l| {
                let mut c: Vec<&str> = l.split(':').nth(1).unwrap().split(',').collect();
                c.sort_unstable();
                c.join(",") == h.options()
            })
            .unwrap_or_else(|| panic!("no /proc/self/cgroup line for {}", h.options()));
        assert!(
            line.ends_with(&format!(":{}", h.current)),
            "{line} vs {}",
            h.current
        );
    }
}

#[test]
fn memory_limit_oom_kills_and_counts() {
    require_root!();
    let mut cg = TestCg::new(&host(), "");
    let limit: u64 = 16 << 20;
    cg.m.apply(&res(&format!(
        r#"{{"memory":{{"limit":{limit},"swap":{limit}}}}}"#
    )))
    .unwrap();
    assert_eq!(
        cg.read("memory", "memory.limit_in_bytes"),
        limit.to_string()
    );
    cg.spawn("exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    let (status, _, _) = cg.wait();
    assert_eq!(
        status.signal(),
        Some(9),
        "dd allocating 64 MiB under 16 MiB must be OOM-killed: {status:?}"
    );
    let stats = cg.m.stats().unwrap();
    // (failcnt stays 0 on recent kernels, which only count failures for some counters.)
    assert_eq!(
        stats.memory.usage.max, limit,
        "peak usage reached the limit: {:?}",
        stats.memory.usage
    );
    assert!(cg.m.oom_kill_count().unwrap().unwrap() >= 1);
}

#[test]
fn pids_limit_stops_a_fork_loop_with_eagain() {
    require_root!();
    let mut cg = TestCg::new(&host(), "");
    cg.m.apply(&res(r#"{"pids":{"limit":5}}"#)).unwrap();
    assert_eq!(cg.read("pids", "pids.max"), "5");
    // perl reports the errno of the first failed fork, then waits for its children.
    cg.spawn(
        "exec perl -e 'for (1..20) { my $p = fork; if (!defined $p) { print $!+0, \"\\n\"; last } \
         if (!$p) { close STDOUT; close STDERR; sleep 30; exit } } $SIG{ALRM} = sub { exit }; alarm 1; sleep 5'",
    );
    let procs = wait_for(10, || {
        let procs = cg.m.pids().unwrap().len();
        (procs >= 5).then_some(procs)
    });
    assert_eq!(procs, Some(5), "exactly the limit of processes");
    let (_, out, err) = cg.wait();
    assert_eq!(
        out.trim(),
        "11",
        "fork must fail with EAGAIN; stderr: {err}"
    );
    assert!(cg.m.stats().unwrap().pids.current <= 5);
}

#[test]
fn freeze_and_thaw_a_busy_process() {
    require_root!();
    let mut cg = TestCg::new(&host(), "");
    let pid = cg.spawn("while :; do :; done");
    let usage = |cg: &TestCg| cg.read("cpuacct", "cpuacct.usage").parse::<u64>().unwrap();
    wait_for(5, || (usage(&cg) > 0).then_some(())).expect("the loop runs");
    cg.m.freeze().unwrap();
    assert!(cg.m.is_frozen().unwrap());
    assert_eq!(cg.read("freezer", "freezer.state"), "FROZEN");
    assert!(
        matches!(proc_state(pid), 'D' | 'T'),
        "frozen task state {}",
        proc_state(pid)
    );
    let before = usage(&cg);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(usage(&cg), before, "no CPU time while frozen");
    cg.m.thaw().unwrap();
    assert!(!cg.m.is_frozen().unwrap());
    wait_for(5, || (usage(&cg) > before).then_some(())).expect("runs again after thaw");
    // kill_all with SIGTERM goes through freeze → signal → thaw (v1 freezer).
    cg.m.kill_all(15).unwrap();
    let (status, _, _) = cg.wait();
    assert_eq!(status.signal(), Some(15));
    assert!(!cg.m.is_frozen().unwrap(), "kill_all thawed what it froze");
}

#[test]
fn stats_are_nonzero_after_work() {
    require_root!();
    let mut cg = TestCg::new(&host(), "");
    cg.spawn("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 30");
    let stats = wait_for(20, || {
        let s = cg.m.stats().unwrap();
        (s.cpu.usage.total > 50_000_000 && s.pids.current == 1).then_some(s)
    })
    .expect("cpu time accounted and one process left");
    assert!(!stats.cpu.usage.percpu.is_empty());
    assert!(stats.cpu.usage.user + stats.cpu.usage.kernel > 0);
    assert!(stats.memory.usage.usage > 0 && stats.memory.raw.contains_key("rss"));
    let json = serde_json::to_value(&stats).unwrap();
    for key in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
}

#[test]
fn update_changes_limits_of_a_running_container() {
    require_root!();
    let mut cg = TestCg::new(&host(), "");
    cg.m.apply(&res(
        r#"{"pids":{"limit":100},"memory":{"limit":67108864},"cpu":{"shares":1024}}"#,
    ))
    .unwrap();
    cg.spawn("exec sleep 30");
    let w =
        cg.m.update(&res(
            r#"{"pids":{"limit":10},"memory":{"limit":33554432,"checkBeforeUpdate":true},
            "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"}}"#,
        ))
        .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(cg.read("pids", "pids.max"), "10");
    assert_eq!(cg.read("memory", "memory.limit_in_bytes"), "33554432");
    assert_eq!(cg.read("cpu", "cpu.shares"), "512");
    assert_eq!(cg.read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg.read("cpuset", "cpuset.cpus"), "0");
    let usage = |cg: &TestCg| {
        cg.read("memory", "memory.usage_in_bytes")
            .parse::<u64>()
            .unwrap()
    };
    wait_for(5, || (usage(&cg) > 65536).then_some(())).expect("sleep charged to the cgroup");
    let err =
        cg.m.update(&res(
            r#"{"memory":{"limit":4096,"checkBeforeUpdate":true}}"#,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("below current usage"), "{err}");
}

#[test]
fn device_rules_deny_dev_null() {
    require_root!();
    let mut cg = TestCg::new(&host(), "");
    cg.m.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}]}"#))
        .unwrap();
    assert_eq!(cg.read("devices", "devices.list"), "c 1:5 rwm");
    cg.spawn("head -c 3 /dev/zero | wc -c; cat /dev/null; echo rc=$?");
    let (_, out, err) = cg.wait();
    assert_eq!(out, "3\nrc=1\n", "stderr: {err}");
    assert!(err.contains("Operation not permitted"), "{err}");
    // A live update writes only the difference; the kernel's list is the emulated state.
    cg.spawn("exec sleep 30");
    let new = res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"r"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#);
    cg.m.update(&new).unwrap();
    let want = DeviceState::from_rules(new.devices().as_ref().unwrap()).unwrap();
    assert_eq!(
        DeviceState::from_list(&cg.read("devices", "devices.list")),
        Some(want)
    );
}

#[test]
fn refuses_busy_and_frozen_cgroups_then_destroy_leaves_nothing() {
    require_root!();
    let layout = host();
    let mut cg = TestCg::new(&layout, "/a/b");
    cg.spawn("exec sleep 30");
    let path = format!("{}/a/b", cg.name);
    let mut again = stockade_cgroups::Manager::new(&layout, &path, "x", false).unwrap();
    let err = again.create().unwrap_err().to_string();
    assert!(err.contains("already has processes"), "{err}");
    cg.m.kill_all(9).unwrap();
    cg.wait();
    wait_for(5, || cg.m.pids().unwrap().is_empty().then_some(())).unwrap();
    cg.m.freeze().unwrap();
    let err = again.create().unwrap_err().to_string();
    assert!(err.contains("is frozen"), "{err}");
    cg.m.thaw().unwrap();
    assert!(!leftovers(&cg.name).is_empty());
    cg.m.destroy().unwrap();
    assert_eq!(
        leftovers(&cg.name),
        Vec::<std::path::PathBuf>::new(),
        "leaf and created parents gone"
    );
}
