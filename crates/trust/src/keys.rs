// SPDX-License-Identifier: Apache-2.0
//! Non-PGP keys for DSSE signatures (spec §8.2): Ed25519 (pure), RSA PKCS#1 v1.5 with
//! SHA-256 and ECDSA P-256 with SHA-256 (ASN.1 DER signatures), as the Apptainer CLI loads
//! them. Public keys come from SPKI (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`) PEM, private
//! keys from PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use sha2::{Digest as _, Sha256};

use crate::pem::{self, PemError};

/// Smallest RSA modulus accepted for signing or verification.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (bounds verification cost).
pub const MAX_RSA_BITS: usize = 8192;

/// Key algorithms supported for DSSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519.
    Ed25519,
    /// RSA (3072-bit when generated), PKCS#1 v1.5 signatures with SHA-256.
    Rsa,
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
}

impl KeyKind {
    /// Parses `ed25519`, `rsa`, `ecdsa-p256`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ed25519" => Some(Self::Ed25519),
            "rsa" => Some(Self::Rsa),
            "ecdsa-p256" | "ecdsa" | "p256" => Some(Self::EcdsaP256),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ed25519 => "Ed25519",
            Self::Rsa => "RSA",
            Self::EcdsaP256 => "ECDSA P-256",
        })
    }
}

/// Why a key could not be loaded, generated or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// PEM framing.
    #[error("cannot read PEM")]
    Pem(#[from] PemError),
    /// No block with a supported label.
    #[error("no supported {what} found (labels seen: {labels})")]
    NoKey {
        /// `public key` or `private key`.
        what: &'static str,
        /// Labels present.
        labels: String,
    },
    /// The DER inside a block does not decode as a supported key.
    #[error("unsupported or malformed {label} (Ed25519, RSA and ECDSA P-256 are supported)")]
    Malformed {
        /// PEM label.
        label: String,
    },
    /// RSA modulus outside the accepted range.
    #[error("RSA key of {bits} bits outside {MIN_RSA_BITS}..={MAX_RSA_BITS}")]
    RsaSize {
        /// Modulus size.
        bits: usize,
    },
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    Generate(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A public key that verifies DSSE signatures.
#[derive(Clone)]
pub enum PublicKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA.
    Rsa(rsa::PublicKey),
    /// ECDSA P-256.
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.kind(), self.key_id())
    }
}

impl PublicKey {
    /// The first public key in a PEM text.
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let blocks = pem::parse(text)?;
        for b in &blocks {
            let key = match b.label.as_str() {
                "PUBLIC KEY" => Self::from_spki_der(&b.der),
                "RSA PUBLIC KEY" => rsa::PublicKey::from_pkcs1_der(&b.der)
                    .map_err(|_| malformed(&b.label))
                    .and_then(Self::rsa),
                _ => continue,
            };
            return key;
        }
        Err(no_key("public key", &blocks))
    }

    /// A key from DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::Ed25519(k));
        }
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::EcdsaP256(k));
        }
        match rsa::PublicKey::from_public_key_der(der) {
            Ok(k) => Self::rsa(k),
            Err(_) => Err(malformed("PUBLIC KEY")),
        }
    }

    fn rsa(k: rsa::PublicKey) -> Result<Self, KeyError> {
        let bits = k.n_bits_precision() as usize;
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(KeyError::RsaSize { bits });
        }
        Ok(Self::Rsa(k))
    }

    /// Algorithm.
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Ed25519(_) => KeyKind::Ed25519,
            Self::Rsa(_) => KeyKind::Rsa,
            Self::EcdsaP256(_) => KeyKind::EcdsaP256,
        }
    }

    /// The public key in SSH wire format (RFC 4253 §6.6, RFC 5656 §3.1).
    pub fn ssh_wire(&self) -> Vec<u8> {
        let mut w = Vec::new();
        match self {
            Self::Ed25519(k) => {
                ssh_string(&mut w, b"ssh-ed25519");
                ssh_string(&mut w, k.as_bytes());
            }
            Self::Rsa(k) => {
                ssh_string(&mut w, b"ssh-rsa");
                ssh_mpint(&mut w, &k.e_bytes());
                ssh_mpint(&mut w, &k.n_bytes());
            }
            Self::EcdsaP256(k) => {
                ssh_string(&mut w, b"ecdsa-sha2-nistp256");
                ssh_string(&mut w, b"nistp256");
                ssh_string(&mut w, k.to_sec1_point(false).as_bytes());
            }
        }
        w
    }

    /// DSSE key id: `SHA256:` + unpadded base64 of SHA-256 over [`Self::ssh_wire`] (what
    /// `ssh-keygen -l` prints).
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.ssh_wire());
        format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
    }

    /// Verifies `sig` over `msg` (Ed25519 pure; RSA PKCS#1 v1.5 and ECDSA with SHA-256).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| k.verify_strict(msg, &s).is_ok()),
            Self::Rsa(k) => rsa::pkcs1v15::Signature::try_from(sig).is_ok_and(|s| {
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone())
                    .verify(msg, &s)
                    .is_ok()
            }),
            Self::EcdsaP256(k) => {
                p256::ecdsa::DerSignature::from_bytes(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
        }
    }

    /// SPKI PEM (`PUBLIC KEY`).
    pub fn to_pem(&self) -> String {
        let der = match self {
            Self::Ed25519(k) => k.to_public_key_der().map(|d| d.as_bytes().to_vec()),
            Self::Rsa(k) => k.to_public_key_der().map(|d| d.as_bytes().to_vec()),
            Self::EcdsaP256(k) => k.to_public_key_der().map(|d| d.as_bytes().to_vec()),
        };
        // Encoding a valid in-memory key cannot fail.
        pem::encode("PUBLIC KEY", &der.unwrap_or_default())
    }
}

/// A private key that makes DSSE signatures.
pub enum PrivateKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// RSA.
    Rsa(rsa::PrivateKey),
    /// ECDSA P-256.
    EcdsaP256(p256::ecdsa::SigningKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.public().key_id())
    }
}

impl PrivateKey {
    /// The first private key in a PEM text.
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let blocks = pem::parse(text)?;
        for b in &blocks {
            let key = match b.label.as_str() {
                "PRIVATE KEY" => Self::from_pkcs8_der(&b.der),
                "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(&b.der)
                    .map_err(|_| malformed(&b.label))
                    .and_then(Self::rsa),
                "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&b.der)
                    .map(|k| Self::EcdsaP256(k.into()))
                    .map_err(|_| malformed(&b.label)),
                _ => continue,
            };
            return key;
        }
        Err(no_key("private key", &blocks))
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::Ed25519(k));
        }
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::EcdsaP256(k));
        }
        match rsa::PrivateKey::from_pkcs8_der(der) {
            Ok(k) => Self::rsa(k),
            Err(_) => Err(malformed("PRIVATE KEY")),
        }
    }

    fn rsa(k: rsa::PrivateKey) -> Result<Self, KeyError> {
        PublicKey::rsa(k.to_public_key())?;
        Ok(Self::Rsa(k))
    }

    /// A new random key (RSA: 3072 bits).
    pub fn generate(kind: KeyKind) -> Result<Self, KeyError> {
        let gen_err = |e: &dyn fmt::Display| KeyError::Generate(e.to_string());
        match kind {
            KeyKind::Ed25519 => {
                let mut seed = zeroize::Zeroizing::new([0u8; 32]);
                getrandom::fill(&mut seed[..]).map_err(|e| gen_err(&e))?;
                Ok(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            KeyKind::Rsa => rsa::PrivateKey::new(&mut getrandom::SysRng, 3072)
                .map(Self::Rsa)
                .map_err(|e| gen_err(&e)),
            KeyKind::EcdsaP256 => loop {
                let mut seed = zeroize::Zeroizing::new([0u8; 32]);
                getrandom::fill(&mut seed[..]).map_err(|e| gen_err(&e))?;
                // Out-of-range scalars (probability ~2^-32) are simply drawn again.
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&seed[..]) {
                    break Ok(Self::EcdsaP256(k));
                }
            },
        }
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        match self {
            Self::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            Self::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
            Self::EcdsaP256(k) => PublicKey::EcdsaP256(*k.verifying_key()),
        }
    }

    /// Signs `msg` (deterministic for all three: Ed25519, PKCS#1 v1.5, RFC 6979 ECDSA).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Ed25519(k) => Ok(k.sign(msg).to_bytes().to_vec()),
            Self::Rsa(k) => rsa::pkcs1v15::SigningKey::<Sha256>::new(k.clone())
                .try_sign(msg)
                .map(|s| s.to_vec())
                .map_err(|e| KeyError::Sign(e.to_string())),
            Self::EcdsaP256(k) => {
                let s: p256::ecdsa::Signature =
                    k.try_sign(msg).map_err(|e| KeyError::Sign(e.to_string()))?;
                Ok(s.to_der().as_bytes().to_vec())
            }
        }
    }

    /// PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pem(&self) -> zeroize::Zeroizing<String> {
        let der = match self {
            Self::Ed25519(k) => k.to_pkcs8_der(),
            Self::Rsa(k) => k.to_pkcs8_der(),
            Self::EcdsaP256(k) => k.to_pkcs8_der(),
        };
        // Encoding a valid in-memory key cannot fail.
        let der = der.map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        zeroize::Zeroizing::new(pem::encode("PRIVATE KEY", &der))
    }
}

fn malformed(label: &str) -> KeyError {
    KeyError::Malformed {
        label: label.to_string(),
    }
}

fn no_key(what: &'static str, blocks: &[pem::PemBlock]) -> KeyError {
    let labels: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
    KeyError::NoKey {
        what,
        labels: labels.join(", "),
    }
}

fn ssh_string(w: &mut Vec<u8>, s: &[u8]) {
    // Key material is far below 4 GiB.
    w.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    w.extend_from_slice(s);
}

fn ssh_mpint(w: &mut Vec<u8>, be: &[u8]) {
    let trimmed: &[u8] = {
        let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
        &be[start..]
    };
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v = Vec::with_capacity(trimmed.len() + 1);
        v.push(0);
        v.extend_from_slice(trimmed);
        ssh_string(w, &v);
    } else {
        ssh_string(w, trimmed);
    }
}
