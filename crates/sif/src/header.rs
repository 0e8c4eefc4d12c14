// SPDX-License-Identifier: Apache-2.0
//! The 128-byte global header (spec §3).

use crate::error::FormatError;
use crate::raw::{self, GO_ZERO_TIME, HEADER_LEN};
use crate::types::Arch;

/// `SIF_MAGIC\0`.
pub const MAGIC: [u8; 10] = *b"SIF_MAGIC\0";
/// `01\0`: the only SIF format version.
pub const VERSION: [u8; 3] = *b"01\0";
/// Launch script Apptainer and Singularity write.
pub const APPTAINER_LAUNCH_SCRIPT: &str = "#!/usr/bin/env run-singularity\n";

/// The global header, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub(crate) launch: [u8; 32],
    pub(crate) magic: [u8; 10],
    pub(crate) version: [u8; 3],
    pub(crate) arch: Arch,
    pub(crate) id: [u8; 16],
    pub(crate) created_at: i64,
    pub(crate) modified_at: i64,
    pub(crate) descriptors_free: i64,
    pub(crate) descriptors_total: i64,
    pub(crate) descriptors_offset: i64,
    pub(crate) descriptors_size: i64,
    pub(crate) data_offset: i64,
    pub(crate) data_size: i64,
}

impl Header {
    /// Decodes the header and checks magic and version (the checks of the reference loader;
    /// the layout checks are done by [`crate::SifImage`]).
    pub fn decode(buf: &[u8; HEADER_LEN]) -> Result<Self, FormatError> {
        let h = Self {
            launch: raw::bytes(buf, 0),
            magic: raw::bytes(buf, 32),
            version: raw::bytes(buf, 42),
            arch: Arch(raw::bytes(buf, 45)),
            id: raw::bytes(buf, 48),
            created_at: raw::get_i64(buf, 64),
            modified_at: raw::get_i64(buf, 72),
            descriptors_free: raw::get_i64(buf, 80),
            descriptors_total: raw::get_i64(buf, 88),
            descriptors_offset: raw::get_i64(buf, 96),
            descriptors_size: raw::get_i64(buf, 104),
            data_offset: raw::get_i64(buf, 112),
            data_size: raw::get_i64(buf, 120),
        };
        if h.magic != MAGIC {
            return Err(FormatError::BadMagic);
        }
        if h.version != VERSION {
            return Err(FormatError::BadVersion {
                found: raw::trim_nul(&h.version),
            });
        }
        Ok(h)
    }

    /// The 128 stored bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        raw::put(&mut b, 0, &self.launch);
        raw::put(&mut b, 32, &self.magic);
        raw::put(&mut b, 42, &self.version);
        raw::put(&mut b, 45, &self.arch.0);
        raw::put(&mut b, 48, &self.id);
        let ints = [
            self.created_at,
            self.modified_at,
            self.descriptors_free,
            self.descriptors_total,
            self.descriptors_offset,
            self.descriptors_size,
            self.data_offset,
            self.data_size,
        ];
        for (i, v) in ints.iter().enumerate() {
            raw::put(&mut b, 64 + 8 * i, &v.to_le_bytes());
        }
        b
    }

    /// Launch script (shebang line), NULs trimmed.
    pub fn launch_script(&self) -> String {
        raw::trim_nul(&self.launch)
    }

    /// Raw launch field.
    pub fn launch_bytes(&self) -> &[u8; 32] {
        &self.launch
    }

    /// Format version (`"01"`).
    pub fn version(&self) -> String {
        raw::trim_nul(&self.version)
    }

    /// Architecture of the primary partition (not integrity-protected: use the partition's).
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Image UUID as raw bytes (all zero for deterministic images).
    pub fn id(&self) -> [u8; 16] {
        self.id
    }

    /// Image UUID in canonical text form.
    pub fn id_string(&self) -> String {
        uuid::Uuid::from_bytes(self.id).hyphenated().to_string()
    }

    /// Creation time, Unix seconds (Go zero time [`GO_ZERO_TIME`] when unset).
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// Modification time, Unix seconds.
    pub fn modified_at(&self) -> i64 {
        self.modified_at
    }

    /// Number of unused descriptor slots.
    pub fn descriptors_free(&self) -> i64 {
        self.descriptors_free
    }

    /// Number of descriptor slots.
    pub fn descriptors_total(&self) -> i64 {
        self.descriptors_total
    }

    /// File offset of the descriptor table.
    pub fn descriptors_offset(&self) -> i64 {
        self.descriptors_offset
    }

    /// Size of the descriptor table in bytes.
    pub fn descriptors_size(&self) -> i64 {
        self.descriptors_size
    }

    /// Start of the data section (informational; objects are located by their descriptors).
    pub fn data_offset(&self) -> i64 {
        self.data_offset
    }

    /// Size of the data section as the last writer recorded it.
    pub fn data_size(&self) -> i64 {
        self.data_size
    }

    /// True for images written in deterministic mode: nil id and both times unset (as
    /// `FileImage.isDeterministic` in the reference library). Modifications then keep
    /// timestamps unset.
    pub fn is_deterministic(&self) -> bool {
        self.id == [0; 16] && self.created_at == GO_ZERO_TIME && self.modified_at == GO_ZERO_TIME
    }
}
