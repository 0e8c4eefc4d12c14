// SPDX-License-Identifier: Apache-2.0
//! OCI seccomp profiles to kernel filters (libseccomp), notify listeners, and the default profile.
//!
//! Design (see `docs/design/seccomp.md`):
//! * **Compile in the parent, load in the child.** [`compile`] runs in the runtime's main
//!   process before the clone: it validates the profile, builds the filter with libseccomp
//!   and exports it as a classic-BPF program ([`CompiledFilter`]). The container init only
//!   calls [`CompiledFilter::load`], one allocation-free `seccomp(2)` call just before
//!   `execve`, after `PR_SET_NO_NEW_PRIVS`.
//! * **runc semantics** for profiles: unknown syscall names are skipped, `SCMP_ACT_KILL` is
//!   kill-thread, `errnoRet` defaults to EPERM, conditions on repeated argument indices
//!   become separate rules. Stricter than runc where runc is silently weak: an errnoRet that
//!   does not fit, or a conditional rule libseccomp would silently drop, is an error.
//! * **ENOSYS for the unknown future**: syscalls newer than the profile fail with ENOSYS, not
//!   EPERM, so libc falls back to older calls.
//! * **Notify**: the listener fd goes to the agent with [`send_listener`] (OCI "container
//!   process state" over `SCM_RIGHTS`).
//! * [`default_profile`]: allowlist, EPERM by default, explicit denials with their CVEs.
#![forbid(unsafe_code)]

mod compile;
mod complexity;
mod default;
mod enosys;
mod error;
#[cfg(test)]
mod eval;
mod filter;
mod listener;
mod plan;
mod profile;
mod translate;

pub use compile::compile;
pub use complexity::{MAX_CONDITION_COST, MAX_ESTIMATED_INSTRUCTIONS, MAX_RULES_PER_SYSCALL};
pub use default::{
    ALLOWED_PERSONALITIES, CLONE_NAMESPACE_FLAGS, DENIED_IOCTLS, DENIED_SOCKET_FAMILIES,
    default_profile, denied_families,
};
pub use error::SeccompError;
pub use filter::CompiledFilter;
pub use listener::{MAX_STATE_BYTES, send_listener};
pub use profile::{
    MAX_CONDITIONS, MAX_EXPANDED_RULES, MAX_NAMES, MAX_PROFILE_BYTES, MAX_RULES,
    NOTIFY_FORBIDDEN_SYSCALLS, parse_profile, validate,
};
pub use stockade_sys::seccomp::SockFilter;
