// SPDX-License-Identifier: Apache-2.0
//! `stockade key`: OpenPGP key pairs in `~/.stockade/keys` (and the root-only global public
//! keyring), plus PEM key pairs for DSSE signing.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use stockade_trust::openpgp::{Cert, Fingerprint};
use stockade_trust::pgp::{self, Keyring, NewKey, PgpKeyType};
use stockade_trust::{KeyKind, PrivateKey};

use super::keyutil::{self as ku, MAX_INPUT_BYTES};
use crate::Globals;

/// `stockade key` arguments.
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create a new key pair (OpenPGP, or PEM with --pem).
    Newpair(NewpairArgs),
    /// List keys.
    List {
        /// List the secret keyring.
        #[arg(long)]
        secret: bool,
        /// List the global public keyring.
        #[arg(long, conflicts_with = "secret")]
        global: bool,
    },
    /// Import keys from an armored or binary file.
    Import {
        /// Into the global public keyring (root only).
        #[arg(long)]
        global: bool,
        /// Key file.
        file: PathBuf,
    },
    /// Export a key (armored).
    Export {
        /// Export the secret key.
        #[arg(long)]
        secret: bool,
        /// Fingerprint (40 hex digits).
        fingerprint: String,
        /// Output file.
        file: PathBuf,
    },
    /// Remove a key.
    Remove {
        /// From the global public keyring (root only).
        #[arg(long)]
        global: bool,
        /// Fingerprint (40 hex digits).
        fingerprint: String,
    },
}

#[derive(Debug, Args)]
struct NewpairArgs {
    /// Name.
    #[arg(long)]
    name: Option<String>,
    /// E-mail.
    #[arg(long)]
    email: Option<String>,
    /// Comment.
    #[arg(long)]
    comment: Option<String>,
    /// Read the passphrase from this file (first line).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Do not protect the secret key with a passphrase.
    #[arg(long, conflicts_with = "passphrase_file")]
    no_passphrase: bool,
    /// OpenPGP key type: rsa4096 (default, as Apptainer) or ed25519.
    #[arg(long, default_value = "rsa4096")]
    key_type: String,
    /// Write a PEM key pair for DSSE instead: ed25519, rsa or ecdsa-p256.
    #[arg(long, requires = "out")]
    pem: Option<String>,
    /// PEM private key file (the public key goes to FILE.pub).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs a `stockade key` subcommand.
pub fn run(args: KeyArgs, _g: Globals) -> anyhow::Result<ExitCode> {
    match args.command {
        KeyCommand::Newpair(a) => newpair(a)?,
        KeyCommand::List { secret, global } => list(secret, global)?,
        KeyCommand::Import { global, file } => import(global, &file)?,
        KeyCommand::Export {
            secret,
            fingerprint,
            file,
        } => export(secret, &fingerprint, &file)?,
        KeyCommand::Remove {
            global,
            fingerprint,
        } => remove(global, &fingerprint)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn newpair(a: NewpairArgs) -> anyhow::Result<()> {
    if let Some(kind) = a.pem {
        let kind = KeyKind::from_name(&kind)
            .with_context(|| format!("unknown PEM key kind {kind:?} (ed25519, rsa, ecdsa-p256)"))?;
        let out = a.out.context("--pem needs --out FILE")?;
        return write_pem_pair(kind, &out);
    }
    let tty = std::io::stdin().is_terminal();
    let ask = |v: Option<String>, prompt: &str, required: bool| -> anyhow::Result<String> {
        match v {
            Some(v) => Ok(v),
            None if tty => ku::prompt_line(prompt),
            None if required => bail!("{prompt}: missing (give it as an option)"),
            None => Ok(String::new()),
        }
    };
    let name = ask(a.name, "Enter your name (e.g., John Doe) : ", true)?;
    let email = ask(
        a.email,
        "Enter your email address (e.g., john.doe@example.com) : ",
        true,
    )?;
    let comment = ask(
        a.comment,
        "Enter optional comment (e.g., development keys) : ",
        false,
    )?;
    if name.is_empty() {
        bail!("a name is required");
    }
    let passphrase = if a.no_passphrase {
        None
    } else if a.passphrase_file.is_some() || tty {
        let p = ku::passphrase(a.passphrase_file.as_deref(), "Enter a passphrase : ")?;
        if a.passphrase_file.is_none() && *ku::prompt_hidden("Retype your passphrase : ")? != *p {
            bail!("passphrases do not match");
        }
        Some(p.to_vec())
    } else {
        bail!("a passphrase is needed: use --passphrase-file or --no-passphrase");
    };
    let key_type = match a.key_type.as_str() {
        "rsa4096" | "rsa" => PgpKeyType::Rsa4096,
        "ed25519" => PgpKeyType::Ed25519,
        other => bail!("unknown key type {other:?} (rsa4096, ed25519)"),
    };
    let params = NewKey {
        name,
        email,
        comment,
        passphrase,
        key_type,
    };
    let cert = pgp::generate(&params)?;
    ku::ensure_user_keys_dir()?;
    let (pub_path, sec_path) = (ku::public_keyring_path()?, ku::secret_keyring_path()?);
    let mut secret = ku::load_keyring(&sec_path)?;
    secret.insert(cert.clone());
    secret.save(&sec_path, true, 0o600)?;
    let mut public = ku::load_keyring(&pub_path)?;
    public.insert(cert.clone().strip_secret_key_material());
    public.save(&pub_path, false, 0o644)?;
    println!(
        "Generated key pair {} ({})",
        cert.fingerprint().to_hex(),
        params.user_id()
    );
    Ok(())
}

fn write_pem_pair(kind: KeyKind, out: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = PrivateKey::generate(kind)?;
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    f.write_all(key.to_pem().as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    std::fs::write(&pub_path, key.public().to_pem())
        .with_context(|| format!("cannot write {}", pub_path.display()))?;
    println!(
        "Generated {kind} key pair: {} (private), {} (public), key id {}",
        out.display(),
        pub_path.display(),
        key.public().key_id()
    );
    Ok(())
}

fn list(secret: bool, global: bool) -> anyhow::Result<()> {
    let (what, path) = if global {
        ("Global public", ku::global_keyring_path())
    } else if secret {
        ("Private", ku::secret_keyring_path()?)
    } else {
        ("Public", ku::public_keyring_path()?)
    };
    let ring = ku::load_keyring(&path)?;
    println!("{what} key listing ({}):\n", path.display());
    for (i, cert) in ring.certs().iter().enumerate() {
        print_cert(i, cert);
    }
    Ok(())
}

fn print_cert(i: usize, cert: &Cert) {
    let uid = cert
        .userids()
        .next()
        .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
        .unwrap_or_default();
    let key = cert.primary_key().key();
    let bits = key.mpis().bits().unwrap_or(0);
    println!("{i}) User:              {uid}");
    println!("   Creation time:     {}", ku::go_time(key.creation_time()));
    println!("   Fingerprint:       {}", cert.fingerprint().to_hex());
    println!("   Length (in bits):  {bits}\n");
}

fn parse_fingerprint(s: &str) -> anyhow::Result<Fingerprint> {
    let fp =
        pgp::parse_fp(s).with_context(|| format!("{s:?} is not a 40 hex digit fingerprint"))?;
    Fingerprint::from_bytes(4, &fp)
}

fn require_root_for_global() -> anyhow::Result<()> {
    if !ku::is_root() {
        bail!(
            "only root may change the global keyring {}",
            ku::global_keyring_path().display()
        );
    }
    Ok(())
}

fn import(global: bool, file: &Path) -> anyhow::Result<()> {
    let bytes = ku::read_small(file)?;
    let incoming = Keyring::from_bytes(&bytes, file)?;
    if incoming.is_empty() {
        bail!("{}: no OpenPGP key found", file.display());
    }
    debug_assert!(bytes.len() as u64 <= MAX_INPUT_BYTES);
    if global {
        require_root_for_global()?;
        let path = ku::global_keyring_path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut ring = ku::load_keyring(&path)?;
        for c in incoming.certs() {
            ring.insert(c.clone().strip_secret_key_material());
            println!(
                "Imported public key {} into {}",
                c.fingerprint().to_hex(),
                path.display()
            );
        }
        return Ok(ring.save(&path, false, 0o644)?);
    }
    ku::ensure_user_keys_dir()?;
    let (pub_path, sec_path) = (ku::public_keyring_path()?, ku::secret_keyring_path()?);
    let mut public = ku::load_keyring(&pub_path)?;
    let mut secret = ku::load_keyring(&sec_path)?;
    let mut secret_changed = false;
    for c in incoming.certs() {
        if c.is_tsk() {
            secret.insert(c.clone());
            secret_changed = true;
            println!("Imported secret key {}", c.fingerprint().to_hex());
        }
        public.insert(c.clone().strip_secret_key_material());
        println!("Imported public key {}", c.fingerprint().to_hex());
    }
    if secret_changed {
        secret.save(&sec_path, true, 0o600)?;
    }
    Ok(public.save(&pub_path, false, 0o644)?)
}

fn export(secret: bool, fp: &str, file: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fp = parse_fingerprint(fp)?;
    let path = if secret {
        ku::secret_keyring_path()?
    } else {
        ku::public_keyring_path()?
    };
    let ring = ku::load_keyring(&path)?;
    let cert = ring
        .get(&fp)
        .with_context(|| format!("key {} not found in {}", fp.to_hex(), path.display()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    f.write_all(&pgp::keyring::armored(cert, secret))
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!("Exported key {} to {}", fp.to_hex(), file.display());
    Ok(())
}

fn remove(global: bool, fp: &str) -> anyhow::Result<()> {
    let fp = parse_fingerprint(fp)?;
    let path = if global {
        require_root_for_global()?;
        ku::global_keyring_path()
    } else {
        ku::public_keyring_path()?
    };
    let mut ring = ku::load_keyring(&path)?;
    if !ring.remove(&fp) {
        bail!("key {} not found in {}", fp.to_hex(), path.display());
    }
    ring.save(&path, false, 0o644)?;
    println!("Removed key {} from {}", fp.to_hex(), path.display());
    Ok(())
}
