// SPDX-License-Identifier: Apache-2.0
//! Shared bits of the seccomp suites: run the helper binary with a profile.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

/// The helper that loads filters (never load one into the test runner itself).
pub fn helper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stockade-seccomp-helper"))
}

/// Writes `json` to `dir/profile.json` and returns the `--profile` arguments.
pub fn profile_args(dir: &Path, json: &str) -> Vec<String> {
    let path = dir.join("profile.json");
    std::fs::write(&path, json).expect("write profile");
    vec!["--profile".into(), path.display().to_string()]
}

/// Runs the helper and returns its output, failing the test on a helper error.
pub fn run(args: &[String]) -> Output {
    let out = helper().args(args).output().expect("spawn helper");
    assert_ne!(
        out.status.code(),
        Some(2),
        "helper failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Parses `NAME errno N` / `NAME ok RET` lines into name → errno (0 for success).
pub fn results(out: &Output) -> HashMap<String, i32> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (name, kind, value) = (it.next()?, it.next()?, it.next()?);
            let errno = if kind == "errno" {
                value.parse().ok()?
            } else {
                0
            };
            Some((name.to_owned(), errno))
        })
        .collect()
}

/// Probe steps for the helper.
pub fn probes(list: &[&str]) -> Vec<String> {
    list.iter().map(|p| format!("probe:{p}")).collect()
}
