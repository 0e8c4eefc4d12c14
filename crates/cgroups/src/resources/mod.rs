// SPDX-License-Identifier: Apache-2.0
//! `linux.resources` → control files. One module per controller, each writing only what the
//! config sets, in the order the kernel needs. `apply` runs on a fresh cgroup, `update` on a
//! live one (same writes, plus the reads a safe live change needs: current device list,
//! current usage for `checkBeforeUpdate`, current quota when only the period changes).
//!
//! Settings a host cannot honour become [`Warning`]s (as runc ignores them), except when
//! honouring them matters for isolation (device rules) or the config is plainly wrong.

mod blkio;
mod cpu;
mod limits;
mod memory;
mod unified;

use std::fmt;

use oci_spec::runtime::LinuxResources;

use crate::error::{CgroupError, Result};
use crate::manager::{Manager, Target};

/// A setting that was not applied, for the runtime to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// Rootless without a delegated cgroup: no limit applied at all.
    Rootless,
    /// A setting this kernel or cgroup version ignores.
    Ignored {
        /// The setting (`memory.kernel`, `blockIO.leafWeight`...).
        what: &'static str,
        /// Why.
        why: &'static str,
    },
    /// The controller a setting needs is not mounted.
    NoController {
        /// The setting.
        what: &'static str,
        /// The controller.
        controller: &'static str,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Rootless => {
                f.write_str("skipping cgroup limits: no delegated cgroup (rootless)")
            }
            Warning::Ignored { what, why } => write!(f, "ignoring {what}: {why}"),
            Warning::NoController { what, controller } => {
                write!(
                    f,
                    "ignoring {what}: the {controller} controller is not available"
                )
            }
        }
    }
}

impl Manager {
    /// Applies the resources to the freshly created cgroup.
    pub fn apply(&self, r: &LinuxResources) -> Result<Vec<Warning>> {
        self.set_resources(r, false)
    }

    /// Changes the resources of a running container.
    pub fn update(&self, r: &LinuxResources) -> Result<Vec<Warning>> {
        self.set_resources(r, true)
    }

    fn set_resources(&self, r: &LinuxResources, live: bool) -> Result<Vec<Warning>> {
        if !self.is_enabled() {
            return Ok(if sets_limits(r) {
                vec![Warning::Rootless]
            } else {
                Vec::new()
            });
        }
        let mut w = Vec::new();
        crate::devices::apply(self, r, live, &mut w)?;
        memory::apply(self, r, live, &mut w)?;
        cpu::apply(self, r, live, &mut w)?;
        limits::apply_pids(self, r, &mut w)?;
        blkio::apply(self, r, &mut w)?;
        limits::apply_hugetlb(self, r, &mut w)?;
        limits::apply_network(self, r, &mut w)?;
        limits::apply_rdma(self, r, &mut w)?;
        unified::apply(self, r)?;
        Ok(w)
    }
}

/// Whether the resources ask for any limit (device rules excepted: rootless containers rely
/// on device node permissions).
fn sets_limits(r: &LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some_and(|p| p.limit() != 0)
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())
        || r.network().is_some()
        || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
        || r.unified().as_ref().is_some_and(|m| !m.is_empty())
}

/// `-1` (or any negative) → `max` on v2.
pub(crate) fn v2_limit(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// Checks a config string that becomes part of a value (cpuset lists, names): bounded and
/// made only of `allowed` characters (never a newline, which would start a second write).
pub(crate) fn checked<'a>(
    what: &'static str,
    v: &'a str,
    allowed: fn(char) -> bool,
) -> Result<&'a str> {
    if v.len() > 1024 || !v.chars().all(allowed) {
        return Err(CgroupError::InvalidValue {
            what,
            value: v.to_string(),
        });
    }
    Ok(v)
}

/// Where `controller` lives, or `None` after recording that `what` is ignored because the
/// controller is not available.
fn target_or_warn<'m>(
    m: &'m Manager,
    controller: &'static str,
    what: &'static str,
    w: &mut Vec<Warning>,
) -> Result<Option<Target<'m>>> {
    let t = m.target(controller)?;
    if t.is_none() {
        w.push(Warning::NoController { what, controller });
    }
    Ok(t)
}

#[cfg(test)]
mod tests;
