// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the black-box `stockade` suites that run the binary as the caller
//! (`build_cli`, `sif_cli`): run it, expect success, or expect a one-line failure.

#![allow(dead_code)]

use std::process::{Command, Output};

use stockade_testutil::target_bin;

/// Runs the `stockade` binary under test with `args`.
pub fn stockade(args: &[&str]) -> Output {
    Command::new(target_bin("stockade"))
        .args(args)
        .output()
        .unwrap()
}

/// A succeeding command: its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = stockade(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A failing command: exit 255 and exactly one stderr line, returned.
pub fn fails(args: &[&str]) -> String {
    let out = stockade(args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(255), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    err.trim_end().to_string()
}
