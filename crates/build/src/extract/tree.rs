// SPDX-License-Identifier: Apache-2.0
//! fd-relative, no-follow operations on the root filesystem being built.
//!
//! Parents are reached with `openat2(root, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`:
//! `..` and symlinks (absolute or relative) are clamped at the tree's root, so a hostile
//! layer that plants `a -> /etc` and then writes `a/passwd` writes `<root>/etc/passwd`. The
//! final component is never followed: files are created `O_CREAT | O_EXCL | O_NOFOLLOW`
//! after removing what was there, links and nodes with `*at` calls, ownership and times with
//! `AT_SYMLINK_NOFOLLOW`.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};

/// Deepest directory nesting removed recursively.
const MAX_REMOVE_DEPTH: usize = 2048;

/// Ownership, permissions and time of a new node.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Permission bits incl. setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time.
    pub mtime: i64,
}

/// The tree being filled, opened once as a directory fd.
#[derive(Debug)]
pub struct Tree {
    root: OwnedFd,
    path: PathBuf,
    privileged: bool,
}

/// The last parent directory resolved by [`Tree::dir`]; clear it after anything was removed
/// or replaced.
#[derive(Debug, Default)]
pub struct DirCache(Option<(Vec<u8>, OwnedFd)>);

impl DirCache {
    /// Forgets the cached directory.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl Tree {
    /// Opens `path` (a directory). `privileged`: set owners and make device nodes (root).
    pub fn open(path: &Path, privileged: bool) -> io::Result<Tree> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let root = rustix::fs::open(path, flags, Mode::empty())?;
        Ok(Tree {
            root,
            path: path.to_path_buf(),
            privileged,
        })
    }

    /// The tree's path (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether owners are set and device nodes made.
    pub fn privileged(&self) -> bool {
        self.privileged
    }

    /// The root directory fd.
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// The directory `rel` (clean components joined by `/`, empty = root), resolved inside the
    /// tree; missing components are created with mode 0755. `cache` keeps the last one.
    pub fn dir<'c>(&self, cache: &'c mut DirCache, rel: &[u8]) -> io::Result<BorrowedFd<'c>> {
        if cache.0.as_ref().is_none_or(|(p, _)| p.as_slice() != rel) {
            let fd = self.resolve_or_create(rel)?;
            cache.0 = Some((rel.to_vec(), fd));
        }
        match &cache.0 {
            Some((_, fd)) => Ok(fd.as_fd()),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    /// Resolves an existing directory inside the tree (no creation).
    pub fn resolve(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let rel = if rel.is_empty() { b"." as &[u8] } else { rel };
        Ok(rustix::fs::openat2(
            &self.root,
            rel,
            flags,
            Mode::empty(),
            how,
        )?)
    }

    fn resolve_or_create(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        match self.resolve(rel) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        let mut end = 0;
        let mut parent = self.resolve(b"")?;
        for comp in rel.split(|b| *b == b'/') {
            end += comp.len();
            let prefix = &rel[..end];
            parent = match self.resolve(prefix) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    rustix::fs::mkdirat(&parent, comp, Mode::from_raw_mode(0o755))?;
                    self.resolve(prefix)?
                }
                Err(e) => return Err(e),
            };
            end += 1;
        }
        Ok(parent)
    }

    /// Removes `name` in `dir` (recursively for a directory); a missing entry is fine.
    pub fn remove(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
        remove_all(dir, name, 0)
    }

    /// Makes room for a new `name` in `dir`: removes what is there unless it is a directory
    /// and `keep_dir`. Returns true when an existing directory was kept, and whether anything
    /// was removed.
    pub fn clear(dir: BorrowedFd<'_>, name: &[u8], keep_dir: bool) -> io::Result<(bool, bool)> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if is_dir && keep_dir {
                    return Ok((true, false));
                }
                remove_all(dir, name, 0)?;
                Ok((false, true))
            }
            Err(rustix::io::Errno::NOENT) => Ok((false, false)),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a new empty regular file (never following a link), mode 0600 until [`Tree::finish`].
    pub fn create_file(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<File> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600))?;
        Ok(File::from(fd))
    }

    /// Sets owner (privileged only), mode and mtime of an opened node.
    pub fn finish(&self, fd: BorrowedFd<'_>, m: Meta) -> io::Result<()> {
        if self.privileged {
            let (u, g) = ids(m);
            rustix::fs::fchown(fd, Some(u), Some(g))?;
        }
        // After chown (which clears setuid/setgid).
        rustix::fs::fchmod(fd, Mode::from_raw_mode(self.file_mode(m.mode)))?;
        rustix::fs::futimens(fd, &times(m.mtime))?;
        Ok(())
    }

    /// The mode actually given to a file: unprivileged builds keep it readable by the owner
    /// (mksquashfs runs as the same user).
    fn file_mode(&self, mode: u32) -> u32 {
        if self.privileged {
            mode & 0o7777
        } else {
            (mode & 0o7777) | 0o400
        }
    }

    /// Creates a directory (mode 0700 until the deferred metadata is applied); an existing
    /// directory is kept. Returns whether something else was removed first.
    pub fn create_dir(&self, dir: BorrowedFd<'_>, name: &[u8], m: Meta) -> io::Result<bool> {
        let (kept, removed) = Self::clear(dir, name, true)?;
        if !kept {
            rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
        }
        if self.privileged {
            let (u, g) = ids(m);
            rustix::fs::chownat(dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)?;
        }
        Ok(removed)
    }

    /// Applies a directory's final mode and mtime (unprivileged: owner keeps rwx).
    pub fn finish_dir(&self, fd: BorrowedFd<'_>, m: Meta) -> io::Result<()> {
        let mode = if self.privileged {
            m.mode & 0o7777
        } else {
            (m.mode & 0o7777) | 0o700
        };
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?;
        rustix::fs::futimens(fd, &times(m.mtime))?;
        Ok(())
    }

    /// Creates a symbolic link (replacing what is there).
    pub fn create_symlink(
        &self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        target: &[u8],
        m: Meta,
    ) -> io::Result<()> {
        Self::clear(dir, name, false)?;
        rustix::fs::symlinkat(target, dir, name)?;
        if self.privileged {
            let (u, g) = ids(m);
            rustix::fs::chownat(dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)?;
        }
        rustix::fs::utimensat(dir, name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(())
    }

    /// Creates a hard link `dir/name` to `tdir/tname` (not following a symlink target).
    pub fn create_hardlink(
        dir: BorrowedFd<'_>,
        name: &[u8],
        tdir: BorrowedFd<'_>,
        tname: &[u8],
    ) -> io::Result<()> {
        Self::clear(dir, name, false)?;
        rustix::fs::linkat(tdir, tname, dir, name, AtFlags::empty())?;
        Ok(())
    }

    /// Creates a fifo or (privileged) a device node. Returns false when a device was skipped.
    pub fn create_node(
        &self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        ft: FileType,
        dev: (u32, u32),
        m: Meta,
    ) -> io::Result<bool> {
        if ft != FileType::Fifo && !self.privileged {
            return Ok(false);
        }
        Self::clear(dir, name, false)?;
        let rdev = rustix::fs::makedev(dev.0, dev.1);
        rustix::fs::mknodat(dir, name, ft, Mode::from_raw_mode(0o600), rdev)?;
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
        if self.privileged {
            let (u, g) = ids(m);
            rustix::fs::chownat(&fd, "", Some(u), Some(g), AtFlags::EMPTY_PATH)?;
        }
        let path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&fd));
        rustix::fs::chmod(path.as_str(), Mode::from_raw_mode(self.file_mode(m.mode)))?;
        rustix::fs::utimensat(dir, name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(true)
    }
}

fn ids(m: Meta) -> (rustix::fs::Uid, rustix::fs::Gid) {
    (
        rustix::fs::Uid::from_raw(m.uid),
        rustix::fs::Gid::from_raw(m.gid),
    )
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn remove_all(dir: BorrowedFd<'_>, name: &[u8], depth: usize) -> io::Result<()> {
    if depth > MAX_REMOVE_DEPTH {
        return Err(io::Error::other("directory nesting too deep to remove"));
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(rustix::io::Errno::ISDIR | rustix::io::Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOTDIR) => return Err(rustix::io::Errno::PERM.into()),
        Err(e) => return Err(e.into()),
    };
    // An unprivileged build may meet a directory it cannot write into.
    let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700));
    for child in children(&fd)? {
        remove_all(fd.as_fd(), &child, depth + 1)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The names in an opened directory (without `.` and `..`).
pub fn children(fd: &OwnedFd) -> io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let dir = rustix::fs::Dir::read_from(fd)?;
    for e in dir {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(n.to_vec());
        }
    }
    Ok(out)
}
