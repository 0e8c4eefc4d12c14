// SPDX-License-Identifier: Apache-2.0
//! The container lifecycle: validated plan, single-threaded clone, rootfs, namespaces, credentials, exec.
#![forbid(unsafe_code)]
