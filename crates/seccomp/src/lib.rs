// SPDX-License-Identifier: Apache-2.0
//! OCI seccomp profiles to kernel filters (libseccomp), notify listeners, and the default profile.
#![forbid(unsafe_code)]
