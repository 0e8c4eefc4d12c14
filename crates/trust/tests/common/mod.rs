// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the trust integration tests: corpus keys and images.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use stockade_sif::SifImage;
use stockade_testutil::sif;
use stockade_trust::verify::{self, KeyMaterial, Report, Selection, VerifyOptions};
use stockade_trust::{Keyring, PublicKey};

pub fn keyring(rel: &str) -> Keyring {
    let p = sif(rel);
    Keyring::from_bytes(&std::fs::read(&p).unwrap(), &p).unwrap()
}

/// PGP-U (sylabs test key, 12045C8C…).
pub fn pgp_u() -> Keyring {
    keyring("sylabs-sif/keys/private.asc")
}

/// PGP-S (apptainer test key, F34371D0…).
pub fn pgp_s() -> Keyring {
    keyring("apptainer/keys/pgp-public.asc")
}

pub fn pem_pub(name: &str) -> PublicKey {
    PublicKey::from_pem(&std::fs::read(sif(&format!("sylabs-sif/keys/{name}-public.pem"))).unwrap())
        .unwrap()
}

pub fn pgp(ring: Keyring) -> KeyMaterial {
    KeyMaterial {
        pgp: Some(ring),
        dsse: Vec::new(),
    }
}

pub fn dsse(keys: &[&str]) -> KeyMaterial {
    KeyMaterial {
        pgp: None,
        dsse: keys.iter().map(|k| pem_pub(k)).collect(),
    }
}

pub fn run(path: &Path, keys: &KeyMaterial, selection: Selection, legacy: bool) -> Report {
    let img = SifImage::open(path).unwrap();
    let opts = VerifyOptions {
        selection,
        legacy,
        now: SystemTime::now(),
    };
    verify::verify(&img, keys, &opts)
}

pub fn image(rel: &str) -> PathBuf {
    sif(rel)
}

/// "OK" or the first failure's message.
pub fn verdict(r: &Report) -> String {
    if r.ok() {
        "OK".to_string()
    } else {
        r.first_failure()
            .map_or("no tasks".to_string(), ToString::to_string)
    }
}

/// Signs every group of `path` with the corpus ECL key `ecl/pgpkeys/<key>.asc` (passphrase
/// `e2e`).
pub fn sign_pgp(path: &Path, key: &str) {
    use stockade_trust::{SignSelection, SigningKeys, pgp, sign_image};
    let ring = keyring(&format!("ecl/pgpkeys/{key}.asc"));
    let cert = &ring.certs()[0];
    let keypair = pgp::signing_keypair(cert, Some(b"e2e")).unwrap();
    let mut keys = SigningKeys::Pgp {
        keypair,
        primary_fingerprint: cert.fingerprint().as_bytes().to_vec(),
    };
    let mut img = SifImage::open_rw(path).unwrap();
    sign_image(
        &mut img,
        &mut keys,
        &SignSelection::AllGroups,
        SystemTime::now(),
    )
    .unwrap();
}
