// SPDX-License-Identifier: Apache-2.0
//! The last privileged steps before `execve`: rlimits, supplementary groups, gid/uid,
//! capability sets (bounding first, then permitted/effective/inheritable, then ambient)
//! and no_new_privs.

use oci_spec::runtime::{LinuxCapabilities, PosixRlimit, PosixRlimitType, User};
use rustix::process::{Gid, Resource, Rlimit, Uid};
use rustix::thread::{CapabilitySet, CapabilitySets};

use super::error::{InitError, InitResult, IoStep, Step};
use crate::caps;

/// The kernel resource of an OCI rlimit type, with its name for messages.
fn resource(t: PosixRlimitType) -> (Resource, &'static str) {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => (Resource::Cpu, "RLIMIT_CPU"),
        T::RlimitFsize => (Resource::Fsize, "RLIMIT_FSIZE"),
        T::RlimitData => (Resource::Data, "RLIMIT_DATA"),
        T::RlimitStack => (Resource::Stack, "RLIMIT_STACK"),
        T::RlimitCore => (Resource::Core, "RLIMIT_CORE"),
        T::RlimitRss => (Resource::Rss, "RLIMIT_RSS"),
        T::RlimitNproc => (Resource::Nproc, "RLIMIT_NPROC"),
        T::RlimitNofile => (Resource::Nofile, "RLIMIT_NOFILE"),
        T::RlimitMemlock => (Resource::Memlock, "RLIMIT_MEMLOCK"),
        T::RlimitAs => (Resource::As, "RLIMIT_AS"),
        T::RlimitLocks => (Resource::Locks, "RLIMIT_LOCKS"),
        T::RlimitSigpending => (Resource::Sigpending, "RLIMIT_SIGPENDING"),
        T::RlimitMsgqueue => (Resource::Msgqueue, "RLIMIT_MSGQUEUE"),
        T::RlimitNice => (Resource::Nice, "RLIMIT_NICE"),
        T::RlimitRtprio => (Resource::Rtprio, "RLIMIT_RTPRIO"),
        T::RlimitRttime => (Resource::Rttime, "RLIMIT_RTTIME"),
    }
}

fn has_cap_effective(bit: u32) -> bool {
    rustix::thread::capabilities(None).is_ok_and(|c| c.effective.bits() & (1u64 << bit) != 0)
}

/// Applies every rlimit; a refusal names the rlimit and why.
pub fn apply_rlimits(limits: &[PosixRlimit]) -> InitResult<()> {
    for l in limits {
        let (res, name) = resource(l.typ());
        let lim = |v: u64| (v != u64::MAX).then_some(v);
        let want = Rlimit {
            current: lim(l.soft()),
            maximum: lim(l.hard()),
        };
        let what = format!("{name} {}", l.hard());
        if let Err(e) = rustix::process::setrlimit(res, want) {
            let cur = rustix::process::getrlimit(res);
            let above = match (cur.maximum, lim(l.hard())) {
                (Some(max), None) => Some(max),
                (Some(max), Some(h)) if h > max => Some(max),
                _ => None,
            };
            let sys_resource = caps::number("CAP_SYS_RESOURCE").unwrap_or(24);
            if let Some(max) = above.filter(|_| !has_cap_effective(sys_resource)) {
                return Err(InitError::new(
                    Step::Rlimit,
                    format!("{what}: above the hard limit {max} and CAP_SYS_RESOURCE is missing"),
                ));
            }
            if l.soft() > l.hard() {
                return Err(InitError::new(
                    Step::Rlimit,
                    format!("{what}: soft limit {} above hard limit", l.soft()),
                ));
            }
            return Err(InitError::io(Step::Rlimit, what, &e.into()));
        }
    }
    Ok(())
}

fn cap_set(c: &Option<oci_spec::runtime::Capabilities>) -> InitResult<CapabilitySet> {
    let names: Vec<String> = c.iter().flatten().map(ToString::to_string).collect();
    caps::to_set(names.iter().map(String::as_str))
        .map_err(|n| InitError::new(Step::Capabilities, format!("unknown capability {n}")))
}

/// The capability sets a process should end with.
#[derive(Debug, Clone, Copy)]
pub struct CapPlan {
    /// Bounding set.
    pub bounding: CapabilitySet,
    /// Effective.
    pub effective: CapabilitySet,
    /// Permitted.
    pub permitted: CapabilitySet,
    /// Inheritable.
    pub inheritable: CapabilitySet,
    /// Ambient.
    pub ambient: CapabilitySet,
}

impl CapPlan {
    /// From the spec (absent sets are empty).
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> InitResult<CapPlan> {
        let none = CapabilitySet::empty();
        let Some(c) = c else {
            return Ok(CapPlan {
                bounding: none,
                effective: none,
                permitted: none,
                inheritable: none,
                ambient: none,
            });
        };
        Ok(CapPlan {
            bounding: cap_set(c.bounding())?,
            effective: cap_set(c.effective())?,
            permitted: cap_set(c.permitted())?,
            inheritable: cap_set(c.inheritable())?,
            ambient: cap_set(c.ambient())?,
        })
    }
}

/// Drops every capability outside the bounding set (needs CAP_SETPCAP, so before the uid
/// change).
pub fn drop_bounding(plan: &CapPlan) -> InitResult<()> {
    for bit in 0..=caps::last_cap().min(63) {
        let one = CapabilitySet::from_bits_retain(1u64 << bit);
        if !plan.bounding.contains(one) {
            match rustix::thread::remove_capability_from_bounding_set(one) {
                Err(rustix::io::Errno::INVAL) => {} // unknown to this kernel
                other => other.step(Step::Capabilities, &format!("drop bounding cap {bit}"))?,
            }
        }
    }
    Ok(())
}

/// Sets supplementary groups, gid and uid, keeping the permitted set across the uid change
/// (`PR_SET_KEEPCAPS`).
pub fn set_user(user: &User) -> InitResult<()> {
    let gids: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match rustix::thread::set_thread_groups(&gids) {
        // setgroups is denied in a rootless user namespace: fine when none are asked for
        Err(rustix::io::Errno::PERM) if gids.is_empty() => {}
        other => other.step(Step::User, "setgroups")?,
    }
    rustix::thread::set_keep_capabilities(true).step(Step::User, "PR_SET_KEEPCAPS")?;
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .step(Step::User, &format!("setresgid {}", user.gid()))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .step(Step::User, &format!("setresuid {}", user.uid()))?;
    rustix::thread::set_keep_capabilities(false).step(Step::User, "PR_SET_KEEPCAPS")?;
    Ok(())
}

/// Sets permitted/effective/inheritable, then raises the ambient set (a capability the
/// kernel refuses to raise is skipped, as runc does).
pub fn set_caps(plan: &CapPlan) -> InitResult<()> {
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: plan.effective,
            permitted: plan.permitted,
            inheritable: plan.inheritable,
        },
    )
    .step(Step::Capabilities, "capset")?;
    rustix::thread::clear_ambient_capability_set().step(Step::Capabilities, "clear ambient")?;
    for bit in 0..64u32 {
        let one = CapabilitySet::from_bits_retain(1u64 << bit);
        if plan.ambient.contains(one)
            && rustix::thread::configure_capability_in_ambient_set(one, true).is_err()
        {
            tracing::debug!("ambient capability {bit} not raised");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cap_plan_from_spec() {
        let c: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"]
        }))
        .unwrap();
        let p = CapPlan::from_spec(Some(&c)).unwrap();
        assert_eq!(p.bounding.bits(), (1 << 5) | 1);
        assert_eq!(p.effective.bits(), 1 << 5);
        assert!(p.ambient.is_empty());
    }

    #[test]
    fn test_rlimit_above_hard_is_explained() {
        let cur = rustix::process::getrlimit(Resource::Nofile);
        let Some(max) = cur.maximum else { return };
        if has_cap_effective(24) {
            return; // root with CAP_SYS_RESOURCE may raise it
        }
        let l: PosixRlimit = serde_json::from_value(serde_json::json!({
            "type": "RLIMIT_NOFILE", "soft": max + 1, "hard": max + 1
        }))
        .unwrap();
        let err = apply_rlimits(&[l]).unwrap_err().to_string();
        assert!(
            err.contains("RLIMIT_NOFILE") && err.contains("above the hard limit"),
            "{err}"
        );
    }
}
