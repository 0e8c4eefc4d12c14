// SPDX-License-Identifier: Apache-2.0
//! Arbitrary bytes as an OCI seccomp profile: parse + validate, then compile with libseccomp
//! (the work a container start does), and as a cached compiled filter. Must never panic, and
//! must stay fast: run with `-timeout=2` so a profile that passes the complexity bounds but
//! makes libseccomp slow is reported. Input size is bounded by `MAX_PROFILE_BYTES`.
//!
//!   cargo +nightly fuzz run seccomp_profile -- -max_total_time=60 -timeout=2 \
//!       -max_len=65536 -dict=dicts/seccomp_profile.dict
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade_seccomp::CompiledFilter;

fuzz_target!(|data: &[u8]| {
    let _ = CompiledFilter::from_bytes(data);
    if let Ok(profile) = stockade_seccomp::parse_profile(data) {
        if let Ok(filter) = stockade_seccomp::compile(&profile) {
            assert!(!filter.program().is_empty());
            assert!(filter.program().len() <= 4096);
            assert_eq!(CompiledFilter::from_bytes(&filter.to_bytes()).as_ref(), Some(&filter));
        }
    }
});
