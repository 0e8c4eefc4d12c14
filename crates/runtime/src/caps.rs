// SPDX-License-Identifier: Apache-2.0
//! Capability names (`CAP_SYS_ADMIN`, as in config.json and `exec --cap`) to bit numbers.

use rustix::thread::CapabilitySet;

/// Every capability the kernel headers we build against know, by number.
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The default capability set of container engines (Docker's, containerd's, runtime-tools'
/// generator; `runc spec` writes only three): what `stockade` gives root and `--fakeroot`
/// processes, and `stockade build` its `%post` and `%test` scripts.
pub const DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The bit number of a capability name (with or without `CAP_`, any case).
pub fn number(name: &str) -> Option<u32> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    NAMES
        .iter()
        .position(|n| *n == full)
        .and_then(|i| u32::try_from(i).ok())
}

/// Converts names to a set; unknown names are returned as the error.
pub fn to_set<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<CapabilitySet, String> {
    let mut set = CapabilitySet::empty();
    for n in names {
        let bit = number(n).ok_or_else(|| n.to_string())?;
        set |= CapabilitySet::from_bits_retain(1u64 << bit);
    }
    Ok(set)
}

/// The highest capability the running kernel knows (`/proc/sys/kernel/cap_last_cap`).
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_to_numbers() {
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("net_raw"), Some(13));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("CAP_NOPE"), None);
        let s = to_set(["CAP_KILL", "CAP_CHOWN"]).unwrap();
        assert_eq!(s.bits(), (1 << 5) | 1);
        assert_eq!(to_set(["CAP_X"]).unwrap_err(), "CAP_X");
    }
}
