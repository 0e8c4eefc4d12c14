// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the black-box suites in `tests/` (conformance, escapes, lifecycle).
//!
//! The suites judge *any* runc-compatible OCI runtime: the binary comes from `$OCI_RUNTIME`
//! (default: the workspace's `stockade-oci`). Helpers:
//! * [`runtime::Runtime`]: the command line with a private `--root`, timeouts and captured output;
//! * [`bundle::Bundle`]: busybox rootfs + static probe + config template, mutated per test;
//! * [`probe`]: the static probe binary and its JSON;
//! * [`guard`]: drop guards (`delete -f`, cgroup removal, umount);
//! * [`leak`]: scoped snapshots of mounts, cgroups, loop devices, netns, processes, fds, state;
//! * [`console`]: a `--console-socket` receiver.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod console;
pub mod guard;
pub mod harness;
pub mod leak;
pub mod probe;
pub mod runtime;

pub use bundle::Bundle;
pub use guard::{ContainerGuard, Defer, MountGuard};
pub use leak::{Scope, Snapshot};
pub use runtime::{Opts, Output, Runtime};

/// Runs a shell command on the host and returns (success, stdout+stderr).
pub fn host_sh(script: &str) -> (bool, String) {
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .output()
    {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, e.to_string()),
    }
}

/// Path of the host's static busybox (usable as a hook binary).
pub fn host_busybox() -> &'static str {
    if std::path::Path::new("/bin/busybox").exists() {
        "/bin/busybox"
    } else {
        "/usr/bin/busybox"
    }
}
