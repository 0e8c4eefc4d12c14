// SPDX-License-Identifier: Apache-2.0
//! `stockade verify`: check every signature of an image and report each one; exit 0 only
//! when the image verifies. `--ecl` asks the system ECL instead, as `run` would.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use stockade_sif::SifImage;
use stockade_trust::verify::{self, Selection, SigFormat, SignerInfo, Task};
use stockade_trust::{Ecl, KeyMaterial, Keyring, PublicKey, Report, VerifyOptions, x509};

use super::keyutil as ku;
use crate::Globals;

/// `stockade verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// OpenPGP public keyring file(s) instead of the user's and the global keyrings.
    #[arg(long)]
    keyring: Vec<PathBuf>,
    /// PEM public key for DSSE signatures (repeatable).
    #[arg(long)]
    key: Vec<PathBuf>,
    /// X.509 leaf certificate whose key verifies DSSE signatures.
    #[arg(long, requires = "certificate_roots")]
    certificate: Option<PathBuf>,
    /// Intermediate certificates (PEM bundle).
    #[arg(long, requires = "certificate")]
    certificate_intermediates: Option<PathBuf>,
    /// Root certificates (PEM bundle).
    #[arg(long, requires = "certificate")]
    certificate_roots: Option<PathBuf>,
    /// Verify only this object group.
    #[arg(short = 'g', long, conflicts_with_all = ["object_id", "all"])]
    group_id: Vec<u32>,
    /// Verify only these objects (alias --sif-id).
    #[arg(short = 'i', long, alias = "sif-id", conflicts_with = "all")]
    object_id: Vec<u32>,
    /// Verify all objects (legacy: each object on its own).
    #[arg(short, long)]
    all: bool,
    /// Verify legacy (Singularity < 3.6) signatures, which cover object data only.
    #[arg(long)]
    legacy_insecure: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Decide with the system ECL and global keyring, as `run` does.
    #[arg(long, conflicts_with_all = ["keyring", "key", "certificate"])]
    ecl: bool,
    /// SIF image.
    image: PathBuf,
}

/// Runs `stockade verify`.
pub fn run(a: VerifyArgs, _g: Globals) -> anyhow::Result<ExitCode> {
    if a.ecl {
        return run_ecl(&a);
    }
    let keys = key_material(&a)?;
    let selection = match (a.group_id.is_empty(), a.object_id.is_empty(), a.all) {
        (false, _, _) => Selection::Groups(a.group_id.clone()),
        (_, false, _) => Selection::Objects(a.object_id.clone()),
        (_, _, true) => Selection::All,
        _ => Selection::Default,
    };
    let opts = VerifyOptions {
        selection,
        legacy: a.legacy_insecure,
        now: SystemTime::now(),
    };
    let img = SifImage::open(&a.image)?;
    let report = verify::verify(&img, &keys, &opts);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&a, &report))?
        );
    } else {
        print!("{}", report_text(&img, &report));
    }
    match report.first_failure() {
        None if report.ok() => Ok(ExitCode::SUCCESS),
        None => bail!("{}: nothing to verify", a.image.display()),
        Some(f) => bail!("{}: verification failed: {f}", a.image.display()),
    }
}

fn run_ecl(a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let sysconf = crate::sysconf::sysconfdir();
    let ecl = Ecl::load(&sysconf)?;
    let path = std::fs::canonicalize(&a.image)
        .with_context(|| format!("cannot resolve {}", a.image.display()))?;
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    ecl.check_global(&file, &path)?;
    let state = if ecl.activated() {
        "allows"
    } else {
        "is not activated for"
    };
    println!("ECL {} {state} {}", ecl.path().display(), path.display());
    Ok(ExitCode::SUCCESS)
}

fn key_material(a: &VerifyArgs) -> anyhow::Result<KeyMaterial> {
    let mut dsse = Vec::new();
    for p in &a.key {
        dsse.push(
            PublicKey::from_pem(&ku::read_small(p)?)
                .with_context(|| format!("cannot load public key {}", p.display()))?,
        );
    }
    if let (Some(leaf), Some(roots)) = (&a.certificate, &a.certificate_roots) {
        let inter = a
            .certificate_intermediates
            .as_ref()
            .map(|p| ku::read_small(p))
            .transpose()?;
        let key = x509::verify_leaf(
            &ku::read_small(leaf)?,
            inter.as_deref(),
            &ku::read_small(roots)?,
            SystemTime::now(),
        )
        .with_context(|| format!("certificate {} not accepted", leaf.display()))?;
        dsse.push(key);
    }
    let pgp = if !a.keyring.is_empty() {
        let mut ring = Keyring::new();
        for p in &a.keyring {
            ring.extend(&Keyring::from_bytes(&ku::read_small(p)?, p)?);
        }
        Some(ring)
    } else if dsse.is_empty() {
        let mut ring = ku::load_keyring(&ku::public_keyring_path()?)?;
        ring.extend(&ku::load_keyring(&ku::global_keyring_path())?);
        Some(ring)
    } else {
        None
    };
    Ok(KeyMaterial { pgp, dsse })
}

fn task_name(t: &Task) -> String {
    match t {
        Task::Group(g) => format!("group {g}"),
        Task::Objects { group, ids } => format!("group {group} objects {ids:?}"),
        Task::LegacyObject(id) => format!("legacy object {id}"),
        Task::LegacyGroup(g) => format!("legacy group {g}"),
    }
}

fn format_name(f: SigFormat) -> &'static str {
    match f {
        SigFormat::Pgp => "PGP",
        SigFormat::Dsse => "DSSE",
        SigFormat::LegacyPgp => "legacy PGP",
        SigFormat::Unknown => "unknown format",
    }
}

fn signer_text(s: &SignerInfo) -> String {
    match s {
        SignerInfo::Pgp {
            fingerprint,
            user_id,
        } => {
            format!(
                "{} ({fingerprint})",
                user_id.as_deref().unwrap_or("no user id")
            )
        }
        SignerInfo::Dsse { key_ids } => format!("key {}", key_ids.join(", key ")),
    }
}

fn report_text(img: &SifImage, r: &Report) -> String {
    let mut out = format!("Verifying image: {}\n", img.path().display());
    for t in &r.tasks {
        if let Some(f) = &t.failure {
            out.push_str(&format!("[{}] FAILED: {f}\n", task_name(&t.task)));
        }
        for s in &t.signatures {
            let fp = s
                .descriptor_fingerprint
                .map(|f| stockade_trust::pgp::fp_hex(&f));
            out.push_str(&format!(
                "[{}] signature object {} ({}{}): ",
                task_name(&t.task),
                s.id,
                format_name(s.format),
                fp.map(|f| format!(", entity {f}")).unwrap_or_default()
            ));
            match &s.result {
                Ok(()) => out.push_str("valid\n"),
                Err(f) => out.push_str(&format!("NOT VALID: {f}\n")),
            }
            if let Some(signer) = &s.signer {
                out.push_str(&format!("    signed by: {}\n", signer_text(signer)));
            }
            if !s.verified_objects.is_empty() {
                let ids: Vec<String> = s.verified_objects.iter().map(u32::to_string).collect();
                out.push_str(&format!("    objects verified: {}\n", ids.join(", ")));
            }
        }
    }
    if let Some(f) = &r.failure {
        out.push_str(&format!("FAILED: {f}\n"));
    }
    if r.ok() {
        out.push_str("Objects verified:\nID  |GROUP   |LINK    |TYPE\n------------------------------------------------\n");
        for id in r.verified_objects() {
            if let Some(d) = img.find(id) {
                let group = d.group().map_or("NONE".to_string(), |g| g.to_string());
                out.push_str(&format!(
                    "{id:<4}|{group:<8}|{:<8}|{}\n",
                    link_text(d.link()),
                    d.data_type().label()
                ));
            }
        }
        out.push_str(&format!("Container verified: {}\n", img.path().display()));
    }
    out
}

fn link_text(l: stockade_sif::Link) -> String {
    match l {
        stockade_sif::Link::None => "NONE".into(),
        stockade_sif::Link::Object(id) => id.to_string(),
        stockade_sif::Link::Group(g) => format!("{g}   (G)"),
    }
}

fn report_json(a: &VerifyArgs, r: &Report) -> serde_json::Value {
    let tasks: Vec<_> = r
        .tasks
        .iter()
        .map(|t| {
            let sigs: Vec<_> = t
                .signatures
                .iter()
                .map(|s| {
                    let signer = s.signer.as_ref().map(|si| match si {
                        SignerInfo::Pgp { fingerprint, user_id } => json!({"fingerprint": fingerprint, "user_id": user_id}),
                        SignerInfo::Dsse { key_ids } => json!({"key_ids": key_ids}),
                    });
                    json!({
                        "id": s.id,
                        "format": format_name(s.format),
                        "entity": s.descriptor_fingerprint.map(|f| stockade_trust::pgp::fp_hex(&f)),
                        "signer": signer,
                        "verified_objects": s.verified_objects,
                        "valid": s.result.is_ok(),
                        "error": s.result.as_ref().err().map(ToString::to_string),
                    })
                })
                .collect();
            json!({"task": task_name(&t.task), "error": t.failure.as_ref().map(ToString::to_string), "signatures": sigs})
        })
        .collect();
    json!({
        "image": a.image,
        "verified": r.ok(),
        "error": r.first_failure().map(ToString::to_string),
        "verified_objects": r.verified_objects(),
        "tasks": tasks,
    })
}
