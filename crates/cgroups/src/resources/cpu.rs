// SPDX-License-Identifier: Apache-2.0
//! CPU: shares/weight, CFS quota and period, burst, realtime, idle, and the cpuset lists.
//!
//! v2 `cpu.weight` comes from OCI shares with the conversion runc ≥ 1.3.2 and crun ≥ 1.23
//! use, which keeps the defaults aligned (1024 → 100) and the ends (2 → 1, 262144 → 10000):
//! `weight = ⌈10^((L² + 125·L)/612 − 7/34)⌉`, `L = log2(shares)`. `cpu.max` is written as
//! `"<quota|max> [period]"`; when only the period changes on a live container the current
//! quota is read back so it is kept. A value of 0 means "unset" for shares, quota, period.

use oci_spec::runtime::{LinuxCpu, LinuxResources};
use rustix::io::Errno;

use super::{Warning, checked, target_or_warn};
use crate::error::{CgroupError, Result};
use crate::fsio::{CgDir, is_errno};
use crate::manager::{Manager, Version};

pub(super) fn apply(
    m: &Manager,
    r: &LinuxResources,
    live: bool,
    w: &mut Vec<Warning>,
) -> Result<()> {
    let Some(cpu) = r.cpu() else { return Ok(()) };
    cpuset(m, cpu, w)?;
    let wanted = cpu.shares().is_some_and(|v| v != 0)
        || cpu.quota().is_some_and(|v| v != 0)
        || cpu.period().is_some_and(|v| v != 0)
        || cpu.burst().is_some()
        || cpu.realtime_runtime().is_some_and(|v| v != 0)
        || cpu.realtime_period().is_some_and(|v| v != 0)
        || cpu.idle().is_some();
    if !wanted {
        return Ok(());
    }
    let Some(t) = target_or_warn(m, "cpu", "cpu limits", w)? else {
        return Ok(());
    };
    match t.version {
        Version::V1 => v1(t.dir, cpu),
        Version::V2 => v2(t.dir, cpu, live),
    }
}

fn cpuset(m: &Manager, cpu: &LinuxCpu, w: &mut Vec<Warning>) -> Result<()> {
    let cpus = cpu.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = cpu.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_none() && mems.is_none() {
        return Ok(());
    }
    let Some(t) = target_or_warn(m, "cpuset", "cpu.cpus/cpu.mems", w)? else {
        return Ok(());
    };
    let list = |c: char| c.is_ascii_digit() || c == ',' || c == '-';
    if let Some(v) = cpus {
        t.dir.write("cpuset.cpus", checked("cpu.cpus", v, list)?)?;
    }
    if let Some(v) = mems {
        t.dir.write("cpuset.mems", checked("cpu.mems", v, list)?)?;
    }
    Ok(())
}

fn v1(dir: CgDir<'_>, cpu: &LinuxCpu) -> Result<()> {
    if let Some(s) = cpu.shares().filter(|v| *v != 0) {
        dir.write("cpu.shares", &s.to_string())?;
    }
    bandwidth(
        dir,
        ("cpu.cfs_period_us", cpu.period()),
        ("cpu.cfs_quota_us", cpu.quota()),
    )?;
    if let Some(b) = cpu.burst() {
        dir.write("cpu.cfs_burst_us", &b.to_string())?;
    }
    bandwidth(
        dir,
        ("cpu.rt_period_us", cpu.realtime_period()),
        ("cpu.rt_runtime_us", cpu.realtime_runtime()),
    )?;
    if let Some(i) = cpu.idle() {
        dir.write("cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// Period then quota; when the kernel refuses the new period against the old quota
/// (`EINVAL`) and a quota follows, write the quota and then the period again (runc).
fn bandwidth(
    dir: CgDir<'_>,
    period: (&str, Option<u64>),
    quota: (&str, Option<i64>),
) -> Result<()> {
    let (pfile, p) = (period.0, period.1.filter(|v| *v != 0));
    let (qfile, q) = (quota.0, quota.1.filter(|v| *v != 0));
    let mut retry = None;
    if let Some(p) = p {
        match dir.try_write(pfile, &p.to_string()) {
            Ok(()) => {}
            Err(e) if is_errno(&e, &[Errno::INVAL]) && q.is_some() => retry = Some(p),
            Err(e) => return Err(dir.write_error(pfile, &p.to_string(), e)),
        }
    }
    if let Some(q) = q {
        dir.write(qfile, &q.to_string())?;
    }
    if let Some(p) = retry {
        dir.write(pfile, &p.to_string())?;
    }
    Ok(())
}

fn v2(dir: CgDir<'_>, cpu: &LinuxCpu, live: bool) -> Result<()> {
    if cpu.realtime_runtime().is_some_and(|v| v != 0)
        || cpu.realtime_period().is_some_and(|v| v != 0)
    {
        return Err(CgroupError::Unsupported {
            what: "cpu realtime runtime/period".into(),
            version: "cgroup v2",
        });
    }
    if let Some(s) = cpu.shares().filter(|v| *v != 0) {
        dir.write("cpu.weight", &shares_to_weight(s).to_string())?;
    }
    let quota = cpu.quota().filter(|v| *v != 0);
    let period = cpu.period().filter(|v| *v != 0);
    if quota.is_some() || period.is_some() {
        let q = match quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_string(),
            None if live => current_quota(dir)?,
            None => "max".to_string(),
        };
        let value = match period {
            Some(p) => format!("{q} {p}"),
            None => q,
        };
        dir.write("cpu.max", &value)?;
    }
    if let Some(b) = cpu.burst() {
        dir.write("cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = cpu.idle() {
        dir.write("cpu.idle", &i.to_string())?;
    }
    Ok(())
}

fn current_quota(dir: CgDir<'_>) -> Result<String> {
    let text = dir.read("cpu.max")?;
    Ok(text.split_whitespace().next().unwrap_or("max").to_string())
}

/// OCI cpu shares (2..=262144) → v2 `cpu.weight` (1..=10000); 0 stays 0 (unset).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1 | 2 => 1,
        s if s >= 262_144 => 10_000,
        s => {
            let l = f64::from(u32::try_from(s).unwrap_or(262_144)).log2();
            let target = 10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0);
            // Smallest integer weight >= target (the ceiling), without a float→int cast.
            let (mut lo, mut hi) = (1u32, 10_000u32);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if f64::from(mid) >= target {
                    hi = mid
                } else {
                    lo = mid + 1
                }
            }
            u64::from(lo)
        }
    }
}
