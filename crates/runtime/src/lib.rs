// SPDX-License-Identifier: Apache-2.0
//! The container lifecycle: validated plan, single-threaded clone, rootfs, namespaces,
//! credentials, exec.
//!
//! Design (docs/design/process-model.md, docs/design/runtime-core.md):
//! * main (the caller: `stockade-oci`, `stockade`) is single-threaded. It loads and checks
//!   the bundle ([`config`]), takes the id ([`state`]), creates the cgroup, compiles seccomp,
//!   then forks once with every `CLONE_NEW*` flag ([`create`]); the child is init
//!   ([`init`]), which reads the prepared [`init::InitArgs`] from its copy of main's memory.
//! * main and init speak a typed protocol over a `SOCK_SEQPACKET` pair ([`channel`]);
//!   init's errors come back as a serde value ([`init::InitError`]).
//! * every write under `/proc` goes through a verified procfs handle ([`procfs`]); the
//!   binary re-executes from a sealed copy before any container exists ([`seal`]).
//! * later commands (`start`, `kill`, `delete`, `exec`...) find the container through its
//!   state directory; a pid is trusted only together with its start time ([`ops`]).
#![forbid(unsafe_code)]

pub mod caps;
pub mod channel;
pub mod compat;
pub mod config;
pub mod console;
pub mod create;
pub mod devices;
mod driver;
pub mod error;
pub mod exec;
mod exec_helper;
pub mod hooks;
pub mod identity;
pub mod idmap;
pub mod init;
pub mod oci_state;
pub mod ops;
pub mod plan;
pub mod procfs;
pub mod rollback;
pub mod run;
pub mod seal;
pub mod state;
pub mod validate;
pub mod wait;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use create::{CreateOptions, Launched, Mode};
pub use error::{Result, RuntimeError};
pub use exec::ExecOptions;
pub use oci_state::{StateView, Status};
pub use state::StateRoot;

/// The runtime: a state root and how it runs (rootless or not).
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Where container state lives (`--root`).
    pub root: StateRoot,
    /// No full host root: the effective uid is not 0, or uid 0 in a non-initial user
    /// namespace (rootless podman). Cgroups only when they can be created, devices bound
    /// ([`identity`]).
    pub rootless: bool,
    /// The effective uid is not 0: a user namespace is required and id maps beyond the
    /// caller's own go through `newuidmap`/`newgidmap`.
    pub unprivileged: bool,
    /// The host procfs (injected for tests; normally `/proc`).
    pub proc_root: PathBuf,
}

impl Runtime {
    /// A runtime over the state root `root`, rootless or not by runc's rules
    /// ([`identity::Identity`]).
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        let who = identity::Identity::current();
        Runtime {
            root: StateRoot::new(root),
            rootless: who.rootless(),
            unprivileged: who.unprivileged(),
            proc_root: PathBuf::from("/proc"),
        }
    }

    /// The default state root: `/run/stockade-oci`, or `$XDG_RUNTIME_DIR/stockade-oci` when
    /// rootless (`/tmp/stockade-oci-<uid>` without it); see [`identity`].
    pub fn default_root() -> PathBuf {
        identity::Identity::current().default_root()
    }
}

/// Maps the cgroup crate's view to the mount crate's.
pub fn cgroup_view(v: stockade_cgroups::MountView) -> stockade_mount::CgroupView {
    match v {
        stockade_cgroups::MountView::Namespaced {
            v1_hierarchies,
            unified,
        } => stockade_mount::CgroupView::Namespaced {
            v1_hierarchies,
            unified,
        },
        stockade_cgroups::MountView::Bind { dirs } => stockade_mount::CgroupView::Bind { dirs },
        stockade_cgroups::MountView::None => stockade_mount::CgroupView::None,
    }
}

/// Writes a pid file atomically (temporary name in the same directory, then rename).
pub fn write_pid_file(path: &Path, pid: i32) -> std::io::Result<()> {
    let abs = std::path::absolute(path)?;
    let dir = abs.parent().unwrap_or(Path::new("/"));
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(pid.to_string().as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, &abs)
}

/// Signal number for a name (`TERM`, `SIGKILL`) or number, as `kill` accepts them.
pub fn signal_number(s: &str) -> Option<i32> {
    stockade_sys::signal::parse_signal(s)
}
