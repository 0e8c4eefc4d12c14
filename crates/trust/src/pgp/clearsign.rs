// SPDX-License-Identifier: Apache-2.0
//! OpenPGP cleartext signatures (RFC 4880 §7) over SIF metadata (spec §8.1, §9).
//!
//! The framework is parsed here (bounded, line by line) so the text and the signature packets
//! are explicit; the signature packets themselves are parsed and checked by Sequoia. Output is
//! laid out as Go's `clearsign.Encode` (what Apptainer writes): `Hash: SHA256`, the text, the
//! armored signature, no trailing newline.

use std::time::SystemTime;

use openpgp::armor;
use openpgp::packet::Signature;
use openpgp::parse::Parse;
use openpgp::serialize::Serialize;
use openpgp::types::{HashAlgorithm, SignatureType};
use openpgp::{Packet, PacketPile};
use sequoia_openpgp as openpgp;

/// Largest signature object parsed (Apptainer's are ~1–2 KiB).
pub const MAX_CLEARTEXT_BYTES: usize = 1 << 20;
/// Most signature packets looked at in one block.
pub const MAX_SIGNATURE_PACKETS: usize = 16;

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";

/// Plaintext prefix of legacy (Singularity < 3.6) signatures.
pub const LEGACY_PREFIX: &[u8] = b"SIFHASH:\n";

/// A decoded cleartext-signed message.
#[derive(Clone, Debug)]
pub struct Cleartext {
    /// The message text, dash-unescaped, lines joined with `\n`, final line ending excluded.
    pub text: Vec<u8>,
    /// The signature packets.
    pub signatures: Vec<Signature>,
}

/// Why a cleartext block was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClearsignError {
    /// Larger than [`MAX_CLEARTEXT_BYTES`].
    #[error("signed message too large ({0} bytes)")]
    TooLarge(usize),
    /// No `BEGIN PGP SIGNED MESSAGE` line.
    #[error("no OpenPGP cleartext block")]
    NotCleartext,
    /// Header, text or armor framing broken.
    #[error("malformed cleartext block: {0}")]
    Malformed(&'static str),
    /// The armored part holds no usable signature.
    #[error("cleartext block has no signature packet")]
    NoSignature,
}

impl Cleartext {
    /// True for a legacy `SIFHASH:` signature.
    pub fn is_legacy(&self) -> bool {
        self.text.starts_with(LEGACY_PREFIX)
    }

    /// The text as hashed by a text signature: trailing blanks removed, CRLF line endings.
    pub fn canonical_text(&self) -> Vec<u8> {
        canonical(&self.text)
    }
}

fn canonical(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let end = line
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
            .map_or(0, |p| p + 1);
        out.extend_from_slice(&line[..end]);
    }
    out
}

/// Parses a cleartext-signed block.
pub fn parse(bytes: &[u8]) -> Result<Cleartext, ClearsignError> {
    if bytes.len() > MAX_CLEARTEXT_BYTES {
        return Err(ClearsignError::TooLarge(bytes.len()));
    }
    let mut lines = bytes.split(|b| *b == b'\n').map(trim_cr);
    if !lines
        .by_ref()
        .any(|l| trim_ws(l) == BEGIN_SIGNED.as_bytes())
    {
        return Err(ClearsignError::NotCleartext);
    }
    // Armor headers (`Hash: …`) up to the blank line.
    loop {
        let line = lines.next().ok_or(ClearsignError::Malformed(
            "missing blank line after headers",
        ))?;
        if trim_ws(line).is_empty() {
            break;
        }
        if !line.contains(&b':') {
            return Err(ClearsignError::Malformed("bad armor header"));
        }
    }
    let mut text: Vec<&[u8]> = Vec::new();
    loop {
        let line = lines
            .next()
            .ok_or(ClearsignError::Malformed("missing signature block"))?;
        if trim_ws(line) == BEGIN_SIGNATURE.as_bytes() {
            break;
        }
        text.push(line.strip_prefix(b"- ").unwrap_or(line));
    }
    let mut armored = BEGIN_SIGNATURE.as_bytes().to_vec();
    for line in lines {
        armored.push(b'\n');
        armored.extend_from_slice(line);
    }
    let signatures = parse_signatures(&armored)?;
    Ok(Cleartext {
        text: text.join(&b'\n'),
        signatures,
    })
}

fn parse_signatures(armored: &[u8]) -> Result<Vec<Signature>, ClearsignError> {
    let reader = armor::Reader::from_bytes(
        armored,
        armor::ReaderMode::Tolerant(Some(armor::Kind::Signature)),
    );
    let mut binary = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(reader, MAX_CLEARTEXT_BYTES as u64),
        &mut binary,
    )
    .map_err(|_| ClearsignError::Malformed("bad armored signature"))?;
    let binary = super::lenient::normalize_signature_mpis(&binary);
    let pile = PacketPile::from_bytes(&binary)
        .map_err(|_| ClearsignError::Malformed("bad signature packets"))?;
    let sigs: Vec<Signature> = pile
        .into_children()
        .filter_map(|p| match p {
            Packet::Signature(s) => Some(s),
            _ => None,
        })
        .take(MAX_SIGNATURE_PACKETS)
        .collect();
    if sigs.is_empty() {
        return Err(ClearsignError::NoSignature);
    }
    Ok(sigs)
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn trim_ws(l: &[u8]) -> &[u8] {
    l.trim_ascii()
}

/// Signs `text` with `signer` (SHA-256 text signature, issuer and issuer fingerprint
/// subpackets, created at `time`) and frames it as Go's `clearsign.Encode` does.
pub fn sign(
    text: &[u8],
    signer: &mut dyn openpgp::crypto::Signer,
    time: SystemTime,
) -> openpgp::Result<Vec<u8>> {
    let canonical = canonical(text);
    let sig = openpgp::packet::signature::SignatureBuilder::new(SignatureType::Text)
        .set_hash_algo(HashAlgorithm::SHA256)
        .set_signature_creation_time(time)?
        .sign_message(signer, &canonical)?;
    let mut out = format!("{BEGIN_SIGNED}\nHash: SHA256\n\n").into_bytes();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if line.starts_with(b"-") {
            out.extend_from_slice(b"- ");
        }
        out.extend_from_slice(line);
    }
    out.push(b'\n');
    let mut w = armor::Writer::new(&mut out, armor::Kind::Signature)?;
    Packet::from(sig).serialize(&mut w)?;
    w.finalize()?;
    while out.last() == Some(&b'\n') {
        out.pop();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form() {
        assert_eq!(canonical(b"a \t\nb\r\n c"), b"a\r\nb\r\n c".to_vec());
        assert_eq!(canonical(b"{}"), b"{}".to_vec());
    }

    #[test]
    fn framing_errors() {
        assert_eq!(parse(b"{}").unwrap_err(), ClearsignError::NotCleartext);
        let no_sig = format!("{BEGIN_SIGNED}\nHash: SHA256\n\ntext\n");
        assert!(matches!(
            parse(no_sig.as_bytes()),
            Err(ClearsignError::Malformed(_))
        ));
        let bad_armor = format!("{BEGIN_SIGNED}\nHash: SHA256\n\ntext\n{BEGIN_SIGNATURE}\n\n!!\n");
        assert!(parse(bad_armor.as_bytes()).is_err());
        let big = vec![b'a'; MAX_CLEARTEXT_BYTES + 1];
        assert!(matches!(parse(&big), Err(ClearsignError::TooLarge(_))));
    }
}
