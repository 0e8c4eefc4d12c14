// SPDX-License-Identifier: Apache-2.0
//! Signing (spec §8): one signature object per group — no group, linked to the group,
//! hash type SHA-256, entity = the PGP primary fingerprint (zero for DSSE) — holding the
//! group's metadata document, PGP clear-signed or in a DSSE envelope, exactly as Apptainer's
//! signer writes it.

use std::collections::BTreeMap;
use std::fs::File;
use std::time::SystemTime;

use openpgp::crypto::KeyPair;
use sequoia_openpgp as openpgp;
use stockade_sif::{
    DataType, HashAlg, HashType, ImageMetadata, Link, ObjectInput, SifError, SifImage, TimeMode,
};

use crate::dsse::{self, DsseError};
use crate::keys::PrivateKey;
use crate::pgp::clearsign;

/// Key material to sign with.
#[allow(clippy::large_enum_variant, reason = "one value per sign operation")]
pub enum SigningKeys {
    /// An unlocked OpenPGP signing key and the certificate's primary fingerprint.
    Pgp {
        /// The signing key.
        keypair: KeyPair,
        /// Primary key fingerprint (the descriptor's entity).
        primary_fingerprint: Vec<u8>,
    },
    /// DSSE keys; every key signs each envelope, in order.
    Dsse(Vec<PrivateKey>),
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pgp { keypair, .. } => write!(f, "Pgp({})", keypair.public().fingerprint()),
            Self::Dsse(keys) => write!(f, "Dsse({keys:?})"),
        }
    }
}

/// What to sign.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SignSelection {
    /// One signature per group (the default, also `--all`).
    #[default]
    AllGroups,
    /// One group.
    Group(u32),
    /// These objects: one signature per group they belong to, covering only them.
    Objects(Vec<u32>),
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The image has no groups to sign.
    #[error("{0}: no object groups to sign")]
    NoGroups(String),
    /// A requested group has no objects.
    #[error("{path}: object group {group} not found")]
    GroupNotFound {
        /// Image.
        path: String,
        /// Group.
        group: u32,
    },
    /// A requested object is not in any group.
    #[error("{path}: object {id} is not in an object group")]
    Ungrouped {
        /// Image.
        path: String,
        /// Object.
        id: u32,
    },
    /// Reading or writing the image.
    #[error("image")]
    Sif(#[from] SifError),
    /// PGP signing.
    #[error("OpenPGP signing failed: {0}")]
    Pgp(String),
    /// DSSE signing.
    #[error("DSSE signing failed")]
    Dsse(#[from] DsseError),
}

/// (group, object subset) pairs to sign.
type Plan = Vec<(u32, Option<Vec<u32>>)>;

/// The (group, object subset) pairs `sel` asks for.
fn plan(img: &SifImage<File>, sel: &SignSelection) -> Result<Plan, SignError> {
    let path = img.path().display().to_string();
    let groups = img.groups();
    match sel {
        SignSelection::AllGroups if groups.is_empty() => Err(SignError::NoGroups(path)),
        SignSelection::AllGroups => Ok(groups.into_iter().map(|g| (g, None)).collect()),
        SignSelection::Group(g) if groups.contains(g) => Ok(vec![(*g, None)]),
        SignSelection::Group(g) => Err(SignError::GroupNotFound { path, group: *g }),
        SignSelection::Objects(ids) => {
            let mut by_group: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for id in ids {
                let d = img.descriptor(*id)?;
                let g = d.group().ok_or(SignError::Ungrouped {
                    path: path.clone(),
                    id: *id,
                })?;
                by_group.entry(g).or_default().push(*id);
            }
            Ok(by_group
                .into_iter()
                .map(|(g, ids)| (g, Some(ids)))
                .collect())
        }
    }
}

/// Signs `img` (opened read-write) as `sel` says; returns the new signature object ids.
pub fn sign_image(
    img: &mut SifImage<File>,
    keys: &mut SigningKeys,
    sel: &SignSelection,
    time: SystemTime,
) -> Result<Vec<u32>, SignError> {
    let plan = plan(img, sel)?;
    let mut added = Vec::new();
    for (group, ids) in plan {
        let md = img.image_metadata(group, ids.as_deref(), HashAlg::Sha256)?;
        let (data, fingerprint) = encode(&md, keys, time)?;
        let input = ObjectInput::from_bytes(DataType::SIGNATURE, data)
            .group(None)
            .link(Link::Group(group))
            .signature(HashType::SHA256, &fingerprint);
        added.push(img.add_object(input, TimeMode::Auto)?);
    }
    Ok(added)
}

/// The signature object data and the descriptor entity for `md`.
pub fn encode(
    md: &ImageMetadata,
    keys: &mut SigningKeys,
    time: SystemTime,
) -> Result<(Vec<u8>, Vec<u8>), SignError> {
    let json = md.to_json();
    match keys {
        SigningKeys::Pgp {
            keypair,
            primary_fingerprint,
        } => {
            let data =
                clearsign::sign(&json, keypair, time).map_err(|e| SignError::Pgp(e.to_string()))?;
            Ok((data, primary_fingerprint.clone()))
        }
        SigningKeys::Dsse(keys) => Ok((dsse::sign(&json, keys)?, Vec::new())),
    }
}
