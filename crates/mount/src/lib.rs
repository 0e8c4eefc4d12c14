// SPDX-License-Identifier: Apache-2.0
//! Mounts: container rootfs assembly inside a new mount namespace (openat2 RESOLVE_IN_ROOT,
//! devices, masked and read-only paths, console, pivot_root), loop devices, squashfs and FUSE mounts.
#![forbid(unsafe_code)]
