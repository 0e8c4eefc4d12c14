// SPDX-License-Identifier: Apache-2.0
//! `facts`: everything a test may want to know about the process, as one JSON object.

use std::collections::BTreeMap;
use std::fs;

use serde_json::{Value, json};

use crate::sys;

/// RLIMIT_* names in kernel order (index = resource number).
pub const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

const NAMESPACES: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

/// Field `key:` of /proc/self/status, trimmed.
fn status_field(status: &str, key: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
}

fn ids(status: &str, key: &str) -> Value {
    let v: Vec<u64> = status_field(status, key)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    json!(v)
}

fn err_json(e: i32) -> Value {
    json!({ "errno": e, "error": sys::errname(e) })
}

/// Open descriptors of this process with their targets, without the directory handle used to
/// list them.
pub fn fds() -> Value {
    let mut map = BTreeMap::new();
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return json!({});
    };
    let self_fd_dir = format!("/proc/{}/fd", std::process::id());
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let target = fs::read_link(e.path()).map(|p| p.to_string_lossy().into_owned());
        match target {
            Ok(t) if t == self_fd_dir => {}
            Ok(t) => {
                map.insert(name, Value::String(t));
            }
            Err(_) => {} // the listing handle itself, already closed
        }
    }
    json!(map)
}

fn rlimits() -> Value {
    let mut map = serde_json::Map::new();
    for (i, name) in RLIMITS.iter().enumerate() {
        let Ok(res) = u32::try_from(i) else { continue };
        if let Ok((soft, hard)) = sys::getrlimit(res) {
            map.insert((*name).to_string(), json!([soft, hard]));
        }
    }
    Value::Object(map)
}

fn namespaces() -> Value {
    let mut map = serde_json::Map::new();
    for ns in NAMESPACES {
        if let Ok(t) = fs::read_link(format!("/proc/self/ns/{ns}")) {
            map.insert(ns.to_string(), json!(t.to_string_lossy()));
        }
    }
    Value::Object(map)
}

fn lines(path: &str) -> Value {
    match fs::read_to_string(path) {
        Ok(s) => json!(s.lines().collect::<Vec<_>>()),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// All facts about the calling process.
pub fn collect() -> Value {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let (hostname, domainname, machine) = sys::uname().unwrap_or_default();
    let cwd = match std::env::current_dir() {
        Ok(p) => json!(p.to_string_lossy()),
        Err(e) => err_json(e.raw_os_error().unwrap_or(0)),
    };
    let env: BTreeMap<String, String> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let caps: BTreeMap<&str, String> = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|k| (*k, status_field(&status, k).unwrap_or_default()))
        .collect();
    let oom = fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    json!({
        "pid": std::process::id(),
        "ppid": std::os::unix::process::parent_id(),
        "uid": ids(&status, "Uid"),
        "gid": ids(&status, "Gid"),
        "groups": sys::getgroups().unwrap_or_default(),
        "umask": status_field(&status, "Umask"),
        "cwd": cwd,
        "hostname": hostname,
        "domainname": domainname,
        "machine": machine,
        "env": env,
        "args": std::env::args().collect::<Vec<_>>(),
        "exe": fs::read_link("/proc/self/exe").map(|p| p.to_string_lossy().into_owned()).ok(),
        "caps": caps,
        "no_new_privs": status_field(&status, "NoNewPrivs").and_then(|v| v.parse::<u8>().ok()),
        "seccomp": status_field(&status, "Seccomp").and_then(|v| v.parse::<u8>().ok()),
        "rlimits": rlimits(),
        "oom_score_adj": oom,
        "personality": sys::personality().ok(),
        "mountinfo": lines("/proc/self/mountinfo"),
        "ns": namespaces(),
        "cgroup": lines("/proc/self/cgroup"),
        "fds": fds(),
        "tty": [sys::isatty(0), sys::isatty(1), sys::isatty(2)],
        "uid_map": lines("/proc/self/uid_map"),
        "gid_map": lines("/proc/self/gid_map"),
        "timens_offsets": lines("/proc/self/timens_offsets"),
        "ioprio": sys::syscall_ints(libc::SYS_ioprio_get, [1, 0, 0, 0, 0]).ok(),
    })
}
