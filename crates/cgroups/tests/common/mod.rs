// SPDX-License-Identifier: Apache-2.0
//! Shared pieces of the privileged suites: a test cgroup named `stockade-test-<pid>-<n>`
//! (relative to the test's own cgroup in each hierarchy) that kills its processes and removes
//! itself on drop, and children that join it before running their workload.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use stockade_cgroups::{Layout, Manager};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique test cgroup name for this process.
pub fn name() -> String {
    format!(
        "stockade-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The host layout.
pub fn host() -> Layout {
    stockade_cgroups::detect(Path::new("/proc")).expect("detect host cgroups")
}

/// A created cgroup plus the children spawned in it; cleaned up on drop, even on panic.
pub struct TestCg {
    pub m: Manager,
    pub name: String,
    children: Vec<Child>,
}

impl TestCg {
    /// Creates `<name><suffix>` (suffix like `/a/b` for nesting) on `layout`.
    pub fn new(layout: &Layout, suffix: &str) -> TestCg {
        let name = name();
        let mut m = Manager::new(layout, &format!("{name}{suffix}"), "test", false).unwrap();
        m.create().unwrap();
        TestCg {
            m,
            name,
            children: Vec::new(),
        }
    }

    /// Starts `sh -c <script>` and moves it into the cgroup before the script runs (the shell
    /// waits on a line of stdin that is sent after `add_pid`). Returns the pid.
    pub fn spawn(&mut self, script: &str) -> u32 {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("read _ || exit 1\n{script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        self.m.add_pid(i32::try_from(pid).unwrap()).unwrap();
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        self.children.push(child);
        pid
    }

    /// Waits for the last spawned child and returns (status, stdout, stderr).
    pub fn wait(&mut self) -> (std::process::ExitStatus, String, String) {
        let child = self.children.pop().unwrap();
        let out = child.wait_with_output().unwrap();
        let s = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        (out.status, s(out.stdout), s(out.stderr))
    }

    /// The directory holding `controller` (`memory`, `cpuacct`...; `""` for unified).
    pub fn dir(&self, controller: &str) -> PathBuf {
        let paths = self.m.paths();
        let found = paths.iter().find(|(h, _)| {
            if controller.is_empty() {
                h.is_empty()
            } else {
                h.split(',').any(|c| c == controller)
            }
        });
        found
            .unwrap_or_else(|| panic!("no {controller} hierarchy"))
            .1
            .clone()
    }

    /// A control file of the directory holding `controller`, trimmed.
    pub fn read(&self, controller: &str, file: &str) -> String {
        let p = self.dir(controller).join(file);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .trim()
            .to_string()
    }
}

impl Drop for TestCg {
    fn drop(&mut self) {
        let _ = self.m.thaw();
        let _ = self.m.kill_all(9);
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.m.destroy().is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left = leftovers(&self.name);
        if !left.is_empty() && !std::thread::panicking() {
            panic!("cgroups left behind: {left:?}");
        }
    }
}

/// Directories named `name` anywhere under /sys/fs/cgroup (two levels below each mount at
/// most matter here: test cgroups sit under the test's own cgroup).
pub fn leftovers(name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if e.file_name() == name {
                    found.push(e.path());
                } else if !e
                    .file_name()
                    .to_string_lossy()
                    .starts_with("stockade-test-")
                {
                    stack.push(e.path());
                }
            }
        }
    }
    found
}

/// Polls `f` every 20 ms until it returns `Some`, for at most `secs` seconds.
pub fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The state letter of `/proc/<pid>/stat` (R, S, D, T...).
pub fn proc_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(") ")
        .next()
        .and_then(|s| s.chars().next())
        .unwrap_or('?')
}
