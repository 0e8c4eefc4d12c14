// SPDX-License-Identifier: Apache-2.0
//! 200 create/start/kill/delete cycles leave no mounts, cgroups, state directories,
//! descriptors (in init before start: only runtime-internal ones; in the container: only
//! stdio) or processes behind.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use common::{Bundle, cgroups_named, mounts_with, unique_id};

const CYCLES: usize = 200;

#[test]
fn test_200_cycles_leave_nothing() {
    stockade_testutil::require_root!();
    let mut cfg = common::default_config(&["/bin/sleep", "100"]);
    cfg["linux"].as_object_mut().unwrap().remove("seccomp"); // speed: not under test here
    let b = Bundle::new(&cfg);
    let prefix = unique_id("leak");
    for i in 0..CYCLES {
        let id = format!("{prefix}-{i}");
        let _c = common::Cleanup(&b, id.clone());
        b.create(&id, &[]);
        let pid = b.state(&id)["pid"].as_i64().unwrap();
        // before start only runtime-internal fds: stdio, the channel, the start socket
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count();
        assert!(fds <= 5, "init holds {fds} fds before start");
        b.ok(&["start", &id]);
        // start returns once init is released; wait for its execve
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .starts_with(b"/bin/sleep")
        {
            assert!(std::time::Instant::now() < deadline, "{id} never exec'd");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(fds.len() <= 3, "container process has fds {fds:?}");
        b.ok(&["kill", &id, "KILL"]);
        b.ok(&["delete", "--force", &id]);
        assert!(!b.root.join(&id).exists());
        assert!(cgroups_named(&id).is_empty(), "{:?}", cgroups_named(&id));
    }
    // (the host's total mount count is not compared: other work on the machine mounts too)
    assert!(
        mounts_with(&prefix).is_empty(),
        "{:?}",
        mounts_with(&prefix)
    );
    assert!(mounts_with(&b.path().display().to_string()).is_empty());
    // the runtime runs in its own processes: nothing of it may reach this one
    let ours: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(&*b.path().to_string_lossy()) || p.starts_with("/sys/fs/cgroup"))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
    let left: Vec<_> = std::fs::read_dir(&b.root)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "state dirs left: {left:?}");
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &prefix])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}
