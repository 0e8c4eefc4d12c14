// SPDX-License-Identifier: Apache-2.0
//! The device cgroup rules a container gets: an allow rule per `linux.devices` entry (they
//! "MUST be available"), then the config's `linux.resources.devices` in order (so a
//! configured rule about such a device wins: config-linux.md#allowed-device-list), then,
//! as runc, the devices every container has (null, zero, full, random, urandom, tty,
//! console, ptmx and `/dev/pts/*`) and `mknod` of any node (creating one is harmless,
//! opening it is checked).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, Spec};

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// Always-allowed devices: (type, major, minor, access); `None` minor is `*`.
const DEFAULT_ALLOWED: &[(LinuxDeviceType, i64, Option<i64>)] = &[
    (LinuxDeviceType::C, 1, Some(3)), // null
    (LinuxDeviceType::C, 1, Some(5)), // zero
    (LinuxDeviceType::C, 1, Some(7)), // full
    (LinuxDeviceType::C, 1, Some(8)), // random
    (LinuxDeviceType::C, 1, Some(9)), // urandom
    (LinuxDeviceType::C, 5, Some(0)), // tty
    (LinuxDeviceType::C, 5, Some(1)), // console
    (LinuxDeviceType::C, 5, Some(2)), // ptmx
    (LinuxDeviceType::C, 136, None),  // pts
];

/// The resources to apply: the config's, with the device rules completed.
pub fn effective_resources(spec: &Spec) -> Option<LinuxResources> {
    let linux = spec.linux().as_ref()?;
    let mut res = linux.resources().clone().unwrap_or_default();
    let configured = res.devices().clone().unwrap_or_default();
    if configured.is_empty() && linux.resources().is_none() {
        return None; // nothing asked: leave the cgroup as created (all devices)
    }
    let mut rules = Vec::with_capacity(configured.len() + 16);
    for d in linux.devices().as_deref().unwrap_or_default() {
        let typ = match d.typ() {
            LinuxDeviceType::B => LinuxDeviceType::B,
            LinuxDeviceType::P => continue,
            _ => LinuxDeviceType::C,
        };
        rules.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
    }
    rules.extend(configured);
    rules.push(rule(LinuxDeviceType::C, None, None, "m"));
    rules.push(rule(LinuxDeviceType::B, None, None, "m"));
    for (typ, major, minor) in DEFAULT_ALLOWED {
        rules.push(rule(*typ, Some(*major), *minor, "rwm"));
    }
    res.set_devices(Some(rules));
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_config_rules_follow_device_allows_and_precede_defaults() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "root": {"path": "r"},
            "linux": {
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }))
        .unwrap();
        let res = effective_resources(&spec).unwrap();
        let rules = res.devices().as_ref().unwrap();
        assert_eq!((rules[0].major(), rules[0].minor()), (Some(10), Some(229)));
        assert!(rules[0].allow());
        assert!(!rules[1].allow(), "the config's deny-all comes after");
        assert!(
            rules
                .iter()
                .any(|r| r.major() == Some(136) && r.minor().is_none())
        );
        let none: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "root": {"path": "r"}, "linux": {}
        }))
        .unwrap();
        assert!(effective_resources(&none).is_none());
    }
}
