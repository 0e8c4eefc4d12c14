// SPDX-License-Identifier: Apache-2.0
//! `stockade inspect [--json] [--labels|--deffile|--runscript|--startscript|--test|
//! --environment|--helpfile|--all] IMAGE`, printed like `apptainer inspect`.
//!
//! Nothing is mounted or run: the files of `/.singularity.d` are read from the SIF's
//! squashfs partition with our own reader (symlinks followed inside the image, every read
//! bounded), or from a sandbox directory in-root; the definition file comes from the SIF's
//! Deffile object. An encrypted image falls back to its `inspect-metadata.json` object.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use stockade_sif::{DataType, FsType, SifImage};
use stockade_squashfs::inode::{Body, Inode, Kind};
use stockade_squashfs::{Archive, FileSource};

use crate::Globals;
use crate::launch::rootfs;

/// Upper bound on any file or object read.
pub const MAX_READ: u64 = 4 << 20;
/// Symlinks followed per lookup.
const MAX_LINKS: usize = 40;

/// `stockade inspect` arguments.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Print JSON instead of sections.
    #[arg(short, long)]
    json: bool,
    /// The labels (default).
    #[arg(short, long)]
    labels: bool,
    /// The definition file used to build the image.
    #[arg(long)]
    deffile: bool,
    /// The runscript.
    #[arg(short, long)]
    runscript: bool,
    /// The startscript.
    #[arg(short, long)]
    startscript: bool,
    /// The test script.
    #[arg(short, long)]
    test: bool,
    /// The environment scripts.
    #[arg(short, long)]
    environment: bool,
    /// The runscript help file.
    #[arg(short = 'H', long)]
    helpfile: bool,
    /// Everything (implies --json).
    #[arg(long)]
    all: bool,
    /// A SIF image, a squashfs file or a sandbox directory.
    image: PathBuf,
}

/// Apptainer's `inspect.Metadata` layout (field order and names matter for `--json`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Attributes {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    runscript: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    test: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    helpfile: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    deffile: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    startscript: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    attributes: Attributes,
}

#[derive(Debug, Serialize, Deserialize)]
struct Metadata {
    data: Data,
    #[serde(rename = "type")]
    kind: String,
}

/// Where the image's files are read from.
enum Files {
    Squash(Box<Archive>),
    Dir(PathBuf),
    /// Encrypted: only the SIF's `inspect-metadata.json` is readable.
    Sealed,
}

/// Runs `inspect`.
pub fn run(a: InspectArgs, _g: Globals) -> Result<ExitCode> {
    let file =
        File::open(&a.image).with_context(|| format!("cannot open image {}", a.image.display()))?;
    let meta = file.metadata()?;
    let (files, sif) = if meta.is_dir() {
        (Files::Dir(a.image.clone()), None)
    } else {
        open_files(file, &a.image)?
    };
    let sif_meta = match (&files, &sif) {
        (Files::Sealed, Some(s)) => Some(sif_metadata(s)?),
        _ => None,
    };
    let all = a.all;
    let labels = a.labels
        || all
        || !(a.deffile || a.runscript || a.startscript || a.test || a.environment || a.helpfile);
    let mut out = Metadata {
        data: Data::default(),
        kind: "container".into(),
    };
    let at = &mut out.data.attributes;
    if let Some(m) = &sif_meta {
        *at = Attributes {
            environment: m.data.attributes.environment.clone(),
            labels: m.data.attributes.labels.clone(),
            ..Attributes::default()
        };
    }
    let text = |p: &str| -> Result<String> {
        Ok(read(&files, p)?
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\n')
                    .to_string()
            })
            .unwrap_or_default())
    };
    if labels && sif_meta.is_none() {
        let raw = text("/.singularity.d/labels.json")?;
        if !raw.is_empty() {
            match serde_json::from_str::<BTreeMap<String, String>>(&raw) {
                Ok(l) => at.labels = l,
                Err(e) => tracing::warn!("unable to parse labels: {e}"),
            }
        }
    }
    if !labels && sif_meta.is_some() {
        at.labels.clear();
    }
    if a.deffile || all {
        at.deffile = deffile(sif.as_ref(), &text)?;
    }
    if a.helpfile || all {
        at.helpfile = text("/.singularity.d/runscript.help")?;
    }
    if a.runscript || all {
        at.runscript = text("/.singularity.d/runscript")?;
    }
    if a.startscript || all {
        at.startscript = text("/.singularity.d/startscript")?;
    }
    if a.test || all {
        at.test = text("/.singularity.d/test")?;
    }
    if (a.environment || all) && sif_meta.is_none() {
        for name in list(&files, "/.singularity.d/env")? {
            if (name.starts_with("10-docker")
                || (name.starts_with('9') && name.ends_with("-environment.sh")))
                && name.ends_with(".sh")
            {
                let p = format!("/.singularity.d/env/{name}");
                at.environment.insert(p.clone(), text(&p)?);
            }
        }
    } else if !(a.environment || all) {
        at.environment.clear();
    }
    print(&out, a.json || all)?;
    Ok(ExitCode::SUCCESS)
}

fn open_files(file: File, path: &Path) -> Result<(Files, Option<SifImage>)> {
    let mut magic = [0u8; 4];
    let _ = std::os::unix::fs::FileExt::read_at(&file, &mut magic, 0);
    if &magic == b"hsqs" {
        let src = FileSource::from_offset(file, 0)?;
        return Ok((
            Files::Squash(Box::new(Archive::open(Arc::new(src)).with_context(
                || format!("{}: not a valid squashfs", path.display()),
            )?)),
            None,
        ));
    }
    let sif = SifImage::from_source(file, path)?;
    let part = sif
        .primary_partition()
        .with_context(|| format!("{}: no primary system partition", path.display()))?;
    let fs = part.partition().map(|p| p.fs_type);
    let files = match fs {
        Some(FsType::SQUASHFS) => {
            let src = FileSource::new(sif.source().try_clone()?, part.offset(), part.size())?;
            Files::Squash(Box::new(Archive::open(Arc::new(src)).with_context(
                || {
                    format!(
                        "{}: the root partition is not a valid squashfs",
                        path.display()
                    )
                },
            )?))
        }
        Some(FsType::ENCRYPTED_SQUASHFS) => Files::Sealed,
        _ => bail!("{}: unsupported root partition type", path.display()),
    };
    Ok((files, Some(sif)))
}

fn sif_metadata(sif: &SifImage) -> Result<Metadata> {
    let d = sif
        .descriptors()
        .iter()
        .find(|d| d.data_type() == DataType::GENERIC_JSON && d.name() == "inspect-metadata.json")
        .with_context(|| {
            format!(
                "{} is encrypted and has no inspect-metadata.json",
                sif.path().display()
            )
        })?;
    Ok(serde_json::from_slice(&sif.read_object(d, MAX_READ)?)?)
}

fn deffile(sif: Option<&SifImage>, text: &dyn Fn(&str) -> Result<String>) -> Result<String> {
    if let Some(s) = sif
        && let Some(d) = s
            .descriptors()
            .iter()
            .find(|d| d.data_type() == DataType::DEFFILE)
    {
        let raw = s.read_object(d, MAX_READ)?;
        return Ok(String::from_utf8_lossy(&raw)
            .trim_end_matches('\n')
            .to_string());
    }
    let apptainer = text("/.singularity.d/Apptainer")?;
    if apptainer.is_empty() {
        text("/.singularity.d/Singularity")
    } else {
        Ok(apptainer)
    }
}

/// A regular file's bytes (symlinks followed inside the image), `None` when absent.
fn read(files: &Files, path: &str) -> Result<Option<Vec<u8>>> {
    match files {
        Files::Dir(root) => rootfs::read_in_image(root, Path::new(path), MAX_READ),
        Files::Sealed => Ok(None),
        Files::Squash(ar) => match lookup(ar, path)? {
            Some(i) if i.kind == Kind::File => {
                if i.size() > MAX_READ {
                    bail!("{path} in the image is larger than {MAX_READ} bytes");
                }
                Ok(Some(ar.read(
                    &i,
                    0,
                    usize::try_from(i.size()).unwrap_or(0),
                )?))
            }
            _ => Ok(None),
        },
    }
}

/// The names in a directory of the image (empty when absent).
fn list(files: &Files, dir: &str) -> Result<Vec<String>> {
    let names = match files {
        Files::Sealed => Vec::new(),
        Files::Dir(root) => match rootfs::resolve_in_image(root, Path::new(dir))? {
            (canon, Some(rootfs::Kind::Dir)) => std::fs::read_dir(root.join(canon))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            _ => Vec::new(),
        },
        Files::Squash(ar) => match lookup(ar, dir)? {
            Some(i) if i.kind == Kind::Dir => ar
                .listing(&i)?
                .entries
                .iter()
                .map(|e| String::from_utf8_lossy(&e.name).into_owned())
                .collect(),
            _ => Vec::new(),
        },
    };
    let mut names = names;
    names.sort();
    Ok(names)
}

/// Resolves `path` inside the archive, following symlinks (clamped at the root).
fn lookup(ar: &Archive, path: &str) -> Result<Option<Arc<Inode>>> {
    let mut todo: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .rev()
        .map(String::from)
        .collect();
    let mut stack = vec![ar.root()?];
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == "." {
            continue;
        }
        if part == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let dir = stack.last().cloned().context("empty path stack")?;
        if dir.kind != Kind::Dir {
            return Ok(None);
        }
        let node = match ar.lookup(&dir, part.as_bytes()) {
            Ok(n) => n,
            Err(stockade_squashfs::ImageError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if let Body::Symlink(target) = &node.body {
            links += 1;
            if links > MAX_LINKS {
                bail!("too many symlinks resolving {path} in the image");
            }
            let t = String::from_utf8_lossy(target).into_owned();
            if t.starts_with('/') {
                stack.truncate(1);
            }
            todo.extend(
                t.split('/')
                    .filter(|p| !p.is_empty())
                    .rev()
                    .map(String::from),
            );
            continue;
        }
        stack.push(node);
    }
    Ok(stack.pop())
}

fn print(m: &Metadata, json: bool) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut buf,
            serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        );
        m.serialize(&mut ser)?;
        // Go's encoding/json escapes these inside strings; they never occur outside one
        let text = String::from_utf8(buf)?
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        writeln!(out, "{text}")?;
        return Ok(());
    }
    let at = &m.data.attributes;
    for s in [
        &at.deffile,
        &at.runscript,
        &at.startscript,
        &at.test,
        &at.helpfile,
    ] {
        if !s.is_empty() {
            writeln!(out, "{s}")?;
        }
    }
    for (k, v) in &at.environment {
        write!(out, "=== {k} ===\n{v}\n\n")?;
    }
    for (k, v) in &at.labels {
        writeln!(out, "{k}: {v}")?;
    }
    Ok(())
}
