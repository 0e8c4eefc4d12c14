// SPDX-License-Identifier: Apache-2.0
//! Metadata blocks (inode, directory, fragment, id and xattr tables): a 2-byte header
//! (bit 15 = stored uncompressed, low 15 bits = on-disk size) followed by at most 8 KiB of
//! data once decompressed. A stream of them is read through [`MetaReader`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::compress::Compressor;
use crate::error::{ImageError, Result};
use crate::source::{ReadAt, read_exact_at};

/// Decompressed size of a metadata block.
pub const META_SIZE: usize = 8192;
/// Metadata blocks kept decompressed (8 KiB each): 64 MiB.
const META_CACHE_BLOCKS: usize = 8192;

/// One decompressed metadata block and the image offset of the block after it.
#[derive(Debug)]
pub struct MetaBlock {
    /// Decompressed bytes (1..=8192).
    pub data: Vec<u8>,
    /// Image offset of the next block.
    pub next: u64,
}

/// Reads and caches metadata blocks of one image.
pub struct Meta {
    src: Arc<dyn ReadAt>,
    comp: Compressor,
    end: u64,
    cache: RwLock<HashMap<u64, Arc<MetaBlock>>>,
}

impl std::fmt::Debug for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meta")
            .field("comp", &self.comp)
            .field("end", &self.end)
            .finish()
    }
}

impl Meta {
    /// Metadata access over `src`, whose structures must end before `end` (`bytes_used`).
    pub fn new(src: Arc<dyn ReadAt>, comp: Compressor, end: u64) -> Self {
        Meta {
            src,
            comp,
            end,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The image length bound.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The source.
    pub fn source(&self) -> &Arc<dyn ReadAt> {
        &self.src
    }

    /// The compressor.
    pub fn compressor(&self) -> Compressor {
        self.comp
    }

    /// Reads raw bytes at `off` after checking they lie inside the image.
    pub fn read_raw(&self, what: &'static str, off: u64, buf: &mut [u8]) -> Result<()> {
        let len = buf.len() as u64;
        if off.checked_add(len).is_none_or(|e| e > self.end) {
            return Err(ImageError::OutOfBounds {
                what,
                offset: off,
                len,
                end: self.end,
            });
        }
        read_exact_at(&*self.src, buf, off)
    }

    /// The metadata block at image offset `pos`.
    pub fn block(&self, pos: u64) -> Result<Arc<MetaBlock>> {
        if let Some(b) = self.cache.read().ok().and_then(|c| c.get(&pos).cloned()) {
            return Ok(b);
        }
        let mut hdr = [0u8; 2];
        self.read_raw("metadata block header", pos, &mut hdr)?;
        let h = u16::from_le_bytes(hdr);
        let size = usize::from(h & 0x7fff);
        if size == 0 || size > META_SIZE {
            return Err(ImageError::corrupt(
                "metadata block",
                pos,
                "invalid block size",
            ));
        }
        let mut raw = vec![0u8; size];
        self.read_raw("metadata block", pos + 2, &mut raw)?;
        let data = if h & 0x8000 != 0 {
            raw
        } else {
            self.comp
                .decompress(&raw, META_SIZE)
                .map_err(|source| ImageError::Decompress {
                    what: "metadata block",
                    offset: pos,
                    source,
                })?
        };
        if data.is_empty() {
            return Err(ImageError::corrupt("metadata block", pos, "empty block"));
        }
        let block = Arc::new(MetaBlock {
            data,
            next: pos + 2 + size as u64,
        });
        if let Ok(mut c) = self.cache.write() {
            if c.len() >= META_CACHE_BLOCKS {
                c.clear();
            }
            c.insert(pos, block.clone());
        }
        Ok(block)
    }

    /// A reader positioned at byte `offset` of the decompressed block at image offset `pos`.
    pub fn reader(&self, pos: u64, offset: usize) -> MetaReader<'_> {
        MetaReader {
            meta: self,
            pos,
            offset,
            block: None,
        }
    }
}

/// A cursor over a chain of metadata blocks.
#[derive(Debug)]
pub struct MetaReader<'a> {
    meta: &'a Meta,
    pos: u64,
    offset: usize,
    block: Option<Arc<MetaBlock>>,
}

impl MetaReader<'_> {
    fn current(&mut self) -> Result<Arc<MetaBlock>> {
        loop {
            let b = match &self.block {
                Some(b) => b.clone(),
                None => {
                    let b = self.meta.block(self.pos)?;
                    self.block = Some(b.clone());
                    b
                }
            };
            if self.offset < b.data.len() {
                return Ok(b);
            }
            if self.offset > b.data.len() {
                return Err(ImageError::corrupt(
                    "metadata reference",
                    self.pos,
                    "offset past block end",
                ));
            }
            self.pos = b.next;
            self.offset = 0;
            self.block = None;
        }
    }

    /// Fills `buf`, following the chain into the next blocks as needed.
    pub fn read(&mut self, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            let b = self.current()?;
            let n = buf.len().min(b.data.len() - self.offset);
            buf[..n].copy_from_slice(&b.data[self.offset..self.offset + n]);
            self.offset += n;
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, mut n: u64) -> Result<()> {
        while n > 0 {
            let b = self.current()?;
            let step = usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(b.data.len() - self.offset);
            self.offset += step;
            n -= step as u64;
        }
        Ok(())
    }

    /// Reads a little-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        let mut b = [0u8; 2];
        self.read(&mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads `n` bytes into a new vector (the caller bounds `n`).
    pub fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        self.read(&mut v)?;
        Ok(v)
    }
}

/// A table stored as metadata blocks found through an array of u64 block pointers
/// (id, fragment, xattr id tables). Entries are fixed-size.
#[derive(Debug)]
pub struct LookupTable {
    what: &'static str,
    pointers: Vec<u64>,
    entry_size: usize,
    count: u64,
}

impl LookupTable {
    /// Loads the pointer array at `start` for `count` entries of `entry_size` bytes.
    pub fn load(
        meta: &Meta,
        what: &'static str,
        start: u64,
        count: u64,
        entry_size: usize,
    ) -> Result<Self> {
        let per_block = (META_SIZE / entry_size) as u64;
        let nptr = count.div_ceil(per_block);
        let bytes = nptr * 8;
        if start.checked_add(bytes).is_none_or(|e| e > meta.end()) {
            return Err(ImageError::OutOfBounds {
                what,
                offset: start,
                len: bytes,
                end: meta.end(),
            });
        }
        let mut raw = vec![
            0u8;
            usize::try_from(bytes).map_err(|_| ImageError::corrupt(
                what,
                start,
                "too large"
            ))?
        ];
        meta.read_raw(what, start, &mut raw)?;
        let pointers = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Ok(LookupTable {
            what,
            pointers,
            entry_size,
            count,
        })
    }

    /// Reads entry `i` into `out` (`out.len() == entry_size`).
    pub fn entry(&self, meta: &Meta, i: u64, out: &mut [u8]) -> Result<()> {
        if i >= self.count {
            return Err(ImageError::corrupt(self.what, i, "index out of range"));
        }
        let per_block = (META_SIZE / self.entry_size) as u64;
        let ptr = self.pointers[usize::try_from(i / per_block)
            .unwrap_or(usize::MAX)
            .min(self.pointers.len() - 1)];
        let off = usize::try_from(i % per_block).unwrap_or(0) * self.entry_size;
        let b = meta.block(ptr)?;
        if off + out.len() > b.data.len() {
            return Err(ImageError::corrupt(
                self.what,
                i,
                "entry beyond its metadata block",
            ));
        }
        out.copy_from_slice(&b.data[off..off + out.len()]);
        Ok(())
    }
}
