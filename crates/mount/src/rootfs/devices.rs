// SPDX-License-Identifier: Apache-2.0
//! Device nodes and `/dev` symlinks, built only inside the rootfs's own `/dev`, reached
//! in-root (CVE-2026-41579: a `dev` symlink to a host directory resolves inside the rootfs,
//! never to the host). As root: `mknod`. In a user namespace (or when `mknod` is refused):
//! an empty file bound over by the host node, checked to be the configured device. Existing
//! entries of the wrong kind (an image's `dev/null` symlink) are replaced, never followed.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, Spec};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::MountAttrFlags;

use super::Assembly;
use crate::MountError;
use crate::fsapi::{attach, clone_fd, set_attrs};
use crate::resolve::{absolute, clean, create_empty_file, mkdir_all, open_beneath, split_parent};
use crate::rootfs::options::AttrChange;

/// A device to create, from the defaults or `linux.devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    /// Cleaned path relative to the rootfs (`dev/null`).
    pub rel: PathBuf,
    pub kind: FileType,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The OCI default devices (config-linux.md "Default Devices").
fn default_devices() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(n, major, minor)| Device {
        rel: Path::new("dev").join(n),
        kind: FileType::CharacterDevice,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Defaults plus `linux.devices` (a config entry replaces the default of the same path);
/// `/dev/ptmx` is left to [`setup_dev`], which makes it a link to the devpts one.
pub(crate) fn device_list(spec: &Spec) -> Result<Vec<Device>, MountError> {
    let mut list = default_devices();
    let configured = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for d in configured.into_iter().flatten() {
        let rel = clean(d.path());
        let invalid = |reason| MountError::InvalidDevice {
            path: d.path().clone(),
            reason,
        };
        if rel.as_os_str().is_empty() {
            return Err(invalid("empty path"));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
            LinuxDeviceType::B => FileType::BlockDevice,
            LinuxDeviceType::P => FileType::Fifo,
            LinuxDeviceType::A => return Err(invalid("type 'a' is not a device node")),
        };
        let num = |v: i64| u32::try_from(v).map_err(|_| invalid("bad major/minor"));
        let dev = Device {
            kind,
            major: num(d.major())?,
            minor: num(d.minor())?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
            rel,
        };
        list.retain(|x| x.rel != dev.rel);
        list.push(dev);
    }
    list.retain(|d| d.rel != Path::new("dev/ptmx"));
    Ok(list)
}

/// Creates every device, `/dev/ptmx` → `pts/ptmx` and the `/dev/fd`-style symlinks.
pub(crate) fn setup_dev(a: &Assembly<'_>, spec: &Spec) -> Result<(), MountError> {
    let list = device_list(spec)?;
    // umask 0 so nodes get exactly the configured mode (init is single-threaded).
    let old = rustix::process::umask(Mode::empty());
    let made = list
        .iter()
        .try_for_each(|d| create_device(a.root, d, a.rootless));
    rustix::process::umask(old);
    made?;
    let (dev, _) = mkdir_all(a.root, Path::new("dev"), ResolveFlags::empty())?;
    setup_ptmx(dev.as_fd())?;
    let kcore = match &a.proc_mnt {
        Some(p) => rustix::fs::statat(p, "kcore", AtFlags::SYMLINK_NOFOLLOW).is_ok(),
        None => rustix::fs::stat("/proc/kcore").is_ok(),
    };
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if kcore {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match rustix::fs::symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(source) => {
                return Err(MountError::DevSymlink {
                    name: name.into(),
                    source,
                });
            }
        }
    }
    Ok(())
}

fn setup_ptmx(dev: BorrowedFd<'_>) -> Result<(), MountError> {
    let err = |source| MountError::DevSymlink {
        name: "ptmx".into(),
        source,
    };
    match rustix::fs::unlinkat(dev, "ptmx", AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(err(e)),
    }
    rustix::fs::symlinkat("pts/ptmx", dev, "ptmx").map_err(err)
}

fn create_device(root: BorrowedFd<'_>, d: &Device, bind: bool) -> Result<(), MountError> {
    let (parent, name) = split_parent(&d.rel).ok_or(MountError::InvalidDevice {
        path: absolute(&d.rel),
        reason: "the container root itself",
    })?;
    let (dir, _) = mkdir_all(root, parent, ResolveFlags::empty())?;
    let err = |source| MountError::Device {
        path: absolute(&d.rel),
        source,
    };
    if !bind {
        match mknod_device(dir.as_fd(), name, d) {
            Err(Errno::PERM) => {}
            other => return other.map_err(err),
        }
    }
    bind_device(dir.as_fd(), name, d)
}

/// What is at `name` now: `Some(true)` if it is already the right node.
fn existing_is(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    kind: FileType,
    rdev: u64,
) -> Result<Option<bool>, Errno> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => {
            let ft = FileType::from_raw_mode(st.st_mode);
            if ft == FileType::Directory {
                return Err(Errno::ISDIR);
            }
            Ok(Some(
                ft == kind && (kind == FileType::Fifo || st.st_rdev == rdev),
            ))
        }
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn mknod_device(dir: BorrowedFd<'_>, name: &OsStr, d: &Device) -> Result<(), Errno> {
    let rdev = rustix::fs::makedev(d.major, d.minor);
    match existing_is(dir, name, d.kind, rdev)? {
        Some(true) => return chown_nofollow(dir, name, d),
        Some(false) => rustix::fs::unlinkat(dir, name, AtFlags::empty())?,
        None => {}
    }
    let rdev = if d.kind == FileType::Fifo { 0 } else { rdev };
    rustix::fs::mknodat(dir, name, d.kind, Mode::from_raw_mode(d.mode), rdev)?;
    chown_nofollow(dir, name, d)
}

fn chown_nofollow(dir: BorrowedFd<'_>, name: &OsStr, d: &Device) -> Result<(), Errno> {
    let uid = Some(rustix::fs::Uid::from_raw(d.uid));
    let gid = Some(rustix::fs::Gid::from_raw(d.gid));
    rustix::fs::chownat(dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
}

/// Binds the host node at the same path over an empty file (user namespaces cannot mknod).
fn bind_device(dir: BorrowedFd<'_>, name: &OsStr, d: &Device) -> Result<(), MountError> {
    let path = absolute(&d.rel);
    let host = rustix::fs::open(
        &path,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| MountError::OpenSource {
        path: path.clone(),
        source,
    })?;
    let st = rustix::fs::fstat(&host).map_err(|source| MountError::OpenSource {
        path: path.clone(),
        source,
    })?;
    let rdev = rustix::fs::makedev(d.major, d.minor);
    if FileType::from_raw_mode(st.st_mode) != d.kind
        || (d.kind != FileType::Fifo && st.st_rdev != rdev)
    {
        return Err(MountError::InvalidDevice {
            path,
            reason: "the host node is another device",
        });
    }
    let err = |source| MountError::Device {
        path: path.clone(),
        source,
    };
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
        Ok(_) => rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(err)?,
        Err(Errno::NOENT) => {}
        Err(e) => return Err(err(e)),
    }
    create_empty_file(dir, name).map_err(err)?;
    let target = open_beneath(dir, name, OFlags::PATH, Mode::empty()).map_err(err)?;
    let tree = clone_fd(host.as_fd(), false).map_err(err)?;
    // a device node is never executed: nosuid/noexec cost nothing and keep every mount
    // of the container nosuid (stockade run checks mountinfo for it)
    let hardened = AttrChange {
        set: MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        clr: MountAttrFlags::empty(),
    };
    set_attrs(tree.as_fd(), false, hardened).map_err(err)?;
    attach(tree.as_fd(), target.as_fd()).map_err(err)
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxBuilder, LinuxDeviceBuilder, SpecBuilder};

    use super::*;

    #[test]
    fn defaults_are_the_oci_set() {
        let spec = SpecBuilder::default().build().expect("spec");
        let names: Vec<_> = device_list(&spec)
            .expect("list")
            .into_iter()
            .map(|d| d.rel)
            .collect();
        let want: Vec<PathBuf> = ["null", "zero", "full", "random", "urandom", "tty"]
            .iter()
            .map(|n| Path::new("dev").join(n))
            .collect();
        assert_eq!(names, want);
    }

    #[test]
    fn config_devices_override_and_ptmx_is_dropped() {
        let devs = vec![
            LinuxDeviceBuilder::default()
                .path("/dev/null")
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .file_mode(0o600u32)
                .uid(5u32)
                .build()
                .expect("dev"),
            LinuxDeviceBuilder::default()
                .path("/dev/fuse")
                .typ(LinuxDeviceType::C)
                .major(10)
                .minor(229)
                .build()
                .expect("dev"),
            LinuxDeviceBuilder::default()
                .path("/dev/ptmx")
                .typ(LinuxDeviceType::C)
                .major(5)
                .minor(2)
                .build()
                .expect("dev"),
        ];
        let linux = LinuxBuilder::default()
            .devices(devs)
            .build()
            .expect("linux");
        let spec = SpecBuilder::default().linux(linux).build().expect("spec");
        let list = device_list(&spec).expect("list");
        assert_eq!(list.len(), 7);
        let null = list
            .iter()
            .find(|d| d.rel == Path::new("dev/null"))
            .expect("null");
        assert_eq!((null.mode, null.uid), (0o600, 5));
        assert!(
            list.iter()
                .any(|d| d.rel == Path::new("dev/fuse") && d.major == 10)
        );
        assert!(!list.iter().any(|d| d.rel == Path::new("dev/ptmx")));
    }

    #[test]
    fn bad_devices_are_refused() {
        let d = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::A)
            .build();
        let linux = LinuxBuilder::default()
            .devices(vec![d.expect("dev")])
            .build()
            .expect("l");
        let spec = SpecBuilder::default().linux(linux).build().expect("spec");
        assert!(matches!(
            device_list(&spec),
            Err(MountError::InvalidDevice { .. })
        ));
        let d = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::C)
            .major(-1);
        let linux = LinuxBuilder::default()
            .devices(vec![d.build().expect("dev")])
            .build()
            .expect("l");
        let spec = SpecBuilder::default().linux(linux).build().expect("spec");
        assert!(matches!(
            device_list(&spec),
            Err(MountError::InvalidDevice { .. })
        ));
    }
}
