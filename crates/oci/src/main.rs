// SPDX-License-Identifier: Apache-2.0
//! runc-compatible OCI runtime command line over stockade-runtime.
#![forbid(unsafe_code)]

fn main() {}
