// SPDX-License-Identifier: Apache-2.0
//! From JSON text to [`Metadata`]: shape, types, bounds and layout.

use super::*;
use std::collections::BTreeMap;

const SECTOR: u64 = 512;

/// Refuses `object` `id` unless its `type` is `want`.
fn expect_type(object: &'static str, id: &str, v: &Value, want: &str) -> Result<(), MetadataError> {
    match type_of(v) {
        t if t == want => Ok(()),
        t => Err(unknown_type(object, id, t)),
    }
}

fn round_up(v: u64, to: u64) -> Option<u64> {
    v.checked_add(to - 1).map(|x| x / to * to)
}

/// Parses and validates the JSON area of a header whose `hdr_size` is given.
pub fn parse_metadata(text: &str, hdr_size: u64) -> Result<Metadata, MetadataError> {
    let root: json::Root = serde_json::from_str(text).map_err(MetadataError::Parse)?;
    let counts = [
        ("keyslots", root.keyslots.len()),
        ("tokens", root.tokens.len()),
        ("segments", root.segments.len()),
        ("digests", root.digests.len()),
    ];
    if let Some((name, _)) = counts.iter().find(|(_, n)| *n > MAX_OBJECTS) {
        return Err(MetadataError::TooMany(name));
    }
    let keyslots_size = parse_config(&root.config, hdr_size)?;
    let areas_start = hdr_size * 2;
    let metadata_end = areas_start
        .checked_add(keyslots_size)
        .ok_or(MetadataError::Layout("keyslots size overflows"))?;
    let segment = parse_segment(root.segments, metadata_end)?;
    let mut keyslots = Vec::with_capacity(root.keyslots.len());
    for (id, v) in root.keyslots {
        keyslots.push(parse_keyslot(&id, v, areas_start, metadata_end)?);
    }
    keyslots.sort_by_key(|k| k.id);
    let slot_ids: Vec<u32> = keyslots.iter().map(|k| k.id).collect();
    let mut digests = Vec::with_capacity(root.digests.len());
    for (id, v) in root.digests {
        digests.push(parse_digest(&id, v, &slot_ids, segment.id)?);
    }
    Ok(Metadata {
        keyslots,
        segment,
        digests,
        keyslots_size,
    })
}

fn parse_config(c: &json::Config, hdr_size: u64) -> Result<u64, MetadataError> {
    if let Some(first) = c.requirements.as_ref().and_then(|r| r.mandatory.first()) {
        return Err(MetadataError::Requirement(first.chars().take(64).collect()));
    }
    let json_size = parse_u64(&c.json_size).ok_or_else(|| invalid("config", "", "json_size"))?;
    if json_size != hdr_size - crate::binhdr::BIN_SIZE as u64 {
        return Err(MetadataError::Layout(
            "config json_size does not match the header size",
        ));
    }
    let keyslots_size =
        parse_u64(&c.keyslots_size).ok_or_else(|| invalid("config", "", "keyslots_size"))?;
    if keyslots_size % 4096 != 0 {
        return Err(MetadataError::Layout(
            "keyslots size is not a multiple of 4096",
        ));
    }
    Ok(keyslots_size)
}

fn parse_segment(
    segments: BTreeMap<String, Value>,
    metadata_end: u64,
) -> Result<Segment, MetadataError> {
    if segments.len() != 1 {
        return Err(MetadataError::SegmentCount(segments.len()));
    }
    let Some((id, v)) = segments.into_iter().next() else {
        return Err(MetadataError::SegmentCount(0));
    };
    let n = parse_id("segment", &id)?;
    expect_type("segment", &id, &v, "crypt")?;
    let s: json::Segment = typed(v)?;
    if s.integrity.is_some() {
        return Err(invalid(
            "segment",
            &id,
            "integrity (authenticated encryption is not supported)",
        ));
    }
    let offset = parse_u64(&s.offset)
        .filter(|o| o % SECTOR == 0)
        .ok_or_else(|| invalid("segment", &id, "offset"))?;
    if offset < metadata_end {
        return Err(MetadataError::Layout("data segment overlaps the metadata"));
    }
    let sector_size = s.sector_size;
    if !matches!(sector_size, 512 | 1024 | 2048 | 4096) {
        return Err(invalid("segment", &id, "sector_size"));
    }
    let ss = u64::from(sector_size);
    let size = match s.size.as_str() {
        "dynamic" => None,
        v => Some(
            parse_u64(v)
                .filter(|s| s % ss == 0)
                .ok_or_else(|| invalid("segment", &id, "size"))?,
        ),
    };
    let iv_tweak = parse_u64(&s.iv_tweak).ok_or_else(|| invalid("segment", &id, "iv_tweak"))?;
    let cipher = CipherSpec::parse(&s.encryption).map_err(|source| MetadataError::Cipher {
        object: "segment",
        id: id.clone(),
        source,
    })?;
    Ok(Segment {
        id: n,
        offset,
        size,
        iv_tweak,
        cipher,
        sector_size,
    })
}

fn parse_keyslot(
    id: &str,
    v: Value,
    areas_start: u64,
    metadata_end: u64,
) -> Result<Keyslot, MetadataError> {
    let n = parse_id("keyslot", id)?;
    expect_type("keyslot", id, &v, "luks2")?;
    let k: json::Keyslot = typed(v)?;
    if !(1..=MAX_KEY_SIZE).contains(&k.key_size) {
        return Err(invalid("keyslot", id, "key_size"));
    }
    if k.af.kind != "luks1" {
        return Err(unknown_type("keyslot af", id, &k.af.kind));
    }
    if !(1..=MAX_STRIPES).contains(&k.af.stripes) {
        return Err(invalid("keyslot", id, "af stripes"));
    }
    let af_hash = hash("keyslot", id, "af hash", &k.af.hash)?;
    let material =
        round_up(u64::from(k.key_size) * u64::from(k.af.stripes), SECTOR).unwrap_or(u64::MAX);
    let area = parse_area(id, &k.area, material, areas_start, metadata_end)?;
    let priority = k.priority.unwrap_or(1);
    if priority > 2 {
        return Err(invalid("keyslot", id, "priority"));
    }
    let kdf = parse_kdf(id, k.kdf)?;
    let key_size = k.key_size as usize;
    let stripes = k.af.stripes;
    Ok(Keyslot {
        id: n,
        key_size,
        priority,
        stripes,
        af_hash,
        area_offset: area.offset,
        area_size: area.size,
        area_cipher: area.cipher,
        area_key_size: area.key_size,
        kdf,
    })
}

/// A keyslot's checked `area`.
struct Area {
    cipher: CipherSpec,
    key_size: usize,
    offset: u64,
    size: u64,
}

/// Checks keyslot `id`'s area: a raw area with a usable cipher, sector-aligned inside the
/// keyslots area and large enough for `material` bytes of split key.
fn parse_area(
    id: &str,
    a: &json::Area,
    material: u64,
    areas_start: u64,
    metadata_end: u64,
) -> Result<Area, MetadataError> {
    if a.kind != "raw" {
        return Err(unknown_type("keyslot area", id, &a.kind));
    }
    let area_cipher = CipherSpec::parse(&a.encryption).map_err(|source| MetadataError::Cipher {
        object: "keyslot",
        id: id.into(),
        source,
    })?;
    let area_key_size = a.key_size as usize;
    if !area_cipher.key_len_ok(area_key_size) {
        return Err(invalid("keyslot", id, "area key_size"));
    }
    let area_offset = parse_u64(&a.offset).ok_or_else(|| invalid("keyslot", id, "area offset"))?;
    let area_size = parse_u64(&a.size).ok_or_else(|| invalid("keyslot", id, "area size"))?;
    let end = area_offset.checked_add(area_size);
    let inside = area_offset >= areas_start
        && area_offset % SECTOR == 0
        && end.is_some_and(|e| e <= metadata_end);
    if !inside || area_size < material {
        return Err(MetadataError::Layout(
            "keyslot area outside the keyslots area or too small",
        ));
    }
    Ok(Area {
        cipher: area_cipher,
        key_size: area_key_size,
        offset: area_offset,
        size: area_size,
    })
}

fn parse_refs(
    id: &str,
    field: &'static str,
    refs: &[String],
    known: &[u32],
) -> Result<Vec<u32>, MetadataError> {
    refs.iter()
        .map(|r| {
            parse_id("digest", r)
                .ok()
                .filter(|n| known.contains(n))
                .ok_or_else(|| invalid("digest", id, field))
        })
        .collect()
}

fn parse_digest(id: &str, v: Value, slots: &[u32], segment: u32) -> Result<Digest, MetadataError> {
    parse_id("digest", id)?;
    expect_type("digest", id, &v, "pbkdf2")?;
    let d: json::Digest = typed(v)?;
    let keyslots = parse_refs(id, "keyslots", &d.keyslots, slots)?;
    let segments = parse_refs(id, "segments", &d.segments, &[segment])?;
    let hash = hash("digest", id, "hash", &d.hash)?;
    if !(1..=MAX_PBKDF2_ITERATIONS).contains(&d.iterations) {
        return Err(invalid("digest", id, "iterations"));
    }
    let salt = b64("digest", id, "salt", &d.salt)?;
    if !SALT_LEN.contains(&salt.len()) {
        return Err(invalid("digest", id, "salt"));
    }
    let digest = b64("digest", id, "digest", &d.digest)?;
    if !(16..=64).contains(&digest.len()) {
        return Err(invalid("digest", id, "digest"));
    }
    Ok(Digest {
        keyslots,
        segments,
        hash,
        iterations: d.iterations,
        salt,
        digest,
    })
}
