// SPDX-License-Identifier: Apache-2.0
//! The guard: a small child of main, forked inside the session before the launch, that
//! makes the container die with the run even when main is killed with `-9`.
//!
//! The runtime clears the container init's parent-death signal when it starts the
//! program (right for `stockade-oci`, whose containers outlive it), so nothing in the
//! kernel would stop a `stockade exec img sleep 1d` whose launcher died; its mount
//! namespace — and with it the loop device — would live on. The guard blocks on a pipe
//! whose only writer is main. main writes the container init's pid and start time once it
//! exists ([`Guard::arm`]) and `done` after reaping it; end of file without `done` means
//! main was killed: the guard checks the pid against its start time and SIGKILLs every
//! process in that container's mount namespace.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rustix::process::{Pid, Signal, WaitOptions};
use stockade_sys::clone::{self as cl, Forked};

/// main's handle on the guard.
#[derive(Debug)]
pub struct Guard {
    alive: Option<OwnedFd>,
    pid: Pid,
}

impl Guard {
    /// Forks the guard (main must be single-threaded). The guard runs `first` (bounded work
    /// that must not fail, see [`super::prefetch`]) before it starts waiting.
    pub fn start(first: impl FnOnce()) -> Result<Guard> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).context("pipe")?;
        match cl::fork_with(0, None).context("cannot fork the guard")? {
            Forked::Child => {
                drop(w);
                let _ = stockade_sys::signal::block_all();
                let _ = stockade_sys::fd::close_all_except(&[r.as_fd()], 0);
                first();
                let said = read_to_eof(&r);
                if let Some((pid, start)) = armed(&said) {
                    kill_container(pid, start);
                }
                stockade_sys::misc::exit_now(0)
            }
            Forked::Parent(child) => Ok(Guard {
                alive: Some(w),
                pid: child.pid,
            }),
        }
    }

    /// Tells the guard which process is the container's init.
    pub fn arm(&self, pid: Pid) {
        let start = start_time(Path::new(&format!("/proc/{}", pid.as_raw_nonzero()))).unwrap_or(0);
        if let Some(w) = &self.alive {
            let _ = rustix::io::write(w, format!("{} {start}\n", pid.as_raw_nonzero()).as_bytes());
        }
    }

    /// The container is gone: the guard has nothing to do.
    pub fn disarm(&self) {
        if let Some(w) = &self.alive {
            let _ = rustix::io::write(w, b"done\n");
        }
    }
}

/// Everything written to the pipe until end of file (bounded).
fn read_to_eof(r: &OwnedFd) -> String {
    let mut all = Vec::new();
    let mut b = [0u8; 256];
    loop {
        match rustix::io::read(r, &mut b) {
            Err(rustix::io::Errno::INTR) => {}
            Ok(n) if n > 0 && all.len() < 4096 => all.extend_from_slice(&b[..n]),
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// The armed `(pid, start time)`, unless main said `done`.
fn armed(said: &str) -> Option<(i32, u64)> {
    let mut last = None;
    for line in said.lines() {
        if line == "done" {
            return None;
        }
        let mut f = line.split(' ');
        if let (Some(p), Some(t)) = (
            f.next().and_then(|p| p.parse().ok()),
            f.next().and_then(|t| t.parse().ok()),
        ) {
            last = Some((p, t));
        }
    }
    last
}

impl Drop for Guard {
    /// Tells the guard main is done (end of file on its pipe) and reaps it.
    fn drop(&mut self) {
        drop(self.alive.take());
        let _ = rustix::process::waitpid(Some(self.pid), WaitOptions::empty());
    }
}

/// Kills every process in the mount namespace of `pid`, if `pid` still started at `start`.
fn kill_container(pid: i32, start: u64) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if start_time(&proc) != Some(start) {
        return;
    }
    let Ok(ns) = std::fs::read_link(proc.join("ns/mnt")) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if std::fs::read_link(e.path().join("ns/mnt")).is_ok_and(|n| n == ns)
            && let Some(p) = Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(p, Signal::KILL);
        }
    }
}

/// Field 22 of `/proc/<pid>/stat` (after the parenthesised command name).
fn start_time(proc: &Path) -> Option<u64> {
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_armed_protocol() {
        assert_eq!(armed("12 345\n"), Some((12, 345)));
        assert_eq!(armed("12 345\ndone\n"), None);
        assert_eq!(armed(""), None);
    }

    #[test]
    fn test_start_time_of_self() {
        let t = start_time(Path::new("/proc/self")).unwrap();
        assert!(t > 0);
    }
}
