// SPDX-License-Identifier: Apache-2.0
//! `--encrypt`: the partition is a LUKS2 volume (fstype 5) that cryptsetup accepts and that
//! decrypts (with the passphrase, or the key unwrapped from the CryptoMessage) to the
//! squashfs tree.
#![allow(clippy::unwrap_used, clippy::tests_outside_test_module)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use stockade_build::{Base, BuildOptions, Encryption, NoProgress, Source, build};
use stockade_sif::{DataType, FormatType, FsType, Link, MessageType, SifImage};
use zeroize::Zeroizing;

/// A squashfs source reading through the LUKS volume.
struct Decrypting(stockade_luks::Volume);

impl stockade_squashfs::ReadAt for Decrypting {
    fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
        self.0.read_at(buf, off)
    }
}

fn build_encrypted(dir: &Path, name: &str, enc: Encryption) -> SifImage<std::fs::File> {
    let src = dir.join("rootfs");
    if !src.exists() {
        common::busybox_rootfs(&src);
        std::fs::write(src.join("secret.txt"), "top secret\n").unwrap();
    }
    let mut o = BuildOptions::new(dir.join(name), Source::Base(Base::Dir(src)));
    o.tmp_dir = dir.join("tmp");
    std::fs::create_dir_all(&o.tmp_dir).unwrap();
    o.encryption = Some(enc);
    build(&o, &mut NoProgress).unwrap();
    assert_eq!(
        std::fs::read_dir(&o.tmp_dir).unwrap().count(),
        0,
        "work directory removed"
    );
    SifImage::open(dir.join(name)).unwrap()
}

fn check_volume(img: &SifImage<std::fs::File>, secret: &[u8], dir: &Path) {
    let d = img.primary_partition().unwrap();
    assert_eq!(d.partition().unwrap().fs_type, FsType::ENCRYPTED_SQUASHFS);
    // cryptsetup accepts the partition bytes.
    let raw = dir.join("part.luks");
    std::fs::write(&raw, img.read_object(d, 1 << 30).unwrap()).unwrap();
    let out = Command::new("cryptsetup")
        .arg("luksDump")
        .arg(&raw)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "luksDump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        dump.contains("Version:       \t2") || dump.contains("Version:") && dump.contains("2"),
        "{dump}"
    );
    assert!(dump.contains("aes-xts-plain64"), "{dump}");
    // The plaintext squashfs is not in the file.
    let bytes = std::fs::read(dir.join("part.luks")).unwrap();
    assert!(
        !bytes.windows(4).any(|w| w == b"hsqs"),
        "squashfs magic visible"
    );
    // It decrypts to our tree.
    let vol = stockade_luks::Volume::open(img.source(), d.offset(), d.size(), secret).unwrap();
    let a = stockade_squashfs::Archive::open(Arc::new(Decrypting(vol))).unwrap();
    let i = a.resolve("secret.txt").unwrap();
    assert_eq!(a.read(&i, 0, 100).unwrap(), b"top secret\n");
    assert!(a.resolve(".singularity.d/actions/run").is_ok());
}

#[test]
fn passphrase_encryption() {
    let tmp = tempfile::tempdir().unwrap();
    let pass = b"correct horse battery staple".to_vec();
    let img = build_encrypted(
        tmp.path(),
        "p.sif",
        Encryption::Passphrase(Zeroizing::new(pass.clone())),
    );
    assert!(
        !img.descriptors()
            .iter()
            .any(|d| d.data_type() == DataType::CRYPTO_MESSAGE),
        "no key material stored"
    );
    check_volume(&img, &pass, tmp.path());
}

#[test]
fn pem_encryption_wraps_a_random_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pubk) = (tmp.path().join("k.pem"), tmp.path().join("pub.pem"));
    let ok = |args: &[&str]| {
        assert!(
            Command::new("openssl")
                .args(args)
                .output()
                .unwrap()
                .status
                .success(),
            "openssl {args:?}"
        )
    };
    ok(&[
        "genrsa",
        "-traditional",
        "-out",
        key.to_str().unwrap(),
        "2048",
    ]);
    ok(&[
        "rsa",
        "-in",
        key.to_str().unwrap(),
        "-RSAPublicKey_out",
        "-out",
        pubk.to_str().unwrap(),
    ]);
    let pem = std::fs::read(&pubk).unwrap();
    let img = build_encrypted(
        tmp.path(),
        "k.sif",
        Encryption::PemPublicKey {
            path: pubk.clone(),
            pem,
        },
    );
    let part = img.primary_partition().unwrap().clone();
    let msgs: Vec<_> = img
        .descriptors()
        .iter()
        .filter(|d| d.data_type() == DataType::CRYPTO_MESSAGE)
        .collect();
    assert_eq!(msgs.len(), 1);
    let cm = msgs[0].crypto_message().unwrap();
    assert_eq!(
        (cm.format, cm.message),
        (FormatType::PEM, MessageType::RSA_OAEP)
    );
    assert_eq!(msgs[0].link(), Link::Object(part.id()));
    let wrapped = img.read_object(msgs[0], 1 << 16).unwrap();
    assert!(wrapped.starts_with(b"-----BEGIN MESSAGE-----"));
    let secret = stockade_luks::unwrap_key(&std::fs::read(&key).unwrap(), &wrapped).unwrap();
    assert_eq!(secret.len(), 64);
    check_volume(&img, &secret, tmp.path());
}
