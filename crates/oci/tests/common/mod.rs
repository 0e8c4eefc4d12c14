// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the stockade-oci integration tests: busybox bundles, a private state
//! root per test, unique container ids, and leftover checks (state dirs, cgroups, mounts).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers; each test binary uses a subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique container id (also the default cgroup name, so unique across test binaries).
pub fn unique_id(tag: &str) -> String {
    format!(
        "skt-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The binary under test.
pub fn bin() -> PathBuf {
    stockade_testutil::target_bin("stockade-oci")
}

/// A bundle in a temporary directory: busybox rootfs and a config.
#[derive(Debug)]
pub struct Bundle {
    /// The temporary directory (bundle dir).
    pub dir: tempfile::TempDir,
    /// State root for this test.
    pub root: PathBuf,
}

/// The default config of `stockade-oci spec`, made non-interactive, with `args`.
pub fn default_config(args: &[&str]) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new(bin())
        .arg("spec")
        .arg("--bundle")
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(st.success());
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("config.json")).unwrap()).unwrap();
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(args);
    c
}

impl Bundle {
    /// A bundle whose config is `config` (rootfs at `<dir>/rootfs`).
    pub fn new(config: &Value) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        stockade_testutil::busybox_rootfs(&dir.path().join("rootfs")).unwrap();
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let root = dir.path().join("state");
        Bundle { dir, root }
    }

    /// A bundle running `args` with the default config.
    pub fn with_args(args: &[&str]) -> Bundle {
        Bundle::new(&default_config(args))
    }

    /// The bundle path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rewrites config.json.
    pub fn set_config(&self, config: &Value) {
        std::fs::write(self.path().join("config.json"), config.to_string()).unwrap();
    }

    /// A command of the runtime with `--root` set and the bundle as working directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.path());
        c.stdin(Stdio::null());
        c
    }

    /// Runs the runtime and returns its output.
    pub fn out(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `create`: init keeps stdio open, so (as with `run -d`) it must not be a pipe.
    pub fn create(&self, id: &str, extra: &[&str]) {
        let err = self.path().join(format!("{id}.create.stderr"));
        let mut args = vec!["create", "--bundle", "."];
        args.extend_from_slice(extra);
        args.push(id);
        self.ok_without_pipes(&args, &err);
    }

    /// `run -d`: the container inherits stdio, so it must not be a pipe this test waits on
    /// (like a shim, the caller gives it something else); stderr goes to a file.
    pub fn run_detached(&self, id: &str) {
        let err = self.path().join(format!("{id}.stderr"));
        self.ok_without_pipes(&["run", "-d", id], &err);
    }

    /// Runs `args` with stdout on /dev/null and stderr in the file `err` (a container keeps
    /// both open, so neither may be a pipe this test waits on); asserts success.
    fn ok_without_pipes(&self, args: &[&str], err: &std::path::Path) {
        let st = self
            .cmd(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(err).unwrap())
            .status()
            .unwrap();
        assert!(
            st.success(),
            "{args:?}: {}",
            std::fs::read_to_string(err).unwrap()
        );
    }

    /// `run -d` expected to fail; returns its stderr.
    pub fn run_detached_err(&self, id: &str) -> String {
        let err = self.path().join(format!("{id}.stderr2"));
        let st = self
            .cmd(&["run", "-d", id])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        assert!(!st.success());
        std::fs::read_to_string(&err).unwrap()
    }

    /// `state` as JSON.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }
}

/// Deletes the container when dropped (tests clean up even when they fail).
#[derive(Debug)]
pub struct Cleanup<'a>(pub &'a Bundle, pub String);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.out(&["delete", "--force", &self.1]);
    }
}

/// Listens on `sock` (a `--console-socket`) and, in a thread, receives the pty master a
/// runtime sends there.
pub fn console_receiver(sock: &Path) -> std::thread::JoinHandle<std::os::fd::OwnedFd> {
    use std::os::fd::AsFd;
    let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let (_, fd) = stockade_runtime::channel::recv_with_fd(conn.as_fd(), &mut buf).unwrap();
        fd.expect("master fd attached")
    })
}

/// Mount entries mentioning `needle` (in the host's mount table).
pub fn mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// cgroup directories named `name` in any hierarchy.
pub fn cgroups_named(name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let p = h.path().join(name);
        if p.exists() {
            out.push(p);
        }
    }
    if Path::new("/sys/fs/cgroup").join(name).exists() {
        out.push(Path::new("/sys/fs/cgroup").join(name));
    }
    out
}

/// Asserts nothing of container `id` is left: state dir, cgroups, mounts.
pub fn assert_nothing_left(b: &Bundle, id: &str) {
    assert!(!b.root.join(id).exists(), "state dir of {id} left");
    assert!(
        cgroups_named(id).is_empty(),
        "cgroups of {id} left: {:?}",
        cgroups_named(id)
    );
    let m = mounts_with(&b.path().display().to_string());
    assert!(m.is_empty(), "mounts left: {m:?}");
}

/// Number of open fds of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
