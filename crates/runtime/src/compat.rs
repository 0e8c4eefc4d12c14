// SPDX-License-Identifier: Apache-2.0
//! Lenient parsing where the spec asks for leniency the typed parser (`oci_spec`) lacks:
//!
//! * a capability this runtime cannot map "MUST be logged as a warning" and "SHOULD NOT"
//!   fail the container (config.md#linux-process): unknown names are dropped from every
//!   set with a warning naming them;
//! * `scheduler.flags` are spelled `SCHED_FLAG_RESET_ON_FORK`/`SCHED_FLAG_DL_OVERRUN` by the
//!   spec, but `oci_spec` 0.10 expects `SCHED_RESET_ON_FORK`/`SCHED_FLAG_D_L_OVERRUN`.
//!
//! The typed parse runs first; the JSON value is only edited (and parsed again) when it
//! failed, so well-formed configs cost nothing extra, and the original error (with its
//! line and column) is reported when the edits do not help.

use oci_spec::runtime::Capability;
use serde::de::DeserializeOwned;
use serde_json::Value;

const CAP_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
];

/// Parses `raw` as `T`; on failure, normalises the process object at `process_ptr` (JSON
/// pointer, `""` for a bare process) and tries again.
pub fn parse<T: DeserializeOwned>(raw: &[u8], process_ptr: &str) -> Result<T, serde_json::Error> {
    let first = match serde_json::from_slice::<T>(raw) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(raw) else {
        return Err(first);
    };
    let Some(p) = v.pointer_mut(process_ptr) else {
        return Err(first);
    };
    if !normalize_process(p) {
        return Err(first);
    }
    serde_json::from_value(v).map_err(|_| first)
}

/// Drops unknown capabilities (warning) and renames spec-spelled scheduler flags; true
/// when something changed.
pub fn normalize_process(p: &mut Value) -> bool {
    let mut changed = false;
    if let Some(caps) = p.get_mut("capabilities").and_then(Value::as_object_mut) {
        for set in CAP_SETS {
            let Some(list) = caps.get_mut(set).and_then(Value::as_array_mut) else {
                continue;
            };
            list.retain(|c| {
                let known = serde_json::from_value::<Capability>(c.clone()).is_ok();
                if !known {
                    tracing::warn!("process.capabilities.{set}: ignoring unknown capability {c}");
                    changed = true;
                }
                known
            });
        }
    }
    if let Some(flags) = p
        .pointer_mut("/scheduler/flags")
        .and_then(Value::as_array_mut)
    {
        for f in flags.iter_mut() {
            let renamed = match f.as_str() {
                Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
                Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
                _ => continue,
            };
            *f = Value::String(renamed.into());
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSchedulerFlag, Process};

    #[test]
    fn test_unknown_capability_dropped_known_kept() {
        let raw = serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL", "CAP_E2E_BOGUS"], "effective": ["CAP_KILL"]}
        })
        .to_string();
        let p: Process = parse(raw.as_bytes(), "").unwrap();
        let b = p
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn test_spec_scheduler_flag_names() {
        let raw = serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "scheduler": {"policy": "SCHED_DEADLINE", "runtime": 1,
                          "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"]}
        })
        .to_string();
        let p: Process = parse(raw.as_bytes(), "").unwrap();
        let flags = p.scheduler().as_ref().unwrap().flags().clone().unwrap();
        assert_eq!(
            flags,
            vec![
                LinuxSchedulerFlag::SchedResetOnFork,
                LinuxSchedulerFlag::SchedFlagDLOverrun
            ]
        );
    }

    #[test]
    fn test_other_errors_keep_their_position() {
        let e = parse::<Process>(b"{\"cwd\": 5}", "").unwrap_err();
        assert!(e.line() > 0, "{e}");
    }
}
