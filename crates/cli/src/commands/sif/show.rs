// SPDX-License-Identifier: Apache-2.0
//! Text and JSON renderings of images, in siftool's formats.

use std::fmt::Write as _;

use serde_json::{Value, json};
use stockade_sif::{Descriptor, GO_ZERO_TIME, Link, SifImage};

/// `siftool list`.
pub fn list(img: &SifImage) -> String {
    const RULE: &str =
        "------------------------------------------------------------------------------\n";
    let mut s = String::from(RULE);
    let _ = writeln!(
        s,
        "{:<4} {:<8} {:<8} {:<26} |TYPE",
        "ID", "|GROUP", "|LINK", "|SIF POSITION (start-end)"
    );
    s.push_str(RULE);
    for d in img.descriptors() {
        let group = d.group().map_or("NONE".to_string(), |g| g.to_string());
        let link = match d.link() {
            Link::None => "NONE    ".to_string(),
            Link::Group(g) => format!("{g:<3} (G) "),
            Link::Object(o) => format!("{o:<7} "),
        };
        let pos = format!("|{}-{} ", d.offset(), d.end());
        let _ = writeln!(
            s,
            "{:<4} |{group:<7} |{link}{pos:<26} |{}",
            d.id(),
            type_label(d)
        );
    }
    s
}

/// TYPE column: label plus the type-specific metadata.
fn type_label(d: &Descriptor) -> String {
    let t = d.data_type();
    if let Some(p) = d.partition() {
        format!("{t} ({}/{}/{})", p.fs_type, p.part_type, p.arch)
    } else if let Some(sig) = d.signature() {
        format!("{t} ({})", sig.hash_type)
    } else if let Some(c) = d.crypto_message() {
        format!("{t} ({}/{})", c.format, c.message)
    } else if let Some(f) = d.sbom_format() {
        format!("{t} ({f})")
    } else {
        t.to_string()
    }
}

/// `siftool list` as a JSON array.
pub fn list_json(img: &SifImage) -> String {
    let items: Vec<Value> = img.descriptors().iter().map(descriptor_json).collect();
    let mut s = serde_json::to_string_pretty(&Value::Array(items)).unwrap_or_default();
    s.push('\n');
    s
}

fn descriptor_json(d: &Descriptor) -> Value {
    let (link, link_is_group) = match d.link() {
        Link::None => (Value::Null, false),
        Link::Object(o) => (json!(o), false),
        Link::Group(g) => (json!(g), true),
    };
    let mut v = json!({
        "id": d.id(),
        "type": d.data_type().0,
        "type_name": d.data_type().label(),
        "group": d.group(),
        "link": link,
        "link_is_group": link_is_group,
        "offset": d.offset(),
        "size": d.size(),
        "name": d.name(),
        "created_at": d.created_at(),
        "modified_at": d.modified_at(),
    });
    let extra = if let Some(p) = d.partition() {
        json!({"fstype": p.fs_type.0, "parttype": p.part_type.0, "arch": p.arch.go_name()})
    } else if let Some(sig) = d.signature() {
        let entity = sig.fingerprint().map(|f| hex_upper(&f));
        json!({"hashtype": sig.hash_type.0, "entity": entity})
    } else if let Some(c) = d.crypto_message() {
        json!({"format": c.format.0, "message": c.message.0})
    } else if let Some(f) = d.sbom_format() {
        json!({"sbom_format": f.label()})
    } else if let Some(digest) = d.oci_digest() {
        json!({"digest": digest})
    } else {
        json!({})
    };
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Lines of `label<TAB>value` aligned as Go's tabwriter does (`prefix` = the empty first
/// column of `siftool info`).
fn aligned(rows: &[(&str, String)], prefix: &str, padding: usize) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + padding;
    rows.iter()
        .map(|(l, v)| format!("{prefix}{l:<width$}{v}\n"))
        .collect()
}

/// `siftool header`.
pub fn header(img: &SifImage) -> String {
    let h = img.header();
    let mut rows = Vec::new();
    let launch = h.launch_script();
    if !launch.is_empty() {
        rows.push(("Launch Script:", launch.trim_end_matches('\n').to_string()));
    }
    rows.push(("Version:", h.version()));
    if h.arch().go_name() != "unknown" {
        rows.push(("Primary Architecture:", h.arch().go_name().to_string()));
    }
    if h.id() != [0; 16] {
        rows.push(("ID:", h.id_string()));
    }
    if h.created_at() != GO_ZERO_TIME {
        rows.push(("Created At:", go_time(h.created_at())));
    }
    if h.modified_at() != GO_ZERO_TIME {
        rows.push(("Modified At:", go_time(h.modified_at())));
    }
    rows.push(("Descriptors Free:", h.descriptors_free().to_string()));
    rows.push(("Descriptors Total:", h.descriptors_total().to_string()));
    rows.push(("Descriptors Offset:", h.descriptors_offset().to_string()));
    rows.push((
        "Descriptors Size:",
        readable_size(h.descriptors_size().unsigned_abs()),
    ));
    rows.push(("Data Offset:", h.data_offset().to_string()));
    rows.push(("Data Size:", readable_size(h.data_size().unsigned_abs())));
    aligned(&rows, "", 1)
}

/// `siftool info`.
pub fn info(d: &Descriptor) -> String {
    let mut rows = vec![
        ("Data Type:", d.data_type().label().to_string()),
        ("ID:", d.id().to_string()),
        (
            "Group ID:",
            d.group().map_or("NONE".to_string(), |g| g.to_string()),
        ),
    ];
    let link = match d.link() {
        Link::None => "NONE".to_string(),
        Link::Group(g) => format!("{g} (G)"),
        Link::Object(o) => o.to_string(),
    };
    rows.push(("Linked ID:", link));
    rows.push(("Offset:", d.offset().to_string()));
    rows.push(("Size:", d.size().to_string()));
    if d.created_at() != GO_ZERO_TIME {
        rows.push(("Created At:", go_time(d.created_at())));
    }
    if d.modified_at() != GO_ZERO_TIME {
        rows.push(("Modified At:", go_time(d.modified_at())));
    }
    if !d.name().is_empty() {
        rows.push(("Name:", d.name()));
    }
    if let Some(p) = d.partition() {
        rows.push(("Filesystem Type:", p.fs_type.to_string()));
        rows.push(("Partition Type:", p.part_type.to_string()));
        rows.push(("Architecture:", p.arch.go_name().to_string()));
    } else if let Some(sig) = d.signature() {
        rows.push(("Hash Type:", sig.hash_type.to_string()));
        if let Some(fp) = sig.fingerprint() {
            rows.push(("Entity:", hex_upper(&fp)));
        }
    } else if let Some(c) = d.crypto_message() {
        rows.push(("Format Type:", c.format.to_string()));
        rows.push(("Message Type:", c.message.to_string()));
    } else if let Some(f) = d.sbom_format() {
        rows.push(("Format:", f.to_string()));
    } else if let Some(digest) = d.oci_digest() {
        rows.push(("Digest:", digest));
    }
    aligned(&rows, "  ", 2)
}

/// Binary-unit size as siftool prints it (`27 KiB`, `707 B`).
pub fn readable_size(size: u64) -> String {
    if size < 1024 {
        return format!("{size} B");
    }
    let (mut div, mut exp, mut n) = (1024u128, 0usize, size / 1024);
    while n >= 1024 {
        div *= 1024;
        exp += 1;
        n /= 1024;
    }
    // Round half away from zero, as Go's math.Round.
    let rounded = (u128::from(size) * 2 + div) / (2 * div);
    format!("{rounded} {}iB", &"KMGTPE"[exp..=exp])
}

/// A Unix time as Go prints a UTC `time.Time`: `2020-06-30 00:01:56 +0000 UTC`.
pub fn go_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} +0000 UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_siftool() {
        assert_eq!(readable_size(0), "0 B");
        assert_eq!(readable_size(707), "707 B");
        assert_eq!(readable_size(28080), "27 KiB");
        assert_eq!(readable_size(270_928), "265 KiB");
        assert_eq!(readable_size(8784), "9 KiB");
        assert_eq!(readable_size(1536), "2 KiB");
        assert_eq!(readable_size(2_852_581), "3 MiB");
        assert_eq!(readable_size(u64::MAX), "16 EiB");
    }

    #[test]
    fn times_as_go() {
        assert_eq!(go_time(1_593_475_316), "2020-06-30 00:01:56 +0000 UTC");
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time(951_782_400), "2000-02-29 00:00:00 +0000 UTC");
        assert_eq!(go_time(-86_400), "1969-12-31 00:00:00 +0000 UTC");
    }
}
