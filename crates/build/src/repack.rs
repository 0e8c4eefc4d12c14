// SPDX-License-Identifier: Apache-2.0
//! SIF → SIF without a definition file: nothing in the tree changes, so the primary
//! partition is copied as it is (no unpack, no re-squash), with the definition file and
//! JSON metadata; with `--encrypt` a plain squashfs partition is encrypted on the way.

use std::path::Path;

use stockade_sif::{Arch, DataType, FsType, Link, ObjectData};

use crate::assemble::{self, Objects, Output, Partition};
use crate::blobs::Blob;
use crate::error::{BuildError, io_err};
use crate::pipeline::{BuildOptions, Progress};
use crate::sif_source;

/// Re-packs the SIF at `path` into `out`; returns the partition architecture.
pub fn repack(
    path: &Path,
    out: &mut Output,
    o: &BuildOptions,
    p: &mut dyn Progress,
) -> Result<Arch, BuildError> {
    let img = sif_source::open(path)?;
    let part = img
        .primary_partition()
        .cloned()
        .ok_or_else(|| BuildError::Partition {
            path: path.to_path_buf(),
            problem: "no primary system partition",
        })?;
    let meta = part.partition().ok_or_else(|| BuildError::Partition {
        path: path.to_path_buf(),
        problem: "bad partition metadata",
    })?;
    let mut objects = Objects::default();
    for (t, name, data) in sif_source::carried_objects(&img)? {
        match t {
            DataType::DEFFILE if objects.deffile.is_none() => objects.deffile = Some(data),
            DataType::GENERIC_JSON => objects.json.push((name, data)),
            _ => objects.other.push((t, name, data)),
        }
    }
    let file = img.source().try_clone().map_err(io_err("read", path))?;
    let range = Blob::range(file, part.offset(), part.size());
    p.start("copying", part.size());
    let partition = match (&o.encryption, meta.fs_type) {
        (None, fs_type) => {
            let crypto = img
                .descriptors()
                .iter()
                .find(|d| {
                    d.data_type() == DataType::CRYPTO_MESSAGE && d.link() == Link::Object(part.id())
                })
                .map(|d| img.read_object(d, crate::blobs::MAX_JSON))
                .transpose()?;
            Partition {
                data: ObjectData::Reader(Box::new(range)),
                fs_type,
                arch: meta.arch,
                crypto,
            }
        }
        (Some(enc), FsType::SQUASHFS) => {
            let mut range = range;
            let dir = o.tmp_dir.clone();
            let (data, crypto) = assemble::encrypt(&mut range, part.size(), &dir, enc)?;
            Partition {
                data: ObjectData::File(data),
                fs_type: FsType::ENCRYPTED_SQUASHFS,
                arch: meta.arch,
                crypto,
            }
        }
        (Some(_), _) => {
            return Err(BuildError::Partition {
                path: path.to_path_buf(),
                problem: "only a plain squashfs partition can be encrypted",
            });
        }
    };
    let arch = partition.arch;
    out.write(objects, partition)?;
    p.finish();
    Ok(arch)
}
