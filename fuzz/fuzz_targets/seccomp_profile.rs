// SPDX-License-Identifier: Apache-2.0
//! Arbitrary bytes as an OCI seccomp profile: parse + validate, then compile with libseccomp
//! (the work a container start does). Must never panic, and must stay fast: run with
//! `-timeout=2` so a profile that passes the complexity bounds but makes libseccomp slow is
//! reported as a finding. Inputs are bounded by `MAX_PROFILE_BYTES` (checked by the parser).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(profile) = stockade_seccomp::parse_profile(data) {
        if let Ok(filter) = stockade_seccomp::compile(&profile) {
            assert!(!filter.program().is_empty());
            assert!(filter.program().len() <= 4096);
        }
    }
});
