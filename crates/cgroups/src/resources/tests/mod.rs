// SPDX-License-Identifier: Apache-2.0
//! Every controller's writes on fake v1 and v2 trees: the harness, devices, the unified map
//! and rootless here; one file per group of controllers.

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;
use tempfile::TempDir;

use super::*;
use crate::fake::{self, touch, writes};

mod cpu;
mod limits;
mod memory;

pub(super) fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// A created manager for `/ctr` on a fake layout, and the leaf of `hierarchy`.
pub(super) struct Fake {
    d: TempDir,
    m: Manager,
}

impl Fake {
    pub(super) fn v1(hierarchies: &[&str]) -> Fake {
        let d = tempfile::tempdir().unwrap();
        let layout = fake::v1(d.path(), hierarchies);
        Fake::create(d, &layout)
    }
    pub(super) fn v2(controllers: &[&str]) -> Fake {
        let d = tempfile::tempdir().unwrap();
        let layout = fake::v2(d.path(), controllers);
        Fake::create(d, &layout)
    }
    fn create(d: TempDir, layout: &crate::Layout) -> Fake {
        let mut m = Manager::new(layout, "/ctr", "ctr", false).unwrap();
        m.create().unwrap();
        Fake { d, m }
    }
    pub(super) fn leaf(&self, hierarchy: &str) -> PathBuf {
        self.d.path().join(hierarchy).join("ctr")
    }
    pub(super) fn files(&self, hierarchy: &str, files: &[&str]) -> &Self {
        touch(&self.leaf(hierarchy), files);
        self
    }
    pub(super) fn writes(&self, hierarchy: &str, file: &str) -> Vec<String> {
        writes(self.leaf(hierarchy).join(file))
    }
}

#[test]
fn v1_devices_reset_then_allow_and_live_updates_write_only_the_difference() {
    let f = Fake::v1(&["devices"]);
    f.files("devices", &["devices.allow", "devices.deny"]);
    let first = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rw"}]}"#;
    f.m.apply(&res(first)).unwrap();
    assert_eq!(f.writes("devices", "devices.deny"), ["a"]);
    assert_eq!(
        f.writes("devices", "devices.allow"),
        ["c 1:3 rwm", "c 1:5 rw"]
    );
    std::fs::write(
        f.leaf("devices").join("devices.list"),
        "c 1:3 rwm\nc 1:5 rw\n",
    )
    .unwrap();
    let second = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"r"},
        {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
        {"allow":true,"type":"c","major":136,"access":"rwm"}]}"#;
    f.m.update(&res(second)).unwrap();
    assert_eq!(
        f.writes("devices", "devices.deny"),
        ["a", "c 1:3 wm"],
        "no reset while live"
    );
    assert_eq!(
        f.writes("devices", "devices.allow"),
        ["c 1:3 rwm", "c 1:5 rw", "c 1:5 m", "c 136:* rwm"]
    );
}

#[test]
fn unified_map_v2_only_with_safe_keys() {
    let f = Fake::v1(&["memory"]);
    let err =
        f.m.apply(&res(r#"{"unified":{"memory.high":"1"}}"#))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unified resources is not supported on cgroup v1"
    );
    let f = Fake::v2(&["memory", "io"]);
    f.files("unified", &["memory.high", "io.max"]);
    f.m.apply(&res(
        r#"{"unified":{"memory.high":"4096","io.max":"8:0 rbps=1\n8:16 wbps=2\n"}}"#,
    ))
    .unwrap();
    assert_eq!(f.writes("unified", "memory.high"), ["4096"]);
    assert_eq!(f.writes("unified", "io.max"), ["8:0 rbps=1", "8:16 wbps=2"]);
    for key in ["cgroup.procs", "cgroup.kill", "../x.y"] {
        let err =
            f.m.apply(&res(&format!(r#"{{"unified":{{"{key}":"1"}}}}"#)))
                .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid unified key"),
            "{key}: {err}"
        );
    }
    let err =
        f.m.apply(&res(r#"{"unified":{"pids.max":"1"}}"#))
            .unwrap_err();
    assert!(err.to_string().contains("no pids controller"), "{err}");
}

#[test]
fn rootless_without_cgroup_warns_once_and_skips_devices() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v1(d.path(), &["memory", "devices"]);
    let mut m = Manager::new(&layout, "", "ctr", true).unwrap();
    m.create().unwrap();
    assert!(!m.is_enabled());
    assert!(
        !d.path().join("memory/ctr").exists(),
        "rootless v1 creates nothing"
    );
    let w = m
        .apply(&res(
            r#"{"memory":{"limit":1},"devices":[{"allow":false,"access":"rwm"}]}"#,
        ))
        .unwrap();
    assert_eq!(w, [Warning::Rootless]);
    assert_eq!(
        w[0].to_string(),
        "skipping cgroup limits: no delegated cgroup (rootless)"
    );
    assert!(
        m.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#))
            .unwrap()
            .is_empty()
    );
    assert!(m.stats().unwrap_err().to_string().contains("has no cgroup"));
    m.add_pid(1).unwrap();
    m.destroy().unwrap();
}
