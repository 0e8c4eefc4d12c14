// SPDX-License-Identifier: Apache-2.0
//! Lifecycle of real containers as root: create/start/state/kill/delete, run exit codes
//! and signal forwarding, exec, pause/resume, live update.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Bundle, Cleanup, assert_nothing_left, unique_id};

fn wait_status(b: &Bundle, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = b.out(&["state", id]);
        let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        if st["status"] == want {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never became {want}: {st}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn test_create_start_state_kill_delete() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let id = unique_id("life");
    let _c = Cleanup(&b, id.clone());
    let pidfile = b.path().join("init.pid");
    b.create(&id, &["--pid-file", pidfile.to_str().unwrap()]);
    let st = b.state(&id);
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    assert!(b.root.join(&id).join("start.sock").exists());
    // init waits for start: its command is still ours, not sleep
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&cmdline).contains("sleep"));
    assert!(!b.out(&["create", "--bundle", ".", &id]).status.success());
    b.ok(&["start", &id]);
    assert_eq!(b.state(&id)["status"], "running");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).starts_with("/bin/sleep"));
    let o = b.out(&["delete", &id]);
    assert!(
        !o.status.success(),
        "delete of a running container must need --force"
    );
    b.ok(&["kill", &id, "KILL"]);
    wait_status(&b, &id, "stopped");
    assert!(!b.out(&["kill", &id, "TERM"]).status.success());
    b.ok(&["delete", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_run_returns_exit_code_and_hostname() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sh", "-c", "hostname; exit 42"]);
    let id = unique_id("exit");
    let _c = common::Cleanup(&b, id.clone());
    let o = b.out(&["run", &id]);
    assert_eq!(
        o.status.code(),
        Some(42),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "stockade");
    assert_nothing_left(&b, &id);
}

#[test]
fn test_run_forwards_signals() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&[
        "/bin/sh",
        "-c",
        "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    let id = unique_id("sig");
    let _c = common::Cleanup(&b, id.clone());
    let mut child = b
        .cmd(&["run", &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(7));
    assert_nothing_left(&b, &id);
}

#[test]
fn test_killed_container_exit_code_is_128_plus_signal() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let id = unique_id("kill9");
    let _c = common::Cleanup(&b, id.clone());
    let mut child = b.cmd(&["run", &id]).spawn().unwrap();
    wait_status(&b, &id, "running");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(137));
    assert_nothing_left(&b, &id);
}

#[test]
fn test_exec_into_running_container() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let id = unique_id("exec");
    let _c = Cleanup(&b, id.clone());
    b.run_detached(&id);
    let o = b.out(&[
        "exec",
        &id,
        "/bin/sh",
        "-c",
        "echo $$; hostname; ls /proc/self/fd | wc -l; exit 3",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "exec'd process must not be init");
    assert_eq!(lines[1], "stockade");
    // 0, 1, 2 and ls's own directory fd
    assert_eq!(lines[2], "4", "fds leaked into exec'd process: {out}");
    let o = b.out(&["exec", "--user", "65534:65534", &id, "/bin/id", "-u"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "65534");
    let pids: Vec<i32> = serde_json::from_str(&b.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids.len(), 1);
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_pause_resume() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let id = unique_id("pause");
    let _c = Cleanup(&b, id.clone());
    b.run_detached(&id);
    b.ok(&["pause", &id]);
    assert_eq!(b.state(&id)["status"], "paused");
    assert!(!b.out(&["pause", &id]).status.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(state == "D" || state == "S", "frozen task state {state}");
    b.ok(&["resume", &id]);
    assert_eq!(b.state(&id)["status"], "running");
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_update_pids_limit_live() {
    stockade_testutil::require_root!();
    let mut cfg = common::default_config(&["/bin/sleep", "100"]);
    cfg["linux"]["resources"]["pids"] = serde_json::json!({"limit": 100});
    let b = Bundle::new(&cfg);
    let id = unique_id("upd");
    let _c = Cleanup(&b, id.clone());
    b.run_detached(&id);
    let max = std::path::Path::new("/sys/fs/cgroup/pids")
        .join(&id)
        .join("pids.max");
    assert_eq!(std::fs::read_to_string(&max).unwrap().trim(), "100");
    b.ok(&["update", "--pids-limit", "3", &id]);
    assert_eq!(std::fs::read_to_string(&max).unwrap().trim(), "3");
    // the limit now holds inside: init + sh + 2 more processes cannot all exist
    let o = b.out(&[
        "exec",
        &id,
        "/bin/sh",
        "-c",
        "sleep 5 & sleep 5 & sleep 5 & wait",
    ]);
    assert!(
        !o.status.success() || String::from_utf8_lossy(&o.stderr).contains("fork"),
        "pids limit not enforced"
    );
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_list_and_delete_force_unknown() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let id = unique_id("list");
    let _c = Cleanup(&b, id.clone());
    b.run_detached(&id);
    assert_eq!(b.ok(&["list", "-q"]).trim(), id);
    let all: serde_json::Value =
        serde_json::from_str(&b.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(all[0]["status"], "running");
    b.ok(&["delete", "-f", &id]);
    b.ok(&["delete", "-f", "never-existed"]);
    assert!(b.ok(&["list", "-q"]).trim().is_empty());
}

#[test]
fn test_preserve_fds_passes_exactly_those() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&[
        "/bin/sh",
        "-c",
        "echo through-fd3 >&3; ls /proc/self/fd | wc -l",
    ]);
    let id = unique_id("pfd");
    let _c = common::Cleanup(&b, id.clone());
    let out = b.path().join("fd3.txt");
    // fd 3 is passed with --preserve-fds 1, fd 4 (also inherited) must not be
    let script = format!(
        "exec 3>{} 4</dev/null; exec {} --root {} run --preserve-fds 1 {id}",
        out.display(),
        common::bin().display(),
        b.root.display()
    );
    let o = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(b.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "through-fd3\n");
    // 0, 1, 2, 3 and ls's directory fd
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "5");
    assert_nothing_left(&b, &id);
}

#[test]
fn test_exec_process_file_and_events_stats() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let id = unique_id("procfile");
    let _c = Cleanup(&b, id.clone());
    b.run_detached(&id);
    let process = serde_json::json!({
        "args": ["/bin/sh", "-c", "echo $FOO; pwd; exit 4"],
        "env": ["FOO=bar", "PATH=/bin"],
        "cwd": "/tmp",
        "user": {"uid": 0, "gid": 0}
    });
    let pf = b.path().join("process.json");
    std::fs::write(&pf, process.to_string()).unwrap();
    let o = b.out(&["exec", "--process", pf.to_str().unwrap(), &id]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "bar\n/tmp\n");
    let ev: serde_json::Value = serde_json::from_str(&b.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    assert!(ev["data"].is_object(), "{ev}");
    b.ok(&["kill", &id, "9"]);
    wait_status(&b, &id, "stopped");
    b.ok(&["delete", &id]);
    assert_nothing_left(&b, &id);
}
