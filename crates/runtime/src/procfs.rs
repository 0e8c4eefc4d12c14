// SPDX-License-Identifier: Apache-2.0
//! Verified procfs access (CVE-2019-16884, CVE-2025-52881): every runtime write under
//! `/proc` (uid/gid maps, setgroups, oom_score_adj, timens offsets) goes through a handle
//! that is checked to be procfs, and files are opened beneath it with `openat2` refusing
//! symlinks, magic links and mount crossings, so an overmounted or redirected target fails.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Errors of procfs access.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// Opening failed (includes an overmount detected by `RESOLVE_NO_XDEV`).
    #[error("cannot open {path}")]
    Open {
        /// Path under the proc root.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The handle is not on procfs.
    #[error("{path} is not on procfs")]
    NotProc {
        /// Path under the proc root.
        path: String,
    },
    /// Writing failed.
    #[error("cannot write {path}")]
    Write {
        /// Path under the proc root.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `/proc/<pid>/stat` is unreadable or malformed.
    #[error("cannot read /proc/{pid}/stat")]
    Stat {
        /// Process.
        pid: i32,
    },
}

/// A procfs root directory handle, verified at open.
#[derive(Debug)]
pub struct ProcRoot {
    fd: OwnedFd,
}

fn is_procfs(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|s| s.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

impl ProcRoot {
    /// Opens and checks `path` (normally `/proc`).
    pub fn open(path: &Path) -> Result<ProcRoot, ProcError> {
        let name = path.display().to_string();
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ProcError::Open {
            path: name.clone(),
            source: e.into(),
        })?;
        if !is_procfs(fd.as_fd()) {
            return Err(ProcError::NotProc { path: name });
        }
        Ok(ProcRoot { fd })
    }

    /// The directory handle.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens `rel` (e.g. `123/uid_map`) beneath the root: no symlinks, no magic links, no
    /// mount crossing; the result is checked to be procfs.
    pub fn open_file(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, ProcError> {
        let resolve = ResolveFlags::NO_SYMLINKS
            | ResolveFlags::NO_MAGICLINKS
            | ResolveFlags::NO_XDEV
            | ResolveFlags::BENEATH;
        let fd = rustix::fs::openat2(
            &self.fd,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        )
        .map_err(|e| ProcError::Open {
            path: rel.to_string(),
            source: e.into(),
        })?;
        if !is_procfs(fd.as_fd()) {
            return Err(ProcError::NotProc {
                path: rel.to_string(),
            });
        }
        Ok(fd)
    }

    /// Writes `data` to `rel` in one `write` (procfs files take one write).
    pub fn write(&self, rel: &str, data: &[u8]) -> Result<(), ProcError> {
        let fd = self.open_file(rel, OFlags::WRONLY)?;
        let mut f = std::fs::File::from(fd);
        f.write_all(data).map_err(|source| ProcError::Write {
            path: rel.to_string(),
            source,
        })
    }

    /// Reads `rel` as text.
    pub fn read(&self, rel: &str) -> Result<String, ProcError> {
        let fd = self.open_file(rel, OFlags::RDONLY)?;
        std::io::read_to_string(std::fs::File::from(fd)).map_err(|source| ProcError::Open {
            path: rel.to_string(),
            source,
        })
    }

    /// (state letter, start time in clock ticks) of `pid` from `<pid>/stat`.
    pub fn stat(&self, pid: i32) -> Result<(char, u64), ProcError> {
        let text = self
            .read(&format!("{pid}/stat"))
            .map_err(|_| ProcError::Stat { pid })?;
        parse_stat(&text).ok_or(ProcError::Stat { pid })
    }
}

/// Parses (state, starttime) from a `/proc/<pid>/stat` line; `comm` may hold spaces and
/// parentheses, so fields are counted after the last `)`.
pub fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // after the state (field 3) the start time is field 22: 18 fields further
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_stat_with_odd_comm() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1 2";
        assert_eq!(parse_stat(line), Some(('S', 987_654)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn test_open_self_stat_and_refuse_non_proc() {
        let proc = ProcRoot::open(Path::new("/proc")).unwrap();
        let pid = rustix::process::getpid().as_raw_nonzero().get();
        let (state, start) = proc.stat(pid).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(start > 0);
        assert!(matches!(
            ProcRoot::open(Path::new("/tmp")),
            Err(ProcError::NotProc { .. })
        ));
        // a symlink below the root is refused (self -> <pid>)
        assert!(proc.open_file("self/stat", OFlags::RDONLY).is_err());
    }
}
