// SPDX-License-Identifier: Apache-2.0
//! Filling the build tree from the base image.

use crate::blobs::Blobs;
use crate::error::{BuildError, io_err};
use crate::extract::tree::Tree;
use crate::extract::{Extractor, Limits};
use crate::image::{self, Image};
use crate::pipeline::Progress;
use crate::source::Base;
use crate::{dircopy, layer, sif_source};

/// Fills `tree` from `base`; returns the OCI image when the base is one. `link`: a directory
/// base may be hard-linked (the tree is not modified in place later).
pub fn populate(
    base: &Base,
    tree: &Tree,
    limits: Limits,
    link: bool,
    p: &mut dyn Progress,
    warnings: &mut Vec<String>,
) -> Result<Option<Image>, BuildError> {
    match base {
        Base::Scratch => Ok(None),
        Base::Dir(path) => {
            p.start("copying", 0);
            let mut done = 0;
            dircopy::copy_dir(path, tree, b"", link, &mut |n| {
                done += n;
                p.set(done);
            })?;
            p.finish();
            Ok(None)
        }
        Base::Sif(path) => {
            let img = sif_source::open(path)?;
            p.start("unpacking", 0);
            let mut done = 0;
            sif_source::unpack(&img, tree, &mut |n| {
                done += n;
                p.set(done);
            })?;
            p.finish();
            Ok(None)
        }
        Base::OciDir(path, tag) => {
            let blobs = Blobs::dir(path)?;
            let img = image::read_oci(&blobs, tag.as_deref())?;
            apply_layers(&blobs, &img, tree, limits, p, warnings)?;
            Ok(Some(img))
        }
        Base::OciArchive(path, tag) => {
            let blobs = Blobs::archive(path)?;
            let img = image::read_oci(&blobs, tag.as_deref())?;
            apply_layers(&blobs, &img, tree, limits, p, warnings)?;
            Ok(Some(img))
        }
        Base::DockerArchive(path, tag) => {
            let blobs = Blobs::archive(path)?;
            let img = image::read_docker(&blobs, tag.as_deref())?;
            apply_layers(&blobs, &img, tree, limits, p, warnings)?;
            Ok(Some(img))
        }
    }
}

fn apply_layers(
    blobs: &Blobs,
    img: &Image,
    tree: &Tree,
    limits: Limits,
    p: &mut dyn Progress,
    warnings: &mut Vec<String>,
) -> Result<(), BuildError> {
    let total: u64 = img.layers.iter().map(|l| l.size).sum();
    p.start("extracting", total);
    let mut ex = Extractor::new(tree.path(), tree.privileged(), limits)
        .map_err(io_err("open", tree.path()))?;
    let mut done = 0u64;
    for l in &img.layers {
        let (blob, _) = blobs.open(&l.name)?;
        layer::apply_layer(
            &mut ex,
            blobs.path(),
            &l.name,
            blob,
            l.digest.as_deref(),
            &mut |n| {
                done += n;
                p.set(done);
            },
        )?;
    }
    let stats = ex.finish().map_err(|source| BuildError::Layer {
        path: blobs.path().to_path_buf(),
        layer: "(directory metadata)".into(),
        source,
    })?;
    p.finish();
    if stats.skipped_devices > 0 {
        warnings.push(format!(
            "{} device nodes skipped (creating them needs root)",
            stats.skipped_devices
        ));
    }
    Ok(())
}
