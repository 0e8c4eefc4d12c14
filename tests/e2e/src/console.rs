// SPDX-License-Identifier: Apache-2.0
//! A `--console-socket` receiver: accepts the runtime's connection, takes the pty master it
//! sends (SCM_RIGHTS) and drains it in a thread until the container side closes.

use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

/// What came through the console socket.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// A descriptor was received.
    pub got_fd: bool,
    /// The received descriptor is a pty master (`/dev/ptmx` or `/dev/pts/ptmx`).
    pub is_ptmx: bool,
    /// Everything read from the master until it closed.
    pub output: String,
}

/// A listening console socket.
#[derive(Debug)]
pub struct ConsoleSocket {
    path: PathBuf,
    out: Arc<Mutex<Received>>,
    thread: Option<JoinHandle<Result<()>>>,
}

fn accept_master(l: &UnixListener, limit: Duration) -> Result<OwnedFd> {
    l.set_nonblocking(true)?;
    let end = Instant::now() + limit;
    let conn = loop {
        match l.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e).context("accept on console socket"),
        }
    };
    conn.set_nonblocking(false)?;
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut buf = [0u8; 4096];
    rustix::net::recvmsg(
        &conn,
        &mut [IoSliceMut::new(&mut buf)],
        &mut cmsg,
        RecvFlags::empty(),
    )?;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    bail!("console socket: no descriptor received")
}

impl ConsoleSocket {
    /// Listens at `dir/console.sock` and serves one connection in a thread.
    ///
    /// # Errors
    /// When the socket cannot be bound.
    pub fn listen(dir: &Path) -> Result<Self> {
        let path = dir.join("console.sock");
        let l = UnixListener::bind(&path).with_context(|| format!("bind {}", path.display()))?;
        let out = Arc::new(Mutex::new(Received::default()));
        let o = Arc::clone(&out);
        let thread = std::thread::spawn(move || -> Result<()> {
            let fd = accept_master(&l, Duration::from_secs(60))?;
            let target = std::fs::read_link(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
            if let Ok(mut r) = o.lock() {
                r.got_fd = true;
                r.is_ptmx = target.ends_with("ptmx");
            }
            let mut f = File::from(fd);
            let mut buf = [0u8; 4096];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut r) = o.lock() {
                    r.output.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
            Ok(())
        });
        Ok(Self {
            path,
            out,
            thread: Some(thread),
        })
    }

    /// The socket path to pass as `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits (up to `limit`) for the container side to close and returns what was received.
    pub fn finish(&mut self, limit: Duration) -> Received {
        let end = Instant::now() + limit;
        while self.thread.as_ref().is_some_and(|t| !t.is_finished()) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.thread.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
        self.out.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
