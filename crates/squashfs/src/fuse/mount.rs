// SPDX-License-Identifier: Apache-2.0
//! Mounting a FUSE connection and handing its fd to the server process.
//!
//! The caller (root, or root of a user namespace it created) opens `/dev/fuse`, mounts with
//! [`mount_fuse`] and passes the fd to the server with [`send_fd`] over a unix socket, so
//! the server can live outside the container's mount namespace and never pins it.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::mount::MountFlags;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// Options of a FUSE mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Owner of the mount as the kernel sees it (`user_id=`), in the caller's user namespace.
    pub uid: u32,
    /// Group of the mount (`group_id=`).
    pub gid: u32,
    /// Let users other than `uid` access the mount (`allow_other`).
    pub allow_other: bool,
    /// Let the kernel check permissions from the served modes (`default_permissions`).
    pub default_permissions: bool,
    /// Source shown in `/proc/mounts`.
    pub fsname: String,
    /// Filesystem subtype (`fuse.<subtype>` in `/proc/mounts`).
    pub subtype: String,
}

impl MountOptions {
    /// Options for a mount owned by the caller's effective uid/gid (root on the host, or
    /// root of a user namespace), open to every user, permission-checked by the kernel.
    pub fn for_caller(fsname: &str) -> Self {
        MountOptions {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            allow_other: true,
            default_permissions: true,
            fsname: fsname.replace([',', ' ', '\n', '\t'], "_"),
            subtype: "squashfs".into(),
        }
    }
}

/// Opens `/dev/fuse` for a new connection (close-on-exec).
pub fn open_dev_fuse() -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        "/dev/fuse",
        OFlags::RDWR | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Mounts the FUSE connection `fd` read-only at `target`
/// (`MS_NOSUID|MS_NODEV|MS_RDONLY`, `fd=N,rootmode=40000,user_id=U,group_id=G,...`).
pub fn mount_fuse(target: &Path, fd: BorrowedFd<'_>, opts: &MountOptions) -> io::Result<()> {
    let mut data = format!(
        "fd={},rootmode=40000,user_id={},group_id={}",
        fd.as_raw_fd(),
        opts.uid,
        opts.gid
    );
    if opts.allow_other {
        data.push_str(",allow_other");
    }
    if opts.default_permissions {
        data.push_str(",default_permissions");
    }
    let fstype = format!("fuse.{}", opts.subtype);
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::RDONLY;
    let data =
        std::ffi::CString::new(data).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    Ok(rustix::mount::mount(
        opts.fsname.as_str(),
        target,
        fstype.as_str(),
        flags,
        Some(data.as_c_str()),
    )?)
}

/// Sends `fd` over the unix socket `sock` (one byte of payload, `SCM_RIGHTS`).
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut ctl = SendAncillaryBuffer::new(&mut space);
    if !ctl.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("control buffer too small"));
    }
    rustix::net::sendmsg(sock, &[IoSlice::new(b"F")], &mut ctl, SendFlags::NOSIGNAL)?;
    Ok(())
}

/// Receives one fd sent with [`send_fd`] from `sock`.
pub fn recv_fd(sock: impl AsFd) -> io::Result<OwnedFd> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut ctl = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let msg = rustix::net::recvmsg(
        sock.as_fd(),
        &mut [IoSliceMut::new(&mut byte)],
        &mut ctl,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    if msg.bytes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed before sending the fuse fd",
        ));
    }
    for m in ctl.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = m
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "no fd received"))
}
