// SPDX-License-Identifier: Apache-2.0
//! The only crate with unsafe code: thin, documented wrappers over Linux syscalls the safe crates lack.
//!
//! Each module wraps one family of calls that `rustix` does not offer safely: process creation
//! ([`clone`]), program replacement ([`exec`]), fd-table sweeps ([`fd`]), signal masks and
//! signalfd ([`signal`]) and a few process attributes ([`misc`]). Wrappers take `BorrowedFd`
//! / `OwnedFd`, return `std::io::Result`, and are safe to call: where a call is only sound
//! under a process-wide condition (a single thread before `clone`), the wrapper checks it.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bpf;
pub mod clone;
pub mod exec;
pub mod fd;
pub mod fuse;
pub mod loopdev;
pub mod misc;
pub mod mount;
pub mod sched;
pub mod seccomp;
pub mod signal;
