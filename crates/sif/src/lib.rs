// SPDX-License-Identifier: Apache-2.0
//! SIF (Singularity Image Format): bounded reader, writer, object add/delete, integrity views.
//!
//! Design:
//! * **One opened file, positioned reads.** [`SifImage`] loads from a [`ReadAt`] source (a
//!   `File` → `pread`), never re-opens the path; object data is read through
//!   [`SifImage::object_reader`] (`Read + Seek` over the object's range) or
//!   [`SifImage::read_object_at`]. The runtime mounts from the same fd it verified.
//! * **Hardened loading** (spec §11): after magic/version, the header counts are bounded
//!   ([`MAX_DESCRIPTORS`]) and checked against the file length *before* the table is read;
//!   every used descriptor is checked (used flag 0/1, id ≠ 0 and unique, non-negative
//!   non-overflowing range inside the file, clear of header, table and other objects, one
//!   primary partition at most, `descriptors_free` consistent). Failures are
//!   [`SifError::Format`] naming the file and the [`FormatError`]; never a panic.
//! * **Writer = reference writer.** [`Builder`] and the in-place operations
//!   ([`SifImage::add_object`], [`SifImage::delete_object`],
//!   [`SifImage::set_primary_partition`]) place data and update header fields exactly as the
//!   current reference library does, so deterministic images are byte-identical.
//! * **Integrity views** ([`header_view`], [`descriptor_view`], [`ImageMetadata`],
//!   [`SifImage::legacy_group_digest`]) are what signatures cover; `stockade-trust` signs and
//!   verifies on top of them.
#![forbid(unsafe_code)]

mod builder;
mod descriptor;
mod digest;
mod error;
mod header;
mod image;
mod input;
mod integrity;
mod modify;
mod raw;
mod source;
mod types;
mod validate;

pub use builder::{Builder, DEFAULT_CAPACITY, DEFAULT_DESCRIPTORS_OFFSET, now_unix};
pub use descriptor::{
    CryptoMessageMeta, Descriptor, EXTRA_LEN, Link, NAME_LEN, PartitionMeta, SignatureMeta, extra,
};
pub use digest::{Digest, DigestParseError, HashAlg, Hasher};
pub use error::{FormatError, InvalidChange, SifError};
pub use header::{APPTAINER_LAUNCH_SCRIPT, Header, MAGIC, VERSION};
pub use image::SifImage;
pub use input::{ObjectData, ObjectInput};
pub use integrity::{
    DESCRIPTOR_VIEW_LEN, HEADER_VIEW_LEN, HeaderMetadata, ImageMetadata, ObjectMetadata,
    descriptor_view, header_view,
};
pub use modify::{DeleteOptions, TimeMode};
pub use raw::{DESCRIPTOR_LEN, GO_ZERO_TIME, GROUP_FLAG, HEADER_LEN};
pub use source::{ObjectReader, ReadAt};
pub use types::{Arch, DataType, FormatType, FsType, HashType, MessageType, PartType, SbomFormat};
pub use validate::MAX_DESCRIPTORS;

/// Formats a SIF-style UUID string into raw bytes (`None` if malformed).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    uuid::Uuid::parse_str(s).ok().map(uuid::Uuid::into_bytes)
}
