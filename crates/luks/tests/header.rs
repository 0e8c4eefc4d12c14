// SPDX-License-Identifier: Apache-2.0
//! Header selection and hostile header bytes: copy choice by seqid, crafted JSON, absurd
//! sizes and random mutations give errors, never panics.
// Integration tests are their own test crates: the lib-oriented lint does not apply.
#![allow(clippy::tests_outside_test_module)]

mod common;

use common::{fast_argon2, make_volume, pseudo_random};
use stockade_luks::binhdr::{self, BinHeader};
use stockade_luks::{HeaderError, parse_header};

const HDR: usize = 16384;

/// The first 32 KiB (both header copies) of a fresh volume, and its JSON.
fn fresh() -> (Vec<u8>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v");
    make_volume(&path, 0, b"x", b"pw", fast_argon2(4096));
    let img = std::fs::read(&path).expect("read")[..2 * HDR].to_vec();
    let json = binhdr::json_text(&img[..HDR]).expect("json").to_owned();
    (img, json)
}

/// Rewrites one copy with `json` and `seqid`, checksummed.
fn rewrite(img: &mut [u8], secondary: bool, seqid: u64, json: &str) {
    let at = if secondary { HDR } else { 0 };
    let mut h: BinHeader = binhdr::parse(&img[at..], at as u64).expect("valid copy");
    h.seqid = seqid;
    let area = binhdr::build_area(&h, &[3; 64], json.as_bytes()).expect("fits");
    img[at..at + HDR].copy_from_slice(&area);
}

#[test]
fn newer_copy_wins_and_primary_wins_ties() {
    let (mut img, json) = fresh();
    let newer = json.replacen(r#""type":"luks2""#, r#""type":"luks2","priority":2"#, 1);
    rewrite(&mut img, true, 5, &newer);
    let h = parse_header(&img).expect("valid");
    assert!(
        h.bin.secondary && h.bin.seqid == 5 && h.metadata.keyslots[0].priority == 2,
        "{h:?} {newer}"
    );
    rewrite(&mut img, false, 5, &json);
    let h = parse_header(&img).expect("valid");
    assert!(!h.bin.secondary && h.metadata.keyslots[0].priority == 1);
}

#[test]
fn crafted_json_is_rejected_with_the_reason() {
    let (img, json) = fresh();
    let cases: Vec<(String, &str)> = vec![
        (json[..json.len() / 2].to_owned(), "cannot parse"),
        (
            json.replacen(r#""type":"luks2""#, r#""type":"reencrypt""#, 1),
            "unsupported type \"reencrypt\"",
        ),
        (
            json.replacen(r#""type":"crypt""#, r#""type":"linear""#, 1),
            "unsupported type \"linear\"",
        ),
        (
            json.replacen(r#""sector_size":4096"#, r#""sector_size":65536"#, 1),
            "invalid sector_size",
        ),
        (
            json.replacen(r#""memory":8192"#, r#""memory":99999999"#, 1),
            "bad kdf parameters",
        ),
        ("[".repeat(10_000), "cannot parse"),
    ];
    for (bad, why) in cases {
        let mut m = img.clone();
        rewrite(&mut m, false, 9, &bad);
        rewrite(&mut m, true, 9, &bad);
        let e = parse_header(&m).expect_err("crafted JSON");
        let chain = format!(
            "{e}: {}",
            std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default()
        );
        assert!(chain.contains(why), "{chain} lacks {why}");
    }
}

#[test]
fn absurd_sizes_and_truncation_are_errors() {
    let (img, _) = fresh();
    let mut m = img.clone();
    for at in [0, HDR] {
        m[at + 8..at + 16].copy_from_slice(&u64::MAX.to_be_bytes());
    }
    assert!(matches!(
        parse_header(&m),
        Err(HeaderError::NoValidHeader { .. })
    ));
    for len in [0, 10, 4095, 4096, HDR - 1, HDR + 100] {
        let r = parse_header(&img[..len]);
        assert!(r.is_err() || len > HDR, "{len} bytes parsed");
    }
    let e = parse_header(&[0u8; 65536]).expect_err("zeros");
    assert_eq!(
        e.to_string(),
        "no valid LUKS2 header (primary: no LUKS2 magic; secondary: no LUKS2 magic)"
    );
}

#[test]
fn random_mutations_never_panic() {
    let (img, _) = fresh();
    let noise = pseudo_random(30_000, 11);
    for i in 0..3000usize {
        let mut m = img.clone();
        let n = 1 + noise[i] as usize % 8;
        for j in 0..n {
            let r = &noise[(i * 8 + j) * 3 % (noise.len() - 3)..];
            let pos = (usize::from(r[0]) << 8 | usize::from(r[1])) * 7 % m.len();
            m[pos] = r[2];
        }
        let _ = parse_header(&m);
    }
}
