// SPDX-License-Identifier: Apache-2.0
//! Compatibility with a peer's profile: podman's default (containers/common seccomp.json,
//! installed with podman), resolved the way podman does for a container without extra
//! capabilities, compiles and runs a shell under our loader.
// Integration tests are their own test crates: the lib-oriented lints do not apply.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use serde_json::{Value, json};

const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// Drops entries that podman only includes for extra capabilities or other architectures,
/// and podman's own keys; keeps the OCI fields.
fn resolve_like_podman(template: &Value) -> Value {
    let entries = template["syscalls"].as_array().unwrap().iter().filter(|r| {
        let inc = &r["includes"];
        let caps = inc["caps"].as_array().is_some_and(|c| !c.is_empty());
        let arches = inc["arches"].as_array();
        !caps && arches.is_none_or(|a| a.iter().any(|x| x == "amd64" || x == "arm64"))
    });
    let syscalls: Vec<Value> = entries
        .map(|r| {
            let mut e = json!({"names": r["names"], "action": r["action"]});
            if r["args"].is_array() {
                e["args"] = r["args"].clone();
            }
            if r["errnoRet"].is_number() {
                e["errnoRet"] = r["errnoRet"].clone();
            }
            e
        })
        .collect();
    json!({
        "defaultAction": template["defaultAction"],
        "defaultErrnoRet": template["defaultErrnoRet"],
        "syscalls": syscalls,
    })
}

#[test]
fn podman_default_profile_compiles_and_runs_a_shell() {
    let Ok(text) = std::fs::read_to_string(PODMAN_PROFILE) else {
        eprintln!(
            "*** skipped: {PODMAN_PROFILE} not installed (scripts/setup installs podman) ***"
        );
        return;
    };
    let profile = resolve_like_podman(&serde_json::from_str(&text).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut args = common::profile_args(dir.path(), &profile.to_string());
    args.extend(
        [
            "--nnp",
            "probe:bpf",
            "probe:getppid",
            "exec",
            "/bin/busybox",
            "sh",
            "-c",
            "ls / >/dev/null && ps >/dev/null && echo ok",
        ]
        .map(String::from),
    );
    let out = common::run(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = common::results(&out);
    assert_eq!(
        r["bpf"],
        libc::EPERM,
        "podman denies bpf without CAP_SYS_ADMIN"
    );
    assert_eq!(r["getppid"], 0);
    assert!(text.ends_with("ok\n"), "{text}");
}

#[test]
fn podman_template_with_both_cap_variants_is_refused_not_weakened() {
    // The raw template lists socket both unconditionally (for CAP_AUDIT_WRITE) and with a
    // stricter conditional rule; libseccomp would silently keep only the unconditional one.
    let Ok(text) = std::fs::read(PODMAN_PROFILE) else {
        eprintln!("*** skipped: {PODMAN_PROFILE} not installed ***");
        return;
    };
    let profile = stockade_seccomp::parse_profile(&text).unwrap();
    let err = stockade_seccomp::compile(&profile).unwrap_err().to_string();
    assert!(err.contains("overridden by the unconditional"), "{err}");
}
