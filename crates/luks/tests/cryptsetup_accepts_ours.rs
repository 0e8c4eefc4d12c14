// SPDX-License-Identifier: Apache-2.0
//! cryptsetup accepts what we write (no dm-crypt needed): `luksDump`, `open --test-passphrase`
//! with a prompted or `--key-file -` passphrase, `--dump-volume-key`; and our payload decrypts
//! with the key cryptsetup reports under an independent XTS (Python `cryptography`).
// Integration tests are their own test crates: the lib-oriented lint does not apply.
#![allow(clippy::tests_outside_test_module)]

mod common;

use common::{
    cryptsetup_volume_key, fast_argon2, make_volume, our_volume_key, path_str, pseudo_random, run,
};
use std::fs::File;
use stockade_luks::Volume;

/// `cryptsetup open --test-passphrase` arguments reading the key from stdin.
fn test_key_file(img: &std::path::Path) -> [&str; 5] {
    [
        "open",
        "--test-passphrase",
        "--key-file",
        "-",
        path_str(img),
    ]
}

#[test]
fn cryptsetup_accepts_our_headers_and_passphrases() {
    let dir = tempfile::tempdir().expect("tempdir");
    for ss in [4096u32, 512] {
        let img = dir.path().join(format!("ours{ss}"));
        let plain = pseudo_random(5 << 20, 6);
        let n = make_volume(&img, 0, &plain, b"pass word", fast_argon2(ss));
        let f = File::open(&img).expect("open");
        let v = Volume::open(&f, 0, n, b"pass word").expect("ours");
        let mut back = vec![0u8; plain.len() - 4097];
        assert_eq!(v.read_at(&mut back, 4097).expect("read"), back.len());
        assert!(back == plain[4097..], "read back differs");
        let uuid = v.uuid().to_owned();
        let (ok, out, err) = run("cryptsetup", &["luksDump", path_str(&img)], b"");
        assert!(ok, "luksDump refused our header: {err}");
        assert!(
            out.contains(&uuid)
                && out.contains("argon2id")
                && out.contains(&format!("sector: {ss}")),
            "{out}"
        );
        let test = test_key_file(&img);
        assert!(
            run("cryptsetup", &test, b"pass word").0,
            "key-file passphrase refused"
        );
        let prompt = ["open", "--test-passphrase", path_str(&img)];
        assert!(
            run("cryptsetup", &prompt, b"pass word\n").0,
            "prompted passphrase refused"
        );
        let (ok, _, err) = run("cryptsetup", &test, b"pass wordx");
        assert!(
            !ok && err.contains("No key available"),
            "wrong passphrase accepted: {err}"
        );
    }
}

#[test]
fn random_key_volume_is_accepted_with_a_binary_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("pem");
    let key = stockade_luks::random_key().expect("rng");
    make_volume(
        &img,
        0,
        b"payload",
        &key,
        stockade_luks::FormatOptions::random_key(),
    );
    let (ok, out, _) = run("cryptsetup", &["luksDump", path_str(&img)], b"");
    assert!(ok && out.contains("PBKDF:      pbkdf2"), "{out}");
    let test = test_key_file(&img);
    assert!(run("cryptsetup", &test, &key).0, "binary key refused");
    assert_eq!(
        cryptsetup_volume_key(&img, &key),
        our_volume_key(&img, &key).expect("unlock")
    );
}

const PY_XTS: &str = r#"
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
key, ss, path, off, n, out = bytes.fromhex(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
data = open(path, 'rb').read()[off:off + n]
res = bytearray()
for i in range(0, n, ss):
    d = Cipher(algorithms.AES(key), modes.XTS((i // 512).to_bytes(16, 'little'))).decryptor()
    res += d.update(data[i:i + ss]) + d.finalize()
open(out, 'wb').write(res)
"#;

#[test]
fn our_payload_decrypts_with_cryptsetups_key_under_python_xts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = pseudo_random(300 * 1024, 7);
    for ss in [4096u32, 512] {
        let img = dir.path().join(format!("x{ss}"));
        make_volume(&img, 0, &plain, b"k", fast_argon2(ss));
        let key = cryptsetup_volume_key(&img, b"k");
        let hexkey: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let out = dir.path().join("py.out");
        let args = [
            "-c",
            PY_XTS,
            &hexkey,
            &ss.to_string(),
            path_str(&img),
            "16777216",
            &plain.len().to_string(),
            path_str(&out),
        ];
        let (ok, _, err) = run("python3", &args, b"");
        assert!(
            ok,
            "python xts failed (python3-cryptography from scripts/setup): {err}"
        );
        assert!(
            std::fs::read(&out).expect("py output") == plain,
            "independent XTS disagrees (sector {ss})"
        );
    }
}
