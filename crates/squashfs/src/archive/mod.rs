// SPDX-License-Identifier: Apache-2.0
//! [`Archive`]: an opened squashfs image, with caches of inodes, directory listings and
//! decompressed blocks, safe to share between threads.

mod data;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::cache::BlockCache;
use crate::dir::{Listing, read_listing};
use crate::error::{ImageError, Result};
use crate::inode::{Body, Inode, InodeCtx, read_inode};
use crate::meta::{LookupTable, Meta};
use crate::source::ReadAt;
use crate::superblock::{NO_TABLE, SUPERBLOCK_SIZE, Superblock};
use crate::xattr::{Xattr, XattrTable};

/// Parsed inodes kept (cleared when full).
const INODE_CACHE: usize = 1 << 16;
/// Directory entries kept in cached listings (cleared when full).
const LISTING_CACHE_ENTRIES: usize = 1 << 20;
/// Bit 24 of a block size word: block stored uncompressed.
const UNCOMPRESSED: u32 = 1 << 24;

/// Tunables of an opened archive.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// Bytes of decompressed data/fragment blocks to keep.
    pub cache_bytes: usize,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            cache_bytes: 32 << 20,
        }
    }
}

/// An opened squashfs image.
pub struct Archive {
    sb: Superblock,
    meta: Meta,
    ids: Vec<u32>,
    fragments: Option<LookupTable>,
    xattrs: Option<XattrTable>,
    blocks: BlockCache,
    inodes: RwLock<HashMap<u64, Arc<Inode>>>,
    listings: RwLock<(usize, HashMap<u64, Arc<Listing>>)>,
    zero: Arc<Vec<u8>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("superblock", &self.sb)
            .finish()
    }
}

impl Archive {
    /// Opens the image in `src` with default options.
    pub fn open(src: Arc<dyn ReadAt>) -> Result<Self> {
        Self::open_with(src, &ArchiveOptions::default())
    }

    /// Opens the image in `src`: reads and checks the superblock, id table and table headers.
    pub fn open_with(src: Arc<dyn ReadAt>, opts: &ArchiveOptions) -> Result<Self> {
        let mut b = [0u8; SUPERBLOCK_SIZE];
        crate::source::read_exact_at(&*src, &mut b, 0)?;
        let sb = Superblock::parse(&b, src.len_hint())?;
        let meta = Meta::new(src, sb.compressor, sb.bytes_used);
        // The last used byte must be readable: catches sources shorter than bytes_used.
        meta.read_raw("image end", sb.bytes_used - 1, &mut [0u8; 1])?;
        let id_table = LookupTable::load(
            &meta,
            "id table",
            sb.id_table_start,
            u64::from(sb.id_count),
            4,
        )?;
        let mut ids = Vec::with_capacity(usize::from(sb.id_count));
        for i in 0..u64::from(sb.id_count) {
            let mut e = [0u8; 4];
            id_table.entry(&meta, i, &mut e)?;
            ids.push(u32::from_le_bytes(e));
        }
        let fragments = (sb.fragment_count > 0)
            .then(|| {
                LookupTable::load(
                    &meta,
                    "fragment table",
                    sb.fragment_table_start,
                    u64::from(sb.fragment_count),
                    16,
                )
            })
            .transpose()?;
        let xattrs = (sb.xattr_id_table_start != NO_TABLE)
            .then(|| XattrTable::load(&meta, sb.xattr_id_table_start))
            .transpose()?;
        let zero = Arc::new(vec![0u8; sb.block_size as usize]);
        Ok(Archive {
            blocks: BlockCache::new(opts.cache_bytes),
            sb,
            meta,
            ids,
            fragments,
            xattrs,
            inodes: RwLock::new(HashMap::new()),
            listings: RwLock::new((0, HashMap::new())),
            zero,
        })
    }

    /// The superblock.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// The image source.
    pub fn source(&self) -> &Arc<dyn ReadAt> {
        self.meta.source()
    }

    /// The root directory inode.
    pub fn root(&self) -> Result<Arc<Inode>> {
        let root = self.inode(self.sb.root_inode)?;
        match root.body {
            Body::Dir { .. } => Ok(root),
            _ => Err(ImageError::NotDir(root.number)),
        }
    }

    /// The inode at `reference`.
    pub fn inode(&self, reference: u64) -> Result<Arc<Inode>> {
        if let Some(i) = self
            .inodes
            .read()
            .ok()
            .and_then(|c| c.get(&reference).cloned())
        {
            return Ok(i);
        }
        let cx = InodeCtx {
            meta: &self.meta,
            inode_table: self.sb.inode_table_start,
            block_size: self.sb.block_size,
            ids: &self.ids,
        };
        let inode = Arc::new(read_inode(&cx, reference)?);
        if let Ok(mut c) = self.inodes.write() {
            if c.len() >= INODE_CACHE {
                c.clear();
            }
            c.insert(reference, inode.clone());
        }
        Ok(inode)
    }

    /// The entries of directory `dir`.
    pub fn listing(&self, dir: &Inode) -> Result<Arc<Listing>> {
        let Body::Dir {
            block,
            offset,
            size,
            ..
        } = dir.body
        else {
            return Err(ImageError::NotDir(dir.number));
        };
        if let Some(l) = self
            .listings
            .read()
            .ok()
            .and_then(|c| c.1.get(&dir.reference).cloned())
        {
            return Ok(l);
        }
        let entries = read_listing(
            &self.meta,
            self.sb.directory_table_start,
            block,
            offset,
            size,
        )?;
        let listing = Arc::new(Listing::new(entries));
        if let Ok(mut c) = self.listings.write() {
            if c.0 + listing.entries.len() > LISTING_CACHE_ENTRIES {
                *c = (0, HashMap::new());
            }
            c.0 += listing.entries.len();
            c.1.insert(dir.reference, listing.clone());
        }
        Ok(listing)
    }

    /// The inode named `name` in directory `dir`.
    pub fn lookup(&self, dir: &Inode, name: &[u8]) -> Result<Arc<Inode>> {
        let listing = self.listing(dir)?;
        let e = listing.find(name).ok_or(ImageError::NotFound)?;
        self.inode(e.inode_ref)
    }

    /// The inode at a `/`-separated path from the root (symlinks are not followed).
    pub fn resolve(&self, path: &str) -> Result<Arc<Inode>> {
        let mut cur = self.root()?;
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            cur = self.lookup(&cur, part.as_bytes())?;
        }
        Ok(cur)
    }

    /// The target of a symlink.
    pub fn readlink<'a>(&self, inode: &'a Inode) -> Result<&'a [u8]> {
        match &inode.body {
            Body::Symlink(t) => Ok(t),
            _ => Err(ImageError::NotSymlink(inode.number)),
        }
    }

    /// The extended attributes of `inode`.
    pub fn xattrs(&self, inode: &Inode) -> Result<Vec<Xattr>> {
        match (inode.xattr, &self.xattrs) {
            (None, _) => Ok(Vec::new()),
            (Some(i), Some(t)) => t.get(&self.meta, i),
            (Some(_), None) => Err(ImageError::corrupt(
                "inode",
                inode.reference,
                "xattr index without xattr table",
            )),
        }
    }
}
