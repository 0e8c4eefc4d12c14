// SPDX-License-Identifier: Apache-2.0
//! Secret keys: generating an Apptainer-style key pair and unlocking a signing key.
//!
//! Apptainer (Go `openpgp.NewEntity`) makes a primary key that certifies **and signs**, plus
//! an encryption subkey, and signs SIF images with the primary key. We do the same, so the
//! descriptor's entity (primary fingerprint) is also the signing key.

use std::time::SystemTime;

use openpgp::cert::{CertBuilder, CipherSuite};
use openpgp::crypto::{KeyPair, Password};
use openpgp::policy::StandardPolicy;
use openpgp::types::KeyFlags;
use openpgp::{Cert, packet::UserID};
use sequoia_openpgp as openpgp;

/// Key algorithm of a new pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PgpKeyType {
    /// RSA 4096 (Apptainer's choice).
    #[default]
    Rsa4096,
    /// Ed25519 signing, Curve25519 encryption.
    Ed25519,
}

/// Parameters of a new key pair.
#[derive(Clone, Debug, Default)]
pub struct NewKey {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Comment (may be empty).
    pub comment: String,
    /// Passphrase protecting the secret keys (`None`: unprotected).
    pub passphrase: Option<Vec<u8>>,
    /// Algorithm.
    pub key_type: PgpKeyType,
}

impl NewKey {
    /// `Name (Comment) <email>` as Go's `packet.NewUserId` composes it.
    pub fn user_id(&self) -> String {
        let mut s = self.name.clone();
        if !self.comment.is_empty() {
            s.push_str(&format!(" ({})", self.comment));
        }
        if !self.email.is_empty() {
            s.push_str(&format!(" <{}>", self.email));
        }
        s
    }
}

/// Why a secret key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Generation failed.
    #[error("cannot generate key: {0}")]
    Generate(String),
    /// The certificate has no usable secret signing key.
    #[error("key {0} has no usable secret signing key")]
    NoSigningKey(String),
    /// The key is passphrase-protected and none was given.
    #[error("key {0} is passphrase-protected: a passphrase is required")]
    PassphraseRequired(String),
    /// The passphrase does not decrypt the key.
    #[error("wrong passphrase for key {0}")]
    WrongPassphrase(String),
    /// Sequoia failed to use the key.
    #[error("cannot use key {key}: {reason}")]
    Unusable {
        /// Fingerprint.
        key: String,
        /// Sequoia's reason.
        reason: String,
    },
}

/// Generates a key pair as described by `params`.
pub fn generate(params: &NewKey) -> Result<Cert, SecretError> {
    let suite = match params.key_type {
        PgpKeyType::Rsa4096 => CipherSuite::RSA4k,
        PgpKeyType::Ed25519 => CipherSuite::Cv25519,
    };
    let (cert, _revocation) = CertBuilder::new()
        .set_cipher_suite(suite)
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .add_userid(UserID::from(params.user_id()))
        .add_transport_encryption_subkey()
        .set_password(params.passphrase.clone().map(Password::from))
        .generate()
        .map_err(|e| SecretError::Generate(e.to_string()))?;
    Ok(cert)
}

/// The secret key `cert` signs with: the primary key when it can sign, else the first
/// signing-capable subkey; `None` if it holds no such secret key.
fn signing_key(
    cert: &Cert,
) -> Option<
    openpgp::packet::Key<openpgp::packet::key::SecretParts, openpgp::packet::key::UnspecifiedRole>,
> {
    let policy = StandardPolicy::new();
    let vc = cert.with_policy(&policy, SystemTime::now()).ok()?;
    let primary = vc.primary_key();
    if primary.for_signing() && primary.key().has_secret() {
        return primary
            .key()
            .clone()
            .role_into_unspecified()
            .parts_into_secret()
            .ok();
    }
    vc.keys()
        .subkeys()
        .for_signing()
        .alive()
        .revoked(false)
        .secret()
        .next()
        .map(|ka| ka.key().clone().role_into_unspecified())
}

/// True when the signing key of `cert` is encrypted (a passphrase is needed).
pub fn needs_passphrase(cert: &Cert) -> bool {
    signing_key(cert).is_some_and(|k| k.secret().is_encrypted())
}

/// Unlocks the signing key of `cert` with `passphrase` when it is encrypted.
pub fn signing_keypair(cert: &Cert, passphrase: Option<&[u8]>) -> Result<KeyPair, SecretError> {
    let fp = cert.fingerprint().to_hex();
    let key = signing_key(cert).ok_or_else(|| SecretError::NoSigningKey(fp.clone()))?;
    let key = if key.secret().is_encrypted() {
        let pw = passphrase.ok_or_else(|| SecretError::PassphraseRequired(fp.clone()))?;
        key.decrypt_secret(&Password::from(pw.to_vec()))
            .map_err(|_| SecretError::WrongPassphrase(fp.clone()))?
    } else {
        key
    };
    key.into_keypair().map_err(|e| SecretError::Unusable {
        key: fp,
        reason: e.to_string(),
    })
}
