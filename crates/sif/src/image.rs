// SPDX-License-Identifier: Apache-2.0
//! [`SifImage`]: a loaded, checked image over one opened file.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::descriptor::Descriptor;
use crate::error::{FormatError, SifError};
use crate::header::Header;
use crate::raw::HEADER_LEN;
use crate::source::{ObjectReader, ReadAt};
use crate::validate;

/// A SIF image whose header, descriptor table and object ranges passed every check of
/// spec §11. All reads go through `S` (a `File`: `pread` on the fd opened once).
#[derive(Debug)]
pub struct SifImage<S: ReadAt = File> {
    pub(crate) path: PathBuf,
    pub(crate) src: S,
    pub(crate) len: u64,
    pub(crate) header: Header,
    pub(crate) table: Range<u64>,
    pub(crate) capacity: usize,
    /// Used descriptors in slot order.
    pub(crate) descriptors: Vec<Descriptor>,
}

impl SifImage<File> {
    /// Opens `path` read-only and loads it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SifError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| SifError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_source(file, path)
    }
}

impl<S: ReadAt> SifImage<S> {
    /// Loads an image from an already opened source; `path` names it in errors.
    pub fn from_source(src: S, path: impl Into<PathBuf>) -> Result<Self, SifError> {
        let path = path.into();
        let read_err = |source: io::Error| SifError::Read {
            path: path.clone(),
            source,
        };
        let format_err = |problem: FormatError| SifError::Format {
            path: path.clone(),
            problem,
        };

        let len = src.len().map_err(read_err)?;
        if len < HEADER_LEN as u64 {
            return Err(format_err(FormatError::TruncatedHeader { len }));
        }
        let mut hbuf = [0u8; HEADER_LEN];
        src.read_exact_at(&mut hbuf, 0).map_err(read_err)?;
        let header = Header::decode(&hbuf).map_err(format_err)?;
        let (table, capacity) = validate::table_range(&header, len).map_err(format_err)?;
        let mut tbuf = vec![0u8; usize::try_from(table.end - table.start).unwrap_or(0)];
        src.read_exact_at(&mut tbuf, table.start)
            .map_err(read_err)?;
        let descriptors = validate::decode_table(&tbuf, &header).map_err(format_err)?;
        validate::check_objects(&descriptors, &table, len).map_err(format_err)?;
        tracing::debug!(path = %path.display(), objects = descriptors.len(), "loaded SIF image");
        Ok(Self {
            path,
            src,
            len,
            header,
            table,
            capacity,
            descriptors,
        })
    }

    /// The name used in errors (the path it was opened from).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying source (for a `File`: the fd to hand to loop/FUSE mounts).
    pub fn source(&self) -> &S {
        &self.src
    }

    /// Consumes the image, returning its source.
    pub fn into_source(self) -> S {
        self.src
    }

    /// File length when loaded.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Global header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Number of descriptor slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Used descriptors in descriptor-table order.
    pub fn descriptors(&self) -> &[Descriptor] {
        &self.descriptors
    }

    /// The descriptor with `id`, if used.
    pub fn find(&self, id: u32) -> Option<&Descriptor> {
        self.descriptors.iter().find(|d| d.id == id)
    }

    /// The descriptor with `id`, or an error naming the image.
    pub fn descriptor(&self, id: u32) -> Result<&Descriptor, SifError> {
        self.find(id).ok_or_else(|| SifError::ObjectNotFound {
            path: self.path.clone(),
            id,
        })
    }

    /// The primary system partition (at most one: checked on load).
    pub fn primary_partition(&self) -> Option<&Descriptor> {
        self.descriptors.iter().find(|d| d.is_primary_partition())
    }

    /// Ids of the groups that have at least one object, ascending.
    pub fn groups(&self) -> Vec<u32> {
        let set: BTreeSet<u32> = self
            .descriptors
            .iter()
            .filter_map(Descriptor::group)
            .collect();
        set.into_iter().collect()
    }

    /// Objects of `group` (`None`: objects in no group), in descriptor-table order.
    pub fn group_objects(&self, group: Option<u32>) -> impl Iterator<Item = &Descriptor> {
        self.descriptors.iter().filter(move |d| d.group() == group)
    }

    /// Smallest id among the used objects of `group` (the base of relative ids).
    pub fn group_min_id(&self, group: Option<u32>) -> Option<u32> {
        self.group_objects(group).map(Descriptor::id).min()
    }

    /// Id of `d` relative to the smallest id of its group (spec §7.3).
    pub fn relative_id(&self, d: &Descriptor) -> u32 {
        let min = self.group_min_id(d.group()).unwrap_or(d.id);
        d.id - min.min(d.id)
    }

    /// `Read + Seek` over the data of `d`.
    pub fn object_reader(&self, d: &Descriptor) -> ObjectReader<'_, S> {
        ObjectReader::new(&self.src, d.offset, d.size)
    }

    /// Reads object data at `pos` (relative to the object); 0 at its end.
    pub fn read_object_at(
        &self,
        d: &Descriptor,
        buf: &mut [u8],
        pos: u64,
    ) -> Result<usize, SifError> {
        self.object_reader(d)
            .read_at(buf, pos)
            .map_err(|source| self.read_error(source))
    }

    /// The whole data of `d`, refused when larger than `limit` bytes.
    pub fn read_object(&self, d: &Descriptor, limit: u64) -> Result<Vec<u8>, SifError> {
        if d.size > limit {
            return Err(SifError::ObjectTooLarge {
                path: self.path.clone(),
                id: d.id,
                size: d.size,
                limit,
            });
        }
        let mut buf = vec![0u8; usize::try_from(d.size).unwrap_or(0)];
        self.src
            .read_exact_at(&mut buf, d.offset)
            .map_err(|source| self.read_error(source))?;
        Ok(buf)
    }

    pub(crate) fn read_error(&self, source: io::Error) -> SifError {
        SifError::Read {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn invalid(&self, reason: crate::error::InvalidChange) -> SifError {
        SifError::Invalid {
            path: self.path.clone(),
            reason,
        }
    }
}
