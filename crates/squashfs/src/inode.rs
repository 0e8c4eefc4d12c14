// SPDX-License-Identifier: Apache-2.0
//! Inodes (basic and extended variants of directory, file, symlink, block/char device,
//! fifo and socket), read from the inode table by reference `(block << 16) | offset`.

use std::sync::Arc;

use crate::error::{ImageError, Result};
use crate::meta::Meta;

/// Upper bound of data blocks per file (16 MiB of block list; 512 GiB at 128 KiB blocks).
pub const MAX_FILE_BLOCKS: u64 = 1 << 22;
/// Upper bound of a symlink target (PATH_MAX).
pub const MAX_SYMLINK: u32 = 4096;
/// Fragment index meaning "no fragment".
pub const NO_FRAGMENT: u32 = u32::MAX;
/// Xattr index meaning "no xattrs".
pub const NO_XATTR: u32 = u32::MAX;

/// File type of an inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Directory.
    Dir,
    /// Regular file.
    File,
    /// Symbolic link.
    Symlink,
    /// Block device.
    Block,
    /// Character device.
    Char,
    /// Named pipe.
    Fifo,
    /// Unix socket.
    Socket,
}

impl Kind {
    /// The kind of a basic type code (1..=7); extended codes are `basic + 7`.
    pub fn from_basic(t: u16) -> Option<Kind> {
        Some(match t {
            1 => Kind::Dir,
            2 => Kind::File,
            3 => Kind::Symlink,
            4 => Kind::Block,
            5 => Kind::Char,
            6 => Kind::Fifo,
            7 => Kind::Socket,
            _ => return None,
        })
    }

    /// The `S_IF*` bits of this kind.
    pub fn mode_bits(self) -> u32 {
        match self {
            Kind::Dir => libc::S_IFDIR,
            Kind::File => libc::S_IFREG,
            Kind::Symlink => libc::S_IFLNK,
            Kind::Block => libc::S_IFBLK,
            Kind::Char => libc::S_IFCHR,
            Kind::Fifo => libc::S_IFIFO,
            Kind::Socket => libc::S_IFSOCK,
        }
    }
}

/// Type-specific part of an inode.
#[derive(Debug, Clone)]
pub enum Body {
    /// A directory's listing location.
    Dir {
        /// Metadata block of the listing, relative to the directory table.
        block: u32,
        /// Offset in that block.
        offset: u16,
        /// Listing size in bytes + 3 (the squashfs convention).
        size: u32,
        /// Inode number of the parent directory.
        parent: u32,
    },
    /// A regular file's data.
    File(Arc<FileData>),
    /// A symlink's target.
    Symlink(Vec<u8>),
    /// A device number (encoded as the kernel's `new_encode_dev`).
    Dev(u32),
    /// Fifo or socket.
    Ipc,
}

/// Where a regular file's bytes live.
#[derive(Debug, Clone)]
pub struct FileData {
    /// File size.
    pub size: u64,
    /// Image offset of the first data block.
    pub blocks_start: u64,
    /// On-disk size words of each block (bit 24 = stored uncompressed, 0 = sparse).
    pub blocks: Vec<u32>,
    /// Image offset of each block (prefix sums of `blocks` from `blocks_start`).
    pub offsets: Vec<u64>,
    /// Fragment index and offset of the tail, if any.
    pub fragment: Option<(u32, u32)>,
}

/// A parsed inode.
#[derive(Debug, Clone)]
pub struct Inode {
    /// Its reference in the inode table.
    pub reference: u64,
    /// File type.
    pub kind: Kind,
    /// Permission bits (incl. setuid/setgid/sticky).
    pub perm: u16,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Modification time (seconds).
    pub mtime: u32,
    /// Inode number (1..=inode_count).
    pub number: u32,
    /// Link count.
    pub nlink: u32,
    /// Xattr index, if any.
    pub xattr: Option<u32>,
    /// Type-specific data.
    pub body: Body,
}

impl Inode {
    /// Size in bytes as `stat` reports it.
    pub fn size(&self) -> u64 {
        match &self.body {
            Body::Dir { size, .. } => u64::from(*size),
            Body::File(f) => f.size,
            Body::Symlink(t) => t.len() as u64,
            _ => 0,
        }
    }

    /// Full `st_mode`.
    pub fn mode(&self) -> u32 {
        self.kind.mode_bits() | u32::from(self.perm & 0o7777)
    }
}

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
    let mut r = cx.meta.reader(block, (reference & 0xffff) as usize);
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
    let (nlink, body) = match (kind, extended) {
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
            xattr = xattr_opt(r.u32()?);
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
        (Kind::File, ext) => read_file(cx, &mut r, ext, reference, &mut xattr)?,
        (Kind::Symlink, ext) => {
            let (nlink, len) = (r.u32()?, r.u32()?);
            if len == 0 || len > MAX_SYMLINK {
                return Err(corrupt("bad symlink target length"));
            }
            let target = r.bytes(len as usize)?;
            if ext {
                xattr = xattr_opt(r.u32()?);
            }
            (nlink, Body::Symlink(target))
        }
        (Kind::Block | Kind::Char, ext) => {
            let (nlink, rdev) = (r.u32()?, r.u32()?);
            if ext {
                xattr = xattr_opt(r.u32()?);
            }
            (nlink, Body::Dev(rdev))
        }
        (Kind::Fifo | Kind::Socket, ext) => {
            let nlink = r.u32()?;
            if ext {
                xattr = xattr_opt(r.u32()?);
            }
            (nlink, Body::Ipc)
        }
    };
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

fn read_file(
    cx: &InodeCtx<'_>,
    r: &mut crate::meta::MetaReader<'_>,
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
