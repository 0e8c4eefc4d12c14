// SPDX-License-Identifier: Apache-2.0
//! cgroup v2 statistics readers (`cpu.stat` in µs, `memory.*`, `io.stat`, `hugetlb.*`).

use std::collections::BTreeMap;

use super::{Blkio, BlkioEntry, Cpu, Hugetlb, Memory};
use crate::error::Result;
use crate::fsio::{CgDir, keyed};

pub(super) fn cpu(dir: CgDir<'_>, cpu: &mut Cpu) -> Result<()> {
    let st = dir.read_keyed("cpu.stat")?;
    cpu.usage.total = keyed(&st, "usage_usec").saturating_mul(1000);
    cpu.usage.user = keyed(&st, "user_usec").saturating_mul(1000);
    cpu.usage.kernel = keyed(&st, "system_usec").saturating_mul(1000);
    cpu.throttling.periods = keyed(&st, "nr_periods");
    cpu.throttling.throttled_periods = keyed(&st, "nr_throttled");
    cpu.throttling.throttled_time = keyed(&st, "throttled_usec").saturating_mul(1000);
    Ok(())
}

pub(super) fn memory(dir: CgDir<'_>, m: &mut Memory) -> Result<()> {
    let get = |f: &str| dir.read_u64_opt(f).map(Option::unwrap_or_default);
    m.usage.usage = dir.read_u64("memory.current")?;
    m.usage.limit = dir.read_u64("memory.max")?;
    m.usage.max = get("memory.peak")?;
    if let Ok(ev) = dir.try_read("memory.events") {
        m.usage.failcnt = keyed(&crate::fsio::parse_keyed(&ev), "max");
    }
    // runc reports v2 swap as memory + swap, comparable with v1 memsw.
    if let Some(swap) = dir.read_u64_opt("memory.swap.current")? {
        m.swap.usage = swap.saturating_add(m.usage.usage);
        m.swap.limit = get("memory.swap.max")?;
        if m.swap.limit != u64::MAX {
            m.swap.limit = m.swap.limit.saturating_add(m.usage.limit);
        }
    }
    m.raw = dir.read_keyed("memory.stat")?.into_iter().collect();
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    Ok(())
}

/// `8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...` → Read/Write entries.
pub(super) fn io(dir: CgDir<'_>, b: &mut Blkio) -> Result<()> {
    let Some(text) = dir.try_read("io.stat").ok() else {
        return Ok(());
    };
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    Ok(())
}

/// Page sizes `S` for which `hugetlb.S.<suffix>` exists (not the `rsvd` files).
pub(super) fn page_sizes(dir: CgDir<'_>, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name
                .strip_prefix("hugetlb.")?
                .strip_suffix(&format!(".{suffix}"))?
                .to_string();
            (!size.contains('.')).then_some(size)
        })
        .collect();
    out.sort();
    out
}

pub(super) fn hugetlb(dir: CgDir<'_>) -> Result<BTreeMap<String, Hugetlb>> {
    let mut out = BTreeMap::new();
    for size in page_sizes(dir, "current") {
        let usage = dir.read_u64(&format!("hugetlb.{size}.current"))?;
        let events = dir
            .try_read(&format!("hugetlb.{size}.events"))
            .unwrap_or_default();
        let failcnt = keyed(&crate::fsio::parse_keyed(&events), "max");
        out.insert(
            size,
            Hugetlb {
                usage,
                max: 0,
                failcnt,
            },
        );
    }
    Ok(out)
}
