// SPDX-License-Identifier: Apache-2.0
//! The small controllers: pids, hugetlb, net_cls/net_prio, rdma.
//!
//! pids: a limit of 0 means "no new process" and is written as 1 (runc >= 1.3, whose
//! systemd driver cannot express 0; security-cases.md RES-01 "pids.limit=0 means 1"),
//! negative means `max`. Hugepage sizes and interface and device names end up in file names
//! or values, so they are checked first.

use oci_spec::runtime::LinuxResources;

use super::{Warning, checked, target_or_warn, v2_limit};
use crate::error::{CgroupError, Result};
use crate::manager::{Manager, Version};

pub(super) fn apply_pids(m: &Manager, r: &LinuxResources, w: &mut Vec<Warning>) -> Result<()> {
    let Some(limit) = r.pids().map(|p| p.limit()) else {
        return Ok(());
    };
    let Some(t) = target_or_warn(m, "pids", "pids.limit", w)? else {
        return Ok(());
    };
    let value = if limit == 0 {
        "1".into()
    } else {
        v2_limit(limit)
    };
    t.dir.write("pids.max", &value)
}

pub(super) fn apply_hugetlb(m: &Manager, r: &LinuxResources, w: &mut Vec<Warning>) -> Result<()> {
    let Some(limits) = r.hugepage_limits().as_ref().filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let Some(t) = target_or_warn(m, "hugetlb", "hugepageLimits", w)? else {
        return Ok(());
    };
    for h in limits {
        let size = page_size(h.page_size())?;
        let (file, rsvd, value) = match t.version {
            Version::V1 => (
                format!("hugetlb.{size}.limit_in_bytes"),
                format!("hugetlb.{size}.rsvd.limit_in_bytes"),
                if h.limit() < 0 {
                    "-1".to_string()
                } else {
                    h.limit().to_string()
                },
            ),
            Version::V2 => (
                format!("hugetlb.{size}.max"),
                format!("hugetlb.{size}.rsvd.max"),
                v2_limit(h.limit()),
            ),
        };
        t.dir.write(&file, &value)?;
        match t.dir.try_write(&rsvd, &value) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(t.dir.write_error(&rsvd, &value, e)),
        }
    }
    Ok(())
}

/// `2MB`, `1GB`, `64KB`: digits then a unit, nothing that could leave the file name.
fn page_size(s: &str) -> Result<&str> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let ok = s.len() <= 16
        && !digits.is_empty()
        && !digits.starts_with('0')
        && digits.chars().all(|c| c.is_ascii_digit())
        && ["KB", "MB", "GB", "TB", "PB"].contains(&unit);
    if !ok {
        return Err(CgroupError::InvalidValue {
            what: "hugepage size",
            value: s.to_string(),
        });
    }
    Ok(s)
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@')
}

pub(super) fn apply_network(m: &Manager, r: &LinuxResources, w: &mut Vec<Warning>) -> Result<()> {
    let Some(net) = r.network() else {
        return Ok(());
    };
    if let Some(id) = net.class_id() {
        match m.target("net_cls")? {
            Some(t) if t.version == Version::V1 => {
                t.dir.write("net_cls.classid", &id.to_string())?
            }
            _ => w.push(Warning::NoController {
                what: "network.classID",
                controller: "net_cls",
            }),
        }
    }
    let Some(prios) = net.priorities().as_ref().filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let Some(t) = m.target("net_prio")?.filter(|t| t.version == Version::V1) else {
        w.push(Warning::NoController {
            what: "network.priorities",
            controller: "net_prio",
        });
        return Ok(());
    };
    let mut lines = Vec::new();
    for p in prios {
        let name = checked("network interface name", p.name(), name_char)?;
        if name.is_empty() || name.len() > 15 {
            return Err(CgroupError::InvalidValue {
                what: "network interface name",
                value: name.into(),
            });
        }
        lines.push(format!("{name} {}", p.priority()));
    }
    t.dir.write_each("net_prio.ifpriomap", &lines)
}

pub(super) fn apply_rdma(m: &Manager, r: &LinuxResources, w: &mut Vec<Warning>) -> Result<()> {
    let Some(map) = r.rdma().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    let Some(t) = target_or_warn(m, "rdma", "rdma", w)? else {
        return Ok(());
    };
    let mut devices: Vec<_> = map.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    let mut lines = Vec::new();
    for (dev, lim) in devices {
        let dev = checked("rdma device name", dev, name_char)?;
        let mut line = dev.to_string();
        if let Some(h) = lim.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = lim.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line.len() > dev.len() {
            lines.push(line);
        }
    }
    t.dir.write_each("rdma.max", &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_checked() {
        for ok in ["2MB", "1GB", "64KB"] {
            assert_eq!(page_size(ok).unwrap(), ok);
        }
        for bad in ["", "MB", "02MB", "2mb", "2MB/../x", "2 MB", "2MB\n", "2XB"] {
            assert!(page_size(bad).is_err(), "{bad:?}");
        }
    }
}
