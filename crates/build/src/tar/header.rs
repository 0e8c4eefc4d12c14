// SPDX-License-Identifier: Apache-2.0
//! One 512-byte ustar/GNU header block: numbers (octal or GNU base-256), checksums, and the
//! member [`Entry`] it describes, with long names and PAX values applied.

use super::pax::Pax;
use super::{BLOCK, Entry, Kind, MAX_NAME, TarError};

/// GNU long names and the PAX header read before a member's own header.
#[derive(Default)]
pub(super) struct Extensions {
    /// `L` record: the member path.
    pub long_name: Option<Vec<u8>>,
    /// `K` record: the link target.
    pub long_link: Option<Vec<u8>>,
    /// `x` record: PAX values.
    pub pax: Option<Pax>,
}

/// The member described by header `h` (at stream offset `at`) whose `size` data bytes start
/// at `data_offset`.
pub(super) fn entry(
    h: &[u8; 512],
    at: u64,
    size: u64,
    ext: Extensions,
    data_offset: u64,
) -> Result<Entry, TarError> {
    let bad = |problem| TarError::Header {
        offset: at,
        problem,
    };
    let kind = kind(h[156]).map_err(bad)?;
    let mut path = ext.long_name.unwrap_or_else(|| stored_path(h));
    let mut link = ext.long_link.unwrap_or_else(|| cstr(&h[157..257]).to_vec());
    let mut e = Entry {
        path: Vec::new(),
        link: Vec::new(),
        kind,
        mode: u32::try_from(number(&h[100..108], at)? & 0o7777).unwrap_or(0),
        uid: number(&h[108..116], at)?,
        gid: number(&h[116..124], at)?,
        mtime: i64::try_from(number(&h[136..148], at)?).unwrap_or(i64::MAX),
        size,
        dev: (0, 0),
        xattrs: Vec::new(),
        data_offset,
    };
    if matches!(kind, Kind::Char | Kind::Block) {
        let major = u32::try_from(number(&h[329..337], at)?).map_err(|_| bad("device number"))?;
        let minor = u32::try_from(number(&h[337..345], at)?).map_err(|_| bad("device number"))?;
        e.dev = (major, minor);
    }
    if let Some(p) = ext.pax {
        p.apply(&mut e, &mut path, &mut link, at)?;
    }
    if path.len() as u64 > MAX_NAME || link.len() as u64 > MAX_NAME {
        return Err(bad("name longer than 4096 bytes"));
    }
    e.path = path;
    e.link = link;
    Ok(e)
}

/// The member type of a typeflag byte; sparse and multi-volume members are refused by name.
fn kind(flag: u8) -> Result<Kind, &'static str> {
    Ok(match flag {
        b'0' | 0 | b'7' => Kind::File,
        b'1' => Kind::Hardlink,
        b'2' => Kind::Symlink,
        b'3' => Kind::Char,
        b'4' => Kind::Block,
        b'5' => Kind::Dir,
        b'6' => Kind::Fifo,
        b'S' => return Err("GNU sparse members are not supported"),
        b'M' | b'V' => return Err("multi-volume archives are not supported"),
        _ => return Err("unknown member type"),
    })
}

/// The path stored in the header itself (ustar `prefix/name`).
fn stored_path(h: &[u8; 512]) -> Vec<u8> {
    let ustar = &h[257..263] == b"ustar\0";
    let name = cstr(&h[0..100]);
    let prefix = if ustar { cstr(&h[345..500]) } else { &[] };
    if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    }
}

pub(super) fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

pub(super) fn header_size(h: &[u8; 512], at: u64) -> Result<u64, TarError> {
    let size = number(&h[124..136], at)?;
    if size > i64::MAX as u64 {
        return Err(TarError::Header {
            offset: at,
            problem: "size out of range",
        });
    }
    Ok(size)
}

pub(super) fn checksums(h: &[u8; 512]) -> (u64, i64) {
    let mut u = 0u64;
    let mut s = 0i64;
    for (i, b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        u += u64::from(b);
        s += i64::from(b.cast_signed());
    }
    (u, s)
}

pub(super) fn cstr(b: &[u8]) -> &[u8] {
    b.split(|c| *c == 0).next().unwrap_or_default()
}

/// An octal field (NUL/space padded) or a GNU base-256 number.
pub(super) fn number(f: &[u8], at: u64) -> Result<u64, TarError> {
    let bad = || TarError::Header {
        offset: at,
        problem: "bad numeric field",
    };
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        if f[0] & 0x40 != 0 {
            return Err(bad());
        }
        let mut v: u64 = u64::from(f[0] & 0x3f);
        for b in &f[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(bad)?;
        }
        return Ok(v);
    }
    let digits = f
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| **b != 0 && **b != b' ');
    let mut v = 0u64;
    for b in digits {
        if !(b'0'..=b'7').contains(b) {
            return Err(bad());
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_and_base256_numbers() {
        assert_eq!(number(b"0000644\0", 0).unwrap(), 0o644);
        assert_eq!(number(b"  755 \0\0", 0).unwrap(), 0o755);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 1, 0], 0).unwrap(), 256);
        assert!(number(b"00009\0\0\0", 0).is_err());
        assert!(number(&[0xff; 12], 0).is_err());
    }
}
