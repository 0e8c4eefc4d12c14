// SPDX-License-Identifier: Apache-2.0
//! Every hook runs once, in order, with the state JSON on stdin; container-namespace
//! hooks see the container (startContainer runs after pivot_root, inside the rootfs).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use common::{Bundle, assert_nothing_left, unique_id};
use serde_json::json;

/// A hook that appends `<name> <state json>` to `log` (a path valid where it runs).
fn hook(name: &str, log: &str) -> serde_json::Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("printf '%s ' {name} >> {log}; cat >> {log}; echo >> {log}")]
    })
}

#[test]
fn test_hooks_in_order_with_state_on_stdin() {
    stockade_testutil::require_root!();
    let logdir = tempfile::tempdir().unwrap();
    let host_log = logdir.path().join("log");
    let host = host_log.to_str().unwrap();
    let mut cfg = common::default_config(&["/bin/true"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/hooklog", "type": "bind", "source": logdir.path(), "options": ["rbind", "rw"]
    }));
    cfg["hooks"] = json!({
        "prestart": [hook("prestart", host)],
        "createRuntime": [hook("createRuntime", host)],
        "createContainer": [hook("createContainer", host)],
        "startContainer": [hook("startContainer", "/hooklog/log")],
        "poststart": [hook("poststart", host)],
        "poststop": [hook("poststop", host)]
    });
    let b = Bundle::new(&cfg);
    std::fs::create_dir_all(b.path().join("rootfs/hooklog")).unwrap();
    let id = unique_id("hooks");
    let _c = common::Cleanup(&b, id.clone());
    b.create(&id, &[]);
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    b.ok(&["start", &id]);
    b.ok(&["delete", "--force", &id]);
    let text = std::fs::read_to_string(&host_log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let names: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        "{text}"
    );
    // create-phase hooks see `created`, as runc/crun pass it and runtime-tools' hooks_stdin
    // requires for prestart (runtime-core.md, "Hooks")
    let want_status = [
        "created", "created", "created", "created", "running", "stopped",
    ];
    for (l, status) in lines.iter().zip(want_status) {
        let st: serde_json::Value = serde_json::from_str(l.split_once(' ').unwrap().1).unwrap();
        assert_eq!(st["id"], id.as_str(), "{l}");
        assert_eq!(st["status"], status, "{l}");
        assert_eq!(st["bundle"], b.path().to_str().unwrap());
        if status != "stopped" {
            assert_eq!(st["pid"], pid, "{l}");
        }
    }
    assert_nothing_left(&b, &id);
}

#[test]
fn test_failing_prestart_hook_aborts_create() {
    stockade_testutil::require_root!();
    let mut cfg = common::default_config(&["/bin/true"]);
    cfg["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    let b = Bundle::new(&cfg);
    let id = unique_id("hookfail");
    let _c = common::Cleanup(&b, id.clone());
    let o = b.out(&["create", "--bundle", ".", &id]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("createRuntime hook /bin/false") && err.contains(&id),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_nothing_left(&b, &id);
}

#[test]
fn test_failing_start_container_hook_fails_start() {
    stockade_testutil::require_root!();
    let mut cfg = common::default_config(&["/bin/true"]);
    cfg["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    let b = Bundle::new(&cfg);
    let id = unique_id("starthook");
    let _c = common::Cleanup(&b, id.clone());
    b.create(&id, &[]);
    let o = b.out(&["start", &id]);
    assert!(!o.status.success(), "start must report the failed hook");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("startContainer hook /bin/false") && err.contains(&id),
        "{err}"
    );
    b.ok(&["delete", "--force", &id]);
    assert_nothing_left(&b, &id);
}
