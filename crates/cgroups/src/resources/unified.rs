// SPDX-License-Identifier: Apache-2.0
//! `linux.resources.unified`: raw cgroup v2 `file → value` pairs.
//!
//! The config comes from the tenant, so keys are restricted to control files of resource
//! controllers (`memory.high`, `io.latency`...) and the two `cgroup.max.*` limits: never
//! `cgroup.procs`, `cgroup.threads`, `cgroup.kill`, `cgroup.subtree_control`..., which
//! would let a config move host processes into (or kill them from) the container's cgroup.
//! Multi-line values are written one line per `write(2)`. Refused on pure v1; on a hybrid
//! host only for controllers the cgroup2 hierarchy holds.

use oci_spec::runtime::LinuxResources;

use crate::create::enable_controllers;
use crate::error::{CgroupError, Result};
use crate::manager::Manager;

const CONTROLLERS: &[&str] = &[
    "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];
const CGROUP_KEYS: &[&str] = &["cgroup.max.depth", "cgroup.max.descendants"];
const MAX_KEY: usize = 64;
const MAX_VALUE: usize = 4096;

pub(super) fn apply(m: &Manager, r: &LinuxResources) -> Result<()> {
    let Some(map) = r.unified().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    let Some(ui) = m.unified_index() else {
        return Err(CgroupError::Unsupported {
            what: "unified resources".into(),
            version: "cgroup v1",
        });
    };
    let mut pairs: Vec<_> = map.iter().collect();
    pairs.sort();
    for (key, value) in pairs {
        let controller = check_key(key)?;
        if value.len() > MAX_VALUE {
            return Err(CgroupError::InvalidValue {
                what: "unified value",
                value: value.clone(),
            });
        }
        let cg = &m.st.dirs[ui];
        if let Some(c) = controller {
            if !cg.has(c) {
                return Err(CgroupError::Unsupported {
                    what: format!("unified key {key} (no {c} controller in the cgroup2 hierarchy)"),
                    version: if m.is_hybrid() {
                        "this hybrid host"
                    } else {
                        "this host"
                    },
                });
            }
            if m.is_hybrid() {
                enable_controllers(cg, &[c]);
            }
        }
        let lines: Vec<String> = value
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        m.dir(ui)?.write_each(key, &lines)?;
    }
    Ok(())
}

/// The key's controller (`None` for an allowed `cgroup.*` key), or an error.
fn check_key(key: &str) -> Result<Option<&str>> {
    let bad = || CgroupError::InvalidValue {
        what: "unified key",
        value: key.to_string(),
    };
    if CGROUP_KEYS.contains(&key) {
        return Ok(None);
    }
    let well_formed = key.len() <= MAX_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_');
    let (controller, rest) = key.split_once('.').ok_or_else(bad)?;
    if !well_formed
        || rest.is_empty()
        || rest.starts_with('.')
        || !CONTROLLERS.contains(&controller)
    {
        return Err(bad());
    }
    Ok(Some(controller))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_restricted_to_resource_files() {
        assert_eq!(check_key("memory.high").unwrap(), Some("memory"));
        assert_eq!(check_key("io.latency").unwrap(), Some("io"));
        assert_eq!(check_key("cgroup.max.depth").unwrap(), None);
        for bad in [
            "cgroup.procs",
            "cgroup.kill",
            "cgroup.subtree_control",
            "cgroup.threads",
            "memory",
            "memory.",
            "../memory.max",
            "memory.max/../../x",
            "devices.allow",
            "Memory.max",
            "x.y",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
