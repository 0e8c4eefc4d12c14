// SPDX-License-Identifier: Apache-2.0
//! Request handlers: one function per FUSE opcode, replying from the [`Archive`].

use std::io::IoSlice;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::io::Errno;

use super::abi::{self, Attr, Put, Request, op};
use super::prefetch::Prefetcher;
use super::{ServeError, ServeOptions};
use crate::archive::Archive;
use crate::inode::{Body, Inode};

/// The largest read we accept (max_pages 256 × 4 KiB).
pub(super) const MAX_READ: u32 = 1 << 20;

/// Result of a handler: the reply body is in the output buffer.
pub(super) enum Reply {
    Body,
    Errno(i32),
    None,
}

/// The served filesystem.
pub(super) struct Fs {
    pub(super) archive: Arc<Archive>,
    pub(super) root_ref: u64,
    pub(super) valid: u64,
    pub(super) blksize: u32,
    prefetch: Prefetcher,
    prefetch_blocks: u64,
    no_open: AtomicBool,
}

impl Fs {
    pub fn new(
        archive: Arc<Archive>,
        root_ref: u64,
        opts: &ServeOptions,
        prefetch: Prefetcher,
        no_open: bool,
    ) -> Self {
        let blksize = archive.superblock().block_size;
        Fs {
            archive,
            root_ref,
            valid: opts.timeout.as_secs(),
            blksize,
            prefetch,
            prefetch_blocks: u64::from(opts.prefetch_blocks),
            no_open: AtomicBool::new(no_open),
        }
    }

    /// Starts the prefetch threads (see [`Prefetcher::launch`]).
    pub fn start_prefetch(&self, n: usize) -> Result<(), ServeError> {
        self.prefetch.launch(&self.archive, n)
    }

    pub fn shutdown(&self) {
        self.prefetch.shutdown();
    }

    /// Handles one request; false when the connection is gone.
    pub fn handle(
        &self,
        fd: BorrowedFd<'_>,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<bool, ServeError> {
        let Some(req) = Request::parse(buf) else {
            return Ok(true);
        };
        out.clear();
        let (err, body): (i32, &[u8]) = match self.dispatch(&req, out) {
            Reply::None => return Ok(true),
            Reply::Body => (0, out),
            Reply::Errno(e) => (-e, &[]),
        };
        match send(fd, req.unique, err, body) {
            Ok(()) => Ok(true),
            Err(ServeError::Device(_, e)) if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn dispatch(&self, req: &Request<'_>, out: &mut Vec<u8>) -> Reply {
        let r = match req.opcode {
            op::LOOKUP => self.lookup(req, out),
            op::GETATTR => self.getattr(req, out),
            op::READLINK => self.readlink(req, out),
            op::OPEN | op::OPENDIR => self.open(req, out),
            op::READ => self.read(req, out),
            op::READDIR => self.readdir(req, out, false),
            op::READDIRPLUS => self.readdir(req, out, true),
            op::STATFS => self.statfs(out),
            op::GETXATTR | op::LISTXATTR => self.xattr(req, out),
            op::ACCESS => self.access(req),
            op::RELEASE | op::RELEASEDIR | op::FLUSH | op::FSYNC | op::FSYNCDIR | op::DESTROY => {
                Ok(Reply::Body)
            }
            op::FORGET | op::BATCH_FORGET | op::INTERRUPT => Ok(Reply::None),
            op::SETATTR
            | op::SYMLINK
            | op::MKNOD
            | op::MKDIR
            | op::UNLINK
            | op::RMDIR
            | op::RENAME
            | op::LINK
            | op::WRITE
            | op::SETXATTR
            | op::REMOVEXATTR
            | op::CREATE
            | op::FALLOCATE
            | op::RENAME2
            | op::COPY_FILE_RANGE
            | op::TMPFILE => Err(libc::EROFS),
            _ => Err(libc::ENOSYS),
        };
        r.unwrap_or_else(Reply::Errno)
    }

    pub(super) fn node(&self, nodeid: u64) -> Result<Arc<Inode>, i32> {
        let reference = if nodeid == 1 {
            self.root_ref
        } else {
            nodeid.checked_sub(2).ok_or(libc::EINVAL)?
        };
        self.archive.inode(reference).map_err(|e| {
            tracing::debug!(nodeid, error = %e, "bad inode");
            e.errno()
        })
    }

    pub(super) fn nodeid(&self, reference: u64) -> u64 {
        if reference == self.root_ref {
            1
        } else {
            reference + 2
        }
    }

    pub(super) fn attr(&self, i: &Inode) -> Attr {
        Attr {
            ino: u64::from(i.number),
            size: i.size(),
            time: u64::from(i.mtime),
            mode: i.mode(),
            nlink: i.nlink,
            uid: i.uid,
            gid: i.gid,
            rdev: if let Body::Dev(r) = i.body { r } else { 0 },
            blksize: self.blksize,
        }
    }

    fn lookup(&self, req: &Request<'_>, out: &mut Vec<u8>) -> Result<Reply, i32> {
        let name = req.name(0).ok_or(libc::EINVAL)?;
        let dir = self.node(req.nodeid)?;
        let listing = self.archive.listing(&dir).map_err(|e| e.errno())?;
        match listing.find(name) {
            Some(e) => {
                let child = self.archive.inode(e.inode_ref).map_err(|e| e.errno())?;
                abi::put_entry(
                    out,
                    self.nodeid(child.reference),
                    self.valid,
                    &self.attr(&child),
                );
            }
            // A negative entry the kernel caches for the validity period.
            None => abi::put_entry(out, 0, self.valid, &Attr::default()),
        }
        Ok(Reply::Body)
    }

    fn getattr(&self, req: &Request<'_>, out: &mut Vec<u8>) -> Result<Reply, i32> {
        let i = self.node(req.nodeid)?;
        out.put64(self.valid);
        out.put32(0);
        out.put32(0);
        abi::put_attr(out, &self.attr(&i));
        Ok(Reply::Body)
    }

    fn readlink(&self, req: &Request<'_>, out: &mut Vec<u8>) -> Result<Reply, i32> {
        let i = self.node(req.nodeid)?;
        out.extend_from_slice(self.archive.readlink(&i).map_err(|e| e.errno())?);
        Ok(Reply::Body)
    }

    fn open(&self, req: &Request<'_>, out: &mut Vec<u8>) -> Result<Reply, i32> {
        let flags = req.u32(0).ok_or(libc::EINVAL)?;
        if flags & (libc::O_ACCMODE as u32) != libc::O_RDONLY as u32 {
            return Err(libc::EROFS);
        }
        if self.no_open.load(Ordering::Relaxed) {
            return Err(libc::ENOSYS);
        }
        out.put64(0);
        out.put32(
            abi::FOPEN_KEEP_CACHE
                | if req.opcode == op::OPENDIR {
                    abi::FOPEN_CACHE_DIR
                } else {
                    0
                },
        );
        out.put32(0);
        Ok(Reply::Body)
    }

    fn read(&self, req: &Request<'_>, out: &mut Vec<u8>) -> Result<Reply, i32> {
        let (off, size) = (
            req.u64(8).ok_or(libc::EINVAL)?,
            req.u32(16).ok_or(libc::EINVAL)?,
        );
        let i = self.node(req.nodeid)?;
        let Body::File(f) = &i.body else {
            return Err(if matches!(i.body, Body::Dir { .. }) {
                libc::EISDIR
            } else {
                libc::EINVAL
            });
        };
        let size = size.min(MAX_READ);
        self.archive
            .read_into(&i, off, size as usize, out)
            .map_err(|e| {
                tracing::debug!(inode = i.number, off, error = %e, "read failed");
                e.errno()
            })?;
        if self.prefetch_blocks > 0 && !out.is_empty() {
            let bs = u64::from(self.blksize);
            let next = (off + out.len() as u64).div_ceil(bs);
            if next < f.blocks.len() as u64 {
                self.prefetch.request(f, next, next + self.prefetch_blocks);
            }
        }
        Ok(Reply::Body)
    }
}

/// Answers the INIT request: whether the kernel skips OPEN/OPENDIR (`NO_OPEN_SUPPORT`), or
/// `None` if the connection went away first.
pub(super) fn handshake(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<Option<bool>, ServeError> {
    let mut out = Vec::with_capacity(64);
    loop {
        let n = match rustix::io::read(fd, &mut *buf) {
            Ok(n) => n,
            Err(Errno::NODEV) => return Ok(None),
            Err(Errno::INTR | Errno::AGAIN | Errno::NOENT) => continue,
            Err(e) => return Err(ServeError::Device("read", e.into())),
        };
        let req = Request::parse(&buf[..n]).ok_or(ServeError::Protocol("malformed request"))?;
        if req.opcode != op::INIT {
            return Err(ServeError::Protocol("first request is not INIT"));
        }
        let (major, minor, readahead, flags) =
            match (req.u32(0), req.u32(4), req.u32(8), req.u32(12)) {
                (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
                _ => return Err(ServeError::Protocol("short INIT")),
            };
        out.clear();
        if major > abi::KERNEL_VERSION {
            // Ask the kernel to retry with our major version.
            out.put32(abi::KERNEL_VERSION);
            out.resize(64, 0);
            send(fd, req.unique, 0, &out)?;
            continue;
        }
        if major < abi::KERNEL_VERSION || minor < 23 {
            send(fd, req.unique, -libc::EPROTO, &[])?;
            return Err(ServeError::Protocol("kernel older than fuse 7.23"));
        }
        use abi::init::*;
        let want = ASYNC_READ
            | PARALLEL_DIROPS
            | CACHE_SYMLINKS
            | DO_READDIRPLUS
            | MAX_PAGES
            | NO_OPEN_SUPPORT
            | NO_OPENDIR_SUPPORT;
        let flags = flags & want;
        out.put32(abi::KERNEL_VERSION);
        out.put32(minor.min(abi::KERNEL_MINOR_VERSION));
        out.put32(readahead);
        out.put32(flags);
        out.put16(64); // max_background
        out.put16(48); // congestion_threshold
        out.put32(128 << 10); // max_write
        out.put32(1); // time_gran
        out.put16(256); // max_pages
        out.put16(0);
        out.resize(64, 0);
        send(fd, req.unique, 0, &out)?;
        return Ok(Some(flags & NO_OPEN_SUPPORT != 0));
    }
}

/// Writes one reply (header + body) to the device.
fn send(fd: BorrowedFd<'_>, unique: u64, error: i32, body: &[u8]) -> Result<(), ServeError> {
    let hdr = abi::out_header(unique, error, body.len());
    match rustix::io::writev(fd, &[IoSlice::new(&hdr), IoSlice::new(body)]) {
        // ENOENT: the request was interrupted and is gone; nothing to do.
        Ok(_) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(ServeError::Device("write", e.into())),
    }
}
