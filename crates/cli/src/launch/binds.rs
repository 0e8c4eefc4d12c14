// SPDX-License-Identifier: Apache-2.0
//! `--bind src[:dst[:ro|rw]]` (repeatable, comma-separated lists; also `STOCKADE_BIND`,
//! `APPTAINER_BIND`, `SINGULARITY_BIND`), checked before anything is mounted:
//! * destinations are absolute, without `..`, never `/` and never on or below `/proc`,
//!   `/sys` or `/dev` (the container's kernel interfaces stay ours);
//! * for an unprivileged caller, sources are canonicalised as the caller sees them, must be
//!   readable (and searchable for directories) by the caller's real uid, must not lie in
//!   `/proc`, `/sys` or `/dev`, and must fall under a `user_bind_control` prefix when the
//!   administrator set one.
//!
//! The runtime resolves every destination inside the container root (`openat2`
//! `RESOLVE_IN_ROOT`), so an image symlink cannot redirect a bind onto the host.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustix::fs::Access;

/// Environment variables holding extra bind lists (Apptainer's and ours).
pub const BIND_ENV: [&str; 3] = ["STOCKADE_BIND", "APPTAINER_BIND", "SINGULARITY_BIND"];
/// Upper bound on the number of binds.
pub const MAX_BINDS: usize = 256;

/// One bind as written by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    /// Source as given.
    pub src: String,
    /// Destination, when given.
    pub dst: Option<String>,
    /// `ro` / `rw`, when given.
    pub ro: Option<bool>,
}

/// A bind ready for the container spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Canonical host source.
    pub src: PathBuf,
    /// Container destination (lexically clean, absolute).
    pub dst: PathBuf,
    /// Read-only.
    pub ro: bool,
    /// The source is a directory (the mount point to create is one).
    pub dir: bool,
    /// Recursive (`rbind`): submounts of the source come along.
    pub recursive: bool,
}

/// Parses `--bind` values (each a comma-separated list).
pub fn parse_specs(values: &[String]) -> Result<Vec<BindSpec>> {
    let mut out = Vec::new();
    for v in values {
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parts: Vec<&str> = item.split(':').collect();
            let ro = match parts.get(2) {
                None => None,
                Some(&"ro") => Some(true),
                Some(&"rw") => Some(false),
                Some(o) => bail!("bind {item:?}: unknown option {o:?} (ro or rw)"),
            };
            if parts.len() > 3 || parts[0].is_empty() {
                bail!("bind {item:?}: expected src[:dst[:ro|rw]]");
            }
            out.push(BindSpec {
                src: parts[0].to_string(),
                dst: parts
                    .get(1)
                    .filter(|d| !d.is_empty())
                    .map(|d| (*d).to_string()),
                ro,
            });
            if out.len() > MAX_BINDS {
                bail!("more than {MAX_BINDS} binds");
            }
        }
    }
    Ok(out)
}

/// Checks and cleans a container destination.
pub fn check_dest(dst: &Path) -> Result<PathBuf> {
    if !dst.is_absolute() {
        bail!("bind destination {} is not absolute", dst.display());
    }
    let mut clean = PathBuf::from("/");
    for c in dst.components() {
        match c {
            Component::Normal(n) => clean.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => bail!("bind destination {} contains ..", dst.display()),
        }
    }
    if clean == Path::new("/") {
        bail!("cannot bind over the container root /");
    }
    for kernel in ["/proc", "/sys", "/dev"] {
        if clean.starts_with(kernel) {
            bail!("cannot bind over {} (inside {kernel})", clean.display());
        }
    }
    Ok(clean)
}

/// Whether `p` lies in a kernel filesystem tree a user may not bind from.
fn in_kernel_tree(p: &Path) -> bool {
    ["/proc", "/sys", "/dev"].iter().any(|k| p.starts_with(k))
}

/// Resolves a user bind. `privileged`: the caller is root (no source restrictions).
pub fn resolve_user(
    spec: &BindSpec,
    cwd: &Path,
    allowed: Option<&[PathBuf]>,
    privileged: bool,
) -> Result<Bind> {
    let given = cwd.join(&spec.src);
    let src = std::fs::canonicalize(&given)
        .with_context(|| format!("bind source {} is not accessible", given.display()))?;
    let meta = std::fs::metadata(&src).with_context(|| format!("bind source {}", src.display()))?;
    if !privileged {
        if in_kernel_tree(&src) {
            bail!(
                "bind source {} is inside /proc, /sys or /dev",
                src.display()
            );
        }
        if let Some(prefixes) = allowed
            && !prefixes.iter().any(|p| src.starts_with(p))
        {
            bail!(
                "bind source {} is not allowed by the administrator (user_bind_control)",
                src.display()
            );
        }
        let mode = if meta.is_dir() {
            Access::READ_OK | Access::EXEC_OK
        } else {
            Access::READ_OK
        };
        rustix::fs::access(&src, mode)
            .with_context(|| format!("bind source {} is not readable", src.display()))?;
    }
    let dst = match &spec.dst {
        Some(d) => PathBuf::from(d),
        None => lexical_abs(&given),
    };
    Ok(Bind {
        dst: check_dest(&dst)?,
        src,
        ro: spec.ro.unwrap_or(false),
        dir: meta.is_dir(),
        recursive: true,
    })
}

/// `p` made absolute and cleaned lexically (no symlink resolution).
fn lexical_abs(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// A bind chosen by stockade or the administrator (no user checks); `None` when the host
/// path does not exist.
pub fn system_bind(src: &Path, dst: &Path, ro: bool, recursive: bool) -> Option<Bind> {
    let canon = std::fs::canonicalize(src).ok()?;
    let meta = std::fs::metadata(&canon).ok()?;
    Some(Bind {
        src: canon,
        dst: dst.to_path_buf(),
        ro,
        dir: meta.is_dir(),
        recursive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_forms() {
        let v = parse_specs(&["/a,/b:/c".into(), "/d:/e:ro".into(), "/f::rw".into()]).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(
            v[0],
            BindSpec {
                src: "/a".into(),
                dst: None,
                ro: None
            }
        );
        assert_eq!(v[1].dst.as_deref(), Some("/c"));
        assert_eq!(v[2].ro, Some(true));
        assert_eq!((v[3].dst.clone(), v[3].ro), (None, Some(false)));
        assert!(parse_specs(&["/a:/b:rx".into()]).is_err());
        assert!(parse_specs(&["/a:/b:ro:x".into()]).is_err());
    }

    #[test]
    fn test_destinations() {
        assert_eq!(
            check_dest(Path::new("/data/./x")).unwrap(),
            PathBuf::from("/data/x")
        );
        for bad in [
            "/",
            "/proc",
            "/proc/sys",
            "/sys/kernel",
            "/dev",
            "/dev/shm/x",
            "rel",
            "/a/../b",
        ] {
            assert!(check_dest(Path::new(bad)).is_err(), "{bad}");
        }
        assert!(check_dest(Path::new("/device")).is_ok());
    }

    #[test]
    fn test_user_sources() {
        let dir = tempfile::tempdir().unwrap();
        let spec = BindSpec {
            src: dir.path().display().to_string(),
            dst: None,
            ro: Some(true),
        };
        let b = resolve_user(&spec, Path::new("/"), None, false).unwrap();
        assert!(b.dir && b.ro);
        let only_data = [PathBuf::from("/data")];
        assert!(resolve_user(&spec, Path::new("/"), Some(&only_data), false).is_err());
        let proc = BindSpec {
            src: "/proc/self".into(),
            dst: Some("/x".into()),
            ro: None,
        };
        assert!(resolve_user(&proc, Path::new("/"), None, false).is_err());
        assert!(resolve_user(&proc, Path::new("/"), None, true).is_ok());
        let rel = BindSpec {
            src: ".".into(),
            dst: None,
            ro: None,
        };
        let b = resolve_user(&rel, dir.path(), None, false).unwrap();
        assert_eq!(b.dst, lexical_abs(dir.path()));
    }
}
