// SPDX-License-Identifier: Apache-2.0
//! Metadata validation: a real cryptsetup JSON parses; each class of damage is refused.

use super::*;

/// JSON written by `cryptsetup luksFormat --type luks2` 2.6.1 (defaults, 4096-byte sectors).
pub(crate) const CRYPTSETUP_JSON: &str = r#"{"keyslots":{"0":{"type":"luks2","key_size":64,"af":{"type":"luks1","stripes":4000,"hash":"sha256"},"area":{"type":"raw","offset":"32768","size":"258048","encryption":"aes-xts-plain64","key_size":64},"kdf":{"type":"argon2id","time":4,"memory":662984,"cpus":2,"salt":"Orjy5WYAD9QooMfDknC4vAsTWME88EcmcRCY/PIRMTA="}}},"tokens":{},"segments":{"0":{"type":"crypt","offset":"16777216","size":"dynamic","iv_tweak":"0","encryption":"aes-xts-plain64","sector_size":4096}},"digests":{"0":{"type":"pbkdf2","keyslots":["0"],"segments":["0"],"hash":"sha256","iterations":200109,"salt":"JTs2UoUPxTWhodotXRFeT/hpYaBpz/yGtAGjRWnkkac=","digest":"WtCUzSoTbGcLesIICM8r09U7nVSGM+JoYKEW9D+jcFk="}},"config":{"json_size":"12288","keyslots_size":"16744448"}}"#;

fn with(from: &str, to: &str) -> Result<Metadata, MetadataError> {
    assert!(
        CRYPTSETUP_JSON.contains(from),
        "test pattern {from} not in sample"
    );
    parse_metadata(&CRYPTSETUP_JSON.replacen(from, to, 1), 16384)
}

#[test]
fn cryptsetup_default_metadata_parses() {
    let m = parse_metadata(CRYPTSETUP_JSON, 16384).expect("valid");
    assert_eq!(m.keyslots.len(), 1);
    let k = &m.keyslots[0];
    assert_eq!(
        (k.key_size, k.stripes, k.area_offset, k.area_size),
        (64, 4000, 32768, 258048)
    );
    assert!(matches!(
        k.kdf,
        Kdf::Argon2 {
            variant: Argon2Variant::Id,
            time: 4,
            memory_kib: 662984,
            lanes: 2,
            ..
        }
    ));
    assert_eq!(
        (m.segment.offset, m.segment.size, m.segment.sector_size),
        (16 << 20, None, 4096)
    );
    assert_eq!(m.digests[0].keyslots, vec![0]);
    assert_eq!(m.digests[0].digest.len(), 32);
}

#[test]
fn unknown_types_name_the_object() {
    let e = with(r#""type":"luks2""#, r#""type":"reencrypt""#).expect_err("unknown keyslot");
    assert_eq!(
        e.to_string(),
        "keyslot 0 has unsupported type \"reencrypt\""
    );
    let e = with(r#""type":"crypt""#, r#""type":"linear""#).expect_err("unknown segment");
    assert_eq!(e.to_string(), "segment 0 has unsupported type \"linear\"");
    let e = with(r#""type":"argon2id""#, r#""type":"scrypt""#).expect_err("unknown kdf");
    assert!(e.to_string().contains("unsupported type \"scrypt\""));
    assert!(with(r#""type":"pbkdf2","keyslots""#, r#""type":"x","keyslots""#).is_err());
    let e = with(
        r#""encryption":"aes-xts-plain64","sector"#,
        r#""encryption":"twofish-xts-plain64","sector"#,
    )
    .expect_err("unknown cipher");
    assert!(matches!(
        e,
        MetadataError::Cipher {
            object: "segment",
            ..
        }
    ));
}

#[test]
fn damaged_or_hostile_values_are_refused() {
    let cases = [
        (r#""memory":662984"#, r#""memory":4294967295"#),
        (r#""stripes":4000"#, r#""stripes":4000000"#),
        (r#""offset":"32768""#, r#""offset":"4096""#),
        (r#""size":"258048""#, r#""size":"4096""#),
        (r#""offset":"16777216""#, r#""offset":"8192""#),
        (r#""offset":"16777216""#, r#""offset":"+16777216""#),
        (r#""sector_size":4096"#, r#""sector_size":4097"#),
        (r#""iv_tweak":"0""#, r#""iv_tweak":"-1""#),
        (r#""json_size":"12288""#, r#""json_size":"4096""#),
        (
            r#""keyslots_size":"16744448""#,
            r#""keyslots_size":"18446744073709551615""#,
        ),
        (r#""keyslots":["0"]"#, r#""keyslots":["7"]"#),
        (r#""segments":["0"]"#, r#""segments":["01"]"#),
        (r#""iterations":200109"#, r#""iterations":0"#),
        (r#""salt":"JTs2"#, r#""salt":"!!!!"#),
        (
            r#""size":"dynamic""#,
            r#""size":"dynamic","integrity":{"type":"hmac(sha256)"}"#,
        ),
        (
            r#""config":{"#,
            r#""config":{"requirements":{"mandatory":["online-reencrypt"]},"#,
        ),
        (r#""key_size":64,"af""#, r#""key_size":64,"bogus":1,"af""#),
        (r#""tokens":{}"#, r#""tokens":[]"#),
        (r#""keyslots":{"0""#, r#""keyslots":{"99""#),
    ];
    for (from, to) in cases {
        assert!(with(from, to).is_err(), "accepted {to}");
    }
    assert!(parse_metadata("", 16384).is_err());
    assert!(parse_metadata(&CRYPTSETUP_JSON[..200], 16384).is_err());
    assert!(
        parse_metadata(CRYPTSETUP_JSON, 32768).is_err(),
        "json_size must follow hdr_size"
    );
    let two = CRYPTSETUP_JSON.replacen(
        r#""segments":{"0":"#,
        r#""segments":{"1":{"type":"crypt"},"0":"#,
        1,
    );
    assert!(matches!(
        parse_metadata(&two, 16384),
        Err(MetadataError::SegmentCount(2))
    ));
}

#[test]
fn u64_strings_are_canonical_decimals() {
    assert_eq!(parse_u64("0"), Some(0));
    assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "+1",
        "-1",
        "01",
        " 1",
        "1e3",
        "18446744073709551616",
        "0x10",
    ] {
        assert_eq!(parse_u64(bad), None, "{bad:?}");
    }
}
