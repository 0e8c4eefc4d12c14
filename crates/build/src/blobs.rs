// SPDX-License-Identifier: Apache-2.0
//! Where image files come from: a directory (OCI layout) or a tar archive (oci-archive,
//! docker-archive). An archive is indexed once (headers only, member data skipped by
//! seeking) and members are then read in place with positioned reads: no copy of the
//! archive is made.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::BuildError;
use crate::extract::clean;
use crate::tar::{Input, Kind, TarReader};

/// Most members indexed in an outer archive.
pub const MAX_MEMBERS: usize = 1 << 16;
/// Largest JSON document read from an image (index, manifest, config).
pub const MAX_JSON: u64 = 8 << 20;
/// Symlinks followed between archive members (docker save links duplicate layers).
const MAX_LINK_HOPS: usize = 8;

/// A set of named files: an image layout directory or an indexed tar archive.
#[derive(Debug)]
pub enum Blobs {
    /// Files below a directory (opened beneath it, never outside).
    Dir {
        /// The directory.
        path: PathBuf,
        /// Its fd.
        fd: std::os::fd::OwnedFd,
    },
    /// Members of a tar archive.
    Archive {
        /// The archive.
        path: PathBuf,
        /// Its fd.
        file: File,
        /// Clean member name → (data offset, size) or symlink target.
        members: HashMap<Vec<u8>, Member>,
    },
}

/// An indexed archive member.
#[derive(Debug, Clone)]
pub enum Member {
    /// Regular file data.
    Data(u64, u64),
    /// Symbolic or hard link (clean target path, relative to the archive root).
    Link(Vec<u8>),
}

impl Blobs {
    /// Opens a directory.
    pub fn dir(path: &Path) -> Result<Blobs, BuildError> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd =
            rustix::fs::open(path, flags, Mode::empty()).map_err(|e| BuildError::OpenSource {
                path: path.to_path_buf(),
                source: e.into(),
            })?;
        Ok(Blobs::Dir {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// Opens and indexes a tar archive.
    pub fn archive(path: &Path) -> Result<Blobs, BuildError> {
        let file = File::open(path).map_err(|source| BuildError::OpenSource {
            path: path.to_path_buf(),
            source,
        })?;
        let archive_err = |member: String, problem: String| BuildError::Archive {
            path: path.to_path_buf(),
            member,
            problem,
        };
        let mut tar =
            TarReader::new(file.try_clone().map_err(|source| BuildError::OpenSource {
                path: path.to_path_buf(),
                source,
            })?);
        let mut members = HashMap::new();
        loop {
            let e = match tar.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => return Err(archive_err(String::new(), crate::error::chain(&e))),
            };
            let name = String::from_utf8_lossy(&e.path).into_owned();
            let clean_name =
                clean(&e.path).map_err(|p| archive_err(name.clone(), p.to_string()))?;
            let m = match e.kind {
                Kind::File => Member::Data(e.data_offset, e.size),
                Kind::Hardlink => Member::Link(
                    clean(&e.link).map_err(|p| archive_err(name.clone(), p.to_string()))?,
                ),
                Kind::Symlink => {
                    let base = match clean_name.iter().rposition(|b| *b == b'/') {
                        Some(i) if !e.link.starts_with(b"/") => {
                            [&clean_name[..=i], &e.link[..]].concat()
                        }
                        _ => e.link.clone(),
                    };
                    Member::Link(normalize_dots(&base).ok_or_else(|| {
                        archive_err(name.clone(), "link leaves the archive".into())
                    })?)
                }
                _ => continue,
            };
            if members.len() >= MAX_MEMBERS {
                return Err(archive_err(name, "too many members".into()));
            }
            members.insert(clean_name, m);
        }
        Ok(Blobs::Archive {
            path: path.to_path_buf(),
            file,
            members,
        })
    }

    /// The archive or directory path.
    pub fn path(&self) -> &Path {
        match self {
            Blobs::Dir { path, .. } | Blobs::Archive { path, .. } => path,
        }
    }

    /// Whether `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        self.open(name).is_ok()
    }

    /// Opens `name` (a relative path); returns a reader and the size.
    pub fn open(&self, name: &str) -> Result<(Blob, u64), BuildError> {
        let missing = |problem: String| BuildError::Archive {
            path: self.path().to_path_buf(),
            member: name.to_string(),
            problem,
        };
        let clean_name = clean(name.as_bytes()).map_err(|p| missing(p.to_string()))?;
        match self {
            Blobs::Dir { fd, .. } => {
                let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
                let f = rustix::fs::openat2(
                    fd,
                    clean_name.as_slice(),
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                    how,
                )
                .map_err(|e| missing(io::Error::from(e).to_string()))?;
                let f = File::from(f);
                let len = f.metadata().map_err(|e| missing(e.to_string()))?.len();
                Ok((
                    Blob {
                        file: f,
                        pos: 0,
                        end: len,
                    },
                    len,
                ))
            }
            Blobs::Archive { file, members, .. } => {
                let mut key = clean_name;
                for _ in 0..MAX_LINK_HOPS {
                    match members.get(&key) {
                        Some(Member::Data(off, size)) => {
                            let f = file.try_clone().map_err(|e| missing(e.to_string()))?;
                            return Ok((
                                Blob {
                                    file: f,
                                    pos: *off,
                                    end: off + size,
                                },
                                *size,
                            ));
                        }
                        Some(Member::Link(t)) => key = t.clone(),
                        None => return Err(missing("not in the archive".into())),
                    }
                }
                Err(missing("too many links".into()))
            }
        }
    }

    /// Reads a whole small document (≤ [`MAX_JSON`]).
    pub fn read_small(&self, name: &str) -> Result<Vec<u8>, BuildError> {
        let (mut r, size) = self.open(name)?;
        if size > MAX_JSON {
            return Err(BuildError::Archive {
                path: self.path().to_path_buf(),
                member: name.into(),
                problem: format!("{size} bytes is too large for metadata"),
            });
        }
        let mut v = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        r.read_to_end(&mut v).map_err(|e| BuildError::Archive {
            path: self.path().to_path_buf(),
            member: name.into(),
            problem: e.to_string(),
        })?;
        Ok(v)
    }
}

/// Resolves `.` and `..` in an archive-relative path; `None` if it leaves the root.
fn normalize_dots(p: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in p.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join(&b'/'))
}

/// A byte range of a file, read with `pread`.
#[derive(Debug)]
pub struct Blob {
    file: File,
    pos: u64,
    end: u64,
}

impl Blob {
    /// The range `[offset, offset + len)` of `file`.
    pub fn range(file: File, offset: u64, len: u64) -> Blob {
        Blob {
            file,
            pos: offset,
            end: offset.saturating_add(len),
        }
    }
}

impl Read for Blob {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Input for Blob {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        if self.end.saturating_sub(self.pos) < n {
            self.pos = self.end;
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_stay_inside() {
        assert_eq!(normalize_dots(b"a/../b/layer.tar").unwrap(), b"b/layer.tar");
        assert!(normalize_dots(b"../../etc/passwd").is_none());
    }
}
