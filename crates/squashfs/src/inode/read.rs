// SPDX-License-Identifier: Apache-2.0
//! Parsing an inode from the inode table: the common header, then the basic or extended
//! variant of each type; a file's block list grows only as its bytes arrive.

use std::sync::Arc;

use super::{Body, FileData, Inode, Kind, MAX_FILE_BLOCKS, MAX_SYMLINK, NO_FRAGMENT, NO_XATTR};
use crate::error::{ImageError, Result};
use crate::meta::{Meta, MetaReader};

/// What the inode parser needs from the image besides metadata.
pub(crate) struct InodeCtx<'a> {
    pub meta: &'a Meta,
    pub inode_table: u64,
    pub block_size: u32,
    pub ids: &'a [u32],
}

fn xattr_opt(x: u32) -> Option<u32> {
    (x != NO_XATTR).then_some(x)
}

/// Reads the inode at `reference`.
pub(crate) fn read_inode(cx: &InodeCtx<'_>, reference: u64) -> Result<Inode> {
    let corrupt = |why| ImageError::corrupt("inode", reference, why);
    let mut r = locate(cx, reference)?;
    let itype = r.u16()?;
    let perm = r.u16()?;
    let id = |i: u16| {
        cx.ids
            .get(usize::from(i))
            .copied()
            .ok_or_else(|| corrupt("uid/gid index out of range"))
    };
    let uid = id(r.u16()?)?;
    let gid = id(r.u16()?)?;
    let mtime = r.u32()?;
    let number = r.u32()?;
    let extended = itype > 7;
    let kind = Kind::from_basic(if extended { itype - 7 } else { itype })
        .ok_or_else(|| corrupt("unknown inode type"))?;
    let mut xattr = None;
    let (nlink, body) = read_body(cx, &mut r, kind, extended, reference, &mut xattr)?;
    Ok(Inode {
        reference,
        kind,
        perm,
        uid,
        gid,
        mtime,
        number,
        nlink,
        xattr,
        body,
    })
}

/// A reader at the inode `reference` points to (`(block << 16) | offset` from the inode
/// table), after checking that the block lies inside the image.
fn locate<'a>(cx: &InodeCtx<'a>, reference: u64) -> Result<MetaReader<'a>> {
    let corrupt = |why| ImageError::corrupt("inode", reference, why);
    if reference >> 48 != 0 {
        return Err(corrupt("reference beyond 48 bits"));
    }
    let block = cx
        .inode_table
        .checked_add(reference >> 16)
        .ok_or_else(|| corrupt("bad block"))?;
    if block >= cx.meta.end() {
        return Err(corrupt("block beyond the image"));
    }
    Ok(cx.meta.reader(block, (reference & 0xffff) as usize))
}

/// The type-specific part after the common header: link count and [`Body`]; extended
/// variants also set `xattr`.
fn read_body(
    cx: &InodeCtx<'_>,
    r: &mut MetaReader<'_>,
    kind: Kind,
    extended: bool,
    reference: u64,
    xattr: &mut Option<u32>,
) -> Result<(u32, Body)> {
    let corrupt = |why| ImageError::corrupt("inode", reference, why);
    Ok(match (kind, extended) {
        (Kind::Dir, false) => {
            let (block, nlink, size, offset, parent) =
                (r.u32()?, r.u32()?, r.u16()?, r.u16()?, r.u32()?);
            (
                nlink,
                Body::Dir {
                    block,
                    offset,
                    size: u32::from(size),
                    parent,
                },
            )
        }
        (Kind::Dir, true) => {
            let (nlink, size, block, parent) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
            let _index_count = r.u16()?;
            let offset = r.u16()?;
            *xattr = xattr_opt(r.u32()?);
            (
                nlink,
                Body::Dir {
                    block,
                    offset,
                    size,
                    parent,
                },
            )
        }
        (Kind::File, ext) => read_file(cx, r, ext, reference, xattr)?,
        (Kind::Symlink, ext) => {
            let (nlink, len) = (r.u32()?, r.u32()?);
            if len == 0 || len > MAX_SYMLINK {
                return Err(corrupt("bad symlink target length"));
            }
            let target = r.bytes(len as usize)?;
            if ext {
                *xattr = xattr_opt(r.u32()?);
            }
            (nlink, Body::Symlink(target))
        }
        (Kind::Block | Kind::Char, ext) => {
            let (nlink, rdev) = (r.u32()?, r.u32()?);
            if ext {
                *xattr = xattr_opt(r.u32()?);
            }
            (nlink, Body::Dev(rdev))
        }
        (Kind::Fifo | Kind::Socket, ext) => {
            let nlink = r.u32()?;
            if ext {
                *xattr = xattr_opt(r.u32()?);
            }
            (nlink, Body::Ipc)
        }
    })
}

fn read_file(
    cx: &InodeCtx<'_>,
    r: &mut MetaReader<'_>,
    ext: bool,
    reference: u64,
    xattr: &mut Option<u32>,
) -> Result<(u32, Body)> {
    let corrupt = |why| ImageError::corrupt("file inode", reference, why);
    let (blocks_start, size, fragment, frag_off, nlink) = if ext {
        let (start, size, _sparse, nlink, frag, off) =
            (r.u64()?, r.u64()?, r.u64()?, r.u32()?, r.u32()?, r.u32()?);
        *xattr = xattr_opt(r.u32()?);
        (start, size, frag, off, nlink)
    } else {
        let (start, frag, off, size) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        (u64::from(start), u64::from(size), frag, off, 1)
    };
    let has_frag = fragment != NO_FRAGMENT;
    let bs = u64::from(cx.block_size);
    let count = if has_frag {
        size / bs
    } else {
        size.div_ceil(bs)
    };
    if count > MAX_FILE_BLOCKS {
        return Err(corrupt("too many blocks"));
    }
    if has_frag && (u64::from(frag_off) >= bs || size % bs == 0) {
        return Err(corrupt("bad fragment tail"));
    }
    // Grow the list as bytes actually arrive: a lying size cannot force a big allocation.
    let mut blocks = Vec::new();
    let mut offsets = Vec::new();
    let mut pos = blocks_start;
    let mut chunk = [0u8; 4096];
    let mut left = usize::try_from(count).map_err(|_| corrupt("too many blocks"))?;
    while left > 0 {
        let n = left.min(chunk.len() / 4);
        r.read(&mut chunk[..n * 4])?;
        for w in chunk[..n * 4].chunks_exact(4) {
            let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            let disk = u64::from(word & 0x00ff_ffff);
            if word & !0x01ff_ffff != 0 || disk > bs {
                return Err(corrupt("bad block size word"));
            }
            offsets.push(pos);
            blocks.push(word);
            pos = pos
                .checked_add(disk)
                .filter(|&p| p <= cx.meta.end())
                .ok_or_else(|| corrupt("data beyond the image"))?;
        }
        left -= n;
    }
    let fragment = has_frag.then_some((fragment, frag_off));
    Ok((
        nlink,
        Body::File(Arc::new(FileData {
            size,
            blocks_start,
            blocks,
            offsets,
            fragment,
        })),
    ))
}
