// SPDX-License-Identifier: Apache-2.0
//! Sector ciphers of dm-crypt, in user space: `aes-xts-plain64` (read and write) and
//! `aes-cbc-essiv:sha256` (old volumes; read, and write for tests).
//!
//! XTS follows IEEE 1619: the tweak is `AES_K2(le64(sector) ‖ 0⁶⁴)`, multiplied by α in
//! GF(2¹²⁸) per 16-byte block. For speed a run of up to `CHUNK_BLOCKS` (256) blocks is whitened
//! with its tweaks first and then goes through AES in one call, so the `aes` crate can
//! pipeline AES-NI (or VAES) rounds over many blocks, and is whitened again.

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256, Block};
use sha2::{Digest, Sha256};

/// Blocks processed per AES batch (4096 bytes: one large sector).
pub(crate) const CHUNK_BLOCKS: usize = 256;

/// Errors naming an unusable cipher specification or key.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// The `encryption` string is not one we implement.
    #[error("unsupported cipher {0:?} (supported: aes-xts-plain64, aes-cbc-essiv:sha256)")]
    Unsupported(String),
    /// The key length does not fit the cipher.
    #[error("cipher {spec} cannot take a {len}-byte key")]
    KeyLength {
        /// Cipher name.
        spec: &'static str,
        /// Offending key length in bytes.
        len: usize,
    },
}

/// A dm-crypt cipher specification we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherSpec {
    /// `aes-xts-plain64`: cryptsetup's default for LUKS2 (64-byte key = AES-256-XTS).
    AesXtsPlain64,
    /// `aes-cbc-essiv:sha256`: the old LUKS1 default; read support only in practice.
    AesCbcEssivSha256,
}

impl CipherSpec {
    /// Parses a LUKS2 `encryption` value.
    pub fn parse(spec: &str) -> Result<Self, CipherError> {
        match spec {
            "aes-xts-plain64" => Ok(Self::AesXtsPlain64),
            "aes-cbc-essiv:sha256" => Ok(Self::AesCbcEssivSha256),
            other => Err(CipherError::Unsupported(other.chars().take(64).collect())),
        }
    }

    /// The LUKS2 `encryption` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::AesXtsPlain64 => "aes-xts-plain64",
            Self::AesCbcEssivSha256 => "aes-cbc-essiv:sha256",
        }
    }

    /// Whether a key of `len` bytes is valid for this cipher.
    pub fn key_len_ok(self, len: usize) -> bool {
        match self {
            Self::AesXtsPlain64 => matches!(len, 32 | 48 | 64),
            Self::AesCbcEssivSha256 => matches!(len, 16 | 24 | 32),
        }
    }
}

/// One AES key schedule of any standard size (zeroized on drop by the `aes` crate).
pub(crate) enum Aes {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Aes128::new_from_slice(key).ok().map(Self::A128),
            24 => Aes192::new_from_slice(key).ok().map(Self::A192),
            32 => Aes256::new_from_slice(key).ok().map(Self::A256),
            _ => None,
        }
    }

    pub(crate) fn encrypt_blocks(&self, blocks: &mut [Block]) {
        match self {
            Self::A128(c) => c.encrypt_blocks(blocks),
            Self::A192(c) => c.encrypt_blocks(blocks),
            Self::A256(c) => c.encrypt_blocks(blocks),
        }
    }

    pub(crate) fn decrypt_blocks(&self, blocks: &mut [Block]) {
        match self {
            Self::A128(c) => c.decrypt_blocks(blocks),
            Self::A192(c) => c.decrypt_blocks(blocks),
            Self::A256(c) => c.decrypt_blocks(blocks),
        }
    }
}

enum Mode {
    Xts { data: Aes, tweak: Aes },
    CbcEssiv { data: Aes, essiv: Aes },
}

/// A keyed sector cipher. Thread-safe (`&self`); key schedules are wiped on drop.
pub struct SectorCipher {
    spec: CipherSpec,
    mode: Mode,
}

impl std::fmt::Debug for SectorCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectorCipher")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl SectorCipher {
    /// Keys `spec` with `key` (XTS: two AES keys of half the length each; CBC-ESSIV: the data
    /// key, the IV key being SHA-256 of it).
    pub fn new(spec: CipherSpec, key: &[u8]) -> Result<Self, CipherError> {
        let bad = || CipherError::KeyLength {
            spec: spec.name(),
            len: key.len(),
        };
        if !spec.key_len_ok(key.len()) {
            return Err(bad());
        }
        let mode = match spec {
            CipherSpec::AesXtsPlain64 => {
                let (k1, k2) = key.split_at(key.len() / 2);
                Mode::Xts {
                    data: Aes::new(k1).ok_or_else(bad)?,
                    tweak: Aes::new(k2).ok_or_else(bad)?,
                }
            }
            CipherSpec::AesCbcEssivSha256 => {
                let mut salt = zeroize::Zeroizing::new([0u8; 32]);
                salt.copy_from_slice(&Sha256::digest(key));
                Mode::CbcEssiv {
                    data: Aes::new(key).ok_or_else(bad)?,
                    essiv: Aes::new(&*salt).ok_or_else(bad)?,
                }
            }
        };
        Ok(Self { spec, mode })
    }

    /// The cipher specification.
    pub fn spec(&self) -> CipherSpec {
        self.spec
    }

    /// Decrypts one sector in place. `iv` is the dm-crypt IV sector number; `data` is the
    /// whole sector (a multiple of 16 bytes; a trailing partial block is left untouched).
    pub fn decrypt_sector(&self, iv: u64, data: &mut [u8]) {
        match &self.mode {
            Mode::Xts { data: k1, tweak } => xts(k1, tweak, iv, data, false),
            Mode::CbcEssiv { data: k, essiv } => cbc_decrypt(k, essiv_iv(essiv, iv), data),
        }
    }

    /// Encrypts one sector in place (see [`SectorCipher::decrypt_sector`]).
    pub fn encrypt_sector(&self, iv: u64, data: &mut [u8]) {
        match &self.mode {
            Mode::Xts { data: k1, tweak } => xts(k1, tweak, iv, data, true),
            Mode::CbcEssiv { data: k, essiv } => cbc_encrypt(k, essiv_iv(essiv, iv), data),
        }
    }

    /// Decrypts consecutive `sector_size`-byte sectors in place; sector `k` has IV
    /// `first_iv + k * iv_step`. Small XTS sectors are batched into one AES call.
    pub fn decrypt_sectors(
        &self,
        first_iv: u64,
        iv_step: u64,
        sector_size: usize,
        data: &mut [u8],
    ) {
        self.sectors(first_iv, iv_step, sector_size, data, false);
    }

    /// Encrypts consecutive sectors in place (see [`SectorCipher::decrypt_sectors`]).
    pub fn encrypt_sectors(
        &self,
        first_iv: u64,
        iv_step: u64,
        sector_size: usize,
        data: &mut [u8],
    ) {
        self.sectors(first_iv, iv_step, sector_size, data, true);
    }

    fn sectors(&self, first_iv: u64, step: u64, ss: usize, data: &mut [u8], encrypt: bool) {
        match &self.mode {
            Mode::Xts { data: k1, tweak } => {
                xts_sectors(k1, tweak, (first_iv, step), ss, data, encrypt)
            }
            Mode::CbcEssiv { .. } => {
                let mut iv = first_iv;
                for sector in data.chunks_exact_mut(ss.max(16)) {
                    if encrypt {
                        self.encrypt_sector(iv, sector);
                    } else {
                        self.decrypt_sector(iv, sector);
                    }
                    iv = iv.wrapping_add(step);
                }
            }
        }
    }
}

mod modes;
use modes::{cbc_decrypt, cbc_encrypt, essiv_iv, xts, xts_sectors};

#[cfg(test)]
mod tests;
