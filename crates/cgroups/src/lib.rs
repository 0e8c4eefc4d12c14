// SPDX-License-Identifier: Apache-2.0
//! cgroup v1, v2 and hybrid managers: create, apply resources, freeze, stats, remove.
//!
//! Design (see `docs/design/cgroups.md`):
//! * [`detect()`] reads `<proc>/self/mountinfo` and `<proc>/self/cgroup` into a [`Layout`]:
//!   v1 hierarchies (co-mounted and named ones included), pure v2, or hybrid (v1 plus a
//!   cgroup2 mount). Roots are parameters, so tests run on fake trees in tempdirs.
//! * A [`Manager`] owns one directory per hierarchy, resolved from OCI `cgroupsPath`
//!   (absolute, relative to the runtime's own cgroup, empty = `/<id>`, systemd
//!   `slice:prefix:name`). Each controller is served by its v1 hierarchy when mounted there,
//!   else by the unified directory: a hybrid host naturally mixes both.
//! * Start-path cost: [`Manager::new`] touches nothing; [`Manager::create`] opens each
//!   hierarchy root once and `mkdirat`s relative to it, keeping the leaf fds; `apply` writes
//!   only the files for settings present (`openat` on the kept fds, one `write` each).
//! * Devices: v1 lists are written from an emulation of the kernel's rules; on v2 the same
//!   model is compiled to an eBPF device program ([`devices::bpf`]) attached with
//!   `BPF_PROG_ATTACH` (raw syscalls in `stockade_sys::bpf`).
//! * Rootless without a writable hierarchy (always on v1) yields a disabled manager:
//!   `create` succeeds, `apply` returns [`Warning::Rootless`], queries say
//!   [`CgroupError::NoCgroup`].
//! * [`Manager::to_state`] / [`Manager::from_state`] carry the directories across commands.
#![forbid(unsafe_code)]

mod create;
pub mod detect;
pub mod devices;
mod error;
mod freezer;
mod fsio;
mod manager;
mod path;
mod resources;
pub mod stats;

#[cfg(test)]
mod fake;

pub use detect::{Hierarchy, Layout, Unified, detect};
pub use error::{CgroupError, Result};
pub use manager::{Manager, ManagerState, MountView};
pub use resources::Warning;
pub use stats::Stats;
