// SPDX-License-Identifier: Apache-2.0
//! Where image bytes come from: a positional-read trait, so the same reader serves a plain
//! file, a partition inside a SIF (file + base offset + length) or a decrypting LUKS view.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::error::{ImageError, Result};

/// Positional reads of an image (`pread` semantics: may return fewer bytes than asked;
/// 0 means end of data).
pub trait ReadAt: Send + Sync {
    /// Reads into `buf` from byte `off` of the image.
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize>;

    /// The image length if the source knows it (bounds every table besides `bytes_used`).
    fn len_hint(&self) -> Option<u64> {
        None
    }

    /// Hint that `[off, off+len)` will be read soon (`posix_fadvise(WILLNEED)`); no-op by default.
    fn will_need(&self, _off: u64, _len: u64) {}
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        (**self).read_at(buf, off)
    }
    fn len_hint(&self) -> Option<u64> {
        (**self).len_hint()
    }
    fn will_need(&self, off: u64, len: u64) {
        (**self).will_need(off, len)
    }
}

/// Reads exactly `buf.len()` bytes at `off` or fails (short source → `UnexpectedEof`).
pub fn read_exact_at(src: &dyn ReadAt, mut buf: &mut [u8], mut off: u64) -> Result<()> {
    let start = off;
    while !buf.is_empty() {
        match src.read_at(buf, off) {
            Ok(0) => {
                return Err(ImageError::Read {
                    offset: start,
                    source: io::ErrorKind::UnexpectedEof.into(),
                });
            }
            Ok(n) => {
                buf = &mut buf[n..];
                off += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(ImageError::Read {
                    offset: start,
                    source: e,
                });
            }
        }
    }
    Ok(())
}

/// A window `[base, base+len)` of a file: a whole image file, or a partition inside a SIF.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    base: u64,
    len: u64,
}

impl FileSource {
    /// The window of `len` bytes at `base` of `file`; fails if the file is shorter.
    pub fn new(file: File, base: u64, len: u64) -> io::Result<Self> {
        let size = file.metadata()?.len();
        let end = base.checked_add(len).ok_or(io::ErrorKind::InvalidInput)?;
        if end > size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("window {base}+{len} exceeds the file size {size}"),
            ));
        }
        Ok(FileSource { file, base, len })
    }

    /// The whole file from `base` to its end.
    pub fn from_offset(file: File, base: u64) -> io::Result<Self> {
        let size = file.metadata()?.len();
        let len = size.checked_sub(base).ok_or(io::ErrorKind::UnexpectedEof)?;
        Ok(FileSource { file, base, len })
    }
}

impl ReadAt for FileSource {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        if off >= self.len {
            return Ok(0);
        }
        let room = usize::try_from(self.len - off).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        self.file.read_at(&mut buf[..n], self.base + off)
    }
    fn len_hint(&self) -> Option<u64> {
        Some(self.len)
    }
    fn will_need(&self, off: u64, len: u64) {
        if off < self.len {
            let len = len.min(self.len - off);
            let adv = rustix::fs::Advice::WillNeed;
            let _ = rustix::fs::fadvise(
                &self.file,
                self.base + off,
                std::num::NonZeroU64::new(len),
                adv,
            );
        }
    }
}

/// An image held in memory (tests, fuzzing).
impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        let Ok(off) = usize::try_from(off) else {
            return Ok(0);
        };
        if off >= self.len() {
            return Ok(0);
        }
        let n = buf.len().min(self.len() - off);
        buf[..n].copy_from_slice(&self[off..off + n]);
        Ok(n)
    }
    fn len_hint(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        self.as_slice().read_at(buf, off)
    }
    fn len_hint(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}
