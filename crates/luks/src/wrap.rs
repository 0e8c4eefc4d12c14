// SPDX-License-Identifier: Apache-2.0
//! Key wrapping for PEM-encrypted images, byte-compatible in structure with Apptainer's
//! `cryptkey` package (SIF spec §13.1): the LUKS key is encrypted with RSA-OAEP (SHA-256 for
//! both the hash and MGF1, empty label), the ciphertext is DER-encoded as an ASN.1 OCTET
//! STRING and put in a PEM block of type `MESSAGE`.
//!
//! Keys: PKCS#1 `RSA PUBLIC KEY` / `RSA PRIVATE KEY` as Apptainer requires, and also SPKI
//! `PUBLIC KEY` / PKCS#8 `PRIVATE KEY`. Passphrase-protected PEM is refused.

use crate::pem::{self, PemError};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{PrivateKey, PublicKey};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Length of the random LUKS key of a PEM-encrypted image.
pub const RANDOM_KEY_LEN: usize = 64;

/// Why wrapping or unwrapping failed.
#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    /// The key or message is not decodable PEM.
    #[error("cannot decode PEM")]
    Pem(#[source] PemError),
    /// A passphrase-protected key.
    #[error("passphrase-protected PEM keys are not supported")]
    EncryptedPem,
    /// A PEM block of the wrong type.
    #[error("expected {expected}, found PEM block {found:?}")]
    WrongBlock {
        /// What was wanted.
        expected: &'static str,
        /// The label found.
        found: String,
    },
    /// The key DER does not parse as an RSA key.
    #[error("invalid RSA key in {0:?} block")]
    BadKey(String),
    /// RSA encryption failed (e.g. a modulus too small for the key).
    #[error("RSA-OAEP encryption failed")]
    Encrypt(#[source] rsa::Error),
    /// The message is not a DER OCTET STRING.
    #[error("MESSAGE is not a DER OCTET STRING")]
    BadMessage,
    /// Decryption failed: wrong private key or damaged message.
    #[error("cannot decrypt the image key: wrong private key or damaged message")]
    Decrypt,
    /// The OS random source failed.
    #[error("cannot get random bytes")]
    Random(#[source] getrandom::Error),
}

fn refuse_encrypted(b: &pem::Block) -> Result<(), WrapError> {
    let proc_encrypted = b
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("Proc-Type") && v.contains("ENCRYPTED"));
    if proc_encrypted || b.label == "ENCRYPTED PRIVATE KEY" {
        return Err(WrapError::EncryptedPem);
    }
    Ok(())
}

fn public_key(pem_text: &[u8]) -> Result<PublicKey, WrapError> {
    let b = pem::decode_first(pem_text).map_err(WrapError::Pem)?;
    refuse_encrypted(&b)?;
    let key = match b.label.as_str() {
        "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(&b.der).ok(),
        "PUBLIC KEY" => PublicKey::from_public_key_der(&b.der).ok(),
        _ => {
            return Err(WrapError::WrongBlock {
                expected: "an RSA public key",
                found: b.label,
            });
        }
    };
    key.ok_or(WrapError::BadKey(b.label))
}

fn private_key(pem_text: &[u8]) -> Result<PrivateKey, WrapError> {
    let b = pem::decode_first(pem_text).map_err(WrapError::Pem)?;
    refuse_encrypted(&b)?;
    let key = match b.label.as_str() {
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&b.der).ok(),
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&b.der).ok(),
        _ => {
            return Err(WrapError::WrongBlock {
                expected: "an RSA private key",
                found: b.label,
            });
        }
    };
    key.ok_or(WrapError::BadKey(b.label))
}

/// DER OCTET STRING (definite, minimal length).
fn octet_string(content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![0x04];
    if n < 0x80 {
        out.push(u8::try_from(n).expect("short form is below 0x80"));
    } else {
        let len = n.to_be_bytes();
        let skip = len.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | u8::try_from(len.len() - skip).expect("at most 8 length bytes"));
        out.extend_from_slice(&len[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Parses a DER OCTET STRING that spans all of `der`.
fn parse_octet_string(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if tag != 0x04 {
        return None;
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let k = usize::from(first & 0x7f);
        if k == 0 || k > 4 || rest.len() < k || rest[0] == 0 {
            return None;
        }
        let len = rest[..k]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        if len < 0x80 {
            return None;
        }
        (len, &rest[k..])
    };
    (rest.len() == len).then_some(rest)
}

/// A fresh random LUKS key for a PEM-encrypted image.
pub fn random_key() -> Result<Zeroizing<Vec<u8>>, WrapError> {
    let mut k = Zeroizing::new(vec![0u8; RANDOM_KEY_LEN]);
    getrandom::fill(&mut k).map_err(WrapError::Random)?;
    Ok(k)
}

/// Encrypts `key` to the RSA public key in `rsa_public_pem`; returns the `MESSAGE` PEM text
/// to store as the image's CryptoMessage.
pub fn wrap_key(rsa_public_pem: &[u8], key: &[u8]) -> Result<Vec<u8>, WrapError> {
    let pk = public_key(rsa_public_pem)?;
    let ct = pk.oaep_encrypt::<Sha256>(key).map_err(WrapError::Encrypt)?;
    Ok(pem::encode("MESSAGE", &octet_string(&ct)).into_bytes())
}

/// Recovers the key from a `MESSAGE` PEM with the RSA private key in `rsa_private_pem`.
pub fn unwrap_key(rsa_private_pem: &[u8], message: &[u8]) -> Result<Zeroizing<Vec<u8>>, WrapError> {
    let sk = private_key(rsa_private_pem)?;
    let m = pem::decode_first(message).map_err(WrapError::Pem)?;
    if m.label != "MESSAGE" {
        return Err(WrapError::WrongBlock {
            expected: "a MESSAGE block",
            found: m.label,
        });
    }
    let ct = parse_octet_string(&m.der).ok_or(WrapError::BadMessage)?;
    sk.oaep_decrypt::<Sha256>(ct)
        .map(Zeroizing::new)
        .map_err(|_| WrapError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_string_der_round_trips_and_is_strict() {
        for n in [0usize, 1, 127, 128, 255, 256, 512, 1024, 70000] {
            let c = vec![0xab; n];
            let der = octet_string(&c);
            assert_eq!(parse_octet_string(&der), Some(&c[..]), "len {n}");
        }
        assert_eq!(octet_string(&[0; 256])[..4], [0x04, 0x82, 0x01, 0x00]);
        assert!(
            parse_octet_string(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).is_none(),
            "non-minimal"
        );
        assert!(parse_octet_string(&[0x04, 0x02, 1]).is_none(), "short");
        assert!(
            parse_octet_string(&[0x04, 0x01, 1, 2]).is_none(),
            "trailing"
        );
        assert!(parse_octet_string(&[0x30, 0x01, 1]).is_none(), "tag");
        assert!(parse_octet_string(&[0x04, 0x80]).is_none(), "indefinite");
    }
}
