// SPDX-License-Identifier: Apache-2.0
//! config-linux.md#namespaces, user namespace mappings and time offsets.

use std::fs;
use std::process::{Child, Command};

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, probe};

use crate::{create_fails, probe_with, rt};

pub const CASES: &[Case] = &[
    case(
        "config-linux.md#namespaces",
        "MUST",
        "listed namespaces without path are new",
        &["linux_ns_nopath"],
        ns_new,
    ),
    case(
        "config-linux.md#namespaces",
        "MUST",
        "namespaces not listed are inherited from the runtime",
        &["linux_ns_itype"],
        ns_inherit,
    ),
    case(
        "config-linux.md#namespaces",
        "MUST",
        "a namespace path is joined",
        &["linux_ns_path"],
        ns_path_joined,
    ),
    case(
        "config-linux.md#namespaces",
        "MUST",
        "a relative namespace path is refused",
        &[],
        ns_path_relative,
    ),
    case(
        "config-linux.md#namespaces",
        "MUST",
        "a path to a namespace of another type is refused",
        &["linux_ns_path_type"],
        ns_path_wrong_type,
    ),
    case(
        "config-linux.md#namespaces",
        "MUST",
        "duplicated namespace types are refused",
        &[],
        ns_duplicate,
    ),
    case(
        "config-linux.md#user-namespace-mappings",
        "FIELD",
        "uidMappings and gidMappings are applied",
        &["linux_uid_mappings", "linux_gid_mappings"],
        id_mappings,
    ),
    case(
        "config-linux.md#user-namespace-mappings",
        "SHOULD NOT",
        "the rootfs ownership is not changed to realise the mapping",
        &[],
        mappings_keep_ownership,
    ),
    case(
        "config-linux.md#offset-for-time-namespace",
        "FIELD",
        "timeOffsets are applied in a new time namespace",
        &[],
        time_offsets,
    ),
];

fn host_ns(ns: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{ns}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn ns_new() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.push("/linux/namespaces", json!({ "type": "cgroup" }));
    })?;
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        ensure!(
            f["ns"][ns] != json!(host_ns(ns)),
            "{ns} namespace is the runtime's"
        );
    }
    Ok(())
}

fn ns_inherit() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        for ns in ["network", "ipc", "uts", "pid"] {
            b.without_ns(ns);
        }
        b.remove("/hostname");
    })?;
    for ns in ["net", "ipc", "uts", "pid", "cgroup"] {
        ensure!(
            f["ns"][ns] == json!(host_ns(ns)),
            "{ns} namespace not inherited: {} vs {}",
            f["ns"][ns],
            host_ns(ns)
        );
    }
    Ok(())
}

/// A host process in new net and uts namespaces, killed on drop.
struct NsHolder(Child);

impl NsHolder {
    fn start() -> Result<Self> {
        let c = Command::new("unshare")
            .args(["--net", "--uts", "sleep", "300"])
            .spawn()?;
        let h = Self(c);
        for _ in 0..100 {
            if fs::read_link(h.ns("net")).ok() != fs::read_link("/proc/self/ns/net").ok() {
                return Ok(h);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        anyhow::bail!("unshare helper did not enter a new net namespace")
    }

    fn ns(&self, ns: &str) -> String {
        format!("/proc/{}/ns/{ns}", self.0.id())
    }
}

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ns_path_joined() -> Result<()> {
    let h = NsHolder::start()?;
    let f = probe_with(&["facts"], |b| {
        b.without_ns("network").push(
            "/linux/namespaces",
            json!({ "type": "network", "path": h.ns("net") }),
        );
    })?;
    let want = fs::read_link(h.ns("net"))?;
    ensure!(
        f["ns"]["net"] == json!(want.to_string_lossy()),
        "net ns {} (want {})",
        f["ns"]["net"],
        want.display()
    );
    Ok(())
}

fn ns_path_relative() -> Result<()> {
    let h = NsHolder::start()?;
    let mut b = Bundle::new("nsrel")?;
    let rel = h.ns("net").trim_start_matches('/').to_string();
    b.without_ns("network").push(
        "/linux/namespaces",
        json!({ "type": "network", "path": rel }),
    );
    create_fails(&rt()?, &b)
}

fn ns_path_wrong_type() -> Result<()> {
    let h = NsHolder::start()?;
    let mut b = Bundle::new("nstype")?;
    b.without_ns("network").push(
        "/linux/namespaces",
        json!({ "type": "network", "path": h.ns("uts") }),
    );
    create_fails(&rt()?, &b)
}

fn ns_duplicate() -> Result<()> {
    let mut b = Bundle::new("nsdup")?;
    b.push("/linux/namespaces", json!({ "type": "ipc" }));
    create_fails(&rt()?, &b)
}

fn userns(b: &mut Bundle) {
    b.push("/linux/namespaces", json!({ "type": "user" }));
    b.set(
        "/linux/uidMappings",
        json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{ "containerID": 0, "hostID": 300000, "size": 65536 }]),
    );
}

fn id_mappings() -> Result<()> {
    let f = probe_with(&["facts"], userns)?;
    let fields = |k: &str| {
        f[k].as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    ensure!(
        fields("uid_map") == "0 200000 65536",
        "uid_map {}",
        f["uid_map"]
    );
    ensure!(
        fields("gid_map") == "0 300000 65536",
        "gid_map {}",
        f["gid_map"]
    );
    Ok(())
}

fn mappings_keep_ownership() -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let rt = rt()?;
    let mut b = Bundle::new("userns-own")?;
    userns(&mut b);
    let owners = |b: &Bundle| -> Vec<(u32, u32)> {
        ["", "bin", "bin/busybox", "probe", "tmp"]
            .iter()
            .filter_map(|p| fs::symlink_metadata(b.rootfs().join(p)).ok())
            .map(|m| (m.uid(), m.gid()))
            .collect()
    };
    let before = owners(&b);
    probe::run(&rt, &b)?;
    ensure!(
        owners(&b) == before,
        "rootfs ownership changed: {before:?} -> {:?}",
        owners(&b)
    );
    Ok(())
}

fn time_offsets() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("timens")?;
    b.push("/linux/namespaces", json!({ "type": "time" }));
    b.set("/linux/timeOffsets", json!({ "monotonic": { "secs": 86400, "nanosecs": 0 }, "boottime": { "secs": 172800, "nanosecs": 0 } }));
    b.probe(&["facts"]);
    let _g = rt.guard(b.id());
    let o = rt.run(&b)?;
    if !o.ok() {
        return Ok(()); // refusing an unsupported namespace is allowed; silently ignoring it is not
    }
    let f = probe::parse(&o)?;
    let offs = f["timens_offsets"].to_string();
    ensure!(
        offs.contains("86400") && offs.contains("172800"),
        "time offsets not applied: {offs}"
    );
    ensure!(
        f["ns"]["time"] != json!(host_ns("time")),
        "no new time namespace"
    );
    Ok(())
}
