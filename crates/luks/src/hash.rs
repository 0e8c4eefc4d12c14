// SPDX-License-Identifier: Apache-2.0
//! The hash functions LUKS2 names in its metadata (`"hash": "sha256"`): used by the
//! anti-forensic splitter, PBKDF2 keyslots and PBKDF2 digests.

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// A hash named in LUKS2 metadata. Only these three are accepted: they are what cryptsetup
/// has produced by default (sha256) or on request (sha1 for old LUKS1 conversions, sha512).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (LUKS1-era volumes converted to LUKS2).
    Sha1,
    /// SHA-256, cryptsetup's default.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Parses the metadata name (`sha1`, `sha256`, `sha512`); `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The metadata name of the hash.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// Hashes the concatenation of `parts` into `out` (which must be `output_len()` long).
    pub fn digest_into(self, parts: &[&[u8]], out: &mut [u8]) {
        fn run<D: Digest>(parts: &[&[u8]], out: &mut [u8]) {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            out.copy_from_slice(&h.finalize());
        }
        match self {
            Self::Sha1 => run::<Sha1>(parts, out),
            Self::Sha256 => run::<Sha256>(parts, out),
            Self::Sha512 => run::<Sha512>(parts, out),
        }
    }

    /// PBKDF2-HMAC with this hash.
    pub fn pbkdf2(self, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
        match self {
            Self::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, out),
            Self::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, out),
            Self::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, out),
        }
    }
}

/// Compares two byte strings without an early exit on the first difference.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_sha256_matches_rfc7914_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64).
        let mut out = [0u8; 64];
        HashAlg::Sha256.pbkdf2(b"passwd", b"salt", 1, &mut out);
        assert_eq!(&out[..8], &[0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]);
    }

    #[test]
    fn names_round_trip_and_unknown_is_rejected() {
        for h in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512] {
            assert_eq!(HashAlg::from_name(h.name()), Some(h));
        }
        assert_eq!(HashAlg::from_name("whirlpool"), None);
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
