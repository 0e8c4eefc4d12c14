// SPDX-License-Identifier: Apache-2.0
//! CPU shares/weight, quota, realtime and cpuset.

use super::super::cpu::shares_to_weight;
use super::*;

#[test]
fn cpu_weight_conversion_matches_runc_and_crun() {
    let table = [
        (0, 0),
        (1, 1),
        (2, 1),
        (3, 2),
        (100, 17),
        (512, 59),
        (1024, 100),
        (2048, 174),
    ];
    for (shares, weight) in table {
        assert_eq!(shares_to_weight(shares), weight, "{shares}");
    }
    assert_eq!(shares_to_weight(262_143), 10_000);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(shares_to_weight(u64::MAX), 10_000);
    assert_eq!(super::blkio::blkio_weight_to_io(10), 1);
    assert_eq!(super::blkio::blkio_weight_to_io(500), 4950);
    assert_eq!(super::blkio::blkio_weight_to_io(1000), 10_000);
}

#[test]
fn v1_cpu_and_cpuset() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v1(d.path(), &["cpu,cpuacct", "cpuset"]);
    // An existing empty cgroup is reused (a fake mkdir cannot make the kernel's files).
    touch(
        &d.path().join("cpuset/ctr"),
        &["cgroup.procs", "cpuset.cpus", "cpuset.mems"],
    );
    let f = Fake::create(d, &layout);
    f.files(
        "cpu,cpuacct",
        &[
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpu.idle",
            "cpu.cfs_burst_us",
        ],
    );
    f.m.apply(&res(
        r#"{"cpu":{"shares":512,"quota":50000,"period":100000,"burst":1000,
        "realtimePeriod":1000000,"realtimeRuntime":950000,"idle":0,"cpus":"0,2-3","mems":"0"}}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("cpu,cpuacct", "cpu.shares"), ["512"]);
    assert_eq!(f.writes("cpu,cpuacct", "cpu.cfs_period_us"), ["100000"]);
    assert_eq!(f.writes("cpu,cpuacct", "cpu.cfs_quota_us"), ["50000"]);
    assert_eq!(f.writes("cpu,cpuacct", "cpu.cfs_burst_us"), ["1000"]);
    assert_eq!(f.writes("cpu,cpuacct", "cpu.rt_period_us"), ["1000000"]);
    assert_eq!(f.writes("cpu,cpuacct", "cpu.rt_runtime_us"), ["950000"]);
    assert_eq!(f.writes("cpu,cpuacct", "cpu.idle"), ["0"]);
    assert_eq!(f.writes("cpuset", "cpuset.cpus"), ["0,2-3"]);
    assert_eq!(f.writes("cpuset", "cpuset.mems"), ["0"]);
    let err = f.m.apply(&res(r#"{"cpu":{"cpus":"0\n1"}}"#)).unwrap_err();
    assert_eq!(err.to_string(), "invalid cpu.cpus \"0\\n1\"");
}

#[test]
fn v2_cpu_weight_max_and_realtime_refusal() {
    let f = Fake::v2(&["cpu", "cpuset"]);
    f.files("unified", &["cpu.weight", "cpu.max.burst", "cpu.idle"]);
    std::fs::write(f.leaf("unified").join("cpu.max"), "20000 100000\n").unwrap();
    f.m.apply(&res(
        r#"{"cpu":{"shares":1024,"period":50000,"burst":10,"idle":1}}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("unified", "cpu.weight"), ["100"]);
    assert_eq!(
        f.writes("unified", "cpu.max"),
        ["20000 100000", "max 50000"]
    );
    f.m.update(&res(r#"{"cpu":{"period":70000}}"#)).unwrap();
    assert_eq!(
        f.writes("unified", "cpu.max").last().unwrap(),
        "20000 70000",
        "live keeps quota"
    );
    f.m.update(&res(r#"{"cpu":{"quota":-1}}"#)).unwrap();
    assert_eq!(f.writes("unified", "cpu.max").last().unwrap(), "max");
    assert_eq!(f.writes("unified", "cpu.max.burst"), ["10"]);
    let err =
        f.m.apply(&res(r#"{"cpu":{"realtimeRuntime":100}}"#))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cpu realtime runtime/period is not supported on cgroup v2"
    );
}
