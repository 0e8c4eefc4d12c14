// SPDX-License-Identifier: Apache-2.0
//! format → open → read, without external tools: odd offsets and lengths, both sector sizes,
//! a volume not at the start of its file, wrong passphrases, damaged headers, no plaintext
//! in the output.
// Integration tests are their own test crates: the lib-oriented lint does not apply.
#![allow(clippy::tests_outside_test_module)]

mod common;

use common::{fast_argon2, make_volume, pseudo_random};
use std::collections::HashSet;
use std::fs::File;
use stockade_luks::{FormatOptions, KdfChoice, OpenError, Volume};

const MIB: usize = 1 << 20;

fn check_reads(v: &Volume, plain: &[u8]) {
    let ss = v.sector_size();
    assert!(v.len() >= plain.len() as u64 && v.len().is_multiple_of(ss as u64));
    let mut all = vec![0u8; plain.len()];
    assert_eq!(v.read_at(&mut all, 0).expect("read all"), plain.len());
    assert!(all == plain, "whole payload differs");
    let end = plain.len();
    let cases: &[(usize, usize)] = &[
        (0, 1),
        (1, 1),
        (511, 2),
        (ss - 1, 1),
        (ss - 3, 7),
        (ss + 5, 3 * ss + 11),
        (12345, 100_000),
        (3 * ss, ss),
        (end - 17, 17),
        (end - 1, 1),
    ];
    for &(off, len) in cases.iter().filter(|(o, l)| o + l <= end) {
        let mut buf = vec![0xeeu8; len];
        let n = v.read_at(&mut buf, off as u64).expect("read");
        assert_eq!(n, len, "length at {off}");
        assert!(buf == plain[off..off + len], "data at {off}+{len}");
    }
    let mut tail = vec![0u8; 10_000];
    let n = v.read_at(&mut tail, v.len() - 100).expect("read tail");
    assert_eq!(n, 100, "short read at the end");
    assert_eq!(v.read_at(&mut tail, v.len()).expect("eof"), 0);
    assert_eq!(v.read_at(&mut tail, u64::MAX).expect("far eof"), 0);
}

#[test]
fn random_5mib_round_trips_at_odd_offsets_for_both_sector_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = pseudo_random(5 * MIB + 777, 1);
    for (ss, base) in [(4096u32, 0u64), (512, 65536 + 4096)] {
        let path = dir.path().join(format!("v{ss}"));
        let written = make_volume(&path, base, &plain, b"correct horse", fast_argon2(ss));
        let padded = plain.len().div_ceil(ss as usize) * ss as usize;
        assert_eq!(written, (16 * MIB + padded) as u64);
        let f = File::open(&path).expect("open");
        assert_eq!(f.metadata().expect("stat").len(), base + written);
        let v = Volume::open(&f, base, written, b"correct horse").expect("unlock");
        assert_eq!(v.sector_size(), ss as usize);
        check_reads(&v, &plain);
        // Reads from several threads at once see the same bytes.
        std::thread::scope(|s| {
            for t in 0..4usize {
                let (v, plain) = (&v, &plain);
                s.spawn(move || {
                    let mut b = vec![0u8; 70_000];
                    let off = t * 1_000_003;
                    v.read_at(&mut b, off as u64).expect("threaded read");
                    assert!(b == plain[off..off + b.len()]);
                });
            }
        });
    }
}

#[test]
fn pbkdf2_random_key_volume_opens_with_the_key_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pem");
    let key = stockade_luks::random_key().expect("rng");
    let plain = pseudo_random(100_000, 2);
    let n = make_volume(&path, 0, &plain, &key, FormatOptions::random_key());
    let f = File::open(&path).expect("open");
    let v = Volume::open(&f, 0, n, &key).expect("unlock");
    check_reads(&v, &plain);
    let mut other = key.to_vec();
    other[63] ^= 1;
    let e = Volume::open(&f, 0, n, &other).expect_err("wrong key");
    assert!(matches!(e, OpenError::NoKeyslotMatches { .. }));
}

#[test]
fn wrong_passphrase_is_a_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("img.sif");
    let n = make_volume(&path, 0, b"hello", b"right", fast_argon2(4096));
    let f = File::open(&path).expect("open");
    let e = Volume::open(&f, 0, n, b"wrong").expect_err("wrong passphrase");
    assert_eq!(
        e.to_string(),
        format!(
            "no keyslot matches the passphrase/key for {}",
            path.display()
        )
    );
}

#[test]
fn output_contains_no_plaintext_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("leak");
    let plain = pseudo_random(2 * MIB, 3);
    make_volume(&path, 0, &plain, b"pw", fast_argon2(4096));
    let blocks: HashSet<&[u8]> = plain.chunks_exact(16).collect();
    let out = std::fs::read(&path).expect("read image");
    let leaked = out.chunks_exact(16).filter(|b| blocks.contains(b)).count();
    assert_eq!(leaked, 0, "plaintext blocks found in the image");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        1,
        "format created other files"
    );
}

#[test]
fn damaged_headers_fall_back_or_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hdr");
    let plain = pseudo_random(8192, 4);
    let n = make_volume(&path, 0, &plain, b"pw", fast_argon2(4096));
    let good = std::fs::read(&path).expect("read");
    let open = |bytes: &[u8]| {
        std::fs::write(&path, bytes).expect("write");
        let f = File::open(&path).expect("open");
        Volume::open(&f, 0, bytes.len() as u64, b"pw")
    };
    let mut primary_bad = good.clone();
    primary_bad[5000] ^= 1; // in the primary JSON area
    check_reads(&open(&primary_bad).expect("secondary copy used"), &plain);
    let mut both_bad = primary_bad.clone();
    both_bad[16384 + 5000] ^= 1;
    let e = open(&both_bad).expect_err("both copies damaged");
    assert!(
        e.to_string().starts_with("cannot use the LUKS2 header of"),
        "{e}"
    );
    let mut keyslot_bad = good.clone();
    keyslot_bad[40000..41000].fill(0);
    assert!(matches!(
        open(&keyslot_bad),
        Err(OpenError::NoKeyslotMatches { .. })
    ));
    assert!(open(&good[..20000]).is_err(), "truncated volume");
    assert!(open(&good[..100]).is_err(), "tiny file");
    assert!(matches!(
        open(&good[..(16 << 20) - 1]),
        Err(OpenError::Layout { .. })
    ));
    assert_eq!(n, good.len() as u64);
}

#[test]
fn bad_format_options_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = File::create(dir.path().join("x")).expect("create");
    let bad = [
        FormatOptions {
            sector_size: 1000,
            ..fast_argon2(4096)
        },
        FormatOptions {
            data_offset: 4096,
            ..fast_argon2(4096)
        },
        FormatOptions {
            label: "x".repeat(48),
            ..fast_argon2(4096)
        },
        FormatOptions {
            kdf: KdfChoice::Argon2id {
                time: 0,
                memory_kib: 1024,
                lanes: 1,
            },
            ..fast_argon2(4096)
        },
    ];
    for opts in bad {
        assert!(stockade_luks::format(&mut f, 0, &mut &b"x"[..], 1, b"pw", opts).is_err());
    }
    assert!(stockade_luks::format(&mut f, 0, &mut &b"x"[..], 1, b"", fast_argon2(4096)).is_err());
    let e = stockade_luks::format(&mut f, 0, &mut &b"short"[..], 10, b"pw", fast_argon2(4096))
        .expect_err("short");
    assert_eq!(e.to_string(), "plaintext ended after 5 of 10 bytes");
}
