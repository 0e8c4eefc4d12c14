// SPDX-License-Identifier: Apache-2.0
//! Every image of the shared corpus loads and reads exactly as MANIFEST §10 describes it.
// An integration test crate is test code throughout (helpers included).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod table;

use stockade_sif::{DataType, Descriptor, GO_ZERO_TIME, HashAlg, Link, PartType, SifImage};

fn corpus_path(rel: &str) -> std::path::PathBuf {
    stockade_testutil::sif(rel)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (proleptic Gregorian, days-from-civil inverse).
fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn time(t: i64) -> String {
    if t == GO_ZERO_TIME {
        format!("zero({t})")
    } else {
        rfc3339(t)
    }
}

fn header_line(img: &SifImage) -> String {
    let h = img.header();
    format!(
        "launch='{}', version={}, arch={} ({}), id={}, ctime={}, mtime={}",
        h.launch_script().replace('\n', "\\n"),
        h.version(),
        h.arch().code(),
        h.arch().go_name(),
        h.id_string(),
        time(h.created_at()),
        time(h.modified_at()),
    )
}

fn table_line(img: &SifImage) -> String {
    let h = img.header();
    format!(
        "total={} free={} off={} size={}; data off={} size={}",
        h.descriptors_total(),
        h.descriptors_free(),
        h.descriptors_offset(),
        h.descriptors_size(),
        h.data_offset(),
        h.data_size(),
    )
}

fn type_name(t: DataType) -> String {
    let names = [
        "Deffile",
        "EnvVar",
        "Labels",
        "Partition",
        "Signature",
        "GenericJSON",
        "Generic",
        "CryptoMessage",
        "SBOM",
        "OCIRootIndex",
        "OCIBlob",
    ];
    usize::try_from(t.0 - 0x4001)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| format!("{:#x}", t.0), |s| (*s).to_string())
}

fn extra(d: &Descriptor) -> String {
    let mut s = if let Some(p) = d.partition() {
        let pt = if p.part_type == PartType::PRIM_SYS {
            "PrimSys".into()
        } else {
            p.part_type.to_string()
        };
        format!("{}/{}/{}", p.fs_type, pt, p.arch.go_name())
    } else if let Some(sig) = d.signature() {
        let fp = sig.fingerprint().map_or("none".into(), |f| {
            f.iter().map(|b| format!("{b:02X}")).collect::<String>()
        });
        format!("hash={}, fp={fp}", sig.hash_type)
    } else if let Some(c) = d.crypto_message() {
        format!("format={}, msg={:#x}", c.format, c.message.0)
    } else if let Some(f) = d.sbom_format() {
        format!("sbom format={} ({f})", f.0)
    } else {
        d.oci_digest().unwrap_or_default()
    };
    if d.uid() != 0 || d.gid() != 0 {
        s = format!("{s} uid/gid={}/{}", d.uid(), d.gid());
    }
    s
}

fn row(d: &Descriptor) -> String {
    let group = d.group().map_or("none".to_string(), |g| g.to_string());
    let link = match d.link() {
        Link::None => "none".to_string(),
        Link::Group(g) => format!("group {g}"),
        Link::Object(o) => format!("obj {o}"),
    };
    format!(
        "| {} | {} | {group} | {link} | {} | {} | {} | '{}' | {} |",
        d.id(),
        type_name(d.data_type()),
        d.offset(),
        d.size(),
        d.size_with_padding(),
        d.name(),
        extra(d),
    )
}

#[test]
fn every_corpus_image_is_listed_in_the_table() {
    let root = corpus_path("");
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "sif") {
                found.push(
                    p.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found.sort();
    let mut listed: Vec<String> = table::IMAGES.iter().map(|e| e.path.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}

#[test]
fn corpus_images_read_as_the_manifest_says() {
    for e in table::IMAGES {
        let path = corpus_path(e.path);
        let img = SifImage::open(&path).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        assert_eq!(img.file_len(), e.size, "{}", e.path);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(HashAlg::Sha256.digest(&bytes).hex(), e.sha256, "{}", e.path);
        assert_eq!(header_line(&img), e.header, "{}", e.path);
        assert_eq!(table_line(&img), e.table, "{}", e.path);
        let rows: Vec<String> = img.descriptors().iter().map(row).collect();
        assert_eq!(rows, e.rows, "{}", e.path);
    }
}

#[test]
fn object_readers_return_the_bytes_at_offset() {
    use std::io::{Read, Seek, SeekFrom};
    for e in table::IMAGES {
        let path = corpus_path(e.path);
        let img = SifImage::open(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for d in img.descriptors() {
            let (start, end) = (
                usize::try_from(d.offset()).unwrap(),
                usize::try_from(d.end()).unwrap(),
            );
            let mut r = img.object_reader(d);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, bytes[start..end], "{} object {}", e.path, d.id());
            assert_eq!(img.read_object(d, u64::MAX).unwrap(), got);
            if d.size() > 2 {
                r.seek(SeekFrom::Start(1)).unwrap();
                let mut two = [0u8; 2];
                r.read_exact(&mut two).unwrap();
                assert_eq!(two, bytes[start + 1..start + 3]);
            }
        }
    }
}

#[test]
fn primary_partitions_and_groups() {
    let img = SifImage::open(corpus_path("real-images/busybox_ppc64le.sif")).unwrap();
    let p = img.primary_partition().unwrap();
    assert_eq!(p.id(), 4);
    assert_eq!(p.offset() % 65536, 0);
    assert_eq!(p.partition().unwrap().arch.go_name(), "ppc64le");
    let sq = img.read_object(p, 4 << 20).unwrap();
    assert_eq!(&sq[..4], b"hsqs");
    assert_eq!(img.groups(), vec![1]);
    let two = SifImage::open(corpus_path("sylabs-sif/images/two-groups-signed-pgp.sif")).unwrap();
    assert_eq!(two.groups(), vec![1, 2]);
    assert_eq!(two.group_min_id(None), Some(4));
    assert_eq!(two.relative_id(two.descriptor(5).unwrap()), 1);
    assert_eq!(two.relative_id(two.descriptor(3).unwrap()), 0);
    let err = two.descriptor(9).unwrap_err().to_string();
    assert!(
        err.ends_with("two-groups-signed-pgp.sif: object 9 not found"),
        "{err}"
    );
    let big = two
        .read_object(two.descriptor(3).unwrap(), 1000)
        .unwrap_err()
        .to_string();
    assert!(
        big.ends_with("object 3 is 262144 bytes, more than the 1000 accepted"),
        "{big}"
    );
}
