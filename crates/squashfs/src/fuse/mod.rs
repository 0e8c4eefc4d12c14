// SPDX-License-Identifier: Apache-2.0
//! The FUSE server: the daemon side of `/dev/fuse` for a read-only squashfs image.
//!
//! [`serve`] answers INIT on the fd it is given, then runs `threads` workers, each on its own
//! clone of the device fd (`FUSE_DEV_IOC_CLONE`; a shared fd when cloning is refused). Node
//! ids are inode references (+2; the root is 1), so the server keeps no per-node state and
//! FORGET is free. Files and directories are never opened (`NO_OPEN[DIR]_SUPPORT`: the
//! kernel then keeps page and readdir caches), entries and attributes are valid for a year
//! (the image is immutable), misses are cached as negative entries. Reads feed a
//! prefetcher that decompresses the next blocks of the file on other threads. When the
//! mount goes away (umount, or its mount namespace dies) reads return `ENODEV` and every
//! thread returns: [`serve`] comes back and the process exits; no orphan server.

mod abi;
mod mount;
mod ops;
mod prefetch;
mod query;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::io::Errno;

pub use mount::{MountOptions, mount_fuse, open_dev_fuse, recv_fd, send_fd};

use crate::archive::{Archive, ArchiveOptions};
use crate::source::ReadAt;

/// Read buffer per worker: the largest request is a 128 KiB write (refused) plus headers.
const BUF_SIZE: usize = (128 << 10) + 4096;

/// Tunables of [`serve`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Threads reading requests (default 4: reads block on the image source).
    pub threads: usize,
    /// Threads decompressing ahead (default 2; 0 disables prefetch).
    pub prefetch_threads: usize,
    /// Blocks decompressed ahead of a sequential read (default 16, 2 MiB at 128 KiB).
    pub prefetch_blocks: u32,
    /// Decompressed block cache (default 32 MiB).
    pub cache_bytes: usize,
    /// Entry and attribute validity (default one year: the image never changes).
    pub timeout: Duration,
    /// Ask the kernel for SIGKILL when the parent dies (`PR_SET_PDEATHSIG`).
    pub die_with_parent: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            threads: 4,
            prefetch_threads: 2,
            prefetch_blocks: 16,
            cache_bytes: 32 << 20,
            timeout: Duration::from_secs(365 * 86400),
            die_with_parent: true,
        }
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The image could not be opened.
    #[error("cannot open squashfs image")]
    Image(#[source] crate::ImageError),
    /// Reading or writing the FUSE device failed.
    #[error("fuse device {0} failed")]
    Device(&'static str, #[source] io::Error),
    /// The kernel spoke a protocol we do not.
    #[error("unsupported fuse protocol: {0}")]
    Protocol(&'static str),
    /// A worker thread could not be started.
    #[error("cannot start worker thread")]
    Thread(#[source] io::Error),
}

/// Serves the image in `source` on the mounted FUSE connection `fd` until it is unmounted.
pub fn serve(fd: OwnedFd, source: Arc<dyn ReadAt>, opts: &ServeOptions) -> Result<(), ServeError> {
    if opts.die_with_parent {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
            .map_err(|e| ServeError::Thread(e.into()))?;
    }
    let archive = Archive::open_with(
        source,
        &ArchiveOptions {
            cache_bytes: opts.cache_bytes,
        },
    )
    .map_err(ServeError::Image)?;
    serve_archive(fd, archive, opts)
}

/// [`serve`] of an archive the caller already opened (and checked). `opts.die_with_parent`
/// is the caller's business here. INIT is answered before any thread starts: the first
/// request of the mounting process waits for it.
pub fn serve_archive(fd: OwnedFd, archive: Archive, opts: &ServeOptions) -> Result<(), ServeError> {
    let root = archive.root().map_err(ServeError::Image)?;
    let mut buf = vec![0u8; BUF_SIZE];
    let Some(no_open) = ops::handshake(fd.as_fd(), &mut buf)? else {
        return Ok(());
    };
    drop(buf);
    // Inode, directory and lookup tables sit at the end of the image: start reading them now,
    // a cold walk touches them in random order.
    let sb = archive.superblock();
    archive
        .source()
        .will_need(sb.inode_table_start, sb.bytes_used - sb.inode_table_start);
    let fs = Arc::new(ops::Fs::new(
        Arc::new(archive),
        root.reference,
        opts,
        prefetch::Prefetcher::idle(),
        no_open,
    ));
    // This thread serves at once (the mounting process is waiting for its first lookups);
    // a helper starts the other workers and the prefetch threads meanwhile.
    let mut wfds = Vec::new();
    for _ in 1..opts.threads.max(1) {
        wfds.push(clone_fd(&fd)?);
    }
    let starter = {
        let (fs, n) = (fs.clone(), opts.prefetch_threads);
        std::thread::Builder::new()
            .name("fuse-start".into())
            .spawn(move || start_threads(&fs, wfds, n))
            .map_err(ServeError::Thread)?
    };
    let mut res = worker(&fs, &fd);
    let (workers, started) = starter.join().unwrap_or_else(|_| {
        (
            Vec::new(),
            Err(ServeError::Protocol("thread start panicked")),
        )
    });
    res = res.and(started);
    for t in workers {
        let r = t
            .join()
            .unwrap_or(Err(ServeError::Protocol("worker thread panicked")));
        res = res.and(r);
    }
    fs.shutdown();
    res
}

type Worker = std::thread::JoinHandle<Result<(), ServeError>>;

/// Starts a worker per device fd, then `prefetch` prefetch threads; returns the workers
/// started (joined even when a later start failed) and the first failure.
fn start_threads(
    fs: &Arc<ops::Fs>,
    wfds: Vec<OwnedFd>,
    prefetch: usize,
) -> (Vec<Worker>, Result<(), ServeError>) {
    let mut workers = Vec::new();
    for (i, wfd) in wfds.into_iter().enumerate() {
        let fs = fs.clone();
        match std::thread::Builder::new()
            .name(format!("fuse-{}", i + 1))
            .spawn(move || worker(&fs, &wfd))
        {
            Ok(t) => workers.push(t),
            Err(e) => return (workers, Err(ServeError::Thread(e))),
        }
    }
    let res = fs.start_prefetch(prefetch);
    (workers, res)
}

/// A per-thread device fd: a clone of the session, or a duplicate when cloning is refused.
fn clone_fd(fd: &OwnedFd) -> Result<OwnedFd, ServeError> {
    use rustix::fs::{Mode, OFlags};
    if let Ok(new) = rustix::fs::open("/dev/fuse", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        && stockade_sys::fuse::clone_session(&new, fd.as_fd()).is_ok()
    {
        return Ok(new);
    }
    rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(|e| ServeError::Device("dup", e.into()))
}

/// One worker: read a request, answer it, until the connection is gone.
fn worker(fs: &ops::Fs, fd: &OwnedFd) -> Result<(), ServeError> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut out = Vec::with_capacity(64 << 10);
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(n) => {
                if !fs.handle(fd.as_fd(), &buf[..n], &mut out)? {
                    return Ok(());
                }
            }
            Err(Errno::NODEV) => return Ok(()),
            Err(Errno::INTR | Errno::AGAIN | Errno::NOENT) => {}
            Err(e) => return Err(ServeError::Device("read", e.into())),
        }
    }
}
