// SPDX-License-Identifier: Apache-2.0
//! Who the runtime runs as, by runc's rules, so engines that run it rootless find it where
//! they expect it and it does not try what it cannot do:
//! * *unprivileged*: the effective uid is not 0. Needs a user namespace in the config; its
//!   maps go through `newuidmap`/`newgidmap` unless they map only the caller.
//! * *rootless*: unprivileged, **or** uid 0 in a user namespace other than the initial one
//!   (rootless podman runs the runtime as root of its own user namespace, without a `user`
//!   entry in the config). Then cgroups are skipped when they cannot be created, devices are
//!   bind-mounted instead of `mknod`ed, and some mounts fall back to binds.
//! * the default state root is `$XDG_RUNTIME_DIR/stockade-oci` (an empty value counts as
//!   unset) when unprivileged, or uid 0 in a user namespace with `$USER` other than `root`;
//!   else `/run/stockade-oci`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `uid_map` of the initial user namespace: everything mapped onto itself.
fn is_initial_map(text: &str) -> bool {
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| !f.is_empty())
        .collect();
    lines.len() == 1 && lines[0] == ["0", "0", "4294967295"]
}

/// Whether the caller is in the initial user namespace (`<proc>/self/uid_map` maps every
/// id onto itself). An unreadable map counts as initial (procfs missing: nothing to learn).
pub fn in_initial_userns(proc_root: &Path) -> bool {
    std::fs::read_to_string(proc_root.join("self/uid_map")).map_or(true, |t| is_initial_map(&t))
}

/// The facts the rules above depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Effective uid.
    pub euid: u32,
    /// In the initial user namespace.
    pub initial_userns: bool,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<OsString>,
    /// `$USER`.
    pub user: Option<OsString>,
}

impl Identity {
    /// The calling process's identity (`/proc` for the user namespace).
    pub fn current() -> Identity {
        Identity {
            euid: rustix::process::geteuid().as_raw(),
            initial_userns: in_initial_userns(Path::new("/proc")),
            xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR"),
            user: std::env::var_os("USER"),
        }
    }

    /// The effective uid is not 0.
    pub fn unprivileged(&self) -> bool {
        self.euid != 0
    }

    /// Unprivileged, or uid 0 in a non-initial user namespace (runc's rootless cgroup rule).
    pub fn rootless(&self) -> bool {
        self.unprivileged() || !self.initial_userns
    }

    /// The default state root (runc's `shouldHonorXDGRuntimeDir`).
    pub fn default_root(&self) -> PathBuf {
        let xdg = self.xdg_runtime_dir.as_ref().filter(|d| !d.is_empty());
        let honour_xdg = self.unprivileged()
            || (!self.initial_userns && self.user.as_ref().is_none_or(|u| u != "root"));
        match xdg {
            Some(d) if honour_xdg => Path::new(d).join("stockade-oci"),
            _ if self.unprivileged() => PathBuf::from(format!("/tmp/stockade-oci-{}", self.euid)),
            _ => PathBuf::from("/run/stockade-oci"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(euid: u32, initial: bool, xdg: Option<&str>, user: Option<&str>) -> Identity {
        Identity {
            euid,
            initial_userns: initial,
            xdg_runtime_dir: xdg.map(Into::into),
            user: user.map(Into::into),
        }
    }

    #[test]
    fn test_initial_map() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1003          1\n"));
        assert!(!is_initial_map("0 1003 1\n1 100000 65536\n"));
        assert!(!is_initial_map(""));
    }

    #[test]
    fn test_rootless_rule() {
        assert!(!id(0, true, None, None).rootless());
        assert!(id(0, false, None, None).rootless());
        assert!(id(1000, true, None, None).rootless());
        assert!(!id(0, false, None, None).unprivileged());
    }

    #[test]
    fn test_default_root() {
        let root = |i: Identity| i.default_root().display().to_string();
        // real root ignores XDG_RUNTIME_DIR (podman passes an empty one)
        assert_eq!(root(id(0, true, Some("/x"), None)), "/run/stockade-oci");
        assert_eq!(root(id(0, true, Some(""), None)), "/run/stockade-oci");
        // rootless podman: uid 0 in its user namespace
        assert_eq!(
            root(id(0, false, Some("/tmp/podman-run-1003"), Some("ocirt"))),
            "/tmp/podman-run-1003/stockade-oci"
        );
        assert_eq!(
            root(id(0, false, Some("/tmp/p"), None)),
            "/tmp/p/stockade-oci"
        );
        assert_eq!(
            root(id(0, false, Some("/tmp/p"), Some("root"))),
            "/run/stockade-oci"
        );
        assert_eq!(root(id(0, false, Some(""), None)), "/run/stockade-oci");
        assert_eq!(
            root(id(1000, true, Some("/run/user/1000"), None)),
            "/run/user/1000/stockade-oci"
        );
        assert_eq!(
            root(id(1000, true, Some(""), None)),
            "/tmp/stockade-oci-1000"
        );
    }
}
