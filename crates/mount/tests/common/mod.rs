// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the privileged rootfs suites: a busybox bundle in a tempdir, the
//! `rootfs_harness` example run as PID 1 of fresh namespaces (`unshare`), and a check that
//! nothing it mounted is visible in the host's mount table afterwards.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// A bundle: `config.json` + `rootfs/` (busybox) in a tempdir, removed on drop.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: Value,
}

/// The output of one harness run.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Bundle {
    /// A runc-like default config running `script` under `/bin/sh -c`.
    pub fn new(script: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stockade-mount-test")
            .tempdir()
            .expect("tempdir");
        make_rootfs(&dir.path().join("rootfs"));
        let config = json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["/bin/sh", "-c", script], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs", "readonly": false},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                 "options": ["nosuid", "noexec", "nodev"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
            ],
            "linux": {
                "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                    "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
                "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
            }
        });
        Self { dir, config }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Appends a mount entry.
    pub fn add_mount(&mut self, m: Value) {
        self.config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(m);
    }

    /// Removes the mount at `dest`.
    pub fn remove_mount(&mut self, dest: &str) {
        self.config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .retain(|m| m["destination"] != dest);
    }

    /// Runs the harness as PID 1 of new mount/pid/uts/ipc/net/cgroup namespaces.
    pub fn run(&self, harness_args: &[&str]) -> Run {
        self.run_in(&["--uts", "--ipc", "--net", "--cgroup"], harness_args)
    }

    /// Runs the harness with explicit extra `unshare` namespace flags.
    pub fn run_in(&self, unshare_args: &[&str], harness_args: &[&str]) -> Run {
        self.run_prepared(None, unshare_args, harness_args)
    }

    /// Runs `outer` (a shell snippet, e.g. a mount) in a private mount namespace first, then
    /// the harness inside it: host state such a snippet makes dies with that namespace.
    pub fn run_prepared(
        &self,
        outer: Option<&str>,
        unshare_args: &[&str],
        harness_args: &[&str],
    ) -> Run {
        std::fs::write(self.path().join("config.json"), self.config.to_string()).expect("config");
        let mut inner: Vec<String> = [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--propagation",
            "unchanged",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        inner.extend(unshare_args.iter().map(|s| (*s).to_owned()));
        inner.push("--".into());
        inner.push(harness().to_string_lossy().into_owned());
        inner.push("--bundle".into());
        inner.push(self.path().to_string_lossy().into_owned());
        inner.extend(harness_args.iter().map(|s| (*s).to_owned()));
        let out = match outer {
            None => Command::new(&inner[0]).args(&inner[1..]).output(),
            Some(script) => Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(format!("{script} && exec \"$@\""))
                .arg("sh")
                .args(&inner)
                .output(),
        }
        .expect("run unshare");
        let run = Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_no_host_leak(self.path());
        run
    }
}

impl Run {
    /// Panics with both outputs unless the run succeeded.
    pub fn expect_ok(self) -> Self {
        assert!(
            self.ok,
            "harness failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the run failed with `needle` in its error line.
    pub fn expect_err(self, needle: &str) -> Self {
        assert!(
            !self.ok,
            "harness succeeded but should fail with {needle:?}:\n{}",
            self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "want {needle:?} in:\n{}",
            self.stderr
        );
        assert_eq!(
            self.stderr.trim().lines().count(),
            1,
            "one-line error:\n{}",
            self.stderr
        );
        self
    }

    /// The value printed by the script as `KEY=value`.
    pub fn val(&self, key: &str) -> String {
        let prefix = format!("{key}=");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key}= in output:\n{}\n{}", self.stdout, self.stderr))
            .trim()
            .to_owned()
    }
}

/// busybox_rootfs copies then runs busybox; another test thread forking at that moment holds
/// the copy's write fd until it execs (ETXTBSY): retry.
fn make_rootfs(root: &Path) {
    for _ in 0..50 {
        match stockade_testutil::busybox_rootfs(root) {
            Ok(()) => return,
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("busybox rootfs: {e}"),
        }
    }
    panic!("busybox rootfs: text file busy");
}

/// The example binary next to the running test (`cargo test` builds examples).
pub fn harness() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let h = dir.join("examples/rootfs_harness");
    assert!(
        h.is_file(),
        "{} not built: run `cargo test -p stockade-mount`",
        h.display()
    );
    h
}

/// No mount of the host's table mentions `path`.
pub fn assert_no_host_leak(path: &Path) {
    let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let p = path.to_string_lossy();
    let leaked: Vec<&str> = table.lines().filter(|l| l.contains(p.as_ref())).collect();
    assert!(leaked.is_empty(), "mounts leaked to the host: {leaked:#?}");
}

/// A directory's entries (names), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
