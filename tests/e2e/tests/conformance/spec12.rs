// SPDX-License-Identifier: Apache-2.0
//! runtime-spec 1.2 process and Linux fields beyond ioPriority/personality/domainname:
//! `scheduler`, `execCPUAffinity`, `memoryPolicy`, and the refusal of values a runtime
//! cannot honour (`netDevices`, personality flags).

use anyhow::{Context, Result, ensure};
use serde_json::json;
use stockade_e2e::Bundle;
use stockade_e2e::harness::{Case, case};

use crate::{create_fails, rt};

pub const CASES: &[Case] = &[
    case(
        "config.md#scheduler",
        "FIELD",
        "scheduler policy and nice are applied (flags in the spec's spelling)",
        &[],
        scheduler,
    ),
    case(
        "config.md#cpu-affinity",
        "FIELD",
        "execCPUAffinity.final is the process's CPU affinity",
        &[],
        cpu_affinity,
    ),
    case(
        "config-linux.md#memory-policy",
        "FIELD",
        "memoryPolicy is the process's NUMA policy",
        &[],
        memory_policy,
    ),
    case(
        "config.md#valid-values",
        "MUST",
        "netDevices and personality flags this runtime cannot apply are refused",
        &[],
        unsupported_refused,
    ),
];

/// Runs `args` (no probe) in a fresh bundle edited by `edit`; its stdout.
fn output_of(args: &[&str], edit: impl FnOnce(&mut Bundle)) -> Result<String> {
    let rt = rt()?;
    let mut b = Bundle::new("spec12")?;
    b.args(args);
    edit(&mut b);
    let _g = rt.guard(b.id());
    let o = rt.run(&b)?;
    o.check()?;
    Ok(o.stdout_now())
}

/// Field `n` (1-based, as proc(5) counts) of a `/proc/<pid>/stat` line.
fn stat_field(stat: &str, n: usize) -> Option<i64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

fn scheduler() -> Result<()> {
    let stat = output_of(&["/bin/cat", "/proc/self/stat"], |b| {
        b.set(
            "/process/scheduler",
            json!({ "policy": "SCHED_BATCH", "nice": 7, "flags": ["SCHED_FLAG_RESET_ON_FORK"] }),
        );
    })?;
    let (nice, policy) = (stat_field(&stat, 19), stat_field(&stat, 41));
    ensure!(
        nice == Some(7) && policy == Some(3),
        "nice {nice:?} policy {policy:?} (want 7, SCHED_BATCH = 3): {stat}"
    );
    Ok(())
}

fn status_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn cpu_affinity() -> Result<()> {
    let status = output_of(&["/bin/cat", "/proc/self/status"], |b| {
        b.set("/process/execCPUAffinity", json!({ "final": "0" }));
    })?;
    let cpus = status_line(&status, "Cpus_allowed_list:");
    ensure!(cpus == "0", "Cpus_allowed_list {cpus:?} (want 0)");
    Ok(())
}

fn memory_policy() -> Result<()> {
    if !std::path::Path::new("/proc/self/numa_maps").exists() {
        stockade_e2e::skip!("no NUMA support in this kernel (/proc/self/numa_maps)");
    }
    let maps = output_of(&["/bin/cat", "/proc/self/numa_maps"], |b| {
        b.set(
            "/linux/memoryPolicy",
            json!({ "mode": "MPOL_BIND", "nodes": "0" }),
        );
    })?;
    let first = maps.lines().next().context("empty numa_maps")?;
    ensure!(
        maps.lines()
            .all(|l| l.split_whitespace().nth(1) == Some("bind:0")),
        "numa_maps policy (want bind:0 everywhere): {first}"
    );
    Ok(())
}

fn unsupported_refused() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("netdev")?;
    b.set("/linux/netDevices", json!({ "lo": { "name": "e2e0" } }));
    create_fails(&rt, &b).context("netDevices")?;
    let mut b = Bundle::new("persflags")?;
    b.set(
        "/linux/personality",
        json!({ "domain": "LINUX", "flags": ["E2E_FLAG"] }),
    );
    create_fails(&rt, &b).context("personality flags")
}
