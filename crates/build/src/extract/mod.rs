// SPDX-License-Identifier: Apache-2.0
//! Applying image layers (tar streams) to a root filesystem directory.
//!
//! * Paths are cleaned lexically (leading `/` and `.` dropped); a `..` component is refused,
//!   so nothing in a member name can point above the tree. Parents are then resolved in-root
//!   and the last component never followed ([`tree`]).
//! * Whiteouts (OCI image spec): `.wh.<name>` removes `<name>` of *lower* layers,
//!   `.wh..wh..opq` empties its directory of lower-layer entries; entries of the same layer
//!   survive both, whatever their order in the tar (a per-layer set of created paths).
//! * Directory modes and times are applied after the last layer (deepest first) so that
//!   read-only directories can still be filled and parents keep their recorded mtime.
//! * Ownership is applied only when privileged; setuid/setgid bits are kept (after chown).
//! * Bounded: entries per layer, bytes in total, path length and depth.

pub mod tree;

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::os::fd::AsFd;

use rustix::fs::FileType;

use crate::tar::{Entry, Input, Kind, TarError, TarReader};
use tree::{DirCache, Meta, Tree};

/// Most path components of a member.
pub const MAX_COMPONENTS: usize = 1024;
/// Longest path component.
pub const MAX_COMPONENT: usize = 255;

/// Limits on what extraction may create.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Members per layer.
    pub max_entries: u64,
    /// Bytes of file data over all layers.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 4 << 20,
            max_bytes: 1 << 40,
        }
    }
}

/// Why a layer could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The tar stream is unreadable.
    #[error(transparent)]
    Tar(#[from] TarError),
    /// A member name is not acceptable.
    #[error("member {member}: {problem}")]
    BadPath {
        /// Member name.
        member: String,
        /// Why.
        problem: &'static str,
    },
    /// A filesystem operation failed.
    #[error("member {member}: cannot {step}")]
    Io {
        /// Member name.
        member: String,
        /// What was attempted.
        step: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A bound was exceeded.
    #[error("{0}")]
    Limit(&'static str),
}

/// Counters of an extraction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Members applied.
    pub entries: u64,
    /// File bytes written.
    pub bytes: u64,
    /// Device nodes skipped (unprivileged).
    pub skipped_devices: u64,
}

/// Applies layers in order onto one tree.
#[derive(Debug)]
pub struct Extractor {
    tree: Tree,
    cache: DirCache,
    limits: Limits,
    dirs: HashMap<Vec<u8>, Meta>,
    stats: Stats,
}

impl Extractor {
    /// An extractor over the directory `root`.
    pub fn new(root: &std::path::Path, privileged: bool, limits: Limits) -> io::Result<Self> {
        Ok(Extractor {
            tree: Tree::open(root, privileged)?,
            cache: DirCache::default(),
            limits,
            dirs: HashMap::new(),
            stats: Stats::default(),
        })
    }

    /// Applies one layer; `tick()` is called after every member (progress).
    pub fn apply<R: Input>(
        &mut self,
        tar: &mut TarReader<R>,
        tick: &mut dyn FnMut(),
    ) -> Result<(), ExtractError> {
        let mut created: HashSet<Vec<u8>> = HashSet::new();
        let mut count = 0u64;
        self.cache.clear();
        while let Some(e) = tar.next_entry()? {
            count += 1;
            if count > self.limits.max_entries {
                return Err(ExtractError::Limit("too many members in one layer"));
            }
            self.member(tar, &e, &mut created)?;
            tick();
        }
        Ok(())
    }

    /// Applies directory modes and times, returns the counters.
    pub fn finish(mut self) -> Result<Stats, ExtractError> {
        let mut dirs: Vec<_> = std::mem::take(&mut self.dirs).into_iter().collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().filter(|b| **b == b'/').count()));
        for (path, meta) in dirs {
            // Later layers may have replaced the directory by something else: skip it then.
            let Ok(fd) = self.tree.resolve(&path) else {
                continue;
            };
            let member = String::from_utf8_lossy(&path).into_owned();
            let flags = rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC;
            let Ok(dir) = rustix::fs::openat(&fd, ".", flags, rustix::fs::Mode::empty()) else {
                continue;
            };
            self.tree
                .finish_dir(std::os::fd::AsFd::as_fd(&dir), meta)
                .map_err(|source| ExtractError::Io {
                    member,
                    step: "set directory mode",
                    source,
                })?;
        }
        Ok(self.stats)
    }

    fn member<R: Input>(
        &mut self,
        tar: &mut TarReader<R>,
        e: &Entry,
        created: &mut HashSet<Vec<u8>>,
    ) -> Result<(), ExtractError> {
        let member = String::from_utf8_lossy(&e.path).into_owned();
        let path = clean(&e.path).map_err(|problem| ExtractError::BadPath {
            member: member.clone(),
            problem,
        })?;
        if path.is_empty() {
            return Ok(()); // the root itself: its metadata is ours
        }
        let (parent, name) = match path.iter().rposition(|b| *b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&path[..0], &path[..]),
        };
        let m = &member;
        let io = |step: &'static str| {
            move |source| ExtractError::Io {
                member: m.clone(),
                step,
                source,
            }
        };
        if let Some(target) = name.strip_prefix(b".wh.") {
            return self
                .whiteout(parent, target, created)
                .map_err(io("apply whiteout"));
        }
        let meta = Meta {
            mode: e.mode,
            uid: u32::try_from(e.uid).map_err(|_| ExtractError::BadPath {
                member: member.clone(),
                problem: "uid out of range",
            })?,
            gid: u32::try_from(e.gid).map_err(|_| ExtractError::BadPath {
                member: member.clone(),
                problem: "gid out of range",
            })?,
            mtime: e.mtime,
        };
        let tree = &self.tree;
        let dir = tree
            .dir(&mut self.cache, parent)
            .map_err(io("create parent directory"))?;
        let replaced = match e.kind {
            Kind::File => {
                let (_, removed) =
                    Tree::clear(dir, name, false).map_err(io("replace existing entry"))?;
                let mut f = Tree::create_file(dir, name).map_err(io("create file"))?;
                self.stats.bytes += e.size;
                if self.stats.bytes > self.limits.max_bytes {
                    return Err(ExtractError::Limit(
                        "image larger than the extraction limit",
                    ));
                }
                copy_data(tar, &mut f).map_err(|err| match err {
                    CopyError::Tar(t) => ExtractError::Tar(t),
                    CopyError::Write(source) => ExtractError::Io {
                        member: member.clone(),
                        step: "write file",
                        source,
                    },
                })?;
                tree.finish(f.as_fd(), meta)
                    .map_err(io("set file metadata"))?;
                removed
            }
            Kind::Dir => {
                let removed = tree
                    .create_dir(dir, name, meta)
                    .map_err(io("create directory"))?;
                self.dirs.insert(path.clone(), meta);
                removed
            }
            Kind::Symlink => {
                tree.create_symlink(dir, name, &e.link, meta)
                    .map_err(io("create symlink"))?;
                true
            }
            Kind::Hardlink => {
                let target = clean(&e.link).map_err(|problem| ExtractError::BadPath {
                    member: member.clone(),
                    problem,
                })?;
                hardlink(tree, &mut self.cache, &path, &target).map_err(io("create hard link"))?;
                true
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                let ft = match e.kind {
                    Kind::Char => FileType::CharacterDevice,
                    Kind::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                if !tree
                    .create_node(dir, name, ft, e.dev, meta)
                    .map_err(io("create device node"))?
                {
                    self.stats.skipped_devices += 1;
                }
                true
            }
        };
        if replaced {
            self.cache.clear();
        }
        self.stats.entries += 1;
        created.insert(path);
        Ok(())
    }

    fn whiteout(
        &mut self,
        parent: &[u8],
        target: &[u8],
        created: &HashSet<Vec<u8>>,
    ) -> io::Result<()> {
        let join = |n: &[u8]| {
            if parent.is_empty() {
                n.to_vec()
            } else {
                [parent, b"/", n].concat()
            }
        };
        // `.wh.` names of lower layers apply only to what exists: never create parents for them.
        let Ok(dir) = self.tree.resolve(parent) else {
            return Ok(());
        };
        if target == b".wh..opq" {
            let flags = rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC;
            let rd = rustix::fs::openat(&dir, ".", flags, rustix::fs::Mode::empty())?;
            for child in tree::children(&rd)? {
                if !created.contains(&join(&child)) {
                    Tree::remove(std::os::fd::AsFd::as_fd(&rd), &child)?;
                }
            }
        } else if target.starts_with(b".wh.") {
            // Other aufs metadata (.wh..wh.plnk, ...): nothing to apply.
        } else if !created.contains(&join(target)) {
            Tree::remove(std::os::fd::AsFd::as_fd(&dir), target)?;
        }
        self.cache.clear();
        Ok(())
    }
}

fn hardlink(tree: &Tree, cache: &mut DirCache, path: &[u8], target: &[u8]) -> io::Result<()> {
    if target == path {
        return Ok(());
    }
    let split = |p: &[u8]| match p.iter().rposition(|b| *b == b'/') {
        Some(i) => (p[..i].to_vec(), p[i + 1..].to_vec()),
        None => (Vec::new(), p.to_vec()),
    };
    let (tparent, tname) = split(target);
    let (parent, name) = split(path);
    if tname.is_empty() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let tdir = tree.resolve(&tparent)?;
    let dir = tree.dir(cache, &parent)?;
    Tree::create_hardlink(dir, &name, std::os::fd::AsFd::as_fd(&tdir), &tname)
}

enum CopyError {
    Tar(TarError),
    Write(io::Error),
}

fn copy_data<R: Input>(tar: &mut TarReader<R>, f: &mut std::fs::File) -> Result<(), CopyError> {
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = tar.read_data(&mut buf).map_err(CopyError::Tar)?;
        if n == 0 {
            return Ok(());
        }
        f.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
}

/// Cleans a member path: drops leading `/`, empty and `.` components; refuses `..`, overlong
/// components and too deep paths. Returns the components joined by `/` (empty = root).
pub fn clean(path: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(path.len());
    let mut n = 0;
    for comp in path.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err("path contains '..'"),
            c if c.len() > MAX_COMPONENT => return Err("path component longer than 255 bytes"),
            c if c.contains(&0) => return Err("path contains NUL"),
            c => {
                n += 1;
                if n > MAX_COMPONENTS {
                    return Err("path too deep");
                }
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}
