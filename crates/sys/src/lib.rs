// SPDX-License-Identifier: Apache-2.0
//! The only crate with unsafe code: thin, documented wrappers over Linux syscalls the safe crates lack.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
