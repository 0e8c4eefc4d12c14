// SPDX-License-Identifier: Apache-2.0
//! Resource usage in the JSON shape of `runc events --stats` (the `data` object): field
//! names and `omitempty` behaviour follow runc's `types/events.go`, so tools that parse runc
//! output parse ours. Each controller is read from wherever it lives (v1 hierarchy or the
//! unified directory), so a hybrid host mixes both readers.

mod v1;
mod v2;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::manager::{Manager, Version};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// All statistics of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// CPU usage and throttling.
    pub cpu: Cpu,
    /// Memory usage, limits and the raw `memory.stat`.
    pub memory: Memory,
    /// Process counts.
    pub pids: Pids,
    /// Block I/O.
    pub blkio: Blkio,
    /// Per hugepage size (`2MB`...).
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

/// `cpu`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cpu {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// `cpu.usage` (nanoseconds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CpuUsage {
    /// Total CPU time.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU, kernel mode (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU, user mode (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Kernel mode.
    pub kernel: u64,
    /// User mode.
    pub user: u64,
}

/// `cpu.throttling`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    /// Enforcement periods.
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the group was throttled.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total throttled time (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// One memory counter (`usage`, `swap`, `kernel`, `kernelTCP`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryEntry {
    /// Limit (`u64::MAX`-ish when unlimited).
    pub limit: u64,
    /// Current usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// `memory`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Page cache.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory + swap (v1 memsw; v2 swap + memory, as runc reports it).
    pub swap: MemoryEntry,
    /// Kernel memory (v1).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// `pids`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pids {
    /// Processes now.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// Limit (0 = none).
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One blkio counter line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// Count.
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// `blkio`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    /// Bytes transferred.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// `hugetlb.<size>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hugetlb {
    /// Current usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

impl Manager {
    /// Reads the statistics of every available controller.
    pub fn stats(&self) -> Result<Stats> {
        self.require_enabled()?;
        let mut s = Stats::default();
        if let Some(t) = self.target_ro("cpu")? {
            match t.version {
                Version::V1 => v1::cpu(t.dir, &mut s.cpu)?,
                Version::V2 => v2::cpu(t.dir, &mut s.cpu)?,
            }
        }
        if let Some(t) = self
            .target_ro("cpuacct")?
            .filter(|t| t.version == Version::V1)
        {
            v1::cpuacct(t.dir, &mut s.cpu.usage)?;
        }
        if let Some(t) = self.target_ro("memory")? {
            match t.version {
                Version::V1 => v1::memory(t.dir, &mut s.memory)?,
                Version::V2 => v2::memory(t.dir, &mut s.memory)?,
            }
        }
        if let Some(t) = self.target_ro("pids")? {
            s.pids.current = t.dir.read_u64_opt("pids.current")?.unwrap_or(0);
            s.pids.limit = t
                .dir
                .read_u64_opt("pids.max")?
                .filter(|v| *v != u64::MAX)
                .unwrap_or(0);
        }
        match (self.target_ro("blkio")?, self.target_ro("io")?) {
            (Some(t), _) if t.version == Version::V1 => v1::blkio(t.dir, &mut s.blkio)?,
            (_, Some(t)) if t.version == Version::V2 => v2::io(t.dir, &mut s.blkio)?,
            _ => {}
        }
        if let Some(t) = self.target_ro("hugetlb")? {
            s.hugetlb = match t.version {
                Version::V1 => v1::hugetlb(t.dir)?,
                Version::V2 => v2::hugetlb(t.dir)?,
            };
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
