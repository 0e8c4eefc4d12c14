// SPDX-License-Identifier: Apache-2.0
//! A SIF as a base: its primary squashfs partition is unpacked with our bounded squashfs
//! reader into the build tree (same in-root, no-follow operations as layers; hard links
//! kept by inode number), or, for a plain re-pack, its objects are copied as they are.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::FileType;
use stockade_sif::{DataType, FsType, SifImage};
use stockade_squashfs::inode::{Body, Kind};
use stockade_squashfs::{Archive, FileSource};

use crate::error::BuildError;
use crate::extract::tree::{DirCache, Meta, Tree};

/// Opens a SIF and returns it with its primary partition's index.
pub fn open(path: &Path) -> Result<SifImage<File>, BuildError> {
    let img = SifImage::open(path)?;
    if img.primary_partition().is_none() {
        return Err(BuildError::Partition {
            path: path.to_path_buf(),
            problem: "no primary system partition",
        });
    }
    Ok(img)
}

/// Unpacks the primary squashfs partition of `img` into `tree`.
pub fn unpack(
    img: &SifImage<File>,
    tree: &Tree,
    tick: &mut dyn FnMut(u64),
) -> Result<(), BuildError> {
    let path = img.path().to_path_buf();
    let d = img
        .primary_partition()
        .ok_or_else(|| BuildError::Partition {
            path: path.clone(),
            problem: "no primary system partition",
        })?;
    let part = d.partition().map(|p| p.fs_type);
    if part != Some(FsType::SQUASHFS) {
        let problem = if part == Some(FsType::ENCRYPTED_SQUASHFS) {
            "an encrypted partition cannot be unpacked (only copied: build without a definition file)"
        } else {
            "the primary partition is not squashfs"
        };
        return Err(BuildError::Partition { path, problem });
    }
    let file = img
        .source()
        .try_clone()
        .map_err(crate::error::io_err("read", &path))?;
    let src =
        FileSource::new(file, d.offset(), d.size()).map_err(crate::error::io_err("read", &path))?;
    let archive = Archive::open(Arc::new(src)).map_err(|source| BuildError::SquashfsRead {
        path: path.clone(),
        source,
    })?;
    let mut u = Unpacker {
        tree,
        cache: DirCache::default(),
        links: HashMap::new(),
        dirs: Vec::new(),
        archive: &archive,
        tick,
    };
    archive
        .walk(&mut |p, inode| {
            u.entry(p, inode)
                .map_err(|e| stockade_squashfs::ImageError::Read {
                    offset: 0,
                    source: std::io::Error::other(format!(
                        "{}: {}",
                        String::from_utf8_lossy(p),
                        crate::error::chain(&e)
                    )),
                })
        })
        .map_err(|source| BuildError::SquashfsRead {
            path: path.clone(),
            source,
        })?;
    for (rel, meta) in u.dirs.into_iter().rev() {
        if let Ok(fd) = tree.resolve(&rel) {
            let flags = rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC;
            if let Ok(dir) = rustix::fs::openat(&fd, ".", flags, rustix::fs::Mode::empty()) {
                tree.finish_dir(dir.as_fd(), meta)
                    .map_err(crate::error::io_err(
                        "set the mode of",
                        tree.path().join(String::from_utf8_lossy(&rel).as_ref()),
                    ))?;
            }
        }
    }
    Ok(())
}

struct Unpacker<'a> {
    tree: &'a Tree,
    cache: DirCache,
    links: HashMap<u32, Vec<u8>>,
    dirs: Vec<(Vec<u8>, Meta)>,
    archive: &'a Archive,
    tick: &'a mut dyn FnMut(u64),
}

impl Unpacker<'_> {
    fn entry(&mut self, p: &[u8], inode: &stockade_squashfs::inode::Inode) -> std::io::Result<()> {
        let meta = Meta {
            mode: u32::from(inode.perm),
            uid: inode.uid,
            gid: inode.gid,
            mtime: i64::from(inode.mtime),
        };
        if p.is_empty() {
            self.dirs.push((Vec::new(), meta));
            return Ok(());
        }
        let (parent, name) = match p.iter().rposition(|b| *b == b'/') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (&p[..0], p),
        };
        if inode.kind != Kind::Dir && inode.nlink > 1 {
            if let Some(first) = self.links.get(&inode.number) {
                let (tp, tn) = match first.iter().rposition(|b| *b == b'/') {
                    Some(i) => (first[..i].to_vec(), first[i + 1..].to_vec()),
                    None => (Vec::new(), first.clone()),
                };
                let tdir = self.tree.resolve(&tp)?;
                let dir = self.tree.dir(&mut self.cache, parent)?;
                return Tree::create_hardlink(dir, name, tdir.as_fd(), &tn);
            }
            self.links.insert(inode.number, p.to_vec());
        }
        let dir = self.tree.dir(&mut self.cache, parent)?;
        match (&inode.kind, &inode.body) {
            (Kind::Dir, _) => {
                self.tree.create_dir(dir, name, meta)?;
                self.dirs.push((p.to_vec(), meta));
            }
            (Kind::File, Body::File(f)) => {
                let out = Tree::create_file(dir, name)?;
                let mut off = 0u64;
                let mut buf = Vec::with_capacity(1 << 20);
                while off < f.size {
                    buf.clear();
                    self.archive
                        .read_into(inode, off, 1 << 20, &mut buf)
                        .map_err(std::io::Error::other)?;
                    if buf.is_empty() {
                        break;
                    }
                    std::os::unix::fs::FileExt::write_all_at(&out, &buf, off)?;
                    off += buf.len() as u64;
                    (self.tick)(buf.len() as u64);
                }
                self.tree.finish(out.as_fd(), meta)?;
            }
            (Kind::Symlink, Body::Symlink(t)) => self.tree.create_symlink(dir, name, t, meta)?,
            (Kind::Char | Kind::Block | Kind::Fifo, b) => {
                let dev = match b {
                    Body::Dev(d) => (((d >> 8) & 0xfff), ((d & 0xff) | ((d >> 12) & 0xfff00))),
                    _ => (0, 0),
                };
                let ft = match inode.kind {
                    Kind::Char => FileType::CharacterDevice,
                    Kind::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                self.tree.create_node(dir, name, ft, dev, meta)?;
            }
            // Sockets are not useful in an image; malformed bodies cannot occur (reader checks).
            _ => {}
        }
        Ok(())
    }
}

/// The objects of a SIF worth carrying over to a re-pack: definition file and JSON metadata.
pub fn carried_objects(
    img: &SifImage<File>,
) -> Result<Vec<(DataType, String, Vec<u8>)>, BuildError> {
    let mut out = Vec::new();
    for d in img.descriptors() {
        let t = d.data_type();
        if t == DataType::DEFFILE
            || t == DataType::GENERIC_JSON
            || t == DataType::LABELS
            || t == DataType::ENV_VAR
        {
            out.push((t, d.name(), img.read_object(d, crate::blobs::MAX_JSON)?));
        }
    }
    Ok(out)
}
