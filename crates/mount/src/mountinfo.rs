// SPDX-License-Identifier: Apache-2.0
//! `/proc/self/mountinfo` of the init process (still the host's procfs, before pivot_root):
//! used to find whether the rootfs's parent mount is shared and, for `--no-pivot`, which full
//! proc/sysfs mounts must be detached. Bounded parser; octal escapes (`\040`) decoded.

use std::path::{Path, PathBuf};

use crate::MountError;

/// Largest mountinfo read (mount tables of busy hosts stay far below this).
const MAX_MOUNTINFO: u64 = 16 << 20;

/// One mount of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    pub id: u64,
    /// Root of the mount within its filesystem.
    pub root: String,
    pub mount_point: PathBuf,
    pub fstype: String,
    /// Member of a shared peer group.
    pub shared: bool,
}

/// Reads and parses the calling process's mount table.
pub(crate) fn read_own() -> Result<Vec<MountInfo>, MountError> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open("/proc/self/mountinfo")
        .and_then(|f| f.take(MAX_MOUNTINFO).read_to_string(&mut text))
        .map_err(|e| MountError::MountInfo {
            what: "read /proc/self/mountinfo".into(),
            source: rustix::io::Errno::from_io_error(&e),
        })?;
    parse(&text)
}

/// Parses mountinfo text.
pub(crate) fn parse(text: &str) -> Result<Vec<MountInfo>, MountError> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Result<MountInfo, MountError> {
    let bad = || MountError::MountInfo {
        what: format!("bad line {line:?}"),
        source: None,
    };
    let mut it = line.split(' ');
    let id = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let _parent = it.next().ok_or_else(bad)?;
    let _devno = it.next().ok_or_else(bad)?;
    let root = unescape(it.next().ok_or_else(bad)?);
    let mount_point = PathBuf::from(unescape(it.next().ok_or_else(bad)?));
    let _opts = it.next().ok_or_else(bad)?;
    let mut shared = false;
    loop {
        match it.next().ok_or_else(bad)? {
            "-" => break,
            tag => shared |= tag.starts_with("shared:"),
        }
    }
    let fstype = unescape(it.next().ok_or_else(bad)?);
    Ok(MountInfo {
        id,
        root,
        mount_point,
        fstype,
        shared,
    })
}

/// Decodes the kernel's `\ooo` escapes (space, tab, newline, backslash).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `p` is `base` or below it (component-wise).
pub(crate) fn is_under(p: &Path, base: &Path) -> bool {
    p.starts_with(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:23 / /sys rw,nosuid master:3 - sysfs sysfs rw
25 22 0:24 /dir /with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn parses_fields_and_optional_tags() {
        let m = parse(SAMPLE).expect("parse");
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].mount_point, PathBuf::from("/proc"));
        assert_eq!(m[1].fstype, "proc");
        assert!(m[1].shared);
        assert!(!m[2].shared, "master: is a slave, not shared");
        assert_eq!(m[3].mount_point, PathBuf::from("/with space"));
        assert_eq!(m[3].root, "/dir");
        assert_eq!(m[0].id, 22);
    }

    #[test]
    fn truncated_lines_are_errors() {
        assert!(parse("22 1 0:21 / / rw shared:1").is_err());
        assert!(parse("x 1 0:21 / / rw - ext4 a rw").is_err());
    }

    #[test]
    fn is_under_is_component_wise() {
        assert!(is_under(Path::new("/a/b/c"), Path::new("/a/b")));
        assert!(!is_under(Path::new("/a/bc"), Path::new("/a/b")));
    }

    #[test]
    fn reads_the_real_table() {
        let m = read_own().expect("mountinfo");
        assert!(m.iter().any(|i| i.mount_point == Path::new("/")));
    }
}
