// SPDX-License-Identifier: Apache-2.0
//! Block decompression. Every call is bounded by the caller's capacity: output larger than a
//! metadata block (8 KiB) or a data block is an error, never a larger allocation.

use std::cell::RefCell;
use std::io;

use crate::error::{ImageError, Result};

/// Memory limit of the xz/lzma decoder (squashfs dictionaries are at most the block size).
const XZ_MEMLIMIT: u64 = 64 << 20;

/// A squashfs compression algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressor {
    /// zlib streams (id 1).
    Gzip,
    /// Legacy lzma "alone" streams (id 2).
    Lzma,
    /// LZO (id 3): recognised, not supported.
    Lzo,
    /// xz streams (id 4).
    Xz,
    /// LZ4 block format (id 5).
    Lz4,
    /// zstd frames (id 6).
    Zstd,
}

thread_local! {
    static DEFLATE: RefCell<libdeflater::Decompressor> = RefCell::new(libdeflater::Decompressor::new());
    static ZSTD: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Compressor {
    /// The compressor of a superblock compression id.
    pub fn from_id(id: u16) -> Result<Self> {
        Ok(match id {
            1 => Compressor::Gzip,
            2 => Compressor::Lzma,
            3 => Compressor::Lzo,
            4 => Compressor::Xz,
            5 => Compressor::Lz4,
            6 => Compressor::Zstd,
            _ => return Err(ImageError::UnsupportedCompressor(id)),
        })
    }

    /// The superblock id of this compressor.
    pub fn id(self) -> u16 {
        match self {
            Compressor::Gzip => 1,
            Compressor::Lzma => 2,
            Compressor::Lzo => 3,
            Compressor::Xz => 4,
            Compressor::Lz4 => 5,
            Compressor::Zstd => 6,
        }
    }

    /// Decompresses `src`, which must expand to at most `cap` bytes.
    pub fn decompress(self, src: &[u8], cap: usize) -> io::Result<Vec<u8>> {
        match self {
            Compressor::Gzip => DEFLATE.with(|d| {
                let mut out = vec![0u8; cap];
                let n = d
                    .borrow_mut()
                    .zlib_decompress(src, &mut out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                out.truncate(n);
                Ok(out)
            }),
            Compressor::Zstd => ZSTD.with(|z| {
                let mut z = z.borrow_mut();
                if z.is_none() {
                    *z = Some(zstd::bulk::Decompressor::new()?);
                }
                let d = z.as_mut().ok_or_else(|| invalid("zstd context"))?;
                let mut out = Vec::with_capacity(cap);
                d.decompress_to_buffer(src, &mut out)?;
                Ok(out)
            }),
            Compressor::Lz4 => {
                let mut out = vec![0u8; cap];
                let n = lz4_flex::block::decompress_into(src, &mut out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                out.truncate(n);
                Ok(out)
            }
            Compressor::Xz | Compressor::Lzma => xz_decompress(self, src, cap),
            Compressor::Lzo => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "lzo is not supported",
            )),
        }
    }
}

fn xz_decompress(c: Compressor, src: &[u8], cap: usize) -> io::Result<Vec<u8>> {
    use xz2::stream::{Action, Status, Stream};
    let mut s = match c {
        Compressor::Lzma => Stream::new_lzma_decoder(XZ_MEMLIMIT)?,
        _ => Stream::new_stream_decoder(XZ_MEMLIMIT, 0)?,
    };
    let mut out = Vec::with_capacity(cap);
    match s.process_vec(src, &mut out, Action::Finish)? {
        Status::StreamEnd => Ok(out),
        _ if out.len() == cap => Err(invalid("block expands beyond its bound")),
        _ => Err(invalid("truncated xz stream")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_and_bounds() {
        let data: Vec<u8> = (0..20000u32).map(|i| (i % 251) as u8).collect();
        let z = zstd::bulk::compress(&data, 3).unwrap();
        assert_eq!(Compressor::Zstd.decompress(&z, 20000).unwrap(), data);
        assert!(Compressor::Zstd.decompress(&z, 19999).is_err());
        let mut l = vec![0u8; lz4_flex::block::get_maximum_output_size(data.len())];
        let n = lz4_flex::block::compress_into(&data, &mut l).unwrap();
        l.truncate(n);
        assert_eq!(Compressor::Lz4.decompress(&l, 20000).unwrap(), data);
        assert!(Compressor::Lz4.decompress(&l, 100).is_err());
        let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
        let mut g = vec![0u8; c.zlib_compress_bound(data.len())];
        let n = c.zlib_compress(&data, &mut g).unwrap();
        assert_eq!(Compressor::Gzip.decompress(&g[..n], 20000).unwrap(), data);
        assert!(Compressor::Gzip.decompress(&g[..n], 1000).is_err());
        assert!(Compressor::Gzip.decompress(b"garbage", 1000).is_err());
        assert!(Compressor::Xz.decompress(b"garbage", 1000).is_err());
        assert!(Compressor::Lzo.decompress(b"", 1).is_err());
        assert!(Compressor::from_id(7).is_err());
    }
}
