// SPDX-License-Identifier: Apache-2.0
//! The type-specific `extra` field of a descriptor (spec §6): decoded views per data type and
//! the encodings written for new objects.

use super::Descriptor;
use crate::raw;
use crate::types::{
    Arch, DataType, FormatType, FsType, HashType, MessageType, PartType, SbomFormat,
};

/// Partition metadata (partition `extra`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionMeta {
    /// File system type.
    pub fs_type: FsType,
    /// Partition type.
    pub part_type: PartType,
    /// Architecture of the content.
    pub arch: Arch,
}

/// Signature metadata (signature `extra`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureMeta {
    /// Hash type.
    pub hash_type: HashType,
    /// Signing entity: an OpenPGP v4 fingerprint in the first 20 bytes, or zero.
    pub entity: [u8; 256],
}

impl SignatureMeta {
    /// The 20-byte fingerprint, `None` when the first 20 bytes are zero (DSSE signatures).
    pub fn fingerprint(&self) -> Option<[u8; 20]> {
        let fp: [u8; 20] = raw::bytes(&self.entity, 0);
        (fp != [0; 20]).then_some(fp)
    }
}

/// Crypto message metadata (crypto message `extra`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CryptoMessageMeta {
    /// Message format.
    pub format: FormatType,
    /// Message kind.
    pub message: MessageType,
}

impl Descriptor {
    /// Partition metadata, for partitions.
    pub fn partition(&self) -> Option<PartitionMeta> {
        (self.data_type == DataType::PARTITION).then(|| PartitionMeta {
            fs_type: FsType(raw::get_i32(&self.extra, 0)),
            part_type: PartType(raw::get_i32(&self.extra, 4)),
            arch: Arch(raw::bytes(&self.extra, 8)),
        })
    }

    /// True for the primary system partition.
    pub fn is_primary_partition(&self) -> bool {
        self.partition()
            .is_some_and(|p| p.part_type == PartType::PRIM_SYS)
    }

    /// Signature metadata, for signatures.
    pub fn signature(&self) -> Option<SignatureMeta> {
        (self.data_type == DataType::SIGNATURE).then(|| SignatureMeta {
            hash_type: HashType(raw::get_i32(&self.extra, 0)),
            entity: raw::bytes(&self.extra, 4),
        })
    }

    /// Crypto message metadata, for crypto messages.
    pub fn crypto_message(&self) -> Option<CryptoMessageMeta> {
        (self.data_type == DataType::CRYPTO_MESSAGE).then(|| CryptoMessageMeta {
            format: FormatType(raw::get_i32(&self.extra, 0)),
            message: MessageType(raw::get_i32(&self.extra, 4)),
        })
    }

    /// SBOM format, for SBOM objects.
    pub fn sbom_format(&self) -> Option<SbomFormat> {
        (self.data_type == DataType::SBOM).then(|| SbomFormat(raw::get_i32(&self.extra, 0)))
    }

    /// Digest string (`sha256:…`), for OCI blob and root index objects.
    pub fn oci_digest(&self) -> Option<String> {
        let oci = [DataType::OCI_BLOB, DataType::OCI_ROOT_INDEX].contains(&self.data_type);
        oci.then(|| raw::trim_nul(&self.extra))
    }
}

/// Encodings of the type-specific metadata for new objects.
pub mod extra {
    use super::*;

    /// Partition extra.
    pub fn partition(meta: PartitionMeta) -> Vec<u8> {
        let mut v = Vec::with_capacity(11);
        v.extend_from_slice(&meta.fs_type.0.to_le_bytes());
        v.extend_from_slice(&meta.part_type.0.to_le_bytes());
        v.extend_from_slice(&meta.arch.0);
        v
    }

    /// Signature extra; `fingerprint` is copied into the 256-byte entity field (truncated).
    pub fn signature(hash_type: HashType, fingerprint: &[u8]) -> Vec<u8> {
        let mut v = hash_type.0.to_le_bytes().to_vec();
        let n = fingerprint.len().min(256);
        v.extend_from_slice(&fingerprint[..n]);
        v
    }

    /// Crypto message extra.
    pub fn crypto_message(meta: CryptoMessageMeta) -> Vec<u8> {
        let mut v = meta.format.0.to_le_bytes().to_vec();
        v.extend_from_slice(&meta.message.0.to_le_bytes());
        v
    }

    /// SBOM extra.
    pub fn sbom(format: SbomFormat) -> Vec<u8> {
        format.0.to_le_bytes().to_vec()
    }

    /// OCI blob / root index extra (`sha256:<hex>`).
    pub fn oci_digest(digest: &str) -> Vec<u8> {
        digest.as_bytes().to_vec()
    }
}
