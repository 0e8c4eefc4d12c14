// SPDX-License-Identifier: Apache-2.0
//! Which cgroup hierarchies are mounted, from `<proc>/self/mountinfo`, and where the calling
//! process sits in each, from `<proc>/self/cgroup`. Three shapes: v1 (one hierarchy per
//! controller set, co-mounted like `cpu,cpuacct` or named like `name=systemd`), pure v2, and
//! hybrid (v1 plus a cgroup2 mount, usually `/sys/fs/cgroup/unified`).

mod procfs;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};
use procfs::{parse_mountinfo, parse_proc_cgroup, relative_to_mount, v1_controllers};

/// Bound on the mountinfo and cgroup files we parse (they are kernel-generated).
const MAX_PROC_FILE: usize = 4 << 20;

/// One mounted cgroup v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Mount point, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount: PathBuf,
    /// Controllers, sorted, named ones as `name=<x>` (e.g. `["cpu", "cpuacct"]`).
    pub controllers: Vec<String>,
    /// The calling process' cgroup, relative to the mount point (`/` = its root).
    pub current: String,
}

impl Hierarchy {
    /// The mount option string naming this hierarchy (`cpu,cpuacct`, `name=systemd`).
    pub fn options(&self) -> String {
        self.controllers.join(",")
    }
}

/// The mounted cgroup2 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unified {
    /// Mount point (`/sys/fs/cgroup` or `/sys/fs/cgroup/unified`).
    pub mount: PathBuf,
    /// Controllers available at its root (`cgroup.controllers`).
    pub controllers: Vec<String>,
    /// The calling process' cgroup, relative to the mount point.
    pub current: String,
}

/// How cgroups are mounted on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Only v1 hierarchies.
    V1 {
        /// The hierarchies, in mount order.
        hierarchies: Vec<Hierarchy>,
    },
    /// Only the unified hierarchy.
    V2 {
        /// The cgroup2 mount.
        unified: Unified,
    },
    /// v1 hierarchies plus a cgroup2 mount holding the controllers v1 does not.
    Hybrid {
        /// The v1 hierarchies.
        hierarchies: Vec<Hierarchy>,
        /// The cgroup2 mount.
        unified: Unified,
    },
}

impl Layout {
    /// The v1 hierarchies (empty on pure v2).
    pub fn hierarchies(&self) -> &[Hierarchy] {
        match self {
            Layout::V1 { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies,
            Layout::V2 { .. } => &[],
        }
    }
    /// The cgroup2 hierarchy, if mounted.
    pub fn unified(&self) -> Option<&Unified> {
        match self {
            Layout::V1 { .. } => None,
            Layout::V2 { unified } | Layout::Hybrid { unified, .. } => Some(unified),
        }
    }
}

/// Reads `<proc_root>/self/mountinfo` and `<proc_root>/self/cgroup` (and the unified root's
/// `cgroup.controllers`) to describe the cgroup layout.
pub fn detect(proc_root: &Path) -> Result<Layout> {
    let mountinfo = proc_root.join("self/mountinfo");
    let own = proc_root.join("self/cgroup");
    let membership = parse_proc_cgroup(&read_bounded(&own)?);
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    let mut unified: Option<Unified> = None;
    for m in parse_mountinfo(&read_bounded(&mountinfo)?) {
        match m.fstype.as_str() {
            "cgroup" => {
                let controllers = v1_controllers(&m.super_opts);
                if controllers.is_empty()
                    || hierarchies.iter().any(|h| h.controllers == controllers)
                {
                    continue;
                }
                let key = controllers.join(",");
                let path = membership
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, p)| p.as_str());
                let current = relative_to_mount(path.unwrap_or("/"), &m.root);
                hierarchies.push(Hierarchy {
                    mount: m.mount,
                    controllers,
                    current,
                });
            }
            "cgroup2" if unified.is_none() => {
                let path = membership
                    .iter()
                    .find(|(k, _)| k.is_empty())
                    .map(|(_, p)| p.as_str());
                let current = relative_to_mount(path.unwrap_or("/"), &m.root);
                let file = m.mount.join("cgroup.controllers");
                // Unreadable (an odd nested mount): still usable for processes, freeze, kill.
                let controllers = read_bounded(&file)
                    .inspect_err(|e| tracing::debug!("{e}"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                unified = Some(Unified {
                    mount: m.mount,
                    controllers,
                    current,
                });
            }
            _ => {}
        }
    }
    match (hierarchies.is_empty(), unified) {
        (true, None) => Err(CgroupError::NotMounted { mountinfo }),
        (true, Some(unified)) => Ok(Layout::V2 { unified }),
        (false, None) => Ok(Layout::V1 { hierarchies }),
        (false, Some(unified)) => Ok(Layout::Hybrid {
            hierarchies,
            unified,
        }),
    }
}

fn read_bounded(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if text.len() > MAX_PROC_FILE {
        return Err(CgroupError::Parse {
            path: path.to_path_buf(),
            what: "file too large".into(),
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(mountinfo: &str, cgroup: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("self")).unwrap();
        std::fs::write(d.path().join("self/mountinfo"), mountinfo).unwrap();
        std::fs::write(d.path().join("self/cgroup"), cgroup).unwrap();
        d
    }

    #[test]
    fn detects_v1_with_comounted_and_named_hierarchies() {
        let mi = "\
22 1 0:20 / /sys rw - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 31 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
35 31 0:30 / /mnt/again rw - cgroup cgroup rw,memory
";
        let cg = "5:name=systemd:/user.slice\n4:memory:/a/b\n2:cpuacct,cpu:/c\n";
        let p = fake_proc(mi, cg);
        let layout = detect(p.path()).unwrap();
        let Layout::V1 { hierarchies } = &layout else {
            panic!("{layout:?}")
        };
        assert_eq!(hierarchies.len(), 3, "duplicate memory mount ignored");
        assert_eq!(hierarchies[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(hierarchies[0].current, "/c");
        assert_eq!(hierarchies[0].options(), "cpu,cpuacct");
        assert_eq!(hierarchies[1].current, "/a/b");
        assert_eq!(hierarchies[2].controllers, ["name=systemd"]);
        assert_eq!(hierarchies[2].mount, Path::new("/sys/fs/cgroup/systemd"));
        assert!(layout.unified().is_none());
    }

    #[test]
    fn detects_v2_and_reads_controllers() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("cg root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let mi = format!(
            "40 1 0:38 / {} rw - cgroup2 cgroup2 rw,nsdelegate\n",
            root.display().to_string().replace(' ', "\\040")
        );
        let p = fake_proc(&mi, "0::/user.slice/session-1.scope\n");
        let layout = detect(p.path()).unwrap();
        let Layout::V2 { unified } = &layout else {
            panic!("{layout:?}")
        };
        assert_eq!(unified.mount, root);
        assert_eq!(
            unified.controllers,
            ["cpuset", "cpu", "io", "memory", "pids"]
        );
        assert_eq!(unified.current, "/user.slice/session-1.scope");
        assert!(layout.hierarchies().is_empty());
    }

    #[test]
    fn detects_hybrid_and_strips_mount_roots() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cgroup.controllers"), "hugetlb\n").unwrap();
        let mi = format!(
            "32 31 0:29 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
             41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n",
            d.path().display()
        );
        let p = fake_proc(&mi, "8:pids:/docker/abc/x\n0::/\n");
        let layout = detect(p.path()).unwrap();
        let Layout::Hybrid {
            hierarchies,
            unified,
        } = &layout
        else {
            panic!("{layout:?}")
        };
        assert_eq!(hierarchies[0].current, "/x");
        assert_eq!(unified.controllers, ["hugetlb"]);
        assert_eq!(unified.current, "/");
    }

    #[test]
    fn no_cgroup_mount_is_an_error_naming_mountinfo() {
        let p = fake_proc("22 1 0:20 / /sys rw - sysfs sysfs rw\n", "");
        let err = detect(p.path()).unwrap_err().to_string();
        assert!(
            err.contains("no cgroup filesystem mounted") && err.contains("mountinfo"),
            "{err}"
        );
    }
}
