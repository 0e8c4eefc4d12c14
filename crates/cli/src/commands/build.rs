// SPDX-License-Identifier: Apache-2.0
//! `stockade build [--force] [--fakeroot] [--notest] [--encrypt (--passphrase-file F |
//! --pem-path PUB.pem)] OUT.sif SOURCE` over `stockade-build`. A progress bar is drawn on a
//! terminal (stderr) unless `--quiet`; the bar never starts a thread (the process may still
//! clone a container for `%post`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stockade_build::{BuildOptions, Encryption, Progress, Source};
use zeroize::Zeroizing;

use crate::Globals;

/// `stockade build` arguments.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Overwrite OUT if it exists.
    #[arg(short = 'F', long)]
    force: bool,
    /// Run %post and %test as root of a user namespace mapped to you (no real root).
    #[arg(short = 'f', long)]
    fakeroot: bool,
    /// Do not run the %test section.
    #[arg(short = 'T', long)]
    notest: bool,
    /// Encrypt the root filesystem (LUKS2), with --passphrase-file, --pem-path or
    /// $STOCKADE_ENCRYPTION_PASSPHRASE / $APPTAINER_ENCRYPTION_PASSPHRASE.
    #[arg(short = 'e', long)]
    encrypt: bool,
    /// File holding the passphrase (one trailing newline ignored).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// RSA public key (PEM) the random encryption key is wrapped for.
    #[arg(long, value_name = "PUB.pem")]
    pem_path: Option<PathBuf>,
    /// Value for a %arguments variable: NAME=value (repeatable).
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_args: Vec<String>,
    /// Directory for the temporary root filesystem (default $STOCKADE_TMPDIR or $TMPDIR or /tmp).
    #[arg(long, value_name = "DIR")]
    tmpdir: Option<PathBuf>,
    /// The SIF image to write.
    out: PathBuf,
    /// A root directory, oci:DIR[:tag], oci-archive:FILE[:tag], docker-archive:FILE[:tag],
    /// a SIF image or a definition file.
    source: String,
}

/// Runs `stockade build`.
pub fn run(a: BuildArgs, g: Globals) -> anyhow::Result<ExitCode> {
    let source = Source::parse(&a.source)?;
    let mut o = BuildOptions::new(a.out.clone(), source);
    o.force = a.force;
    o.fakeroot = a.fakeroot;
    o.notest = a.notest;
    o.build_args = build_args(&a.build_args)?;
    o.encryption = encryption(&a)?;
    if let Some(dir) = a
        .tmpdir
        .clone()
        .or_else(|| std::env::var_os("STOCKADE_TMPDIR").map(PathBuf::from))
    {
        o.tmp_dir = dir;
    }
    if let Source::DefFile(path) = &o.source {
        let def = stockade_build::deffile::DefFile::load(path, &o.build_args)?;
        if stockade_build::post::needs_runtime(&def, o.notest) {
            // %post/%test start containers: re-execute from a sealed copy first (before any work).
            stockade_runtime::seal::ensure_sealed(&stockade_runtime::Runtime::default_root())?;
        }
    }
    let mut bar = Bar::new(g.quiet);
    let report = stockade_build::build(&o, &mut bar)?;
    bar.finish();
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    if !g.quiet {
        eprintln!(
            "Build complete: {} ({}, {:.1} MiB, {:.1} s)",
            a.out.display(),
            report.arch,
            report.image_bytes as f64 / 1048576.0,
            report.elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn build_args(list: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for a in list {
        let (k, v) = a
            .split_once('=')
            .with_context(|| format!("--build-arg {a}: expected NAME=value"))?;
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

fn encryption(a: &BuildArgs) -> anyhow::Result<Option<Encryption>> {
    if !a.encrypt {
        if a.passphrase_file.is_some() || a.pem_path.is_some() {
            bail!("--passphrase-file and --pem-path need --encrypt");
        }
        return Ok(None);
    }
    match (&a.passphrase_file, &a.pem_path) {
        (Some(_), Some(_)) => bail!("--passphrase-file and --pem-path are exclusive"),
        (Some(f), None) => {
            let mut p = Zeroizing::new(
                std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?,
            );
            if p.last() == Some(&b'\n') {
                p.pop();
            }
            if p.is_empty() {
                bail!("{}: empty passphrase", f.display());
            }
            Ok(Some(Encryption::Passphrase(p)))
        }
        (None, Some(f)) => {
            let pem = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            Ok(Some(Encryption::PemPublicKey {
                path: f.clone(),
                pem,
            }))
        }
        (None, None) => {
            let env = std::env::var_os("STOCKADE_ENCRYPTION_PASSPHRASE")
                .or_else(|| std::env::var_os("APPTAINER_ENCRYPTION_PASSPHRASE"));
            match env.filter(|v| !v.is_empty()) {
                Some(v) => Ok(Some(Encryption::Passphrase(Zeroizing::new(
                    v.into_encoded_bytes(),
                )))),
                None => bail!(
                    "--encrypt needs --passphrase-file, --pem-path or $STOCKADE_ENCRYPTION_PASSPHRASE"
                ),
            }
        }
    }
}

/// indicatif bar on stderr (hidden when not a terminal or `--quiet`), no ticker thread.
struct Bar {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Bar {
    fn new(quiet: bool) -> Bar {
        Bar { bar: None, quiet }
    }
}

impl Progress for Bar {
    fn start(&mut self, stage: &str, total: u64) {
        self.finish();
        if self.quiet {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = if total > 0 {
            "{msg:>10} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}"
        } else {
            "{msg:>10} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(stage.to_string());
        self.bar = Some(bar);
    }

    fn set(&mut self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    fn info(&mut self, line: &str) {
        if !self.quiet {
            match &self.bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
    }
}
