// SPDX-License-Identifier: Apache-2.0
//! Waiting for processes: reaping our children, exit codes, waiting on a pidfd for a
//! process that is not our child, and cgroup removal once the processes are gone.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, WaitOptions, WaitStatus};
use stockade_cgroups::Manager;

/// Reaps a child, ignoring errors (already reaped, not ours).
pub fn reap(pid: Pid) {
    let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
}

/// Reaps a child that has exited (or is exiting) and describes how it ended.
pub fn reap_status(pid: Pid) -> Option<String> {
    let (_, st) = rustix::process::waitpid(Some(pid), WaitOptions::empty()).ok()??;
    Some(describe(st))
}

/// "exited with status N" / "killed by signal N".
pub fn describe(st: WaitStatus) -> String {
    match (st.exit_status(), st.terminating_signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => "ended".into(),
    }
}

/// The shell convention: the exit status, or 128 + the signal.
pub fn exit_code(st: WaitStatus) -> i32 {
    match (st.exit_status(), st.terminating_signal()) {
        (Some(c), _) => c,
        (_, Some(s)) => 128 + s,
        _ => 255,
    }
}

/// Waits until the process of `pidfd` exits; false on timeout.
pub fn pidfd_exited(pidfd: impl AsFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(ts) = rustix::event::Timespec::try_from(left) else {
            return false;
        };
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Removes the container's cgroup, retrying while its last processes finish exiting
/// (up to 2 s).
pub fn destroy_cgroup(m: &Manager) -> Result<(), stockade_cgroups::CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut pause = Duration::from_micros(200);
    loop {
        match m.destroy() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
}
