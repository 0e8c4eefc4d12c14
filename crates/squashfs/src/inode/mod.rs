// SPDX-License-Identifier: Apache-2.0
//! Inodes (basic and extended variants of directory, file, symlink, block/char device,
//! fifo and socket), read from the inode table by reference `(block << 16) | offset`.

mod read;

use std::sync::Arc;

pub(crate) use read::{InodeCtx, read_inode};

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
