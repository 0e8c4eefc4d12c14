// SPDX-License-Identifier: Apache-2.0
//! Test support shared by the integration suites (never shipped).
//!
//! * [`needs_root`] / [`require_root!`]: privileged tests say `skipped: needs root` on stderr,
//!   bypassing libtest's capture so the skip is visible, instead of passing silently.
//! * [`shared_dir`]: the read-only `../shared` folder (specs, SIF corpus, bench scripts).
//! * [`target_bin`]: a binary of this workspace built next to the running test.
//! * [`busybox_rootfs`]: a minimal root filesystem made from the host's static busybox.
#![forbid(unsafe_code)]

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// True when the effective uid is 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Returns true when running as root; otherwise prints `skipped: needs root: <what>` straight
/// to the stderr file descriptor (not through libtest's capture) and returns false.
pub fn needs_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n*** skipped: needs root: {what} ***");
    false
}

/// Early-returns from a test when not root, saying so loudly.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::needs_root(module_path!()) {
            return;
        }
    };
    ($what:expr) => {
        if !$crate::needs_root($what) {
            return;
        }
    };
}

/// The workspace root (the directory holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// The shared read-only folder: `$STOCKADE_SHARED`, else `<workspace>/../shared`.
///
/// # Panics
/// When it does not exist: tests that need the corpus must not pass without it.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("STOCKADE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    assert!(
        dir.join("testdata").is_dir(),
        "shared test data not found at {} (set STOCKADE_SHARED)",
        dir.display()
    );
    dir
}

/// Path of a file in the shared SIF corpus, e.g. `sif("sylabs-sif/images/one-group.sif")`.
pub fn sif(rel: &str) -> PathBuf {
    shared_dir().join("testdata/sif").join(rel)
}

/// A binary of this workspace in the same target profile directory as the running test
/// executable (`target/<profile>/deps/test-…` → `target/<profile>/<name>`), or `$STOCKADE_BIN_DIR`.
///
/// # Panics
/// When the binary has not been built (`cargo build --workspace --bins` first).
pub fn target_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("STOCKADE_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let deps = exe.parent()?;
            Some(deps.parent()?.to_path_buf())
        })
        .unwrap_or_else(|| workspace_root().join("target/debug"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not built (run cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// Fills `root` with a busybox root filesystem: `/bin/busybox` (static, from the host) plus
/// one symlink per applet, and the usual empty mount points.
pub fn busybox_rootfs(root: &Path) -> std::io::Result<()> {
    for d in [
        "bin", "proc", "sys", "dev", "tmp", "etc", "root", "run", "var",
    ] {
        std::fs::create_dir_all(root.join(d))?;
    }
    let bb = root.join("bin/busybox");
    let host = host_busybox()?;
    std::fs::copy(&host, &bb)?;
    // the host's copy: executing the one just written races with forks of other test
    // threads that still hold its write descriptor (ETXTBSY)
    let out = Command::new(&host).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let link = root.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            symlink("busybox", link)?;
        }
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    Ok(())
}

fn host_busybox() -> std::io::Result<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| std::io::Error::other("static busybox not installed (scripts/setup)"))
}
