// SPDX-License-Identifier: Apache-2.0
//! Mounts: container rootfs assembly inside a new mount namespace (openat2 RESOLVE_IN_ROOT,
//! devices, masked and read-only paths, console, pivot_root), loop devices, squashfs and FUSE mounts.
//!
//! # Design
//! The container init calls, in its new mount namespace:
//! [`prepare_rootfs`] → ([`PreparedRootfs::open_console_pty`], [`PreparedRootfs::bind_console`])
//! → [`PreparedRootfs::pivot`] → [`PivotedRootfs::write_sysctls`] → [`PivotedRootfs::finalize`].
//!
//! * **No path the container controls is ever mounted on, written or followed out of the
//!   rootfs.** Targets are resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//!   ([`open_in_root`]) from an fd of the rootfs bind mount; missing components are created
//!   with `*at` calls on the resolved parent fd.
//! * **Mounts are built detached and attached by fd**: `fsopen`/`fsmount` for new
//!   filesystems, `open_tree(OPEN_TREE_CLONE)` for binds, flags applied with `mount_setattr`
//!   before `move_mount` onto the target fd. No `/proc/self/fd` indirection is needed.
//! * **Our own sources**: masks come from a private read-only tmpfs, the console from the
//!   container's devpts via `TIOCGPTPEER`, procfs writes go through the procfs mount fd we
//!   created with `RESOLVE_NO_XDEV` (an overmount fails with `EXDEV`).
//!
//! The order of steps and the CVE each one closes: `docs/design/rootfs.md`.
#![forbid(unsafe_code)]

mod error;
mod fsapi;
mod mountinfo;
mod procfs;
mod resolve;
mod rootfs;

pub use error::MountError;
pub use resolve::open_in_root;
pub use rootfs::{
    CgroupView, PivotedRootfs, PreparedRootfs, RootfsConfig, prepare_rootfs, prepare_rootfs_gated,
};
