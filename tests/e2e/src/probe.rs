// SPDX-License-Identifier: Apache-2.0
//! The static probe (`tests/probe`): where it is, and running it in a bundle.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::bundle::Bundle;
use crate::runtime::{Output, Runtime};

static PATH: OnceLock<PathBuf> = OnceLock::new();

/// Path of the static probe: `$STOCKADE_PROBE`, else the output of `scripts/build-probe`
/// (which builds it into `target-probe/` on first use).
///
/// # Panics
/// When the probe cannot be built: no container test can run without it.
pub fn path() -> PathBuf {
    PATH.get_or_init(|| {
        if let Some(p) = std::env::var_os("STOCKADE_PROBE") {
            return PathBuf::from(p);
        }
        let script = stockade_testutil::workspace_root().join("scripts/build-probe");
        let out = Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/build-probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// Parses the last non-empty stdout line of a probe run as JSON.
///
/// # Errors
/// When there is no JSON line (the probe failed or was killed).
pub fn parse(o: &Output) -> Result<Value> {
    parse_text(&o.stdout)
        .with_context(|| format!("{} (exit {}): {}", o.cmdline, o.code(), o.stderr.trim()))
}

/// Parses the last non-empty line of `text` as JSON.
///
/// # Errors
/// When that line is not JSON.
pub fn parse_text(text: &str) -> Result<Value> {
    let Some(line) = text.lines().rev().find(|l| l.trim_start().starts_with('{')) else {
        bail!("no JSON line in probe output {text:?}");
    };
    serde_json::from_str(line).with_context(|| format!("probe output is not JSON: {line}"))
}

/// `run`s the bundle (whose process should be the probe) and returns its JSON; the run must
/// succeed.
///
/// # Errors
/// When the run fails or prints no JSON.
pub fn run(rt: &Runtime, b: &Bundle) -> Result<Value> {
    let _g = rt.guard(b.id());
    let o = rt.run(b)?;
    o.check()?;
    parse(&o)
}

/// Sets the bundle's process to `/probe ARGS`, runs it and returns its JSON (exit status of
/// the probe ignored: `try` exits 1 when the kernel refused, which is a result).
///
/// # Errors
/// When no JSON comes back.
pub fn run_args(rt: &Runtime, b: &mut Bundle, args: &[&str]) -> Result<Value> {
    b.probe(args);
    let _g = rt.guard(b.id());
    let o = rt.run(b)?;
    parse(&o)
}

/// `exec`s `/probe ARGS` in running container `id` and returns its JSON.
///
/// # Errors
/// When no JSON comes back.
pub fn exec(rt: &Runtime, id: &str, extra: &[&str], args: &[&str]) -> Result<Value> {
    let mut argv = vec!["exec"];
    argv.extend_from_slice(extra);
    argv.push(id);
    argv.push("/probe");
    argv.extend_from_slice(args);
    parse(&rt.cmd(&argv)?)
}

/// Parses a hex capability mask from `facts.caps.<set>`.
pub fn caps(facts: &Value, set: &str) -> u64 {
    facts["caps"][set]
        .as_str()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .unwrap_or(u64::MAX)
}

/// Capability names without `CAP_`, indexed by bit (Linux 6.x).
pub const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// `CAP_*` name of a capability bit.
pub fn cap_name(bit: u32) -> Option<String> {
    CAP_NAMES
        .get(usize::try_from(bit).ok()?)
        .map(|n| format!("CAP_{n}"))
}

/// Capability bit of a `CAP_*` name (None when unknown).
pub fn cap_bit(name: &str) -> Option<u32> {
    let n = name.strip_prefix("CAP_").unwrap_or(name);
    CAP_NAMES
        .iter()
        .position(|c| *c == n)
        .and_then(|i| u32::try_from(i).ok())
}

/// Mask of a list of `CAP_*` names (unknown names ignored).
pub fn cap_mask<S: AsRef<str>>(names: &[S]) -> u64 {
    names
        .iter()
        .filter_map(|n| cap_bit(n.as_ref()))
        .fold(0, |m, b| m | 1 << b)
}
