// SPDX-License-Identifier: Apache-2.0
//! A bounded tar reader (ustar, GNU long names, PAX extended headers) for untrusted layers and
//! archives. Every variable-size structure has a bound declared here and is read only after
//! its declared size passed the bound; nothing is allocated from a declared count.
//! Sparse files and multi-volume archives are refused by name.

mod header;
mod input;
mod pax;

use std::io;

use header::{Extensions, checksums, header_size, number, padding};
pub use input::{Input, Stream};
use pax::Pax;

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
        let mut ext = Extensions::default();
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
                        ext.long_name = Some(name)
                    } else {
                        ext.long_link = Some(name)
                    }
                }
                b'x' => {
                    let data = self.read_small(size, MAX_PAX, at, "PAX header too large")?;
                    ext.pax = Some(Pax::parse(&data, at)?);
                }
                b'g' => {
                    self.read_small(size, MAX_PAX, at, "PAX header too large")?;
                }
                _ => {
                    let mut e = header::entry(&h, at, size, ext, self.pos)?;
                    self.start_data(&mut e);
                    return Ok(Some(e));
                }
            }
        }
    }

    /// Sets up the data of member `e`: read for regular files, skipped for the others.
    fn start_data(&mut self, e: &mut Entry) {
        let data = e.size;
        if e.kind == Kind::File {
            self.left = data;
            self.pad = padding(data);
        } else {
            // Only regular files carry data; a size on others is skipped (hard links may have one).
            self.left = 0;
            self.pad = data + padding(data);
            e.size = 0;
        }
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
