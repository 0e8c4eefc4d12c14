// SPDX-License-Identifier: Apache-2.0
//! Opening the image once: the file (or sandbox directory) is opened a single time and
//! every later decision — administrator limits, the ECL, the partition lookup, the key —
//! and the mount itself use that one descriptor, never the path again.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use stockade_sif::{Arch, DataType, FormatType, FsType, Link, MessageType, SifImage};
use zeroize::Zeroizing;

use super::admin::AdminConfig;

/// Upper bound on a passphrase file and on a wrapped-key message.
pub const MAX_KEY_FILE: u64 = 64 << 10;

/// What kind of root filesystem the image holds.
#[derive(Debug)]
pub enum Kind {
    /// A sandbox directory.
    Sandbox,
    /// A squashfs partition (SIF) or a whole squashfs file.
    Squashfs {
        /// Offset of the squashfs bytes in the file.
        offset: u64,
        /// Their length.
        size: u64,
    },
    /// A LUKS2-encrypted squashfs partition with its unlock secret.
    Encrypted {
        /// Partition offset.
        offset: u64,
        /// Partition length.
        size: u64,
        /// Passphrase bytes or the unwrapped key.
        key: Zeroizing<Vec<u8>>,
    },
}

/// An opened image.
#[derive(Debug)]
pub struct Image {
    /// Canonical absolute path of what was opened.
    pub path: PathBuf,
    /// The opened file or directory.
    pub file: File,
    /// What it holds.
    pub kind: Kind,
}

/// How an encrypted image is unlocked.
#[derive(Debug, Default, Clone)]
pub struct KeyOptions {
    /// `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
    /// `--pem-path`.
    pub pem_path: Option<PathBuf>,
}

/// Opens `arg`, checks the administrator limits, runs `ecl_check` on the same fd for SIF
/// images, and finds the root filesystem.
pub fn open(
    arg: &Path,
    conf: &AdminConfig,
    keys: &KeyOptions,
    ecl_check: &dyn Fn(&File, &Path) -> Result<()>,
) -> Result<Image> {
    let file = File::open(arg).with_context(|| format!("cannot open image {}", arg.display()))?;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .with_context(|| format!("cannot resolve image {}", arg.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?;
    check_limits(&path, meta.uid(), conf)?;
    if meta.is_dir() {
        if !conf.allow_sandbox {
            bail!(
                "{}: sandbox directories are not allowed by the administrator",
                path.display()
            );
        }
        return Ok(Image {
            path,
            file,
            kind: Kind::Sandbox,
        });
    }
    if !meta.is_file() {
        bail!("{}: not a regular file or a directory", path.display());
    }
    let mut magic = [0u8; 10];
    let n = std::os::unix::fs::FileExt::read_at(&file, &mut magic, 0).unwrap_or(0);
    if n >= 4 && &magic[..4] == b"hsqs" {
        return Ok(Image {
            path,
            kind: Kind::Squashfs {
                offset: 0,
                size: meta.len(),
            },
            file,
        });
    }
    ecl_check(&file, &path)?;
    let kind = sif_root(&file, &path, conf, keys)?;
    Ok(Image { path, file, kind })
}

/// Whether a non-root `caller` could rewrite an image (owner `uid`, `mode`) after the ECL
/// verified it — the mount reads the file later, so the verified bytes would not be the
/// mounted ones. Root is trusted with its own files.
pub fn writable_by(uid: u32, mode: u32, caller: u32) -> bool {
    caller != 0 && (uid == caller || mode & 0o022 != 0)
}

/// `limit_container_owners` and `limit_container_paths`.
fn check_limits(path: &Path, owner: u32, conf: &AdminConfig) -> Result<()> {
    if let Some(owners) = &conf.limit_container_owners
        && !owners.contains(&owner)
    {
        bail!(
            "{}: images owned by uid {owner} are not allowed by the administrator",
            path.display()
        );
    }
    if let Some(dirs) = &conf.limit_container_paths {
        let parent = path.parent().unwrap_or(Path::new("/"));
        if !dirs.iter().any(|d| parent.starts_with(d)) {
            bail!(
                "{}: images outside {} are not allowed by the administrator",
                path.display(),
                join(dirs)
            );
        }
    }
    Ok(())
}

fn join(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The primary partition of a SIF image.
fn sif_root(file: &File, path: &Path, conf: &AdminConfig, keys: &KeyOptions) -> Result<Kind> {
    let sif = SifImage::from_source(file, path)?;
    let part = sif
        .primary_partition()
        .with_context(|| format!("{}: no primary system partition", path.display()))?;
    let meta = part
        .partition()
        .with_context(|| format!("{}: bad partition descriptor", path.display()))?;
    check_arch(path, meta.arch)?;
    let (offset, size) = (part.offset(), part.size());
    match meta.fs_type {
        FsType::SQUASHFS => Ok(Kind::Squashfs { offset, size }),
        FsType::ENCRYPTED_SQUASHFS => {
            if !conf.allow_encrypted {
                bail!(
                    "{}: encrypted images are not allowed by the administrator",
                    path.display()
                );
            }
            let key = unlock_secret(&sif, part.id(), path, keys)?;
            Ok(Kind::Encrypted { offset, size, key })
        }
        other => bail!(
            "{}: root partition type {} is not supported (squashfs only)",
            path.display(),
            other.label()
        ),
    }
}

fn check_arch(path: &Path, arch: Arch) -> Result<()> {
    if arch == Arch::UNKNOWN || arch == Arch::host() {
        return Ok(());
    }
    let qemu = format!(
        "/proc/sys/fs/binfmt_misc/qemu-{}",
        qemu_name(arch.go_name())
    );
    if Path::new(&qemu).exists() {
        return Ok(());
    }
    bail!(
        "{}: image architecture {} does not run on this {} host",
        path.display(),
        arch.go_name(),
        Arch::host().go_name()
    )
}

fn qemu_name(go: &str) -> &str {
    match go {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "i386",
        "arm" => "arm",
        other => other,
    }
}

/// The LUKS secret: the passphrase, or the key unwrapped from the CryptoMessage linked to
/// the partition with the RSA private key.
fn unlock_secret(
    sif: &SifImage<&File>,
    part_id: u32,
    path: &Path,
    keys: &KeyOptions,
) -> Result<Zeroizing<Vec<u8>>> {
    let env = |names: &[&str]| names.iter().find_map(std::env::var_os).map(PathBuf::from);
    let pem = keys.pem_path.clone().or_else(|| {
        env(&[
            "STOCKADE_ENCRYPTION_PEM_PATH",
            "APPTAINER_ENCRYPTION_PEM_PATH",
            "SINGULARITY_ENCRYPTION_PEM_PATH",
        ])
    });
    if let Some(pem) = pem {
        let private = read_bounded(&pem)?;
        let msg = sif
            .descriptors()
            .iter()
            .find(|d| {
                d.data_type() == DataType::CRYPTO_MESSAGE
                    && d.link() == Link::Object(part_id)
                    && d.crypto_message().is_some_and(|m| {
                        m.format == FormatType::PEM && m.message == MessageType::RSA_OAEP
                    })
            })
            .with_context(|| {
                format!(
                    "{}: no RSA-OAEP key message for the encrypted partition",
                    path.display()
                )
            })?;
        let wrapped = sif.read_object(msg, MAX_KEY_FILE)?;
        return stockade_luks::unwrap_key(&private, &wrapped).with_context(|| {
            format!(
                "{}: cannot unwrap the image key with {}",
                path.display(),
                pem.display()
            )
        });
    }
    if let Some(f) = &keys.passphrase_file {
        let mut p = read_bounded(f)?;
        if p.last() == Some(&b'\n') {
            p.pop();
        }
        return Ok(p);
    }
    for var in [
        "STOCKADE_ENCRYPTION_PASSPHRASE",
        "APPTAINER_ENCRYPTION_PASSPHRASE",
        "SINGULARITY_ENCRYPTION_PASSPHRASE",
    ] {
        if let Some(v) = std::env::var_os(var) {
            return Ok(Zeroizing::new(std::os::unix::ffi::OsStringExt::into_vec(v)));
        }
    }
    bail!(
        "{} is encrypted: give --passphrase-file FILE or --pem-path PRIVATE.pem",
        path.display()
    )
}

fn read_bounded(p: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
    let mut buf = Zeroizing::new(Vec::new());
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", p.display()))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        bail!("{} is larger than {MAX_KEY_FILE} bytes", p.display());
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ecl_needs_images_the_caller_cannot_write() {
        assert!(writable_by(1000, 0o644, 1000));
        assert!(writable_by(0, 0o664, 1000));
        assert!(writable_by(0, 0o646, 1000));
        assert!(!writable_by(0, 0o644, 1000));
        assert!(!writable_by(0, 0o666, 0));
    }

    #[test]
    fn test_limits() {
        let mut c = AdminConfig {
            limit_container_owners: Some(vec![0]),
            ..AdminConfig::default()
        };
        assert!(check_limits(Path::new("/img/a.sif"), 0, &c).is_ok());
        assert!(check_limits(Path::new("/img/a.sif"), 1000, &c).is_err());
        c.limit_container_paths = Some(vec![PathBuf::from("/img")]);
        assert!(check_limits(Path::new("/img/sub/a.sif"), 0, &c).is_ok());
        let e = check_limits(Path::new("/imgx/a.sif"), 0, &c)
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside /img"), "{e}");
    }
}
