// SPDX-License-Identifier: Apache-2.0
//! Kernel squashfs mount of a SIF partition (root only): a loop device bound to the
//! already-opened (and, with an active ECL, already-verified) image fd over exactly the
//! partition's bytes, read-only and autoclear, then mounted `ro,nosuid,nodev` inside the
//! session's mount namespace. The loop fd is closed right after the mount: from then on
//! only the mount holds the device, and autoclear detaches it when the mount goes away —
//! on unmount or when the namespace dies with the run (also after `kill -9`).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rustix::fs::{Mode, OFlags};
use rustix::mount::MountFlags;
use stockade_sys::loopdev;

/// Attempts when another process grabs the free loop device between lookup and bind.
pub const MAX_LOOP_ATTEMPTS: usize = 32;

/// Binds `[offset, offset+size)` of `image` to a free loop device and mounts it at `target`.
pub fn mount_partition(
    image: &File,
    name: &Path,
    offset: u64,
    size: u64,
    target: &Path,
) -> Result<()> {
    let ctl = rustix::fs::open(
        "/dev/loop-control",
        OFlags::RDWR | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .context("cannot open /dev/loop-control")?;
    for _ in 0..MAX_LOOP_ATTEMPTS {
        let n = loopdev::get_free(ctl.as_fd()).context("no free loop device")?;
        let dev_path = format!("/dev/loop{n}");
        let dev = match rustix::fs::open(
            dev_path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(d) => d,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot open {dev_path}")),
        };
        let flags = loopdev::FLAG_READ_ONLY | loopdev::FLAG_AUTOCLEAR;
        match loopdev::configure(dev.as_fd(), image.as_fd(), offset, size, flags) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc_ebusy()) => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot bind {} to {dev_path}", name.display()));
            }
        }
        check_bound(&dev, image, offset, size)
            .with_context(|| format!("{dev_path} changed under us"))?;
        let flags = MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV;
        return rustix::mount::mount(dev_path.as_str(), target, "squashfs", flags, None)
            .with_context(|| {
                format!(
                    "cannot mount the squashfs partition of {} (corrupt image?)",
                    name.display()
                )
            });
        // `dev` closes here: on failure autoclear detaches the device at once
    }
    bail!("no free loop device after {MAX_LOOP_ATTEMPTS} attempts")
}

/// The device is bound to our file and range (it is opened again by path for the mount).
fn check_bound(dev: &std::os::fd::OwnedFd, image: &File, offset: u64, size: u64) -> Result<()> {
    let st = loopdev::status(dev.as_fd())?;
    let meta = rustix::fs::fstat(image)?;
    if st.inode != meta.st_ino
        || st.device != meta.st_dev
        || st.offset != offset
        || st.sizelimit != size
    {
        bail!("loop device bound to another file");
    }
    Ok(())
}

const fn libc_ebusy() -> i32 {
    rustix::io::Errno::BUSY.raw_os_error()
}
