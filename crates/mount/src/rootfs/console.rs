// SPDX-License-Identifier: Apache-2.0
//! The console (CVE-2025-52565, ESC-08). The pty pair comes from the container's own devpts
//! instance, opened through the fd of the devpts mount we created (`ptmx` beneath it, no
//! symlink, no mount crossing), and the peer is obtained with `TIOCGPTPEER`, not by a
//! `/dev/pts/N` lookup. `/dev/console` is bound from that peer fd with `open_tree`; its
//! target is resolved in-root, and a pre-existing `dev/console` that is not a plain file or
//! character device (e.g. a symlink to `/proc/sysrq-trigger`) is replaced, never followed.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::pty::OpenptFlags;

use crate::MountError;
use crate::fsapi::{attach, clone_fd};
use crate::procfs::{DEVPTS_SUPER_MAGIC, fs_magic};
use crate::resolve::{create_empty_file, mkdir_all, open_beneath};

/// Unix98 pty slave majors (136..=143).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u32> = 136..=143;

fn err(step: &'static str) -> impl Fn(Errno) -> MountError {
    move |source| MountError::Console { step, source }
}

/// Opens `ptmx` of the devpts mount `devpts` and returns (master, slave).
pub(crate) fn open_pty(devpts: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd), MountError> {
    let flags = OFlags::RDWR | OFlags::NOCTTY;
    let master = open_beneath(devpts, OsStr::new("ptmx"), flags, Mode::empty())
        .map_err(err("open ptmx of the container devpts"))?;
    if fs_magic(master.as_fd()).map_err(err("fstatfs ptmx"))? != DEVPTS_SUPER_MAGIC {
        return Err(MountError::Console {
            step: "ptmx is not on devpts",
            source: Errno::XDEV,
        });
    }
    rustix::pty::unlockpt(&master).map_err(err("unlockpt"))?;
    let peer_flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, peer_flags).map_err(err("TIOCGPTPEER"))?;
    Ok((master, slave))
}

/// Checks `slave` is a pty slave on devpts.
fn check_slave(slave: BorrowedFd<'_>) -> Result<(), MountError> {
    let st = rustix::fs::fstat(slave).map_err(err("fstat console"))?;
    let is_chr = FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice;
    let major = rustix::fs::major(st.st_rdev);
    let on_devpts = fs_magic(slave).map_err(err("fstatfs console"))? == DEVPTS_SUPER_MAGIC;
    if !is_chr || !PTY_SLAVE_MAJORS.contains(&major) || !on_devpts {
        return Err(MountError::Console {
            step: "not a pty slave",
            source: Errno::NOTTY,
        });
    }
    Ok(())
}

/// Binds `slave` onto `/dev/console` inside `root`.
pub(crate) fn bind_console(root: BorrowedFd<'_>, slave: BorrowedFd<'_>) -> Result<(), MountError> {
    check_slave(slave)?;
    let (dev, _) = mkdir_all(root, Path::new("dev"), ResolveFlags::empty())?;
    let name = OsStr::new("console");
    match rustix::fs::statat(&dev, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile | FileType::CharacterDevice => {}
            FileType::Directory => return Err(err("dev/console is a directory")(Errno::ISDIR)),
            _ => rustix::fs::unlinkat(&dev, name, AtFlags::empty())
                .map_err(err("remove dev/console"))?,
        },
        Err(Errno::NOENT) => {}
        Err(e) => return Err(err("stat dev/console")(e)),
    }
    create_empty_file(dev.as_fd(), name).map_err(err("create dev/console"))?;
    let target = open_beneath(dev.as_fd(), name, OFlags::PATH, Mode::empty())
        .map_err(err("open dev/console"))?;
    let tree = clone_fd(slave, false).map_err(err("open_tree of the pty"))?;
    attach(tree.as_fd(), target.as_fd()).map_err(err("attach dev/console"))
}
