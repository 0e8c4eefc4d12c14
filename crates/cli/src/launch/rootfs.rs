// SPDX-License-Identifier: Apache-2.0
//! The container root: the mounted image, plus — only when something is missing — a
//! read-only overlayfs whose top lower layer is a small "skeleton" tmpfs directory holding
//! the mount points the image lacks (home, cwd, bind destinations) and the generated
//! `/etc/passwd`/`/etc/group`. The image itself is never written; with `--writable-tmpfs`
//! the overlay gets a tmpfs upper layer instead of being read-only.
//!
//! Paths are placed in the skeleton at their *canonical* location inside the image
//! (symlinks resolved in-root, the way the runtime resolves mount destinations), so a
//! symlinked `/etc` or `/home` in the image is respected rather than shadowed.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::MountFlags;

/// Symlinks followed while resolving one path (the kernel's limit).
pub const MAX_SYMLINKS: usize = 40;

/// What the container needs at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// A directory mount point.
    Dir(PathBuf),
    /// A file mount point.
    File(PathBuf),
    /// A file with this content (replaces the image's).
    Content(PathBuf, Vec<u8>),
}

/// Kind of an existing image entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Directory.
    Dir,
    /// Anything else (file, device, ...).
    Other,
}

/// `path` resolved inside the image rooted at `root`: its canonical location (relative to
/// the root) and what is there, if anything.
pub fn resolve_in_image(root: &Path, path: &Path) -> Result<(PathBuf, Option<Kind>)> {
    let mut todo: VecDeque<OsString> = normal_parts(path);
    let mut cur = PathBuf::new();
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            cur.pop();
            continue;
        }
        let cand = cur.join(&part);
        let meta = match std::fs::symlink_metadata(root.join(&cand)) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut missing = cand;
                for rest in todo {
                    if rest == ".." {
                        missing.pop();
                    } else {
                        missing.push(rest);
                    }
                }
                return Ok((missing, None));
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot look up {} in the image", path.display()));
            }
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                bail!(
                    "too many symlinks resolving {} in the image",
                    path.display()
                );
            }
            let target = std::fs::read_link(root.join(&cand))?;
            if target.is_absolute() {
                cur = PathBuf::new();
            }
            for (n, p) in normal_parts(&target).into_iter().enumerate() {
                todo.insert(n, p);
            }
            continue;
        }
        if !todo.is_empty() && !meta.is_dir() {
            bail!(
                "cannot create {} in the image: /{} is not a directory",
                path.display(),
                cand.display()
            );
        }
        cur = cand;
        if todo.is_empty() {
            return Ok((
                cur,
                Some(if meta.is_dir() {
                    Kind::Dir
                } else {
                    Kind::Other
                }),
            ));
        }
    }
    Ok((cur, Some(Kind::Dir)))
}

/// The components of `p` as a queue: normal names and `..` (root and `.` dropped).
fn normal_parts(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Fills `skel` with what `needs` requires and the image lacks. Returns whether anything
/// was added (no overlay is needed otherwise). `as_root`: copy the image's ownership of
/// the directories it mirrors.
pub fn build_skeleton(image: &Path, skel: &Path, needs: &[Need], as_root: bool) -> Result<bool> {
    let mut added = false;
    for need in needs {
        let (want, content) = match need {
            Need::Dir(p) | Need::File(p) => (p, None),
            Need::Content(p, c) => (p, Some(c)),
        };
        let (canon, kind) = resolve_in_image(image, want)?;
        if kind.is_some() && content.is_none() {
            continue;
        }
        let parent = canon.parent().unwrap_or(Path::new(""));
        mirror_dirs(image, skel, parent, as_root)?;
        let at = skel.join(&canon);
        match need {
            Need::Dir(_) => mkdir(&at, 0o755)?,
            Need::File(_) => touch(&at, b"", 0o644)?,
            Need::Content(_, c) => touch(&at, c, 0o644)?,
        }
        added = true;
    }
    Ok(added)
}

/// Creates `rel` (and its parents) under `skel`, copying mode (and owner as root) of the
/// directories the image has there.
fn mirror_dirs(image: &Path, skel: &Path, rel: &Path, as_root: bool) -> Result<()> {
    let mut cur = PathBuf::new();
    for c in rel.components() {
        cur.push(c);
        let dst = skel.join(&cur);
        if dst.is_dir() {
            continue;
        }
        let src = std::fs::symlink_metadata(image.join(&cur))
            .ok()
            .filter(|m| m.is_dir());
        let mode = src.as_ref().map_or(0o755, |m| m.mode() & 0o7777);
        mkdir(&dst, mode)?;
        if let (true, Some(m)) = (as_root, src) {
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))
                .with_context(|| format!("cannot chown {}", dst.display()))?;
        }
    }
    Ok(())
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    match std::fs::DirBuilder::new().mode(mode).create(p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", p.display())),
    }
    // the umask must not narrow a mirrored mode
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", p.display()))
}

fn touch(p: &Path, content: &[u8], mode: u32) -> Result<()> {
    std::fs::write(p, content).with_context(|| format!("cannot write {}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", p.display()))
}

/// Mounts the overlay at `target`: `skel` over `image`, read-only, or with the
/// `(upper, work)` directories when writable. `userns`: use `user.` xattrs.
pub fn mount_overlay(
    skel: &Path,
    image: &Path,
    target: &Path,
    upper: Option<(&Path, &Path)>,
    userns: bool,
) -> Result<()> {
    let all = [skel, image, target];
    let extra = upper.map(|(u, w)| [u, w]);
    for p in all.iter().chain(extra.iter().flatten()) {
        if p.as_os_str()
            .to_string_lossy()
            .contains([',', ':', '\\', '\n'])
        {
            bail!("overlay path {} contains , : or \\", p.display());
        }
    }
    let mut data = format!("lowerdir={}:{}", skel.display(), image.display());
    let mut flags = MountFlags::NOSUID | MountFlags::NODEV;
    match upper {
        Some((u, w)) => {
            data.push_str(&format!(
                ",upperdir={},workdir={}",
                u.display(),
                w.display()
            ));
            if userns {
                data.push_str(",userxattr");
            }
        }
        None => flags |= MountFlags::RDONLY,
    }
    let data = std::ffi::CString::new(data).context("overlay options")?;
    rustix::mount::mount("overlay", target, "overlay", flags, Some(data.as_c_str()))
        .with_context(|| format!("cannot mount the overlay root on {}", target.display()))
}

/// Reads a regular file of the image at `path`, resolved inside `root` (`openat2`
/// `RESOLVE_IN_ROOT`), at most `max` bytes; `None` when it is missing or not a regular file.
pub fn read_in_image(root: &Path, path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", root.display()))?;
    let rel: PathBuf = normal_parts(path).into_iter().collect();
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let fd = match rustix::fs::openat2(
        dir.as_fd(),
        &rel,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
        how,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => {
            return Ok(None);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open {} in the image", path.display()));
        }
    };
    let file = std::fs::File::from(fd);
    if !file.metadata()?.file_type().is_file() {
        return Ok(None);
    }
    let mut buf = Vec::new();
    file.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        bail!("{} in the image is larger than {max} bytes", path.display());
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn image() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/etc")).unwrap();
        std::fs::create_dir_all(r.join("var/home")).unwrap();
        symlink("usr/etc", r.join("etc")).unwrap();
        symlink("/var/home", r.join("home")).unwrap();
        symlink("../../../../etc/passwd", r.join("usr/evil")).unwrap();
        std::fs::write(r.join("usr/etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        d
    }

    #[test]
    fn test_resolution_follows_symlinks_in_root() {
        let img = image();
        let r = img.path();
        assert_eq!(
            resolve_in_image(r, Path::new("/etc/passwd")).unwrap(),
            (PathBuf::from("usr/etc/passwd"), Some(Kind::Other))
        );
        assert_eq!(
            resolve_in_image(r, Path::new("/home/alice/x")).unwrap(),
            (PathBuf::from("var/home/alice/x"), None)
        );
        assert_eq!(
            resolve_in_image(r, Path::new("/usr/evil")).unwrap().0,
            PathBuf::from("usr/etc/passwd")
        );
        assert_eq!(
            resolve_in_image(r, Path::new("/")).unwrap(),
            (PathBuf::new(), Some(Kind::Dir))
        );
        assert!(resolve_in_image(r, Path::new("/etc/passwd/x")).is_err());
    }

    #[test]
    fn test_skeleton_holds_only_what_is_missing() {
        let img = image();
        let skel = tempfile::tempdir().unwrap();
        let needs = [
            Need::Dir("/home/alice".into()),
            Need::Dir("/usr".into()),
            Need::File("/data/f".into()),
            Need::Content("/etc/passwd".into(), b"x\n".to_vec()),
        ];
        assert!(build_skeleton(img.path(), skel.path(), &needs, false).unwrap());
        let s = skel.path();
        assert!(s.join("var/home/alice").is_dir());
        assert!(!s.join("home").exists());
        assert!(s.join("data/f").is_file());
        assert_eq!(std::fs::read(s.join("usr/etc/passwd")).unwrap(), b"x\n");
        let empty = tempfile::tempdir().unwrap();
        assert!(
            !build_skeleton(img.path(), empty.path(), &[Need::Dir("/usr".into())], false).unwrap()
        );
    }

    #[test]
    fn test_read_in_image_stays_inside() {
        let img = image();
        let got = read_in_image(img.path(), Path::new("/usr/evil"), 1024)
            .unwrap()
            .unwrap();
        assert!(got.starts_with(b"root:x:0:0::/root"));
        assert!(
            read_in_image(img.path(), Path::new("/nope"), 10)
                .unwrap()
                .is_none()
        );
        assert!(read_in_image(img.path(), Path::new("/etc/passwd"), 4).is_err());
    }
}
