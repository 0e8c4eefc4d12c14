// SPDX-License-Identifier: Apache-2.0
//! Lifecycle suite (black-box, root): the runtime-core behaviours of any runc-compatible OCI
//! runtime, chosen by `$OCI_RUNTIME` (default: the built `stockade-oci`). Each test builds a
//! busybox + probe bundle, drives the runtime's CLI and checks real effects from inside (the
//! probe's facts) and outside (cgroup files, state, leak snapshots).
// Integration-test crate: every item here is test code.
#![allow(clippy::tests_outside_test_module)]

mod basics;
mod errors;
mod leak;
mod limits;
mod ops;
mod rootless;

use anyhow::Result;
use stockade_e2e::Runtime;

/// The runtime under test; panics with the reason when there is none.
pub fn rt() -> Runtime {
    Runtime::from_env().unwrap_or_else(|e| panic!("{e:#}"))
}

/// Runs a test body, turning an error into a panic with its whole chain.
pub fn check(f: impl FnOnce() -> Result<()>) {
    if let Err(e) = f() {
        panic!("{e:#}");
    }
}

/// Reads a cgroup v1 file of an e2e container (`/sys/fs/cgroup/<ctl>/stockade-e2e-<id>/<file>`).
pub fn cg_read(ctl: &str, id: &str, file: &str) -> String {
    let p = format!(
        "/sys/fs/cgroup/{ctl}/{}{id}/{file}",
        stockade_e2e::bundle::CGROUP_PREFIX
    );
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| format!("<{p}: {e}>"))
        .trim()
        .to_string()
}
