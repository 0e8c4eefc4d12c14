// SPDX-License-Identifier: Apache-2.0
//! Directory listings, xattrs, statfs and access checks.

use std::sync::Arc;

use super::abi::{self, Attr, Put, Request, op};
use super::ops::{Fs, MAX_READ, Reply};
use crate::inode::{Body, Inode, Kind};

impl Fs {
    pub(super) fn readdir(
        &self,
        req: &Request<'_>,
        out: &mut Vec<u8>,
        plus: bool,
    ) -> Result<Reply, i32> {
        let (off, size) = (
            req.u64(8).ok_or(libc::EINVAL)?,
            req.u32(16).ok_or(libc::EINVAL)?,
        );
        let dir = self.node(req.nodeid)?;
        let Body::Dir { parent, .. } = dir.body else {
            return Err(libc::ENOTDIR);
        };
        let listing = self.archive.listing(&dir).map_err(|e| e.errno())?;
        let size = size.min(MAX_READ) as usize;
        let total = listing.entries.len() as u64 + 2;
        let mut idx = off;
        while idx < total {
            let (name, ino, dtype, child): (&[u8], u64, u32, Option<Arc<Inode>>) = match idx {
                0 => (b".", u64::from(dir.number), libc::DT_DIR.into(), None),
                1 => {
                    let p = if dir.reference == self.root_ref {
                        dir.number
                    } else {
                        parent
                    };
                    (b"..", u64::from(p), libc::DT_DIR.into(), None)
                }
                _ => {
                    let e = &listing.entries[usize::try_from(idx - 2).map_err(|_| libc::EIO)?];
                    let child = if plus {
                        self.archive.inode(e.inode_ref).ok()
                    } else {
                        None
                    };
                    (
                        &e.name[..],
                        u64::from(e.inode_number),
                        e.kind.mode_bits() >> 12,
                        child,
                    )
                }
            };
            let need = abi::dirent_size(name) + if plus { abi::ENTRY_OUT } else { 0 };
            if out.len() + need > size {
                break;
            }
            if plus {
                match &child {
                    Some(c) => {
                        abi::put_entry(out, self.nodeid(c.reference), self.valid, &self.attr(c))
                    }
                    None => abi::put_entry(out, 0, 0, &Attr::default()),
                }
            }
            abi::put_dirent(out, ino, idx + 1, dtype, name);
            idx += 1;
        }
        Ok(Reply::Body)
    }

    pub(super) fn statfs(&self, out: &mut Vec<u8>) -> Result<Reply, i32> {
        let sb = self.archive.superblock();
        out.put64(sb.bytes_used.div_ceil(u64::from(sb.block_size)));
        out.put64(0);
        out.put64(0);
        out.put64(u64::from(sb.inode_count));
        out.put64(0);
        out.put32(sb.block_size);
        out.put32(255);
        out.put32(sb.block_size);
        out.resize(80, 0);
        Ok(Reply::Body)
    }

    pub(super) fn xattr(&self, req: &Request<'_>, out: &mut Vec<u8>) -> Result<Reply, i32> {
        let size = req.u32(0).ok_or(libc::EINVAL)? as usize;
        let i = self.node(req.nodeid)?;
        let attrs = self.archive.xattrs(&i).map_err(|e| e.errno())?;
        let value: Vec<u8> = if req.opcode == op::GETXATTR {
            let name = req.name(8).ok_or(libc::EINVAL)?;
            attrs
                .into_iter()
                .find(|x| x.name == name)
                .ok_or(libc::ENODATA)?
                .value
        } else {
            attrs
                .iter()
                .flat_map(|x| x.name.iter().copied().chain([0]))
                .collect()
        };
        if size == 0 {
            out.put32(u32::try_from(value.len()).map_err(|_| libc::E2BIG)?);
            out.put32(0);
        } else if value.len() > size {
            return Err(libc::ERANGE);
        } else {
            out.extend_from_slice(&value);
        }
        Ok(Reply::Body)
    }

    pub(super) fn access(&self, req: &Request<'_>) -> Result<Reply, i32> {
        let mask = req.u32(0).ok_or(libc::EINVAL)?;
        if mask & libc::W_OK as u32 != 0 {
            return Err(libc::EROFS);
        }
        let i = self.node(req.nodeid)?;
        let mode = i.mode();
        let bits = if req.uid == 0 {
            if mode & 0o111 != 0 || i.kind == Kind::Dir {
                7
            } else {
                6
            }
        } else if req.uid == i.uid {
            (mode >> 6) & 7
        } else if req.gid == i.gid {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        if mask & 7 & !bits != 0 {
            Err(libc::EACCES)
        } else {
            Ok(Reply::Body)
        }
    }
}
