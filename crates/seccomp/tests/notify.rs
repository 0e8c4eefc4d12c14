// SPDX-License-Identifier: Apache-2.0
//! SCMP_ACT_NOTIFY end to end: the helper loads a notify filter, sends the listener to our
//! "agent" socket with the OCI container process state, then blocks in the notified syscall
//! until the agent answers with an error.
// Integration tests are their own test crates: the lib-oriented lints do not apply.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags, ScmpSyscall};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

use common::{helper, profile_args, results};

/// Kills the helper if the test fails half-way.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn accept_with_deadline(listener: &UnixListener, child: &mut Child) -> UnixStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("helper exited before connecting: {status:?}");
                }
                assert!(Instant::now() < deadline, "helper never connected");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Reads the whole message and the fds passed with it.
fn receive(stream: &UnixStream) -> (Vec<u8>, Vec<OwnedFd>) {
    let (mut bytes, mut fds) = (Vec::new(), Vec::new());
    loop {
        let mut buf = [0u8; 4096];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let msg = rustix::net::recvmsg(
            stream,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .unwrap();
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(rights) = m {
                fds.extend(rights);
            }
        }
        if msg.bytes == 0 {
            return (bytes, fds);
        }
        bytes.extend_from_slice(&buf[..msg.bytes]);
    }
}

#[test]
fn agent_receives_listener_and_answers_a_notification() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let profile = format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{}","listenerMetadata":"tenant-7",
            "syscalls":[{{"names":["mkdirat"],"action":"SCMP_ACT_NOTIFY"}}]}}"#,
        socket.display()
    );
    let mut args = profile_args(dir.path(), &profile);
    args.extend(["--nnp", "probe:getppid", "probe:mkdirat", "status"].map(String::from));
    let mut child = KillOnDrop(helper().args(&args).stdout(Stdio::piped()).spawn().unwrap());
    let pid = child.0.id();

    let stream = accept_with_deadline(&listener, &mut child.0);
    let (bytes, fds) = receive(&stream);
    assert_eq!(fds.len(), 1, "exactly the listener fd");
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["fds"], serde_json::json!(["seccompFd"]));
    assert_eq!(doc["metadata"], "tenant-7");
    assert_eq!(doc["pid"], pid);
    assert_eq!(doc["ociVersion"], "1.2.0");
    assert_eq!(doc["state"]["id"], "helper");
    assert_eq!(doc["state"]["status"], "creating");

    let fd = fds[0].as_raw_fd();
    let req = ScmpNotifReq::receive(fd).unwrap();
    assert_eq!(req.data.syscall, ScmpSyscall::from_name("mkdirat").unwrap());
    assert_eq!(req.pid, pid);
    ScmpNotifResp::new_error(req.id, -libc::EROFS, ScmpNotifRespFlags::empty())
        .respond(fd)
        .unwrap();

    let out = std::mem::replace(&mut child.0, helper().arg("--none").spawn().unwrap());
    let out = out.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let r = results(&out);
    assert_eq!(r["getppid"], 0, "not notified");
    assert_eq!(r["mkdirat"], libc::EROFS, "the agent's answer");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Seccomp: 2"));
}
