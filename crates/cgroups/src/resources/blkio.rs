// SPDX-License-Identifier: Apache-2.0
//! Block I/O: weights and throttles.
//!
//! v1: `blkio.weight` (CFQ) or, when absent, `blkio.bfq.weight` (BFQ, the only proportional
//! scheduler left in Linux ≥ 5.0); per-device `weight_device` likewise; `blkio.throttle.*`.
//! v2: `io.bfq.weight` when BFQ is there (same 1..=1000 scale), else `io.weight` with runc's
//! conversion `1 + (w − 10)·9999/990`; throttles become `io.max` lines
//! (`8:0 rbps=1048576`, a rate of 0 = `max`, as 0 removes a v1 throttle). Leaf weights only
//! exist with CFQ: a warning when the file is missing.

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

use super::Warning;
use crate::error::Result;
use crate::fsio::CgDir;
use crate::manager::{Manager, Version};

pub(super) fn apply(m: &Manager, r: &LinuxResources, w: &mut Vec<Warning>) -> Result<()> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let nonempty = |v: &Option<Vec<LinuxThrottleDevice>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let wanted = b.weight().is_some_and(|v| v != 0)
        || b.leaf_weight().is_some_and(|v| v != 0)
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || nonempty(b.throttle_read_bps_device())
        || nonempty(b.throttle_write_bps_device())
        || nonempty(b.throttle_read_iops_device())
        || nonempty(b.throttle_write_iops_device());
    if !wanted {
        return Ok(());
    }
    let target = match m.target("blkio")? {
        Some(t) => Some(t),
        None => m.target("io")?,
    };
    let Some(t) = target else {
        w.push(Warning::NoController {
            what: "blockIO",
            controller: "blkio/io",
        });
        return Ok(());
    };
    match t.version {
        Version::V1 => v1(t.dir, b, w),
        Version::V2 => v2(t.dir, b, w),
    }
}

/// Writes to `file`, or to `fallback` when `file` does not exist.
fn either(dir: CgDir<'_>, file: &str, fallback: &str, value: &str) -> Result<()> {
    match dir.try_write(file, value) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => dir.write(fallback, value),
        Err(e) => Err(dir.write_error(file, value, e)),
    }
}

/// Writes a CFQ-only file; its absence is a warning.
fn cfq_only(dir: CgDir<'_>, file: &str, value: &str, w: &mut Vec<Warning>) -> Result<()> {
    match dir.try_write(file, value) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            w.push(Warning::Ignored {
                what: "blockIO.leafWeight",
                why: "needs the CFQ I/O scheduler",
            });
            Ok(())
        }
        Err(e) => Err(dir.write_error(file, value, e)),
    }
}

fn throttles(
    b: &LinuxBlockIo,
) -> [(
    &'static str,
    &'static str,
    &Option<Vec<LinuxThrottleDevice>>,
); 4] {
    [
        (
            "blkio.throttle.read_bps_device",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            "riops",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ]
}

fn v1(dir: CgDir<'_>, b: &LinuxBlockIo, w: &mut Vec<Warning>) -> Result<()> {
    if let Some(v) = b.weight().filter(|v| *v != 0) {
        either(dir, "blkio.weight", "blkio.bfq.weight", &v.to_string())?;
    }
    if let Some(v) = b.leaf_weight().filter(|v| *v != 0) {
        cfq_only(dir, "blkio.leaf_weight", &v.to_string(), w)?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(v) = d.weight() {
            let line = format!("{}:{} {v}", d.major(), d.minor());
            either(dir, "blkio.weight_device", "blkio.bfq.weight_device", &line)?;
        }
        if let Some(v) = d.leaf_weight() {
            cfq_only(
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {v}", d.major(), d.minor()),
                w,
            )?;
        }
    }
    for (file, _, list) in throttles(b) {
        let lines: Vec<String> = list
            .iter()
            .flatten()
            .map(|t| format!("{}:{} {}", t.major(), t.minor(), t.rate()))
            .collect();
        dir.write_each(file, &lines)?;
    }
    Ok(())
}

fn v2(dir: CgDir<'_>, b: &LinuxBlockIo, w: &mut Vec<Warning>) -> Result<()> {
    if let Some(v) = b.weight().filter(|v| *v != 0) {
        weight_v2(dir, "", v)?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(v) = d.weight() {
            weight_v2(dir, &format!("{}:{} ", d.major(), d.minor()), v)?;
        }
    }
    if b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
    {
        w.push(Warning::Ignored {
            what: "blockIO.leafWeight",
            why: "not available on cgroup v2",
        });
    }
    let mut lines = Vec::new();
    for (_, key, list) in throttles(b) {
        for t in list.iter().flatten() {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            lines.push(format!("{}:{} {key}={rate}", t.major(), t.minor()));
        }
    }
    dir.write_each("io.max", &lines)
}

/// `io.bfq.weight` (native scale) when BFQ is there, else `io.weight` (converted).
fn weight_v2(dir: CgDir<'_>, device: &str, weight: u16) -> Result<()> {
    let bfq = format!("{device}{weight}");
    match dir.try_write("io.bfq.weight", &bfq) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => dir.write(
            "io.weight",
            &format!("{device}{}", blkio_weight_to_io(weight)),
        ),
        Err(e) => Err(dir.write_error("io.bfq.weight", &bfq, e)),
    }
}

/// v1 blkio weight (10..=1000) → v2 io.weight (1..=10000).
pub(crate) fn blkio_weight_to_io(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    (1 + u64::from(weight.saturating_sub(10)) * 9999 / 990).min(10_000)
}
