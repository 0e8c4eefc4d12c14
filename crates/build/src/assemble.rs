// SPDX-License-Identifier: Apache-2.0
//! Root filesystem → SIF: squashfs (mksquashfs zstd-6, `stockade-squashfs`), optionally LUKS2
//! (`stockade-luks`), then the SIF objects in Apptainer's order: Deffile, JSON.Generic
//! objects by name (`inspect-metadata.json`, `oci-config.json`), the PrimSys partition,
//! and for PEM encryption a CryptoMessage linked to the partition.
//!
//! The image is written to `.OUT.tmp-XXXXXX` in OUT's directory and renamed over OUT only
//! when complete, so a failure leaves no partial OUT. Encrypted builds never write the
//! plaintext squashfs to a file: mksquashfs writes it into a memfd (anonymous memory, gone
//! with the process), which is then encrypted straight into an unlinked temporary file.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use stockade_sif::{
    Arch, Builder, CryptoMessageMeta, DataType, FormatType, FsType, Link, MessageType, ObjectData,
    ObjectInput, PartType, PartitionMeta,
};
use zeroize::Zeroizing;

use crate::error::{BuildError, io_err};

/// How the root filesystem is encrypted.
#[derive(Debug, Clone)]
pub enum Encryption {
    /// A passphrase (the LUKS key itself; nothing stored in the image).
    Passphrase(Zeroizing<Vec<u8>>),
    /// An RSA public key (PEM): a random 64-byte key is RSA-OAEP-wrapped into the image.
    PemPublicKey {
        /// The PEM file (for messages).
        path: PathBuf,
        /// Its bytes.
        pem: Vec<u8>,
    },
}

/// Small objects placed before the partition.
#[derive(Debug, Default)]
pub struct Objects {
    /// The definition file.
    pub deffile: Option<Vec<u8>>,
    /// JSON.Generic objects by name.
    pub json: Vec<(String, Vec<u8>)>,
    /// Objects carried over from a SIF source, after the partition (type, name, data).
    pub other: Vec<(DataType, String, Vec<u8>)>,
}

/// The partition to store.
#[derive(Debug)]
pub struct Partition {
    /// Its bytes.
    pub data: ObjectData<'static>,
    /// File system type.
    pub fs_type: FsType,
    /// Architecture.
    pub arch: Arch,
    /// A wrapped key to store as a CryptoMessage linked to the partition.
    pub crypto: Option<Vec<u8>>,
}

/// The output file being written: a hidden temporary in OUT's directory until `commit`.
#[derive(Debug)]
pub struct Output {
    target: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl Output {
    /// Refuses an existing OUT without `force`, then creates the temporary file.
    pub fn create(target: &Path, force: bool) -> Result<Output, BuildError> {
        match std::fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => {
                return Err(BuildError::OutputIsDir(target.to_path_buf()));
            }
            Ok(_) if !force => return Err(BuildError::OutputExists(target.to_path_buf())),
            _ => {}
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempfile_in(&dir)
            .map_err(io_err("create a file in", &dir))?;
        Ok(Output {
            target: target.to_path_buf(),
            tmp,
        })
    }

    /// Writes the SIF into the temporary file.
    pub fn write(&mut self, objects: Objects, part: Partition) -> Result<(), BuildError> {
        let tmp = &self.tmp;
        let mut b = Builder::new().launch_script(stockade_sif::APPTAINER_LAUNCH_SCRIPT);
        let mut n = 0u32;
        if let Some(d) = objects.deffile {
            b = b.object(ObjectInput::from_bytes(DataType::DEFFILE, d));
            n += 1;
        }
        let mut json = objects.json;
        json.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, data) in json {
            b = b.object(ObjectInput::from_bytes(DataType::GENERIC_JSON, data).name(&name));
            n += 1;
        }
        let meta = PartitionMeta {
            fs_type: part.fs_type,
            part_type: PartType::PRIM_SYS,
            arch: part.arch,
        };
        b = b.object(ObjectInput::new(DataType::PARTITION, part.data).partition(meta));
        let part_id = n + 1;
        for (t, name, data) in objects.other {
            b = b.object(ObjectInput::from_bytes(t, data).name(&name));
        }
        if let Some(msg) = part.crypto {
            let cm = CryptoMessageMeta {
                format: FormatType::PEM,
                message: MessageType::RSA_OAEP,
            };
            b = b.object(
                ObjectInput::from_bytes(DataType::CRYPTO_MESSAGE, msg)
                    .crypto_message(cm)
                    .link(Link::Object(part_id)),
            );
        }
        b.write_to(tmp.as_file(), tmp.path())?;
        Ok(())
    }

    /// Renames the finished image over OUT (mode 0755, like Apptainer's images).
    pub fn commit(self) -> Result<(), BuildError> {
        let Output { target, tmp } = self;
        let f = tmp.as_file();
        f.sync_all().map_err(io_err("write", &target))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(io_err("write", &target))?;
        tmp.persist(&target).map_err(|e| BuildError::Io {
            step: "rename over",
            path: target.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Squashes `rootfs` into `dir/rootfs.squashfs`; returns the opened image.
pub fn squash(
    rootfs: &Path,
    dir: &Path,
    opts: &stockade_squashfs::BuildOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<File, BuildError> {
    let out = dir.join("rootfs.squashfs");
    stockade_squashfs::build_squashfs(rootfs, &out, opts, progress)
        .map_err(BuildError::Squashfs)?;
    File::open(&out).map_err(io_err("open", &out))
}

/// Squashes `rootfs` into a memfd (never a file), encrypts it into an unlinked temporary
/// file in `dir`, and returns that file and the wrapped key for PEM encryption.
pub fn squash_encrypted(
    rootfs: &Path,
    dir: &Path,
    opts: &stockade_squashfs::BuildOptions,
    enc: &Encryption,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(File, Option<Vec<u8>>), BuildError> {
    // Not CLOEXEC: mksquashfs inherits it and opens /proc/self/fd/N (its own copy).
    let memfd =
        rustix::fs::memfd_create("stockade-build-plaintext", rustix::fs::MemfdFlags::empty())
            .map_err(io_err("create a memfd for", rootfs))?;
    let fdpath = PathBuf::from(format!(
        "/proc/self/fd/{}",
        rustix::fd::AsRawFd::as_raw_fd(&memfd)
    ));
    let res = stockade_squashfs::build_squashfs(rootfs, &fdpath, opts, progress);
    rustix::io::fcntl_setfd(&memfd, rustix::io::FdFlags::CLOEXEC)
        .map_err(io_err("seal", &fdpath))?;
    res.map_err(BuildError::Squashfs)?;
    let mut plain = File::from(memfd);
    let len = plain
        .seek(SeekFrom::End(0))
        .map_err(io_err("read", &fdpath))?;
    plain
        .seek(SeekFrom::Start(0))
        .map_err(io_err("read", &fdpath))?;
    encrypt(&mut plain, len, dir, enc)
}

/// Encrypts `len` bytes of `plain` into an unlinked temporary file in `dir`.
pub fn encrypt(
    plain: &mut dyn std::io::Read,
    len: u64,
    dir: &Path,
    enc: &Encryption,
) -> Result<(File, Option<Vec<u8>>), BuildError> {
    let (secret, opts, crypto) = match enc {
        Encryption::Passphrase(p) => (p.clone(), stockade_luks::FormatOptions::passphrase(), None),
        Encryption::PemPublicKey { path, pem } => {
            let key = stockade_luks::random_key().map_err(|source| BuildError::WrapKey {
                path: path.clone(),
                source,
            })?;
            let msg = stockade_luks::wrap_key(pem, &key).map_err(|source| BuildError::WrapKey {
                path: path.clone(),
                source,
            })?;
            (key, stockade_luks::FormatOptions::random_key(), Some(msg))
        }
    };
    let mut out = tempfile::tempfile_in(dir).map_err(io_err("create a file in", dir))?;
    stockade_luks::format(&mut out, 0, plain, len, &secret, opts).map_err(BuildError::Encrypt)?;
    out.seek(SeekFrom::Start(0)).map_err(io_err("read", dir))?;
    Ok((out, crypto))
}
