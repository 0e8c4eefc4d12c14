// SPDX-License-Identifier: Apache-2.0
//! `tmpcopyup`: before a new tmpfs is attached over a directory, the directory's contents are
//! copied into it, fd to fd. The source tree belongs to the image, so nothing is followed:
//! entries are opened `O_NOFOLLOW` beneath their parent fd, symlinks are copied as symlinks,
//! device nodes, fifos and sockets are skipped, and the depth and entry count are bounded.

use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::mounts::reopen_dir;
use crate::MountError;
use crate::resolve::open_beneath;

/// Deepest directory nesting copied.
const MAX_DEPTH: usize = 64;
/// Most entries copied into one tmpfs.
const MAX_ENTRIES: usize = 100_000;

/// Copies the contents of directory `src` (an `O_PATH` fd) into the mount root `dst`.
pub(crate) fn copy_up(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    dest: &Path,
) -> Result<(), MountError> {
    let err = |source| MountError::CopyUp {
        dest: dest.to_path_buf(),
        source,
    };
    let src = reopen_dir(src).map_err(err)?;
    let dst = reopen_dir(dst).map_err(err)?;
    let mut budget = MAX_ENTRIES;
    copy_dir(src.as_fd(), dst.as_fd(), 0, &mut budget).map_err(err)
}

fn copy_dir(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    depth: usize,
    budget: &mut usize,
) -> Result<(), Errno> {
    if depth > MAX_DEPTH {
        return Err(Errno::LOOP);
    }
    let mut dir = Dir::read_from(src)?;
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        *budget = budget.checked_sub(1).ok_or(Errno::NOSPC)?;
        copy_entry(src, dst, name, depth, budget)?;
    }
    Ok(())
}

fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    depth: usize,
    budget: &mut usize,
) -> Result<(), Errno> {
    let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let os_name = OsStr::from_bytes(name.to_bytes());
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
            let s = open_beneath(
                src,
                os_name,
                OFlags::RDONLY | OFlags::DIRECTORY,
                Mode::empty(),
            )?;
            let d = open_beneath(
                dst,
                os_name,
                OFlags::RDONLY | OFlags::DIRECTORY,
                Mode::empty(),
            )?;
            copy_dir(s.as_fd(), d.as_fd(), depth + 1, budget)?;
            own(d.as_fd(), st.st_uid, st.st_gid)?;
            rustix::fs::fchmod(&d, mode)
        }
        FileType::RegularFile => {
            let flags = OFlags::RDONLY | OFlags::NONBLOCK;
            let s = open_beneath(src, os_name, flags, Mode::empty())?;
            if FileType::from_raw_mode(rustix::fs::fstat(&s)?.st_mode) != FileType::RegularFile {
                return Err(Errno::INVAL);
            }
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
            let d = open_beneath(dst, os_name, flags, mode)?;
            copy_bytes(s, &d)?;
            own(d.as_fd(), st.st_uid, st.st_gid)?;
            rustix::fs::fchmod(&d, mode)
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src, name, Vec::new())?;
            rustix::fs::symlinkat(target.as_c_str(), dst, name)?;
            let (uid, gid) = ids(st.st_uid, st.st_gid);
            rustix::fs::chownat(dst, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
        }
        _ => {
            tracing::debug!(name = %os_name.to_string_lossy(), "tmpcopyup skips special file");
            Ok(())
        }
    }
}

fn ids(uid: u32, gid: u32) -> (Option<rustix::fs::Uid>, Option<rustix::fs::Gid>) {
    (
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
}

fn own(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<(), Errno> {
    let (u, g) = ids(uid, gid);
    match rustix::fs::fchown(fd, u, g) {
        // Unmapped owner in a user namespace: keep ours.
        Err(Errno::INVAL) => Ok(()),
        other => other,
    }
}

fn copy_bytes(src: OwnedFd, dst: &OwnedFd) -> Result<(), Errno> {
    let mut s = File::from(src);
    let mut d = File::from(dst.try_clone().map_err(|e| io_errno(&e))?);
    std::io::copy(&mut s, &mut d)
        .map(|_| ())
        .map_err(|e| io_errno(&e))
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn dir_fd(p: &Path) -> OwnedFd {
        rustix::fs::open(p, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).expect("open")
    }

    #[test]
    fn copies_files_dirs_and_symlinks_without_following() {
        let src = tempfile::tempdir().expect("tempdir");
        let dst = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(src.path().join("sub")).expect("mkdir");
        std::fs::write(src.path().join("sub/f"), b"hello").expect("write");
        std::fs::set_permissions(
            src.path().join("sub/f"),
            std::fs::Permissions::from_mode(0o640),
        )
        .expect("chmod");
        symlink("/etc/shadow", src.path().join("link")).expect("symlink");
        copy_up(
            dir_fd(src.path()).as_fd(),
            dir_fd(dst.path()).as_fd(),
            Path::new("/t"),
        )
        .expect("copy");
        assert_eq!(
            std::fs::read(dst.path().join("sub/f")).expect("read"),
            b"hello"
        );
        let mode = std::fs::metadata(dst.path().join("sub/f"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            std::fs::read_link(dst.path().join("link")).expect("link"),
            Path::new("/etc/shadow")
        );
    }
}
