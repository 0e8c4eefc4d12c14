// SPDX-License-Identifier: Apache-2.0
//! What real engines rely on, reproduced without them (docs/design/engines.md, findings):
//! a terminal leaves none of the runtime's stdio in init after `create` (containerd's shim
//! waits for end of file before `start`), Docker's long state root, uid 0 in a user
//! namespace is rootless (rootless podman), runc's error words (podman and docker pick exit
//! codes 127/126 from them; the shim recognises `container not running`), and nothing of
//! the sealing step in the state root (containerd shares it with runc).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Bundle, assert_nothing_left, cgroups_named, unique_id};
use serde_json::json;

/// Waits until `fd` reports end of file (every writer closed); false after `secs`.
fn hangs_up_within(fd: std::os::fd::BorrowedFd<'_>, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let ts = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        if rustix::event::poll(&mut fds, Some(&ts)).unwrap_or(0) > 0 {
            match rustix::io::read(fd, &mut buf) {
                Ok(0) => return true,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return false,
            }
        }
    }
    false
}

#[test]
fn test_terminal_create_keeps_no_runtime_stdio() {
    stockade_testutil::require_root!();
    let mut cfg =
        common::default_config(&["/bin/sh", "-c", "test -t 0 && test -t 1 && echo tty-ok"]);
    cfg["process"]["terminal"] = json!(true);
    let b = Bundle::new(&cfg);
    let sock = b.path().join("console.sock");
    let waiter = common::console_receiver(&sock);
    let id = unique_id("ttystdio");
    let _c = common::Cleanup(&b, id.clone());
    // as go-runc does: the runtime's stdout and stderr are pipes read to end of file
    let mut child = b
        .cmd(&[
            "create",
            "--bundle",
            ".",
            "--console-socket",
            sock.to_str().unwrap(),
            &id,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    assert!(child.wait().unwrap().success());
    let master = waiter.join().unwrap();
    assert!(
        hangs_up_within(out.as_fd(), 10),
        "init still holds the runtime's stdout after create"
    );
    assert!(
        hangs_up_within(err.as_fd(), 10),
        "init still holds the runtime's stderr"
    );
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    for n in 0..3 {
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{n}")).unwrap();
        assert!(
            !link.to_string_lossy().starts_with("pipe:"),
            "fd {n}: {link:?}"
        );
    }
    b.ok(&["start", &id]);
    let mut text = String::new();
    let mut buf = [0u8; 256];
    while !text.contains("tty-ok") {
        match rustix::io::read(&master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(text.contains("tty-ok"), "{text:?}");
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_long_root_and_id_fit_the_start_socket() {
    stockade_testutil::require_root!();
    let mut b = Bundle::with_args(&["/bin/sleep", "100"]);
    // Docker: /var/run/docker/runtime-runc/moby/<64 hex>/start.sock is 109 bytes
    b.root = b.path().join("r".repeat(100));
    let base = unique_id("longroot");
    let id = format!("{base}{}", "a".repeat(64 - base.len()));
    let sock = b.root.join(&id).join("start.sock");
    assert!(sock.as_os_str().len() > 107, "{}", sock.display());
    let _c = common::Cleanup(&b, id.clone());
    b.create(&id, &[]);
    assert_eq!(b.state(&id)["status"], "created");
    b.ok(&["start", &id]);
    assert_eq!(b.state(&id)["status"], "running");
    b.ok(&["kill", &id, "KILL"]);
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}

/// The last line of a `--log-format json` log: level and message.
fn last_json_line(path: &std::path::Path) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    (
        v["level"].as_str().unwrap().to_string(),
        v["msg"].as_str().unwrap().to_string(),
    )
}

#[test]
fn test_missing_executable_worded_as_runc() {
    stockade_testutil::require_root!();
    let cases = [
        (
            "/no/such/binary",
            r#"exec: "/no/such/binary": stat /no/such/binary: no such file or directory"#,
        ),
        (
            "no-such-prog",
            r#"exec: "no-such-prog": executable file not found in $PATH"#,
        ),
        ("/etc/passwd", r#"exec: "/etc/passwd": permission denied"#),
    ];
    let b = Bundle::with_args(&["/bin/true"]);
    std::fs::write(
        b.path().join("rootfs/etc/passwd"),
        "root:x:0:0::/:/bin/sh\n",
    )
    .unwrap();
    // init fails this before it waits for main's `Joined`: repeated, because main's send may
    // then find init gone, and must still report init's error, not "cannot send"
    let repeated = std::iter::repeat_n(&cases[0], 9).chain(cases.iter());
    for (i, (arg, want)) in repeated.enumerate() {
        let mut cfg = common::default_config(&[arg]);
        cfg["process"]["env"] = json!(["PATH=/bin:/usr/bin"]);
        b.set_config(&cfg);
        let id = unique_id(&format!("enoent{i}"));
        let _c = common::Cleanup(&b, id.clone());
        let log = b.path().join(format!("{id}.log"));
        let o = b.out(&[
            "--log-format",
            "json",
            "--log",
            log.to_str().unwrap(),
            "create",
            "--bundle",
            ".",
            &id,
        ]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want) && err.contains(&id), "{arg}: {err}");
        let (level, msg) = last_json_line(&log);
        assert_eq!(level, "error");
        assert!(msg.contains(want), "{arg}: {msg}");
        assert_nothing_left(&b, &id);
    }
}

#[test]
fn test_kill_of_stopped_container_says_not_running() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/true"]);
    let id = unique_id("killstopped");
    let _c = common::Cleanup(&b, id.clone());
    b.run_detached(&id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.state(&id)["status"] != "stopped" {
        assert!(Instant::now() < deadline, "{id} never stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = b.path().join("kill.log");
    let l = log.to_str().unwrap();
    let o = b.out(&["--log-format", "json", "--log", l, "kill", &id, "KILL"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    // containerd's shim: "container not running" → "process already finished"
    assert!(
        err.contains("container not running") && err.contains(&id),
        "{err}"
    );
    let (level, msg) = last_json_line(&log);
    assert_eq!(level, "error");
    assert!(msg.contains("container not running"), "{msg}");
    b.ok(&["delete", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_sealing_leaves_nothing_in_root_or_tmp() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let tmp = tempfile::tempdir().unwrap();
    let id = unique_id("sealroot");
    let _c = common::Cleanup(&b, id.clone());
    let st = b
        .cmd(&["create", "--bundle", ".", &id])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let names = |d: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    // `runc list` over a root shared with us must see only containers
    assert_eq!(names(&b.root), std::slice::from_ref(&id));
    assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}

const USER: &str = "stockade-rl";

fn ensure_user() -> u32 {
    let uid = || -> Option<u32> {
        let o = Command::new("id").args(["-u", USER]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    if uid().is_none() {
        // tolerate a concurrent creation by another test binary
        let _ = Command::new("useradd")
            .args(["-M", "-s", "/bin/false", USER])
            .status();
    }
    uid().expect("test user exists")
}

/// Runs `script` with `sh` as uid 0 of a new user namespace owned by [`USER`] (as rootless
/// podman runs its runtime), with `XDG_RUNTIME_DIR` set and no `--root`.
fn in_userns(b: &Bundle, xdg: &std::path::Path, script: &str) -> (bool, String) {
    let (out, err) = (b.path().join("userns.out"), b.path().join("userns.err"));
    let st = Command::new("runuser")
        .args(["-u", USER, "--", "env", "-i", "PATH=/usr/bin:/bin"])
        .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
        .arg(format!("USER={USER}"))
        .arg(format!("RT={}", common::bin().display()))
        .args([
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
        ])
        .current_dir(b.path())
        .stdin(Stdio::null())
        // a detached container inherits stdio: files, not pipes this test would wait on
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap() + &std::fs::read_to_string(&err).unwrap();
    (st.success(), text)
}

#[test]
fn test_root_of_user_namespace_is_rootless() {
    stockade_testutil::require_root!();
    let uid = ensure_user();
    // podman's rootless config: no user namespace entry, no cgroupsPath, no cgroup ns
    let mut cfg = common::default_config(&["/bin/sh", "-c", "ls /dev/null && sleep 100"]);
    let ns = cfg["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "cgroup" && n["type"] != "user");
    let b = Bundle::new(&cfg);
    std::fs::set_permissions(b.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        b.path().join("config.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let owner = Some(rustix::fs::Uid::from_raw(uid));
    rustix::fs::chown(xdg.path(), owner, None).unwrap();
    let id = unique_id("usernsroot");
    let (ok, text) = in_userns(
        &b,
        xdg.path(),
        &format!("\"$RT\" run -d --bundle . {id} && \"$RT\" state {id}"),
    );
    let cleanup = |b: &Bundle| in_userns(b, xdg.path(), &format!("\"$RT\" delete -f {id}"));
    if !ok {
        cleanup(&b);
        panic!("run as uid 0 of a user namespace failed: {text}");
    }
    // state under $XDG_RUNTIME_DIR/stockade-oci, not /run/stockade-oci
    assert!(text.contains("\"running\""), "{text}");
    assert!(
        xdg.path()
            .join("stockade-oci")
            .join(&id)
            .join("state.json")
            .is_file()
    );
    // no cgroup could be created (v1, not delegated) and none was asked for
    assert!(cgroups_named(&id).is_empty(), "{:?}", cgroups_named(&id));
    let (ok, text) = cleanup(&b);
    assert!(ok, "delete: {text}");
    assert!(!xdg.path().join("stockade-oci").join(&id).exists());
}
