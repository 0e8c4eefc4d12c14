// SPDX-License-Identifier: Apache-2.0
//! The hardened layout checks (spec §11) on a decoded header and descriptor table.
//!
//! Everything is bounded before anything is allocated: the table size is checked against
//! [`MAX_DESCRIPTORS`] and the file length before it is read.

use std::collections::HashMap;
use std::ops::Range;

use crate::descriptor::Descriptor;
use crate::error::FormatError;
use crate::header::Header;
use crate::raw::{DESCRIPTOR_LEN, HEADER_LEN};

/// Largest descriptor table accepted (writers use 48; 4096 slots are 2.4 MB).
pub const MAX_DESCRIPTORS: usize = 4096;

/// Checks the header fields that locate the descriptor table and returns the table's byte
/// range and slot count.
pub(crate) fn table_range(h: &Header, len: u64) -> Result<(Range<u64>, usize), FormatError> {
    let fields = [
        ("descriptors_free", h.descriptors_free),
        ("descriptors_total", h.descriptors_total),
        ("descriptors_offset", h.descriptors_offset),
        ("descriptors_size", h.descriptors_size),
        ("data_offset", h.data_offset),
        ("data_size", h.data_size),
    ];
    for (field, value) in fields {
        if value < 0 {
            return Err(FormatError::NegativeHeaderField { field, value });
        }
    }
    let total = usize::try_from(h.descriptors_total)
        .ok()
        .filter(|t| *t <= MAX_DESCRIPTORS)
        .ok_or(FormatError::TooManyDescriptors {
            total: h.descriptors_total,
            max: MAX_DESCRIPTORS,
        })?;
    let size_ok = (total * DESCRIPTOR_LEN) as u64 == h.descriptors_size.unsigned_abs();
    if !size_ok {
        return Err(FormatError::DescriptorTableSize {
            size: h.descriptors_size,
            total: h.descriptors_total,
        });
    }
    let start = h.descriptors_offset.unsigned_abs();
    let end = start + h.descriptors_size.unsigned_abs(); // both < 2^63: no overflow
    if total > 0 && start < HEADER_LEN as u64 {
        return Err(FormatError::DescriptorTableOverlapsHeader {
            offset: h.descriptors_offset,
        });
    }
    if end > len {
        return Err(FormatError::TruncatedDescriptorTable {
            offset: h.descriptors_offset,
            size: h.descriptors_size,
            len,
        });
    }
    Ok((start..end, total))
}

/// Decodes every slot of `table` and returns the used descriptors in slot order.
pub(crate) fn decode_table(table: &[u8], h: &Header) -> Result<Vec<Descriptor>, FormatError> {
    let mut used = Vec::new();
    let mut slots_by_id = HashMap::new();
    let mut unused = 0usize;
    for (slot, chunk) in table.chunks_exact(DESCRIPTOR_LEN).enumerate() {
        let bytes: &[u8; DESCRIPTOR_LEN] = chunk
            .try_into()
            .expect("chunks_exact yields DESCRIPTOR_LEN-byte chunks");
        let Some(d) = Descriptor::decode(slot, bytes)? else {
            unused += 1;
            continue;
        };
        if let Some(first) = slots_by_id.insert(d.id, slot) {
            return Err(FormatError::DuplicateId {
                id: d.id,
                first,
                second: slot,
            });
        }
        used.push(d);
    }
    if usize::try_from(h.descriptors_free).ok() != Some(unused) {
        return Err(FormatError::FreeCountMismatch {
            free: h.descriptors_free,
            unused,
        });
    }
    Ok(used)
}

/// Checks object ranges: inside the file, clear of the header and the table, disjoint from
/// each other; and at most one primary system partition.
pub(crate) fn check_objects(
    objects: &[Descriptor],
    table: &Range<u64>,
    len: u64,
) -> Result<(), FormatError> {
    let mut primary: Option<u32> = None;
    for d in objects {
        if d.end() > len {
            return Err(FormatError::ObjectPastEnd {
                id: d.id,
                offset: d.offset,
                size: d.size,
                len,
            });
        }
        if d.size > 0 {
            let overlaps = |r: &Range<u64>| d.offset < r.end && r.start < d.end();
            let meta = [
                (0..HEADER_LEN as u64, "header"),
                (table.clone(), "descriptor table"),
            ];
            if let Some((_, what)) = meta.iter().find(|(r, _)| overlaps(r)) {
                return Err(FormatError::ObjectOverlapsMetadata {
                    id: d.id,
                    offset: d.offset,
                    size: d.size,
                    what,
                });
            }
        }
        if d.is_primary_partition() {
            if let Some(first) = primary {
                return Err(FormatError::MultiplePrimary {
                    first,
                    second: d.id,
                });
            }
            primary = Some(d.id);
        }
    }
    let mut ranges: Vec<&Descriptor> = objects.iter().filter(|d| d.size > 0).collect();
    ranges.sort_by_key(|d| (d.offset, d.id));
    // Sorted by start: an overlap exists iff some object starts before the furthest end so far.
    let mut furthest: Option<&Descriptor> = None;
    for d in ranges {
        if let Some(prev) = furthest
            && d.offset < prev.end()
        {
            return Err(FormatError::ObjectsOverlap {
                first: prev.id,
                second: d.id,
            });
        }
        if furthest.is_none_or(|p| d.end() > p.end()) {
            furthest = Some(d);
        }
    }
    Ok(())
}
