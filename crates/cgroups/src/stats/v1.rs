// SPDX-License-Identifier: Apache-2.0
//! cgroup v1 statistics readers. Optional files (memsw without swap accounting, kmem on new
//! kernels, CFQ counters) read as zero.

use std::collections::BTreeMap;

use super::{BlkioEntry, Cpu, CpuUsage, Hugetlb, Memory, MemoryEntry};
use crate::error::Result;
use crate::fsio::{CgDir, keyed};

/// `cpuacct.stat` counts USER_HZ ticks, which is 100 on Linux.
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

pub(super) fn cpu(dir: CgDir<'_>, cpu: &mut Cpu) -> Result<()> {
    let st = dir.read_keyed("cpu.stat")?;
    cpu.throttling.periods = keyed(&st, "nr_periods");
    cpu.throttling.throttled_periods = keyed(&st, "nr_throttled");
    cpu.throttling.throttled_time = keyed(&st, "throttled_time");
    Ok(())
}

pub(super) fn cpuacct(dir: CgDir<'_>, usage: &mut CpuUsage) -> Result<()> {
    usage.total = dir.read_u64("cpuacct.usage")?;
    usage.percpu = dir
        .read("cpuacct.usage_percpu")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    if let Ok(all) = dir.try_read("cpuacct.usage_all") {
        for line in all.lines().skip(1) {
            let f: Vec<u64> = line
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if let [_, user, system] = f[..] {
                usage.percpu_user.push(user);
                usage.percpu_kernel.push(system);
            }
        }
    }
    let st = dir.read_keyed("cpuacct.stat")?;
    usage.user = keyed(&st, "user").saturating_mul(NS_PER_TICK);
    usage.kernel = keyed(&st, "system").saturating_mul(NS_PER_TICK);
    Ok(())
}

/// `<prefix>.{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}`; zero when absent.
fn entry(dir: CgDir<'_>, prefix: &str) -> Result<MemoryEntry> {
    let get = |f: &str| {
        dir.read_u64_opt(&format!("{prefix}.{f}"))
            .map(Option::unwrap_or_default)
    };
    Ok(MemoryEntry {
        usage: get("usage_in_bytes")?,
        max: get("max_usage_in_bytes")?,
        failcnt: get("failcnt")?,
        limit: get("limit_in_bytes")?,
    })
}

pub(super) fn memory(dir: CgDir<'_>, m: &mut Memory) -> Result<()> {
    m.usage = entry(dir, "memory")?;
    m.swap = entry(dir, "memory.memsw")?;
    m.kernel = entry(dir, "memory.kmem")?;
    m.kernel_tcp = entry(dir, "memory.kmem.tcp")?;
    m.raw = dir.read_keyed("memory.stat")?.into_iter().collect();
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    Ok(())
}

/// `8:0 Read 4096` lines (the `Total` line is skipped).
fn blkio_lines(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (dev, op, value) = (it.next()?, it.next()?, it.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The first non-empty of the CFQ, BFQ and throttle counters.
fn first_nonempty(dir: CgDir<'_>, suffix: &str) -> Vec<BlkioEntry> {
    ["blkio.", "blkio.bfq.", "blkio.throttle."]
        .iter()
        .filter_map(|p| dir.try_read(&format!("{p}{suffix}")).ok())
        .map(|t| blkio_lines(&t))
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

pub(super) fn blkio(dir: CgDir<'_>, b: &mut super::Blkio) -> Result<()> {
    b.io_service_bytes_recursive = first_nonempty(dir, "io_service_bytes_recursive");
    b.io_serviced_recursive = first_nonempty(dir, "io_serviced_recursive");
    Ok(())
}

/// Page sizes present as `hugetlb.<size>.usage_in_bytes`.
pub(super) fn hugetlb(dir: CgDir<'_>) -> Result<BTreeMap<String, Hugetlb>> {
    let mut out = BTreeMap::new();
    for size in super::v2::page_sizes(dir, "usage_in_bytes") {
        let get = |f: &str| {
            dir.read_u64_opt(&format!("hugetlb.{size}.{f}"))
                .map(Option::unwrap_or_default)
        };
        let h = Hugetlb {
            usage: get("usage_in_bytes")?,
            max: get("max_usage_in_bytes")?,
            failcnt: get("failcnt")?,
        };
        out.insert(size, h);
    }
    Ok(out)
}
