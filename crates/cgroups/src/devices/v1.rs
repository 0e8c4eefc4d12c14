// SPDX-License-Identifier: Apache-2.0
//! Writing a [`DeviceState`] to a v1 devices cgroup.

use super::{DeviceState, rule_line};
use crate::error::Result;
use crate::fsio::CgDir;

/// Brings the cgroup to `target`. With a known deny-by-default `current` (live update), only
/// the differences are written, removals first; otherwise the list is reset (`a`) and
/// rewritten, which is what a fresh cgroup gets.
pub(super) fn write(
    dir: CgDir<'_>,
    target: &DeviceState,
    current: Option<&DeviceState>,
) -> Result<()> {
    match current {
        Some(cur) if !cur.default_allow && !target.default_allow => {
            let (deny, allow) = transition(cur, target);
            dir.write_each("devices.deny", &deny)?;
            dir.write_each("devices.allow", &allow)
        }
        _ => {
            let (reset, list) = if target.default_allow {
                ("devices.allow", "devices.deny")
            } else {
                ("devices.deny", "devices.allow")
            };
            dir.write(reset, "a")?;
            let lines: Vec<String> = target
                .exceptions
                .iter()
                .map(|(k, a)| rule_line(k, *a))
                .collect();
            dir.write_each(list, &lines)
        }
    }
}

/// Lines to deny then to allow to go from one allow-list to another.
fn transition(cur: &DeviceState, target: &DeviceState) -> (Vec<String>, Vec<String>) {
    let deny = cur
        .exceptions
        .iter()
        .filter_map(|(k, a)| {
            let gone = a & !target.exceptions.get(k).copied().unwrap_or(0);
            (gone != 0).then(|| rule_line(k, gone))
        })
        .collect();
    let allow = target
        .exceptions
        .iter()
        .filter_map(|(k, a)| {
            let new = a & !cur.exceptions.get(k).copied().unwrap_or(0);
            (new != 0).then(|| rule_line(k, new))
        })
        .collect();
    (deny, allow)
}
