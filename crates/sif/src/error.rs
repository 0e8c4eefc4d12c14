// SPDX-License-Identifier: Apache-2.0
//! Errors: [`FormatError`] names what is wrong inside an image, [`SifError`] adds the file.

use std::io;
use std::path::PathBuf;

/// Something wrong in the bytes of an image (never an I/O failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// File shorter than the 128-byte header.
    #[error("file too short for a SIF header ({len} < 128 bytes)")]
    TruncatedHeader {
        /// File length.
        len: u64,
    },
    /// Magic is not `SIF_MAGIC`.
    #[error("not a SIF image (bad magic)")]
    BadMagic,
    /// Version is not `01`.
    #[error("unsupported SIF version {found:?}")]
    BadVersion {
        /// Version text found.
        found: String,
    },
    /// A header count, offset or size is negative.
    #[error("negative {field} in header ({value})")]
    NegativeHeaderField {
        /// Field name.
        field: &'static str,
        /// Stored value.
        value: i64,
    },
    /// `descriptors_total` above [`crate::MAX_DESCRIPTORS`].
    #[error("descriptor count {total} exceeds the limit of {max}")]
    TooManyDescriptors {
        /// Stored count.
        total: i64,
        /// Limit.
        max: usize,
    },
    /// `descriptors_size` is not `total × 585`.
    #[error("descriptor table size {size} is not {total} descriptors x 585 bytes")]
    DescriptorTableSize {
        /// Stored size.
        size: i64,
        /// Stored count.
        total: i64,
    },
    /// Descriptor table starts inside the header.
    #[error("descriptor table at offset {offset} overlaps the header")]
    DescriptorTableOverlapsHeader {
        /// Table offset.
        offset: i64,
    },
    /// Descriptor table extends past the end of the file.
    #[error("descriptor table extends past end of file (offset {offset} + size {size} > {len})")]
    TruncatedDescriptorTable {
        /// Table offset.
        offset: i64,
        /// Table size.
        size: i64,
        /// File length.
        len: u64,
    },
    /// `descriptors_free` differs from the number of unused slots.
    #[error("header says {free} free descriptors but {unused} slots are unused")]
    FreeCountMismatch {
        /// Stored count.
        free: i64,
        /// Counted unused slots.
        unused: usize,
    },
    /// Used flag is neither 0 nor 1.
    #[error("descriptor slot {slot}: used flag is {value}, not 0 or 1")]
    BadUsedFlag {
        /// Slot index.
        slot: usize,
        /// Stored byte.
        value: u8,
    },
    /// A used descriptor has id 0.
    #[error("descriptor slot {slot}: object id 0 is invalid")]
    ZeroId {
        /// Slot index.
        slot: usize,
    },
    /// Two used descriptors share an id.
    #[error("object id {id} used twice (descriptor slots {first} and {second})")]
    DuplicateId {
        /// The id.
        id: u32,
        /// First slot.
        first: usize,
        /// Second slot.
        second: usize,
    },
    /// Negative offset or size in a descriptor.
    #[error("object {id}: negative {field} ({value})")]
    NegativeObjectField {
        /// Object id.
        id: u32,
        /// Field name.
        field: &'static str,
        /// Stored value.
        value: i64,
    },
    /// `offset + size` overflows.
    #[error("object {id}: offset {offset} + size {size} overflows")]
    ObjectRangeOverflow {
        /// Object id.
        id: u32,
        /// Offset.
        offset: u64,
        /// Size.
        size: u64,
    },
    /// Object data extends past the end of the file.
    #[error("object {id} extends past end of file (offset {offset} + size {size} > {len})")]
    ObjectPastEnd {
        /// Object id.
        id: u32,
        /// Offset.
        offset: u64,
        /// Size.
        size: u64,
        /// File length.
        len: u64,
    },
    /// Object data overlaps the header or the descriptor table.
    #[error("object {id} (offset {offset}, size {size}) overlaps the {what}")]
    ObjectOverlapsMetadata {
        /// Object id.
        id: u32,
        /// Offset.
        offset: u64,
        /// Size.
        size: u64,
        /// `header` or `descriptor table`.
        what: &'static str,
    },
    /// Two objects share bytes.
    #[error("objects {first} and {second} overlap")]
    ObjectsOverlap {
        /// Lower-offset object.
        first: u32,
        /// Other object.
        second: u32,
    },
    /// More than one PrimSys partition.
    #[error("objects {first} and {second} are both primary system partitions")]
    MultiplePrimary {
        /// First id.
        first: u32,
        /// Second id.
        second: u32,
    },
}

/// Errors of this crate; every variant names the image file.
#[derive(Debug, thiserror::Error)]
pub enum SifError {
    /// Opening the image failed.
    #[error("cannot open {path}")]
    Open {
        /// Image path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Reading the image failed.
    #[error("cannot read {path}")]
    Read {
        /// Image path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Writing the image failed.
    #[error("cannot write {path}")]
    Write {
        /// Image path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Reading the data of a new object failed.
    #[error("{path}: cannot read the data of the new object")]
    ReadInput {
        /// Image path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The image is malformed.
    #[error("{path}: {problem}")]
    Format {
        /// Image path.
        path: PathBuf,
        /// What is wrong.
        problem: FormatError,
    },
    /// No used descriptor has this id.
    #[error("{path}: object {id} not found")]
    ObjectNotFound {
        /// Image path.
        path: PathBuf,
        /// Requested id.
        id: u32,
    },
    /// An object is larger than the caller accepts.
    #[error("{path}: object {id} is {size} bytes, more than the {limit} accepted")]
    ObjectTooLarge {
        /// Image path.
        path: PathBuf,
        /// Object id.
        id: u32,
        /// Object size.
        size: u64,
        /// Caller's limit.
        limit: u64,
    },
    /// A requested change is not possible (no free slot, second primary partition…).
    #[error("{path}: {reason}")]
    Invalid {
        /// Image path.
        path: PathBuf,
        /// What is not allowed.
        reason: InvalidChange,
    },
}

/// Changes [`crate::Builder`] and [`crate::SifImage`] refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChange {
    /// Every descriptor slot is used.
    #[error("no free descriptor slot (capacity {capacity})")]
    NoFreeDescriptor {
        /// Slot count.
        capacity: usize,
    },
    /// A primary partition already exists.
    #[error("image already has a primary partition (object {existing})")]
    PrimaryExists {
        /// Existing primary partition.
        existing: u32,
    },
    /// Launch script of 32 bytes or more.
    #[error("launch script longer than 31 bytes")]
    LaunchScriptTooLong,
    /// Object name of more than 128 bytes.
    #[error("object name longer than 128 bytes")]
    NameTooLong,
    /// Extra metadata of more than 384 bytes.
    #[error("object metadata longer than 384 bytes")]
    ExtraTooLong,
    /// Descriptor capacity outside 1..=MAX_DESCRIPTORS.
    #[error("descriptor capacity {capacity} out of range")]
    Capacity {
        /// Requested capacity.
        capacity: usize,
    },
    /// Size or offset past what a SIF field (i64) can hold.
    #[error("object too large for a SIF image")]
    TooLarge,
    /// The data section start lies inside the descriptor table.
    #[error("data offset {offset} lies inside the header or descriptor table")]
    DataOffsetInsideTable {
        /// Stored data offset.
        offset: i64,
    },
    /// The object is not a partition.
    #[error("object {id} is not a partition")]
    NotPartition {
        /// Object id.
        id: u32,
    },
    /// Only System partitions can be made primary.
    #[error("object {id} is not a system partition")]
    NotSystemPartition {
        /// Object id.
        id: u32,
    },
    /// The object belongs to another group.
    #[error("object {id} is not in group {group}")]
    NotInGroup {
        /// Object id.
        id: u32,
        /// Requested group.
        group: u32,
    },
    /// Nothing to describe.
    #[error("no objects in group {group}")]
    EmptyGroup {
        /// Requested group.
        group: u32,
    },
}
