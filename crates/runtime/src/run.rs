// SPDX-License-Identifier: Apache-2.0
//! `run`: create and start in one call. Detached, it returns once the program runs. In the
//! foreground it forwards signals to init (blocked before the clone and read from a
//! signalfd, so none is lost), proxies the terminal when it allocated one, waits for init
//! (its pidfd), then deletes the container and returns init's exit code.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::process::WaitOptions;
use rustix::termios::{OptionalActions, Termios};

use crate::create::{CreateOptions, Launched, Mode};
use crate::error::{self, Result};
use crate::hooks::{self, HookKind};
use crate::oci_state::{self, Status};
use crate::{Runtime, wait};

impl Runtime {
    /// `run [-d]`: returns the container's exit code (0 when detached).
    pub fn run(&self, o: &CreateOptions<'_>, detach: bool) -> Result<i32> {
        if detach {
            let l = self.launch(o, Mode::Detached)?;
            poststart(&l);
            return Ok(0);
        }
        let sigfd = stockade_sys::signal::block_into_signalfd(stockade_sys::signal::FORWARDED)
            .map_err(error::io(o.id, "signalfd"))?;
        let l = self.launch(o, Mode::Foreground)?;
        poststart(&l);
        let code = forward_until_exit(&l, sigfd.as_fd());
        self.finish(l);
        code
    }

    /// After init exited: kill leftovers, remove the cgroup, poststop hooks, state dir.
    fn finish(&self, l: Launched) {
        if !l.record.own_pid_ns && l.cgroup.is_enabled() {
            let _ = l.cgroup.kill_all(libc::SIGKILL);
        }
        if let Err(e) = wait::destroy_cgroup(&l.cgroup) {
            tracing::warn!("container {}: {e}", l.record.id);
        }
        let poststop = hooks::list(&l.spec, HookKind::Poststop);
        if !poststop.is_empty() {
            let state = oci_state::hook_state(&l.record, Status::Stopped.oci());
            hooks::run_all_warn(HookKind::Poststop, poststop, &state);
        }
        if let Err(e) = l.dir.remove() {
            tracing::warn!("{e}");
        }
    }
}

fn poststart(l: &Launched) {
    let list = hooks::list(&l.spec, HookKind::Poststart);
    if !list.is_empty() {
        let state = oci_state::hook_state(&l.record, Status::Running.oci());
        hooks::run_all_warn(HookKind::Poststart, list, &state);
    }
}

/// Restores the host terminal on drop.
struct RawTty(Option<Termios>);

impl RawTty {
    fn enter(on: bool) -> RawTty {
        let stdin = rustix::stdio::stdin();
        if !on || !rustix::termios::isatty(stdin) {
            return RawTty(None);
        }
        let Ok(saved) = rustix::termios::tcgetattr(stdin) else {
            return RawTty(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(stdin, OptionalActions::Now, &raw);
        RawTty(Some(saved))
    }
}

impl Drop for RawTty {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = rustix::termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, t);
        }
    }
}

fn forward_until_exit(l: &Launched, sigfd: BorrowedFd<'_>) -> Result<i32> {
    let id = l.record.id.as_str();
    proxy_until_exit(id, &l.pidfd, l.console.as_ref(), sigfd)?;
    let st = rustix::process::waitpid(Some(l.pid), WaitOptions::empty())
        .map_err(|e| error::io(id, "wait")(e.into()))?;
    Ok(st.map(|(_, s)| wait::exit_code(s)).unwrap_or(255))
}

/// Forwards signals to the process of `pidfd` and proxies the terminal `master` (if any)
/// until that process exits (it is then ready to be reaped).
pub fn proxy_until_exit(
    id: &str,
    pidfd: &OwnedFd,
    master: Option<&OwnedFd>,
    sigfd: BorrowedFd<'_>,
) -> Result<()> {
    let _raw = RawTty::enter(master.is_some());
    if let Some(m) = master {
        copy_winsize(m);
        // drained after exit without blocking on a slave some orphan still holds
        let _ = rustix::fs::fcntl_setfl(m, rustix::fs::OFlags::NONBLOCK);
    }
    let mut stdin_open = master.is_some();
    let stdin = rustix::stdio::stdin();
    loop {
        let mut fds = vec![
            PollFd::new(&sigfd, PollFlags::IN),
            PollFd::new(pidfd, PollFlags::IN),
        ];
        if let Some(m) = master {
            fds.push(PollFd::new(m, PollFlags::IN));
            if stdin_open {
                fds.push(PollFd::new(&stdin, PollFlags::IN));
            }
        }
        match rustix::event::poll(&mut fds, None) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(error::io(id, "poll")(e.into())),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        if ready[0] {
            forward_signals(pidfd, master, sigfd);
        }
        if let Some(m) = master {
            if ready[2] {
                copy(m.as_fd(), rustix::stdio::stdout());
            }
            if stdin_open && ready.get(3) == Some(&true) {
                stdin_open = copy(rustix::stdio::stdin(), m.as_fd());
            }
        }
        if ready[1] {
            if let Some(m) = master {
                while copy(m.as_fd(), rustix::stdio::stdout()) {}
            }
            return Ok(());
        }
    }
}

fn forward_signals(pidfd: &OwnedFd, master: Option<&OwnedFd>, sigfd: BorrowedFd<'_>) {
    while let Ok(Some(sig)) = stockade_sys::signal::read_signal(sigfd) {
        match sig {
            libc::SIGCHLD => {}
            libc::SIGWINCH => {
                if let Some(m) = master {
                    copy_winsize(m);
                }
            }
            s => {
                let _ = stockade_sys::signal::pidfd_send(pidfd, s);
            }
        }
    }
}

fn copy_winsize(master: &OwnedFd) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(rustix::stdio::stdin()) {
        let _ = rustix::termios::tcsetwinsize(master, ws);
    }
}

/// Copies one chunk; false on end of file or error.
fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    let n = match rustix::io::read(from, &mut buf) {
        Ok(0) | Err(_) => return false,
        Ok(n) => n,
    };
    let mut off = 0;
    while off < n {
        match rustix::io::write(to, &buf[off..n]) {
            Ok(w) => off += w,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return false,
        }
    }
    true
}
