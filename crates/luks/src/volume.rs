// SPDX-License-Identifier: Apache-2.0
//! An unlocked LUKS2 volume read in user space: [`Volume::read_at`] preads ciphertext and
//! decrypts whole sectors into the caller's buffer, so plaintext lives only in memory.

use crate::cipher::{CipherError, CipherSpec, SectorCipher};
use crate::header::{FileRange, Header, HeaderError, read_header};
use crate::keyslot::{KeyslotError, candidates, try_keyslot};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use zeroize::Zeroizing;

/// Why a volume could not be opened. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `dup` of the file descriptor failed.
    #[error("cannot duplicate the descriptor of {name}")]
    Dup {
        /// The file.
        name: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The header is missing, damaged or unsupported.
    #[error("cannot use the LUKS2 header of {name}")]
    Header {
        /// The file.
        name: String,
        /// What is wrong.
        #[source]
        source: HeaderError,
    },
    /// The data segment does not fit in `[base, base + len)`.
    #[error("data segment of {name} lies outside the volume ({len} bytes)")]
    Layout {
        /// The file.
        name: String,
        /// Volume length.
        len: u64,
    },
    /// No keyslot accepted the passphrase or key.
    #[error("no keyslot matches the passphrase/key for {name}")]
    NoKeyslotMatches {
        /// The file.
        name: String,
    },
    /// A keyslot could not be tried at all (and none matched).
    #[error("cannot try a keyslot of {name}")]
    Keyslot {
        /// The file.
        name: String,
        /// The first failure.
        #[source]
        source: KeyslotError,
    },
    /// The verified volume key does not fit the segment cipher.
    #[error("volume key of {name} does not fit its data cipher")]
    Cipher {
        /// The file.
        name: String,
        /// The failure.
        #[source]
        source: CipherError,
    },
}

/// An unlocked volume. `read_at` is thread-safe; the key schedules are wiped on drop.
pub struct Volume {
    file: File,
    name: String,
    data_start: u64,
    len: u64,
    sector_size: usize,
    iv_tweak: u64,
    cipher: SectorCipher,
    uuid: String,
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .field("data_start", &self.data_start)
            .field("len", &self.len)
            .field("sector_size", &self.sector_size)
            .field("cipher", &self.cipher.spec())
            .finish_non_exhaustive()
    }
}

/// The path of an open file for messages (`/proc/self/fd/N`), or `fd N`.
pub(crate) fn display_name(file: &File) -> String {
    let fd = file.as_raw_fd();
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| format!("fd {fd}"))
}

/// The payload range `(start, len)` inside the volume, whole sectors only.
fn payload_range(h: &Header, len: u64) -> Option<(u64, u64)> {
    let s = &h.metadata.segment;
    let avail = len.checked_sub(s.offset)?;
    let size = match s.size {
        None => avail / u64::from(s.sector_size) * u64::from(s.sector_size),
        Some(n) if n <= avail => n,
        Some(_) => return None,
    };
    Some((s.offset, size))
}

impl Volume {
    /// Opens the LUKS2 volume stored at `[base, base + len)` of `file`, trying `secret` (the
    /// passphrase bytes, or the raw key for PEM-wrapped images) on every usable keyslot.
    pub fn open(file: &File, base: u64, len: u64, secret: &[u8]) -> Result<Volume, OpenError> {
        let name = display_name(file);
        let src = FileRange { file, base, len };
        let header = read_header(&src).map_err(|source| OpenError::Header {
            name: name.clone(),
            source,
        })?;
        let (data_off, payload) = payload_range(&header, len).ok_or_else(|| OpenError::Layout {
            name: name.clone(),
            len,
        })?;
        let mut first_err = None;
        let mut key: Option<Zeroizing<Vec<u8>>> = None;
        for k in candidates(&header.metadata) {
            match try_keyslot(&src, &header.metadata, k, secret) {
                Ok(Some(vk)) => {
                    tracing::debug!(keyslot = k.id, file = %name, "LUKS2 keyslot unlocked");
                    key = Some(vk);
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(keyslot = k.id, error = %e, "LUKS2 keyslot unusable");
                    first_err.get_or_insert(e);
                }
            }
        }
        let key = match (key, first_err) {
            (Some(k), _) => k,
            (None, Some(source)) => return Err(OpenError::Keyslot { name, source }),
            (None, None) => return Err(OpenError::NoKeyslotMatches { name }),
        };
        let seg = &header.metadata.segment;
        let cipher = SectorCipher::new(seg.cipher, &key).map_err(|source| OpenError::Cipher {
            name: name.clone(),
            source,
        })?;
        let file = file.try_clone().map_err(|source| OpenError::Dup {
            name: name.clone(),
            source,
        })?;
        Ok(Volume {
            file,
            name,
            data_start: base + data_off,
            len: payload,
            sector_size: seg.sector_size as usize,
            iv_tweak: seg.iv_tweak,
            cipher,
            uuid: header.bin.uuid,
        })
    }

    /// Plaintext payload length in bytes (whole sectors).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Encryption sector size.
    pub fn sector_size(&self) -> usize {
        self.sector_size
    }

    /// The volume UUID from the header.
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The payload cipher.
    pub fn cipher(&self) -> CipherSpec {
        self.cipher.spec()
    }

    /// Reads whole sectors at payload offset `off` (sector-aligned) into `buf` (a multiple
    /// of the sector size) and decrypts them in place.
    fn read_sectors(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, self.data_start + off)?;
        // dm-crypt's IV counts 512-byte units even for larger sectors (LUKS2 does not use
        // iv_large_sectors): a 4096-byte sector's IV is its byte offset / 512.
        let step = self.sector_size as u64 / 512;
        self.cipher
            .decrypt_sectors(off / 512 + self.iv_tweak, step, self.sector_size, buf);
        Ok(())
    }

    /// Decrypts one sector containing payload offset `off` and copies the part of it that
    /// overlaps `[off, off + out.len())` into `out`.
    fn read_partial(&self, out: &mut [u8], off: u64) -> io::Result<()> {
        let ss = self.sector_size as u64;
        let start = off / ss * ss;
        let mut tmp = Zeroizing::new([0u8; 4096]);
        let sector = &mut tmp[..self.sector_size];
        self.read_sectors(sector, start)?;
        let skip = usize::try_from(off - start).expect("offset within one sector");
        out.copy_from_slice(&sector[skip..skip + out.len()]);
        Ok(())
    }

    /// Reads plaintext at payload offset `off`. Returns the number of bytes read: fewer than
    /// `buf.len()` only at the end of the payload, 0 at or past it.
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        if off >= self.len {
            return Ok(0);
        }
        let n = usize::try_from((self.len - off).min(buf.len() as u64)).unwrap_or(buf.len());
        let buf = &mut buf[..n];
        let ss = self.sector_size;
        let mut done = 0usize;
        let head = usize::try_from(off % ss as u64).expect("remainder below the sector size");
        if head != 0 || n < ss {
            done = (ss - head).min(n);
            self.read_partial(&mut buf[..done], off)?;
        }
        let whole = (n - done) / ss * ss;
        if whole > 0 {
            self.read_sectors(&mut buf[done..done + whole], off + done as u64)?;
            done += whole;
        }
        if done < n {
            self.read_partial(&mut buf[done..], off + done as u64)?;
        }
        Ok(n)
    }
}
