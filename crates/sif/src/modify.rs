// SPDX-License-Identifier: Apache-2.0
//! In-place changes to an image opened read-write: add, delete, set primary partition. Field
//! updates follow the reference library (`AddObject`, `DeleteObject`, `SetPrimPart`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::builder::{encode_table, now_unix};
use crate::error::{InvalidChange, SifError};
use crate::image::SifImage;
use crate::input::{ObjectInput, Placement};
use crate::raw::{self, GO_ZERO_TIME};
use crate::types::{Arch, PartType};

/// Timestamp to record for a change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeMode {
    /// Now, except for deterministic images, whose times stay unset (reference default).
    #[default]
    Auto,
    /// Unset (Go zero time).
    Deterministic,
    /// This Unix time.
    At(i64),
}

/// Options of [`SifImage::delete_object`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Overwrite the object data with zeros.
    pub zero: bool,
    /// Recompute the data size and truncate the file after the last remaining object.
    pub compact: bool,
    /// Modification time to record.
    pub time: TimeMode,
}

impl SifImage<File> {
    /// Opens `path` read-write, takes an exclusive `flock` on it (waiting for other writers)
    /// and loads it.
    pub fn open_rw(path: impl AsRef<Path>) -> Result<Self, SifError> {
        let path = path.as_ref();
        let open_err = |source| SifError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(open_err)?;
        file.lock().map_err(open_err)?;
        Self::from_source(file, path)
    }

    fn resolve_time(&self, mode: TimeMode) -> i64 {
        match mode {
            TimeMode::Auto if self.header.is_deterministic() => GO_ZERO_TIME,
            TimeMode::Auto => now_unix(),
            TimeMode::Deterministic => GO_ZERO_TIME,
            TimeMode::At(t) => t,
        }
    }

    /// Adds an object in the first free slot (id = slot + 1), after the last used object;
    /// returns its id.
    pub fn add_object(&mut self, input: ObjectInput<'_>, time: TimeMode) -> Result<u32, SifError> {
        let t = self.resolve_time(time);
        let slot = (0..self.capacity)
            .find(|s| !self.descriptors.iter().any(|d| d.slot == *s))
            .ok_or_else(|| {
                self.invalid(InvalidChange::NoFreeDescriptor {
                    capacity: self.capacity,
                })
            })?;
        let mut placement = Placement {
            file: &self.src,
            path: &self.path,
            header: &mut self.header,
            used: &mut self.descriptors,
            table_end: self.table.end,
        };
        let saved = placement.header.clone();
        let id = match placement.place(slot, input, t) {
            Ok(id) => id,
            Err(e) => {
                self.header = saved;
                return Err(e);
            }
        };
        self.header.modified_at = t;
        self.write_metadata()?;
        let end = self.find(id).map_or(0, |d| d.end());
        self.len = self.len.max(end);
        Ok(id)
    }

    /// Deletes object `id`: zeroes its descriptor, frees the slot, resets the header arch if
    /// it was the primary partition; optionally zeroes the data and compacts the file.
    pub fn delete_object(&mut self, id: u32, opts: DeleteOptions) -> Result<(), SifError> {
        let t = self.resolve_time(opts.time);
        let d = self.descriptor(id)?.clone();
        if opts.zero {
            self.zero_range(d.offset, d.size)?;
        }
        self.header.descriptors_free += 1;
        if d.is_primary_partition() {
            self.header.arch = Arch::UNKNOWN;
        }
        self.descriptors.retain(|u| u.id != id);
        self.header.modified_at = t;
        if opts.compact {
            let data_offset = self.header.data_offset.unsigned_abs();
            let end = self
                .descriptors
                .iter()
                .map(|d| d.end())
                .fold(data_offset, u64::max);
            self.header.data_size = (end - data_offset).cast_signed();
            let new_len = end.max(self.table.end);
            self.src
                .set_len(new_len)
                .map_err(|source| self.write_error(source))?;
            self.len = new_len;
        }
        self.write_metadata()
    }

    /// Makes System partition `id` the primary one; a previous primary becomes System.
    pub fn set_primary_partition(&mut self, id: u32, time: TimeMode) -> Result<(), SifError> {
        let t = self.resolve_time(time);
        let d = self.descriptor(id)?;
        let part = d
            .partition()
            .ok_or_else(|| self.invalid(InvalidChange::NotPartition { id }))?;
        if part.part_type == PartType::PRIM_SYS {
            return Ok(());
        }
        if part.part_type != PartType::SYSTEM {
            return Err(self.invalid(InvalidChange::NotSystemPartition { id }));
        }
        for d in self.descriptors.iter_mut() {
            let new_type = if d.id == id {
                PartType::PRIM_SYS
            } else if d.is_primary_partition() {
                PartType::SYSTEM
            } else {
                continue;
            };
            raw::put(&mut d.extra, 4, &new_type.0.to_le_bytes());
            d.modified_at = t;
        }
        self.header.arch = part.arch;
        self.header.modified_at = t;
        self.write_metadata()
    }

    fn zero_range(&self, offset: u64, size: u64) -> Result<(), SifError> {
        let zeros = vec![0u8; 64 * 1024];
        let mut done = 0u64;
        while done < size {
            let n = usize::try_from(size - done)
                .unwrap_or(usize::MAX)
                .min(zeros.len());
            self.src
                .write_all_at(&zeros[..n], offset + done)
                .map_err(|source| self.write_error(source))?;
            done += n as u64;
        }
        Ok(())
    }

    /// Rewrites the descriptor table and then the header.
    fn write_metadata(&self) -> Result<(), SifError> {
        let table = encode_table(&self.descriptors, self.capacity);
        self.src
            .write_all_at(&table, self.table.start)
            .map_err(|e| self.write_error(e))?;
        self.src
            .write_all_at(&self.header.encode(), 0)
            .map_err(|e| self.write_error(e))
    }

    fn write_error(&self, source: std::io::Error) -> SifError {
        SifError::Write {
            path: self.path.clone(),
            source,
        }
    }
}
