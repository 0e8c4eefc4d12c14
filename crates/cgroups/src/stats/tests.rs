// SPDX-License-Identifier: Apache-2.0
//! Statistics from fake v1 and v2 trees, serialized in runc's `events --stats` shape.

use std::path::Path;

use serde_json::json;

use crate::Manager;
use crate::fake;

fn put(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

#[test]
fn v1_stats_in_runc_shape() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v1(
        d.path(),
        &["cpu", "cpuacct", "memory", "pids", "blkio", "hugetlb"],
    );
    let mut m = Manager::new(&layout, "/c", "c", false).unwrap();
    m.create().unwrap();
    let leaf = |h: &str| d.path().join(h).join("c");
    put(
        &leaf("cpu"),
        &[(
            "cpu.stat",
            "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
        )],
    );
    put(
        &leaf("cpuacct"),
        &[
            ("cpuacct.usage", "3000\n"),
            ("cpuacct.usage_percpu", "1000 2000 \n"),
            (
                "cpuacct.usage_all",
                "cpu user system\n0 600 400\n1 1500 500\n",
            ),
            ("cpuacct.stat", "user 2\nsystem 1\n"),
        ],
    );
    put(
        &leaf("memory"),
        &[
            ("memory.usage_in_bytes", "8192\n"),
            ("memory.max_usage_in_bytes", "16384\n"),
            ("memory.failcnt", "3\n"),
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.stat", "cache 4096\nrss 4096\n"),
        ],
    );
    put(
        &leaf("pids"),
        &[("pids.current", "2\n"), ("pids.max", "max\n")],
    );
    put(
        &leaf("blkio"),
        &[
            ("blkio.bfq.io_service_bytes_recursive", "Total 0\n"),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
            ),
        ],
    );
    put(
        &leaf("hugetlb"),
        &[
            ("hugetlb.2MB.usage_in_bytes", "0\n"),
            ("hugetlb.2MB.max_usage_in_bytes", "2097152\n"),
            ("hugetlb.2MB.failcnt", "1\n"),
            ("hugetlb.2MB.rsvd.usage_in_bytes", "0\n"),
        ],
    );
    let s = serde_json::to_value(m.stats().unwrap()).unwrap();
    assert_eq!(
        s["cpu"]["usage"],
        json!({"total": 3000, "percpu": [1000, 2000],
        "percpu_kernel": [400, 500], "percpu_user": [600, 1500], "kernel": 10_000_000u64, "user": 20_000_000u64})
    );
    assert_eq!(
        s["cpu"]["throttling"],
        json!({"periods": 10, "throttledPeriods": 2, "throttledTime": 5000})
    );
    assert_eq!(
        s["memory"]["usage"],
        json!({"limit": 9_223_372_036_854_771_712u64, "usage": 8192, "max": 16384, "failcnt": 3})
    );
    assert_eq!(
        s["memory"]["swap"],
        json!({"limit": 0, "failcnt": 0}),
        "no memsw files: zero"
    );
    assert_eq!(s["memory"]["cache"], 4096);
    assert_eq!(s["memory"]["raw"]["rss"], 4096);
    assert_eq!(s["pids"], json!({"current": 2}));
    assert_eq!(
        s["blkio"]["ioServiceBytesRecursive"],
        json!([{"major": 8, "op": "Read", "value": 4096}, {"major": 8, "op": "Write"}])
    );
    assert_eq!(
        s["hugetlb"],
        json!({"2MB": {"max": 2_097_152, "failcnt": 1}})
    );
    assert!(s["memory"].get("kernelTCP").is_some());
}

#[test]
fn v2_stats_in_runc_shape() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v2(d.path(), &["cpu", "memory", "pids", "io", "hugetlb"]);
    let mut m = Manager::new(&layout, "/c", "c", false).unwrap();
    m.create().unwrap();
    put(
        &d.path().join("unified/c"),
        &[
            (
                "cpu.stat",
                "usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n",
            ),
            ("memory.current", "8192\n"),
            ("memory.max", "max\n"),
            ("memory.peak", "10000\n"),
            ("memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n"),
            ("memory.swap.current", "100\n"),
            ("memory.swap.max", "max\n"),
            ("memory.stat", "anon 4096\nfile 2048\n"),
            ("pids.current", "3\n"),
            ("pids.max", "50\n"),
            (
                "io.stat",
                "8:0 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n",
            ),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.events", "max 2\n"),
            ("hugetlb.2MB.rsvd.current", "0\n"),
        ],
    );
    let s = serde_json::to_value(m.stats().unwrap()).unwrap();
    assert_eq!(
        s["cpu"]["usage"],
        json!({"total": 30000, "kernel": 10000, "user": 20000})
    );
    assert_eq!(s["cpu"]["throttling"]["throttledTime"], 7000);
    assert_eq!(
        s["memory"]["usage"],
        json!({"limit": u64::MAX, "usage": 8192, "max": 10000, "failcnt": 5})
    );
    assert_eq!(
        s["memory"]["swap"],
        json!({"limit": u64::MAX, "usage": 8292, "failcnt": 0})
    );
    assert_eq!(s["memory"]["cache"], 2048);
    assert_eq!(s["pids"], json!({"current": 3, "limit": 50}));
    assert_eq!(
        s["blkio"]["ioServicedRecursive"],
        json!([{"major": 8, "op": "Read", "value": 1}, {"major": 8, "op": "Write", "value": 2}])
    );
    assert_eq!(s["hugetlb"], json!({"2MB": {"failcnt": 2}}));
    assert_eq!(m.oom_kill_count().unwrap(), Some(1));
}
