// SPDX-License-Identifier: Apache-2.0
//! uid/gid maps of a new user namespace, written by main through the verified procfs
//! handle. Rootless: `setgroups` is denied first (required to write `gid_map` without
//! CAP_SETGID in the parent namespace), and maps beyond the caller's own ids go through
//! the setuid helpers `newuidmap`/`newgidmap` (shadow-utils), as runc does.

use std::process::Command;

use oci_spec::runtime::{Linux, LinuxIdMapping};
use rustix::process::Pid;

use crate::procfs::{ProcError, ProcRoot};

fn lines(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn only_own(maps: &[LinuxIdMapping], own: u32) -> bool {
    maps.len() == 1 && maps[0].host_id() == own && maps[0].size() == 1
}

/// Writes `uid_map` and `gid_map` of `pid`'s user namespace.
pub fn write(proc: &ProcRoot, pid: Pid, linux: &Linux, rootless: bool) -> Result<(), ProcError> {
    let uids = linux.uid_mappings().clone().unwrap_or_default();
    let gids = linux.gid_mappings().clone().unwrap_or_default();
    let p = pid.as_raw_nonzero().get();
    if !rootless {
        proc.write(&format!("{p}/uid_map"), lines(&uids).as_bytes())?;
        return proc.write(&format!("{p}/gid_map"), lines(&gids).as_bytes());
    }
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    if only_own(&uids, euid) {
        proc.write(&format!("{p}/uid_map"), lines(&uids).as_bytes())?;
    } else {
        helper("newuidmap", p, &uids)?;
    }
    if only_own(&gids, egid) {
        proc.write(&format!("{p}/setgroups"), b"deny")?;
        proc.write(&format!("{p}/gid_map"), lines(&gids).as_bytes())
    } else {
        helper("newgidmap", p, &gids)
    }
}

fn helper(prog: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<(), ProcError> {
    let mut cmd = Command::new(prog);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id(), m.host_id(), m.size()].map(|v| v.to_string()));
    }
    let path = format!(
        "{pid}/{}",
        if prog == "newuidmap" {
            "uid_map"
        } else {
            "gid_map"
        }
    );
    let out = cmd.output().map_err(|source| ProcError::Write {
        path: path.clone(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(ProcError::Write {
        path,
        source: std::io::Error::other(format!("{prog}: {msg}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_map_lines() {
        let m: Vec<LinuxIdMapping> = serde_json::from_value(serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 1},
            {"containerID": 1, "hostID": 100000, "size": 65536}
        ]))
        .unwrap();
        assert_eq!(lines(&m), "0 1000 1\n1 100000 65536\n");
        assert!(!only_own(&m, 1000));
        assert!(only_own(&m[..1], 1000));
    }
}
