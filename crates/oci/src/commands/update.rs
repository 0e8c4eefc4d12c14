// SPDX-License-Identifier: Apache-2.0
//! pause, resume, update.

use std::io::Read;

use anyhow::Context;
use oci_spec::runtime::{LinuxPids, LinuxResources};
use stockade_runtime::Runtime;

use crate::cli::UpdateArgs;

/// `pause`.
pub fn pause(rt: &Runtime, id: &str) -> anyhow::Result<i32> {
    rt.pause(id)?;
    Ok(0)
}

/// `resume`.
pub fn resume(rt: &Runtime, id: &str) -> anyhow::Result<i32> {
    rt.resume(id)?;
    Ok(0)
}

/// Bytes with an optional k/m/g suffix; `-1` is unlimited.
fn bytes(flag: &str, s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches('b');
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: i64 = num
        .parse()
        .with_context(|| format!("--{flag} {s}: not a size"))?;
    Ok(if n < 0 { -1 } else { n.saturating_mul(mul) })
}

/// `update`: `--resources` JSON (file or `-`), then the flags on top.
pub fn update(rt: &Runtime, a: &UpdateArgs) -> anyhow::Result<i32> {
    let mut res = match &a.resources {
        Some(p) if p.as_os_str() == "-" => {
            let mut raw = Vec::new();
            std::io::stdin()
                .take(stockade_runtime::config::MAX_CONFIG_BYTES)
                .read_to_end(&mut raw)?;
            serde_json::from_slice(&raw).context("stdin: malformed resources")?
        }
        Some(p) => {
            let raw = stockade_runtime::config::read_bounded(p)?;
            serde_json::from_slice(&raw)
                .with_context(|| format!("{}: malformed resources", p.display()))?
        }
        None => LinuxResources::default(),
    };
    apply_flags(&mut res, a)?;
    rt.update(&a.id, &res)?;
    Ok(0)
}

fn apply_flags(res: &mut LinuxResources, a: &UpdateArgs) -> anyhow::Result<()> {
    if a.memory.is_some() || a.memory_swap.is_some() || a.memory_reservation.is_some() {
        let mut m = res.memory().unwrap_or_default();
        if let Some(s) = &a.memory {
            m.set_limit(Some(bytes("memory", s)?));
        }
        if let Some(s) = &a.memory_swap {
            m.set_swap(Some(bytes("memory-swap", s)?));
        }
        if let Some(s) = &a.memory_reservation {
            m.set_reservation(Some(bytes("memory-reservation", s)?));
        }
        res.set_memory(Some(m));
    }
    let cpu_flags = a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_shares.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some();
    if cpu_flags {
        let mut c = res.cpu().clone().unwrap_or_default();
        if a.cpu_quota.is_some() {
            c.set_quota(a.cpu_quota);
        }
        if a.cpu_period.is_some() {
            c.set_period(a.cpu_period);
        }
        if a.cpu_shares.is_some() {
            c.set_shares(a.cpu_shares);
        }
        if a.cpuset_cpus.is_some() {
            c.set_cpus(a.cpuset_cpus.clone());
        }
        if a.cpuset_mems.is_some() {
            c.set_mems(a.cpuset_mems.clone());
        }
        res.set_cpu(Some(c));
    }
    if let Some(n) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(n);
        res.set_pids(Some(p));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_sizes() {
        assert_eq!(bytes("memory", "64m").unwrap(), 64 << 20);
        assert_eq!(bytes("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(bytes("memory", "1024").unwrap(), 1024);
        assert_eq!(bytes("memory", "-1").unwrap(), -1);
        assert!(bytes("memory", "lots").is_err());
    }
}
