// SPDX-License-Identifier: Apache-2.0
//! Validated LUKS2 metadata: the JSON area parsed strictly into typed keyslots, one data
//! segment and digests, with every offset checked against the header layout.
//!
//! Supported: keyslot type `luks2` (af `luks1`, area `raw`, kdf pbkdf2/argon2i/argon2id),
//! segment type `crypt` without integrity, digest type `pbkdf2`, no mandatory requirements
//! (those mark reencryption in progress and similar states we must not read through).

use crate::cipher::{CipherError, CipherSpec};
use crate::hash::HashAlg;
use crate::json::{self, type_of};
use crate::kdf::{Argon2Variant, Kdf, KdfError, MAX_PBKDF2_ITERATIONS, SALT_LEN};
use base64::Engine;
use serde_json::Value;

/// At most this many keyslots, segments, digests or tokens (the format's own limit).
pub const MAX_OBJECTS: usize = 32;
/// Largest volume key accepted, in bytes.
pub const MAX_KEY_SIZE: u32 = 256;
/// Largest anti-forensic stripe count accepted (cryptsetup always writes 4000).
pub const MAX_STRIPES: u32 = 4000;

/// Why metadata was rejected.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Not valid JSON of the expected shape.
    #[error("cannot parse LUKS2 JSON metadata")]
    Parse(#[source] serde_json::Error),
    /// An object of a type we do not implement.
    #[error("{object} {id} has unsupported type {kind:?}")]
    UnknownType {
        /// `keyslot`, `segment`, `digest`, `kdf`, ...
        object: &'static str,
        /// Its id.
        id: String,
        /// The type found.
        kind: String,
    },
    /// A field of a known object is malformed or out of range.
    #[error("{object} {id}: invalid {field}")]
    Invalid {
        /// Object kind.
        object: &'static str,
        /// Object id.
        id: String,
        /// Field name.
        field: &'static str,
    },
    /// A cipher we cannot use.
    #[error("{object} {id}: bad cipher")]
    Cipher {
        /// Object kind.
        object: &'static str,
        /// Object id.
        id: String,
        /// The cipher problem.
        #[source]
        source: CipherError,
    },
    /// KDF parameters out of bounds.
    #[error("keyslot {id}: bad kdf parameters")]
    Kdf {
        /// Keyslot id.
        id: String,
        /// The KDF problem.
        #[source]
        source: KdfError,
    },
    /// Too many objects of one kind.
    #[error("too many {0} (limit {MAX_OBJECTS})")]
    TooMany(&'static str),
    /// The volume has a mandatory requirement (e.g. reencryption in progress).
    #[error("unsupported mandatory requirement {0:?}")]
    Requirement(String),
    /// Not exactly one data segment.
    #[error("expected exactly one data segment, found {0}")]
    SegmentCount(usize),
    /// Offsets or sizes that do not fit the header layout.
    #[error("layout: {0}")]
    Layout(&'static str),
}

/// A usable `luks2` keyslot.
#[derive(Debug, Clone)]
pub struct Keyslot {
    /// Keyslot number.
    pub id: u32,
    /// Volume key size this slot stores.
    pub key_size: usize,
    /// 0 = ignore unless asked, 1 = normal, 2 = high.
    pub priority: u32,
    /// Anti-forensic stripes and hash.
    pub stripes: u32,
    /// Anti-forensic hash.
    pub af_hash: HashAlg,
    /// Area offset and size, from the volume start.
    pub area_offset: u64,
    /// Area size in bytes.
    pub area_size: u64,
    /// Cipher of the area and its key size.
    pub area_cipher: CipherSpec,
    /// Key size for the area cipher (the KDF output length).
    pub area_key_size: usize,
    /// Passphrase KDF.
    pub kdf: Kdf,
}

/// The data segment.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Segment id.
    pub id: u32,
    /// Offset of the encrypted payload from the volume start.
    pub offset: u64,
    /// Payload size; `None` = `dynamic` (to the end of the volume).
    pub size: Option<u64>,
    /// IV of the first sector, in 512-byte units.
    pub iv_tweak: u64,
    /// Payload cipher.
    pub cipher: CipherSpec,
    /// Encryption sector size (512, 1024, 2048 or 4096).
    pub sector_size: u32,
}

/// A `pbkdf2` volume-key digest.
#[derive(Debug, Clone)]
pub struct Digest {
    /// Keyslots whose key it verifies.
    pub keyslots: Vec<u32>,
    /// Segments that key opens.
    pub segments: Vec<u32>,
    /// PBKDF2 hash.
    pub hash: HashAlg,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// Salt.
    pub salt: Vec<u8>,
    /// Expected PBKDF2 output.
    pub digest: Vec<u8>,
}

/// The validated metadata of one header.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// Keyslots by ascending id.
    pub keyslots: Vec<Keyslot>,
    /// The one data segment.
    pub segment: Segment,
    /// Digests.
    pub digests: Vec<Digest>,
    /// Size of the keyslots area (after the two header copies).
    pub keyslots_size: u64,
}

pub(crate) fn invalid(object: &'static str, id: &str, field: &'static str) -> MetadataError {
    MetadataError::Invalid {
        object,
        id: id.chars().take(16).collect(),
        field,
    }
}

/// A canonical decimal (the format's `string-uint64`).
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !canonical || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

fn parse_id(object: &'static str, id: &str) -> Result<u32, MetadataError> {
    parse_u64(id)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| (v as usize) < MAX_OBJECTS)
        .ok_or_else(|| invalid(object, id, "id"))
}

pub(crate) fn b64(
    object: &'static str,
    id: &str,
    field: &'static str,
    s: &str,
) -> Result<Vec<u8>, MetadataError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| invalid(object, id, field))
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, MetadataError> {
    serde_json::from_value(v).map_err(MetadataError::Parse)
}

fn hash(
    object: &'static str,
    id: &str,
    field: &'static str,
    name: &str,
) -> Result<HashAlg, MetadataError> {
    HashAlg::from_name(name).ok_or_else(|| invalid(object, id, field))
}

/// An [`MetadataError::UnknownType`] for `object` `id` of type `kind` (cut to 32 chars).
fn unknown_type(object: &'static str, id: &str, kind: &str) -> MetadataError {
    MetadataError::UnknownType {
        object,
        id: id.into(),
        kind: kind.chars().take(32).collect(),
    }
}

fn parse_kdf(id: &str, v: Value) -> Result<Kdf, MetadataError> {
    let kdf = match type_of(&v) {
        "pbkdf2" => {
            let p: json::Pbkdf2 = typed(v)?;
            let hash = hash("keyslot", id, "kdf hash", &p.hash)?;
            Kdf::Pbkdf2 {
                hash,
                iterations: p.iterations,
                salt: b64("keyslot", id, "kdf salt", &p.salt)?,
            }
        }
        kind @ ("argon2i" | "argon2id") => {
            let variant = if kind == "argon2i" {
                Argon2Variant::I
            } else {
                Argon2Variant::Id
            };
            let a: json::Argon2 = typed(v)?;
            let salt = b64("keyslot", id, "kdf salt", &a.salt)?;
            Kdf::Argon2 {
                variant,
                time: a.time,
                memory_kib: a.memory,
                lanes: a.cpus,
                salt,
            }
        }
        other => return Err(unknown_type("kdf", id, other)),
    };
    kdf.validate().map_err(|source| MetadataError::Kdf {
        id: id.into(),
        source,
    })?;
    Ok(kdf)
}

mod parse;
pub use parse::parse_metadata;

#[cfg(test)]
mod tests;
