// SPDX-License-Identifier: Apache-2.0
//! Path resolution inside the container root, never outside it (CVE-2021-30465,
//! CVE-2019-19921, CVE-2024-45310).
//!
//! Every lookup is `openat2(root_fd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: `..` and
//! absolute symlinks are clamped at the rootfs, `/proc/self/fd/N`-style magic links are
//! refused. Missing directories are created one component at a time with `mkdirat` on the fd of
//! the already-resolved parent, then re-resolved from the root, so a component swapped for a
//! symlink between the two calls still lands inside the rootfs. Paths are cleaned lexically
//! first ([`clean`]), so `..` never depends on what a symlink points to.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::MountError;

/// How many times an `openat2` that reports a concurrent rename (`EAGAIN`) is retried.
const EAGAIN_RETRIES: usize = 32;

/// Opens `path` inside `root` (`openat2` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`):
/// `..` and symlinks, absolute or relative, never leave `root`. `O_CLOEXEC` is always added.
pub fn open_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
) -> Result<OwnedFd, MountError> {
    let rel = clean(path);
    openat2_in_root(root, &rel, flags, ResolveFlags::empty()).map_err(|source| {
        MountError::Resolve {
            path: absolute(&rel),
            source,
        }
    })
}

/// Lexically cleans a container path into a relative path without `.`, `..` or empty
/// components (`..` above the root is dropped, as the kernel does at `/`).
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `/` + a cleaned relative path, for messages and comparisons.
pub(crate) fn absolute(rel: &Path) -> PathBuf {
    Path::new("/").join(rel)
}

/// Raw in-root `openat2` (`rel` already cleaned; "" means the root itself), with extra
/// resolve flags such as `RESOLVE_NO_SYMLINKS`.
pub(crate) fn openat2_in_root(
    root: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlags,
    extra: ResolveFlags,
) -> Result<OwnedFd, Errno> {
    let target: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS | extra;
    retry_eagain(|| {
        rustix::fs::openat2(
            root,
            target,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        )
    })
}

/// `openat2` of one name directly under `dir`, never following a symlink and never crossing
/// a mount: for entries the caller is about to replace or mount on.
pub(crate) fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    retry_eagain(|| {
        rustix::fs::openat2(
            dir,
            name,
            flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            mode,
            resolve,
        )
    })
}

fn retry_eagain<T>(mut f: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    let mut last = Errno::AGAIN;
    for _ in 0..EAGAIN_RETRIES {
        match f() {
            Err(Errno::AGAIN) => last = Errno::AGAIN,
            other => return other,
        }
    }
    Err(last)
}

/// Resolves directory `rel` in-root, creating missing components (mode 0755). Returns an
/// `O_PATH` fd of the directory and whether its last component had to be created.
/// `extra` (e.g. `RESOLVE_NO_SYMLINKS` for /proc and /sys) applies to every lookup.
pub(crate) fn mkdir_all(
    root: BorrowedFd<'_>,
    rel: &Path,
    extra: ResolveFlags,
) -> Result<(OwnedFd, bool), MountError> {
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY;
    let err = |source| MountError::Resolve {
        path: absolute(rel),
        source,
    };
    match openat2_in_root(root, rel, dir_flags, extra) {
        Ok(fd) => return Ok((fd, false)),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(err(e)),
    }
    let mut cur = openat2_in_root(root, Path::new(""), dir_flags, extra).map_err(err)?;
    let mut prefix = PathBuf::new();
    let mut created = false;
    for comp in rel.iter() {
        prefix.push(comp);
        created = false;
        cur = match openat2_in_root(root, &prefix, dir_flags, extra) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                match rustix::fs::mkdirat(&cur, comp, Mode::from_raw_mode(0o755)) {
                    Ok(()) => created = true,
                    Err(Errno::EXIST) => {}
                    Err(source) => {
                        return Err(MountError::Create {
                            path: absolute(&prefix),
                            source,
                        });
                    }
                }
                // A dangling symlink makes mkdirat say EEXIST and the lookup ENOENT again:
                // reported, never followed out of the root.
                openat2_in_root(root, &prefix, dir_flags, extra).map_err(|source| {
                    MountError::Resolve {
                        path: absolute(&prefix),
                        source,
                    }
                })?
            }
            Err(source) => {
                return Err(MountError::Resolve {
                    path: absolute(&prefix),
                    source,
                });
            }
        };
    }
    Ok((cur, created))
}

/// Splits a cleaned relative path into its parent and final name (`None` for the root).
pub(crate) fn split_parent(rel: &Path) -> Option<(&Path, &OsStr)> {
    Some((rel.parent()?, rel.file_name()?))
}

/// Resolves file `rel` in-root (following symlinks inside the root), creating its parent
/// directories and an empty regular file (mode 0644) when it is missing. Returns an `O_PATH`
/// fd of the file.
pub(crate) fn ensure_file(root: BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd, MountError> {
    let err = |source| MountError::Resolve {
        path: absolute(rel),
        source,
    };
    match openat2_in_root(root, rel, OFlags::PATH, ResolveFlags::empty()) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(err(e)),
    }
    let (parent, name) = split_parent(rel).ok_or(MountError::InvalidDestination {
        dest: absolute(rel),
        reason: "the container root itself",
    })?;
    let (dir, _) = mkdir_all(root, parent, ResolveFlags::empty())?;
    create_empty_file(dir.as_fd(), name).map_err(|source| MountError::Create {
        path: absolute(rel),
        source,
    })?;
    openat2_in_root(root, rel, OFlags::PATH, ResolveFlags::empty()).map_err(err)
}

/// Creates an empty regular file `name` in `dir` unless something already exists there
/// (`O_CREAT|O_EXCL|O_NOFOLLOW`: never writes through a symlink).
pub(crate) fn create_empty_file(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOCTTY;
    match open_beneath(dir, name, flags, Mode::from_raw_mode(0o644)) {
        Ok(_) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn root_fd(dir: &Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).expect("open root")
    }

    #[test]
    fn clean_drops_dots_and_clamps_parent() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(clean(Path::new("../../etc")), PathBuf::from("etc"));
        assert_eq!(clean(Path::new("/")), PathBuf::new());
        assert_eq!(clean(Path::new("rel//x/")), PathBuf::from("rel/x"));
    }

    #[test]
    fn absolute_symlink_is_clamped_to_the_root() {
        let outside = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        symlink(outside.path(), root.path().join("evil")).expect("symlink");
        let fd = root_fd(root.path());
        // evil -> /tmp/xxx: inside the root, that directory does not exist.
        let e = mkdir_all(fd.as_fd(), Path::new("evil/sub"), ResolveFlags::empty());
        assert!(
            e.is_err(),
            "dangling in-root symlink must not be created through"
        );
        assert_eq!(std::fs::read_dir(outside.path()).expect("read").count(), 0);
    }

    #[test]
    fn relative_escape_stays_inside() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("d")).expect("mkdir");
        symlink("../../../../../..", root.path().join("d/up")).expect("symlink");
        let fd = root_fd(root.path());
        let (_, created) =
            mkdir_all(fd.as_fd(), Path::new("d/up/made"), ResolveFlags::empty()).expect("mkdir");
        assert!(created);
        assert!(
            root.path().join("made").is_dir(),
            "d/up resolves to the root itself"
        );
    }

    #[test]
    fn ensure_file_creates_parents_and_file() {
        let root = tempfile::tempdir().expect("tempdir");
        let fd = root_fd(root.path());
        ensure_file(fd.as_fd(), Path::new("a/b/f")).expect("file");
        assert!(root.path().join("a/b/f").is_file());
        // Existing file: resolved, not truncated.
        std::fs::write(root.path().join("a/b/f"), b"x").expect("write");
        ensure_file(fd.as_fd(), Path::new("a/b/f")).expect("file");
        assert_eq!(
            std::fs::read(root.path().join("a/b/f")).expect("read"),
            b"x"
        );
    }

    #[test]
    fn no_symlinks_refuses_a_symlinked_component() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("real")).expect("mkdir");
        symlink("real", root.path().join("proc")).expect("symlink");
        let fd = root_fd(root.path());
        let e = mkdir_all(fd.as_fd(), Path::new("proc"), ResolveFlags::NO_SYMLINKS);
        assert!(
            matches!(
                e,
                Err(MountError::Resolve {
                    source: Errno::LOOP,
                    ..
                })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn magic_links_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let fd = root_fd(Path::new("/"));
        let _keep = root;
        let e = open_in_root(fd.as_fd(), Path::new("/proc/self/cwd"), OFlags::PATH);
        assert!(e.is_err(), "magic link must not resolve");
    }
}
