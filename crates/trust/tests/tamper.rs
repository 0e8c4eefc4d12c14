// SPDX-License-Identifier: Apache-2.0
//! MANIFEST §6: every tamper recipe on `one-group-signed-pgp.sif` is caught with the right
//! reason (or, for fields signatures do not cover, still verifies).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use common::*;
use stockade_trust::verify::Selection;

enum Change {
    Xor(usize),
    Set(usize, &'static [u8]),
}

#[test]
fn every_tamper_recipe_is_caught() {
    let src = std::fs::read(image("sylabs-sif/images/one-group-signed-pgp.sif")).unwrap();
    let keys = pgp(pgp_u());
    let cases: Vec<(&str, Change, &str)> = vec![
        ("header id", Change::Xor(48), "header integrity compromised"),
        ("header arch", Change::Set(45, b"2"), "OK"),
        ("header created_at", Change::Xor(64), "OK"),
        (
            "descriptor 1 name",
            Change::Xor(4169),
            "data object descriptor integrity compromised: 1",
        ),
        ("descriptor 1 modified_at", Change::Xor(4145), "OK"),
        (
            "descriptor 2 fstype",
            Change::Set(4882, &[2]),
            "data object descriptor integrity compromised: 2",
        ),
        (
            "descriptor 1 group",
            Change::Set(4105, &[0, 0, 0, 0xF0]),
            "non-signature object not associated with object group",
        ),
        (
            "descriptor 1 offset",
            Change::Set(4113, &[0x81]),
            "data object integrity compromised: 1",
        ),
        (
            "object 1 data",
            Change::Xor(32768),
            "data object integrity compromised: 1",
        ),
        (
            "object 2 data",
            Change::Xor(36864),
            "data object integrity compromised: 2",
        ),
        (
            "signed JSON",
            Change::Xor(41020),
            "signature object 3 not valid",
        ),
        (
            "descriptor 3 entity",
            Change::Xor(5471),
            "fingerprint in descriptor does not correspond to signing entity",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut bad = Vec::new();
    for (i, (what, change, want)) in cases.into_iter().enumerate() {
        let mut bytes = src.clone();
        match change {
            Change::Xor(off) => bytes[off] ^= 0x01,
            Change::Set(off, v) => bytes[off..off + v.len()].copy_from_slice(v),
        }
        assert_ne!(bytes, src, "{what}: no change made");
        let path = dir.path().join(format!("t{i}.sif"));
        std::fs::write(&path, &bytes).unwrap();
        let got = verdict(&run(&path, &keys, Selection::Default, false));
        if !got.starts_with(want) {
            bad.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
