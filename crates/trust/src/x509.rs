// SPDX-License-Identifier: Apache-2.0
//! X.509 certified keys for DSSE verification (spec §8.4): the leaf must chain through the
//! given intermediates to one of the given roots, carry the ExtKeyUsage codeSigning, and be
//! valid now; its public key then verifies DSSE signatures like a `--key`. Path building and
//! signature checks are `rustls-webpki`'s (ring algorithms).

use std::time::{Duration, SystemTime};

use rustls_pki_types::{CertificateDer, UnixTime};
use std::cell::Cell;

use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage};

use crate::keys::{KeyError, PublicKey};
use crate::pem::{self, PemError};

/// DER value of id-kp-codeSigning (1.3.6.1.5.5.7.3.3).
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// codeSigning is required of the leaf (the first certificate webpki checks); CA
/// certificates may omit the extension, but if they have one it must allow codeSigning.
struct CodeSigning {
    leaf_done: Cell<bool>,
}

impl ExtendedKeyUsageValidator for CodeSigning {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let usage = if self.leaf_done.replace(true) {
            KeyUsage::required_if_present(EKU_CODE_SIGNING)
        } else {
            KeyUsage::required(EKU_CODE_SIGNING)
        };
        usage.validate(iter)
    }
}

/// Chain signature algorithms accepted.
static ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ED25519,
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Why a certificate was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// PEM framing of the `what` file.
    #[error("cannot read {what} certificates")]
    Pem {
        /// Which input.
        what: &'static str,
        /// Cause.
        #[source]
        source: PemError,
    },
    /// No `CERTIFICATE` block.
    #[error("no certificate in {what}")]
    NoCertificate {
        /// Which input.
        what: &'static str,
    },
    /// A root is not a usable trust anchor.
    #[error("root certificate {index} is not a valid trust anchor: {reason}")]
    BadRoot {
        /// Index in the roots file.
        index: usize,
        /// webpki's reason.
        reason: String,
    },
    /// The leaf does not parse.
    #[error("leaf certificate is malformed: {0}")]
    BadLeaf(String),
    /// The chain does not verify (unknown issuer, expired, wrong usage…).
    #[error("certificate chain not valid: {0}")]
    Chain(String),
    /// The leaf key is not usable for DSSE.
    #[error("leaf public key not usable")]
    LeafKey(#[source] KeyError),
}

fn certs(text: &[u8], what: &'static str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let blocks = pem::parse(text).map_err(|source| match source {
        PemError::NoBlock => CertError::NoCertificate { what },
        source => CertError::Pem { what, source },
    })?;
    let certs: Vec<_> = blocks
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.der))
        .collect();
    if certs.is_empty() {
        return Err(CertError::NoCertificate { what });
    }
    Ok(certs)
}

/// Verifies the leaf (first certificate of `leaf_pem`) against `roots_pem` through
/// `intermediates_pem` at `now`, requiring codeSigning; returns the leaf's public key.
pub fn verify_leaf(
    leaf_pem: &[u8],
    intermediates_pem: Option<&[u8]>,
    roots_pem: &[u8],
    now: SystemTime,
) -> Result<PublicKey, CertError> {
    let leaf = certs(leaf_pem, "leaf")?.swap_remove(0);
    let intermediates = match intermediates_pem {
        Some(t) => certs(t, "intermediate")?,
        None => Vec::new(),
    };
    let roots = certs(roots_pem, "root")?;
    let anchors = roots
        .iter()
        .enumerate()
        .map(|(index, c)| {
            webpki::anchor_from_trusted_cert(c).map_err(|e| CertError::BadRoot {
                index,
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ee = EndEntityCert::try_from(&leaf).map_err(|e| CertError::BadLeaf(e.to_string()))?;
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    ee.verify_for_usage(
        ALGORITHMS,
        &anchors,
        &intermediates,
        UnixTime::since_unix_epoch(secs),
        &CodeSigning {
            leaf_done: Cell::new(false),
        },
        None,
        None,
    )
    .map_err(|e| CertError::Chain(e.to_string()))?;
    PublicKey::from_spki_der(ee.subject_public_key_info().as_ref()).map_err(CertError::LeafKey)
}
