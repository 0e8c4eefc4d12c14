// SPDX-License-Identifier: Apache-2.0
//! The mount plan: each OCI mount classified, its options parsed, its destination cleaned and
//! checked against the `/proc` rules (runc's `checkProcMount`), its bind source made absolute
//! (relative to the bundle). Pure: no syscalls, unit-tested on plain specs.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::options::{MountOptions, parse_options};
use crate::MountError;
use crate::resolve::{absolute, clean};

/// What kind of mount an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountKind {
    /// Bind (`recursive` for rbind).
    Bind {
        recursive: bool,
    },
    Proc,
    Sysfs,
    Tmpfs,
    Devpts,
    Mqueue,
    /// `cgroup`/`cgroup2`: assembled from the [`crate::CgroupView`].
    Cgroup,
    /// Any other filesystem type.
    Other(String),
}

/// One mount of the plan.
#[derive(Debug, Clone)]
pub(crate) struct PlannedMount {
    /// Cleaned destination, relative to the rootfs ("proc", "dev/pts").
    pub rel: PathBuf,
    pub kind: MountKind,
    /// Filesystem type to create (empty for binds).
    pub fstype: String,
    /// Source: absolute host path for binds; the `source` string for other types.
    pub source: Option<PathBuf>,
    pub opts: MountOptions,
}

impl PlannedMount {
    /// The destination as `/...`, for messages.
    pub(crate) fn dest(&self) -> PathBuf {
        absolute(&self.rel)
    }
}

/// Files under `/proc` that may be mounted over (lxcfs and similar emulations), as runc.
pub(crate) const PROC_ALLOWED: &[&str] = &[
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
    "proc/net/dev",
    "proc/sys/kernel/ns_last_pid",
    "proc/sys/crypto/fips_enabled",
];

/// Whether a cleaned relative destination is one of [`PROC_ALLOWED`].
pub(crate) fn is_allowed_proc_file(rel: &Path) -> bool {
    PROC_ALLOWED.iter().any(|a| rel == Path::new(a))
}

/// Builds the plan from `spec.mounts`, in config order.
pub(crate) fn plan_mounts(spec: &Spec, bundle: &Path) -> Result<Vec<PlannedMount>, MountError> {
    let Some(mounts) = spec.mounts() else {
        return Ok(Vec::new());
    };
    let mut plan = Vec::with_capacity(mounts.len());
    for m in mounts {
        let raw_dest = m.destination();
        let rel = clean(raw_dest);
        if raw_dest.as_os_str().is_empty() {
            return Err(MountError::InvalidDestination {
                dest: raw_dest.clone(),
                reason: "empty",
            });
        }
        if rel.as_os_str().is_empty() {
            return Err(MountError::InvalidDestination {
                dest: raw_dest.clone(),
                reason: "the container root itself",
            });
        }
        let dest = absolute(&rel);
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return Err(MountError::IdmapUnsupported { dest });
        }
        let opts = parse_options(m.options().as_deref().unwrap_or_default(), &dest)?;
        let typ = m.typ().as_deref().unwrap_or("");
        let kind = classify(typ, opts.bind);
        check_proc_destination(&rel, &kind)?;
        let source = match (&kind, m.source()) {
            (MountKind::Bind { .. }, None) => {
                return Err(MountError::InvalidOption {
                    option: "source".into(),
                    dest,
                });
            }
            (MountKind::Bind { .. }, Some(s)) if s.is_relative() => Some(bundle.join(s)),
            (_, s) => s.clone(),
        };
        let fstype = match &kind {
            MountKind::Bind { .. } => String::new(),
            MountKind::Other(t) => t.clone(),
            _ => typ.to_owned(),
        };
        plan.push(PlannedMount {
            rel,
            kind,
            fstype,
            source,
            opts,
        });
    }
    Ok(plan)
}

/// `bind`/`rbind` in the options make a bind mount whatever the type (OCI 1.1); otherwise
/// the type decides.
fn classify(typ: &str, bind: Option<bool>) -> MountKind {
    if let Some(recursive) = bind {
        return MountKind::Bind { recursive };
    }
    match typ {
        "bind" => MountKind::Bind { recursive: false },
        "proc" => MountKind::Proc,
        "sysfs" => MountKind::Sysfs,
        "tmpfs" => MountKind::Tmpfs,
        "devpts" => MountKind::Devpts,
        "mqueue" => MountKind::Mqueue,
        "cgroup" | "cgroup2" => MountKind::Cgroup,
        other => MountKind::Other(other.to_owned()),
    }
}

/// runc's `checkProcMount`, on the cleaned destination: `/proc` itself takes only a procfs
/// (a fresh one, or a bind checked at mount time), and nothing may be mounted below `/proc`
/// but a few emulated files. The resolved target is checked again at mount time
/// (`fstatfs`), which catches a destination that reaches procfs through a symlink.
fn check_proc_destination(rel: &Path, kind: &MountKind) -> Result<(), MountError> {
    let Ok(below) = rel.strip_prefix("proc") else {
        return Ok(());
    };
    if below.as_os_str().is_empty() {
        return match kind {
            MountKind::Proc | MountKind::Bind { .. } => Ok(()),
            _ => Err(MountError::NotProcOnProc {
                dest: absolute(rel),
            }),
        };
    }
    if is_allowed_proc_file(rel) {
        return Ok(());
    }
    Err(MountError::InsideProc {
        dest: absolute(rel),
    })
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{Mount, MountBuilder, SpecBuilder};

    use super::*;

    fn mount(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(src)
            .options(opts.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .build()
            .expect("mount")
    }

    fn plan(mounts: Vec<Mount>) -> Result<Vec<PlannedMount>, MountError> {
        let spec = SpecBuilder::default().mounts(mounts).build().expect("spec");
        plan_mounts(&spec, Path::new("/bundle"))
    }

    #[test]
    fn default_runc_mounts_are_classified() {
        let p = plan(vec![
            mount("/proc", "proc", "proc", &[]),
            mount(
                "/dev",
                "tmpfs",
                "tmpfs",
                &["nosuid", "strictatime", "mode=755", "size=65536k"],
            ),
            mount(
                "/dev/pts",
                "devpts",
                "devpts",
                &["nosuid", "noexec", "newinstance"],
            ),
            mount(
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", "ro"],
            ),
            mount("/sys/fs/cgroup", "cgroup", "cgroup", &["ro"]),
            mount("/dev/mqueue", "mqueue", "mqueue", &[]),
        ])
        .expect("plan");
        let kinds: Vec<_> = p.iter().map(|m| m.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                MountKind::Proc,
                MountKind::Tmpfs,
                MountKind::Devpts,
                MountKind::Sysfs,
                MountKind::Cgroup,
                MountKind::Mqueue
            ]
        );
        assert_eq!(p[1].rel, PathBuf::from("dev"));
        assert_eq!(p[1].opts.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(p[2].dest(), PathBuf::from("/dev/pts"));
    }

    #[test]
    fn bind_sources_are_relative_to_the_bundle() {
        let p = plan(vec![
            mount("/data", "none", "vol", &["rbind", "ro"]),
            mount("data2", "bind", "/abs", &[]),
        ])
        .expect("plan");
        assert_eq!(p[0].kind, MountKind::Bind { recursive: true });
        assert_eq!(p[0].source.as_deref(), Some(Path::new("/bundle/vol")));
        assert_eq!(p[1].kind, MountKind::Bind { recursive: false });
        assert_eq!(p[1].rel, PathBuf::from("data2"));
        assert_eq!(p[1].source.as_deref(), Some(Path::new("/abs")));
    }

    #[test]
    fn proc_rules() {
        let e = plan(vec![mount("/proc/sys/kernel", "tmpfs", "tmpfs", &[])]).expect_err("inside");
        assert_eq!(
            e.to_string(),
            "/proc/sys/kernel cannot be mounted because it is inside /proc"
        );
        let e = plan(vec![mount("/proc/self/attr", "bind", "/x", &["bind"])]).expect_err("attr");
        assert!(matches!(e, MountError::InsideProc { .. }));
        // `..` is cleaned before the check.
        let e = plan(vec![mount("/tmp/../proc/kcore", "bind", "/x", &["bind"])]);
        assert!(matches!(e, Err(MountError::InsideProc { .. })));
        let e = plan(vec![mount("/proc", "tmpfs", "tmpfs", &[])]).expect_err("tmpfs on proc");
        assert!(matches!(e, MountError::NotProcOnProc { .. }));
        plan(vec![mount(
            "/proc/cpuinfo",
            "bind",
            "/var/lib/lxcfs/proc/cpuinfo",
            &["bind"],
        )])
        .expect("lxcfs file allowed");
        plan(vec![mount("/procfoo", "tmpfs", "tmpfs", &[])]).expect("not below /proc");
    }

    #[test]
    fn root_and_empty_destinations_are_refused() {
        assert!(matches!(
            plan(vec![mount("/", "tmpfs", "tmpfs", &[])]),
            Err(MountError::InvalidDestination { .. })
        ));
        assert!(matches!(
            plan(vec![mount("/a/..", "tmpfs", "tmpfs", &[])]),
            Err(MountError::InvalidDestination { .. })
        ));
    }

    #[test]
    fn bind_without_source_is_refused() {
        let m = MountBuilder::default()
            .destination("/x")
            .typ("bind")
            .options(vec!["bind".to_owned()])
            .build()
            .expect("mount");
        assert!(matches!(
            plan(vec![m]),
            Err(MountError::InvalidOption { .. })
        ));
    }
}
