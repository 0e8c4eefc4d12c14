// SPDX-License-Identifier: Apache-2.0
//! The build: source → root filesystem in a private work directory → definition-file
//! steps (`%setup`, `%files`, `%post`) → `/.singularity.d` layout → `%test` → SIF.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stockade_sif::{Arch, FsType, ObjectData};

use crate::assemble::{self, Encryption, Objects, Output, Partition};
use crate::deffile::DefFile;
use crate::error::{BuildError, io_err};
use crate::extract::Limits;
use crate::extract::tree::Tree;
use crate::image::Image;
use crate::layout::{self, Layout};
use crate::source::{self, Base, Source};
use crate::workdir::WorkDir;
use crate::{populate, post};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The SIF to write.
    pub output: PathBuf,
    /// What to build from.
    pub source: Source,
    /// Overwrite an existing output.
    pub force: bool,
    /// Run `%post`/`%test` as root of a user namespace mapped to the caller.
    pub fakeroot: bool,
    /// Encrypt the root filesystem.
    pub encryption: Option<Encryption>,
    /// Skip `%test`.
    pub notest: bool,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// Where the private work directory is made.
    pub tmp_dir: PathBuf,
    /// squashfs options (zstd-6, 128 KiB blocks by default).
    pub squashfs: stockade_squashfs::BuildOptions,
    /// Extraction bounds.
    pub limits: Limits,
}

impl BuildOptions {
    /// Defaults for `output` from `source`.
    pub fn new(output: PathBuf, source: Source) -> Self {
        BuildOptions {
            output,
            source,
            force: false,
            fakeroot: false,
            encryption: None,
            notest: false,
            build_args: BTreeMap::new(),
            tmp_dir: std::env::temp_dir(),
            squashfs: stockade_squashfs::BuildOptions::default(),
            limits: Limits::default(),
        }
    }
}

/// Progress reporting (the CLI draws a bar; libraries and tests pass [`NoProgress`]).
pub trait Progress {
    /// A new stage with `total` units (bytes).
    fn start(&mut self, stage: &str, total: u64);
    /// Units done so far in the stage.
    fn set(&mut self, done: u64);
    /// The stage ended.
    fn finish(&mut self);
    /// An informational line.
    fn info(&mut self, line: &str);
}

/// Progress that reports nothing.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _: &str, _: u64) {}
    fn set(&mut self, _: u64) {}
    fn finish(&mut self) {}
    fn info(&mut self, _: &str) {}
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Size of the SIF.
    pub image_bytes: u64,
    /// Architecture recorded.
    pub arch: Arch,
    /// Wall time.
    pub elapsed: Duration,
    /// Things skipped or adjusted (device nodes without root, invalid env names...).
    pub warnings: Vec<String>,
}

/// Builds the image described by `o`.
pub fn build(o: &BuildOptions, p: &mut dyn Progress) -> Result<Report, BuildError> {
    let t0 = Instant::now();
    let mut out = Output::create(&o.output, o.force)?;
    let mut warnings = Vec::new();
    let (def, base) = match &o.source {
        Source::DefFile(path) => {
            let d = DefFile::load(path, &o.build_args)?;
            let b = source::base_of(&d)?;
            (Some(d), b)
        }
        Source::Base(b) => (None, b.clone()),
    };
    let arch = if let (None, Base::Sif(path)) = (&def, &base) {
        crate::repack::repack(path, &mut out, o, p)?
    } else {
        build_tree(o, def.as_ref(), &base, &mut out, p, &mut warnings)?
    };
    out.commit()?;
    let image_bytes = std::fs::metadata(&o.output).map(|m| m.len()).unwrap_or(0);
    Ok(Report {
        image_bytes,
        arch,
        elapsed: t0.elapsed(),
        warnings,
    })
}

fn build_tree(
    o: &BuildOptions,
    def: Option<&DefFile>,
    base: &Base,
    out: &mut Output,
    p: &mut dyn Progress,
    warnings: &mut Vec<String>,
) -> Result<Arch, BuildError> {
    let root = rustix::process::geteuid().is_root();
    if let Some(d) = def {
        post::check_allowed(d, root, o.fakeroot)?;
    }
    let work = WorkDir::create(&o.tmp_dir)?;
    let rootfs = work.path.join("rootfs");
    std::fs::create_dir(&rootfs).map_err(io_err("create", &rootfs))?;
    let tree = Tree::open(&rootfs, root).map_err(io_err("open", &rootfs))?;
    let modifies_in_place = def.is_some_and(|d| d.post.is_some() || d.setup.is_some());
    let image = populate::populate(base, &tree, o.limits, !modifies_in_place, p, warnings)?;
    let arch = image
        .as_ref()
        .and_then(|i| i.architecture.as_deref())
        .and_then(Arch::from_go_name)
        .or_else(|| layout::arch::sniff(&tree))
        .unwrap_or_else(Arch::host);
    layout::base(&tree).map_err(io_err("write the /.singularity.d layout in", &rootfs))?;
    let (deffile, mut l) = provenance(def, base, arch);
    if let Some(img) = &image {
        image_layout(img, &mut l, warnings);
    }
    if let Some(d) = def {
        post::setup_files_post(d, &tree, &work.path, o, p)?;
        layout::apply_def(d, &mut l);
    }
    let inspect =
        layout::write(&tree, &l).map_err(io_err("write the /.singularity.d layout in", &rootfs))?;
    if let Some(d) = def.filter(|d| d.test.is_some() && !o.notest) {
        post::run_test(d, &tree, &work.path, o, p)?;
    }
    let mut json = vec![("inspect-metadata.json".to_string(), inspect)];
    if let Some(img) = &image {
        json.push(("oci-config.json".to_string(), img.config_json.clone()));
    }
    let objects = Objects {
        deffile: Some(deffile),
        json,
        other: Vec::new(),
    };
    let part = squash_partition(o, &rootfs, &work.path, root, arch, p)?;
    p.finish();
    out.write(objects, part)?;
    drop(tree);
    drop(work);
    Ok(arch)
}

/// The definition file recorded in the image (the one given, or one synthesized from the
/// base) and a layout carrying it with the build labels.
fn provenance(def: Option<&DefFile>, base: &Base, arch: Arch) -> (Vec<u8>, Layout) {
    let (bootstrap, from) = match def {
        Some(d) => (
            d.header.bootstrap.clone(),
            d.header.from.clone().unwrap_or_default(),
        ),
        None => {
            let (b, f) = source::describe(base);
            (b.to_string(), f)
        }
    };
    let deffile = match def {
        Some(d) => d.raw.clone(),
        None => format!("bootstrap: {bootstrap}\nfrom: {from}\n").into_bytes(),
    };
    let l = Layout {
        deffile: Some(deffile.clone()),
        labels: layout::build_labels(arch.go_name(), &bootstrap, &from, stockade_sif::now_unix()),
        ..Default::default()
    };
    (deffile, l)
}

/// Environment, runscript and labels of an OCI image's config into the layout (image labels
/// first, build labels over them).
fn image_layout(img: &Image, l: &mut Layout, warnings: &mut Vec<String>) {
    let (env, skipped) = layout::oci::env_script(&img.config);
    for k in skipped {
        warnings.push(format!(
            "image environment variable {k:?} is not a shell name: left out"
        ));
    }
    l.docker_env = Some(env);
    l.runscript = Some(layout::oci::runscript(&img.config));
    l.labels = img
        .config
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(std::mem::take(&mut l.labels))
        .collect();
}

/// Squashes `rootfs` (encrypting it when asked) into the primary partition, reporting
/// progress as the "squashing" stage.
fn squash_partition(
    o: &BuildOptions,
    rootfs: &Path,
    work: &Path,
    root: bool,
    arch: Arch,
    p: &mut dyn Progress,
) -> Result<Partition, BuildError> {
    let mut sq = o.squashfs.clone();
    sq.all_root = sq.all_root || !root;
    let mut started = false;
    let mut bar = |done, total| {
        if !started {
            p.start("squashing", total);
            started = true;
        }
        p.set(done);
    };
    Ok(match &o.encryption {
        None => Partition {
            data: ObjectData::File(assemble::squash(rootfs, work, &sq, &mut bar)?),
            fs_type: FsType::SQUASHFS,
            arch,
            crypto: None,
        },
        Some(enc) => {
            let (data, crypto) = assemble::squash_encrypted(rootfs, work, &sq, enc, &mut bar)?;
            Partition {
                data: ObjectData::File(data),
                fs_type: FsType::ENCRYPTED_SQUASHFS,
                arch,
                crypto,
            }
        }
    })
}
