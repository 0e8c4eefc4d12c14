// SPDX-License-Identifier: Apache-2.0
//! Parsers of `<proc>/self/mountinfo` (cgroup mounts only) and `<proc>/self/cgroup`.

use std::path::PathBuf;

/// Controllers a v1 `cgroup` mount may carry (anything else in its options is a flag).
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "io",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];
/// The cgroup-relevant fields of one mountinfo line.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Mount {
    pub root: String,
    pub mount: PathBuf,
    pub fstype: String,
    pub super_opts: String,
}

pub(super) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (pre, post) = line.split_once(" - ")?;
    let pre: Vec<&str> = pre.split(' ').collect();
    let mut post = post.split(' ');
    let fstype = post.next()?;
    if !fstype.starts_with("cgroup") {
        return None;
    }
    let _source = post.next()?;
    Some(Mount {
        root: unescape(pre.get(3)?),
        mount: PathBuf::from(unescape(pre.get(4)?)),
        fstype: fstype.to_string(),
        super_opts: post.next().unwrap_or("").to_string(),
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash...).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn v1_controllers(super_opts: &str) -> Vec<String> {
    let mut c: Vec<String> = super_opts
        .split(',')
        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
        .map(String::from)
        .collect();
    c.sort();
    c
}

/// `(controllers joined by ',' sorted, path)` per line of `/proc/self/cgroup`; the v2 line
/// has an empty key.
pub(super) fn parse_proc_cgroup(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_id, ctrls, path) = (it.next()?, it.next()?, it.next()?);
            let mut c: Vec<&str> = ctrls.split(',').filter(|s| !s.is_empty()).collect();
            c.sort_unstable();
            Some((c.join(","), path.to_string()))
        })
        .collect()
}

/// The process' cgroup path as seen below the mount (whose `root` may be a subtree).
pub(super) fn relative_to_mount(path: &str, root: &str) -> String {
    if root == "/" {
        return path.to_string();
    }
    match path.strip_prefix(root) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_octal_sequences_only() {
        assert_eq!(unescape(r"/a\040b\134c\9"), r"/a b\c\9");
        assert_eq!(relative_to_mount("/docker", "/docker"), "/");
        assert_eq!(relative_to_mount("/other/x", "/docker"), "/other/x");
    }
}
