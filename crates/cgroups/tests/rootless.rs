// SPDX-License-Identifier: Apache-2.0
//! Rootless without delegation, for real: the test re-runs itself as `nobody` (a copy of the
//! test binary in a world-readable tempdir, started with `runuser`), where the v1 and hybrid
//! layouts give a disabled manager at once and the cgroup2 mount refuses `mkdir`.
// Integration tests are their own test crates: the lib-oriented lints do not apply.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use stockade_cgroups::{Layout, Manager, Unified, Warning, detect};
use stockade_testutil::{is_root, require_root};

const INNER: &str = "STOCKADE_CGROUPS_ROOTLESS_INNER";
const NAME: &str = "rootless_manager_without_delegation_is_a_noop";

#[test]
fn rootless_manager_without_delegation_is_a_noop() {
    if std::env::var_os(INNER).is_some() {
        return inner();
    }
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("rootless-test");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&exe)
        .args(["--exact", NAME, "--nocapture"])
        .env(INNER, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("inner: disabled as expected"), "{text}");
}

fn inner() {
    assert!(!is_root(), "the inner half runs as nobody");
    let layout = detect(Path::new("/proc")).unwrap();
    let limits = serde_json::from_str(r#"{"pids":{"limit":10}}"#).unwrap();
    let mut m = Manager::new(&layout, "stockade-rootless-test", "x", true).unwrap();
    m.create().unwrap();
    if !layout.hierarchies().is_empty() {
        assert!(!m.is_enabled(), "v1 hierarchies are never delegated");
    }
    if let Some(u) = layout.unified() {
        let v2 = Layout::V2 {
            unified: Unified {
                controllers: Vec::new(),
                ..u.clone()
            },
        };
        let mut m2 = Manager::new(&v2, "/stockade-rootless-test", "x", true).unwrap();
        m2.create().unwrap();
        assert!(
            !m2.is_enabled(),
            "root-owned cgroup2 directory is not writable by nobody"
        );
        assert_eq!(m2.apply(&limits).unwrap(), [Warning::Rootless]);
    }
    assert_eq!(m.apply(&limits).unwrap(), [Warning::Rootless]);
    assert!(m.pids().is_err() && m.clone_into_fd().is_none());
    m.destroy().unwrap();
    println!("inner: disabled as expected");
}
