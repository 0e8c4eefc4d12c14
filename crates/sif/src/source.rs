// SPDX-License-Identifier: Apache-2.0
//! Positioned reads: every access to an image goes through [`ReadAt`] on one opened file
//! (`pread`), never through a path, so what was checked is what is read.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// Random-access byte source of an image.
pub trait ReadAt {
    /// Reads at `offset` into `buf`, returning the count read (0 at end of data).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Current length of the source.
    fn len(&self) -> io::Result<u64>;

    /// True when the source is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fills `buf` from `offset`; `UnexpectedEof` when the source ends first.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(<[u8]>::len(self));
        let n = buf.len().min(<[u8]>::len(self) - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.as_slice().read_at(buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(Vec::len(self) as u64)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        (**self).len()
    }
}

/// `Read + Seek` over the byte range of one object; positions are relative to the object.
#[derive(Debug)]
pub struct ObjectReader<'a, S: ReadAt + ?Sized> {
    src: &'a S,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a, S: ReadAt + ?Sized> ObjectReader<'a, S> {
    /// Reader over `[start, start + len)` of `src`.
    pub fn new(src: &'a S, start: u64, len: u64) -> Self {
        Self {
            src,
            start,
            len,
            pos: 0,
        }
    }

    /// Length of the range.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty range.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads at a position relative to the object start, never past its end.
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        let left = self.len.saturating_sub(pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let got = self.src.read_at(&mut buf[..n], self.start + pos)?;
        if got == 0 {
            // The file shrank after it was checked.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(got)
    }
}

impl<S: ReadAt + ?Sized> Read for ObjectReader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<S: ReadAt + ?Sized> Seek for ObjectReader<'_, S> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before start of object")
        })?;
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_reader_stays_in_range() {
        let data: Vec<u8> = (0u8..100).collect();
        let mut r = ObjectReader::new(&data, 10, 20);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, (10u8..30).collect::<Vec<_>>());
        r.seek(SeekFrom::End(-5)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, vec![25, 26, 27, 28, 29]);
        assert!(r.seek(SeekFrom::Current(-100)).is_err());
        let mut buf = [0u8; 4];
        assert_eq!(r.read_at(&mut buf, 19).unwrap(), 1);
        assert_eq!(r.read_at(&mut buf, 40).unwrap(), 0);
    }

    #[test]
    fn shrunk_source_is_an_error() {
        let data = vec![1u8; 8];
        let mut r = ObjectReader::new(&data, 4, 10);
        let mut out = Vec::new();
        assert_eq!(
            r.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
