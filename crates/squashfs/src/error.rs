// SPDX-License-Identifier: Apache-2.0
//! Errors of the squashfs reader.

use std::io;

/// Why reading a squashfs image failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The source returned an I/O error.
    #[error("cannot read image at offset {offset}")]
    Read {
        /// Byte offset in the image.
        offset: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A structure lies (partly) beyond the end of the image.
    #[error("{what} at offset {offset} (+{len}) lies beyond the image end {end}")]
    OutOfBounds {
        /// What was being read.
        what: &'static str,
        /// Byte offset in the image.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// The image length.
        end: u64,
    },
    /// The superblock is not a valid squashfs 4.0 superblock.
    #[error("bad superblock: {0}")]
    Superblock(&'static str),
    /// The compressor id is unknown or not supported.
    #[error("unsupported compressor id {0}")]
    UnsupportedCompressor(u16),
    /// A block failed to decompress.
    #[error("cannot decompress {what} at offset {offset}")]
    Decompress {
        /// What kind of block.
        what: &'static str,
        /// Byte offset of the block in the image.
        offset: u64,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },
    /// A structure holds an impossible value.
    #[error("corrupt {what} at offset {offset}: {why}")]
    Corrupt {
        /// What was being parsed.
        what: &'static str,
        /// Where (image offset, inode reference or index, depending on `what`).
        offset: u64,
        /// The violated rule.
        why: &'static str,
    },
    /// A directory was expected.
    #[error("inode {0} is not a directory")]
    NotDir(u32),
    /// A regular file was expected.
    #[error("inode {0} is not a regular file")]
    NotFile(u32),
    /// A symbolic link was expected.
    #[error("inode {0} is not a symbolic link")]
    NotSymlink(u32),
    /// A path component does not exist.
    #[error("no such entry")]
    NotFound,
    /// A directory contains itself (directly or through a descendant), or is listed twice.
    #[error("directory cycle at inode {0}")]
    DirCycle(u32),
    /// Directories nest deeper than the bound.
    #[error("directories nest deeper than {0}")]
    TooDeep(usize),
}

impl ImageError {
    /// The errno a filesystem server answers for this error.
    pub fn errno(&self) -> i32 {
        match self {
            ImageError::NotDir(_) => libc::ENOTDIR,
            ImageError::NotFound => libc::ENOENT,
            ImageError::NotFile(_) | ImageError::NotSymlink(_) => libc::EINVAL,
            _ => libc::EIO,
        }
    }

    pub(crate) fn corrupt(what: &'static str, offset: u64, why: &'static str) -> Self {
        ImageError::Corrupt { what, offset, why }
    }
}

/// Result of the reader.
pub type Result<T> = std::result::Result<T, ImageError>;
