// SPDX-License-Identifier: Apache-2.0
//! Mounting the opened image at the workspace's `image` directory, never extracting it:
//! a sandbox directory is bound from its opened fd (`open_tree`, read-only, nosuid,
//! nodev); a squashfs partition goes through a loop device (root) or through FUSE and our
//! own server (users, and every encrypted image: there is no dm-crypt on the path).

use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result};
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MoveMountFlags, OpenTreeFlags};
use stockade_squashfs::fuse::{MountOptions, mount_fuse, open_dev_fuse};
use stockade_sys::mount::{AT_EMPTY_PATH, MountAttr, mount_setattr};

use super::fuse::FuseServer;
use super::image::{Image, Kind};
use super::loopmount;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// Mounts `img` at `target`. `server` is the FUSE server when the image is served by one.
pub fn mount_image(img: &Image, target: &Path, server: Option<&FuseServer>) -> Result<()> {
    match (&img.kind, server) {
        (Kind::Sandbox, _) => bind_dir(img, target),
        (_, Some(s)) => {
            let fd = open_dev_fuse().context("cannot open /dev/fuse")?;
            let name = img.path.display().to_string();
            mount_fuse(target, fd.as_fd(), &MountOptions::for_caller(&name))
                .with_context(|| format!("cannot mount FUSE on {}", target.display()))?;
            s.attach(fd.as_fd())
        }
        (Kind::Squashfs { offset, size }, None) => {
            loopmount::mount_partition(&img.file, &img.path, *offset, *size, target)
        }
        (Kind::Encrypted { .. }, None) => anyhow::bail!("encrypted images need the FUSE server"),
    }
}

/// Binds the opened sandbox directory read-only at `target`. The fd opened before the
/// session belongs to the host's mount namespace, which `open_tree` refuses: the path is
/// opened again here and must be the very same directory (device and inode).
fn bind_dir(img: &Image, target: &Path) -> Result<()> {
    let again = rustix::fs::open(
        &img.path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {} again", img.path.display()))?;
    let (a, b) = (rustix::fs::fstat(&img.file)?, rustix::fs::fstat(&again)?);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        anyhow::bail!("{} was replaced while starting", img.path.display());
    }
    let flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH;
    let tree = rustix::mount::open_tree(again.as_fd(), "", flags)
        .with_context(|| format!("cannot bind {}", img.path.display()))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        ..MountAttr::default()
    };
    mount_setattr(tree.as_fd(), c"", AT_EMPTY_PATH, &attr)
        .with_context(|| format!("cannot make {} read-only", img.path.display()))?;
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .with_context(|| format!("cannot attach {}", img.path.display()))
}
