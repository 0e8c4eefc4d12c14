// SPDX-License-Identifier: Apache-2.0
//! Unlocking one keyslot: derive the area key from the passphrase with the slot's KDF, read
//! and decrypt the slot's area (512-byte sectors, IV 0 at the area start), merge the
//! anti-forensic stripes into a candidate volume key, and accept it only if a PBKDF2 digest
//! bound to this slot *and* to the data segment matches.

use crate::af;
use crate::cipher::{CipherError, SectorCipher};
use crate::hash::ct_eq;
use crate::header::ReadAt;
use crate::kdf::KdfError;
use crate::metadata::{Keyslot, Metadata};
use zeroize::Zeroizing;

const AREA_SECTOR: usize = 512;

/// A keyslot that could not be tried (distinct from "the passphrase does not match it").
#[derive(Debug, thiserror::Error)]
pub enum KeyslotError {
    /// Reading the keyslot area failed.
    #[error("cannot read keyslot {id} area")]
    Read {
        /// Keyslot id.
        id: u32,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The KDF could not run.
    #[error("keyslot {id}: key derivation failed")]
    Kdf {
        /// Keyslot id.
        id: u32,
        /// The KDF failure.
        #[source]
        source: KdfError,
    },
    /// The area cipher could not be keyed.
    #[error("keyslot {id}: area cipher")]
    Cipher {
        /// Keyslot id.
        id: u32,
        /// The cipher failure.
        #[source]
        source: CipherError,
    },
    /// The stripes do not fit the area (caught by validation; defensive).
    #[error("keyslot {id}: anti-forensic material does not fit its area")]
    Material {
        /// Keyslot id.
        id: u32,
    },
}

/// Keyslots to try, in cryptsetup's order: high priority first, then normal; priority 0
/// ("ignore") and slots no digest binds to the data segment are skipped.
pub fn candidates(meta: &Metadata) -> Vec<&Keyslot> {
    let seg = meta.segment.id;
    let bound = |k: &&Keyslot| {
        meta.digests
            .iter()
            .any(|d| d.keyslots.contains(&k.id) && d.segments.contains(&seg))
    };
    let mut v: Vec<&Keyslot> = meta
        .keyslots
        .iter()
        .filter(|k| k.priority > 0)
        .filter(bound)
        .collect();
    v.sort_by_key(|k| (std::cmp::Reverse(k.priority), k.id));
    v
}

/// Tries `secret` on keyslot `k`: `Ok(Some(volume key))` on a match, `Ok(None)` if it does
/// not match.
pub fn try_keyslot<R: ReadAt + ?Sized>(
    src: &R,
    meta: &Metadata,
    k: &Keyslot,
    secret: &[u8],
) -> Result<Option<Zeroizing<Vec<u8>>>, KeyslotError> {
    let id = k.id;
    let split_len = k.key_size * k.stripes as usize;
    let read_len = split_len.div_ceil(AREA_SECTOR) * AREA_SECTOR;
    if read_len as u64 > k.area_size {
        return Err(KeyslotError::Material { id });
    }
    let area_key = k
        .kdf
        .derive(secret, k.area_key_size)
        .map_err(|source| KeyslotError::Kdf { id, source })?;
    let cipher = SectorCipher::new(k.area_cipher, &area_key)
        .map_err(|source| KeyslotError::Cipher { id, source })?;
    let mut material = Zeroizing::new(vec![0u8; read_len]);
    src.read_exact_at(&mut material, k.area_offset)
        .map_err(|source| KeyslotError::Read { id, source })?;
    cipher.decrypt_sectors(0, 1, AREA_SECTOR, &mut material);
    let key = af::merge(&material, k.key_size, k.stripes as usize, k.af_hash)
        .ok_or(KeyslotError::Material { id })?;
    let seg = meta.segment.id;
    for d in meta
        .digests
        .iter()
        .filter(|d| d.keyslots.contains(&id) && d.segments.contains(&seg))
    {
        let mut check = Zeroizing::new(vec![0u8; d.digest.len()]);
        d.hash.pbkdf2(&key, &d.salt, d.iterations, &mut check);
        if ct_eq(&check, &d.digest) {
            return Ok(Some(key));
        }
    }
    Ok(None)
}
