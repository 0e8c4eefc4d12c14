// SPDX-License-Identifier: Apache-2.0
//! Singularity-style user command line: build, run, exec, shell, test, inspect, sif, key, sign, verify.
#![forbid(unsafe_code)]

fn main() {}
