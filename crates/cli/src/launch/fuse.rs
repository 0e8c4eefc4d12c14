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
//!    dies or main unmounts), is killed by main at tear-down ([`FuseServer::stop`]), or dies
//!    with main (`PR_SET_PDEATHSIG`).
//!
//! The server is started *before* main enters its namespaces: it lives in the host's
//! namespaces, never pins the session, and holds no privilege beyond the connection.
//!
//! A plain (unencrypted) image skips the exec: [`FuseServer::fork`] forks the
//! single-threaded main and the child runs the server code it already has (step 1 is then
//! moot: image and parameters are in its memory); see [`super::fuse_server::run_forked`]
//! for what the child resets. An encrypted image still gets a fresh `execve` of
//! `stockade fuse-serve`: main's heap may hold the passphrase or the PEM private key that
//! unwrapped the LUKS key, and a forked server would carry them next to untrusted data.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Child, Command, Stdio};

use rustix::process::{Pid, WaitOptions};
use stockade_sys::clone::{self as cl, Forked};

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
    child: Proc,
    sock: OwnedFd,
}

/// The server process: exec'd (`Command`) or forked.
#[derive(Debug)]
enum Proc {
    Exec(Child),
    Forked(Pid),
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
        let server = FuseServer {
            child: Proc::Exec(child),
            sock: ours,
        };
        send_fd(server.sock.as_fd(), image.as_fd())
            .context("cannot pass the image to the FUSE server")?;
        server.send(&serde_json::to_vec(params).context("params")?)?;
        if let Some(k) = key {
            server.send(k)?;
        }
        Ok(server)
    }

    /// Forks the server from main (which must be single-threaded) for an unencrypted image:
    /// no `execve`, no second start-up of this binary. The child never returns.
    pub fn fork(image: &File, params: &Params, debug: bool) -> Result<FuseServer> {
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .context("socketpair")?;
        match cl::fork_with(0, None).context("cannot fork the FUSE server")? {
            Forked::Child => {
                drop(ours);
                super::fuse_server::run_forked(theirs, image, params, debug)
            }
            Forked::Parent(child) => Ok(FuseServer {
                child: Proc::Forked(child.pid),
                sock: ours,
            }),
        }
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

impl FuseServer {
    /// Sends SIGKILL without waiting: called before the mount is detached, so the server's
    /// exit runs on the other CPU while main unmounts; [`Drop`] reaps it.
    pub fn stop(&self) {
        let pid = match &self.child {
            Proc::Exec(c) => i32::try_from(c.id()).ok().and_then(Pid::from_raw),
            Proc::Forked(pid) => Some(*pid),
        };
        if let Some(pid) = pid {
            // our unreaped child: the pid cannot have been reused
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for FuseServer {
    /// Kills and reaps the server (the mount it served is being torn down).
    fn drop(&mut self) {
        match &mut self.child {
            Proc::Exec(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            Proc::Forked(pid) => {
                // our unreaped child: the pid cannot have been reused
                let _ = rustix::process::kill_process(*pid, rustix::process::Signal::KILL);
                let _ = rustix::process::waitpid(Some(*pid), WaitOptions::empty());
            }
        }
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
