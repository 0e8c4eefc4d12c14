// SPDX-License-Identifier: Apache-2.0
//! Little-endian field access on the packed on-disk structures (spec §1).

/// Size of the global header.
pub const HEADER_LEN: usize = 128;
/// Size of one descriptor slot.
pub const DESCRIPTOR_LEN: usize = 585;
/// Group and group-link values carry this flag; `GROUP_FLAG` alone means "no group".
pub const GROUP_FLAG: u32 = 0xF000_0000;
/// Go's zero `time.Time` as Unix seconds: the "unset" timestamp of deterministic images.
pub const GO_ZERO_TIME: i64 = -62_135_596_800;

/// A fixed-size little-endian field at a known offset of a fixed-size record.
pub(crate) fn bytes<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&buf[off..off + N]);
    out
}

pub(crate) fn get_i32(buf: &[u8], off: usize) -> i32 {
    i32::from_le_bytes(bytes(buf, off))
}

pub(crate) fn get_u32(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(bytes(buf, off))
}

pub(crate) fn get_i64(buf: &[u8], off: usize) -> i64 {
    i64::from_le_bytes(bytes(buf, off))
}

pub(crate) fn put(buf: &mut [u8], off: usize, src: &[u8]) {
    buf[off..off + src.len()].copy_from_slice(src);
}

/// Text of a NUL-padded field: bytes up to the first NUL, lossily decoded.
pub(crate) fn trim_nul(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Copies `src` into a zeroed `N`-byte field; `None` when it does not fit.
pub(crate) fn padded<const N: usize>(src: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    out.get_mut(..src.len())?.copy_from_slice(src);
    Some(out)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Decodes hex (either case); `None` on odd length or a non-hex digit.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    s.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x00, 0xAB, 0x7f]), "00ab7f");
        assert_eq!(unhex("00AB7f"), Some(vec![0x00, 0xAB, 0x7f]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn padding() {
        assert_eq!(padded::<4>(b"ab"), Some(*b"ab\0\0"));
        assert_eq!(padded::<2>(b"abc"), None);
        assert_eq!(trim_nul(b"ab\0cd"), "ab");
    }
}
