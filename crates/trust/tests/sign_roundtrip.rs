// SPDX-License-Identifier: Apache-2.0
//! Signing: byte-exact DSSE against the corpus, PGP and PEM round trips, gpg interop,
//! X.509 chains.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;
use stockade_sif::SifImage;
use stockade_testutil::sif;
use stockade_trust::pgp::{self, Keyring};
use stockade_trust::verify::{KeyMaterial, Selection};
use stockade_trust::{KeyKind, PrivateKey, SignSelection, SigningKeys, sign_image, x509};

fn copy_to(dir: &Path, rel: &str) -> PathBuf {
    let dst = dir.join(Path::new(rel).file_name().unwrap());
    std::fs::copy(sif(rel), &dst).unwrap();
    dst
}

fn pem_priv(name: &str) -> PrivateKey {
    PrivateKey::from_pem(
        &std::fs::read(sif(&format!("sylabs-sif/keys/{name}-private.pem"))).unwrap(),
    )
    .unwrap()
}

fn sign(path: &Path, mut keys: SigningKeys, sel: SignSelection) -> Vec<u32> {
    let mut img = SifImage::open_rw(path).unwrap();
    sign_image(&mut img, &mut keys, &sel, SystemTime::now()).unwrap()
}

fn pgp_keys(ring: &Keyring) -> SigningKeys {
    let cert = &ring.certs()[0];
    let keypair = pgp::signing_keypair(cert, None).unwrap();
    let fp = cert.fingerprint().as_bytes().to_vec();
    SigningKeys::Pgp {
        keypair,
        primary_fingerprint: fp,
    }
}

#[test]
fn dsse_signing_reproduces_apptainer_corpus_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (unsigned, signed) in [
        (
            "sylabs-sif/images/one-group.sif",
            "apptainer-sif/images/one-group-signed-dsse.sif",
        ),
        (
            "sylabs-sif/images/two-groups.sif",
            "apptainer-sif/images/two-groups-signed-dsse.sif",
        ),
    ] {
        let path = copy_to(dir.path(), unsigned);
        let keys = SigningKeys::Dsse(vec![pem_priv("ed25519"), pem_priv("rsa")]);
        sign(&path, keys, SignSelection::AllGroups);
        let ours = std::fs::read(&path).unwrap();
        assert!(
            ours == std::fs::read(sif(signed)).unwrap(),
            "{signed}: bytes differ"
        );
    }
}

#[test]
fn ed25519_envelope_matches_the_dsse_vector() {
    let golden = std::fs::read(sif("sylabs-sif/integrity-vectors/dsse-ED25519.json")).unwrap();
    let ours =
        stockade_trust::dsse::sign(b"{\"One\":1,\"Two\":2}\n", &[pem_priv("ed25519")]).unwrap();
    // The library vector has no trailing newline (sylabs), ours has Apptainer's.
    assert_eq!(&ours[..ours.len() - 1], &golden[..]);
    let env = stockade_trust::dsse::parse(&golden).unwrap();
    assert_eq!(
        stockade_trust::dsse::verify(&env, &[pem_pub("ed25519")]).unwrap(),
        [0]
    );
}

#[test]
fn every_pem_kind_round_trips_and_other_keys_fail() {
    let dir = tempfile::tempdir().unwrap();
    let kinds = [KeyKind::Ed25519, KeyKind::Rsa, KeyKind::EcdsaP256];
    let keys: Vec<PrivateKey> = kinds
        .iter()
        .map(|k| PrivateKey::generate(*k).unwrap())
        .collect();
    for (i, key) in keys.iter().enumerate() {
        let reloaded = PrivateKey::from_pem(key.to_pem().as_bytes()).unwrap();
        let public = stockade_trust::PublicKey::from_pem(key.public().to_pem().as_bytes()).unwrap();
        assert_eq!(public.key_id(), key.public().key_id());
        let path = copy_to(dir.path(), "sylabs-sif/images/two-groups.sif");
        let ids = sign(
            &path,
            SigningKeys::Dsse(vec![reloaded]),
            SignSelection::AllGroups,
        );
        assert_eq!(ids, [4, 5], "{:?}", kinds[i]);
        let good = KeyMaterial {
            pgp: None,
            dsse: vec![public],
        };
        assert_eq!(
            verdict(&run(&path, &good, Selection::Default, false)),
            "OK",
            "{:?}",
            kinds[i]
        );
        let other = KeyMaterial {
            pgp: None,
            dsse: vec![keys[(i + 1) % 3].public()],
        };
        assert!(
            verdict(&run(&path, &other, Selection::Default, false))
                .starts_with("signature object 4 not valid")
        );
    }
}

#[test]
fn pgp_signing_verifies_with_us_and_with_gpg() {
    let dir = tempfile::tempdir().unwrap();
    for (secret, public) in [
        ("sylabs-sif/keys/private.asc", "sylabs-sif/keys/private.asc"),
        (
            "apptainer/keys/pgp-private.asc",
            "apptainer/keys/pgp-public.asc",
        ),
    ] {
        let path = copy_to(dir.path(), "sylabs-sif/images/one-group.sif");
        let ids = sign(&path, pgp_keys(&keyring(secret)), SignSelection::AllGroups);
        assert_eq!(ids, [3]);
        let r = run(&path, &pgp(keyring(public)), Selection::Default, false);
        assert!(r.ok(), "{secret}: {:?}", r.first_failure());
        // Descriptor as Apptainer writes it: no group, linked to group 1, SHA-256, entity.
        let img = SifImage::open(&path).unwrap();
        let d = img.find(3).unwrap();
        assert_eq!(d.group(), None);
        assert_eq!(d.link(), stockade_sif::Link::Group(1));
        let meta = d.signature().unwrap();
        assert_eq!(meta.hash_type, stockade_sif::HashType::SHA256);
        let fp = keyring(public).certs()[0].fingerprint();
        assert_eq!(&meta.fingerprint().unwrap()[..], fp.as_bytes());
        gpg_verify(
            dir.path(),
            &sif(public),
            &img.read_object(d, 1 << 20).unwrap(),
        );
    }
}

fn gpg_verify(dir: &Path, public: &Path, signed: &[u8]) {
    let home = tempfile::tempdir_in(dir).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--quiet"])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(
        gpg(&["--import", public.to_str().unwrap()])
            .status
            .success()
    );
    let msg = dir.join("signed.asc");
    std::fs::write(&msg, signed).unwrap();
    let out = gpg(&["--verify", msg.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "gpg --verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(&msg);
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
}

#[test]
fn wrong_passphrase_and_missing_passphrase_are_refused() {
    let ring = keyring("ecl/pgpkeys/key1.asc");
    let cert = &ring.certs()[0];
    assert!(pgp::needs_passphrase(cert));
    let err = |p: Option<&[u8]>| match pgp::signing_keypair(cert, p) {
        Ok(_) => panic!("unlocked"),
        Err(e) => e.to_string(),
    };
    assert!(err(None).contains("passphrase is required"));
    assert!(err(Some(b"nope")).contains("wrong passphrase"));
    assert!(pgp::signing_keypair(cert, Some(b"e2e")).is_ok());
}

#[test]
fn x509_leaf_verifies_rsa_signatures_and_bad_chains_fail() {
    let certs = |n: &str| std::fs::read(sif(&format!("apptainer/certs/{n}.pem"))).unwrap();
    let now = SystemTime::now();
    let leaf_key = x509::verify_leaf(
        &certs("leaf"),
        Some(&certs("intermediate")),
        &certs("root"),
        now,
    )
    .unwrap();
    assert_eq!(leaf_key.key_id(), pem_pub("rsa").key_id());
    for img in [
        "sylabs-sif/images/one-group-signed-dsse.sif",
        "apptainer-sif/images/two-groups-signed-dsse.sif",
    ] {
        let keys = KeyMaterial {
            pgp: None,
            dsse: vec![leaf_key.clone()],
        };
        assert_eq!(
            verdict(&run(&image(img), &keys, Selection::Default, false)),
            "OK"
        );
    }
    let fails = |leaf: &str, inter: Option<&str>, root: &str, at: SystemTime| {
        let i = inter.map(certs);
        match x509::verify_leaf(&certs(leaf), i.as_deref(), &certs(root), at) {
            Ok(k) => panic!("{leaf} {inter:?} {root}: accepted {k:?}"),
            Err(e) => e.to_string(),
        }
    };
    assert!(fails("leaf", Some("intermediate"), "leaf", now).contains("chain not valid"));
    assert!(fails("leaf", None, "root", now).contains("chain not valid"));
    assert!(fails("intermediate", None, "root", now).contains("chain not valid"));
    let after = SystemTime::UNIX_EPOCH + Duration::from_secs(1_950_000_000);
    assert!(fails("leaf", Some("intermediate"), "root", after).contains("chain not valid"));
}

#[test]
fn expired_keys_and_altered_text_are_refused() {
    use stockade_trust::openpgp::cert::CertBuilder;
    use stockade_trust::openpgp::types::KeyFlags;
    use stockade_trust::pgp::clearsign;
    let created = SystemTime::now() - Duration::from_secs(3 * 86400);
    let (cert, _) = CertBuilder::new()
        .set_creation_time(created)
        .set_validity_period(Duration::from_secs(86400))
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .add_userid("expiring <e@example.com>")
        .generate()
        .unwrap();
    let mut kp = cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .into_keypair()
        .unwrap();
    let signed =
        clearsign::sign(b"{\"a\":1}", &mut kp, created + Duration::from_secs(3600)).unwrap();
    let ct = clearsign::parse(&signed).unwrap();
    let mut ring = Keyring::new();
    ring.insert(cert);
    let in_validity = created + Duration::from_secs(7200);
    assert!(pgp::verify_cleartext(&ct, &ring, in_validity).is_ok());
    let err = pgp::verify_cleartext(&ct, &ring, SystemTime::now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not valid") && err.contains("not live"),
        "{err}"
    );
    // A text altered after signing fails the cryptographic check.
    let mut bad = ct.clone();
    bad.text = b"{\"a\":2}".to_vec();
    let err = pgp::verify_cleartext(&bad, &ring, in_validity)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match"), "{err}");
}
