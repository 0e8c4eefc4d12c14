// SPDX-License-Identifier: Apache-2.0
//! Device access rules.
//!
//! OCI `linux.resources.devices` is an ordered list of allow/deny rules applied on top of a
//! fresh cgroup (which allows everything). We replay it on a model of the v1 devices
//! controller ([`DeviceState`]: a default behaviour plus per-(type, major, minor) exceptions,
//! with the kernel's exact-key add/remove rules), then
//! * on v1 write the model: `a` to `devices.deny` (or `devices.allow`) and one exception per
//!   write; a live update from a deny-by-default state only writes the difference, so running
//!   processes never see a window where everything is denied;
//! * on v2 compile the model to a `BPF_PROG_TYPE_CGROUP_DEVICE` program ([`bpf`]) whose
//!   verdict equals the v1 kernel check for every request.
//!
//! An OCI rule of type `a` with a major, minor or partial access is expanded to `b` and `c`
//! rules (writing it as `a ...` to v1 would reset the whole list); `p` (FIFO) rules are
//! skipped, FIFOs are not device-controlled.

pub mod bpf;
mod v1;

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use crate::error::{CgroupError, Result};
use crate::manager::{Manager, Version};
use crate::resources::Warning;

/// `m` in an access mask (same bits as the kernel: `DEVCG_ACC_MKNOD`).
pub const ACC_MKNOD: u8 = 1;
/// `r`.
pub const ACC_READ: u8 = 2;
/// `w`.
pub const ACC_WRITE: u8 = 4;
/// `rwm`.
pub const ACC_ALL: u8 = 7;

/// A device class the cgroup controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DevType {
    /// `b`.
    Block,
    /// `c`.
    Char,
}

impl DevType {
    fn letter(self) -> char {
        match self {
            DevType::Block => 'b',
            DevType::Char => 'c',
        }
    }
}

/// Exception key: type, major (`None` = `*`), minor (`None` = `*`).
pub type DevKey = (DevType, Option<u32>, Option<u32>);

/// The state of a v1 devices cgroup: default behaviour plus exceptions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// `true`: everything is allowed except the exceptions (deny list).
    /// `false`: everything is denied except the exceptions (allow list).
    pub default_allow: bool,
    /// Exception access masks.
    pub exceptions: BTreeMap<DevKey, u8>,
}

impl DeviceState {
    /// A fresh cgroup: everything allowed.
    pub fn allow_all() -> Self {
        DeviceState {
            default_allow: true,
            exceptions: BTreeMap::new(),
        }
    }

    /// The state after replaying OCI rules on a fresh cgroup.
    pub fn from_rules(rules: &[LinuxDeviceCgroup]) -> Result<Self> {
        let mut s = DeviceState::allow_all();
        for r in rules {
            s.apply(r)?;
        }
        Ok(s)
    }

    /// Applies one OCI rule with the v1 kernel semantics.
    pub fn apply(&mut self, rule: &LinuxDeviceCgroup) -> Result<()> {
        let types: &[DevType] = match rule.typ() {
            None | Some(LinuxDeviceType::A) => &[DevType::Block, DevType::Char],
            Some(LinuxDeviceType::B) => &[DevType::Block],
            Some(LinuxDeviceType::C | LinuxDeviceType::U) => &[DevType::Char],
            Some(LinuxDeviceType::P) => return Ok(()),
        };
        let major = dev_number(rule.major(), "device major")?;
        let minor = dev_number(rule.minor(), "device minor")?;
        let access = parse_access(rule.access().as_deref())?;
        if types.len() == 2 && major.is_none() && minor.is_none() && access == ACC_ALL {
            self.default_allow = rule.allow();
            self.exceptions.clear();
            return Ok(());
        }
        for t in types {
            self.apply_exception(rule.allow(), (*t, major, minor), access);
        }
        Ok(())
    }

    /// Kernel rule: a rule with the default's effect removes bits from the exception with
    /// exactly that key; the opposite effect adds bits to it.
    fn apply_exception(&mut self, allow: bool, key: DevKey, access: u8) {
        if allow == self.default_allow {
            if let Some(a) = self.exceptions.get_mut(&key) {
                *a &= !access;
                if *a == 0 {
                    self.exceptions.remove(&key);
                }
            }
        } else {
            *self.exceptions.entry(key).or_insert(0) |= access;
        }
    }

    /// Whether a request for `access` on the device is allowed (the v1 kernel check:
    /// allow-list needs one exception covering every requested bit; deny-list refuses when
    /// any exception overlaps the request).
    pub fn check(&self, typ: DevType, major: u32, minor: u32, access: u8) -> bool {
        let mut matching = self.exceptions.iter().filter(|((t, ma, mi), _)| {
            *t == typ && ma.is_none_or(|m| m == major) && mi.is_none_or(|m| m == minor)
        });
        if self.default_allow {
            !matching.any(|(_, a)| access & a != 0)
        } else {
            matching.any(|(_, a)| access & !a == 0)
        }
    }

    /// Parses `devices.list`. `None` when it shows `a *:* rwm`: the kernel then prints
    /// nothing of the deny exceptions, so the state is unknown.
    pub fn from_list(text: &str) -> Option<Self> {
        let mut s = DeviceState::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut it = line.split_whitespace();
            let (t, nums, acc) = (it.next()?, it.next()?, it.next()?);
            let typ = match t {
                "b" => DevType::Block,
                "c" => DevType::Char,
                _ => return None,
            };
            let (ma, mi) = nums.split_once(':')?;
            let num = |s: &str| {
                if s == "*" {
                    Some(None)
                } else {
                    s.parse().ok().map(Some)
                }
            };
            let access = parse_access(Some(acc)).ok()?;
            s.exceptions.insert((typ, num(ma)?, num(mi)?), access);
        }
        Some(s)
    }
}

/// The rules every container gets after `deny a`: mknod of any node (opening still needs
/// a rule), and the standard `/dev` nodes: null, zero, full, random, urandom, tty, the pty
/// master and slaves. runc's list minus `/dev/net/tun` (10:200), which a hardened default
/// leaves to explicit config. The runtime passes `[deny all] + these + config rules` so a
/// config without rules never leaves the host's devices open.
pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    let c = LinuxDeviceType::C;
    let mut rules = vec![
        rule(c, None, None, "m"),
        rule(LinuxDeviceType::B, None, None, "m"),
    ];
    for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)] {
        rules.push(rule(c, Some(major), Some(minor), "rwm"));
    }
    rules.push(rule(c, Some(136), None, "rwm"));
    rules
}

/// `c 1:3 rwm` for an exception.
pub(crate) fn rule_line((t, ma, mi): &DevKey, access: u8) -> String {
    let n = |v: &Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
    format!(
        "{} {}:{} {}",
        t.letter(),
        n(ma),
        n(mi),
        access_string(access)
    )
}

fn access_string(a: u8) -> String {
    [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')]
        .iter()
        .filter(|(b, _)| a & b != 0)
        .map(|(_, c)| c)
        .collect()
}

fn parse_access(s: Option<&str>) -> Result<u8> {
    let s = s.unwrap_or("");
    if s.is_empty() {
        return Ok(ACC_ALL);
    }
    s.chars().try_fold(0, |acc, c| match c {
        'r' => Ok(acc | ACC_READ),
        'w' => Ok(acc | ACC_WRITE),
        'm' => Ok(acc | ACC_MKNOD),
        _ => Err(CgroupError::InvalidValue {
            what: "device access",
            value: s.to_string(),
        }),
    })
}

fn dev_number(v: Option<i64>, what: &'static str) -> Result<Option<u32>> {
    match v {
        None | Some(-1) => Ok(None),
        // Kept within i32 so the numbers are exact BPF immediates (real ones are < 2^20).
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|v| i32::try_from(*v).is_ok())
            .map(Some)
            .ok_or_else(|| CgroupError::InvalidValue {
                what,
                value: n.to_string(),
            }),
    }
}

/// Applies `linux.resources.devices` (v1 devices controller, else a BPF filter on the
/// unified directory). Rootless managers skip device rules: they can neither write v1
/// device lists nor attach BPF programs.
pub(crate) fn apply(
    m: &Manager,
    r: &LinuxResources,
    live: bool,
    _w: &mut Vec<Warning>,
) -> Result<()> {
    let Some(rules) = r.devices() else {
        return Ok(());
    };
    if m.is_rootless() {
        tracing::debug!("rootless: device rules left to the device nodes' permissions");
        return Ok(());
    }
    let target = DeviceState::from_rules(rules)?;
    if let Some(t) = m.target("devices")?.filter(|t| t.version == Version::V1) {
        let current = if live {
            DeviceState::from_list(&t.dir.read("devices.list")?)
        } else {
            None
        };
        return v1::write(t.dir, &target, current.as_ref());
    }
    if let Some(dir) = m.unified_dir()? {
        return bpf::install(dir, &target);
    }
    Err(CgroupError::NoController {
        what: "device rules",
        controller: "devices",
    })
}

#[cfg(test)]
mod tests;
