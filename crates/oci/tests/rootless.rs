// SPDX-License-Identifier: Apache-2.0
//! A plain user runs a container: `spec --rootless` config, user namespace mapping the
//! user to root, state under the user's own root, no cgroup (v1 is not delegated).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{Bundle, unique_id};

const USER: &str = "stockade-rl";

fn ensure_user() -> (u32, u32) {
    let ids = |flag| -> Option<u32> {
        let o = Command::new("id").args([flag, USER]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    if ids("-u").is_none() {
        // tolerate a concurrent creation by another test binary
        let _ = Command::new("useradd")
            .args(["-M", "-s", "/bin/false", USER])
            .status();
    }
    (
        ids("-u").expect("test user exists"),
        ids("-g").expect("test user has a group"),
    )
}

#[test]
fn test_rootless_run_as_plain_user() {
    stockade_testutil::require_root!();
    let (uid, gid) = ensure_user();
    let mut cfg = common::default_config(&[
        "/bin/sh",
        "-c",
        "id -u; cat /proc/self/uid_map; touch /tmp/x",
    ]);
    let spec_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(spec_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let st = Command::new("runuser")
        .args(["-u", USER, "--"])
        .arg(common::bin())
        .args(["spec", "--rootless", "--bundle"])
        .arg(spec_dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let rootless: serde_json::Value =
        serde_json::from_slice(&std::fs::read(spec_dir.path().join("config.json")).unwrap())
            .unwrap();
    for k in ["mounts", "linux"] {
        cfg[k] = rootless[k].clone();
    }
    cfg["root"]["readonly"] = serde_json::json!(false);
    let b = Bundle::new(&cfg);
    let all = |p: &std::path::Path, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    all(b.path(), 0o755);
    all(&b.path().join("config.json"), 0o644);
    std::fs::create_dir_all(&b.root).unwrap();
    rustix::fs::chown(
        &b.root,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .unwrap();
    rustix::fs::chown(
        b.path().join("rootfs/tmp"),
        Some(rustix::fs::Uid::from_raw(uid)),
        None,
    )
    .unwrap();
    let id = unique_id("rootless");
    let o = Command::new("runuser")
        .args(["-u", USER, "--"])
        .arg(common::bin())
        .arg("--root")
        .arg(&b.root)
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg(&id)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"));
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", &uid.to_string(), "1"]);
    // the file created as container root belongs to the user on the host
    let meta = std::fs::metadata(b.path().join("rootfs/tmp/x")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
    assert!(!b.root.join(&id).exists());
}
