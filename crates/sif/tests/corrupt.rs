// SPDX-License-Identifier: Apache-2.0
//! Corrupted and truncated images fail with one clear message naming the file and the problem.
// An integration test crate is test code throughout (helpers included).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use stockade_sif::SifImage;
use stockade_testutil::sif;

const SIGNED: &str = "sylabs-sif/images/one-group-signed-pgp.sif"; // 42008 bytes, objects 1..3

fn base() -> Vec<u8> {
    std::fs::read(sif(SIGNED)).unwrap()
}

fn load_err(bytes: Vec<u8>) -> String {
    match SifImage::from_source(bytes, "bad.sif") {
        Ok(_) => panic!("corrupt image accepted"),
        Err(e) => e.to_string(),
    }
}

fn with(edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut b = base();
    edit(&mut b);
    load_err(b)
}

fn put_i64(b: &mut [u8], off: usize, v: i64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Offset of field `field` of descriptor slot `slot`.
fn desc(slot: usize, field: usize) -> usize {
    4096 + slot * 585 + field
}

#[test]
fn truncation_at_every_boundary() {
    let b = base();
    let cases: &[(usize, &str)] = &[
        (
            0,
            "bad.sif: file too short for a SIF header (0 < 128 bytes)",
        ),
        (
            127,
            "bad.sif: file too short for a SIF header (127 < 128 bytes)",
        ),
        (
            128,
            "bad.sif: descriptor table extends past end of file (offset 4096 + size 28080 > 128)",
        ),
        (
            4096 + 585,
            "bad.sif: descriptor table extends past end of file (offset 4096 + size 28080 > 4681)",
        ),
        (
            32175,
            "bad.sif: descriptor table extends past end of file (offset 4096 + size 28080 > 32175)",
        ),
        (
            32176,
            "bad.sif: object 1 extends past end of file (offset 32768 + size 4 > 32176)",
        ),
        (
            36866,
            "bad.sif: object 2 extends past end of file (offset 36864 + size 4096 > 36866)",
        ),
        (
            42007,
            "bad.sif: object 3 extends past end of file (offset 40960 + size 1048 > 42007)",
        ),
    ];
    for (len, want) in cases {
        assert_eq!(load_err(b[..*len].to_vec()), *want);
    }
    // Every shorter length fails cleanly (no panic), the full file loads.
    for len in (0..b.len()).step_by(97) {
        assert!(
            SifImage::from_source(b[..len].to_vec(), "t.sif").is_err(),
            "len {len}"
        );
    }
    assert!(SifImage::from_source(b, "t.sif").is_ok());
}

#[test]
fn header_corruption() {
    assert_eq!(
        with(|b| b[32] = b'X'),
        "bad.sif: not a SIF image (bad magic)"
    );
    assert_eq!(
        with(|b| b[43] = b'2'),
        "bad.sif: unsupported SIF version \"02\""
    );
    assert_eq!(
        with(|b| put_i64(b, 88, 1 << 40)),
        "bad.sif: descriptor count 1099511627776 exceeds the limit of 4096"
    );
    assert_eq!(
        with(|b| put_i64(b, 88, 4097)),
        "bad.sif: descriptor count 4097 exceeds the limit of 4096"
    );
    assert_eq!(
        with(|b| put_i64(b, 88, -1)),
        "bad.sif: negative descriptors_total in header (-1)"
    );
    assert_eq!(
        with(|b| put_i64(b, 88, 49)),
        "bad.sif: descriptor table size 28080 is not 49 descriptors x 585 bytes"
    );
    assert_eq!(
        with(|b| {
            put_i64(b, 88, 4096);
            put_i64(b, 104, 4096 * 585);
        }),
        "bad.sif: descriptor table extends past end of file (offset 4096 + size 2396160 > 42008)"
    );
    assert_eq!(
        with(|b| put_i64(b, 96, 64)),
        "bad.sif: descriptor table at offset 64 overlaps the header"
    );
    assert_eq!(
        with(|b| put_i64(b, 96, i64::MAX)),
        format!(
            "bad.sif: descriptor table extends past end of file (offset {} + size 28080 > 42008)",
            i64::MAX
        )
    );
    assert_eq!(
        with(|b| put_i64(b, 112, -5)),
        "bad.sif: negative data_offset in header (-5)"
    );
    assert_eq!(
        with(|b| put_i64(b, 80, 44)),
        "bad.sif: header says 44 free descriptors but 45 slots are unused"
    );
}

#[test]
fn descriptor_corruption() {
    assert_eq!(
        with(|b| b[desc(0, 4)] = 2),
        "bad.sif: descriptor slot 0: used flag is 2, not 0 or 1"
    );
    assert_eq!(
        with(|b| put_u32(b, desc(1, 5), 0)),
        "bad.sif: descriptor slot 1: object id 0 is invalid"
    );
    assert_eq!(
        with(|b| put_u32(b, desc(2, 5), 1)),
        "bad.sif: object id 1 used twice (descriptor slots 0 and 2)"
    );
    assert_eq!(
        with(|b| put_i64(b, desc(0, 17), -1)),
        "bad.sif: object 1: negative offset (-1)"
    );
    assert_eq!(
        with(|b| put_i64(b, desc(1, 25), -4096)),
        "bad.sif: object 2: negative size (-4096)"
    );
    assert_eq!(
        with(|b| {
            put_i64(b, desc(0, 17), i64::MAX - 10);
            put_i64(b, desc(0, 25), 100);
        }),
        format!(
            "bad.sif: object 1: offset {} + size 100 overflows",
            i64::MAX - 10
        )
    );
    assert_eq!(
        with(|b| put_i64(b, desc(2, 25), 9999)),
        "bad.sif: object 3 extends past end of file (offset 40960 + size 9999 > 42008)"
    );
    // A used slot beyond the used count: free no longer matches.
    assert_eq!(
        with(|b| {
            b[desc(5, 4)] = 1;
            put_u32(b, desc(5, 5), 6);
        }),
        "bad.sif: header says 45 free descriptors but 44 slots are unused"
    );
}

#[test]
fn overlapping_objects() {
    assert_eq!(
        with(|b| put_i64(b, desc(1, 17), 32770)),
        "bad.sif: objects 1 and 2 overlap"
    );
    assert_eq!(
        with(|b| put_i64(b, desc(2, 17), 36864 + 4095)),
        "bad.sif: objects 2 and 3 overlap"
    );
    // Object 3 placed inside object 2 (containment, not just adjacency).
    assert_eq!(
        with(|b| {
            put_i64(b, desc(2, 17), 37000);
            put_i64(b, desc(2, 25), 10);
        }),
        "bad.sif: objects 2 and 3 overlap"
    );
    assert_eq!(
        with(|b| put_i64(b, desc(0, 17), 0)),
        "bad.sif: object 1 (offset 0, size 4) overlaps the header"
    );
    assert_eq!(
        with(|b| put_i64(b, desc(0, 17), 5000)),
        "bad.sif: object 1 (offset 5000, size 4) overlaps the descriptor table"
    );
    // Zero-size objects overlap nothing.
    let mut b = base();
    put_i64(&mut b, desc(0, 17), 10);
    put_i64(&mut b, desc(0, 25), 0);
    assert!(SifImage::from_source(b, "ok.sif").is_ok());
}

#[test]
fn two_primary_partitions() {
    assert_eq!(
        with(|b| b[desc(0, 201 + 4)] = 2),
        "bad.sif: objects 1 and 2 are both primary system partitions"
    );
}

/// Flipping any byte of the header or of the used descriptors never panics.
#[test]
fn byte_flips_never_panic() {
    let b = base();
    let regions = [0..128, 4096..4096 + 3 * 585];
    for off in regions.into_iter().flatten() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut c = b.clone();
            c[off] ^= mask;
            if let Ok(img) = SifImage::from_source(c, "flip.sif") {
                for d in img.descriptors() {
                    let _ = img.read_object(d, 1 << 20).unwrap();
                }
            }
        }
    }
}

#[test]
fn open_errors_name_the_file() {
    let err = SifImage::open("/nonexistent/x.sif").unwrap_err();
    let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(
        chain.starts_with("cannot open /nonexistent/x.sif: No such file"),
        "{chain}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("text.sif");
    std::fs::write(&p, vec![b'a'; 4096]).unwrap();
    let err = SifImage::open(&p).unwrap_err().to_string();
    assert_eq!(err, format!("{}: not a SIF image (bad magic)", p.display()));
}
