// SPDX-License-Identifier: Apache-2.0
//! A bounded tar reader (ustar, GNU long names, PAX extended headers) for untrusted layers and
//! archives. Every variable-size structure has a bound declared here and is read only after
//! its declared size passed the bound; nothing is allocated from a declared count.
//! Sparse files and multi-volume archives are refused by name.

use std::io::{self, Read, Seek, SeekFrom};

/// Longest member path or link target (PATH_MAX).
pub const MAX_NAME: u64 = 4096;
/// Largest PAX extended header (local or global).
pub const MAX_PAX: u64 = 1 << 20;
/// Most extended attributes on one member.
pub const MAX_XATTRS: usize = 128;

const BLOCK: u64 = 512;

/// Why an archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// The underlying read failed.
    #[error("read failed at byte {offset}")]
    Read {
        /// Stream offset.
        offset: u64,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The archive ended inside a header or member.
    #[error("archive truncated at byte {0}")]
    Truncated(u64),
    /// A header is malformed.
    #[error("bad header at byte {offset}: {problem}")]
    Header {
        /// Offset of the header block.
        offset: u64,
        /// What is wrong.
        problem: &'static str,
    },
}

/// Member type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Regular file.
    File,
    /// Hard link to `link`.
    Hardlink,
    /// Symbolic link to `link`.
    Symlink,
    /// Character device.
    Char,
    /// Block device.
    Block,
    /// Directory.
    Dir,
    /// Named pipe.
    Fifo,
}

/// One member's header, with long names and PAX values applied.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Member path as stored (not yet cleaned).
    pub path: Vec<u8>,
    /// Link target (hard or symbolic links).
    pub link: Vec<u8>,
    /// Type.
    pub kind: Kind,
    /// Permission bits incl. setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Modification time (seconds).
    pub mtime: i64,
    /// Data bytes (regular files).
    pub size: u64,
    /// Device major/minor.
    pub dev: (u32, u32),
    /// PAX `SCHILY.xattr.*` attributes.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Stream offset of the member data.
    pub data_offset: u64,
}

/// A byte source that can skip forward (seeks on files, reads and discards on streams).
pub trait Input: Read {
    /// Skips `n` bytes.
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

impl Input for std::fs::File {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let n = i64::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        self.seek(SeekFrom::Current(n)).map(drop)
    }
}

/// A non-seekable stream (decompressor output).
pub struct Stream<R>(pub R);

impl<R> std::fmt::Debug for Stream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Input for Stream<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let got = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if got < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Sequential reader of tar members.
#[derive(Debug)]
pub struct TarReader<R> {
    inner: R,
    pos: u64,
    /// Unread data bytes of the current member, then its padding.
    left: u64,
    pad: u64,
    done: bool,
}

impl<R: Input> TarReader<R> {
    /// A reader at the start of an archive.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            pos: 0,
            left: 0,
            pad: 0,
            done: false,
        }
    }

    /// Bytes consumed from the stream so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The next member, skipping whatever is left of the previous one; `None` at the end.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        self.skip_rest()?;
        if self.done {
            return Ok(None);
        }
        let mut long_name = None;
        let mut long_link = None;
        let mut pax: Option<Pax> = None;
        loop {
            let at = self.pos;
            let Some(h) = self.read_header()? else {
                self.done = true;
                return Ok(None);
            };
            let size = header_size(&h, at)?;
            match h[156] {
                b'L' | b'K' => {
                    let data = self.read_small(size, MAX_NAME + 1, at, "long name too long")?;
                    let name = data.split(|b| *b == 0).next().unwrap_or_default().to_vec();
                    if h[156] == b'L' {
                        long_name = Some(name)
                    } else {
                        long_link = Some(name)
                    }
                }
                b'x' => {
                    let data = self.read_small(size, MAX_PAX, at, "PAX header too large")?;
                    pax = Some(Pax::parse(&data, at)?);
                }
                b'g' => {
                    self.read_small(size, MAX_PAX, at, "PAX header too large")?;
                }
                _ => {
                    return self
                        .member(&h, at, size, long_name, long_link, pax)
                        .map(Some);
                }
            }
        }
    }

    fn member(
        &mut self,
        h: &[u8; 512],
        at: u64,
        size: u64,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        pax: Option<Pax>,
    ) -> Result<Entry, TarError> {
        let bad = |problem| TarError::Header {
            offset: at,
            problem,
        };
        let kind = match h[156] {
            b'0' | 0 | b'7' => Kind::File,
            b'1' => Kind::Hardlink,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' => Kind::Dir,
            b'6' => Kind::Fifo,
            b'S' => return Err(bad("GNU sparse members are not supported")),
            b'M' | b'V' => return Err(bad("multi-volume archives are not supported")),
            _ => return Err(bad("unknown member type")),
        };
        let ustar = &h[257..263] == b"ustar\0";
        let mut path = long_name.unwrap_or_else(|| {
            let name = cstr(&h[0..100]);
            let prefix = if ustar { cstr(&h[345..500]) } else { &[] };
            if prefix.is_empty() {
                name.to_vec()
            } else {
                [prefix, b"/", name].concat()
            }
        });
        let mut link = long_link.unwrap_or_else(|| cstr(&h[157..257]).to_vec());
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
            data_offset: self.pos,
        };
        if matches!(kind, Kind::Char | Kind::Block) {
            let major =
                u32::try_from(number(&h[329..337], at)?).map_err(|_| bad("device number"))?;
            let minor =
                u32::try_from(number(&h[337..345], at)?).map_err(|_| bad("device number"))?;
            e.dev = (major, minor);
        }
        if let Some(p) = pax {
            p.apply(&mut e, &mut path, &mut link, at)?;
        }
        if path.len() as u64 > MAX_NAME || link.len() as u64 > MAX_NAME {
            return Err(bad("name longer than 4096 bytes"));
        }
        let data = e.size;
        if kind == Kind::File {
            self.left = data;
            self.pad = padding(data);
        } else {
            // Only regular files carry data; a size on others is skipped (hard links may have one).
            self.left = 0;
            self.pad = data + padding(data);
            e.size = 0;
        }
        e.path = path;
        e.link = link;
        Ok(e)
    }

    /// Reads data of the current member (0 at its end).
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = usize::try_from(self.left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(TarError::Read {
                        offset: self.pos,
                        source,
                    });
                }
            }
        };
        if n == 0 {
            return Err(TarError::Truncated(self.pos));
        }
        self.left -= n as u64;
        self.pos += n as u64;
        Ok(n)
    }

    /// Consumes the reader, returning the input (positioned after the last member read).
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn skip_rest(&mut self) -> Result<(), TarError> {
        let n = self.left + self.pad;
        if n > 0 {
            self.inner.skip(n).map_err(|source| match source.kind() {
                io::ErrorKind::UnexpectedEof => TarError::Truncated(self.pos),
                _ => TarError::Read {
                    offset: self.pos,
                    source,
                },
            })?;
            self.pos += n;
        }
        self.left = 0;
        self.pad = 0;
        Ok(())
    }

    /// One header block; `None` at a zero block or a clean end of stream.
    fn read_header(&mut self) -> Result<Option<[u8; 512]>, TarError> {
        let mut h = [0u8; 512];
        let got = self.fill(&mut h)?;
        if got == 0 {
            return Ok(None);
        }
        if got < h.len() {
            return Err(TarError::Truncated(self.pos));
        }
        if h.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let at = self.pos - BLOCK;
        let stored = number(&h[148..156], at)?;
        let (unsigned, signed) = checksums(&h);
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err(TarError::Header {
                offset: at,
                problem: "checksum mismatch",
            });
        }
        Ok(Some(h))
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(TarError::Read {
                        offset: self.pos,
                        source,
                    });
                }
            }
        }
        self.pos += got as u64;
        Ok(got)
    }

    fn read_small(
        &mut self,
        size: u64,
        limit: u64,
        at: u64,
        problem: &'static str,
    ) -> Result<Vec<u8>, TarError> {
        if size > limit {
            return Err(TarError::Header {
                offset: at,
                problem,
            });
        }
        let mut data = vec![0u8; usize::try_from(size).unwrap_or(0)];
        if self.fill(&mut data)? < data.len() {
            return Err(TarError::Truncated(self.pos));
        }
        self.pad = padding(size);
        self.skip_rest()?;
        Ok(data)
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn header_size(h: &[u8; 512], at: u64) -> Result<u64, TarError> {
    let size = number(&h[124..136], at)?;
    if size > i64::MAX as u64 {
        return Err(TarError::Header {
            offset: at,
            problem: "size out of range",
        });
    }
    Ok(size)
}

fn checksums(h: &[u8; 512]) -> (u64, i64) {
    let mut u = 0u64;
    let mut s = 0i64;
    for (i, b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        u += u64::from(b);
        s += i64::from(b.cast_signed());
    }
    (u, s)
}

fn cstr(b: &[u8]) -> &[u8] {
    b.split(|c| *c == 0).next().unwrap_or_default()
}

/// An octal field (NUL/space padded) or a GNU base-256 number.
fn number(f: &[u8], at: u64) -> Result<u64, TarError> {
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

/// Values of one PAX extended header.
#[derive(Default)]
struct Pax {
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Pax {
    /// Parses `"<len> <key>=<value>\n"` records.
    fn parse(mut data: &[u8], at: u64) -> Result<Pax, TarError> {
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

    fn apply(
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
    fn octal_and_base256_numbers() {
        assert_eq!(number(b"0000644\0", 0).unwrap(), 0o644);
        assert_eq!(number(b"  755 \0\0", 0).unwrap(), 0o755);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 1, 0], 0).unwrap(), 256);
        assert!(number(b"00009\0\0\0", 0).is_err());
        assert!(number(&[0xff; 12], 0).is_err());
    }

    #[test]
    fn pax_records() {
        let p = Pax::parse(b"20 path=a/b/c/d/e/f\n25 SCHILY.xattr.user.x=1\n", 0).unwrap();
        assert_eq!(p.records[0], (b"path".to_vec(), b"a/b/c/d/e/f".to_vec()));
        assert_eq!(p.records[1].0, b"SCHILY.xattr.user.x".to_vec());
        assert!(Pax::parse(b"99 path=x\n", 0).is_err());
        assert!(Pax::parse(b"5 a\n", 0).is_err());
    }
}
