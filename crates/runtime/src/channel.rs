// SPDX-License-Identifier: Apache-2.0
//! The main ↔ init protocol: one `SOCK_SEQPACKET` socketpair (close-on-exec, so init's end
//! closes when it execs the container process: end of file = exec succeeded), one serde
//! message per datagram, descriptors passed with `SCM_RIGHTS`. Each role has a typed end
//! whose methods name the protocol step.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use serde::{Deserialize, Serialize};

use crate::init::InitError;

/// Largest message (a hook state JSON with many annotations fits easily).
pub const MAX_MSG: usize = 256 * 1024;

/// Errors of the channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The socketpair cannot be created.
    #[error("cannot create the init socketpair")]
    Socketpair(#[source] std::io::Error),
    /// Sending failed.
    #[error("cannot send {0} to the other side")]
    Send(&'static str, #[source] std::io::Error),
    /// Receiving failed.
    #[error("cannot receive from the other side")]
    Recv(#[source] std::io::Error),
    /// The peer closed its end.
    #[error("the other side exited")]
    Closed,
    /// A datagram did not decode.
    #[error("malformed message")]
    Decode(#[source] serde_json::Error),
    /// A message came out of order.
    #[error("unexpected message {got} (waiting for {want})")]
    Unexpected {
        /// What arrived.
        got: &'static str,
        /// What the step waits for.
        want: &'static str,
    },
}

/// One protocol message.
#[derive(Debug, Serialize, Deserialize)]
pub enum Msg {
    /// main → init: init is in its cgroup and, with a new user namespace created at clone,
    /// its id maps are written.
    Joined,
    /// main → init: the maps init asked for are written.
    MapsWritten,
    /// main → init: prestart/createRuntime hooks ran; the state JSON for init's hooks.
    HooksDone(String),
    /// main → init: go on; with `wait_start`, wait for `start` on the start socket first.
    Proceed {
        /// State JSON for startContainer hooks.
        state: String,
        /// Wait for `start` (create) instead of going straight on (run).
        wait_start: bool,
    },
    /// init → main: a user namespace was unshared; write its maps.
    MapsNeeded,
    /// init → main: the intermediate forked the real init (its host pid).
    Forked(i32),
    /// init → main: the console master follows as the attached fd.
    Console,
    /// init → main: rootfs is mounted; run prestart and createRuntime hooks.
    Hooks,
    /// init → main: set up and waiting for the start signal.
    Ready,
    /// init → main: `Proceed` received, parent-death signal cleared.
    Detached,
    /// init → main: a step failed.
    Failed(InitError),
}

impl Msg {
    /// The message's name (for errors).
    pub fn name(&self) -> &'static str {
        match self {
            Msg::Joined => "joined",
            Msg::MapsWritten => "maps-written",
            Msg::HooksDone(_) => "hooks-done",
            Msg::Proceed { .. } => "proceed",
            Msg::MapsNeeded => "maps-needed",
            Msg::Forked(_) => "forked",
            Msg::Console => "console",
            Msg::Hooks => "hooks",
            Msg::Ready => "ready",
            Msg::Detached => "detached",
            Msg::Failed(_) => "failed",
        }
    }
}

/// A new channel: (main's end, init's end).
pub fn pair() -> Result<(Endpoint, Endpoint), ChannelError> {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| ChannelError::Socketpair(e.into()))?;
    Ok((Endpoint { sock: a }, Endpoint { sock: b }))
}

/// One end of the channel.
#[derive(Debug)]
pub struct Endpoint {
    sock: OwnedFd,
}

impl Endpoint {
    /// The socket (kept open across init's fd sweep).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Sends a message, with an fd when given.
    pub fn send(&self, msg: &Msg, fd: Option<BorrowedFd<'_>>) -> Result<(), ChannelError> {
        self.send_fds(msg, fd.as_slice())
    }

    /// Sends a message with up to [`MAX_FDS`] descriptors.
    pub fn send_fds(&self, msg: &Msg, fds: &[BorrowedFd<'_>]) -> Result<(), ChannelError> {
        let data = serde_json::to_vec(msg).map_err(ChannelError::Decode)?;
        send_with_fds(self.sock.as_fd(), &data, fds).map_err(|e| ChannelError::Send(msg.name(), e))
    }

    /// Receives one message and the first fd attached to it, if any.
    pub fn recv(&self) -> Result<(Msg, Option<OwnedFd>), ChannelError> {
        self.recv_fds().map(|(m, fds)| (m, fds.into_iter().next()))
    }

    /// Receives one message and every fd attached to it.
    pub fn recv_fds(&self) -> Result<(Msg, Vec<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; MAX_MSG];
        let (n, fds) = recv_with_fds(self.sock.as_fd(), &mut buf).map_err(ChannelError::Recv)?;
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(ChannelError::Decode)?;
        Ok((msg, fds))
    }

    /// Receives one message, dropping any attached fd.
    pub fn next(&self) -> Result<Msg, ChannelError> {
        self.recv().map(|(m, _)| m)
    }

    /// Reads and discards every queued message without blocking.
    pub fn drain(&self) {
        let mut buf = [0u8; 512];
        while rustix::net::recv(&self.sock, &mut buf, RecvFlags::DONTWAIT).is_ok_and(|(n, _)| n > 0)
        {
        }
    }

    /// Receives and checks the message is `want` (a `Failed` is returned as an error by the
    /// caller that inspects it).
    pub fn expect(&self, want: &'static str) -> Result<Msg, ChannelError> {
        let (msg, _) = self.recv()?;
        if msg.name() == want || matches!(msg, Msg::Failed(_)) {
            Ok(msg)
        } else {
            Err(ChannelError::Unexpected {
                got: msg.name(),
                want,
            })
        }
    }
}

/// Most descriptors one message carries (the v1 `tasks` files: one per hierarchy).
pub const MAX_FDS: usize = 16;

/// Sends `data` on a connected socket with at most one descriptor (`SCM_RIGHTS`).
pub fn send_with_fd(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> std::io::Result<()> {
    send_with_fds(sock, data, fd.as_slice())
}

/// Sends `data` with up to [`MAX_FDS`] descriptors (`SCM_RIGHTS`).
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(std::io::Error::other(format!(
            "{} descriptors in one message (at most {MAX_FDS})",
            fds.len()
        )));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        control.push(SendAncillaryMessage::ScmRights(fds));
    }
    rustix::net::sendmsg(
        sock,
        &[IoSlice::new(data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// Receives one datagram into `buf`; returns its length and the first descriptor attached,
/// if any (close-on-exec; others are closed).
pub fn recv_with_fd(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> std::io::Result<(usize, Option<OwnedFd>)> {
    recv_with_fds(sock, buf).map(|(n, fds)| (n, fds.into_iter().next()))
}

/// Receives one datagram into `buf`; returns its length and the descriptors attached
/// (close-on-exec).
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> std::io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let res = loop {
        match rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(got) = msg {
            fds.extend(got);
        }
    }
    Ok((res.bytes, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_roundtrip_with_fd_and_eof() {
        let (a, b) = pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        a.send(&Msg::Console, Some(file.as_fd())).unwrap();
        let (msg, fd) = b.recv().unwrap();
        assert!(matches!(msg, Msg::Console));
        assert!(fd.is_some());
        b.send(
            &Msg::Proceed {
                state: "{}".into(),
                wait_start: true,
            },
            None,
        )
        .unwrap();
        assert!(matches!(
            a.expect("proceed").unwrap(),
            Msg::Proceed {
                wait_start: true,
                ..
            }
        ));
        a.send(&Msg::Ready, None).unwrap();
        assert!(matches!(
            b.expect("joined"),
            Err(ChannelError::Unexpected { got: "ready", .. })
        ));
        drop(a);
        assert!(matches!(b.recv(), Err(ChannelError::Closed)));
    }

    #[test]
    fn test_several_fds_arrive_in_order() {
        let (a, b) = pair().unwrap();
        let files: Vec<std::fs::File> = ["/dev/null", "/dev/zero", "/dev/full"]
            .iter()
            .map(|p| std::fs::File::open(p).unwrap())
            .collect();
        let fds: Vec<BorrowedFd<'_>> = files.iter().map(AsFd::as_fd).collect();
        a.send_fds(&Msg::Joined, &fds).unwrap();
        let (msg, got) = b.recv_fds().unwrap();
        assert!(matches!(msg, Msg::Joined));
        assert_eq!(got.len(), 3);
        for (f, g) in files.iter().zip(&got) {
            let (want, have) = (rustix::fs::fstat(f).unwrap(), rustix::fs::fstat(g).unwrap());
            assert_eq!((want.st_dev, want.st_ino), (have.st_dev, have.st_ino));
        }
        let too_many = vec![fds[0]; MAX_FDS + 1];
        assert!(a.send_fds(&Msg::Joined, &too_many).is_err());
    }
}
