// SPDX-License-Identifier: Apache-2.0
//! Every controller's writes on fake v1 and v2 trees.

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;
use tempfile::TempDir;

use super::cpu::shares_to_weight;
use super::memory::swap_to_v2;
use super::*;
use crate::fake::{self, touch, writes};

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// A created manager for `/ctr` on a fake layout, and the leaf of `hierarchy`.
struct Fake {
    d: TempDir,
    m: Manager,
}

impl Fake {
    fn v1(hierarchies: &[&str]) -> Fake {
        let d = tempfile::tempdir().unwrap();
        let layout = fake::v1(d.path(), hierarchies);
        Fake::create(d, &layout)
    }
    fn v2(controllers: &[&str]) -> Fake {
        let d = tempfile::tempdir().unwrap();
        let layout = fake::v2(d.path(), controllers);
        Fake::create(d, &layout)
    }
    fn create(d: TempDir, layout: &crate::Layout) -> Fake {
        let mut m = Manager::new(layout, "/ctr", "ctr", false).unwrap();
        m.create().unwrap();
        Fake { d, m }
    }
    fn leaf(&self, hierarchy: &str) -> PathBuf {
        self.d.path().join(hierarchy).join("ctr")
    }
    fn files(&self, hierarchy: &str, files: &[&str]) -> &Self {
        touch(&self.leaf(hierarchy), files);
        self
    }
    fn writes(&self, hierarchy: &str, file: &str) -> Vec<String> {
        writes(self.leaf(hierarchy).join(file))
    }
}

#[test]
fn v1_memory_limit_swap_and_friends() {
    let f = Fake::v1(&["memory"]);
    f.files(
        "memory",
        &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.swappiness",
            "memory.oom_control",
            "memory.kmem.tcp.limit_in_bytes",
        ],
    );
    let w =
        f.m.apply(&res(
            r#"{"memory":{"limit":1048576,"swap":2097152,"reservation":524288,
        "kernel":4096,"kernelTCP":8192,"swappiness":10,"disableOOMKiller":true}}"#,
        ))
        .unwrap();
    assert_eq!(f.writes("memory", "memory.limit_in_bytes"), ["1048576"]);
    assert_eq!(
        f.writes("memory", "memory.memsw.limit_in_bytes"),
        ["2097152"]
    );
    assert_eq!(f.writes("memory", "memory.soft_limit_in_bytes"), ["524288"]);
    assert_eq!(
        f.writes("memory", "memory.kmem.tcp.limit_in_bytes"),
        ["8192"]
    );
    assert_eq!(f.writes("memory", "memory.swappiness"), ["10"]);
    assert_eq!(f.writes("memory", "memory.oom_control"), ["1"]);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].to_string(),
        "ignoring memory.kernel: kernel memory limits are obsolete"
    );
    // Unlimited memory without swap means unlimited memsw too (runc).
    f.m.update(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(
        f.writes("memory", "memory.limit_in_bytes"),
        ["1048576", "-1"]
    );
    assert_eq!(
        f.writes("memory", "memory.memsw.limit_in_bytes"),
        ["2097152", "-1"]
    );
    let err =
        f.m.apply(&res(r#"{"memory":{"swappiness":101}}"#))
            .unwrap_err();
    assert_eq!(err.to_string(), "invalid memory swappiness \"101\"");
}

#[test]
fn v1_missing_memsw_is_an_error_naming_the_file_unless_unlimited() {
    let f = Fake::v1(&["memory"]);
    f.files("memory", &["memory.limit_in_bytes"]);
    f.m.apply(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    let err =
        f.m.apply(&res(r#"{"memory":{"limit":100,"swap":200}}"#))
            .unwrap_err();
    let file = f.leaf("memory").join("memory.memsw.limit_in_bytes");
    assert_eq!(
        err.to_string(),
        format!("cannot write 200 to {}", file.display())
    );
}

#[test]
fn v2_swap_is_memory_plus_swap_minus_memory() {
    assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
    assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
    assert_eq!(swap_to_v2(0, 100).unwrap(), 0);
    assert_eq!(swap_to_v2(300, 100).unwrap(), 200);
    assert_eq!(swap_to_v2(100, 100).unwrap(), 0);
    assert!(swap_to_v2(50, 100).is_err());
    assert!(swap_to_v2(100, 0).is_err());
    let f = Fake::v2(&["memory"]);
    f.files("unified", &["memory.max", "memory.swap.max", "memory.low"]);
    let w =
        f.m.apply(&res(
            r#"{"memory":{"limit":100,"swap":300,"reservation":50,"swappiness":5}}"#,
        ))
        .unwrap();
    assert_eq!(f.writes("unified", "memory.swap.max"), ["200"]);
    assert_eq!(f.writes("unified", "memory.max"), ["100"]);
    assert_eq!(f.writes("unified", "memory.low"), ["50"]);
    assert_eq!(
        w[0].to_string(),
        "ignoring memory.swappiness: not available on cgroup v2"
    );
    f.m.update(&res(r#"{"memory":{"limit":100,"swap":100}}"#))
        .unwrap();
    assert_eq!(
        f.writes("unified", "memory.swap.max"),
        ["200", "0"],
        "swap == limit: no swap"
    );
    f.m.update(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(f.writes("unified", "memory.max"), ["100", "100", "max"]);
    assert_eq!(f.writes("unified", "memory.swap.max"), ["200", "0", "max"]);
    let err =
        f.m.apply(&res(r#"{"memory":{"swap":300}}"#))
            .unwrap_err()
            .to_string();
    assert!(err.contains("a swap limit needs a memory limit"), "{err}");
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    let f = Fake::v2(&["memory"]);
    f.files("unified", &["memory.max"]);
    std::fs::write(f.leaf("unified").join("memory.current"), "4096\n").unwrap();
    let r = res(r#"{"memory":{"limit":1000,"checkBeforeUpdate":true}}"#);
    assert!(
        f.m.update(&r)
            .unwrap_err()
            .to_string()
            .contains("below current usage")
    );
    f.m.apply(&r).unwrap();
    assert_eq!(
        f.writes("unified", "memory.max"),
        ["1000"],
        "apply does not check"
    );
}

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

#[test]
fn pids_zero_leaves_the_limit_negative_is_max() {
    let f = Fake::v1(&["pids"]);
    f.files("pids", &["pids.max"]);
    f.m.apply(&res(r#"{"pids":{"limit":0}}"#)).unwrap();
    assert_eq!(f.writes("pids", "pids.max"), Vec::<String>::new());
    f.m.apply(&res(r#"{"pids":{"limit":-1}}"#)).unwrap();
    f.m.update(&res(r#"{"pids":{"limit":1024}}"#)).unwrap();
    assert_eq!(f.writes("pids", "pids.max"), ["max", "1024"]);
}

#[test]
fn blkio_v1_falls_back_to_bfq_and_writes_throttles() {
    let f = Fake::v1(&["blkio"]);
    f.files(
        "blkio",
        &[
            "blkio.bfq.weight",
            "blkio.bfq.weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_iops_device",
        ],
    );
    let w = f.m.apply(&res(r#"{"blockIO":{"weight":300,"leafWeight":200,
        "weightDevice":[{"major":8,"minor":0,"weight":500}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576},{"major":8,"minor":16,"rate":0}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":100}]}}"#)).unwrap();
    assert_eq!(f.writes("blkio", "blkio.bfq.weight"), ["300"]);
    assert_eq!(f.writes("blkio", "blkio.bfq.weight_device"), ["8:0 500"]);
    assert_eq!(
        f.writes("blkio", "blkio.throttle.read_bps_device"),
        ["8:0 1048576", "8:16 0"]
    );
    assert_eq!(
        f.writes("blkio", "blkio.throttle.write_iops_device"),
        ["8:0 100"]
    );
    assert_eq!(
        w,
        [Warning::Ignored {
            what: "blockIO.leafWeight",
            why: "needs the CFQ I/O scheduler"
        }]
    );
}

#[test]
fn io_v2_converts_weights_and_writes_io_max() {
    let f = Fake::v2(&["io"]);
    f.files("unified", &["io.weight", "io.max"]);
    f.m.apply(&res(
        r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":1000}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
        "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":0}]}}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("unified", "io.weight"), ["4950", "8:0 10000"]);
    assert_eq!(
        f.writes("unified", "io.max"),
        ["8:0 rbps=1048576", "8:0 wbps=max"]
    );
}

#[test]
fn hugetlb_file_names_per_version() {
    let f = Fake::v1(&["hugetlb"]);
    f.files(
        "hugetlb",
        &[
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.rsvd.limit_in_bytes",
        ],
    );
    f.m.apply(&res(
        r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#,
    ))
    .unwrap();
    assert_eq!(
        f.writes("hugetlb", "hugetlb.2MB.limit_in_bytes"),
        ["4194304"]
    );
    assert_eq!(
        f.writes("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes"),
        ["4194304"]
    );
    let err =
        f.m.apply(&res(
            r#"{"hugepageLimits":[{"pageSize":"../2MB","limit":1}]}"#,
        ))
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid hugepage size \"../2MB\"");
    let f = Fake::v2(&["hugetlb"]);
    f.files("unified", &["hugetlb.1GB.max"]);
    f.m.apply(&res(
        r#"{"hugepageLimits":[{"pageSize":"1GB","limit":-1}]}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("unified", "hugetlb.1GB.max"), ["max"]);
}

#[test]
fn network_and_rdma() {
    let f = Fake::v1(&["net_cls,net_prio", "rdma"]);
    f.files(
        "net_cls,net_prio",
        &["net_cls.classid", "net_prio.ifpriomap"],
    );
    f.files("rdma", &["rdma.max"]);
    f.m.apply(&res(r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5},
        {"name":"lo","priority":2}]},"rdma":{"mlx5_1":{"hcaHandles":3},"mlx4_0":{"hcaHandles":2,"hcaObjects":2000}}}"#))
        .unwrap();
    assert_eq!(f.writes("net_cls,net_prio", "net_cls.classid"), ["1048577"]);
    assert_eq!(
        f.writes("net_cls,net_prio", "net_prio.ifpriomap"),
        ["eth0 5", "lo 2"]
    );
    assert_eq!(
        f.writes("rdma", "rdma.max"),
        ["mlx4_0 hca_handle=2 hca_object=2000", "mlx5_1 hca_handle=3"]
    );
    let bad = f.m.apply(&res(
        r#"{"network":{"priorities":[{"name":"eth0 9\nlo","priority":1}]}}"#,
    ));
    assert!(bad.is_err());
    // Not mounted (v2 has no net_cls): a warning, not an error.
    let f = Fake::v2(&["memory"]);
    let w = f.m.apply(&res(r#"{"network":{"classID":1}}"#)).unwrap();
    assert_eq!(
        w[0].to_string(),
        "ignoring network.classID: the net_cls controller is not available"
    );
}

#[test]
fn v1_devices_reset_then_allow_and_live_updates_write_only_the_difference() {
    let f = Fake::v1(&["devices"]);
    f.files("devices", &["devices.allow", "devices.deny"]);
    let first = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rw"}]}"#;
    f.m.apply(&res(first)).unwrap();
    assert_eq!(f.writes("devices", "devices.deny"), ["a"]);
    assert_eq!(
        f.writes("devices", "devices.allow"),
        ["c 1:3 rwm", "c 1:5 rw"]
    );
    std::fs::write(
        f.leaf("devices").join("devices.list"),
        "c 1:3 rwm\nc 1:5 rw\n",
    )
    .unwrap();
    let second = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"r"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
        {"allow":true,"type":"c","major":136,"access":"rwm"}]}"#;
    f.m.update(&res(second)).unwrap();
    assert_eq!(
        f.writes("devices", "devices.deny"),
        ["a", "c 1:3 wm"],
        "no reset while live"
    );
    assert_eq!(
        f.writes("devices", "devices.allow"),
        ["c 1:3 rwm", "c 1:5 rw", "c 1:5 m", "c 136:* rwm"]
    );
}

#[test]
fn unified_map_v2_only_with_safe_keys() {
    let f = Fake::v1(&["memory"]);
    let err =
        f.m.apply(&res(r#"{"unified":{"memory.high":"1"}}"#))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unified resources is not supported on cgroup v1"
    );
    let f = Fake::v2(&["memory", "io"]);
    f.files("unified", &["memory.high", "io.max"]);
    f.m.apply(&res(
        r#"{"unified":{"memory.high":"4096","io.max":"8:0 rbps=1\n8:16 wbps=2\n"}}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("unified", "memory.high"), ["4096"]);
    assert_eq!(f.writes("unified", "io.max"), ["8:0 rbps=1", "8:16 wbps=2"]);
    for key in ["cgroup.procs", "cgroup.kill", "../x.y"] {
        let err =
            f.m.apply(&res(&format!(r#"{{"unified":{{"{key}":"1"}}}}"#)))
                .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid unified key"),
            "{key}: {err}"
        );
    }
    let err =
        f.m.apply(&res(r#"{"unified":{"pids.max":"1"}}"#))
            .unwrap_err();
    assert!(err.to_string().contains("no pids controller"), "{err}");
}

#[test]
fn rootless_without_cgroup_warns_once_and_skips_devices() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v1(d.path(), &["memory", "devices"]);
    let mut m = Manager::new(&layout, "", "ctr", true).unwrap();
    m.create().unwrap();
    assert!(!m.is_enabled());
    assert!(
        !d.path().join("memory/ctr").exists(),
        "rootless v1 creates nothing"
    );
    let w = m
        .apply(&res(
            r#"{"memory":{"limit":1},"devices":[{"allow":false,"access":"rwm"}]}"#,
        ))
        .unwrap();
    assert_eq!(w, [Warning::Rootless]);
    assert_eq!(
        w[0].to_string(),
        "skipping cgroup limits: no delegated cgroup (rootless)"
    );
    assert!(
        m.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#))
            .unwrap()
            .is_empty()
    );
    assert!(m.stats().unwrap_err().to_string().contains("has no cgroup"));
    m.add_pid(1).unwrap();
    m.destroy().unwrap();
}
