// SPDX-License-Identifier: Apache-2.0
//! Black-box tests of `stockade sif` on the built binary.
// An integration test crate is test code throughout (helpers included).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{fails, ok, stockade};
use stockade_testutil::sif;

fn img(rel: &str) -> String {
    sif(rel).to_string_lossy().into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn list_matches_siftool() {
    let want = "\
------------------------------------------------------------------------------
ID   |GROUP   |LINK    |SIF POSITION (start-end)  |TYPE
------------------------------------------------------------------------------
1    |1       |NONE    |32768-32772               |FS (Raw/System/386)
2    |1       |NONE    |36864-40960               |FS (Squashfs/*System/386)
3    |2       |NONE    |40960-303104              |FS (Ext3/System/amd64)
4    |NONE    |1   (G) |303104-304152             |Signature (SHA-256)
5    |NONE    |2   (G) |304152-305001             |Signature (SHA-256)
";
    assert_eq!(
        ok(&[
            "sif",
            "list",
            &img("sylabs-sif/images/two-groups-signed-pgp.sif")
        ]),
        want
    );
    let legacy = ok(&[
        "sif",
        "list",
        &img("sylabs-sif/images/one-group-signed-legacy-all.sif"),
    ]);
    assert!(
        legacy
            .contains("\n4    |1       |2       |45056-45665               |Signature (SHA-384)\n")
    );
    let cm = ok(&[
        "sif",
        "list",
        &img("sylabs-sif/images/one-object-crypt-message.sif"),
    ]);
    assert!(cm.ends_with(
        "|32176-32180               |Cryptographic Message (OpenPGP/Clear Signature)\n"
    ));
    let sbom = ok(&["sif", "list", &img("sylabs-sif/images/one-object-sbom.sif")]);
    assert!(sbom.ends_with("|SBOM (cyclonedx-json)\n"));
    let oci = ok(&["sif", "list", &img("oci-sif/empty.oci.sif")]);
    assert!(oci.ends_with("|32176-32179               |OCI.RootIndex\n"));
    let empty = ok(&["sif", "list", &img("apptainer/images/empty.sif")]);
    assert_eq!(empty.lines().count(), 3);
}

#[test]
fn list_json_has_the_descriptor_facts() {
    let out = ok(&[
        "sif",
        "list",
        "--json",
        &img("sylabs-sif/images/two-groups-signed-pgp.sif"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 5);
    assert_eq!(a[1]["id"], 2);
    assert_eq!(a[1]["type"], 0x4004);
    assert_eq!(a[1]["group"], 1);
    assert_eq!(a[1]["link"], serde_json::Value::Null);
    assert_eq!(
        (a[1]["offset"].as_u64(), a[1]["size"].as_u64()),
        (Some(36864), Some(4096))
    );
    assert_eq!(
        (a[1]["fstype"].as_i64(), a[1]["parttype"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(a[2]["arch"], "amd64");
    assert_eq!(a[4]["group"], serde_json::Value::Null);
    assert_eq!(
        (a[4]["link"].as_u64(), a[4]["link_is_group"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(a[4]["hashtype"], 1);
    assert_eq!(a[4]["entity"], "12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84");
    let bb = ok(&[
        "sif",
        "list",
        "--json",
        &img("real-images/busybox_arm64.sif"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&bb).unwrap();
    assert_eq!(v[1]["name"], "inspect-metadata.json");
    assert_eq!(v[3]["arch"], "arm64");
    let oci = ok(&[
        "sif",
        "list",
        "--json",
        &img("sylabs-sif/images/one-object-oci-blob.sif"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&oci).unwrap();
    assert_eq!(
        v[0]["digest"],
        "sha256:a88b15e95042f7d5a1327c03c57e10bdc1cf5f5efc2968fc73c12b6f5b00c731"
    );
}

#[test]
fn header_and_info_match_siftool() {
    let header = ok(&["sif", "header", &img("sylabs-sif/images/two-groups.sif")]);
    assert_eq!(
        header,
        "Version:              01\nPrimary Architecture: 386\nDescriptors Free:     45\n\
         Descriptors Total:    48\nDescriptors Offset:   4096\nDescriptors Size:     27 KiB\n\
         Data Offset:          32176\nData Size:            265 KiB\n"
    );
    let bb = ok(&["sif", "header", &img("real-images/busybox_amd64.sif")]);
    assert!(bb.starts_with(
        "Launch Script:        #!/usr/bin/env run-singularity\nVersion:              01\n"
    ));
    assert!(bb.contains("\nCreated At:           2021-08-02 19:09:36 +0000 UTC\n"));
    let sig = ok(&[
        "sif",
        "info",
        &img("sylabs-sif/images/two-groups-signed-pgp.sif"),
        "4",
    ]);
    assert_eq!(
        sig,
        "  Data Type:  Signature\n  ID:         4\n  Group ID:   NONE\n  Linked ID:  1 (G)\n\
         \x20 Offset:     303104\n  Size:       1048\n  Hash Type:  SHA-256\n\
         \x20 Entity:     12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84\n"
    );
    let t = ok(&[
        "sif",
        "info",
        &img("sylabs-sif/images/one-object-time.sif"),
        "1",
    ]);
    assert!(
        t.contains("  Created At:   2020-06-30 00:01:56 +0000 UTC\n"),
        "{t}"
    );
    assert!(t.ends_with("  Name:         data.json\n"), "{t}");
    let oci = ok(&[
        "sif",
        "info",
        &img("sylabs-sif/images/one-object-oci-root-index.sif"),
        "1",
    ]);
    assert!(oci.ends_with(
        "  Digest:     sha256:2dc692f0dcaf7e3cb30db2d5d61004e4319f13db84331b65f066481c0f94cffb\n"
    ));
    let part = ok(&["sif", "info", &img("real-images/busybox_ppc64le.sif"), "4"]);
    assert!(part.contains(
        "  Filesystem Type:  Squashfs\n  Partition Type:   *System\n  Architecture:     ppc64le\n"
    ));
}

#[test]
fn dump_writes_the_object_bytes() {
    let path = sif("real-images/busybox_amd64.sif");
    let bytes = std::fs::read(&path).unwrap();
    let out = stockade(&["sif", "dump", p(&path), "4"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes[45056..45056 + 745_472]);
    let def = stockade(&["sif", "dump", p(&path), "1"]);
    assert_eq!(def.stdout, bytes[32768..32768 + 39]);
}

fn dump_to(image: &str, id: &str, dst: &Path) -> PathBuf {
    let out = stockade(&["sif", "dump", image, id]);
    assert!(out.status.success());
    std::fs::write(dst, out.stdout).unwrap();
    dst.to_path_buf()
}

/// new + add + add + add(signature) rebuilds the signed corpus image; del --compact undoes it.
#[test]
fn new_add_del_round_trip_is_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let signed = img("sylabs-sif/images/one-group-signed-pgp.sif");
    let (o1, o2, o3) = (
        dump_to(&signed, "1", &dir.path().join("o1")),
        dump_to(&signed, "2", &dir.path().join("o2")),
        dump_to(&signed, "3", &dir.path().join("o3")),
    );
    let x = dir.path().join("x.sif");
    ok(&["sif", "new", "--deterministic", p(&x)]);
    assert_eq!(
        std::fs::read(&x).unwrap(),
        std::fs::read(sif("sylabs-sif/images/empty.sif")).unwrap()
    );
    let part = [
        "--datatype",
        "4",
        "--partfs",
        "4",
        "--parttype",
        "1",
        "--partarch",
        "1",
        "--groupid",
        "1",
    ];
    ok(&[&["sif", "add"][..], &part, &[p(&x), p(&o1)]].concat());
    let prim = [
        "--datatype",
        "4",
        "--partfs",
        "1",
        "--parttype",
        "2",
        "--partarch",
        "386",
        "--groupid",
        "1",
    ];
    ok(&[&["sif", "add"][..], &prim, &[p(&x), p(&o2)]].concat());
    let one_group = std::fs::read(sif("sylabs-sif/images/one-group.sif")).unwrap();
    assert!(std::fs::read(&x).unwrap() == one_group);
    let fp = "12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84";
    let sig = [
        "--datatype",
        "5",
        "--signhash",
        "1",
        "--signentity",
        fp,
        "--linkgroup",
        "1",
    ];
    ok(&[&["sif", "add"][..], &sig, &[p(&x), p(&o3)]].concat());
    assert!(std::fs::read(&x).unwrap() == std::fs::read(&signed).unwrap());
    ok(&["sif", "del", "--compact", p(&x), "3"]);
    assert!(std::fs::read(&x).unwrap() == one_group);

    // A second primary partition is refused and leaves the image as it was.
    let err = fails(&[&["sif", "add"][..], &prim, &[p(&x), p(&o2)]].concat());
    assert_eq!(
        err,
        format!(
            "stockade: {}: image already has a primary partition (object 2)",
            p(&x)
        )
    );
    assert!(std::fs::read(&x).unwrap() == one_group);
}

#[test]
fn setprim_and_oci_add() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("two.sif");
    std::fs::copy(sif("sylabs-sif/images/two-groups.sif"), &x).unwrap();
    ok(&["sif", "setprim", p(&x), "3"]);
    let h = ok(&["sif", "header", p(&x)]);
    assert!(h.contains("Primary Architecture: amd64\n"), "{h}");
    assert!(
        !h.contains("Modified At:"),
        "deterministic image: times stay unset: {h}"
    );
    let blob = dir.path().join("blob");
    std::fs::write(&blob, b"{}").unwrap();
    ok(&[
        "sif",
        "add",
        "--datatype",
        "11",
        "--groupid",
        "3",
        "--filename",
        "cfg",
        p(&x),
        p(&blob),
    ]);
    let info = ok(&["sif", "info", p(&x), "4"]);
    assert!(info.contains("  Group ID:   3\n"), "{info}");
    assert!(info.contains("  Name:       cfg\n"), "{info}");
    assert!(info.ends_with(
        "  Digest:     sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n"
    ), "{info}");
    ok(&["sif", "del", "--zero", p(&x), "4"]);
    assert!(fails(&["sif", "info", p(&x), "4"]).ends_with("two.sif: object 4 not found"));
}

#[test]
fn errors_are_one_line_and_exit_255() {
    assert_eq!(
        fails(&["sif", "list", "/nonexistent/x.sif"]),
        "stockade: cannot open /nonexistent/x.sif: No such file or directory (os error 2)"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sif");
    let mut bytes = std::fs::read(sif("sylabs-sif/images/one-group-signed-pgp.sif")).unwrap();
    bytes[4096 + 2 * 585 + 25..4096 + 2 * 585 + 33].copy_from_slice(&9999i64.to_le_bytes());
    std::fs::write(&bad, bytes).unwrap();
    assert_eq!(
        fails(&["sif", "list", p(&bad)]),
        format!(
            "stockade: {}: object 3 extends past end of file (offset 40960 + size 9999 > 42008)",
            p(&bad)
        )
    );
    assert!(
        fails(&["sif", "dump", &img("sylabs-sif/images/one-group.sif"), "7"])
            .ends_with("object 7 not found")
    );
    let x = dir.path().join("x.sif");
    ok(&["sif", "new", p(&x)]);
    let e = fails(&["sif", "add", "--datatype", "42", p(&x), "/etc/hostname"]);
    assert_eq!(e, "stockade: invalid --datatype 42 (1..11)");
    let e = fails(&["sif", "add", "--datatype", "4", p(&x), "/etc/hostname"]);
    assert_eq!(
        e,
        "stockade: with --datatype 4, --partfs, --parttype and --partarch must be passed"
    );
    let e = fails(&["sif", "add", "--datatype", "1", p(&x), "/nonexistent/def"]);
    assert!(
        e.starts_with("stockade: cannot open /nonexistent/def: No such file"),
        "{e}"
    );
    assert!(fails(&["sif", "frobnicate"]).starts_with("stockade: unrecognized subcommand"));
    assert!(fails(&["sif", "info", p(&x), "notanumber"]).starts_with("stockade: invalid value"));
    assert!(stockade(&["--help"]).status.success());
}
