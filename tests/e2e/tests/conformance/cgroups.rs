// SPDX-License-Identifier: Apache-2.0
//! config-linux.md#control-groups: cgroupsPath and the resources. The host is cgroup v1
//! (hybrid): files are read under `/sys/fs/cgroup/<controller>/<path>`. A resource whose
//! controller this host lacks must be applied elsewhere or refused (config.md#valid-values:
//! unsupported values are an error), never silently dropped.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use stockade_e2e::bundle::CGROUP_PREFIX;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, Defer, probe};

use crate::rt;

pub const CASES: &[Case] = &[
    case(
        "config-linux.md#cgroups-path",
        "MUST",
        "an absolute cgroupsPath is relative to the cgroup mount",
        &["linux_cgroups_pids", "linux_cgroups_memory"],
        path_absolute,
    ),
    case(
        "config-linux.md#cgroups-path",
        "MUST",
        "the same relative cgroupsPath attaches to the same place",
        &[
            "linux_cgroups_relative_pids",
            "linux_cgroups_relative_memory",
        ],
        path_relative_consistent,
    ),
    case(
        "config-linux.md#memory",
        "FIELD",
        "limit, reservation, swap and swappiness are written",
        &["linux_cgroups_memory", "linux_cgroups_relative_memory"],
        memory,
    ),
    case(
        "config-linux.md#cpu",
        "FIELD",
        "shares, quota, period, cpus and mems are written",
        &["linux_cgroups_cpus", "linux_cgroups_relative_cpus"],
        cpu,
    ),
    case(
        "config-linux.md#pids",
        "FIELD",
        "pids.limit is written",
        &["linux_cgroups_pids", "linux_cgroups_relative_pids"],
        pids,
    ),
    case(
        "config-linux.md#block-io",
        "FIELD",
        "throttle device rates are written",
        &["linux_cgroups_blkio", "linux_cgroups_relative_blkio"],
        blkio_throttle,
    ),
    case(
        "config-linux.md#block-io",
        "MUST",
        "weight is applied, or refused where unsupported",
        &["linux_cgroups_blkio"],
        blkio_weight,
    ),
    case(
        "config-linux.md#huge-page-limits",
        "MUST",
        "hugepage limits are applied, or refused where unsupported",
        &["linux_cgroups_hugetlb", "linux_cgroups_relative_hugetlb"],
        hugetlb,
    ),
    case(
        "config-linux.md#network",
        "MUST",
        "classID and priorities are applied, or refused where unsupported",
        &["linux_cgroups_network", "linux_cgroups_relative_network"],
        network,
    ),
    case(
        "config-linux.md#allowed-device-list",
        "MUST",
        "device rules are applied in the listed order",
        &["linux_cgroups_devices", "linux_cgroups_relative_devices"],
        devices_in_order,
    ),
];

/// `/sys/fs/cgroup/<ctl>/stockade-e2e-<id>/<file>`, trimmed.
fn cg(ctl: &str, b: &Bundle, file: &str) -> String {
    let p = format!("/sys/fs/cgroup/{ctl}/{CGROUP_PREFIX}{}/{file}", b.id());
    fs::read_to_string(&p)
        .unwrap_or_else(|e| format!("<{p}: {e}>"))
        .trim()
        .to_string()
}

/// Creates the bundle (process: sleep) and runs `check` while it exists.
fn with_created(
    edit: impl FnOnce(&mut Bundle),
    check: impl FnOnce(&Bundle) -> Result<()>,
) -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("cg")?;
    b.args(&["sleep", "300"]);
    edit(&mut b);
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    check(&b)
}

/// Creates the bundle; `Ok(None)` when the runtime refused it, else runs `check`.
fn applied_or_refused(
    edit: impl FnOnce(&mut Bundle),
    check: impl FnOnce(&Bundle) -> Result<()>,
) -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("cgopt")?;
    b.args(&["sleep", "300"]);
    edit(&mut b);
    let _g = rt.guard(b.id());
    if !rt.create(&b)?.ok() {
        return Ok(());
    }
    check(&b)
}

fn path_absolute() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("cgabs")?;
    b.args(&["sleep", "300"])
        .set("/linux/resources/pids", json!({ "limit": 100 }))
        .set("/linux/resources/memory", json!({ "limit": 64u64 << 20 }));
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
    let lines = fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    for ctl in ["memory", "pids"] {
        let want = format!(":{ctl}:/{CGROUP_PREFIX}{}", b.id());
        ensure!(
            lines.lines().any(|l| l.ends_with(&want)),
            "{ctl} cgroup of pid {pid}: {lines}"
        );
        ensure!(
            Path::new(&format!("/sys/fs/cgroup/{ctl}/{CGROUP_PREFIX}{}", b.id())).is_dir(),
            "{ctl} directory missing"
        );
    }
    Ok(())
}

/// Removes directories named `name` anywhere in the first three levels of every hierarchy.
fn remove_named(name: &str) {
    fn walk(d: &Path, depth: u32, name: &str, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                if depth > 0 {
                    walk(&p, depth - 1, name, out);
                }
                if e.file_name().to_string_lossy() == name {
                    out.push(p);
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), 3, name, &mut v);
    for p in v {
        let _ = fs::remove_dir(p);
    }
}

fn path_relative_consistent() -> Result<()> {
    let rt = rt()?;
    let rel = format!("{CGROUP_PREFIX}rel-{}", std::process::id());
    let _cleanup = Defer(|| remove_named(&rel));
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut b = Bundle::new("cgrel")?;
        b.set("/linux/cgroupsPath", json!(rel))
            .set("/linux/resources/pids", json!({ "limit": 100 }));
        let f = probe::run(&rt, &b)?;
        let line = f["cgroup"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|l| l.contains(":pids:"))
            .unwrap_or("")
            .to_string();
        seen.push(line);
    }
    ensure!(
        seen[0] == seen[1],
        "same relative cgroupsPath, different cgroups: {seen:?}"
    );
    ensure!(
        seen[0].ends_with(&rel),
        "pids cgroup {} does not end with {rel}",
        seen[0]
    );
    Ok(())
}

fn memory() -> Result<()> {
    let mem = json!({ "limit": 64u64 << 20, "reservation": 32u64 << 20, "swap": 64u64 << 20, "swappiness": 10 });
    with_created(
        |b| {
            b.set("/linux/resources/memory", mem);
        },
        |b| {
            ensure!(
                cg("memory", b, "memory.limit_in_bytes") == (64u64 << 20).to_string(),
                "limit {}",
                cg("memory", b, "memory.limit_in_bytes")
            );
            ensure!(
                cg("memory", b, "memory.soft_limit_in_bytes") == (32u64 << 20).to_string(),
                "reservation {}",
                cg("memory", b, "memory.soft_limit_in_bytes")
            );
            ensure!(
                cg("memory", b, "memory.memsw.limit_in_bytes") == (64u64 << 20).to_string(),
                "swap {}",
                cg("memory", b, "memory.memsw.limit_in_bytes")
            );
            ensure!(
                cg("memory", b, "memory.swappiness") == "10",
                "swappiness {}",
                cg("memory", b, "memory.swappiness")
            );
            Ok(())
        },
    )
}

fn cpu() -> Result<()> {
    let c = json!({ "shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0" });
    with_created(
        |b| {
            b.set("/linux/resources/cpu", c);
        },
        |b| {
            for (ctl, f, want) in [
                ("cpu", "cpu.shares", "512"),
                ("cpu", "cpu.cfs_quota_us", "50000"),
                ("cpu", "cpu.cfs_period_us", "100000"),
                ("cpuset", "cpuset.cpus", "0"),
                ("cpuset", "cpuset.mems", "0"),
            ] {
                ensure!(
                    cg(ctl, b, f) == want,
                    "{f} = {} (want {want})",
                    cg(ctl, b, f)
                );
            }
            Ok(())
        },
    )
}

fn pids() -> Result<()> {
    with_created(
        |b| {
            b.set("/linux/resources/pids", json!({ "limit": 123 }));
        },
        |b| {
            ensure!(
                cg("pids", b, "pids.max") == "123",
                "pids.max {}",
                cg("pids", b, "pids.max")
            );
            Ok(())
        },
    )
}

/// (major, minor) of the block device holding `/`.
fn root_disk() -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata("/")?.dev();
    let sys = fs::read_to_string(format!(
        "/sys/dev/block/{}:{}/../dev",
        dev >> 8 & 0xfff,
        dev & 0xff
    ))
    .or_else(|_| {
        fs::read_to_string(format!(
            "/sys/dev/block/{}:{}/dev",
            dev >> 8 & 0xfff,
            dev & 0xff
        ))
    })?;
    let (a, b) = sys.trim().split_once(':').context("dev format")?;
    Ok((a.parse()?, b.parse()?))
}

fn blkio_throttle() -> Result<()> {
    let (maj, min) = root_disk()?;
    with_created(
        |b| {
            b.set("/linux/resources/blockIO", json!({ "throttleReadBpsDevice": [{ "major": maj, "minor": min, "rate": 1048576 }], "throttleWriteIOPSDevice": [{ "major": maj, "minor": min, "rate": 300 }] }));
        },
        |b| {
            let r = cg("blkio", b, "blkio.throttle.read_bps_device");
            ensure!(
                r.lines().any(|l| l == format!("{maj}:{min} 1048576")),
                "read_bps_device {r:?}"
            );
            let w = cg("blkio", b, "blkio.throttle.write_iops_device");
            ensure!(
                w.lines().any(|l| l == format!("{maj}:{min} 300")),
                "write_iops_device {w:?}"
            );
            Ok(())
        },
    )
}

fn blkio_weight() -> Result<()> {
    applied_or_refused(
        |b| {
            b.set("/linux/resources/blockIO", json!({ "weight": 500 }));
        },
        |b| {
            let w = cg("blkio", b, "blkio.weight");
            let bfq = cg("blkio", b, "blkio.bfq.weight");
            ensure!(
                w == "500"
                    || bfq
                        .lines()
                        .any(|l| l.trim_start_matches("default ") == "500"),
                "weight 500 neither applied nor refused (blkio.weight {w:?}, blkio.bfq.weight {bfq:?})"
            );
            Ok(())
        },
    )
}

fn hugetlb() -> Result<()> {
    let limit = 4u64 << 21;
    applied_or_refused(
        |b| {
            b.set(
                "/linux/resources/hugepageLimits",
                json!([{ "pageSize": "2MB", "limit": limit }]),
            );
        },
        |b| {
            let v1 = cg("hugetlb", b, "hugetlb.2MB.limit_in_bytes");
            let v2 = fs::read_to_string(format!(
                "/sys/fs/cgroup/unified/{CGROUP_PREFIX}{}/hugetlb.2MB.max",
                b.id()
            ))
            .unwrap_or_default();
            ensure!(
                v1 == limit.to_string() || v2.trim() == limit.to_string(),
                "hugetlb limit neither applied nor refused (v1 {v1:?}, v2 {v2:?})"
            );
            Ok(())
        },
    )
}

fn network() -> Result<()> {
    applied_or_refused(
        |b| {
            b.set(
                "/linux/resources/network",
                json!({ "classID": 1048577, "priorities": [{ "name": "lo", "priority": 5 }] }),
            );
        },
        |b| {
            let id = cg("net_cls", b, "net_cls.classid");
            let alt = fs::read_to_string(format!(
                "/sys/fs/cgroup/net_cls,net_prio/{CGROUP_PREFIX}{}/net_cls.classid",
                b.id()
            ))
            .unwrap_or_default();
            ensure!(
                id == "1048577" || alt.trim() == "1048577",
                "classID neither applied nor refused ({id:?})"
            );
            Ok(())
        },
    )
}

fn devices_in_order() -> Result<()> {
    // 10:229 is /dev/fuse: opening it needs no capability (only the cgroup can refuse) and it
    // is not among the devices runtimes allow by default.
    let dev = json!({ "path": "/dev/e2e-fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o644 });
    let rule = |allow: bool| json!({ "allow": allow, "type": "c", "major": 10, "minor": 229, "access": "rwm" });
    for (order, denied) in [([true, false], true), ([false, true], false)] {
        let v = crate::probe_with(&["paths", "/dev/e2e-fuse"], |b| {
            b.push("/linux/devices", dev.clone());
            b.push("/linux/resources/devices", rule(order[0]))
                .push("/linux/resources/devices", rule(order[1]));
        })?;
        let r = &v["/dev/e2e-fuse"]["read"];
        ensure!(
            (r["stage"] == "open" && r["error"] == "EPERM") == denied,
            "rules allow={order:?}: open of /dev/e2e-fuse gave {} (denied expected: {denied})",
            v["/dev/e2e-fuse"]
        );
    }
    Ok(())
}
