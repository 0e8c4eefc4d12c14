// SPDX-License-Identifier: Apache-2.0
//! Manager lifecycle on fake trees: create (parents, cpuset, reuse rules, rollback), destroy,
//! state, mount views, freezer and process listing.

use std::path::Path;

use super::*;
use crate::fake::{self, touch, writes};

fn exists(p: &Path) -> bool {
    p.exists()
}

#[test]
fn create_makes_parents_and_destroy_removes_only_those() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v1(d.path(), &["memory", "name=systemd"]);
    std::fs::create_dir_all(d.path().join("memory/keep")).unwrap();
    let mut m = Manager::new(&layout, "/keep/a/b", "x", false).unwrap();
    m.create().unwrap();
    assert!(
        exists(&d.path().join("memory/keep/a/b")) && exists(&d.path().join("systemd/keep/a/b"))
    );
    let st = m.to_state();
    assert_eq!(st.created.len(), 3, "memory: keep/a; systemd: keep, keep/a");
    m.destroy().unwrap();
    assert!(!exists(&d.path().join("memory/keep/a")));
    assert!(
        exists(&d.path().join("memory/keep")),
        "pre-existing parent kept"
    );
    assert!(!exists(&d.path().join("systemd/keep")));
    m.destroy().unwrap();
}

#[test]
fn relative_paths_nest_under_the_callers_cgroup() {
    let d = tempfile::tempdir().unwrap();
    let mut h = fake::hierarchy(d.path(), "memory");
    h.current = "/process_api/abc".into();
    let layout = crate::Layout::V1 {
        hierarchies: vec![h],
    };
    let m = Manager::new(&layout, "test-1", "x", false).unwrap();
    assert_eq!(
        m.paths(),
        [(
            "memory".to_string(),
            d.path().join("memory/process_api/abc/test-1")
        )]
    );
    let m = Manager::new(&layout, "", "x", false).unwrap();
    assert_eq!(m.paths()[0].1, d.path().join("memory/x"));
}

#[test]
fn refuses_to_reuse_busy_or_frozen_cgroups() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v1(d.path(), &["freezer"]);
    let leaf = d.path().join("freezer/c");
    std::fs::create_dir_all(&leaf).unwrap();
    std::fs::write(leaf.join("cgroup.procs"), "42\n").unwrap();
    std::fs::write(leaf.join("freezer.state"), "THAWED\n").unwrap();
    let mut m = Manager::new(&layout, "/c", "c", false).unwrap();
    let err = m.create().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cgroup {} already has processes: refusing to reuse it",
            leaf.display()
        )
    );
    std::fs::write(leaf.join("cgroup.procs"), "").unwrap();
    std::fs::write(leaf.join("freezer.state"), "FROZEN\n").unwrap();
    assert!(m.create().unwrap_err().to_string().contains("is frozen"));
    std::fs::write(leaf.join("freezer.state"), "THAWED\n").unwrap();
    std::fs::create_dir(leaf.join("child")).unwrap();
    assert!(
        m.create()
            .unwrap_err()
            .to_string()
            .contains("has child cgroups")
    );
    std::fs::remove_dir(leaf.join("child")).unwrap();
    m.create().unwrap();
    assert!(leaf.exists());
    // v2: cgroup.freeze = 1.
    let layout = fake::v2(d.path(), &[]);
    touch(&d.path().join("unified/c"), &["cgroup.procs"]);
    std::fs::write(d.path().join("unified/c/cgroup.freeze"), "1\n").unwrap();
    let mut m = Manager::new(&layout, "/c", "c", false).unwrap();
    assert!(m.create().unwrap_err().to_string().contains("is frozen"));
}

#[test]
fn failed_create_removes_what_it_made() {
    let d = tempfile::tempdir().unwrap();
    let mut layout = fake::v1(d.path(), &["memory", "pids"]);
    if let crate::Layout::V1 { hierarchies } = &mut layout {
        hierarchies[1].mount = d.path().join("not-mounted");
    }
    let mut m = Manager::new(&layout, "/a/b", "x", false).unwrap();
    let err = m.create().unwrap_err().to_string();
    assert!(
        err.starts_with("cannot open") && err.contains("not-mounted"),
        "{err}"
    );
    assert!(
        !d.path().join("memory/a").exists(),
        "leaf and parent rolled back"
    );
}

#[test]
fn pure_v2_enables_controllers_hybrid_only_on_demand() {
    let d = tempfile::tempdir().unwrap();
    let layout = fake::v2(d.path(), &["cpu", "memory"]);
    touch(&d.path().join("unified"), &["cgroup.subtree_control"]);
    Manager::new(&layout, "/c", "c", false)
        .unwrap()
        .create()
        .unwrap();
    assert_eq!(
        writes(d.path().join("unified/cgroup.subtree_control")),
        ["+cpu +memory"]
    );

    let d = tempfile::tempdir().unwrap();
    let layout = crate::Layout::Hybrid {
        hierarchies: vec![fake::hierarchy(d.path(), "memory")],
        unified: fake::unified(d.path(), &["hugetlb"]),
    };
    touch(&d.path().join("unified"), &["cgroup.subtree_control"]);
    let mut m = Manager::new(&layout, "/c", "c", false).unwrap();
    m.create().unwrap();
    assert!(writes(d.path().join("unified/cgroup.subtree_control")).is_empty());
    touch(&d.path().join("unified/c"), &["hugetlb.2MB.max"]);
    let r = serde_json::from_str(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}"#).unwrap();
    m.apply(&r).unwrap();
    assert_eq!(
        writes(d.path().join("unified/cgroup.subtree_control")),
        ["+hugetlb"]
    );
    assert_eq!(writes(d.path().join("unified/c/hugetlb.2MB.max")), ["0"]);
}

#[test]
fn state_round_trips_and_mount_views() {
    let d = tempfile::tempdir().unwrap();
    let layout = crate::Layout::Hybrid {
        hierarchies: vec![
            fake::hierarchy(d.path(), "cpu,cpuacct"),
            fake::hierarchy(d.path(), "name=systemd"),
        ],
        unified: fake::unified(d.path(), &["hugetlb"]),
    };
    let mut m = Manager::new(&layout, "/c", "c", false).unwrap();
    m.create().unwrap();
    let json = serde_json::to_string(&m.to_state()).unwrap();
    let back = Manager::from_state(serde_json::from_str(&json).unwrap());
    assert_eq!(back.paths(), m.paths());
    assert_eq!(back.to_state(), m.to_state());
    assert_eq!(
        back.mount_view(true),
        MountView::Namespaced {
            v1_hierarchies: vec!["cpu,cpuacct".into(), "name=systemd".into()],
            unified: true
        }
    );
    let MountView::Bind { dirs } = back.mount_view(false) else {
        panic!()
    };
    let names: Vec<&str> = dirs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["cpu,cpuacct", "systemd", "unified"]);
    assert_eq!(dirs[2].1, d.path().join("unified/c"));
    let v2 = Manager::new(&fake::v2(d.path(), &[]), "/c", "c", false).unwrap();
    assert_eq!(
        v2.mount_view(false),
        MountView::Bind {
            dirs: vec![(String::new(), d.path().join("unified/c"))]
        }
    );
    let off = Manager::new(&fake::v1(d.path(), &["pids"]), "/c", "c", true).unwrap();
    assert_eq!(off.mount_view(true), MountView::None);
}

#[test]
fn freezer_pids_and_kill_on_fake_trees() {
    let d = tempfile::tempdir().unwrap();
    let mut m = Manager::new(&fake::v2(d.path(), &[]), "/c", "c", false).unwrap();
    m.create().unwrap();
    let leaf = d.path().join("unified/c");
    touch(&leaf, &["cgroup.freeze", "cgroup.kill"]);
    std::fs::write(leaf.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    std::fs::write(leaf.join("cgroup.procs"), "10\n11\n").unwrap();
    touch(&leaf.join("sub"), &[]);
    std::fs::write(leaf.join("sub/cgroup.procs"), "12\n").unwrap();
    m.freeze().unwrap();
    assert_eq!(writes(leaf.join("cgroup.freeze")), ["1"]);
    assert!(m.is_frozen().unwrap());
    let mut pids = m.pids().unwrap();
    pids.sort();
    assert_eq!(pids, [10, 11, 12]);
    m.kill_all(9).unwrap();
    assert_eq!(writes(leaf.join("cgroup.kill")), ["1"]);
    m.thaw().unwrap();
    assert_eq!(writes(leaf.join("cgroup.freeze")), ["1", "0"]);
    assert!(m.clone_into_fd().is_some());
    let v1 = Manager::new(&fake::v1(d.path(), &["freezer"]), "/c", "c", false).unwrap();
    assert!(v1.clone_into_fd().is_none());
}
