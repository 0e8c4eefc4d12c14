// SPDX-License-Identifier: Apache-2.0
//! The byte views signatures cover (spec §7): header view, descriptor view, the image
//! metadata document, and the legacy data concatenation (§9). Signing and verification live in
//! `stockade-trust`; this module only computes what they compare.

use serde::{Deserialize, Serialize};

use crate::descriptor::Descriptor;
use crate::digest::{Digest, HashAlg};
use crate::error::{InvalidChange, SifError};
use crate::header::Header;
use crate::image::SifImage;
use crate::raw;
use crate::source::ReadAt;

/// Length of the header view.
pub const HEADER_VIEW_LEN: usize = 61;
/// Length of the descriptor view.
pub const DESCRIPTOR_VIEW_LEN: usize = 557;
/// Read size when hashing object data.
const HASH_CHUNK: usize = 1 << 20;

/// `launch ‖ magic ‖ version ‖ id`: header bytes 0..45 and 48..64.
pub fn header_view(h: &Header) -> [u8; HEADER_VIEW_LEN] {
    let mut v = [0u8; HEADER_VIEW_LEN];
    raw::put(&mut v, 0, &h.launch);
    raw::put(&mut v, 32, &h.magic);
    raw::put(&mut v, 42, &h.version);
    raw::put(&mut v, 45, &h.id);
    v
}

/// `type ‖ used(1) ‖ relative id ‖ linked id ‖ size ‖ created ‖ uid ‖ gid ‖ name ‖ extra`.
pub fn descriptor_view(d: &Descriptor, relative_id: u32) -> [u8; DESCRIPTOR_VIEW_LEN] {
    let mut v = [0u8; DESCRIPTOR_VIEW_LEN];
    raw::put(&mut v, 0, &d.data_type.0.to_le_bytes());
    v[4] = 1;
    raw::put(&mut v, 5, &relative_id.to_le_bytes());
    raw::put(&mut v, 9, &d.link_raw.to_le_bytes());
    raw::put(
        &mut v,
        13,
        &i64::try_from(d.size).unwrap_or(i64::MAX).to_le_bytes(),
    );
    raw::put(&mut v, 21, &d.created_at.to_le_bytes());
    raw::put(&mut v, 29, &d.uid.to_le_bytes());
    raw::put(&mut v, 37, &d.gid.to_le_bytes());
    raw::put(&mut v, 45, &d.name);
    raw::put(&mut v, 173, &d.extra);
    v
}

/// The signed metadata document (`version` 1). Serialises byte-exactly like the reference
/// (compact JSON, field order as declared, no trailing newline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMetadata {
    /// Document version (1).
    pub version: u32,
    /// Header digest.
    pub header: HeaderMetadata,
    /// Objects, ascending absolute id.
    pub objects: Vec<ObjectMetadata>,
}

/// Digest of the header view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderMetadata {
    /// Digest of [`header_view`].
    pub digest: Digest,
}

/// Digests of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMetadata {
    /// Id relative to the smallest id of the group.
    #[serde(rename = "relativeId")]
    pub relative_id: u32,
    /// Digest of [`descriptor_view`].
    #[serde(rename = "descriptorDigest")]
    pub descriptor_digest: Digest,
    /// Digest of the object data.
    #[serde(rename = "objectDigest")]
    pub object_digest: Digest,
}

impl ImageMetadata {
    /// The document version this crate writes.
    pub const VERSION: u32 = 1;

    /// Compact JSON, as signed.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain structs of integers and strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a document (any field order; unknown fields ignored, as Go's decoder does).
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl<S: ReadAt> SifImage<S> {
    /// Header view of this image.
    pub fn header_view(&self) -> [u8; HEADER_VIEW_LEN] {
        header_view(&self.header)
    }

    /// Descriptor view of `d`, with its relative id in this image.
    pub fn descriptor_view(&self, d: &Descriptor) -> [u8; DESCRIPTOR_VIEW_LEN] {
        descriptor_view(d, self.relative_id(d))
    }

    /// Digest of the data of `d`, read in 1 MiB chunks.
    pub fn object_digest(&self, d: &Descriptor, alg: HashAlg) -> Result<Digest, SifError> {
        let mut h = alg.hasher();
        self.hash_object(d, &mut h)?;
        Ok(h.finalize())
    }

    fn hash_object(&self, d: &Descriptor, h: &mut crate::digest::Hasher) -> Result<(), SifError> {
        let chunk = usize::try_from(d.size)
            .unwrap_or(HASH_CHUNK)
            .min(HASH_CHUNK);
        let mut buf = vec![0u8; chunk];
        let mut pos = 0u64;
        while pos < d.size {
            let n = usize::try_from(d.size - pos).unwrap_or(chunk).min(chunk);
            self.src
                .read_exact_at(&mut buf[..n], d.offset + pos)
                .map_err(|source| self.read_error(source))?;
            h.update(&buf[..n]);
            pos += n as u64;
        }
        Ok(())
    }

    /// Metadata document for `group`: all its used objects, or only `ids` (each must be in
    /// the group). Relative ids are taken from the smallest id of the whole group.
    pub fn image_metadata(
        &self,
        group: u32,
        ids: Option<&[u32]>,
        alg: HashAlg,
    ) -> Result<ImageMetadata, SifError> {
        let mut objects: Vec<&Descriptor> = match ids {
            None => self.group_objects(Some(group)).collect(),
            Some(ids) => ids
                .iter()
                .map(|id| {
                    let d = self.descriptor(*id)?;
                    if d.group() != Some(group) {
                        return Err(self.invalid(InvalidChange::NotInGroup { id: *id, group }));
                    }
                    Ok(d)
                })
                .collect::<Result<_, _>>()?,
        };
        objects.sort_by_key(|d| d.id);
        objects.dedup_by_key(|d| d.id);
        let min = self
            .group_min_id(Some(group))
            .ok_or_else(|| self.invalid(InvalidChange::EmptyGroup { group }))?;
        let header = HeaderMetadata {
            digest: alg.digest(&self.header_view()),
        };
        let objects = objects
            .into_iter()
            .map(|d| {
                let relative_id = d.id - min;
                Ok(ObjectMetadata {
                    relative_id,
                    descriptor_digest: alg.digest(&descriptor_view(d, relative_id)),
                    object_digest: self.object_digest(d, alg)?,
                })
            })
            .collect::<Result<_, SifError>>()?;
        Ok(ImageMetadata {
            version: ImageMetadata::VERSION,
            header,
            objects,
        })
    }

    /// Legacy group digest: data of every used object of `group` concatenated in
    /// descriptor-table order (spec §9; a signature inside the group is included).
    pub fn legacy_group_digest(&self, group: u32, alg: HashAlg) -> Result<Digest, SifError> {
        let mut h = alg.hasher();
        let mut any = false;
        for d in self.group_objects(Some(group)) {
            self.hash_object(d, &mut h)?;
            any = true;
        }
        if !any {
            return Err(self.invalid(InvalidChange::EmptyGroup { group }));
        }
        Ok(h.finalize())
    }
}
