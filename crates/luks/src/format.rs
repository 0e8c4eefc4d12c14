// SPDX-License-Identifier: Apache-2.0
//! Writing a LUKS2 volume the way `cryptsetup luksFormat --type luks2` lays it out (and
//! Apptainer expects): two 16 KiB header copies, a keyslots area up to a 16 MiB data offset,
//! one `luks2` keyslot (AF 4000 stripes, sha256, area `aes-xts-plain64`), a PBKDF2-SHA256
//! digest, and one `crypt` segment `aes-xts-plain64` with a random 512-bit volume key. The
//! payload is streamed from a reader, encrypted sector by sector and written only to `out`.

use crate::af;
use crate::binhdr::{self, BinHeader};
use crate::cipher::{CipherSpec, SectorCipher};
use crate::hash::HashAlg;
use crate::json;
use crate::kdf::{Argon2Variant, Kdf, KdfError};
use base64::Engine;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use zeroize::Zeroizing;

const HDR_SIZE: u64 = HDR_BYTES as u64;
const HDR_BYTES: usize = 16384;
const KEY_SIZE: usize = KEY_SIZE_JSON as usize;
const KEY_SIZE_JSON: u32 = 64;
const STRIPES: u32 = 4000;
const KEYSLOT_OFFSET: u64 = 2 * HDR_SIZE;
const KEYSLOT_BYTES: usize = 2 * HDR_BYTES;
/// PBKDF2 iterations of the volume-key digest: it only confirms a 512-bit random key, so
/// stretching buys nothing; 1000 is cryptsetup's minimum.
const DIGEST_ITERATIONS: u32 = 1000;
/// Plaintext is encrypted and written in chunks of this size.
const CHUNK: usize = 1 << 20;

/// Why a volume could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Options or inputs that cannot make a valid volume.
    #[error("invalid format options: {0}")]
    Options(&'static str),
    /// The OS random source failed.
    #[error("cannot get random bytes")]
    Random(#[source] getrandom::Error),
    /// The KDF failed.
    #[error("key derivation failed")]
    Kdf(#[source] KdfError),
    /// Reading the plaintext failed.
    #[error("cannot read the plaintext")]
    Read(#[source] io::Error),
    /// The plaintext ended early.
    #[error("plaintext ended after {got} of {expected} bytes")]
    ShortInput {
        /// Bytes read.
        got: u64,
        /// Bytes promised.
        expected: u64,
    },
    /// Writing the output failed.
    #[error("cannot write the LUKS2 volume")]
    Write(#[source] io::Error),
}

/// The keyslot KDF a new volume gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfChoice {
    /// Argon2id with these costs (for passphrases).
    Argon2id {
        /// Passes.
        time: u32,
        /// Memory in KiB.
        memory_kib: u32,
        /// Lanes.
        lanes: u32,
    },
    /// PBKDF2-SHA256 (for random keys, which need no stretching).
    Pbkdf2Sha256 {
        /// Iterations.
        iterations: u32,
    },
}

/// How [`format()`] builds the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// Keyslot KDF.
    pub kdf: KdfChoice,
    /// Encryption sector size: 512 or 4096 (cryptsetup's default on files and loop devices).
    pub sector_size: u32,
    /// Offset of the encrypted payload (16 MiB like cryptsetup; a multiple of 1 MiB).
    pub data_offset: u64,
    /// Header label (at most 47 bytes).
    pub label: String,
}

impl FormatOptions {
    /// For a user passphrase: Argon2id, 4 passes over 256 MiB, 4 lanes (docs/design/luks.md).
    pub fn passphrase() -> Self {
        let kdf = KdfChoice::Argon2id {
            time: 4,
            memory_kib: 256 * 1024,
            lanes: 4,
        };
        Self {
            kdf,
            sector_size: 4096,
            data_offset: 16 << 20,
            label: String::new(),
        }
    }

    /// For a random 64-byte key (PEM-wrapped images): PBKDF2-SHA256 with cryptsetup's minimum
    /// 1000 iterations; a 512-bit random secret cannot be guessed, so stretching is useless.
    pub fn random_key() -> Self {
        Self {
            kdf: KdfChoice::Pbkdf2Sha256 { iterations: 1000 },
            ..Self::passphrase()
        }
    }
}

impl Default for FormatOptions {
    fn default() -> Self {
        Self::passphrase()
    }
}

fn random<const N: usize>() -> Result<[u8; N], FormatError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(FormatError::Random)?;
    Ok(b)
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn new_uuid() -> Result<String, FormatError> {
    let mut b: [u8; 16] = random()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn check_options(o: &FormatOptions, secret: &[u8]) -> Result<(), FormatError> {
    if secret.is_empty() {
        return Err(FormatError::Options("empty passphrase/key"));
    }
    if !matches!(o.sector_size, 512 | 4096) {
        return Err(FormatError::Options("sector size must be 512 or 4096"));
    }
    let area_end = KEYSLOT_OFFSET + keyslot_area_size();
    if !o.data_offset.is_multiple_of(1 << 20) || o.data_offset < area_end {
        return Err(FormatError::Options(
            "data offset must be a multiple of 1 MiB holding the keyslot",
        ));
    }
    if o.label.len() > 47 || o.label.contains('\0') {
        return Err(FormatError::Options(
            "label longer than 47 bytes or containing NUL",
        ));
    }
    Ok(())
}

fn keyslot_area_size() -> u64 {
    (KEY_SIZE as u64 * u64::from(STRIPES)).div_ceil(4096) * 4096
}

mod meta;

/// Writes a LUKS2 volume holding `plaintext_len` bytes from `plaintext` at offset `base` of
/// `out`, unlockable with `passphrase`. Returns the bytes written (data offset + payload
/// rounded up to whole sectors). Nothing is written anywhere but `out`.
pub fn format(
    out: &mut File,
    base: u64,
    plaintext: &mut dyn Read,
    plaintext_len: u64,
    passphrase: &[u8],
    opts: FormatOptions,
) -> Result<u64, FormatError> {
    check_options(&opts, passphrase)?;
    let mut volume_key = Zeroizing::new([0u8; KEY_SIZE]);
    getrandom::fill(&mut volume_key[..]).map_err(FormatError::Random)?;
    let metadata = meta::build(&opts, passphrase, &volume_key[..])?;
    out.write_all_at(&metadata, base)
        .map_err(FormatError::Write)?;
    let cipher = SectorCipher::new(CipherSpec::AesXtsPlain64, &volume_key[..])
        .map_err(|_| FormatError::Options("volume key size"))?;
    let payload = write_payload(
        out,
        base + opts.data_offset,
        plaintext,
        plaintext_len,
        &cipher,
        opts.sector_size,
    )?;
    Ok(opts.data_offset + payload)
}

fn fill_chunk(src: &mut dyn Read, buf: &mut [u8]) -> Result<usize, FormatError> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FormatError::Read(e)),
        }
    }
    Ok(got)
}

fn write_payload(
    out: &File,
    start: u64,
    src: &mut dyn Read,
    len: u64,
    cipher: &SectorCipher,
    sector_size: u32,
) -> Result<u64, FormatError> {
    let ss = sector_size as usize;
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from((len - done).min(CHUNK as u64)).unwrap_or(CHUNK);
        let got = fill_chunk(src, &mut buf[..want])?;
        if got < want {
            return Err(FormatError::ShortInput {
                got: done + got as u64,
                expected: len,
            });
        }
        let padded = got.div_ceil(ss) * ss;
        buf[got..padded].fill(0);
        // IVs count 512-byte units whatever the sector size (dm-crypt's default).
        cipher.encrypt_sectors(done / 512, ss as u64 / 512, ss, &mut buf[..padded]);
        out.write_all_at(&buf[..padded], start + done)
            .map_err(FormatError::Write)?;
        done += padded as u64;
    }
    Ok(done)
}
