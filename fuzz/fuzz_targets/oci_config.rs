// SPDX-License-Identifier: Apache-2.0
//! config.json from an untrusted bundle: parsing, validation, the namespace plan and the
//! device rules derived from it must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade_runtime::config::{MAX_CONFIG_BYTES, parse_spec};

fuzz_target!(|data: &[u8]| {
    if data.len() as u64 > MAX_CONFIG_BYTES {
        return;
    }
    if let Ok(spec) = parse_spec(std::path::Path::new("config.json"), data) {
        let plan = stockade_runtime::plan::NsPlan::from_spec(&spec);
        let _ = plan.needs_second_fork();
        let _ = stockade_runtime::devices::effective_resources(&spec);
        let _ = stockade_runtime::hooks::has_create_hooks(&spec);
    }
});
