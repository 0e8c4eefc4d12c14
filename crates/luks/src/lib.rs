// SPDX-License-Identifier: Apache-2.0
//! LUKS2 in user space: header read/write compatible with cryptsetup, keyslot unlock, sector
//! decryption — so an encrypted SIF root filesystem (fstype 5, Apptainer's
//! `EncryptedSquashfs`) opens as a plain user, without dm-crypt, behind the FUSE squashfs
//! server, and plaintext never touches a disk.
//!
//! * Reading: [`header::read_header`] checks both header copies (SHA-256 checksum, higher
//!   `seqid` wins) and validates the JSON strictly with explicit bounds; [`Volume::open`] tries
//!   every usable keyslot (PBKDF2 or Argon2i/id, anti-forensic merge, digest check) and
//!   [`Volume::read_at`] decrypts whole sectors (`aes-xts-plain64`, or `aes-cbc-essiv:sha256`).
//! * Writing: [`format::format`] lays a volume out like `cryptsetup luksFormat --type luks2`
//!   and streams the encrypted payload.
//! * PEM images: [`wrap::wrap_key`] / [`wrap::unwrap_key`] RSA-OAEP-wrap the random key as
//!   Apptainer does.
//!
//! Secrets (keys, derived keys, decrypted keyslot material) live in `Zeroizing` buffers or
//! zeroize-on-drop AES key schedules. Design notes: `docs/design/luks.md`.
#![forbid(unsafe_code)]

pub mod af;
pub mod binhdr;
pub mod cipher;
pub mod format;
pub mod hash;
pub mod header;
mod json;
pub mod kdf;
pub mod keyslot;
pub mod metadata;
pub mod pem;
pub mod volume;
pub mod wrap;

pub use binhdr::{BinError, BinHeader};
pub use format::{FormatError, FormatOptions, KdfChoice, format};
pub use header::{Header, HeaderError, parse_header, read_header};
pub use volume::{OpenError, Volume};
pub use wrap::{WrapError, random_key, unwrap_key, wrap_key};
