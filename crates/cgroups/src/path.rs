// SPDX-License-Identifier: Apache-2.0
//! OCI `linux.cgroupsPath` → a path below each hierarchy's mount point.
//!
//! * absolute (`/a/b`): relative to the hierarchy root;
//! * relative (`a/b`): relative to the runtime's own cgroup in that hierarchy;
//! * empty: `/<id>`;
//! * systemd syntax `slice:prefix:name` (`system.slice:docker:abc`): mapped to the cgroupfs
//!   path systemd would use, `/system.slice/docker-abc.scope` (`a-b.slice` expands to
//!   `/a.slice/a-b.slice`), so a host without systemd as PID 1 still gets the expected tree.
//!
//! `..` and `.` components are refused (the path comes from the tenant's config), and so is
//! anything that resolves to a hierarchy root.

use crate::error::{CgroupError, Result};

/// Longest `cgroupsPath` accepted.
const MAX_PATH: usize = 4096;

/// The container's cgroup as requested: absolute (from the hierarchy root) or relative (to
/// the runtime's own cgroup). Components are validated, without leading or trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Requested {
    Absolute(String),
    Relative(String),
}

impl Requested {
    /// Parses `cgroups_path` per the OCI rules above.
    pub(crate) fn parse(cgroups_path: &str, id: &str, rootless: bool) -> Result<Requested> {
        let bad = |reason| CgroupError::InvalidPath {
            path: cgroups_path.to_string(),
            reason,
        };
        if cgroups_path.len() > MAX_PATH {
            return Err(bad("too long"));
        }
        if cgroups_path.is_empty() {
            check_component(id).map_err(|reason| CgroupError::InvalidPath {
                path: format!("/{id}"),
                reason,
            })?;
            return Ok(Requested::Absolute(id.to_string()));
        }
        if !cgroups_path.starts_with('/') && cgroups_path.matches(':').count() == 2 {
            return systemd_path(cgroups_path, rootless)
                .map(Requested::Absolute)
                .map_err(bad);
        }
        let trimmed = cgroups_path.trim_matches('/');
        if trimmed.is_empty() {
            return Err(bad("the root cgroup cannot be a container's cgroup"));
        }
        for c in trimmed.split('/') {
            check_component(c).map_err(bad)?;
        }
        Ok(if cgroups_path.starts_with('/') {
            Requested::Absolute(trimmed.to_string())
        } else {
            Requested::Relative(trimmed.to_string())
        })
    }

    /// The path below a hierarchy mount whose caller cgroup is `current` (`/x/y`), without a
    /// leading `/`.
    pub(crate) fn resolve(&self, current: &str) -> String {
        match self {
            Requested::Absolute(p) => p.clone(),
            Requested::Relative(p) => {
                let base = current.trim_matches('/');
                if base.is_empty() {
                    p.clone()
                } else {
                    format!("{base}/{p}")
                }
            }
        }
    }
}

fn check_component(c: &str) -> Result<(), &'static str> {
    match c {
        "" => Err("empty path component"),
        "." | ".." => Err("'.' and '..' components are not allowed"),
        _ if c.contains('/') => Err("'/' not allowed in a name"),
        _ if c.bytes().any(|b| b.is_ascii_control()) => Err("control characters not allowed"),
        _ => Ok(()),
    }
}

/// `slice:prefix:name` → `a.slice/a-b.slice/prefix-name.scope` (no leading `/`).
fn systemd_path(spec: &str, rootless: bool) -> Result<String, &'static str> {
    let mut parts = spec.splitn(3, ':');
    let (slice, prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(p), Some(n)) => (s, p, n),
        _ => return Err("systemd path must be slice:prefix:name"),
    };
    let slice = match slice {
        "" if rootless => "user.slice",
        "" => "system.slice",
        s => s,
    };
    if name.is_empty() {
        return Err("systemd path has an empty name");
    }
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    check_component(&unit)?;
    let mut path = expand_slice(slice)?;
    path.push(unit);
    Ok(path.join("/"))
}

/// `a-b-c.slice` → `[a.slice, a-b.slice, a-b-c.slice]`; `-.slice` (the root slice) → `[]`.
fn expand_slice(slice: &str) -> Result<Vec<String>, &'static str> {
    let stem = slice
        .strip_suffix(".slice")
        .ok_or("systemd slice must end in .slice")?;
    if stem == "-" {
        return Ok(Vec::new());
    }
    if stem.is_empty() || stem.contains('/') || stem.starts_with('-') || stem.ends_with('-') {
        return Err("invalid systemd slice name");
    }
    check_component(slice)?;
    let mut out = Vec::new();
    let mut acc = String::new();
    for piece in stem.split('-') {
        if piece.is_empty() {
            return Err("invalid systemd slice name");
        }
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(piece);
        out.push(format!("{acc}.slice"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &str) -> Result<Requested> {
        Requested::parse(p, "ctr1", false)
    }

    #[test]
    fn absolute_relative_and_empty() {
        assert_eq!(parse("/a/b/").unwrap(), Requested::Absolute("a/b".into()));
        assert_eq!(parse("").unwrap(), Requested::Absolute("ctr1".into()));
        let rel = parse("x/y").unwrap();
        assert_eq!(rel, Requested::Relative("x/y".into()));
        assert_eq!(rel.resolve("/process_api/abc"), "process_api/abc/x/y");
        assert_eq!(rel.resolve("/"), "x/y");
        assert_eq!(parse("/a").unwrap().resolve("/ignored"), "a");
    }

    #[test]
    fn refuses_escapes_and_root() {
        for bad in ["/a/../b", "../x", "/./a", "/", "//", "a//b"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("invalid cgroups path"), "{bad}: {err}");
        }
        assert!(Requested::parse("", "..", false).is_err());
        assert!(Requested::parse("", "a/b", false).is_err());
    }

    #[test]
    fn systemd_syntax_maps_to_cgroupfs() {
        let p = |s| parse(s).unwrap().resolve("/");
        assert_eq!(
            p("system.slice:docker:abc"),
            "system.slice/docker-abc.scope"
        );
        assert_eq!(
            p("machine-libpod.slice:libpod:x"),
            "machine.slice/machine-libpod.slice/libpod-x.scope"
        );
        assert_eq!(p(":runc:x"), "system.slice/runc-x.scope");
        assert_eq!(p("-.slice::x"), "x.scope");
        assert_eq!(p("system.slice:p:sub.slice"), "system.slice/sub.slice");
        assert_eq!(
            Requested::parse(":p:x", "", true).unwrap().resolve("/"),
            "user.slice/p-x.scope"
        );
        for bad in [
            "foo:p:x",
            "a--b.slice:p:x",
            "system.slice:p:",
            "-a.slice:p:x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
