// SPDX-License-Identifier: Apache-2.0
//! A small, bounded PEM reader and writer (RFC 7468 textual encoding): the first blocks of a
//! key or certificate file, with their labels. Encrypted legacy PEM (`Proc-Type`) is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Largest PEM file read (keys and certificate bundles are a few KiB).
pub const MAX_PEM_BYTES: usize = 1 << 20;
/// Most blocks taken from one file.
pub const MAX_PEM_BLOCKS: usize = 64;

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemBlock {
    /// The label (`PUBLIC KEY`, `CERTIFICATE`…).
    pub label: String,
    /// The DER bytes.
    pub der: Vec<u8>,
}

/// Why a PEM text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// Larger than [`MAX_PEM_BYTES`].
    #[error("PEM data too large ({len} bytes, limit {MAX_PEM_BYTES})")]
    TooLarge {
        /// Length.
        len: usize,
    },
    /// No block at all.
    #[error("no PEM block found")]
    NoBlock,
    /// A block without its END line, or with another label.
    #[error("PEM block {label:?} not terminated")]
    Unterminated {
        /// Label.
        label: String,
    },
    /// Base64 body not decodable.
    #[error("PEM block {label:?} has invalid base64")]
    Base64 {
        /// Label.
        label: String,
    },
    /// Legacy encrypted PEM.
    #[error("encrypted PEM keys are not supported")]
    Encrypted,
    /// More than [`MAX_PEM_BLOCKS`] blocks.
    #[error("more than {MAX_PEM_BLOCKS} PEM blocks")]
    TooManyBlocks,
}

/// Decodes every PEM block of `text` (text outside blocks is ignored, as Go's `pem.Decode`).
pub fn parse(text: &[u8]) -> Result<Vec<PemBlock>, PemError> {
    if text.len() > MAX_PEM_BYTES {
        return Err(PemError::TooLarge { len: text.len() });
    }
    let text = String::from_utf8_lossy(text);
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        if blocks.len() == MAX_PEM_BLOCKS {
            return Err(PemError::TooManyBlocks);
        }
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut done = false;
        for l in lines.by_ref() {
            if l == end {
                done = true;
                break;
            }
            if l.starts_with("Proc-Type:") || l.starts_with("DEK-Info:") {
                return Err(PemError::Encrypted);
            }
            body.push_str(l);
        }
        let label = label.to_string();
        if !done {
            return Err(PemError::Unterminated { label });
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::Base64 {
                label: label.clone(),
            })?;
        blocks.push(PemBlock { label, der });
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

/// Encodes `der` as a PEM block with 64-column lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let text = encode("PUBLIC KEY", &[1, 2, 3, 250]);
        let blocks = parse(format!("junk\n{text}\n{text}").as_bytes()).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "PUBLIC KEY");
        assert_eq!(blocks[0].der, vec![1, 2, 3, 250]);
        assert_eq!(parse(b"nothing"), Err(PemError::NoBlock));
        assert!(matches!(
            parse(b"-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated { .. })
        ));
        assert!(matches!(
            parse(b"-----BEGIN X-----\n!!!\n-----END X-----\n"),
            Err(PemError::Base64 { .. })
        ));
        assert_eq!(
            parse(b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n-----END RSA PRIVATE KEY-----\n"),
            Err(PemError::Encrypted)
        );
    }
}
