// SPDX-License-Identifier: Apache-2.0
//! ps, list, events, features.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use stockade_runtime::{Runtime, Status};

use crate::cli::{EventsArgs, Format, ListArgs, PsArgs};

/// `ps`: JSON pids, or ps(1)'s table restricted to the container's pids.
pub fn ps(rt: &Runtime, a: &PsArgs) -> anyhow::Result<i32> {
    let pids = rt.pids(&a.id)?;
    if a.format == Format::Json {
        super::print_json(&pids)?;
        return Ok(0);
    }
    let mut cmd = Command::new("ps");
    cmd.args(if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args.clone()
    });
    let out = cmd
        .output()
        .map_err(|e| anyhow::anyhow!("container {}: cannot run ps: {e}", a.id))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow::anyhow!("container {}: ps output has no PID column", a.id))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{header}")?;
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            writeln!(stdout, "{l}")?;
        }
    }
    Ok(0)
}

/// `list`.
pub fn list(rt: &Runtime, a: &ListArgs) -> anyhow::Result<i32> {
    let all = rt.list()?;
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for s in &all {
            writeln!(out, "{}", s.id)?;
        }
    } else if a.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string(&all)?)?;
    } else {
        writeln!(
            out,
            "{:<12} {:<8} {:<10} {:<40} {:<30} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        )?;
        for s in &all {
            writeln!(
                out,
                "{:<12} {:<8} {:<10} {:<40} {:<30} {}",
                s.id,
                s.pid,
                s.status.to_string(),
                s.bundle.display(),
                s.created,
                s.owner
            )?;
        }
    }
    Ok(0)
}

fn parse_interval(s: &str) -> anyhow::Result<Duration> {
    let bad = || anyhow::anyhow!("--interval {s:?}: expected e.g. 5s or 500ms");
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| bad())?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(bad()),
    })
}

/// `events`: one stats object with `--stats`, else a stats line per interval until the
/// container stops.
pub fn events(rt: &Runtime, a: &EventsArgs) -> anyhow::Result<i32> {
    let interval = parse_interval(&a.interval)?;
    loop {
        let data = rt.stats(&a.id)?;
        let ev = serde_json::json!({"type": "stats", "id": a.id, "data": data});
        super::print_line(&ev.to_string())?;
        if a.stats {
            return Ok(0);
        }
        std::thread::sleep(interval);
        if rt.state(&a.id)?.status == Status::Stopped {
            return Ok(0);
        }
    }
}

/// `features`.
pub fn features() -> anyhow::Result<i32> {
    let caps: Vec<&str> = stockade_runtime::caps::NAMES.to_vec();
    let v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": stockade_runtime::oci_state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "exec", "mand",
            "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime",
            "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared",
            "rslave", "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync",
            "unbindable", "idmap", "ridmap", "rro", "rrw"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "io.github.stockade.version": env!("CARGO_PKG_VERSION"),
            "io.github.stockade.sealed-exec": "overlayfs,memfd"
        }
    });
    super::print_json(&v)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_interval("x").is_err());
    }
}
