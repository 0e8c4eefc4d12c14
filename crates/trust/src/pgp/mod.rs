// SPDX-License-Identifier: Apache-2.0
//! OpenPGP: keyrings, cleartext signatures, signature checks, key generation and unlocking.

pub mod check;
pub mod clearsign;
pub mod keyring;
pub(crate) mod lenient;
pub mod secret;

pub use check::{PgpCheckError, PgpSigner, verify_cleartext};
pub use clearsign::{ClearsignError, Cleartext};
pub use keyring::{GLOBAL_KEYRING, Keyring, KeyringError};
pub use secret::{NewKey, PgpKeyType, SecretError, generate, needs_passphrase, signing_keypair};

/// Upper-case hex of a 20-byte fingerprint.
pub fn fp_hex(fp: &[u8]) -> String {
    fp.iter().map(|b| format!("{b:02X}")).collect()
}

/// Parses a 40-hex-digit v4 fingerprint (case-insensitive, spaces ignored).
pub fn parse_fp(s: &str) -> Option<[u8; 20]> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() != 40 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
