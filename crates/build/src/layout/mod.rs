// SPDX-License-Identifier: Apache-2.0
//! The `/.singularity.d` layout Apptainer's runtime expects (and ours uses):
//! `actions/{exec,run,shell,start,test}`, `env/{01-base,10-docker2singularity,
//! 90-environment,94-appsbase,95-apps,99-base,99-runtimevars}.sh`, `labels.json`,
//! `runscript`, `runscript.help`, `startscript`, `test`, `Singularity`, `libs/`, and the
//! `/singularity`, `/.exec`, `/.run`, `/.shell`, `/.test`, `/environment` symlinks.
//! Everything is written through the tree's in-root, no-follow operations: an image whose
//! `.singularity.d` is a symlink to `/etc` gets `<root>/etc/...`, never the host's.

pub mod arch;
mod inspect;
pub mod oci;
pub mod scripts;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::AsFd;

use serde::Serialize;

use crate::extract::tree::{DirCache, Meta, Tree};
pub use inspect::{InspectMetadata, write};

/// Largest existing `labels.json` / `90-environment.sh` read back from a base image.
const MAX_READBACK: u64 = 1 << 20;

/// What a build puts in `/.singularity.d` beyond the base files.
#[derive(Debug, Default, Clone)]
pub struct Layout {
    /// The definition file (`Singularity`).
    pub deffile: Option<Vec<u8>>,
    /// Full runscript (replaces the existing one).
    pub runscript: Option<String>,
    /// Full startscript.
    pub startscript: Option<String>,
    /// Full test script.
    pub test: Option<String>,
    /// Help text.
    pub help: Option<String>,
    /// `%environment` text appended to `90-environment.sh`.
    pub environment: Option<String>,
    /// Contents of `10-docker2singularity.sh`.
    pub docker_env: Option<String>,
    /// Labels merged over those already in the image.
    pub labels: BTreeMap<String, String>,
}

const SD: &str = ".singularity.d";

/// Writes a file at `rel` inside the tree (replacing what is there), mode `mode`.
pub fn put_file(
    tree: &Tree,
    cache: &mut DirCache,
    rel: &str,
    data: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let dir = tree.dir(cache, parent.as_bytes())?;
    Tree::clear(dir, name.as_bytes(), false)?;
    let mut f = Tree::create_file(dir, name.as_bytes())?;
    f.write_all(data)?;
    // Owner: root when privileged (we are root), else ours (mksquashfs -all-root).
    rustix::fs::fchmod(f.as_fd(), rustix::fs::Mode::from_raw_mode(mode))?;
    cache.clear();
    Ok(())
}

/// Reads a small file at `rel` in the tree (in-root resolution, no-follow final component).
pub fn read_file(tree: &Tree, rel: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let dir = tree.resolve(parent.as_bytes()).ok()?;
    let flags =
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC;
    let fd = rustix::fs::openat(&dir, name, flags, rustix::fs::Mode::empty()).ok()?;
    let f = std::fs::File::from(fd);
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut v = Vec::new();
    f.take(MAX_READBACK).read_to_end(&mut v).ok()?;
    Some(v)
}

fn exists(tree: &Tree, rel: &str) -> bool {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    tree.resolve(parent.as_bytes())
        .is_ok_and(|d| rustix::fs::statat(&d, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok())
}

fn now() -> i64 {
    stockade_sif::now_unix()
}

/// Creates the base layout: directories, action and environment scripts (always rewritten),
/// default runscript/startscript, `etc/hosts`/`etc/resolv.conf` and the top symlinks (only
/// when missing).
pub fn base(tree: &Tree) -> std::io::Result<()> {
    let mut c = DirCache::default();
    make_dirs(tree, &mut c)?;
    write_scripts(tree, &mut c)?;
    write_missing_defaults(tree, &mut c)?;
    link_missing(tree)
}

/// The directories every image has.
fn make_dirs(tree: &Tree, c: &mut DirCache) -> std::io::Result<()> {
    for d in [
        "dev",
        "proc",
        "root",
        "var/tmp",
        "tmp",
        "etc",
        "sys",
        "home",
        ".singularity.d/libs",
        ".singularity.d/actions",
        ".singularity.d/env",
    ] {
        tree.dir(c, d.as_bytes())?;
    }
    Ok(())
}

/// The action scripts and the fixed environment scripts (always rewritten).
fn write_scripts(tree: &Tree, c: &mut DirCache) -> std::io::Result<()> {
    for (name, text) in [
        ("exec", scripts::exec()),
        ("run", scripts::run()),
        ("shell", scripts::shell()),
        ("start", scripts::start()),
        ("test", scripts::test()),
    ] {
        let rel = format!("{SD}/actions/{name}");
        put_file(tree, c, &rel, text.as_bytes(), 0o755)?;
    }
    for (name, text) in [
        ("01-base.sh", scripts::ENV_BASE),
        ("95-apps.sh", scripts::ENV_APPS),
        ("99-base.sh", scripts::ENV_99_BASE),
        ("99-runtimevars.sh", scripts::ENV_RUNTIMEVARS),
        ("94-appsbase.sh", ""),
    ] {
        let rel = format!("{SD}/env/{name}");
        put_file(tree, c, &rel, text.as_bytes(), 0o755)?;
    }
    Ok(())
}

/// Default environment, runscript, startscript, hosts and resolv.conf, where the base image
/// has none.
fn write_missing_defaults(tree: &Tree, c: &mut DirCache) -> std::io::Result<()> {
    let defaults = [
        (
            format!("{SD}/env/90-environment.sh"),
            scripts::ENV_ENVIRONMENT,
            0o755,
        ),
        (format!("{SD}/runscript"), scripts::RUNSCRIPT_DEFAULT, 0o755),
        (
            format!("{SD}/startscript"),
            scripts::STARTSCRIPT_DEFAULT,
            0o755,
        ),
        ("etc/hosts".to_string(), "", 0o644),
        ("etc/resolv.conf".to_string(), "", 0o644),
    ];
    for (rel, text, mode) in defaults {
        if !exists(tree, &rel) {
            put_file(tree, c, &rel, text.as_bytes(), mode)?;
        }
    }
    Ok(())
}

/// The `/singularity`, `/.run`, `/.exec`, `/.shell`, `/.test` and `/environment` links, where
/// missing.
fn link_missing(tree: &Tree) -> std::io::Result<()> {
    let links = [
        ("singularity", ".singularity.d/runscript"),
        (".run", ".singularity.d/actions/run"),
        (".exec", ".singularity.d/actions/exec"),
        (".shell", ".singularity.d/actions/shell"),
        (".test", ".singularity.d/actions/test"),
        ("environment", ".singularity.d/env/90-environment.sh"),
    ];
    for (name, target) in links {
        if !exists(tree, name) {
            let meta = Meta {
                mode: 0o777,
                uid: 0,
                gid: 0,
                mtime: now(),
            };
            tree.create_symlink(tree.root(), name.as_bytes(), target.as_bytes(), meta)?;
        }
    }
    Ok(())
}

/// `labels.json` as Apptainer writes it (sorted keys, tab indent).
pub fn labels_json(labels: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // A map of strings always serializes.
    let _ = labels.serialize(&mut ser);
    out
}

/// Build labels Apptainer adds (`org.label-schema.*`).
pub fn build_labels(
    arch: &str,
    bootstrap: &str,
    from: &str,
    time: i64,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("org.label-schema.schema-version".into(), "1.0".into());
    m.insert("org.label-schema.build-arch".into(), arch.into());
    m.insert("org.label-schema.build-date".into(), arch::build_date(time));
    m.insert(
        "org.label-schema.usage.singularity.deffile.bootstrap".into(),
        bootstrap.into(),
    );
    m.insert(
        "org.label-schema.usage.singularity.deffile.from".into(),
        from.into(),
    );
    m.insert(
        "org.label-schema.usage.stockade.version".into(),
        env!("CARGO_PKG_VERSION").into(),
    );
    m
}

/// Puts a definition file's sections into the layout (scripts replace, labels merge).
pub fn apply_def(d: &crate::deffile::DefFile, l: &mut Layout) {
    if let Some(s) = &d.runscript {
        l.runscript = Some(scripts::section_script(&s.body));
    }
    if let Some(s) = &d.startscript {
        l.startscript = Some(scripts::section_script(&s.body));
    }
    if let Some(s) = &d.test {
        l.test = Some(scripts::section_script(&s.body));
    }
    if let Some(s) = &d.environment {
        l.environment = Some(s.body.clone());
    }
    if let Some(s) = &d.help {
        l.help = Some(format!("{}\n", s.body));
        l.labels.insert(
            "org.label-schema.usage".into(),
            "/.singularity.d/runscript.help".into(),
        );
        l.labels.insert(
            "org.label-schema.usage.singularity.runscript.help".into(),
            "/.singularity.d/runscript.help".into(),
        );
    }
    l.labels.extend(d.labels.iter().cloned());
}
