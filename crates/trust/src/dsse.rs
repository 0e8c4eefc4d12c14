// SPDX-License-Identifier: Apache-2.0
//! DSSE envelopes (spec §8.2): parse, PAE, sign and verify with a threshold of one.
//!
//! Written as Apptainer writes them: compact JSON `payloadType`, `payload`, `signatures`
//! (`keyid`, `sig`), standard padded base64, and a trailing `\n` (Go's `json.Encoder`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyError, PrivateKey, PublicKey};

/// Payload type of SIF metadata envelopes.
pub const PAYLOAD_TYPE: &str = "application/vnd.sylabs.sif-metadata+json";
/// Most signatures looked at in one envelope.
pub const MAX_SIGNATURES: usize = 64;

/// A decoded envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `payloadType`.
    pub payload_type: String,
    /// Decoded payload bytes.
    pub payload: Vec<u8>,
    /// `(keyid, decoded signature)` pairs.
    pub signatures: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize, Deserialize)]
struct RawEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<RawSignature>,
}

#[derive(Serialize, Deserialize)]
struct RawSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// Why an envelope was rejected.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    /// Not an envelope.
    #[error("malformed DSSE envelope")]
    Malformed,
    /// Base64 that decodes neither as standard nor URL-safe.
    #[error("invalid base64 in DSSE envelope")]
    Base64,
    /// Other payload type.
    #[error("unexpected payload type {0:?}")]
    PayloadType(String),
    /// No signatures, or too many.
    #[error("envelope has {0} signatures")]
    SignatureCount(usize),
    /// None of the supplied keys verified any signature.
    #[error("no supplied key verified the envelope ({keys} keys tried)")]
    NoValidSignature {
        /// Number of keys supplied.
        keys: usize,
    },
    /// Signing failed.
    #[error("cannot sign envelope")]
    Sign(#[from] KeyError),
}

fn b64_decode(s: &str) -> Result<Vec<u8>, DsseError> {
    STANDARD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .map_err(|_| DsseError::Base64)
}

/// True when `bytes` is a JSON object whose `payloadType` is [`PAYLOAD_TYPE`] (the format
/// detection of spec §8: such data is DSSE, whatever else is wrong with it).
pub fn is_sif_envelope(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "payloadType")]
        payload_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes)
        .is_ok_and(|p| p.payload_type.as_deref() == Some(PAYLOAD_TYPE))
}

/// Parses an envelope (trailing whitespace tolerated).
pub fn parse(bytes: &[u8]) -> Result<Envelope, DsseError> {
    let raw: RawEnvelope = serde_json::from_slice(bytes).map_err(|_| DsseError::Malformed)?;
    if raw.signatures.is_empty() || raw.signatures.len() > MAX_SIGNATURES {
        return Err(DsseError::SignatureCount(raw.signatures.len()));
    }
    let signatures = raw
        .signatures
        .into_iter()
        .map(|s| Ok((s.keyid, b64_decode(&s.sig)?)))
        .collect::<Result<_, DsseError>>()?;
    Ok(Envelope {
        payload_type: raw.payload_type,
        payload: b64_decode(&raw.payload)?,
        signatures,
    })
}

/// Pre-authentication encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// Signs `payload` with every key, in order; returns the envelope bytes with Apptainer's
/// trailing newline.
pub fn sign(payload: &[u8], keys: &[PrivateKey]) -> Result<Vec<u8>, DsseError> {
    let msg = pae(PAYLOAD_TYPE, payload);
    let signatures = keys
        .iter()
        .map(|k| {
            Ok(RawSignature {
                keyid: k.public().key_id(),
                sig: STANDARD.encode(k.sign(&msg)?),
            })
        })
        .collect::<Result<_, DsseError>>()?;
    let raw = RawEnvelope {
        payload_type: PAYLOAD_TYPE.to_string(),
        payload: STANDARD.encode(payload),
        signatures,
    };
    // Serialising strings cannot fail.
    let mut out = serde_json::to_vec(&raw).unwrap_or_default();
    out.push(b'\n');
    Ok(out)
}

/// Verifies `env` with `keys` (threshold 1): a (signature, key) pair is skipped when both key
/// ids are non-empty and differ; each key is accepted at most once. Returns the indices of
/// the accepted keys.
pub fn verify(env: &Envelope, keys: &[PublicKey]) -> Result<Vec<usize>, DsseError> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(DsseError::PayloadType(env.payload_type.clone()));
    }
    let msg = pae(&env.payload_type, &env.payload);
    let ids: Vec<String> = keys.iter().map(PublicKey::key_id).collect();
    let mut accepted = Vec::new();
    for (keyid, sig) in &env.signatures {
        for (i, key) in keys.iter().enumerate() {
            if accepted.contains(&i) || (!keyid.is_empty() && *keyid != ids[i]) {
                continue;
            }
            if key.verify(&msg, sig) {
                accepted.push(i);
                break;
            }
        }
    }
    if accepted.is_empty() {
        return Err(DsseError::NoValidSignature { keys: keys.len() });
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn detection_and_parse_errors() {
        assert!(is_sif_envelope(
            br#"{"payloadType":"application/vnd.sylabs.sif-metadata+json"}"#
        ));
        assert!(!is_sif_envelope(br#"{"payloadType":"text/plain"}"#));
        assert!(!is_sif_envelope(b"-----BEGIN PGP SIGNED MESSAGE-----"));
        let no_sigs = br#"{"payloadType":"x","payload":"","signatures":[]}"#;
        assert!(matches!(parse(no_sigs), Err(DsseError::SignatureCount(0))));
        let bad = br#"{"payloadType":"x","payload":"%%","signatures":[{"sig":""}]}"#;
        assert!(matches!(parse(bad), Err(DsseError::Base64)));
    }
}
