// SPDX-License-Identifier: Apache-2.0
//! Regular file data: full blocks (cached decompressed, sparse blocks as zeros) and the tail
//! in a fragment block.

use std::sync::Arc;

use super::{Archive, UNCOMPRESSED};
use crate::error::{ImageError, Result};
use crate::inode::{Body, FileData, Inode};

impl Archive {
    /// Reads up to `len` bytes of regular file `inode` from `off` (short at end of file).
    pub fn read(&self, inode: &Inode, off: u64, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_into(inode, off, len, &mut out)?;
        Ok(out)
    }

    /// Like [`Archive::read`], appending to `out`.
    pub fn read_into(&self, inode: &Inode, off: u64, len: usize, out: &mut Vec<u8>) -> Result<()> {
        let Body::File(f) = &inode.body else {
            return Err(ImageError::NotFile(inode.number));
        };
        let end = f.size.min(off.saturating_add(len as u64));
        out.reserve(usize::try_from(end.saturating_sub(off)).unwrap_or(0));
        let bs = u64::from(self.sb.block_size);
        let mut pos = off;
        while pos < end {
            let idx = pos / bs;
            let (block, base) = self.chunk(f, idx)?;
            let in_block = usize::try_from(pos - idx * bs).unwrap_or(usize::MAX);
            let take = usize::try_from((end - pos).min(bs - (pos - idx * bs))).unwrap_or(0);
            let piece = block
                .get(base + in_block..base + in_block + take)
                .ok_or_else(|| {
                    ImageError::corrupt("file data", inode.reference, "block shorter than the file")
                })?;
            out.extend_from_slice(piece);
            pos += take as u64;
        }
        Ok(())
    }

    /// Decompresses block `idx` of a file into the cache (prefetch); errors are ignored.
    pub fn prefetch(&self, f: &FileData, idx: u64) {
        let Ok(i) = usize::try_from(idx) else { return };
        if i < f.blocks.len()
            && f.blocks[i] & 0x00ff_ffff != 0
            && !self.blocks.contains(f.offsets[i])
        {
            let _ = self.chunk(f, idx);
        }
    }

    /// Block `idx` of file `f` and the offset of its bytes in that block (non-zero for tails).
    fn chunk(&self, f: &FileData, idx: u64) -> Result<(Arc<Vec<u8>>, usize)> {
        let bs = u64::from(self.sb.block_size);
        let i = usize::try_from(idx).unwrap_or(usize::MAX);
        if let Some(&word) = f.blocks.get(i) {
            let disk = word & 0x00ff_ffff;
            if disk == 0 {
                return Ok((self.zero.clone(), 0));
            }
            let expect = usize::try_from((f.size - idx * bs).min(bs)).unwrap_or(0);
            let b = self.load_block("data block", f.offsets[i], word, expect)?;
            return Ok((b, 0));
        }
        let Some((frag, off)) = f.fragment else {
            return Err(ImageError::corrupt(
                "file data",
                idx,
                "block index past the block list",
            ));
        };
        let table = self
            .fragments
            .as_ref()
            .ok_or_else(|| ImageError::corrupt("fragment", u64::from(frag), "no fragment table"))?;
        let mut e = [0u8; 16];
        table.entry(&self.meta, u64::from(frag), &mut e)?;
        let start = u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
        let word = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
        if word & !0x01ff_ffff != 0
            || word & 0x00ff_ffff == 0
            || word & 0x00ff_ffff > self.sb.block_size
        {
            return Err(ImageError::corrupt(
                "fragment",
                u64::from(frag),
                "bad size word",
            ));
        }
        let b = self.load_block("fragment block", start, word, 0)?;
        let tail = usize::try_from(f.size % bs).unwrap_or(0);
        let off = off as usize;
        if off + tail > b.len() {
            return Err(ImageError::corrupt(
                "fragment",
                u64::from(frag),
                "tail beyond the fragment block",
            ));
        }
        Ok((b, off))
    }

    /// Loads (and caches) the block at `pos` with size word `word`; `expect` > 0 checks the
    /// decompressed length.
    fn load_block(
        &self,
        what: &'static str,
        pos: u64,
        word: u32,
        expect: usize,
    ) -> Result<Arc<Vec<u8>>> {
        let bs = self.sb.block_size as usize;
        let b = self.blocks.get_or_load(pos, || {
            let disk = (word & 0x00ff_ffff) as usize;
            let mut raw = vec![0u8; disk];
            self.meta.read_raw(what, pos, &mut raw)?;
            if word & UNCOMPRESSED != 0 {
                return Ok(raw);
            }
            self.meta
                .compressor()
                .decompress(&raw, bs)
                .map_err(|source| ImageError::Decompress {
                    what,
                    offset: pos,
                    source,
                })
        })?;
        if expect > 0 && b.len() != expect {
            return Err(ImageError::corrupt(
                what,
                pos,
                "decompressed size differs from the file's",
            ));
        }
        Ok(b)
    }
}
