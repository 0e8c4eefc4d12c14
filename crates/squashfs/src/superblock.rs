// SPDX-License-Identifier: Apache-2.0
//! The squashfs 4.0 superblock: 96 little-endian bytes at offset 0 of the image.

use crate::compress::Compressor;
use crate::error::{ImageError, Result};

/// `hsqs` read as a little-endian u32.
pub const MAGIC: u32 = 0x7371_7368;
/// Size of the superblock.
pub const SUPERBLOCK_SIZE: usize = 96;
/// Smallest and largest data block sizes squashfs allows.
pub const MIN_BLOCK_SIZE: u32 = 4096;
/// Largest data block size.
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;
/// Table start value meaning "no such table".
pub const NO_TABLE: u64 = u64::MAX;
/// Flag: compressor options follow the superblock.
pub const FLAG_COMPRESSOR_OPTIONS: u16 = 0x0400;

/// The parsed superblock.
#[derive(Debug, Clone)]
pub struct Superblock {
    /// Number of inodes.
    pub inode_count: u32,
    /// Last modification time of the image.
    pub mod_time: u32,
    /// Data block size.
    pub block_size: u32,
    /// Number of fragment table entries.
    pub fragment_count: u32,
    /// Compression algorithm.
    pub compressor: Compressor,
    /// Flags.
    pub flags: u16,
    /// Number of uid/gid table entries.
    pub id_count: u16,
    /// Reference of the root directory inode.
    pub root_inode: u64,
    /// Bytes of the image in use: every structure must end at or before it.
    pub bytes_used: u64,
    /// Start of the id table pointer array.
    pub id_table_start: u64,
    /// Start of the xattr id table, or [`NO_TABLE`].
    pub xattr_id_table_start: u64,
    /// Start of the inode table.
    pub inode_table_start: u64,
    /// Start of the directory table.
    pub directory_table_start: u64,
    /// Start of the fragment table pointer array, or [`NO_TABLE`].
    pub fragment_table_start: u64,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

impl Superblock {
    /// Parses and validates the superblock; `image_len` is the source length when known.
    pub fn parse(b: &[u8; SUPERBLOCK_SIZE], image_len: Option<u64>) -> Result<Self> {
        if u32_at(b, 0) != MAGIC {
            return Err(ImageError::Superblock("not a squashfs image (bad magic)"));
        }
        if (u16_at(b, 28), u16_at(b, 30)) != (4, 0) {
            return Err(ImageError::Superblock("not squashfs version 4.0"));
        }
        let block_size = u32_at(b, 12);
        let block_log = u16_at(b, 22);
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size)
            || !block_size.is_power_of_two()
            || u32::from(block_log) != block_size.trailing_zeros()
        {
            return Err(ImageError::Superblock("invalid block size"));
        }
        let sb = Superblock {
            inode_count: u32_at(b, 4),
            mod_time: u32_at(b, 8),
            block_size,
            fragment_count: u32_at(b, 16),
            compressor: Compressor::from_id(u16_at(b, 20))?,
            flags: u16_at(b, 24),
            id_count: u16_at(b, 26),
            root_inode: u64_at(b, 32),
            bytes_used: u64_at(b, 40),
            id_table_start: u64_at(b, 48),
            xattr_id_table_start: u64_at(b, 56),
            inode_table_start: u64_at(b, 64),
            directory_table_start: u64_at(b, 72),
            fragment_table_start: u64_at(b, 80),
        };
        sb.validate(image_len)?;
        Ok(sb)
    }

    fn validate(&self, image_len: Option<u64>) -> Result<()> {
        if self.bytes_used < SUPERBLOCK_SIZE as u64 {
            return Err(ImageError::Superblock(
                "bytes_used smaller than the superblock",
            ));
        }
        if image_len.is_some_and(|len| self.bytes_used > len) {
            return Err(ImageError::Superblock(
                "bytes_used exceeds the image length (truncated image)",
            ));
        }
        let end = self.bytes_used;
        let inside = |start: u64| start >= SUPERBLOCK_SIZE as u64 && start < end;
        if !inside(self.inode_table_start) || !inside(self.directory_table_start) {
            return Err(ImageError::Superblock(
                "inode or directory table outside the image",
            ));
        }
        if self.inode_table_start >= self.directory_table_start {
            return Err(ImageError::Superblock(
                "inode table does not precede the directory table",
            ));
        }
        if self.id_count == 0 || !inside(self.id_table_start) {
            return Err(ImageError::Superblock(
                "id table missing or outside the image",
            ));
        }
        if self.xattr_id_table_start != NO_TABLE && !inside(self.xattr_id_table_start) {
            return Err(ImageError::Superblock("xattr table outside the image"));
        }
        if self.fragment_count > 0 && !inside(self.fragment_table_start) {
            return Err(ImageError::Superblock("fragment table outside the image"));
        }
        if self.inode_count == 0 {
            return Err(ImageError::Superblock("no inodes"));
        }
        Ok(())
    }

    /// Number of data blocks (without fragment tail) of a file of `size` bytes.
    pub fn block_count(&self, size: u64, has_fragment: bool) -> u64 {
        let bs = u64::from(self.block_size);
        if has_fragment {
            size / bs
        } else {
            size.div_ceil(bs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> [u8; SUPERBLOCK_SIZE] {
        let mut b = [0u8; SUPERBLOCK_SIZE];
        b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[12..16].copy_from_slice(&131072u32.to_le_bytes());
        b[20..22].copy_from_slice(&1u16.to_le_bytes());
        b[22..24].copy_from_slice(&17u16.to_le_bytes());
        b[26..28].copy_from_slice(&1u16.to_le_bytes());
        b[28..30].copy_from_slice(&4u16.to_le_bytes());
        b[40..48].copy_from_slice(&4096u64.to_le_bytes());
        b[48..56].copy_from_slice(&4000u64.to_le_bytes());
        b[56..64].copy_from_slice(&NO_TABLE.to_le_bytes());
        b[64..72].copy_from_slice(&100u64.to_le_bytes());
        b[72..80].copy_from_slice(&200u64.to_le_bytes());
        b[80..88].copy_from_slice(&NO_TABLE.to_le_bytes());
        b
    }

    #[test]
    fn accepts_valid() {
        let sb = Superblock::parse(&good(), Some(4096)).unwrap();
        assert_eq!(sb.block_size, 131072);
        assert_eq!(sb.block_count(131073, false), 2);
        assert_eq!(sb.block_count(131073, true), 1);
    }

    #[test]
    fn rejects_bad_fields() {
        let cases: &[(usize, &[u8])] = &[
            (0, b"hsqx"),
            (28, &3u16.to_le_bytes()),
            (12, &131073u32.to_le_bytes()),
            (22, &16u16.to_le_bytes()),
            (20, &9u16.to_le_bytes()),
            (40, &8192u64.to_le_bytes()),  // bytes_used beyond the image
            (64, &5000u64.to_le_bytes()),  // inode table beyond bytes_used
            (72, &50u64.to_le_bytes()),    // directory table before inode table
            (48, &u64::MAX.to_le_bytes()), // id table missing
            (16, &1u32.to_le_bytes()),     // fragments but no fragment table
        ];
        for (off, bytes) in cases {
            let mut b = good();
            b[*off..*off + bytes.len()].copy_from_slice(bytes);
            assert!(
                Superblock::parse(&b, Some(4096)).is_err(),
                "field at {off} accepted"
            );
        }
    }
}
