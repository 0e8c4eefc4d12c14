// SPDX-License-Identifier: Apache-2.0
//! Trust: OpenPGP and DSSE signing/verification of SIF images, keyrings, the ECL, the
//! verification cache.
//!
//! Design (details in `docs/design/trust.md`, `ecl.md`, `verify-cache.md`):
//! * **Apptainer's formats, byte for byte** ([`sign`]): signature objects with no group,
//!   linked to the group, SHA-256 hash type, the PGP primary fingerprint as entity; PGP
//!   clear-signed metadata laid out as Go's `clearsign`, DSSE envelopes with SSH-fingerprint
//!   key ids and Apptainer's trailing newline. Ed25519/RSA DSSE signing is deterministic, so
//!   re-signing a corpus image reproduces it exactly.
//! * **Every signature reported** ([`verify`]): each task and each signature is evaluated on
//!   its own; the verdict equals the reference library's, the report says who signed what
//!   and why anything failed (reference wording).
//! * **Bounded parsers** for everything a tenant or admin file controls: keyrings
//!   ([`pgp::keyring::MAX_KEYRING_BYTES`]), signature objects, PEM, `ecl.toml`; each has a
//!   fuzz target.
//! * **Same fd**: verification and ECL decisions read the already-opened image (`pread`).
//! * PGP via Sequoia (nettle), DSSE keys via RustCrypto, X.509 chains via rustls-webpki.
#![forbid(unsafe_code)]

pub mod cache;
pub mod dsse;
pub mod ecl;
pub mod keys;
pub mod pem;
pub mod pgp;
pub mod sign;
pub mod verify;
pub mod x509;

pub use cache::VerifyCache;
pub use ecl::{Ecl, EclDenied, EclError};
pub use keys::{KeyKind, PrivateKey, PublicKey};
pub use pgp::Keyring;
pub use sign::{SignSelection, SigningKeys, sign_image};
pub use verify::{KeyMaterial, Report, Selection, VerifyOptions};

/// Re-export of the OpenPGP implementation (certificates appear in the public API).
pub use sequoia_openpgp as openpgp;
