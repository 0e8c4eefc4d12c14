// SPDX-License-Identifier: Apache-2.0
//! Handing a user-notification listener to the seccomp agent at `listenerPath`.
//!
//! OCI runtime spec (config-linux.md, "The Container Process State"): the runtime connects to
//! the unix socket at `listenerPath` and sends one JSON document — `ociVersion`, `fds`
//! (`["seccompFd"]`), `pid`, `metadata` (the profile's `listenerMetadata`), `state` (the OCI
//! state) — with the listener fd attached as `SCM_RIGHTS`, then closes the connection.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use oci_spec::runtime::{ContainerProcessState, SECCOMP_FD_NAME, State};
use rustix::net::{
    AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};

use crate::SeccompError;

/// Largest OCI state accepted by [`send_listener`].
pub const MAX_STATE_BYTES: usize = 1 << 20;

/// Sends the container process state and the listener `fd` to the agent at `path`.
///
/// `state_json` is the container's OCI state (`ociVersion`, `id`, `status`, `pid`, `bundle`,
/// `annotations`); its `pid` also fills the top-level `pid`. `metadata` is the profile's
/// `listenerMetadata` (omitted when empty). Runs in the runtime's main process, after the
/// init loaded the filter and passed the fd up. Blocks until the agent accepted the message
/// (the kernel's socket buffer takes it whole in practice: a few hundred bytes).
pub fn send_listener(
    path: &Path,
    fd: BorrowedFd<'_>,
    state_json: &[u8],
    metadata: &str,
) -> Result<(), SeccompError> {
    let message = process_state(state_json, metadata)?;
    let send_err = |source: io::Error| SeccompError::SendListener {
        path: path.to_owned(),
        source,
    };
    let socket = connect(path)?;
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(send_err(io::Error::other("control buffer too small")));
    }
    let mut sent = rustix::net::sendmsg(
        &socket,
        &[IoSlice::new(&message)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(|e| send_err(e.into()))?;
    while sent < message.len() {
        let n = rustix::net::send(&socket, &message[sent..], SendFlags::NOSIGNAL)
            .map_err(|e| send_err(e.into()))?;
        if n == 0 {
            return Err(send_err(io::ErrorKind::WriteZero.into()));
        }
        sent += n;
    }
    Ok(())
}

fn connect(path: &Path) -> Result<impl AsFd, SeccompError> {
    let err = |source: io::Error| SeccompError::ConnectAgent {
        path: path.to_owned(),
        source,
    };
    let socket = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| err(e.into()))?;
    let addr = SocketAddrUnix::new(path).map_err(|e| err(e.into()))?;
    rustix::net::connect(&socket, &addr).map_err(|e| err(e.into()))?;
    Ok(socket)
}

/// Builds the "container process state" document sent to the agent.
pub(crate) fn process_state(state_json: &[u8], metadata: &str) -> Result<Vec<u8>, SeccompError> {
    if state_json.len() > MAX_STATE_BYTES {
        let msg = format!(
            "state is {} bytes, the limit is {MAX_STATE_BYTES}",
            state_json.len()
        );
        return Err(SeccompError::State(serde::de::Error::custom(msg)));
    }
    let state: State = serde_json::from_slice(state_json).map_err(SeccompError::State)?;
    let mut doc = ContainerProcessState::default();
    doc.set_version(state.version().clone());
    doc.set_fds(vec![SECCOMP_FD_NAME.to_owned()]);
    doc.set_pid(state.pid().unwrap_or(0));
    doc.set_metadata((!metadata.is_empty()).then(|| metadata.to_owned()));
    doc.set_state(state);
    serde_json::to_vec(&doc).map_err(SeccompError::State)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_state_wraps_the_oci_state() {
        let state =
            br#"{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#;
        let doc: serde_json::Value =
            serde_json::from_slice(&process_state(state, "meta").unwrap()).unwrap();
        assert_eq!(doc["ociVersion"], "1.2.0");
        assert_eq!(doc["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(doc["pid"], 42);
        assert_eq!(doc["metadata"], "meta");
        assert_eq!(doc["state"]["id"], "c1");
        assert_eq!(doc["state"]["bundle"], "/b");
        let doc: serde_json::Value =
            serde_json::from_slice(&process_state(state, "").unwrap()).unwrap();
        assert!(doc.get("metadata").is_none());
    }

    #[test]
    fn bad_state_is_refused() {
        let err = process_state(b"[1,2]", "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid container state for the seccomp agent"
        );
        assert!(process_state(&vec![b' '; MAX_STATE_BYTES + 1], "").is_err());
    }
}
