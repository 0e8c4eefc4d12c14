// SPDX-License-Identifier: Apache-2.0
//! The forked FUSE server of a plain user run holds only what it needs: its stdio on
//! `/dev/null` (not the launcher's pipe), the image, its socket and `/dev/fuse` — none of
//! main's other descriptors — and every signal blocked (a ^C meant for the container does
//! not kill the image's server); it goes with the run.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::process::Stdio;

use run_support::*;

/// `/proc/PID/fd/*` link targets.
fn fd_targets(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect()
}

/// A field of `/proc/PID/status`.
fn status_field(pid: i32, name: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap()
        .trim()
        .to_string()
}

/// Children of `pid` (its single thread's `children` list).
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Kills the launcher (its guard then kills the container) if an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn forked_fuse_server_holds_only_its_descriptors_and_blocks_signals() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let (_, _, home) = test_user();
    // the test user can write /tmp, not the root-owned temporary directory
    let mark = std::path::PathBuf::from(format!("/tmp/sk-run-fuse-server-{}", std::process::id()));
    let _ = std::fs::remove_file(&mark);
    let script = format!("touch {}; exec sleep 303", mark.display());
    let child = user_command(&home, &["exec", sif.to_str().unwrap(), "sh", "-c", &script])
        .stdout(Stdio::piped()) // the server must not hold this pipe
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let launcher = i32::try_from(child.0.id()).unwrap(); // setpriv execs the launcher
    assert!(eventually(|| mark.exists()), "the container did not start");
    let server = children(launcher)
        .into_iter()
        .find(|&p| fd_targets(p).iter().any(|t| t == "/dev/fuse"))
        .expect("no FUSE server among the launcher's children");

    let fds = fd_targets(server);
    let image = sif.display().to_string();
    for t in &fds {
        assert!(
            t == "/dev/null" || t == "/dev/fuse" || *t == image || t.starts_with("socket:"),
            "the FUSE server holds {t} (all: {fds:?})"
        );
    }
    assert_eq!(fds.iter().filter(|t| t.starts_with("socket:")).count(), 1);
    assert_eq!(fds.iter().filter(|t| **t == image).count(), 1, "{fds:?}");
    assert!(!fds.iter().any(|t| t.starts_with("pipe:")), "{fds:?}");
    let blocked = u64::from_str_radix(&status_field(server, "SigBlk"), 16).unwrap();
    for sig in [2, 15, 1, 13] {
        // SIGINT, SIGTERM, SIGHUP, SIGPIPE
        assert!(blocked & (1 << (sig - 1)) != 0, "signal {sig} not blocked");
    }
    assert!(status_field(server, "Threads").parse::<u32>().unwrap() > 1);
    // a ^C-like signal to the server changes nothing: the run still works
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(server).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let state = status_field(server, "State");
    assert!(
        !state.starts_with('Z'),
        "the server died of SIGINT: {state}"
    );

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let _ = std::fs::remove_file(&mark);
    assert_nothing_left(&sif);
}
