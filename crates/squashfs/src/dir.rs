// SPDX-License-Identifier: Apache-2.0
//! Directory listings: runs of a 12-byte header (entry count - 1, inode block, base inode
//! number) followed by entries (offset, inode delta, type, name size - 1, name).

use crate::error::{ImageError, Result};
use crate::inode::Kind;
use crate::meta::Meta;

/// Upper bound of entries in one directory.
pub const MAX_DIR_ENTRIES: usize = 1 << 22;
/// Entries per header (squashfs writes at most 256).
const MAX_RUN: u32 = 256;
/// Longest name (squashfs and Linux: 255 bytes; squashfs encodes up to 256).
pub const MAX_NAME: usize = 256;

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name (no `/`, not `.` or `..`, not empty).
    pub name: Box<[u8]>,
    /// Reference of the entry's inode.
    pub inode_ref: u64,
    /// Inode number.
    pub inode_number: u32,
    /// File type as recorded in the entry.
    pub kind: Kind,
}

/// Validates a directory entry name.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// Reads the listing of a directory whose inode says `(block, offset, size)`.
pub(crate) fn read_listing(
    meta: &Meta,
    dir_table: u64,
    block: u32,
    offset: u16,
    size: u32,
) -> Result<Vec<DirEntry>> {
    let at = (u64::from(block) << 16) | u64::from(offset);
    let corrupt = |why| ImageError::corrupt("directory listing", at, why);
    if size < 3 {
        return Err(corrupt("size below 3"));
    }
    let pos = dir_table
        .checked_add(u64::from(block))
        .filter(|&p| p < meta.end())
        .ok_or_else(|| corrupt("block beyond the image"))?;
    let mut left = u64::from(size - 3);
    let mut r = meta.reader(pos, usize::from(offset));
    let mut out = Vec::new();
    let mut name = [0u8; MAX_NAME];
    while left > 0 {
        left = left
            .checked_sub(12)
            .ok_or_else(|| corrupt("truncated header"))?;
        let (count, start, base) = (r.u32()?, r.u32()?, r.u32()?);
        if count >= MAX_RUN {
            return Err(corrupt("header count above 256"));
        }
        for _ in 0..=count {
            left = left
                .checked_sub(8)
                .ok_or_else(|| corrupt("truncated entry"))?;
            let off = r.u16()?;
            let delta = r.u16()?.cast_signed();
            let kind = Kind::from_basic(r.u16()?).ok_or_else(|| corrupt("unknown entry type"))?;
            let len = usize::from(r.u16()?) + 1;
            if len > MAX_NAME {
                return Err(corrupt("name longer than 256 bytes"));
            }
            left = left
                .checked_sub(len as u64)
                .ok_or_else(|| corrupt("truncated name"))?;
            r.read(&mut name[..len])?;
            if !valid_name(&name[..len]) {
                return Err(corrupt("invalid entry name"));
            }
            if out.len() >= MAX_DIR_ENTRIES {
                return Err(corrupt("too many entries"));
            }
            out.push(DirEntry {
                name: name[..len].into(),
                inode_ref: (u64::from(start) << 16) | u64::from(off),
                inode_number: base.wrapping_add_signed(i32::from(delta)),
                kind,
            });
        }
    }
    Ok(out)
}

/// A directory listing and whether its names are in byte order (as squashfs writes them).
#[derive(Debug, Clone)]
pub struct Listing {
    /// The entries in image order.
    pub entries: Vec<DirEntry>,
    sorted: bool,
}

impl Listing {
    /// Wraps entries, noting whether they are sorted.
    pub fn new(entries: Vec<DirEntry>) -> Self {
        let sorted = entries.windows(2).all(|w| w[0].name < w[1].name);
        Listing { entries, sorted }
    }

    /// Finds `name`: binary search, or a scan when a foreign or hostile writer did not sort.
    pub fn find(&self, name: &[u8]) -> Option<&DirEntry> {
        if self.sorted {
            let i = self
                .entries
                .binary_search_by(|e| (*e.name).cmp(name))
                .ok()?;
            Some(&self.entries[i])
        } else {
            self.entries.iter().find(|e| &*e.name == name)
        }
    }
}
