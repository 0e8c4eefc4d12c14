// SPDX-License-Identifier: Apache-2.0
//! Minimal PEM (RFC 7468, plus RFC 1421 headers so encrypted legacy keys can be recognised):
//! the first `-----BEGIN X-----` block of a text, like Go's `pem.Decode`, and an encoder with
//! 64-column lines like Go's `pem.Encode`.

use base64::Engine;
use zeroize::Zeroizing;

/// Largest PEM input accepted (an 8192-bit private key is under 7 KiB).
pub const MAX_PEM: usize = 64 * 1024;

/// A PEM text that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// Larger than [`MAX_PEM`].
    #[error("PEM input larger than {MAX_PEM} bytes")]
    TooLarge,
    /// No `-----BEGIN` line.
    #[error("no PEM block found")]
    NoBlock,
    /// Missing or mismatched `-----END` line.
    #[error("PEM block {0:?} has no matching END line")]
    NoEnd(String),
    /// Body is not base64.
    #[error("PEM block {0:?} has an invalid base64 body")]
    Base64(String),
}

/// One decoded block.
#[derive(Debug)]
pub struct Block {
    /// The label after `BEGIN` (e.g. `RSA PRIVATE KEY`).
    pub label: String,
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, ...).
    pub headers: Vec<(String, String)>,
    /// The decoded body (wiped on drop: it may be a private key).
    pub der: Zeroizing<Vec<u8>>,
}

/// Decodes the first PEM block in `text`.
pub fn decode_first(text: &[u8]) -> Result<Block, PemError> {
    if text.len() > MAX_PEM {
        return Err(PemError::TooLarge);
    }
    let text = String::from_utf8_lossy(text);
    let mut lines = text.lines().map(str::trim_end);
    let label = lines
        .by_ref()
        .find_map(|l| {
            l.strip_prefix("-----BEGIN ")
                .and_then(|r| r.strip_suffix("-----"))
        })
        .ok_or(PemError::NoBlock)?
        .to_owned();
    let end = format!("-----END {label}-----");
    let mut headers = Vec::new();
    let mut body = Zeroizing::new(String::new());
    let mut in_headers = true;
    for line in lines {
        if line == end {
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|_| PemError::Base64(label.clone()))?;
            return Ok(Block {
                label,
                headers,
                der: Zeroizing::new(der),
            });
        }
        if in_headers {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
                continue;
            }
            in_headers = false;
        }
        body.push_str(line.trim());
    }
    Err(PemError::NoEnd(label))
}

/// Encodes `der` as a PEM block with 64-column lines and a trailing newline.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
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
    fn round_trip_takes_first_block_and_headers() {
        let der: Vec<u8> = (0..200u8).collect();
        let text = format!("junk\n{}{}", encode("MESSAGE", &der), encode("OTHER", b"x"));
        let b = decode_first(text.as_bytes()).expect("valid");
        assert_eq!(b.label, "MESSAGE");
        assert_eq!(&b.der[..], &der[..]);
        assert!(
            text.lines()
                .all(|l| l.len() <= 64 || l.starts_with("-----"))
        );
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let b = decode_first(legacy.as_bytes()).expect("valid");
        assert_eq!(
            b.headers[0],
            ("Proc-Type".to_owned(), "4,ENCRYPTED".to_owned())
        );
    }

    #[test]
    fn malformed_pem_is_refused() {
        assert!(matches!(
            decode_first(b"nothing here"),
            Err(PemError::NoBlock)
        ));
        assert!(matches!(
            decode_first(b"-----BEGIN A-----\nAAAA\n"),
            Err(PemError::NoEnd(_))
        ));
        assert!(matches!(
            decode_first(b"-----BEGIN A-----\n!!\n-----END A-----\n"),
            Err(PemError::Base64(_))
        ));
        assert!(matches!(
            decode_first(&vec![b'a'; MAX_PEM + 1]),
            Err(PemError::TooLarge)
        ));
    }
}
