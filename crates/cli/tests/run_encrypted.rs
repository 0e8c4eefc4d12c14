// SPDX-License-Identifier: Apache-2.0
//! Encrypted images (LUKS2 root partition, SIF fstype 5): unlocked in user space by the FUSE
//! server — as root and as a plain user, with a passphrase file or an RSA private key
//! (the image key wrapped with RSA-OAEP in a CryptoMessage linked to the partition).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::*;
use stockade_sif::{
    Arch, Builder, CryptoMessageMeta, DataType, FormatType, FsType, Link, MessageType, ObjectInput,
    PartType, PartitionMeta,
};

/// A SIF whose root partition is the test rootfs encrypted with `secret`; with `wrap`, the
/// secret is also stored RSA-OAEP-wrapped to that public key.
fn encrypted_sif(dir: &Path, secret: &[u8], wrap: Option<&Path>) -> PathBuf {
    let root = dir.join("rootfs");
    if !root.exists() {
        test_rootfs(&root);
    }
    let sq = dir.join("root.sqfs");
    squashfs(&root, &sq);
    let plain = std::fs::read(&sq).unwrap();
    let payload_path = dir.join("payload.luks");
    let mut payload = std::fs::File::create(&payload_path).unwrap();
    let opts = stockade_luks::FormatOptions::random_key();
    stockade_luks::format(
        &mut payload,
        0,
        &mut &plain[..],
        plain.len() as u64,
        secret,
        opts,
    )
    .unwrap();
    let data = std::fs::read(&payload_path).unwrap();
    let meta = PartitionMeta {
        fs_type: FsType::ENCRYPTED_SQUASHFS,
        part_type: PartType::PRIM_SYS,
        arch: Arch::host(),
    };
    let mut b = Builder::new()
        .object(
            ObjectInput::from_bytes(DataType::DEFFILE, b"Bootstrap: scratch\n".to_vec())
                .group(Some(1)),
        )
        .object(
            ObjectInput::from_bytes(DataType::PARTITION, data)
                .group(Some(1))
                .partition(meta),
        );
    if let Some(public) = wrap {
        let msg = stockade_luks::wrap_key(&std::fs::read(public).unwrap(), secret).unwrap();
        let cm = CryptoMessageMeta {
            format: FormatType::PEM,
            message: MessageType::RSA_OAEP,
        };
        b = b.object(
            ObjectInput::from_bytes(DataType::CRYPTO_MESSAGE, msg)
                .link(Link::Object(2))
                .crypto_message(cm),
        );
    }
    let out = dir.join(if wrap.is_some() {
        "pem.sif"
    } else {
        "pass.sif"
    });
    b.create(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    for f in [sq, payload_path] {
        std::fs::remove_file(f).unwrap();
    }
    out
}

fn readable(p: &Path, text: &[u8]) -> PathBuf {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.to_path_buf()
}

#[test]
fn passphrase_image_runs_as_root_and_user() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let sif = encrypted_sif(dir.path(), b"correct horse", None);
    let s = sif.to_str().unwrap();
    let good = readable(&dir.path().join("good"), b"correct horse\n");
    let bad = readable(&dir.path().join("bad"), b"wrong\n");
    let g = good.to_str().unwrap();
    let (_, _, home) = test_user();
    for (who, o) in [
        (
            "root",
            run_root(
                dir.path(),
                &[
                    "exec",
                    "--passphrase-file",
                    g,
                    s,
                    "cat",
                    "/.singularity.d/test",
                ],
            ),
        ),
        (
            "user",
            run_user(
                &home,
                &[
                    "exec",
                    "--passphrase-file",
                    g,
                    s,
                    "cat",
                    "/.singularity.d/test",
                ],
            ),
        ),
    ] {
        assert_eq!(ok(&o), "#!/bin/sh\necho test-ok\n", "{who}");
    }
    for (who, o) in [
        (
            "root",
            run_root(
                dir.path(),
                &[
                    "exec",
                    "--passphrase-file",
                    bad.to_str().unwrap(),
                    s,
                    "true",
                ],
            ),
        ),
        ("user", run_user(&home, &["exec", s, "true"])),
    ] {
        assert_eq!(o.status.code(), Some(255), "{who}");
        assert_eq!(err(&o).lines().count(), 1, "{who}: {}", err(&o));
        assert!(err(&o).contains(s), "{who}: {}", err(&o));
    }
    assert_nothing_left(&sif);
}

#[test]
fn pem_wrapped_image_runs_as_user() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let private = dir.path().join("rsa.pem");
    let public = dir.path().join("rsa-pub.pem");
    let genrsa = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&private)
        .arg("2048")
        .output()
        .unwrap();
    assert!(genrsa.status.success(), "{}", err(&genrsa));
    let p = Command::new("openssl")
        .arg("rsa")
        .arg("-in")
        .arg(&private)
        .args(["-RSAPublicKey_out", "-out"])
        .arg(&public)
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", err(&p));
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key: Vec<u8> = (0..64u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let sif = encrypted_sif(dir.path(), &key, Some(&public));
    let (_, _, home) = test_user();
    let o = run_user(
        &home,
        &[
            "exec",
            "--pem-path",
            private.to_str().unwrap(),
            sif.to_str().unwrap(),
            "/.singularity.d/test",
        ],
    );
    assert_eq!(ok(&o), "test-ok\n");
    assert_nothing_left(&sif);
}
