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

mod path;
pub mod tree;
mod whiteout;

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::FileType;

use crate::tar::{Entry, Input, Kind, TarError, TarReader};
use path::split_last;
pub use path::{MAX_COMPONENT, MAX_COMPONENTS, clean};
use tree::{DirCache, Meta, Tree};

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
        let path = clean(&e.path).map_err(bad_path(&member))?;
        if path.is_empty() {
            return Ok(()); // the root itself: its metadata is ours
        }
        let (parent, name) = split_last(&path);
        let io = |step| io_error(&member, step);
        if let Some(target) = name.strip_prefix(b".wh.") {
            return self
                .whiteout(parent, target, created)
                .map_err(io("apply whiteout"));
        }
        let meta = meta_of(e, &member)?;
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
                copy_data(tar, &mut f, &member)?;
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
                let target = clean(&e.link).map_err(bad_path(&member))?;
                hardlink(tree, &mut self.cache, &path, &target).map_err(io("create hard link"))?;
                true
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                if !make_node(tree, dir, name, e, meta).map_err(io("create device node"))? {
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
}

fn hardlink(tree: &Tree, cache: &mut DirCache, path: &[u8], target: &[u8]) -> io::Result<()> {
    if target == path {
        return Ok(());
    }
    let (tparent, tname) = split_last(target);
    let (parent, name) = split_last(path);
    if tname.is_empty() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let tdir = tree.resolve(tparent)?;
    let dir = tree.dir(cache, parent)?;
    Tree::create_hardlink(dir, name, tdir.as_fd(), tname)
}

/// Writes the data of the current member into `f`.
fn copy_data<R: Input>(
    tar: &mut TarReader<R>,
    f: &mut std::fs::File,
    member: &str,
) -> Result<(), ExtractError> {
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = tar.read_data(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        f.write_all(&buf[..n])
            .map_err(io_error(member, "write file"))?;
    }
}

/// Makes a fifo or device node; false when a device was skipped (unprivileged).
fn make_node(
    tree: &Tree,
    dir: BorrowedFd<'_>,
    name: &[u8],
    e: &Entry,
    meta: Meta,
) -> io::Result<bool> {
    let ft = match e.kind {
        Kind::Char => FileType::CharacterDevice,
        Kind::Block => FileType::BlockDevice,
        _ => FileType::Fifo,
    };
    tree.create_node(dir, name, ft, e.dev, meta)
}

/// Owner, mode and time of member `e` (ids must fit 32 bits).
fn meta_of(e: &Entry, member: &str) -> Result<Meta, ExtractError> {
    Ok(Meta {
        mode: e.mode,
        uid: u32::try_from(e.uid).map_err(|_| bad_path(member)("uid out of range"))?,
        gid: u32::try_from(e.gid).map_err(|_| bad_path(member)("gid out of range"))?,
        mtime: e.mtime,
    })
}

/// Maps a path problem of `member` to [`ExtractError::BadPath`].
fn bad_path(member: &str) -> impl Fn(&'static str) -> ExtractError + '_ {
    move |problem| ExtractError::BadPath {
        member: member.to_string(),
        problem,
    }
}

/// Maps an I/O failure of `step` on `member` to [`ExtractError::Io`].
fn io_error<'a>(
    member: &'a str,
    step: &'static str,
) -> impl FnOnce(io::Error) -> ExtractError + 'a {
    move |source| ExtractError::Io {
        member: member.to_string(),
        step,
        source,
    }
}
