// SPDX-License-Identifier: Apache-2.0
//! Reading a LUKS2 header: both copies are checked (magic, offsets, SHA-256 checksum over the
//! whole header area, JSON text); of the valid ones the higher `seqid` wins (the primary on a
//! tie), as cryptsetup does; then its metadata is validated. If the primary's binary header is
//! unreadable the secondary is searched at every offset the format allows.

use crate::binhdr::{self, BIN_SIZE, BinError, BinHeader, HDR_SIZES};
use crate::metadata::{Metadata, MetadataError, parse_metadata};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Why no usable header was found.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// Reading the volume failed.
    #[error("cannot read LUKS2 header")]
    Io(#[source] io::Error),
    /// Neither copy is valid.
    #[error("no valid LUKS2 header (primary: {primary}; secondary: {secondary})")]
    NoValidHeader {
        /// What is wrong with the primary copy.
        primary: BinError,
        /// What is wrong with the secondary copy (or the last place searched).
        secondary: BinError,
    },
    /// The chosen copy's metadata is unusable.
    #[error("invalid LUKS2 metadata")]
    Metadata(#[source] MetadataError),
}

/// Random access to the bytes of a volume (a file range, or memory for tests and fuzzing).
pub trait ReadAt {
    /// Volume size in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from volume offset `off`; an error if the range is not entirely inside.
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
}

fn out_of_range() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "read beyond the end of the LUKS volume",
    )
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let start = usize::try_from(off).map_err(|_| out_of_range())?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(out_of_range)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A byte range `[base, base + len)` of a file.
#[derive(Debug, Clone, Copy)]
pub struct FileRange<'a> {
    /// The file.
    pub file: &'a File,
    /// Start of the volume in the file.
    pub base: u64,
    /// Volume length.
    pub len: u64,
}

impl ReadAt for FileRange<'_> {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let end = off.checked_add(buf.len() as u64).ok_or_else(out_of_range)?;
        if end > self.len {
            return Err(out_of_range());
        }
        self.file
            .read_exact_at(buf, self.base.checked_add(off).ok_or_else(out_of_range)?)
    }
}

/// A validated header: the winning binary header and its metadata.
#[derive(Debug, Clone)]
pub struct Header {
    /// The binary header that was used.
    pub bin: BinHeader,
    /// Its validated metadata.
    pub metadata: Metadata,
}

struct Candidate {
    bin: BinHeader,
    json: String,
}

fn io_or(e: io::Error) -> Result<BinError, HeaderError> {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        Ok(BinError::Truncated)
    } else {
        Err(HeaderError::Io(e))
    }
}

/// Reads the copy at `at`. `Ok(Err(_))` = the bytes are not a valid header; `Err` = I/O.
fn read_copy<R: ReadAt + ?Sized>(
    src: &R,
    at: u64,
    secondary: bool,
) -> Result<Result<Candidate, BinError>, HeaderError> {
    let mut first = vec![0u8; BIN_SIZE];
    if let Err(e) = src.read_exact_at(&mut first, at) {
        return io_or(e).map(Err);
    }
    let bin = match binhdr::parse(&first, at) {
        Ok(b) if b.secondary == secondary => b,
        Ok(_) => return Ok(Err(BinError::Magic)),
        Err(e) => return Ok(Err(e)),
    };
    let mut area = vec![0u8; usize::try_from(bin.hdr_size).unwrap_or(usize::MAX)];
    if let Err(e) = src.read_exact_at(&mut area, at) {
        return io_or(e).map(Err);
    }
    if let Err(e) = binhdr::verify_checksum(&area) {
        return Ok(Err(e));
    }
    Ok(binhdr::json_text(&area).map(|j| Candidate {
        json: j.to_owned(),
        bin,
    }))
}

/// Finds, checks and parses the header of the volume in `src`.
pub fn read_header<R: ReadAt + ?Sized>(src: &R) -> Result<Header, HeaderError> {
    let primary = read_copy(src, 0, false)?;
    let spots: Vec<u64> = match &primary {
        Ok(p) => vec![p.bin.hdr_size],
        Err(_) => HDR_SIZES.to_vec(),
    };
    // Report the first place searched unless a later one held something header-like.
    let mut secondary: Result<Candidate, BinError> = Err(BinError::Magic);
    for (i, at) in spots.into_iter().enumerate() {
        let found = read_copy(src, at, true)?;
        let done = found.is_ok();
        if i == 0 || !matches!(found, Err(BinError::Magic | BinError::Truncated)) {
            secondary = found;
        }
        if done {
            break;
        }
    }
    let chosen = match (primary, secondary) {
        (Ok(p), Ok(s)) => {
            if s.bin.seqid > p.bin.seqid {
                tracing::debug!(
                    primary = p.bin.seqid,
                    secondary = s.bin.seqid,
                    "using newer secondary LUKS2 header"
                );
                s
            } else {
                p
            }
        }
        (Ok(p), Err(e)) => {
            tracing::debug!(error = %e, "secondary LUKS2 header invalid; using primary");
            p
        }
        (Err(e), Ok(s)) => {
            tracing::debug!(error = %e, "primary LUKS2 header invalid; using secondary");
            s
        }
        (Err(primary), Err(secondary)) => {
            return Err(HeaderError::NoValidHeader { primary, secondary });
        }
    };
    let metadata =
        parse_metadata(&chosen.json, chosen.bin.hdr_size).map_err(HeaderError::Metadata)?;
    Ok(Header {
        bin: chosen.bin,
        metadata,
    })
}

/// Parses a header from an in-memory image of the start of a volume (tests, fuzzing).
pub fn parse_header(image: &[u8]) -> Result<Header, HeaderError> {
    read_header(image)
}
