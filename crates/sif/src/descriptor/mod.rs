// SPDX-License-Identifier: Apache-2.0
//! The 585-byte data object descriptor (spec §5) and its type-specific `extra` field (§6).

mod meta;

pub use meta::{CryptoMessageMeta, PartitionMeta, SignatureMeta, extra};

use crate::error::FormatError;
use crate::raw::{self, DESCRIPTOR_LEN, GROUP_FLAG};
use crate::types::DataType;

/// Size of the `name` field.
pub const NAME_LEN: usize = 128;
/// Size of the `extra` field.
pub const EXTRA_LEN: usize = 384;

/// What a descriptor's `linked_id` points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// No link (`0`).
    None,
    /// Link to the object with this id.
    Object(u32),
    /// Link to the group with this id (stored with [`GROUP_FLAG`]).
    Group(u32),
}

impl Link {
    /// Decodes a stored `linked_id` as the reference library does.
    pub fn from_raw(raw: u32) -> Self {
        if raw == 0 {
            Self::None
        } else if raw & GROUP_FLAG == GROUP_FLAG {
            Self::Group(raw & !GROUP_FLAG)
        } else {
            Self::Object(raw)
        }
    }

    /// The value to store.
    pub fn to_raw(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Object(id) => id,
            Self::Group(g) => g | GROUP_FLAG,
        }
    }
}

/// A used descriptor, decoded and checked on its own (ranges against the file are checked by
/// [`crate::SifImage`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub(crate) slot: usize,
    pub(crate) data_type: DataType,
    pub(crate) id: u32,
    pub(crate) group_raw: u32,
    pub(crate) link_raw: u32,
    pub(crate) offset: u64,
    pub(crate) size: u64,
    pub(crate) size_with_padding: i64,
    pub(crate) created_at: i64,
    pub(crate) modified_at: i64,
    pub(crate) uid: i64,
    pub(crate) gid: i64,
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) extra: [u8; EXTRA_LEN],
}

impl Descriptor {
    /// Decodes slot `slot`: `Ok(None)` for an unused slot; errors for a used flag other than
    /// 0/1, id 0, negative offset/size or an overflowing range.
    pub fn decode(slot: usize, b: &[u8; DESCRIPTOR_LEN]) -> Result<Option<Self>, FormatError> {
        match b[4] {
            0 => return Ok(None),
            1 => {}
            value => return Err(FormatError::BadUsedFlag { slot, value }),
        }
        let id = raw::get_u32(b, 5);
        if id == 0 {
            return Err(FormatError::ZeroId { slot });
        }
        let non_negative = |field, value: i64| {
            u64::try_from(value).map_err(|_| FormatError::NegativeObjectField { id, field, value })
        };
        let offset = non_negative("offset", raw::get_i64(b, 17))?;
        let size = non_negative("size", raw::get_i64(b, 25))?;
        if offset
            .checked_add(size)
            .is_none_or(|end| i64::try_from(end).is_err())
        {
            return Err(FormatError::ObjectRangeOverflow { id, offset, size });
        }
        Ok(Some(Self {
            slot,
            data_type: DataType(raw::get_i32(b, 0)),
            id,
            group_raw: raw::get_u32(b, 9),
            link_raw: raw::get_u32(b, 13),
            offset,
            size,
            size_with_padding: raw::get_i64(b, 33),
            created_at: raw::get_i64(b, 41),
            modified_at: raw::get_i64(b, 49),
            uid: raw::get_i64(b, 57),
            gid: raw::get_i64(b, 65),
            name: raw::bytes(b, 73),
            extra: raw::bytes(b, 201),
        }))
    }

    /// The 585 stored bytes (used flag 1).
    pub fn encode(&self) -> [u8; DESCRIPTOR_LEN] {
        let mut b = [0u8; DESCRIPTOR_LEN];
        raw::put(&mut b, 0, &self.data_type.0.to_le_bytes());
        b[4] = 1;
        raw::put(&mut b, 5, &self.id.to_le_bytes());
        raw::put(&mut b, 9, &self.group_raw.to_le_bytes());
        raw::put(&mut b, 13, &self.link_raw.to_le_bytes());
        // Both fit in i64: checked by `decode` and by the writers.
        raw::put(
            &mut b,
            17,
            &i64::try_from(self.offset).unwrap_or(i64::MAX).to_le_bytes(),
        );
        raw::put(
            &mut b,
            25,
            &i64::try_from(self.size).unwrap_or(i64::MAX).to_le_bytes(),
        );
        let ints = [
            self.size_with_padding,
            self.created_at,
            self.modified_at,
            self.uid,
            self.gid,
        ];
        for (i, v) in ints.iter().enumerate() {
            raw::put(&mut b, 33 + 8 * i, &v.to_le_bytes());
        }
        raw::put(&mut b, 73, &self.name);
        raw::put(&mut b, 201, &self.extra);
        b
    }

    /// Index of the descriptor slot in the table.
    pub fn slot(&self) -> usize {
        self.slot
    }
    /// Data object type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }
    /// Object id (≥ 1).
    pub fn id(&self) -> u32 {
        self.id
    }
    /// Group id, `None` when the object is in no group.
    pub fn group(&self) -> Option<u32> {
        Some(self.group_raw & !GROUP_FLAG).filter(|g| *g != 0)
    }
    /// Stored `group_id` (with [`GROUP_FLAG`]).
    pub fn group_raw(&self) -> u32 {
        self.group_raw
    }
    /// Decoded link.
    pub fn link(&self) -> Link {
        Link::from_raw(self.link_raw)
    }
    /// Stored `linked_id`.
    pub fn link_raw(&self) -> u32 {
        self.link_raw
    }
    /// Absolute file offset of the data.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// Data length.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// `offset + size` (cannot overflow: checked when decoded).
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }
    /// Stored `size_with_padding` (informational only).
    pub fn size_with_padding(&self) -> i64 {
        self.size_with_padding
    }
    /// Creation time, Unix seconds.
    pub fn created_at(&self) -> i64 {
        self.created_at
    }
    /// Modification time, Unix seconds.
    pub fn modified_at(&self) -> i64 {
        self.modified_at
    }
    /// Deprecated owner uid (still integrity-protected).
    pub fn uid(&self) -> i64 {
        self.uid
    }
    /// Deprecated owner gid (still integrity-protected).
    pub fn gid(&self) -> i64 {
        self.gid
    }
    /// Object name, NULs trimmed.
    pub fn name(&self) -> String {
        raw::trim_nul(&self.name)
    }
    /// Raw `name` field.
    pub fn name_bytes(&self) -> &[u8; NAME_LEN] {
        &self.name
    }
    /// Raw `extra` field.
    pub fn extra(&self) -> &[u8; EXTRA_LEN] {
        &self.extra
    }
}
