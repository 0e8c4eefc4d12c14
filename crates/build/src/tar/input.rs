// SPDX-License-Identifier: Apache-2.0
//! What a [`super::TarReader`] reads from: a byte source that can skip forward.

use std::io::{self, Read, Seek, SeekFrom};

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
