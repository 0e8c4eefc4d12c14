// SPDX-License-Identifier: Apache-2.0
//! The session: private namespaces entered by the single-threaded main before anything is
//! mounted, so every mount of a run lives only there and dies with the run's processes.
//!
//! * root: a new mount namespace, `/` made recursively slave (nothing propagates out);
//! * a plain user: a new user namespace mapping the user's uid→uid and gid→gid
//!   (`setgroups` denied) plus a mount namespace; with `--fakeroot` the user becomes 0, and
//!   the user's `/etc/subuid`/`/etc/subgid` ranges follow as 1..N through the setuid
//!   `newuidmap`/`newgidmap` (run by a helper forked *before* the unshare, since they must run
//!   in the parent user namespace).
//!
//! The workspace is a tmpfs mounted (in the session only) on a per-user base directory:
//! the bundle, the runtime state, the image mount point, the skeleton and the overlay live
//! there, and a run killed with `-9` leaves nothing behind on any filesystem.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use rustix::mount::{MountFlags, MountPropagationFlags};
use stockade_sys::clone::{self as cl, Forked};

use super::user::HostUser;

/// How the session maps ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// Root: no user namespace.
    Host,
    /// uid→uid, gid→gid.
    Same,
    /// 0→uid, 0→gid, plus subordinate ranges as 1..N when given (`(start, count)`).
    FakeRoot {
        /// Subordinate uid range.
        subuid: Option<(u32, u32)>,
        /// Subordinate gid range.
        subgid: Option<(u32, u32)>,
    },
}

/// The per-user directory the workspace tmpfs is mounted on (created 0700 once, never
/// written: in the session a tmpfs covers it). Root: `/run/stockade`; users:
/// `$XDG_RUNTIME_DIR/stockade`, else `/tmp/stockade-<uid>`.
pub fn base_dir(user: &HostUser, root: bool) -> Result<PathBuf> {
    let dir = if root {
        PathBuf::from("/run/stockade")
    } else {
        match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
            Some(x) if x.is_absolute() && owned_dir(&x, user.uid) => x.join("stockade"),
            _ => PathBuf::from(format!("/tmp/stockade-{}", user.uid)),
        }
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    if !owned_dir(&dir, user.uid) {
        bail!(
            "{} is not a directory owned by uid {} (not a symlink)",
            dir.display(),
            user.uid
        );
    }
    Ok(dir)
}

fn owned_dir(p: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == uid)
}

/// Enters the session namespaces (the caller must be single-threaded).
pub fn enter(mapping: Mapping, user: &HostUser) -> Result<()> {
    match mapping {
        Mapping::Host => {
            stockade_sys::misc::unshare(cl::NEWNS).context("cannot create a mount namespace")?;
        }
        Mapping::Same => {
            stockade_sys::misc::unshare(cl::NEWUSER | cl::NEWNS).context(
                "cannot create a user namespace (are unprivileged user namespaces enabled?)",
            )?;
            write_own_maps(
                &format!("{0} {0} 1", user.uid),
                &format!("{0} {0} 1", user.gid),
            )?;
        }
        Mapping::FakeRoot { subuid, subgid } => {
            let helper = match (subuid, subgid) {
                (Some(u), Some(g)) if has_helpers() => Some(MapHelper::start(user, u, g)?),
                _ => None,
            };
            stockade_sys::misc::unshare(cl::NEWUSER | cl::NEWNS).context(
                "cannot create a user namespace (are unprivileged user namespaces enabled?)",
            )?;
            match helper {
                Some(h) => h.finish()?,
                None => write_own_maps(&format!("0 {} 1", user.uid), &format!("0 {} 1", user.gid))?,
            }
        }
    }
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .context("cannot make / a slave mount")?;
    Ok(())
}

/// Mounts the workspace tmpfs on `base` (inside the session) and returns it.
pub fn mount_workspace(base: &Path, size_mib: u32) -> Result<PathBuf> {
    let data =
        std::ffi::CString::new(format!("mode=0700,size={size_mib}m")).context("tmpfs options")?;
    rustix::mount::mount(
        "stockade",
        base,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        Some(data.as_c_str()),
    )
    .with_context(|| format!("cannot mount the session tmpfs on {}", base.display()))?;

    for d in ["image", "skel", "root", "bundle", "state"] {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(base.join(d))?;
    }
    // the overlay's lower layers must be traversable by the container user
    for d in ["image", "skel", "root"] {
        std::fs::set_permissions(
            base.join(d),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
    }
    Ok(base.to_path_buf())
}

/// Makes the workspace mount unbindable: recursive binds of a parent (`/tmp`, or `/` by a
/// user) then skip it, so the container never sees it. Called once the overlay is mounted
/// (overlayfs clones its layers' mounts, which an unbindable mount refuses); the mounts
/// made inside the workspace stay bindable.
pub fn hide_workspace(ws: &Path) -> Result<()> {
    rustix::mount::mount_change(ws, MountPropagationFlags::UNBINDABLE)
        .with_context(|| format!("cannot make {} unbindable", ws.display()))
}

fn write_own_maps(uid_map: &str, gid_map: &str) -> Result<()> {
    std::fs::write("/proc/self/uid_map", uid_map).context("cannot write /proc/self/uid_map")?;
    std::fs::write("/proc/self/setgroups", "deny").context("cannot write /proc/self/setgroups")?;
    std::fs::write("/proc/self/gid_map", gid_map).context("cannot write /proc/self/gid_map")
}

fn has_helpers() -> bool {
    ["/usr/bin/newuidmap", "/usr/bin/newgidmap"]
        .iter()
        .all(|p| Path::new(p).is_file())
}

/// A child forked before the unshare that runs `newuidmap`/`newgidmap` on the parent once
/// told to (it stays in the initial user namespace, where those setuid helpers work).
struct MapHelper {
    go: std::os::fd::OwnedFd,
    pid: rustix::process::Pid,
}

impl MapHelper {
    fn start(user: &HostUser, subuid: (u32, u32), subgid: (u32, u32)) -> Result<MapHelper> {
        let parent = rustix::process::getpid().as_raw_nonzero().get().to_string();
        let uid_args = map_args(&parent, user.uid, subuid);
        let gid_args = map_args(&parent, user.gid, subgid);
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).context("pipe")?;
        match cl::fork_with(0, None).context("cannot fork the id-map helper")? {
            Forked::Child => {
                drop(w);
                let mut b = [0u8; 1];
                let ok = matches!(rustix::io::read(&r, &mut b), Ok(1))
                    && run_quiet("/usr/bin/newuidmap", &uid_args)
                    && run_quiet("/usr/bin/newgidmap", &gid_args);
                stockade_sys::misc::exit_now(if ok { 0 } else { 1 })
            }
            Forked::Parent(child) => Ok(MapHelper {
                go: w,
                pid: child.pid,
            }),
        }
    }

    fn finish(self) -> Result<()> {
        rustix::io::write(&self.go, b"g").context("cannot signal the id-map helper")?;
        let st = rustix::process::waitpid(Some(self.pid), rustix::process::WaitOptions::empty())
            .context("cannot wait for the id-map helper")?;
        match st.map(|(_, s)| s.exit_status()) {
            Some(Some(0)) => Ok(()),
            _ => bail!("newuidmap/newgidmap failed to map the subordinate ids"),
        }
    }
}

fn map_args(pid: &str, own: u32, (start, count): (u32, u32)) -> Vec<String> {
    vec![
        pid.into(),
        "0".into(),
        own.to_string(),
        "1".into(),
        "1".into(),
        start.to_string(),
        count.to_string(),
    ]
}

fn run_quiet(prog: &str, args: &[String]) -> bool {
    Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_map_helper_arguments() {
        assert_eq!(
            map_args("42", 1000, (100000, 65536)),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
    }
}
