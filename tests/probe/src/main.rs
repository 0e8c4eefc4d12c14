// SPDX-License-Identifier: Apache-2.0
//! Static probe run inside containers by the integration tests; prints facts as JSON.
#![forbid(unsafe_code)]

fn main() {}
