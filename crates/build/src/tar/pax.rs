// SPDX-License-Identifier: Apache-2.0
//! PAX extended headers (`"<len> <key>=<value>\n"` records): path, link, size, ids, mtime and
//! `SCHILY.xattr.*` are applied to the member that follows; GNU sparse keys are refused.

use super::{Entry, MAX_XATTRS, TarError};

/// Values of one PAX extended header.
#[derive(Default)]
pub(super) struct Pax {
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Pax {
    /// Parses `"<len> <key>=<value>\n"` records.
    pub(super) fn parse(mut data: &[u8], at: u64) -> Result<Pax, TarError> {
        let bad = |problem| TarError::Header {
            offset: at,
            problem,
        };
        let mut records = Vec::new();
        while !data.is_empty() && data[0] != 0 {
            let sp = data
                .iter()
                .position(|b| *b == b' ')
                .ok_or(bad("bad PAX record"))?;
            let len: usize = std::str::from_utf8(&data[..sp])
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|l| *l > sp + 1 && *l <= data.len())
                .ok_or(bad("bad PAX record length"))?;
            let rec = &data[sp + 1..len];
            let rec = rec
                .strip_suffix(b"\n")
                .ok_or(bad("PAX record without newline"))?;
            let eq = rec
                .iter()
                .position(|b| *b == b'=')
                .ok_or(bad("PAX record without '='"))?;
            records.push((rec[..eq].to_vec(), rec[eq + 1..].to_vec()));
            data = &data[len..];
        }
        Ok(Pax { records })
    }

    pub(super) fn apply(
        self,
        e: &mut Entry,
        path: &mut Vec<u8>,
        link: &mut Vec<u8>,
        at: u64,
    ) -> Result<(), TarError> {
        let bad = |problem| TarError::Header {
            offset: at,
            problem,
        };
        let num = |v: &[u8]| -> Result<u64, TarError> {
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(bad("bad PAX number"))
        };
        for (k, v) in self.records {
            match k.as_slice() {
                b"path" => *path = v,
                b"linkpath" => *link = v,
                b"size" => e.size = num(&v)?,
                b"uid" => e.uid = num(&v)?,
                b"gid" => e.gid = num(&v)?,
                b"mtime" => {
                    let whole = v.split(|b| *b == b'.').next().unwrap_or_default();
                    let s = std::str::from_utf8(whole).ok();
                    e.mtime = s.and_then(|s| s.parse().ok()).ok_or(bad("bad PAX mtime"))?;
                }
                k if k.starts_with(b"GNU.sparse.") => {
                    return Err(bad("GNU sparse members are not supported"));
                }
                k if k.starts_with(b"SCHILY.xattr.") => {
                    if e.xattrs.len() >= MAX_XATTRS {
                        return Err(bad("too many extended attributes"));
                    }
                    e.xattrs.push((k[13..].to_vec(), v));
                }
                _ => {}
            }
        }
        if e.size > i64::MAX as u64 {
            return Err(bad("size out of range"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records() {
        let p = Pax::parse(b"20 path=a/b/c/d/e/f\n25 SCHILY.xattr.user.x=1\n", 0).unwrap();
        assert_eq!(p.records[0], (b"path".to_vec(), b"a/b/c/d/e/f".to_vec()));
        assert_eq!(p.records[1].0, b"SCHILY.xattr.user.x".to_vec());
        assert!(Pax::parse(b"99 path=x\n", 0).is_err());
        assert!(Pax::parse(b"5 a\n", 0).is_err());
    }
}
