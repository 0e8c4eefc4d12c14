// SPDX-License-Identifier: Apache-2.0
//! [`ObjectInput`]: a data object to write, and the placement rules shared by the image
//! builder and in-place additions (those of the reference writer, so output is byte-identical).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::descriptor::{
    CryptoMessageMeta, Descriptor, EXTRA_LEN, Link, NAME_LEN, PartitionMeta, extra,
};
use crate::error::{InvalidChange, SifError};
use crate::header::Header;
use crate::raw::{self, GROUP_FLAG};
use crate::types::{Arch, DataType, HashType, PartType, SbomFormat};

/// Where the bytes of a new object come from.
pub enum ObjectData<'a> {
    /// In memory.
    Bytes(Vec<u8>),
    /// An opened file, read from its current position to its end (copied in the kernel).
    File(File),
    /// Any reader, read to its end.
    Reader(Box<dyn Read + 'a>),
}

impl std::fmt::Debug for ObjectData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::File(file) => write!(f, "File({file:?})"),
            Self::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// A data object to add: type, data and descriptor options (defaults as the reference
/// library: group 1, no link, no name; partitions aligned to 4096 bytes, others unaligned).
#[derive(Debug)]
pub struct ObjectInput<'a> {
    pub(crate) data_type: DataType,
    pub(crate) data: ObjectData<'a>,
    pub(crate) group: Option<u32>,
    pub(crate) link: Link,
    pub(crate) name: Vec<u8>,
    pub(crate) extra: Vec<u8>,
    pub(crate) alignment: u64,
    pub(crate) time: Option<i64>,
}

impl<'a> ObjectInput<'a> {
    /// A new object of type `data_type`.
    pub fn new(data_type: DataType, data: ObjectData<'a>) -> Self {
        let alignment = if data_type == DataType::PARTITION {
            4096
        } else {
            0
        };
        Self {
            data_type,
            data,
            group: Some(1),
            link: Link::None,
            name: Vec::new(),
            extra: Vec::new(),
            alignment,
            time: None,
        }
    }

    /// A new object holding `bytes`.
    pub fn from_bytes(data_type: DataType, bytes: impl Into<Vec<u8>>) -> Self {
        Self::new(data_type, ObjectData::Bytes(bytes.into()))
    }

    /// Puts the object in group `group` (≥ 1), or in no group with `None`.
    pub fn group(mut self, group: Option<u32>) -> Self {
        self.group = group.filter(|g| *g != 0);
        self
    }

    /// Links the object to another object or group.
    pub fn link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }

    /// Sets the object name (at most 128 bytes).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.as_bytes().to_vec();
        self
    }

    /// Sets the raw `extra` metadata (at most 384 bytes).
    pub fn extra(mut self, extra: Vec<u8>) -> Self {
        self.extra = extra;
        self
    }

    /// Partition metadata.
    pub fn partition(self, meta: PartitionMeta) -> Self {
        self.extra(extra::partition(meta))
    }

    /// Signature metadata: hash type and signer fingerprint (empty for none).
    pub fn signature(self, hash_type: HashType, fingerprint: &[u8]) -> Self {
        self.extra(extra::signature(hash_type, fingerprint))
    }

    /// Crypto message metadata.
    pub fn crypto_message(self, meta: CryptoMessageMeta) -> Self {
        self.extra(extra::crypto_message(meta))
    }

    /// SBOM metadata.
    pub fn sbom(self, format: SbomFormat) -> Self {
        self.extra(extra::sbom(format))
    }

    /// OCI digest metadata (`sha256:<hex>`).
    pub fn oci_digest(self, digest: &str) -> Self {
        self.extra(extra::oci_digest(digest))
    }

    /// Alignment of the data start in bytes (0 or 1: none).
    pub fn alignment(mut self, alignment: u64) -> Self {
        self.alignment = alignment;
        self
    }

    /// Object creation/modification time (default: the image time of the operation).
    pub fn time(mut self, unix_seconds: i64) -> Self {
        self.time = Some(unix_seconds);
        self
    }

    /// Architecture of a primary partition, which the header takes over.
    fn primary_arch(&self) -> Option<Arch> {
        if self.data_type != DataType::PARTITION || self.extra.len() < 11 {
            return None;
        }
        (raw::get_i32(&self.extra, 4) == PartType::PRIM_SYS.0)
            .then(|| Arch(raw::bytes(&self.extra, 8)))
    }
}

/// State a placement updates: the header and the used descriptors (slot order).
pub(crate) struct Placement<'i> {
    pub file: &'i File,
    pub path: &'i Path,
    pub header: &'i mut Header,
    pub used: &'i mut Vec<Descriptor>,
    /// First byte after the header and the descriptor table.
    pub table_end: u64,
}

impl Placement<'_> {
    /// Writes `input` into `slot` the way the reference writer does: after the end of the last
    /// used object (or at `data_offset`), aligned, id = slot + 1; updates header counters.
    pub fn place(
        &mut self,
        slot: usize,
        input: ObjectInput<'_>,
        time: i64,
    ) -> Result<u32, SifError> {
        let invalid = |reason| SifError::Invalid {
            path: self.path.to_path_buf(),
            reason,
        };
        let name =
            raw::padded::<NAME_LEN>(&input.name).ok_or(invalid(InvalidChange::NameTooLong))?;
        let extra =
            raw::padded::<EXTRA_LEN>(&input.extra).ok_or(invalid(InvalidChange::ExtraTooLong))?;
        let id = u32::try_from(slot + 1).map_err(|_| invalid(InvalidChange::TooLarge))?;
        if let Some(arch) = input.primary_arch() {
            if let Some(existing) = self.used.iter().find(|d| d.is_primary_partition()) {
                return Err(invalid(InvalidChange::PrimaryExists {
                    existing: existing.id,
                }));
            }
            self.header.arch = arch;
        }
        let data_offset = self.header.data_offset.unsigned_abs();
        let data_end = self
            .used
            .iter()
            .map(Descriptor::end)
            .fold(data_offset, u64::max);
        self.header.data_size =
            to_i64(data_end - data_offset).ok_or(invalid(InvalidChange::TooLarge))?;
        if data_end < self.table_end {
            return Err(invalid(InvalidChange::DataOffsetInsideTable {
                offset: self.header.data_offset,
            }));
        }
        let offset =
            next_aligned(data_end, input.alignment).ok_or(invalid(InvalidChange::TooLarge))?;
        let size = write_data(self.file, self.path, offset, input.data)?;
        let end = offset.checked_add(size).and_then(to_i64);
        let padded = (offset - data_end).checked_add(size).and_then(to_i64);
        let (Some(_), Some(size_with_padding)) = (end, padded) else {
            return Err(invalid(InvalidChange::TooLarge));
        };
        let time = input.time.unwrap_or(time);
        let d = Descriptor {
            slot,
            data_type: input.data_type,
            id,
            group_raw: input.group.unwrap_or(0) | GROUP_FLAG,
            link_raw: input.link.to_raw(),
            offset,
            size,
            size_with_padding,
            created_at: time,
            modified_at: time,
            uid: 0,
            gid: 0,
            name,
            extra,
        };
        let at = self.used.partition_point(|u| u.slot < slot);
        self.used.insert(at, d);
        self.header.descriptors_free -= 1;
        self.header.data_size += size_with_padding;
        Ok(id)
    }
}

fn to_i64(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

/// First offset ≥ `offset` that is a multiple of `alignment` (0 and 1 mean none).
pub(crate) fn next_aligned(offset: u64, alignment: u64) -> Option<u64> {
    if alignment <= 1 || offset.is_multiple_of(alignment) {
        return Some(offset);
    }
    offset.checked_add(alignment - offset % alignment)
}

/// Writes the object data at `offset`, returning its length.
fn write_data(
    file: &File,
    path: &Path,
    offset: u64,
    data: ObjectData<'_>,
) -> Result<u64, SifError> {
    let write_err = |source| SifError::Write {
        path: path.to_path_buf(),
        source,
    };
    match data {
        ObjectData::Bytes(b) => {
            file.write_all_at(&b, offset).map_err(write_err)?;
            Ok(b.len() as u64)
        }
        ObjectData::File(mut src) => {
            let mut dst = file;
            dst.seek(SeekFrom::Start(offset)).map_err(write_err)?;
            io::copy(&mut src, &mut dst).map_err(write_err)
        }
        ObjectData::Reader(mut r) => {
            let mut buf = vec![0u8; 256 * 1024];
            let mut done = 0u64;
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => return Ok(done),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(source) => {
                        return Err(SifError::ReadInput {
                            path: path.to_path_buf(),
                            source,
                        });
                    }
                };
                file.write_all_at(&buf[..n], offset + done)
                    .map_err(write_err)?;
                done += n as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_rules() {
        assert_eq!(next_aligned(32176, 4096), Some(32768));
        assert_eq!(next_aligned(32768, 4096), Some(32768));
        assert_eq!(next_aligned(32772, 0), Some(32772));
        assert_eq!(next_aligned(32772, 1), Some(32772));
        assert_eq!(next_aligned(10, 3), Some(12));
        assert_eq!(next_aligned(u64::MAX - 1, 4096), None);
    }
}
