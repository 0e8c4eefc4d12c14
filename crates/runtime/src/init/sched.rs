// SPDX-License-Identifier: Apache-2.0
//! runtime-spec 1.2 scheduling attributes of the container process, applied in the final
//! steps while the process still has its privileges (`CAP_SYS_NICE` for real-time policies
//! and negative nice, `CAP_SYS_ADMIN` for the real-time I/O class): `process.ioPriority`
//! (`ioprio_set`), `process.scheduler` (`sched_setattr`), `linux.memoryPolicy`
//! (`set_mempolicy`) and `process.execCPUAffinity` (`final` here, `initial` when an exec
//! helper starts, before it joins the container's cgroup).

use oci_spec::runtime::{
    IOPriorityClass, LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType,
    MemoryPolicyModeType, Process, Spec,
};
use rustix::thread::CpuSet;
use stockade_sys::sched::{self, SchedAttr};

use super::error::{InitError, InitResult, IoStep, Step};

/// ioPriority, scheduler, memory policy and the final CPU affinity.
pub fn apply(p: &Process, spec: &Spec) -> InitResult<()> {
    if let Some(io) = p.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        let level = u32::try_from(io.priority()).unwrap_or(u32::MAX);
        sched::ioprio_set_self(class, level)
            .step(Step::Scheduling, &format!("ioPriority {}", io.class()))?;
    }
    if let Some(s) = p.scheduler() {
        sched::sched_setattr_self(&sched_attr(s))
            .step(Step::Scheduling, &format!("scheduler {}", s.policy()))?;
    }
    if let Some(m) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.memory_policy().as_ref())
    {
        let nodes = match m.nodes().as_deref() {
            Some(list) if !list.is_empty() => node_mask(list)?,
            _ => Vec::new(),
        };
        let flags = m
            .flags()
            .iter()
            .flatten()
            .fold(0, |acc, f| acc | mpol_flag(*f));
        sched::set_mempolicy(mpol_mode(m.mode()) | flags, &nodes)
            .step(Step::Scheduling, &format!("memoryPolicy {}", m.mode()))?;
    }
    if let Some(list) = p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.cpu_affinity_final().as_deref())
    {
        set_affinity(list, "execCPUAffinity.final")?;
    }
    Ok(())
}

/// `execCPUAffinity.initial`, for an exec helper before it joins the container's cgroup.
pub fn apply_initial_affinity(p: &Process) -> InitResult<()> {
    match p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().as_deref())
    {
        Some(list) => set_affinity(list, "execCPUAffinity.initial"),
        None => Ok(()),
    }
}

fn set_affinity(list: &str, what: &str) -> InitResult<()> {
    if list.is_empty() {
        return Ok(());
    }
    let mut set = CpuSet::new();
    for cpu in parse_list(list, CpuSet::MAX_CPU)
        .map_err(|e| InitError::new(Step::Scheduling, format!("{what} {list:?}: {e}")))?
    {
        set.set(cpu);
    }
    rustix::thread::sched_setaffinity(None, &set).step(Step::Scheduling, &format!("{what} {list}"))
}

fn sched_attr(s: &oci_spec::runtime::Scheduler) -> SchedAttr {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4, // not in mainline: the kernel says EINVAL
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    let mut a = SchedAttr::default();
    a.policy = policy;
    a.flags = flags;
    a.nice = s.nice().unwrap_or(0);
    a.priority = u32::try_from(s.priority().unwrap_or(0)).unwrap_or(0);
    a.runtime = s.runtime().unwrap_or(0);
    a.deadline = s.deadline().unwrap_or(0);
    a.period = s.period().unwrap_or(0);
    a
}

fn mpol_mode(m: MemoryPolicyModeType) -> i32 {
    match m {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    }
}

fn mpol_flag(f: MemoryPolicyFlagType) -> i32 {
    match f {
        MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
        MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
    }
}

/// Largest NUMA node number accepted in `memoryPolicy.nodes` (the kernel's MAX_NUMNODES
/// is at most 1024).
const MAX_NODE: usize = 1023;

fn node_mask(list: &str) -> InitResult<Vec<u64>> {
    let nodes = parse_list(list, MAX_NODE + 1).map_err(|e| {
        InitError::new(
            Step::Scheduling,
            format!("memoryPolicy.nodes {list:?}: {e}"),
        )
    })?;
    let words = nodes.iter().max().map_or(0, |m| m / 64 + 1);
    let mut mask = vec![0u64; words];
    for n in nodes {
        mask[n / 64] |= 1 << (n % 64);
    }
    Ok(mask)
}

/// `0-3,7` → [0, 1, 2, 3, 7]; every number below `limit`.
pub fn parse_list(list: &str, limit: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in list.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("{part:?} is not a number or range"))
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b || b >= limit {
            return Err(format!("{part:?} is out of range (< {limit})"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_list() {
        assert_eq!(parse_list("0-3,7", 64).unwrap(), vec![0, 1, 2, 3, 7]);
        assert!(parse_list("3-1", 64).is_err());
        assert!(parse_list("64", 64).is_err());
        assert!(parse_list("x", 64).is_err());
        assert_eq!(node_mask("0,65").unwrap(), vec![1, 2]);
    }

    #[test]
    fn test_sched_attr_from_spec() {
        let s: oci_spec::runtime::Scheduler = serde_json::from_value(serde_json::json!({
            "policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_RESET_ON_FORK"]
        }))
        .unwrap();
        let a = sched_attr(&s);
        assert_eq!((a.policy, a.nice, a.flags), (3, 5, 1));
    }
}
