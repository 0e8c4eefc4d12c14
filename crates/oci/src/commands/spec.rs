// SPDX-License-Identifier: Apache-2.0
//! `spec [--rootless]`: writes a default config.json (runc's defaults, spec 1.2.0) with the
//! default seccomp profile of stockade-seccomp. Refuses to overwrite an existing file.

use std::io::Write;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cli::SpecArgs;

const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/powercap",
];
const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
const CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The default spec.
pub fn default_spec(rootless: bool) -> anyhow::Result<Value> {
    let seccomp = serde_json::to_value(stockade_seccomp::default_profile())?;
    let mut spec = json!({
        "ociVersion": stockade_runtime::oci_state::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "stockade",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                           {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "seccomp": seccomp,
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY
        }
    });
    if rootless {
        make_rootless(&mut spec);
    }
    Ok(spec)
}

/// runc's `spec --rootless` changes: a user namespace mapping the caller to root, no
/// network namespace, no devpts gid, host /sys bound read-only, no cgroup mount or limits.
fn make_rootless(spec: &mut Value) {
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let linux = &mut spec["linux"];
    linux["resources"] = json!({});
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    linux["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                                 {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}]);
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        mounts.retain(|m| m["type"] != "cgroup");
        for m in mounts.iter_mut() {
            if m["type"] == "devpts"
                && let Some(o) = m["options"].as_array_mut()
            {
                o.retain(|x| x != "gid=5");
            }
            if m["type"] == "sysfs" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
        }
    }
}

/// `spec`.
pub fn spec(a: &SpecArgs) -> anyhow::Result<i32> {
    let path = a.bundle.join("config.json");
    let text = serde_json::to_string_pretty(&default_spec(a.rootless)?)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default_spec_parses_and_validates() {
        for rootless in [false, true] {
            let v = default_spec(rootless).unwrap();
            let spec: oci_spec::runtime::Spec = serde_json::from_value(v.clone()).unwrap();
            stockade_runtime::config::validate(&spec).unwrap();
            assert!(spec.linux().as_ref().unwrap().seccomp().is_some());
            let ns = v["linux"]["namespaces"].to_string();
            assert_eq!(ns.contains("\"user\""), rootless);
            assert_eq!(ns.contains("\"network\""), !rootless);
        }
    }
}
