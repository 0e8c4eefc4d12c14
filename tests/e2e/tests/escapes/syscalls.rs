// SPDX-License-Identifier: Apache-2.0
//! The default profile (`<runtime> spec`) blocks namespace creation from inside and every
//! syscall family with a record of kernel escapes. Each attempt runs in a fresh container of
//! the default profile; the call must fail (the errno is reported). On kernels built without
//! a feature (here: modules, kexec) the call fails with ENOSYS whatever the runtime does.

use anyhow::{Result, ensure};
use stockade_e2e::{Bundle, probe};
use stockade_testutil::require_root;

use crate::{check, rt};

/// Runs `probe try <call...>` for each call in the default profile; all must be refused.
fn refused(calls: &[&[&str]]) -> Result<()> {
    let rt = rt();
    let mut allowed = Vec::new();
    let mut seen = Vec::new();
    for call in calls {
        let mut b = Bundle::from_spec(&rt, "syscall")?;
        let mut args = vec!["try"];
        args.extend_from_slice(call);
        let v = probe::run_args(&rt, &mut b, &args)?;
        seen.push(format!(
            "{}={}",
            call.join(" "),
            v["error"].as_str().unwrap_or("allowed")
        ));
        if v["ok"] == true {
            allowed.push(call.join(" "));
        }
    }
    eprintln!("{}", seen.join(", "));
    ensure!(
        allowed.is_empty(),
        "the default profile allows: {allowed:?}"
    );
    Ok(())
}

#[test]
fn default_profile_blocks_namespace_creation() {
    require_root!();
    check(|| {
        refused(&[
            &["unshare", "user"],
            &["unshare", "mnt"],
            &["unshare", "pid"],
            &["unshare", "net"],
            &["unshare", "uts"],
            &["unshare", "ipc"],
            &["unshare", "cgroup"],
            &["unshare", "time"],
        ])
    });
}

#[test]
fn default_profile_blocks_io_uring() {
    require_root!();
    check(|| refused(&[&["io_uring_setup"]]));
}

#[test]
fn default_profile_blocks_bpf() {
    require_root!();
    check(|| refused(&[&["bpf"]]));
}

#[test]
fn default_profile_blocks_userfaultfd() {
    require_root!();
    check(|| refused(&[&["userfaultfd"]]));
}

#[test]
fn default_profile_blocks_keyrings() {
    require_root!();
    check(|| refused(&[&["keyctl"], &["add_key"], &["request_key"]]));
}

#[test]
fn default_profile_blocks_perf_event_open() {
    require_root!();
    check(|| refused(&[&["perf_event_open"]]));
}

#[test]
fn default_profile_blocks_kexec() {
    require_root!();
    check(|| refused(&[&["kexec_load"], &["kexec_file_load"]]));
}

#[test]
fn default_profile_blocks_module_loading() {
    require_root!();
    check(|| refused(&[&["init_module"], &["finit_module"], &["delete_module"]]));
}

#[test]
fn default_profile_blocks_open_by_handle_at() {
    require_root!();
    check(|| refused(&[&["open_by_handle_at", "/"], &["open_by_handle_at", "/etc"]]));
}

#[test]
fn default_profile_blocks_mount() {
    require_root!();
    check(|| {
        refused(&[
            &["mount-tmpfs", "/tmp"],
            &["mount-proc", "/tmp"],
            &["mount-bind", "/", "/tmp"],
            &["remount-rw", "/"],
        ])
    });
}
