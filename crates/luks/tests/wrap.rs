// SPDX-License-Identifier: Apache-2.0
//! PEM key wrapping against independent implementations: OpenSSL decrypts what we wrap, we
//! unwrap what Python's `cryptography` wraps the way Apptainer's Go code does.
// Integration tests are their own test crates: the lib-oriented lint does not apply.
#![allow(clippy::tests_outside_test_module)]

mod common;

use common::run;
use std::path::{Path, PathBuf};
use stockade_luks::{WrapError, random_key, unwrap_key, wrap_key};

struct Keys {
    _dir: tempfile::TempDir,
    pkcs1_priv: PathBuf,
    pkcs1_pub: PathBuf,
    pkcs8_priv: PathBuf,
    spki_pub: PathBuf,
}

fn openssl(args: &[&str]) {
    let (ok, _, err) = run("openssl", args, b"");
    assert!(ok, "openssl {args:?}: {err}");
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn keys(bits: &str) -> Keys {
    let dir = tempfile::tempdir().expect("tempdir");
    let k = |n: &str| dir.path().join(n);
    let (pkcs1_priv, pkcs1_pub, pkcs8_priv, spki_pub) =
        (k("priv1.pem"), k("pub1.pem"), k("priv8.pem"), k("spki.pem"));
    openssl(&["genrsa", "-traditional", "-out", p(&pkcs1_priv), bits]);
    openssl(&[
        "rsa",
        "-in",
        p(&pkcs1_priv),
        "-RSAPublicKey_out",
        "-out",
        p(&pkcs1_pub),
    ]);
    openssl(&[
        "rsa",
        "-in",
        p(&pkcs1_priv),
        "-pubout",
        "-out",
        p(&spki_pub),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        p(&pkcs1_priv),
        "-out",
        p(&pkcs8_priv),
    ]);
    Keys {
        _dir: dir,
        pkcs1_priv,
        pkcs1_pub,
        pkcs8_priv,
        spki_pub,
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read key")
}

#[test]
fn wrap_unwrap_round_trips_for_pkcs1_and_pkcs8_keys() {
    let k = keys("2048");
    let key = random_key().expect("rng");
    for public in [&k.pkcs1_pub, &k.spki_pub] {
        let msg = wrap_key(&read(public), &key).expect("wrap");
        let text = String::from_utf8(msg.clone()).expect("PEM is text");
        assert!(
            text.starts_with("-----BEGIN MESSAGE-----\n")
                && text.ends_with("-----END MESSAGE-----\n")
        );
        for private in [&k.pkcs1_priv, &k.pkcs8_priv] {
            assert_eq!(
                &unwrap_key(&read(private), &msg).expect("unwrap")[..],
                &key[..]
            );
        }
    }
    // Two wraps of one key differ (OAEP is randomised).
    assert_ne!(
        wrap_key(&read(&k.pkcs1_pub), &key).expect("wrap"),
        wrap_key(&read(&k.pkcs1_pub), &key).expect("wrap")
    );
}

#[test]
fn wrong_private_key_or_damaged_message_fails() {
    let (a, b) = (keys("2048"), keys("3072"));
    let key = random_key().expect("rng");
    let msg = wrap_key(&read(&a.pkcs1_pub), &key).expect("wrap");
    let e = unwrap_key(&read(&b.pkcs1_priv), &msg).expect_err("wrong key");
    assert!(matches!(e, WrapError::Decrypt), "{e}");
    assert_eq!(
        e.to_string(),
        "cannot decrypt the image key: wrong private key or damaged message"
    );
    let mut bad = msg.clone();
    bad[100] = if bad[100] == b'A' { b'B' } else { b'A' };
    assert!(unwrap_key(&read(&a.pkcs1_priv), &bad).is_err());
    assert!(matches!(
        unwrap_key(&read(&a.pkcs1_pub), &msg),
        Err(WrapError::WrongBlock { .. })
    ));
    assert!(matches!(
        wrap_key(&read(&a.pkcs1_priv), &key),
        Err(WrapError::WrongBlock { .. })
    ));
    assert!(matches!(
        unwrap_key(&read(&a.pkcs1_priv), &read(&a.pkcs1_pub)),
        Err(WrapError::WrongBlock { .. })
    ));
}

#[test]
fn encrypted_private_keys_are_refused_clearly() {
    let k = keys("2048");
    let dir = tempfile::tempdir().expect("tempdir");
    let legacy = dir.path().join("legacy.pem");
    let p8 = dir.path().join("p8.pem");
    let rsa = [
        "rsa",
        "-in",
        p(&k.pkcs1_priv),
        "-traditional",
        "-aes128",
        "-passout",
        "pass:x",
        "-out",
        p(&legacy),
    ];
    openssl(&rsa);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        p(&k.pkcs1_priv),
        "-passout",
        "pass:x",
        "-out",
        p(&p8),
    ]);
    let msg = wrap_key(&read(&k.pkcs1_pub), b"0123456789").expect("wrap");
    for f in [&legacy, &p8] {
        let e = unwrap_key(&read(f), &msg).expect_err("encrypted key");
        assert_eq!(
            e.to_string(),
            "passphrase-protected PEM keys are not supported"
        );
    }
}

#[test]
fn openssl_decrypts_our_message() {
    let k = keys("2048");
    let key = random_key().expect("rng");
    let msg = wrap_key(&read(&k.pkcs1_pub), &key).expect("wrap");
    let der = stockade_luks::pem::decode_first(&msg).expect("pem");
    assert_eq!(
        der.der[..4],
        [0x04, 0x82, 0x01, 0x00],
        "OCTET STRING of 256 bytes"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (ct, pt) = (dir.path().join("ct"), dir.path().join("pt"));
    std::fs::write(&ct, &der.der[4..]).expect("write ct");
    let mut args = vec![
        "pkeyutl",
        "-decrypt",
        "-inkey",
        p(&k.pkcs1_priv),
        "-in",
        p(&ct),
        "-out",
        p(&pt),
    ];
    args.extend([
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
    ]);
    openssl(&args);
    assert_eq!(std::fs::read(&pt).expect("pt"), key.to_vec());
}

/// What Apptainer's `cryptkey.EncryptKey` does: OAEP(SHA-256, MGF1-SHA-256, no label), then
/// `asn1.Marshal([]byte)` (an OCTET STRING), then `pem.Encode` as `MESSAGE`.
const PY_WRAP: &str = r#"
import sys, base64, textwrap
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
pub = serialization.load_pem_public_key(open(sys.argv[1], 'rb').read())
ct = pub.encrypt(bytes.fromhex(sys.argv[2]), padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
n = len(ct)
der = b'\x04' + (bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, 'big')) + ct
body = '\n'.join(textwrap.wrap(base64.b64encode(der).decode(), 64))
sys.stdout.write('-----BEGIN MESSAGE-----\n' + body + '\n-----END MESSAGE-----\n')
"#;

#[test]
fn we_unwrap_a_message_made_like_apptainer_does() {
    for bits in ["2048", "4096"] {
        let k = keys(bits);
        let key = random_key().expect("rng");
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let (ok, msg, err) = run("python3", &["-c", PY_WRAP, p(&k.spki_pub), &hex], b"");
        assert!(ok, "python wrap: {err}");
        assert_eq!(
            &unwrap_key(&read(&k.pkcs1_priv), msg.as_bytes()).expect("unwrap")[..],
            &key[..],
            "{bits}"
        );
    }
}
