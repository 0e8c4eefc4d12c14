// SPDX-License-Identifier: Apache-2.0
//! [`Builder`]: writes a new image with the layout of the current reference writer
//! (descriptor table at 4096, 48 slots, data from 32176), byte-identical to it in
//! deterministic mode.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{InvalidChange, SifError};
use crate::header::{Header, MAGIC, VERSION};
use crate::image::SifImage;
use crate::input::{ObjectInput, Placement};
use crate::raw::{self, DESCRIPTOR_LEN, GO_ZERO_TIME, HEADER_LEN};
use crate::types::Arch;
use crate::validate::MAX_DESCRIPTORS;

/// Default descriptor table offset.
pub const DEFAULT_DESCRIPTORS_OFFSET: u64 = 4096;
/// Default number of descriptor slots.
pub const DEFAULT_CAPACITY: usize = 48;

/// Current time in Unix seconds (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// Builder of a new SIF image.
#[derive(Debug)]
pub struct Builder<'a> {
    launch: String,
    id: [u8; 16],
    time: i64,
    capacity: usize,
    objects: Vec<ObjectInput<'a>>,
}

impl Default for Builder<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Builder<'a> {
    /// A builder with a random id, the current time, no launch script and 48 slots.
    pub fn new() -> Self {
        Self {
            launch: String::new(),
            id: uuid::Uuid::new_v4().into_bytes(),
            time: now_unix(),
            capacity: DEFAULT_CAPACITY,
            objects: Vec::new(),
        }
    }

    /// Deterministic mode (`sif.OptCreateDeterministic`): nil id, times unset (Go zero time).
    pub fn deterministic(mut self) -> Self {
        self.id = [0; 16];
        self.time = GO_ZERO_TIME;
        self
    }

    /// Launch script (shebang line), shorter than 32 bytes.
    pub fn launch_script(mut self, script: &str) -> Self {
        self.launch = script.to_owned();
        self
    }

    /// Image id (raw UUID bytes; all zero = nil).
    pub fn id(mut self, id: [u8; 16]) -> Self {
        self.id = id;
        self
    }

    /// Creation time (also the modification time and the default object time).
    pub fn time(mut self, unix_seconds: i64) -> Self {
        self.time = unix_seconds;
        self
    }

    /// Number of descriptor slots (1..=4096).
    pub fn capacity(mut self, slots: usize) -> Self {
        self.capacity = slots;
        self
    }

    /// Appends an object; objects take slots 1, 2, … in this order.
    pub fn object(mut self, input: ObjectInput<'a>) -> Self {
        self.objects.push(input);
        self
    }

    /// Creates (or truncates) `path`, mode 0755, writes the image and loads it back. The file
    /// is removed when writing fails.
    pub fn create(self, path: impl AsRef<Path>) -> Result<SifImage<File>, SifError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o755)
            .open(path)
            .map_err(|source| SifError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        if let Err(e) = self.write_to(&file, path) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        SifImage::from_source(file, path)
    }

    /// Writes the image into `file` (truncated first); `path` names it in errors.
    pub fn write_to(self, file: &File, path: &Path) -> Result<(), SifError> {
        let invalid = |reason| SifError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let write_err = |source| SifError::Write {
            path: PathBuf::from(path),
            source,
        };
        let launch = raw::padded::<32>(self.launch.as_bytes())
            .filter(|_| self.launch.len() < 32)
            .ok_or(invalid(InvalidChange::LaunchScriptTooLong))?;
        if self.capacity == 0 || self.capacity > MAX_DESCRIPTORS {
            return Err(invalid(InvalidChange::Capacity {
                capacity: self.capacity,
            }));
        }
        if self.objects.len() > self.capacity {
            return Err(invalid(InvalidChange::NoFreeDescriptor {
                capacity: self.capacity,
            }));
        }
        let table_size = (self.capacity * DESCRIPTOR_LEN) as u64;
        let table_end = DEFAULT_DESCRIPTORS_OFFSET + table_size;
        let total = i64::try_from(self.capacity).map_err(|_| invalid(InvalidChange::TooLarge))?;
        let mut header = Header {
            launch,
            magic: MAGIC,
            version: VERSION,
            arch: Arch::UNKNOWN,
            id: self.id,
            created_at: self.time,
            modified_at: self.time,
            descriptors_free: total,
            descriptors_total: total,
            descriptors_offset: DEFAULT_DESCRIPTORS_OFFSET.cast_signed(),
            descriptors_size: table_size.cast_signed(),
            data_offset: table_end.cast_signed(),
            data_size: 0,
        };
        file.set_len(0).map_err(write_err)?;
        let mut used = Vec::with_capacity(self.objects.len());
        let mut placement = Placement {
            file,
            path,
            header: &mut header,
            used: &mut used,
            table_end,
        };
        for (slot, input) in self.objects.into_iter().enumerate() {
            placement.place(slot, input, self.time)?;
        }
        let table = encode_table(&used, self.capacity);
        file.write_all_at(&table, DEFAULT_DESCRIPTORS_OFFSET)
            .map_err(write_err)?;
        file.write_all_at(&header.encode(), 0).map_err(write_err)?;
        Ok(())
    }
}

/// The full descriptor table: used descriptors at their slots, zeros elsewhere.
pub(crate) fn encode_table(used: &[crate::descriptor::Descriptor], capacity: usize) -> Vec<u8> {
    let mut table = vec![0u8; capacity * DESCRIPTOR_LEN];
    for d in used {
        let at = d.slot * DESCRIPTOR_LEN;
        table[at..at + DESCRIPTOR_LEN].copy_from_slice(&d.encode());
    }
    table
}

const _: () = assert!(HEADER_LEN as u64 <= DEFAULT_DESCRIPTORS_OFFSET);
