// SPDX-License-Identifier: Apache-2.0
//! Copying a host directory into the build tree (directory sources, `%files`).
//!
//! The source is walked by fd (`O_NOFOLLOW`, symlinks recreated, never followed). When the
//! tree will not be modified in place (no `%post`), regular files are *hard-linked* instead
//! of copied: metadata-only, so building a 400 MiB directory costs no copy. Everything we
//! write later (layout files, `%files`) replaces entries (unlink + create), so the linked
//! originals are never written. Files that cannot be linked (another filesystem, not ours
//! under `protected_hardlinks`) are copied.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::error::{BuildError, io_err};
use crate::extract::tree::{DirCache, Meta, Tree};

/// Deepest directory nesting copied.
const MAX_DEPTH: usize = 1024;

fn meta_of(st: &rustix::fs::Stat) -> Meta {
    Meta {
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime: st.st_mtime,
    }
}

/// Copies the contents of `src` (a directory) into `dst_rel` of `tree`; `link`: hard-link
/// regular files when possible. `tick(bytes)` reports copied bytes.
pub fn copy_dir(
    src: &Path,
    tree: &Tree,
    dst_rel: &[u8],
    link: bool,
    tick: &mut dyn FnMut(u64),
) -> Result<(), BuildError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = rustix::fs::open(src, flags, Mode::empty()).map_err(|e| BuildError::OpenSource {
        path: src.to_path_buf(),
        source: e.into(),
    })?;
    let mut walk = Walk {
        tree,
        link,
        cache: DirCache::default(),
        dirs: Vec::new(),
        tick,
    };
    let mut stack: Vec<(OwnedFd, Vec<u8>, usize)> = vec![(root, dst_rel.to_vec(), 0)];
    while let Some((fd, rel, depth)) = stack.pop() {
        let here = src.join(String::from_utf8_lossy(&rel).as_ref());
        if depth > MAX_DEPTH {
            return Err(BuildError::TooDeep(here));
        }
        let names = crate::extract::tree::children(&fd).map_err(io_err("read directory", &here))?;
        for name in names {
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                [&rel[..], b"/", &name[..]].concat()
            };
            let path = src.join(String::from_utf8_lossy(&child_rel).as_ref());
            if walk.entry(&fd, &name, &rel, &child_rel, &path)? {
                let sub = rustix::fs::openat(
                    &fd,
                    name.as_slice(),
                    flags | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .map_err(io_err("open", &path))?;
                stack.push((sub, child_rel, depth + 1));
            }
        }
    }
    finish_dirs(tree, walk.dirs)
}

/// The state of one [`copy_dir`].
struct Walk<'a> {
    tree: &'a Tree,
    link: bool,
    cache: DirCache,
    /// Directories created, for [`finish_dirs`].
    dirs: Vec<(Vec<u8>, Meta)>,
    tick: &'a mut dyn FnMut(u64),
}

impl Walk<'_> {
    /// Copies entry `name` of the source directory `fd` into `rel` of the tree (as
    /// `child_rel`; `path` for messages). True for a directory, to descend into.
    fn entry(
        &mut self,
        fd: &OwnedFd,
        name: &[u8],
        rel: &[u8],
        child_rel: &[u8],
        path: &Path,
    ) -> Result<bool, BuildError> {
        let st = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_err("stat", path))?;
        let meta = meta_of(&st);
        let tree = self.tree;
        let dir = tree
            .dir(&mut self.cache, rel)
            .map_err(io_err("create directory for", path))?;
        let ft = FileType::from_raw_mode(st.st_mode);
        let res = match ft {
            FileType::Directory => tree.create_dir(dir, name, meta).map(|_| {
                self.dirs.push((child_rel.to_vec(), meta));
            }),
            FileType::RegularFile => {
                let linked =
                    self.link && rustix::fs::linkat(fd, name, dir, name, AtFlags::empty()).is_ok();
                if linked {
                    Ok(())
                } else {
                    copy_file(fd, name, tree, dir, name, meta)
                        .inspect(|_| (self.tick)(u64::try_from(st.st_size).unwrap_or(0)))
                }
            }
            FileType::Symlink => rustix::fs::readlinkat(fd, name, Vec::new())
                .map_err(Into::into)
                .and_then(|t| tree.create_symlink(dir, name, t.as_bytes(), meta)),
            ft @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                let dev = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
                tree.create_node(dir, name, ft, dev, meta).map(drop)
            }
            _ => Ok(()), // sockets
        };
        res.map_err(io_err("copy", path))?;
        Ok(ft == FileType::Directory)
    }
}

/// Applies directory modes and times, deepest first.
pub fn finish_dirs(tree: &Tree, mut dirs: Vec<(Vec<u8>, Meta)>) -> Result<(), BuildError> {
    dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().filter(|b| **b == b'/').count()));
    for (rel, meta) in dirs {
        let path = tree.path().join(String::from_utf8_lossy(&rel).as_ref());
        let fd = tree.resolve(&rel).map_err(io_err("open", &path))?;
        let d = rustix::fs::openat(
            &fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err("open", &path))?;
        tree.finish_dir(d.as_fd(), meta)
            .map_err(io_err("set the mode of", &path))?;
    }
    Ok(())
}

/// Copies the regular file `sdir/sname` to `ddir/dname` of the tree (replacing what is there).
pub fn copy_file(
    sdir: &OwnedFd,
    sname: &[u8],
    tree: &Tree,
    ddir: std::os::fd::BorrowedFd<'_>,
    dname: &[u8],
    meta: Meta,
) -> std::io::Result<()> {
    let src = rustix::fs::openat(
        sdir,
        sname,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut src = File::from(src);
    Tree::clear(ddir, dname, false)?;
    let mut out = Tree::create_file(ddir, dname)?;
    std::io::copy(&mut src, &mut out)?;
    tree.finish(out.as_fd(), meta)
}

/// `%files`-style copy of a host path (symlinks in it followed, like `cp -L`) to `dst_rel`
/// in the tree: into `dst_rel/<name>` when that is an existing directory.
pub fn copy_in(
    src: &Path,
    tree: &Tree,
    dst_rel: &[u8],
    tick: &mut dyn FnMut(u64),
) -> Result<(), BuildError> {
    let st = std::fs::metadata(src).map_err(|source| BuildError::OpenSource {
        path: src.to_path_buf(),
        source,
    })?;
    let name = src
        .file_name()
        .map(|n| n.as_encoded_bytes().to_vec())
        .unwrap_or_default();
    let into_dir = tree.resolve(dst_rel).is_ok() && !dst_rel.is_empty() || dst_rel.is_empty();
    let target: Vec<u8> = if into_dir && !name.is_empty() {
        if dst_rel.is_empty() {
            name.clone()
        } else {
            [dst_rel, b"/", &name[..]].concat()
        }
    } else {
        dst_rel.to_vec()
    };
    if st.is_dir() {
        let mut cache = DirCache::default();
        tree.dir(&mut cache, &target)
            .map_err(io_err("create directory for", src))?;
        return copy_dir(src, tree, &target, false, tick);
    }
    let (parent, fname) = match target.iter().rposition(|b| *b == b'/') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (&target[..0], &target[..]),
    };
    let real = std::fs::canonicalize(src).map_err(|source| BuildError::OpenSource {
        path: src.to_path_buf(),
        source,
    })?;
    let (rdir, rname) = (
        real.parent().unwrap_or(Path::new("/")),
        real.file_name()
            .map(|n| n.as_encoded_bytes().to_vec())
            .unwrap_or_default(),
    );
    let rfd = rustix::fs::open(
        rdir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| BuildError::OpenSource {
        path: src.to_path_buf(),
        source: e.into(),
    })?;
    let mut cache = DirCache::default();
    let dir = tree
        .dir(&mut cache, parent)
        .map_err(io_err("create directory for", src))?;
    let meta = Meta {
        mode: std::os::unix::fs::PermissionsExt::mode(&st.permissions()) & 0o7777,
        uid: 0,
        gid: 0,
        mtime: std::os::unix::fs::MetadataExt::mtime(&st),
    };
    copy_file(&rfd, &rname, tree, dir, fname, meta).map_err(io_err("copy", src))?;
    tick(st.len());
    Ok(())
}
