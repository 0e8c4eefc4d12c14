// SPDX-License-Identifier: Apache-2.0
//! Digests as the SIF metadata document writes them: `alg:hex` with the six SHA-2 variants
//! the reference library supports (sha2 from RustCrypto: SHA-NI where the CPU has it).

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use crate::raw;
use crate::types::HashType;

/// Hash algorithms allowed in metadata digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HashAlg {
    /// SHA-224.
    Sha224,
    /// SHA-256 (the default).
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA-512/224.
    Sha512_224,
    /// SHA-512/256.
    Sha512_256,
}

const ALL: [HashAlg; 6] = [
    HashAlg::Sha224,
    HashAlg::Sha256,
    HashAlg::Sha384,
    HashAlg::Sha512,
    HashAlg::Sha512_224,
    HashAlg::Sha512_256,
];

impl HashAlg {
    /// Name used in digest strings (`sha256`, `sha512_224`…).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Sha512_224 => "sha512_224",
            Self::Sha512_256 => "sha512_256",
        }
    }

    /// The algorithm with this digest-string name.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|a| a.name() == name)
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha224 | Self::Sha512_224 => 28,
            Self::Sha256 | Self::Sha512_256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The algorithm of a descriptor hash type (SHA-256/384/512 only; BLAKE2 is not offered).
    pub fn from_hash_type(t: HashType) -> Option<Self> {
        match t {
            HashType::SHA256 => Some(Self::Sha256),
            HashType::SHA384 => Some(Self::Sha384),
            HashType::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// A streaming hasher.
    pub fn hasher(self) -> Hasher {
        Hasher(match self {
            Self::Sha224 => Inner::Sha224(sha2::Sha224::new()),
            Self::Sha256 => Inner::Sha256(sha2::Sha256::new()),
            Self::Sha384 => Inner::Sha384(sha2::Sha384::new()),
            Self::Sha512 => Inner::Sha512(sha2::Sha512::new()),
            Self::Sha512_224 => Inner::Sha512_224(sha2::Sha512_224::new()),
            Self::Sha512_256 => Inner::Sha512_256(sha2::Sha512_256::new()),
        })
    }

    /// Digest of `data`.
    pub fn digest(self, data: &[u8]) -> Digest {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }
}

#[derive(Clone, Debug)]
enum Inner {
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Sha512_224(sha2::Sha512_224),
    Sha512_256(sha2::Sha512_256),
}

/// Streaming hasher for one [`HashAlg`].
#[derive(Clone, Debug)]
pub struct Hasher(Inner);

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Sha224(h) => h.update(data),
            Inner::Sha256(h) => h.update(data),
            Inner::Sha384(h) => h.update(data),
            Inner::Sha512(h) => h.update(data),
            Inner::Sha512_224(h) => h.update(data),
            Inner::Sha512_256(h) => h.update(data),
        }
    }

    /// The digest of everything fed.
    pub fn finalize(self) -> Digest {
        let (alg, value) = match self.0 {
            Inner::Sha224(h) => (HashAlg::Sha224, h.finalize().to_vec()),
            Inner::Sha256(h) => (HashAlg::Sha256, h.finalize().to_vec()),
            Inner::Sha384(h) => (HashAlg::Sha384, h.finalize().to_vec()),
            Inner::Sha512(h) => (HashAlg::Sha512, h.finalize().to_vec()),
            Inner::Sha512_224(h) => (HashAlg::Sha512_224, h.finalize().to_vec()),
            Inner::Sha512_256(h) => (HashAlg::Sha512_256, h.finalize().to_vec()),
        };
        Digest { alg, value }
    }
}

/// A digest value with its algorithm; text form `alg:lowercase-hex`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    alg: HashAlg,
    value: Vec<u8>,
}

impl Digest {
    /// A digest from parts; `None` when the length does not match the algorithm.
    pub fn new(alg: HashAlg, value: Vec<u8>) -> Option<Self> {
        (value.len() == alg.output_len()).then_some(Self { alg, value })
    }

    /// Algorithm.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Raw digest bytes.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Lower-case hex of the value.
    pub fn hex(&self) -> String {
        raw::hex(&self.value)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.alg.name(), self.hex())
    }
}

/// Why a digest string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// Not `alg:hex`.
    #[error("digest malformed: {0:?}")]
    Malformed(String),
    /// Unknown algorithm name.
    #[error("digest algorithm {0:?} unsupported")]
    Unsupported(String),
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || DigestParseError::Malformed(s.chars().take(160).collect());
        let mut parts = s.split(':');
        let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed());
        };
        let value = raw::unhex(value).ok_or_else(malformed)?;
        let alg = HashAlg::from_name(name)
            .ok_or_else(|| DigestParseError::Unsupported(name.chars().take(40).collect()))?;
        Self::new(alg, value).ok_or_else(malformed)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_strings() {
        let d = HashAlg::Sha256.digest(b"blah");
        assert_eq!(
            d.to_string(),
            "sha256:8b7df143d91c716ecfa5fc1730022f6b421b05cedee8fd52b1fc65a96030ad52"
        );
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        assert!(matches!(
            "sha256:00".parse::<Digest>(),
            Err(DigestParseError::Malformed(_))
        ));
        assert!(matches!(
            "md5:00".parse::<Digest>(),
            Err(DigestParseError::Unsupported(_))
        ));
        assert!("sha256".parse::<Digest>().is_err());
        assert!("a:b:c".parse::<Digest>().is_err());
        for alg in ALL {
            assert_eq!(alg.digest(b"").value().len(), alg.output_len());
        }
    }
}
