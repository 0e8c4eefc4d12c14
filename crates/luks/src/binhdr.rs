// SPDX-License-Identifier: Apache-2.0
//! The 4096-byte binary LUKS2 header (big-endian) and the checksum over the header area
//! (binary header + JSON area, `hdr_size` bytes, checksum field zeroed while hashing).
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 6 | magic `LUKS\xba\xbe` (primary) / `SKUL\xba\xbe` (secondary) |
//! | 6 | 2 | version = 2 |
//! | 8 | 8 | hdr_size (binary + JSON) |
//! | 16 | 8 | seqid |
//! | 24 | 48 | label |
//! | 72 | 32 | checksum_alg |
//! | 104 | 64 | salt |
//! | 168 | 40 | uuid |
//! | 208 | 48 | subsystem |
//! | 256 | 8 | hdr_offset |
//! | 448 | 64 | csum |

use sha2::{Digest, Sha256};

/// Size of the binary part of a header.
pub const BIN_SIZE: usize = 4096;
/// The header-area sizes the format allows (binary + JSON): 16 KiB to 4 MiB.
pub const HDR_SIZES: [u64; 9] = [
    16 << 10,
    32 << 10,
    64 << 10,
    128 << 10,
    256 << 10,
    512 << 10,
    1 << 20,
    2 << 20,
    4 << 20,
];
const MAGIC_PRIMARY: &[u8; 6] = b"LUKS\xba\xbe";
const MAGIC_SECONDARY: &[u8; 6] = b"SKUL\xba\xbe";
const CSUM: std::ops::Range<usize> = 448..512;

/// A binary header that is malformed.
#[derive(Debug, thiserror::Error)]
pub enum BinError {
    /// Too few bytes for a header where one should be.
    #[error("truncated header")]
    Truncated,
    /// No LUKS magic.
    #[error("no LUKS2 magic")]
    Magic,
    /// Version other than 2 (LUKS1 is not supported).
    #[error("LUKS version {0} is not supported (only 2)")]
    Version(u16),
    /// `hdr_size` not one of [`HDR_SIZES`].
    #[error("invalid header size {0}")]
    HdrSize(u64),
    /// `hdr_offset` does not match where the header was found.
    #[error("header offset {found} does not match its position {expected}")]
    HdrOffset {
        /// Value in the header.
        found: u64,
        /// Where it was read.
        expected: u64,
    },
    /// A text field lacks its NUL terminator or is not UTF-8.
    #[error("field {0} is not a NUL-terminated string")]
    Text(&'static str),
    /// Checksum algorithm other than sha256.
    #[error("unsupported checksum algorithm {0:?}")]
    ChecksumAlg(String),
    /// Checksum mismatch.
    #[error("header checksum mismatch")]
    Checksum,
    /// The JSON area has no NUL terminator or is not UTF-8.
    #[error("JSON area is not a NUL-terminated UTF-8 string")]
    JsonText,
}

/// The fields of a binary header that matter to readers and writers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinHeader {
    /// True for the secondary (`SKUL`) copy.
    pub secondary: bool,
    /// Header area size (binary + JSON).
    pub hdr_size: u64,
    /// Sequence number; the higher valid copy wins.
    pub seqid: u64,
    /// Volume label.
    pub label: String,
    /// Volume UUID (textual).
    pub uuid: String,
    /// Subsystem label.
    pub subsystem: String,
    /// Offset of this header from the volume start.
    pub hdr_offset: u64,
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn text(b: &[u8], name: &'static str) -> Result<String, BinError> {
    let end = b.iter().position(|&c| c == 0).ok_or(BinError::Text(name))?;
    std::str::from_utf8(&b[..end])
        .map(str::to_owned)
        .map_err(|_| BinError::Text(name))
}

/// Parses the binary header at the start of `buf` found at volume offset `at`.
pub fn parse(buf: &[u8], at: u64) -> Result<BinHeader, BinError> {
    let b = buf.get(..BIN_SIZE).ok_or(BinError::Truncated)?;
    let secondary = match &b[..6] {
        m if m == MAGIC_PRIMARY => false,
        m if m == MAGIC_SECONDARY => true,
        _ => return Err(BinError::Magic),
    };
    let version = u16::from_be_bytes([b[6], b[7]]);
    if version != 2 {
        return Err(BinError::Version(version));
    }
    let hdr_size = be64(b, 8);
    if !HDR_SIZES.contains(&hdr_size) {
        return Err(BinError::HdrSize(hdr_size));
    }
    let hdr_offset = be64(b, 256);
    if hdr_offset != at {
        return Err(BinError::HdrOffset {
            found: hdr_offset,
            expected: at,
        });
    }
    let alg = text(&b[72..104], "checksum_alg")?;
    if alg != "sha256" {
        return Err(BinError::ChecksumAlg(alg.chars().take(32).collect()));
    }
    Ok(BinHeader {
        secondary,
        hdr_size,
        seqid: be64(b, 16),
        label: text(&b[24..72], "label")?,
        uuid: text(&b[168..208], "uuid")?,
        subsystem: text(&b[208..256], "subsystem")?,
        hdr_offset,
    })
}

fn checksum(area: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&area[..CSUM.start]);
    h.update([0u8; 64]);
    h.update(&area[CSUM.end..]);
    h.finalize().into()
}

/// Verifies the checksum of a whole header area (`hdr_size` bytes).
pub fn verify_checksum(area: &[u8]) -> Result<(), BinError> {
    if area.len() < BIN_SIZE {
        return Err(BinError::Truncated);
    }
    let stored = &area[CSUM];
    let ok =
        crate::hash::ct_eq(&stored[..32], &checksum(area)) && stored[32..].iter().all(|&c| c == 0);
    if ok { Ok(()) } else { Err(BinError::Checksum) }
}

/// The JSON text of a header area: the bytes after the binary header up to the first NUL.
pub fn json_text(area: &[u8]) -> Result<&str, BinError> {
    let json = area.get(BIN_SIZE..).ok_or(BinError::Truncated)?;
    let end = json
        .iter()
        .position(|&c| c == 0)
        .ok_or(BinError::JsonText)?;
    std::str::from_utf8(&json[..end]).map_err(|_| BinError::JsonText)
}

fn put_text(b: &mut [u8], s: &str) {
    let n = s.len().min(b.len() - 1);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Builds a complete, checksummed header area (`h.hdr_size` bytes) around `json`, which must
/// leave room for its NUL terminator. Returns `None` if it does not fit.
pub fn build_area(h: &BinHeader, salt: &[u8; 64], json: &[u8]) -> Option<Vec<u8>> {
    let size = usize::try_from(h.hdr_size).ok()?;
    if json.len() >= size.checked_sub(BIN_SIZE)? {
        return None;
    }
    let mut a = vec![0u8; size];
    a[..6].copy_from_slice(if h.secondary {
        MAGIC_SECONDARY
    } else {
        MAGIC_PRIMARY
    });
    a[6..8].copy_from_slice(&2u16.to_be_bytes());
    a[8..16].copy_from_slice(&h.hdr_size.to_be_bytes());
    a[16..24].copy_from_slice(&h.seqid.to_be_bytes());
    put_text(&mut a[24..72], &h.label);
    put_text(&mut a[72..104], "sha256");
    a[104..168].copy_from_slice(salt);
    put_text(&mut a[168..208], &h.uuid);
    put_text(&mut a[208..256], &h.subsystem);
    a[256..264].copy_from_slice(&h.hdr_offset.to_be_bytes());
    a[BIN_SIZE..BIN_SIZE + json.len()].copy_from_slice(json);
    let sum = checksum(&a);
    a[CSUM.start..CSUM.start + 32].copy_from_slice(&sum);
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secondary: bool) -> BinHeader {
        BinHeader {
            secondary,
            hdr_size: 16384,
            seqid: 7,
            label: "lbl".into(),
            uuid: "0e2bbf6c-095a-48f2-bb27-a054b352d0c5".into(),
            subsystem: String::new(),
            hdr_offset: if secondary { 16384 } else { 0 },
        }
    }

    #[test]
    fn build_parse_round_trip_and_checksum() {
        let h = sample(false);
        let area = build_area(&h, &[9; 64], b"{}").expect("fits");
        assert_eq!(parse(&area, 0).expect("valid"), h);
        verify_checksum(&area).expect("checksum");
        assert_eq!(json_text(&area).expect("json"), "{}");
        let s = sample(true);
        let area2 = build_area(&s, &[9; 64], b"{}").expect("fits");
        assert_eq!(parse(&area2, 16384).expect("valid"), s);
    }

    #[test]
    fn every_flipped_byte_is_caught_by_checksum_or_parse() {
        let area = build_area(&sample(false), &[1; 64], b"{\"a\":1}").expect("fits");
        for i in (0..area.len())
            .step_by(97)
            .chain([0, 8, 300, 448, 511, 4096, 16383])
        {
            let mut bad = area.clone();
            bad[i] ^= 0x20;
            let parsed = parse(&bad, 0).and_then(|_| verify_checksum(&bad));
            assert!(parsed.is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn malformed_fields_give_specific_errors() {
        let area = build_area(&sample(false), &[1; 64], b"{}").expect("fits");
        assert!(matches!(parse(&area[..100], 0), Err(BinError::Truncated)));
        assert!(matches!(
            parse(&area, 4096),
            Err(BinError::HdrOffset { .. })
        ));
        let mut v = area.clone();
        v[7] = 1;
        assert!(matches!(parse(&v, 0), Err(BinError::Version(1))));
        let mut s = area.clone();
        s[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(parse(&s, 0), Err(BinError::HdrSize(u64::MAX))));
        let mut t = area.clone();
        t[168..208].fill(b'a');
        assert!(matches!(parse(&t, 0), Err(BinError::Text("uuid"))));
        let mut j = area;
        j[4096..].fill(b' ');
        assert!(matches!(json_text(&j), Err(BinError::JsonText)));
        assert!(build_area(&sample(false), &[0; 64], &[b' '; 12288]).is_none());
    }
}
