// SPDX-License-Identifier: Apache-2.0
//! The FUSE side of a run: a server process serving the image partition through our
//! squashfs reader (and LUKS in user space for encrypted images), and main's handle on it.
//!
//! Protocol over one `SOCK_SEQPACKET` socketpair (the server's stdin):
//! 1. main → server: the image fd (`SCM_RIGHTS`), then a JSON [`Params`] message, then for an
//!    encrypted image the key (one message, wiped after use on both sides);
//! 2. server: opens the partition (LUKS keyslot, squashfs superblock and tables) and answers
//!    `ok` or `error: <message>` — a bad key or corrupt image fails here, before main mounts
//!    anything that would be used;
//! 3. main → server: the `/dev/fuse` fd it mounted inside the session;
//! 4. server: serves until the mount is gone (`ENODEV` once the session's mount namespace
//!    dies or main unmounts), or dies with main (`PR_SET_PDEATHSIG`).
//!
//! The server is started *before* main enters its namespaces: it lives in the host's
//! namespaces, never pins the session, and holds no privilege beyond the connection.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};
use stockade_squashfs::fuse::{recv_fd, send_fd};
use zeroize::Zeroizing;

/// Upper bound on one protocol message.
pub const MAX_MESSAGE: usize = 64 << 10;

/// What the server serves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Params {
    /// Partition offset in the image file.
    pub offset: u64,
    /// Partition size.
    pub size: u64,
    /// The partition is LUKS2 (a key message follows).
    pub encrypted: bool,
    /// Image name for messages.
    pub name: String,
    /// main's pid (the server exits if its parent is already another process).
    pub parent: i32,
}

/// main's handle on the server process.
#[derive(Debug)]
pub struct FuseServer {
    child: Child,
    sock: OwnedFd,
}

impl FuseServer {
    /// Starts `stockade fuse-serve` from our own (sealed) executable and hands it the image.
    pub fn spawn(
        image: &File,
        params: &Params,
        key: Option<&[u8]>,
        debug: bool,
    ) -> Result<FuseServer> {
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .context("socketpair")?;
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg("fuse-serve")
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(if debug {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        let child = cmd.spawn().context("cannot start the FUSE server")?;
        let server = FuseServer { child, sock: ours };
        send_fd(server.sock.as_fd(), image.as_fd())
            .context("cannot pass the image to the FUSE server")?;
        server.send(&serde_json::to_vec(params).context("params")?)?;
        if let Some(k) = key {
            server.send(k)?;
        }
        Ok(server)
    }

    fn send(&self, msg: &[u8]) -> Result<()> {
        rustix::net::send(&self.sock, msg, SendFlags::NOSIGNAL)
            .context("cannot talk to the FUSE server")?;
        Ok(())
    }

    /// Hands over the mounted `/dev/fuse` connection and waits for the server's verdict on
    /// the image.
    pub fn attach(&self, fuse: BorrowedFd<'_>) -> Result<()> {
        send_fd(self.sock.as_fd(), fuse).context("cannot pass /dev/fuse to the FUSE server")?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (_, n) = rustix::net::recv(&self.sock, &mut buf[..], RecvFlags::empty())
            .context("no answer from the FUSE server")?;
        let reply = String::from_utf8_lossy(&buf[..n.min(MAX_MESSAGE)]).into_owned();
        match reply.strip_prefix("error: ") {
            _ if reply == "ok" => Ok(()),
            Some(msg) => bail!("{msg}"),
            None if n == 0 => bail!("the FUSE server exited before serving the image"),
            None => bail!("the FUSE server said {reply:?}"),
        }
    }
}

impl Drop for FuseServer {
    /// Kills and reaps the server (the mount it served is being torn down).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the server receives first: the image, the parameters and the key (if any).
pub type Received = (File, Params, Option<Zeroizing<Vec<u8>>>);

/// The server's end: reads the image fd, the parameters and the key from `sock`.
pub fn receive(sock: BorrowedFd<'_>) -> Result<Received> {
    let image = File::from(recv_fd(sock).context("no image fd")?);
    let params: Params = serde_json::from_slice(&recv_msg(sock)?).context("bad parameters")?;
    let key = if params.encrypted {
        Some(recv_msg(sock)?)
    } else {
        None
    };
    Ok((image, params, key))
}

fn recv_msg(sock: BorrowedFd<'_>) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; MAX_MESSAGE]);
    let (_, n) = rustix::net::recv(sock, &mut buf[..], RecvFlags::empty()).context("recv")?;
    if n == 0 || n > MAX_MESSAGE {
        bail!("bad message from the launcher");
    }
    buf.truncate(n);
    Ok(buf)
}

/// The server's verdict message.
pub fn reply(sock: BorrowedFd<'_>, res: &Result<()>) -> Result<()> {
    let text = match res {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {}", crate::launch::chain(e)),
    };
    rustix::net::send(sock, text.as_bytes(), SendFlags::NOSIGNAL).context("send")?;
    Ok(())
}

/// Receives the `/dev/fuse` fd.
pub fn receive_fuse(sock: BorrowedFd<'_>) -> Result<OwnedFd> {
    recv_fd(sock).context("no /dev/fuse fd")
}
