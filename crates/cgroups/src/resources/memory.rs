// SPDX-License-Identifier: Apache-2.0
//! Memory: limit, reservation, swap, kernelTCP, swappiness, disableOOMKiller.
//!
//! OCI `swap` is memory+swap. v1 writes it to `memory.memsw.limit_in_bytes`, ordered against
//! `memory.limit_in_bytes` so the kernel never sees memsw < memory (try the limit first; on
//! `EINVAL` write memsw first). v2 has a separate swap counter: `memory.swap.max = swap −
//! limit` (runc's conversion: -1 stays max, swap == limit means no swap, swap without a
//! limit or below it is an error). A value of 0 means "unset" (runc). Kernel memory limits
//! are obsolete (Linux 5.4) and ignored with a warning, as runc does.

use oci_spec::runtime::{LinuxMemory, LinuxResources};
use rustix::io::Errno;

use super::{Warning, target_or_warn, v2_limit};
use crate::error::{CgroupError, Result};
use crate::fsio::{CgDir, is_errno};
use crate::manager::{Manager, Target, Version};

const V1_LIMIT: &str = "memory.limit_in_bytes";
const V1_MEMSW: &str = "memory.memsw.limit_in_bytes";
const V2_SWAP: &str = "memory.swap.max";

pub(super) fn apply(
    m: &Manager,
    r: &LinuxResources,
    live: bool,
    w: &mut Vec<Warning>,
) -> Result<()> {
    let Some(mem) = r.memory() else { return Ok(()) };
    #[allow(deprecated)]
    if mem.kernel().is_some() {
        w.push(Warning::Ignored {
            what: "memory.kernel",
            why: "kernel memory limits are obsolete",
        });
    }
    let wanted = mem.limit().is_some()
        || mem.reservation().is_some()
        || mem.swap().is_some()
        || mem.kernel_tcp().is_some()
        || mem.swappiness().is_some()
        || mem.disable_oom_killer().is_some();
    if !wanted {
        return Ok(());
    }
    let Some(t) = target_or_warn(m, "memory", "memory limits", w)? else {
        return Ok(());
    };
    if live && mem.check_before_update() == Some(true) {
        check_usage(t, mem.limit())?;
    }
    match t.version {
        Version::V1 => v1(t.dir, mem, live),
        Version::V2 => v2(t.dir, mem, w),
    }
}

/// `checkBeforeUpdate`: refuse a limit below what the container already uses.
fn check_usage(t: Target<'_>, limit: Option<i64>) -> Result<()> {
    let Some(limit) = limit.and_then(|l| u64::try_from(l).ok()).filter(|l| *l > 0) else {
        return Ok(());
    };
    let usage = t.dir.read_u64(match t.version {
        Version::V1 => "memory.usage_in_bytes",
        Version::V2 => "memory.current",
    })?;
    if limit < usage {
        return Err(CgroupError::InvalidValue {
            what: "memory limit (below current usage)",
            value: limit.to_string(),
        });
    }
    Ok(())
}

fn nonzero(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

fn v1(dir: CgDir<'_>, mem: &LinuxMemory, live: bool) -> Result<()> {
    let limit = nonzero(mem.limit());
    let mut swap = nonzero(mem.swap());
    if limit == Some(-1) && swap.is_none() {
        swap = Some(-1);
    }
    match (limit, swap) {
        (Some(l), Some(s)) => match dir.try_write(V1_LIMIT, &l.to_string()) {
            Ok(()) => write_memsw(dir, s)?,
            Err(e) if is_errno(&e, &[Errno::INVAL, Errno::BUSY]) => {
                write_memsw(dir, s)?;
                dir.write(V1_LIMIT, &l.to_string())?;
            }
            Err(e) => return Err(dir.write_error(V1_LIMIT, &l.to_string(), e)),
        },
        (Some(l), None) => dir.write(V1_LIMIT, &l.to_string())?,
        (None, Some(s)) => write_memsw(dir, s)?,
        (None, None) => {}
    }
    if let Some(v) = nonzero(mem.reservation()) {
        dir.write("memory.soft_limit_in_bytes", &v.to_string())?;
    }
    if let Some(v) = nonzero(mem.kernel_tcp()) {
        dir.write("memory.kmem.tcp.limit_in_bytes", &v.to_string())?;
    }
    if let Some(v) = mem.swappiness() {
        if v > 100 {
            return Err(CgroupError::InvalidValue {
                what: "memory swappiness",
                value: v.to_string(),
            });
        }
        dir.write("memory.swappiness", &v.to_string())?;
    }
    match mem.disable_oom_killer() {
        Some(true) => dir.write("memory.oom_control", "1")?,
        Some(false) if live => dir.write("memory.oom_control", "0")?,
        _ => {}
    }
    Ok(())
}

/// Unlimited swap needs no memsw file (hosts without swap accounting lack it).
fn write_memsw(dir: CgDir<'_>, swap: i64) -> Result<()> {
    match dir.try_write(V1_MEMSW, &swap.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && swap == -1 => Ok(()),
        Err(e) => Err(dir.write_error(V1_MEMSW, &swap.to_string(), e)),
    }
}

fn v2(dir: CgDir<'_>, mem: &LinuxMemory, w: &mut Vec<Warning>) -> Result<()> {
    let limit = mem.limit().unwrap_or(0);
    let swap_in = mem.swap().unwrap_or(0);
    let swap = swap_to_v2(swap_in, limit)?;
    let swap_value = match swap {
        0 if swap_in > 0 => Some("0".to_string()),
        0 => None,
        v => Some(v2_limit(v)),
    };
    if let Some(s) = swap_value {
        match dir.try_write(V2_SWAP, &s) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && (s == "max" || s == "0") => {}
            Err(e) => return Err(dir.write_error(V2_SWAP, &s, e)),
        }
    }
    if limit != 0 {
        dir.write("memory.max", &v2_limit(limit))?;
    }
    if let Some(v) = nonzero(mem.reservation()) {
        dir.write("memory.low", &v2_limit(v))?;
    }
    if mem.kernel_tcp().is_some() {
        w.push(Warning::Ignored {
            what: "memory.kernelTCP",
            why: "not available on cgroup v2",
        });
    }
    if mem.swappiness().is_some() {
        w.push(Warning::Ignored {
            what: "memory.swappiness",
            why: "not available on cgroup v2",
        });
    }
    if mem.disable_oom_killer() == Some(true) {
        w.push(Warning::Ignored {
            what: "memory.disableOOMKiller",
            why: "not available on cgroup v2",
        });
    }
    Ok(())
}

/// OCI memory+swap → v2 `memory.swap.max` (-1 = max, 0 = leave alone).
pub(crate) fn swap_to_v2(swap: i64, limit: i64) -> Result<i64> {
    let bad = |what| {
        Err(CgroupError::InvalidValue {
            what,
            value: swap.to_string(),
        })
    };
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        return bad("memory swap (a swap limit needs a memory limit)");
    }
    if limit < 0 || swap < 0 {
        return bad("memory swap");
    }
    if swap < limit {
        return bad("memory swap (memory+swap below the memory limit)");
    }
    Ok(swap - limit)
}
