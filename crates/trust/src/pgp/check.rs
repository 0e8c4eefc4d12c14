// SPDX-License-Identifier: Apache-2.0
//! Checking a cleartext signature against a keyring (spec §8.1): allowed hashes only
//! (SHA-224…512), the issuing key must be known, signing-capable and valid when the signature
//! was made, and — as Apptainer does — neither expired nor revoked now.

use std::time::SystemTime;

use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::policy::{HashAlgoSecurity, Policy, StandardPolicy};
use openpgp::types::{HashAlgorithm, RevocationStatus, SignatureType};
use openpgp::{Cert, Fingerprint};
use sequoia_openpgp as openpgp;

use super::clearsign::Cleartext;
use super::keyring::Keyring;

/// Hashes a signature may use.
pub const ALLOWED_HASHES: [HashAlgorithm; 4] = [
    HashAlgorithm::SHA224,
    HashAlgorithm::SHA256,
    HashAlgorithm::SHA384,
    HashAlgorithm::SHA512,
];

/// Who made a valid signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgpSigner {
    /// Primary key fingerprint of the signer's certificate.
    pub fingerprint: Fingerprint,
    /// The signing (sub)key.
    pub signing_key: Fingerprint,
    /// Primary user id, when valid.
    pub user_id: Option<String>,
}

impl PgpSigner {
    /// The 20-byte v4 fingerprint (`None` for other versions).
    pub fn fingerprint20(&self) -> Option<[u8; 20]> {
        match &self.fingerprint {
            Fingerprint::V4(b) => Some(*b),
            _ => None,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgpCheckError {
    /// No key in the keyring matches the issuer.
    #[error("signature made by unknown entity")]
    UnknownSigner,
    /// Hash outside [`ALLOWED_HASHES`].
    #[error("hash algorithm {0} not allowed")]
    HashNotAllowed(String),
    /// Not a text or binary document signature.
    #[error("unexpected signature type {0}")]
    SignatureType(String),
    /// The key is not usable (expired, revoked, not signing-capable, rejected by policy).
    #[error("signing key {key} not valid: {reason}")]
    KeyNotValid {
        /// Key fingerprint.
        key: String,
        /// Why.
        reason: String,
    },
    /// Signature expired or created in the future.
    #[error("signature not alive: {0}")]
    NotAlive(String),
    /// The cryptographic check failed.
    #[error("signature does not match the signed text (key {0})")]
    BadSignature(String),
}

/// Verifies the signatures of `ct`; the first valid one wins, otherwise the most specific
/// failure is returned.
pub fn verify_cleartext(
    ct: &Cleartext,
    keyring: &Keyring,
    now: SystemTime,
) -> Result<PgpSigner, PgpCheckError> {
    let policy = StandardPolicy::new();
    let text = ct.canonical_text();
    let mut last = PgpCheckError::UnknownSigner;
    for sig in &ct.signatures {
        match verify_one(sig, &text, keyring, &policy, now) {
            Ok(s) => return Ok(s),
            Err(e) => {
                if !(e == PgpCheckError::UnknownSigner && last != PgpCheckError::UnknownSigner) {
                    last = e;
                }
            }
        }
    }
    Err(last)
}

fn verify_one(
    sig: &openpgp::packet::Signature,
    text: &[u8],
    keyring: &Keyring,
    policy: &dyn Policy,
    now: SystemTime,
) -> Result<PgpSigner, PgpCheckError> {
    if !ALLOWED_HASHES.contains(&sig.hash_algo()) {
        return Err(PgpCheckError::HashNotAllowed(sig.hash_algo().to_string()));
    }
    if !matches!(sig.typ(), SignatureType::Text | SignatureType::Binary) {
        return Err(PgpCheckError::SignatureType(sig.typ().to_string()));
    }
    policy
        .signature(sig, HashAlgoSecurity::CollisionResistance)
        .map_err(|e| PgpCheckError::NotAlive(e.to_string()))?;
    let issuers = sig.get_issuers();
    let mut last = PgpCheckError::UnknownSigner;
    for handle in &issuers {
        for cert in keyring.certs_with_key(handle) {
            match check_with_cert(sig, text, cert, handle, policy, now) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
    }
    Err(last)
}

fn check_with_cert(
    sig: &openpgp::packet::Signature,
    text: &[u8],
    cert: &Cert,
    handle: &openpgp::KeyHandle,
    policy: &dyn Policy,
    now: SystemTime,
) -> Result<PgpSigner, PgpCheckError> {
    let invalid = |key: String, e: &dyn std::fmt::Display| PgpCheckError::KeyNotValid {
        key,
        reason: e.to_string(),
    };
    let cert_fp = cert.fingerprint().to_hex();
    // As Go's openpgp (Apptainer): the key must be valid, signing-capable, unexpired and
    // unrevoked *now*; Sequoia also checks that it predates the signature.
    let vc_now = cert
        .with_policy(policy, now)
        .map_err(|e| invalid(cert_fp.clone(), &e))?;
    vc_now.alive().map_err(|e| invalid(cert_fp.clone(), &e))?;
    if let RevocationStatus::Revoked(_) = vc_now.revocation_status() {
        return Err(invalid(cert_fp, &"revoked"));
    }
    let ka_now = vc_now
        .keys()
        .key_handle(handle.clone())
        .next()
        .ok_or_else(|| invalid(cert_fp.clone(), &"no valid key for the issuer"))?;
    let key_fp = ka_now.key().fingerprint();
    if !ka_now.for_signing() {
        return Err(invalid(key_fp.to_hex(), &"not signing-capable"));
    }
    sig.verify_message(ka_now.key(), text)
        .map_err(|_| PgpCheckError::BadSignature(key_fp.to_hex()))?;
    sig.signature_alive(now, None)
        .map_err(|e| PgpCheckError::NotAlive(e.to_string()))?;
    ka_now.alive().map_err(|e| invalid(key_fp.to_hex(), &e))?;
    if let RevocationStatus::Revoked(_) = ka_now.revocation_status() {
        return Err(invalid(key_fp.to_hex(), &"revoked"));
    }
    let user_id = vc_now
        .primary_userid()
        .ok()
        .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned());
    Ok(PgpSigner {
        fingerprint: cert.fingerprint(),
        signing_key: key_fp,
        user_id,
    })
}
