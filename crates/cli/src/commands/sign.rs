// SPDX-License-Identifier: Apache-2.0
//! `stockade sign`: add signature objects as Apptainer does (PGP clear-signed metadata, or a
//! DSSE envelope with `--key`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, bail};
use clap::Args;
use stockade_sif::SifImage;
use stockade_trust::pgp::{self, Keyring};
use stockade_trust::{PrivateKey, SignSelection, SigningKeys, sign_image};

use super::keyutil as ku;
use crate::Globals;

/// `stockade sign` arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// OpenPGP secret key file (armored or binary) to sign with.
    #[arg(long, conflicts_with = "key")]
    keyring: Option<PathBuf>,
    /// Index of the key in the user's secret keyring (`stockade key list --secret`).
    #[arg(long, conflicts_with_all = ["key", "keyring"])]
    keyidx: Option<usize>,
    /// PEM private key (Ed25519, RSA, ECDSA P-256): DSSE signature; repeat to add signers.
    #[arg(long)]
    key: Vec<PathBuf>,
    /// Read the key passphrase from this file (first line).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Sign only this object group.
    #[arg(short = 'g', long, conflicts_with_all = ["object_id", "all"])]
    group_id: Option<u32>,
    /// Sign only these objects (repeatable; alias --sif-id).
    #[arg(short = 'i', long, alias = "sif-id", conflicts_with = "all")]
    object_id: Vec<u32>,
    /// Sign every object group (the default).
    #[arg(short, long)]
    all: bool,
    /// SIF image.
    image: PathBuf,
}

/// Runs `stockade sign`.
pub fn run(a: SignArgs, _g: Globals) -> anyhow::Result<ExitCode> {
    let selection = match (a.group_id, a.object_id.is_empty()) {
        (Some(g), _) => SignSelection::Group(g),
        (None, false) => SignSelection::Objects(a.object_id.clone()),
        (None, true) => SignSelection::AllGroups,
    };
    let mut keys = signing_keys(&a)?;
    let mut img = SifImage::open_rw(&a.image)?;
    let ids = sign_image(&mut img, &mut keys, &selection, SystemTime::now())
        .with_context(|| format!("cannot sign {}", a.image.display()))?;
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    println!(
        "Signature created and applied to image '{}' (signature objects {})",
        a.image.display(),
        ids.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn signing_keys(a: &SignArgs) -> anyhow::Result<SigningKeys> {
    if !a.key.is_empty() {
        let keys = a
            .key
            .iter()
            .map(|p| {
                PrivateKey::from_pem(&ku::read_small(p)?)
                    .with_context(|| format!("cannot load private key {}", p.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        return Ok(SigningKeys::Dsse(keys));
    }
    let (ring, source) = match &a.keyring {
        Some(p) => (Keyring::from_bytes(&ku::read_small(p)?, p)?, p.clone()),
        None => {
            let p = ku::secret_keyring_path()?;
            (ku::load_keyring(&p)?, p)
        }
    };
    let secret: Vec<_> = ring.certs().iter().filter(|c| c.is_tsk()).collect();
    let cert = match (a.keyidx, secret.len()) {
        (_, 0) => bail!(
            "no secret key in {} (stockade key newpair / import)",
            source.display()
        ),
        (Some(i), n) => *secret
            .get(i)
            .with_context(|| format!("--keyidx {i}: {} holds {n} secret keys", source.display()))?,
        (None, 1) => secret[0],
        (None, n) => bail!(
            "{} holds {n} secret keys: choose one with --keyidx",
            source.display()
        ),
    };
    let passphrase = if pgp::needs_passphrase(cert) {
        let prompt = format!(
            "Enter key passphrase for {} : ",
            cert.fingerprint().to_hex()
        );
        Some(ku::passphrase(a.passphrase_file.as_deref(), &prompt)?)
    } else {
        None
    };
    let keypair = pgp::signing_keypair(cert, passphrase.as_deref().map(|p| p.as_slice()))?;
    Ok(SigningKeys::Pgp {
        keypair,
        primary_fingerprint: cert.fingerprint().as_bytes().to_vec(),
    })
}
