// SPDX-License-Identifier: Apache-2.0
//! Control-file I/O relative to an open cgroup directory: one `openat` + one `write` per
//! value, errors naming the file and the value.
//!
//! Files are opened `O_APPEND`: kernfs ignores file positions, so on cgroupfs this changes
//! nothing, and on the fake trees of the unit tests every write is kept in order (a test
//! reads back `devices.deny` as `a`, then `devices.allow` as the rule lines).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, openat};

use crate::error::{CgroupError, Result};

/// Longest control file we read (memory.stat, io.stat and devices.list stay far below).
const MAX_READ: u64 = 1 << 20;

/// An open cgroup directory and its path (for messages).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CgDir<'a> {
    fd: BorrowedFd<'a>,
    path: &'a Path,
}

impl<'a> CgDir<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, path: &'a Path) -> Self {
        CgDir { fd, path }
    }

    /// The directory's path.
    pub(crate) fn path(&self) -> &'a Path {
        self.path
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn open(&self, name: &str, write: bool) -> io::Result<std::fs::File> {
        let mode = if write {
            OFlags::WRONLY | OFlags::APPEND
        } else {
            OFlags::RDONLY
        };
        let fd: OwnedFd = openat(
            self.fd,
            name,
            mode | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        Ok(std::fs::File::from(fd))
    }

    /// Writes `value` (plus a newline, like `echo`) in one `write(2)`, returning the raw error.
    pub(crate) fn try_write(&self, name: &str, value: &str) -> io::Result<()> {
        let mut f = self.open(name, true)?;
        f.write_all(format!("{value}\n").as_bytes())
    }

    /// Writes `value` to `name`; the error says `cannot write <value> to <path>`.
    pub(crate) fn write(&self, name: &str, value: &str) -> Result<()> {
        self.try_write(name, value)
            .map_err(|source| self.write_error(name, value, source))
    }

    /// Writes each value with its own `write(2)` on one open file (rule lists such as
    /// `devices.allow`, where the kernel parses one rule per write).
    pub(crate) fn write_each(&self, name: &str, values: &[String]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let first = values.first().map_or("", String::as_str);
        let mut f = self
            .open(name, true)
            .map_err(|e| self.write_error(name, first, e))?;
        for v in values {
            f.write_all(format!("{v}\n").as_bytes())
                .map_err(|e| self.write_error(name, v, e))?;
        }
        Ok(())
    }

    pub(crate) fn write_error(&self, name: &str, value: &str, source: io::Error) -> CgroupError {
        CgroupError::Write {
            path: self.file(name),
            value: value.to_string(),
            source,
        }
    }

    /// Reads a control file, returning the raw error.
    pub(crate) fn try_read(&self, name: &str) -> io::Result<String> {
        let mut s = String::new();
        self.open(name, false)?
            .take(MAX_READ)
            .read_to_string(&mut s)?;
        Ok(s)
    }

    /// Reads a control file; the error names it.
    pub(crate) fn read(&self, name: &str) -> Result<String> {
        self.try_read(name).map_err(|source| CgroupError::Read {
            path: self.file(name),
            source,
        })
    }

    /// Reads a control file holding one unsigned number (`max` reads as `u64::MAX`).
    pub(crate) fn read_u64(&self, name: &str) -> Result<u64> {
        let text = self.read(name)?;
        parse_u64(text.trim()).ok_or_else(|| CgroupError::Parse {
            path: self.file(name),
            what: format!("not a number: {:?}", text.trim()),
        })
    }

    /// Like [`Self::read_u64`] but a missing file is `None`.
    pub(crate) fn read_u64_opt(&self, name: &str) -> Result<Option<u64>> {
        match self.try_read(name) {
            Ok(text) => parse_u64(text.trim())
                .map(Some)
                .ok_or_else(|| CgroupError::Parse {
                    path: self.file(name),
                    what: format!("not a number: {:?}", text.trim()),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CgroupError::Read {
                path: self.file(name),
                source,
            }),
        }
    }

    /// Reads a `key value` file (memory.stat, cpu.stat, memory.events) into pairs.
    pub(crate) fn read_keyed(&self, name: &str) -> Result<Vec<(String, u64)>> {
        Ok(parse_keyed(&self.read(name)?))
    }
}

impl AsFd for CgDir<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd
    }
}

/// Opens a directory for `openat`-relative use (and as a `CLONE_INTO_CGROUP` target).
pub(crate) fn open_dir(dirfd: impl AsFd, rel: &Path) -> io::Result<OwnedFd> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    Ok(openat(
        dirfd,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Whether `e` is one of `errnos`.
pub(crate) fn is_errno(e: &io::Error, errnos: &[rustix::io::Errno]) -> bool {
    e.raw_os_error()
        .is_some_and(|c| errnos.iter().any(|x| x.raw_os_error() == c))
}

/// `max` → `u64::MAX`, else a decimal number.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

/// `key value` lines → pairs (lines that do not fit are skipped).
pub(crate) fn parse_keyed(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (k, v) = (it.next()?, it.next()?);
            Some((k.to_string(), parse_u64(v)?))
        })
        .collect()
}

/// The value of `key` in parsed pairs, 0 when absent.
pub(crate) fn keyed(pairs: &[(String, u64)], key: &str) -> u64 {
    pairs.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_append_and_errors_name_file_and_value() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("pids.max"), "").unwrap();
        let fd = open_dir(rustix::fs::CWD, d.path()).unwrap();
        let dir = CgDir::new(fd.as_fd(), d.path());
        dir.write("pids.max", "10").unwrap();
        dir.write_each("pids.max", &["max".into(), "3".into()])
            .unwrap();
        assert_eq!(dir.read("pids.max").unwrap(), "10\nmax\n3\n");
        let err = dir.write("memory.max", "1024").unwrap_err().to_string();
        assert_eq!(
            err,
            format!("cannot write 1024 to {}/memory.max", d.path().display())
        );
        assert_eq!(
            parse_keyed("a 1\nb max\nbad\nc x\n"),
            [("a".into(), 1), ("b".into(), u64::MAX)]
        );
        assert_eq!(dir.read_u64_opt("nope").unwrap(), None);
    }
}
