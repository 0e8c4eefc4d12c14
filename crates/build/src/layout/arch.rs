// SPDX-License-Identifier: Apache-2.0
//! The architecture of a root filesystem (from the ELF header of its shell, as Apptainer
//! sniffs it) and the `build-date` label format.

use std::io::Read;

use stockade_sif::Arch;

use crate::extract::tree::Tree;

/// Binaries looked at, in order (symlinks resolved inside the tree).
const PROBES: &[&str] = &[
    "bin/sh",
    "usr/bin/sh",
    "bin/busybox",
    "usr/bin/env",
    "bin/ls",
    "usr/bin/ls",
];

/// The SIF architecture of the tree's binaries, `None` when no ELF binary was found.
pub fn sniff(tree: &Tree) -> Option<Arch> {
    PROBES.iter().find_map(|p| elf_arch(tree, p))
}

fn elf_arch(tree: &Tree, rel: &str) -> Option<Arch> {
    let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
    let how = rustix::fs::ResolveFlags::IN_ROOT | rustix::fs::ResolveFlags::NO_MAGICLINKS;
    let fd = rustix::fs::openat2(tree.root(), rel, flags, rustix::fs::Mode::empty(), how).ok()?;
    let mut h = [0u8; 20];
    std::fs::File::from(fd).read_exact(&mut h).ok()?;
    if &h[..4] != b"\x7fELF" {
        return None;
    }
    let little = h[5] == 1;
    let machine = if little {
        u16::from_le_bytes([h[18], h[19]])
    } else {
        u16::from_be_bytes([h[18], h[19]])
    };
    let go = match (machine, h[4], little) {
        (0x3e, 2, _) => "amd64",
        (0x03, 1, _) => "386",
        (0xb7, 2, _) => "arm64",
        (0x28, 1, _) => "arm",
        (0x15, 2, true) => "ppc64le",
        (0x15, 2, false) => "ppc64",
        (0x16, 2, _) => "s390x",
        (0xf3, 2, _) => "riscv64",
        (0x102, 2, _) => "loong64",
        (0x08, 1, true) => "mipsle",
        (0x08, 1, false) => "mips",
        (0x08, 2, true) => "mips64le",
        (0x08, 2, false) => "mips64",
        _ => return None,
    };
    Arch::from_go_name(go)
}

/// Apptainer's `build-date` label: Go layout `Monday_2_January_2006_15:4:5_MST`, in UTC.
pub fn build_date(unix: i64) -> String {
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = unix.div_euclid(86400);
    let secs = unix.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let wd = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!(
        "{wd}_{d}_{month}_{y}_{}:{}:{}_UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_date_format() {
        // 2021-08-02T19:09:36Z, the busybox corpus image (built 14:9:36 CDT).
        assert_eq!(
            build_date(1_627_931_376),
            "Monday_2_August_2021_19:9:36_UTC"
        );
        assert_eq!(build_date(0), "Thursday_1_January_1970_0:0:0_UTC");
    }
}
