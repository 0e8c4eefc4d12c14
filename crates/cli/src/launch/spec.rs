// SPDX-License-Identifier: Apache-2.0
//! The OCI `config.json` of a run, handed to `stockade-runtime` in a private bundle.
//!
//! Always: `noNewPrivileges`, every mount `nosuid` (and `nodev` except `/dev` itself, whose
//! device nodes the runtime creates), recursively for recursive binds (`rnosuid`, `rro`:
//! a bound tree's submounts, e.g. `/sys/fs/cgroup/*`, get the flags too), the image root
//! read-only. A non-root process gets no
//! capability at all; root (and `--fakeroot`, root of its own user namespace) gets runc's
//! default set. Namespaces: mount always; pid, ipc, uts only when asked (integration over
//! isolation, as Apptainer); the network namespace is made by main before the launch.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::binds::Bind;

/// One mount of the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A fresh procfs (own pid namespace).
    Proc,
    /// The host's `/proc`, recursively (host pid namespace).
    ProcBind,
    /// The host's `/sys`, recursively and read-only.
    SysBind,
    /// A fresh, read-only sysfs (own network namespace).
    Sys,
    /// A tmpfs `/dev` (devices are added by the runtime).
    Dev,
    /// A new devpts instance on `/dev/pts`.
    DevPts,
    /// A bind (`nosuid,nodev`, plus `ro`).
    Bind(Bind),
    /// A private tmpfs.
    Tmpfs {
        /// Destination.
        dst: PathBuf,
        /// Size limit.
        size_mib: u32,
        /// Mode of its root.
        mode: u32,
        /// Owner of its root (default: the mounter; `uid=0` is invalid in a user
        /// namespace where 0 is not mapped).
        owner: Option<(u32, u32)>,
    },
}

impl Mount {
    fn to_json(&self) -> Value {
        match self {
            Mount::Proc => json!({"destination": "/proc", "type": "proc", "source": "proc",
                "options": ["nosuid", "noexec", "nodev"]}),
            Mount::ProcBind => json!({"destination": "/proc", "type": "bind", "source": "/proc",
                "options": ["rbind", "rnosuid", "rnoexec", "rnodev"]}),
            Mount::SysBind => json!({"destination": "/sys", "type": "bind", "source": "/sys",
                "options": ["rbind", "rnosuid", "rnoexec", "rnodev", "rro"]}),
            Mount::Sys => json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"]}),
            Mount::Dev => json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
            Mount::DevPts => {
                json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]})
            }
            Mount::Bind(b) => {
                // recursive binds carry submounts: their flags must be forced too
                let mut o = match b.recursive {
                    true => vec!["rbind", "rnosuid", "rnodev"],
                    false => vec!["bind", "nosuid", "nodev"],
                };
                if b.ro {
                    o.push(if b.recursive { "rro" } else { "ro" });
                }
                json!({"destination": b.dst, "type": "bind", "source": b.src, "options": o})
            }
            Mount::Tmpfs {
                dst,
                size_mib,
                mode,
                owner,
            } => {
                let mut o = vec![
                    "nosuid".to_string(),
                    "nodev".into(),
                    format!("mode={mode:o}"),
                    format!("size={size_mib}m"),
                ];
                if let Some((u, g)) = owner {
                    o.push(format!("uid={u}"));
                    o.push(format!("gid={g}"));
                }
                json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": o})
            }
        }
    }
}

/// Everything the spec is made of.
#[derive(Debug, Clone)]
pub struct SpecInput<'a> {
    /// argv.
    pub args: &'a [String],
    /// `K=V` environment.
    pub env: &'a [String],
    /// Working directory inside the container.
    pub cwd: &'a Path,
    /// uid and gid of the process.
    pub user: (u32, u32),
    /// Give runc's default capabilities (root, fakeroot) instead of none.
    pub default_caps: bool,
    /// Allocate a pty (all of stdin/stdout/stderr are terminals).
    pub terminal: bool,
    /// The assembled root.
    pub rootfs: &'a Path,
    /// Keep the root read-only (not with `--writable-tmpfs`).
    pub readonly_root: bool,
    /// New pid namespace.
    pub pid_ns: bool,
    /// New ipc namespace.
    pub ipc_ns: bool,
    /// New uts namespace.
    pub uts_ns: bool,
    /// Its host name.
    pub hostname: Option<&'a str>,
    /// Mounts, in order.
    pub mounts: &'a [Mount],
}

/// The `config.json` value.
pub fn build(i: &SpecInput<'_>) -> Value {
    let caps: Vec<&str> = if i.default_caps {
        stockade_runtime::caps::DEFAULT.to_vec()
    } else {
        Vec::new()
    };
    let mut ns = vec![json!({"type": "mount"})];
    if i.pid_ns {
        ns.push(json!({"type": "pid"}));
    }
    if i.ipc_ns {
        ns.push(json!({"type": "ipc"}));
    }
    if i.uts_ns || i.hostname.is_some() {
        ns.push(json!({"type": "uts"}));
    }
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": i.terminal,
            "user": {"uid": i.user.0, "gid": i.user.1},
            "args": i.args,
            "env": i.env,
            "cwd": i.cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps,
                "inheritable": [], "ambient": []},
            "noNewPrivileges": true
        },
        "root": {"path": i.rootfs, "readonly": i.readonly_root},
        "mounts": i.mounts.iter().map(Mount::to_json).collect::<Vec<_>>(),
        "linux": {"namespaces": ns}
    });
    if let Some(h) = i.hostname {
        spec["hostname"] = json!(h);
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_spec_is_valid_for_the_runtime() {
        let args = ["/bin/true".to_string()];
        let mounts = [
            Mount::ProcBind,
            Mount::SysBind,
            Mount::Dev,
            Mount::DevPts,
            Mount::Tmpfs {
                dst: "/tmp".into(),
                size_mib: 16,
                mode: 0o1777,
                owner: None,
            },
        ];
        let v = build(&SpecInput {
            args: &args,
            env: &["PATH=/bin".into()],
            cwd: Path::new("/"),
            user: (1000, 1000),
            default_caps: false,
            terminal: false,
            rootfs: Path::new("/ws/root"),
            readonly_root: true,
            pid_ns: true,
            ipc_ns: false,
            uts_ns: true,
            hostname: Some("box"),
            mounts: &mounts,
        });
        let raw = serde_json::to_vec(&v).unwrap();
        stockade_runtime::config::parse_spec(Path::new("config.json"), &raw).unwrap();
        assert_eq!(v["process"]["noNewPrivileges"], json!(true));
        assert_eq!(v["process"]["capabilities"]["bounding"], json!([]));
        assert_eq!(v["mounts"][4]["options"][2], json!("mode=1777"));
        assert_eq!(v["hostname"], json!("box"));
    }
}
