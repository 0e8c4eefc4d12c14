// SPDX-License-Identifier: Apache-2.0
//! The console master: sized from `consoleSize`, then handed to the engine's console
//! socket (`SCM_RIGHTS`, as runc), or kept for the foreground proxy of `run`.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use oci_spec::runtime::Process;

use crate::channel::send_with_fd;
use crate::error::{self, Result};

/// Sizes the master and sends it to `socket`; returns it when there is no socket.
pub fn hand_over(
    id: &str,
    master: Option<OwnedFd>,
    socket: Option<&Path>,
    process: &Process,
) -> Result<Option<OwnedFd>> {
    let Some(master) = master else {
        return Ok(None);
    };
    if let Some(size) = process.console_size() {
        let ws = rustix::termios::Winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, ws)
            .map_err(|e| error::io(id, "console size")(e.into()))?;
    }
    let Some(path) = socket else {
        return Ok(Some(master));
    };
    let what = format!("console socket {}", path.display());
    let sock = connect(path).map_err(error::io(id, what.clone()))?;
    send_with_fd(sock.as_fd(), b"/dev/ptmx", Some(master.as_fd())).map_err(error::io(id, what))?;
    Ok(None)
}

/// Connects to the socket at `path`, through its directory's descriptor when the path is
/// longer than a unix socket address holds (107 bytes).
fn connect(path: &Path) -> std::io::Result<UnixStream> {
    const SUN_PATH_MAX: usize = 107;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixStream::connect(path);
    };
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return UnixStream::connect(path);
    }
    let dir = rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let short = Path::new("/proc/self/fd")
        .join(std::os::fd::AsRawFd::as_raw_fd(&dir).to_string())
        .join(name);
    UnixStream::connect(short)
}
