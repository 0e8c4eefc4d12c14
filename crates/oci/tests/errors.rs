// SPDX-License-Identifier: Apache-2.0
//! Bad input: one line naming the file or id, non-zero exit, nothing left behind.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use common::{Bundle, assert_nothing_left, unique_id};

fn one_line_err(o: &std::process::Output) -> String {
    assert!(!o.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("stockade-oci: "), "{err}");
    err
}

#[test]
fn test_malformed_config_names_file() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/true"]);
    std::fs::write(b.path().join("config.json"), b"{\"ociVersion\": ").unwrap();
    let id = unique_id("bad");
    let _c = common::Cleanup(&b, id.clone());
    let err = one_line_err(&b.out(&["run", &id]));
    assert!(
        err.contains(&b.path().join("config.json").display().to_string()),
        "{err}"
    );
    assert_nothing_left(&b, &id);
}

#[test]
fn test_missing_rootfs_named() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/true"]);
    std::fs::remove_dir_all(b.path().join("rootfs")).unwrap();
    let id = unique_id("norootfs");
    let _c = common::Cleanup(&b, id.clone());
    let err = one_line_err(&b.out(&["create", "--bundle", ".", &id]));
    assert!(
        err.contains("rootfs") && err.contains(&b.path().display().to_string()),
        "{err}"
    );
    assert_nothing_left(&b, &id);
}

#[test]
fn test_duplicate_id_refused_and_original_untouched() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/sleep", "100"]);
    let id = unique_id("dup");
    let _c = common::Cleanup(&b, id.clone());
    b.run_detached(&id);
    let pid = b.state(&id)["pid"].clone();
    let err = b.run_detached_err(&id);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&id) && err.contains("already exists"), "{err}");
    assert_eq!(b.state(&id)["pid"], pid);
    assert_eq!(b.state(&id)["status"], "running");
    b.ok(&["delete", "-f", &id]);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_unknown_id_named() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/bin/true"]);
    for cmd in ["state", "start", "delete", "pause", "kill"] {
        let err = one_line_err(&b.out(&[cmd, "no-such-ctr"]));
        assert!(
            err.contains("no-such-ctr") && err.contains("does not exist"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn test_missing_program_fails_create_cleanly() {
    stockade_testutil::require_root!();
    let b = Bundle::with_args(&["/no/such/program"]);
    let id = unique_id("noprog");
    let _c = common::Cleanup(&b, id.clone());
    let err = one_line_err(&b.out(&["create", "--bundle", ".", &id]));
    assert!(
        err.contains("/no/such/program") && err.contains(&id),
        "{err}"
    );
    assert_nothing_left(&b, &id);
}

#[test]
fn test_cwd_through_proc_self_fd_refused() {
    stockade_testutil::require_root!();
    let mut cfg = common::default_config(&["/bin/true"]);
    cfg["process"]["cwd"] = serde_json::json!("/proc/self/fd/3");
    let b = Bundle::new(&cfg);
    let id = unique_id("cwdfd");
    let _c = common::Cleanup(&b, id.clone());
    let o = b.out(&["run", &id]);
    assert!(!o.status.success(), "cwd through /proc/self/fd must fail");
    one_line_err(&o);
    assert_nothing_left(&b, &id);
}

#[test]
fn test_refused_rlimit_is_explained() {
    stockade_testutil::require_root!();
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
    let Some(hard) = hard else { return };
    let mut cfg = common::default_config(&["/bin/true"]);
    cfg["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": hard * 2, "hard": hard * 2}]);
    let b = Bundle::new(&cfg);
    let id = unique_id("rlim");
    let _c = common::Cleanup(&b, id.clone());
    let o = b.out(&["run", &id]);
    if o.status.success() {
        return; // this host grants CAP_SYS_RESOURCE: nothing to refuse
    }
    let err = one_line_err(&o);
    assert!(
        err.contains("RLIMIT_NOFILE") && err.contains("hard limit"),
        "{err}"
    );
    assert_nothing_left(&b, &id);
}
