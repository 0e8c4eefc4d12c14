// SPDX-License-Identifier: Apache-2.0
//! Key derivation for keyslots: PBKDF2 (sha1/sha256/sha512) and Argon2i/Argon2id (v1.3, no
//! secret, no associated data, `cpus` lanes), as LUKS2 names them in `keyslots.*.kdf`.
//!
//! Parameters come from untrusted headers, so they are bounded here: a crafted image must not
//! make us allocate more than cryptsetup itself would (4 GiB) or spin for days.

use crate::hash::HashAlg;
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

/// Largest PBKDF2 iteration count accepted (cryptsetup's 2 s benchmark gives a few million).
pub const MAX_PBKDF2_ITERATIONS: u32 = 100_000_000;
/// Largest Argon2 memory cost in KiB: cryptsetup's own ceiling (4 GiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 4 * 1024 * 1024;
/// Largest Argon2 time cost (passes) accepted.
pub const MAX_ARGON2_TIME: u32 = 1000;
/// Largest Argon2 lane count (`cpus`) accepted.
pub const MAX_ARGON2_LANES: u32 = 64;
/// Salt length bounds in bytes (cryptsetup writes 32).
pub const SALT_LEN: std::ops::RangeInclusive<usize> = 8..=256;

/// Why a key derivation could not run.
#[derive(Debug, thiserror::Error)]
pub enum KdfError {
    /// A parameter is outside the accepted bounds.
    #[error("kdf parameter {param} = {value} out of range")]
    OutOfRange {
        /// Parameter name as in the metadata.
        param: &'static str,
        /// Offending value.
        value: u64,
    },
    /// The Argon2 implementation refused the parameters (or memory could not be allocated).
    #[error("argon2 failed")]
    Argon2(#[source] argon2::Error),
}

/// Argon2 flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argon2Variant {
    /// `argon2i`.
    I,
    /// `argon2id` (cryptsetup's default).
    Id,
}

/// A keyslot KDF with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kdf {
    /// `pbkdf2`.
    Pbkdf2 {
        /// HMAC hash.
        hash: HashAlg,
        /// Iteration count.
        iterations: u32,
        /// Salt.
        salt: Vec<u8>,
    },
    /// `argon2i` / `argon2id`.
    Argon2 {
        /// Flavour.
        variant: Argon2Variant,
        /// Passes (`time`).
        time: u32,
        /// Memory in KiB (`memory`).
        memory_kib: u32,
        /// Lanes (`cpus`).
        lanes: u32,
        /// Salt.
        salt: Vec<u8>,
    },
}

fn check(param: &'static str, value: u64, lo: u64, hi: u64) -> Result<(), KdfError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(KdfError::OutOfRange { param, value })
    }
}

impl Kdf {
    /// The metadata `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Pbkdf2 { .. } => "pbkdf2",
            Self::Argon2 {
                variant: Argon2Variant::I,
                ..
            } => "argon2i",
            Self::Argon2 {
                variant: Argon2Variant::Id,
                ..
            } => "argon2id",
        }
    }

    /// Checks every parameter against the bounds above.
    pub fn validate(&self) -> Result<(), KdfError> {
        let salt_len = |s: &Vec<u8>| s.len() as u64;
        let (lo, hi) = (*SALT_LEN.start() as u64, *SALT_LEN.end() as u64);
        match self {
            Self::Pbkdf2 {
                iterations, salt, ..
            } => {
                check(
                    "iterations",
                    (*iterations).into(),
                    1,
                    MAX_PBKDF2_ITERATIONS.into(),
                )?;
                check("salt length", salt_len(salt), lo, hi)
            }
            Self::Argon2 {
                time,
                memory_kib,
                lanes,
                salt,
                ..
            } => {
                check("time", (*time).into(), 1, MAX_ARGON2_TIME.into())?;
                check("cpus", (*lanes).into(), 1, MAX_ARGON2_LANES.into())?;
                let min_mem = 8 * u64::from(*lanes);
                check(
                    "memory",
                    (*memory_kib).into(),
                    min_mem,
                    MAX_ARGON2_MEMORY_KIB.into(),
                )?;
                check("salt length", salt_len(salt), lo, hi)
            }
        }
    }

    /// Derives `out_len` bytes from `secret` (the passphrase or key file contents).
    pub fn derive(&self, secret: &[u8], out_len: usize) -> Result<Zeroizing<Vec<u8>>, KdfError> {
        self.validate()?;
        let mut out = Zeroizing::new(vec![0u8; out_len]);
        match self {
            Self::Pbkdf2 {
                hash,
                iterations,
                salt,
            } => hash.pbkdf2(secret, salt, *iterations, &mut out),
            Self::Argon2 {
                variant,
                time,
                memory_kib,
                lanes,
                salt,
            } => {
                let alg = match variant {
                    Argon2Variant::I => Algorithm::Argon2i,
                    Argon2Variant::Id => Algorithm::Argon2id,
                };
                let params = Params::new(*memory_kib, *time, *lanes, Some(out_len))
                    .map_err(KdfError::Argon2)?;
                Argon2::new(alg, Version::V0x13, params)
                    .hash_password_into(secret, salt, &mut out)
                    .map_err(KdfError::Argon2)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_is_deterministic_and_sensitive_to_input_and_variant() {
        let k = Kdf::Argon2 {
            variant: Argon2Variant::Id,
            time: 1,
            memory_kib: 64,
            lanes: 2,
            salt: vec![1; 16],
        };
        let a = k.derive(b"pw", 32).expect("valid params");
        let b = k.derive(b"pw", 32).expect("valid params");
        let c = k.derive(b"pX", 32).expect("valid params");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let ki = Kdf::Argon2 {
            variant: Argon2Variant::I,
            time: 1,
            memory_kib: 64,
            lanes: 2,
            salt: vec![1; 16],
        };
        assert_ne!(ki.derive(b"pw", 32).expect("valid params"), a);
    }

    #[test]
    fn absurd_parameters_are_refused_before_any_work() {
        let big = Kdf::Argon2 {
            variant: Argon2Variant::Id,
            time: 4,
            memory_kib: u32::MAX,
            lanes: 4,
            salt: vec![0; 32],
        };
        assert!(matches!(
            big.derive(b"x", 64),
            Err(KdfError::OutOfRange {
                param: "memory",
                ..
            })
        ));
        let slow = Kdf::Pbkdf2 {
            hash: HashAlg::Sha256,
            iterations: u32::MAX,
            salt: vec![0; 32],
        };
        assert!(matches!(
            slow.derive(b"x", 64),
            Err(KdfError::OutOfRange {
                param: "iterations",
                ..
            })
        ));
        let nosalt = Kdf::Pbkdf2 {
            hash: HashAlg::Sha256,
            iterations: 1000,
            salt: vec![],
        };
        assert!(nosalt.derive(b"x", 64).is_err());
        let lanes = Kdf::Argon2 {
            variant: Argon2Variant::Id,
            time: 1,
            memory_kib: 16,
            lanes: 4,
            salt: vec![0; 32],
        };
        assert!(lanes.derive(b"x", 64).is_err());
    }
}
