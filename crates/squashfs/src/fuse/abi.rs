// SPDX-License-Identifier: Apache-2.0
//! The FUSE kernel ABI (linux/fuse.h, protocol 7.x) as plain byte encoding: no struct
//! transmutes, every field written and read explicitly in native byte order.

/// Opcodes of requests this server handles or refuses explicitly.
pub mod op {
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const READLINK: u32 = 5;
    pub const SYMLINK: u32 = 6;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const LINK: u32 = 13;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FSYNC: u32 = 20;
    pub const SETXATTR: u32 = 21;
    pub const GETXATTR: u32 = 22;
    pub const LISTXATTR: u32 = 23;
    pub const REMOVEXATTR: u32 = 24;
    pub const FLUSH: u32 = 25;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const FSYNCDIR: u32 = 30;
    pub const ACCESS: u32 = 34;
    pub const CREATE: u32 = 35;
    pub const INTERRUPT: u32 = 36;
    pub const DESTROY: u32 = 38;
    pub const BATCH_FORGET: u32 = 42;
    pub const FALLOCATE: u32 = 43;
    pub const READDIRPLUS: u32 = 44;
    pub const RENAME2: u32 = 45;
    pub const COPY_FILE_RANGE: u32 = 47;
    pub const TMPFILE: u32 = 51;
}

/// INIT flags (fuse_init_in/out.flags).
pub mod init {
    pub const ASYNC_READ: u32 = 1 << 0;
    pub const DO_READDIRPLUS: u32 = 1 << 13;
    pub const NO_OPEN_SUPPORT: u32 = 1 << 17;
    pub const PARALLEL_DIROPS: u32 = 1 << 18;
    pub const MAX_PAGES: u32 = 1 << 22;
    pub const CACHE_SYMLINKS: u32 = 1 << 23;
    pub const NO_OPENDIR_SUPPORT: u32 = 1 << 24;
}

/// fuse_open_out.open_flags.
pub const FOPEN_KEEP_CACHE: u32 = 1 << 1;
/// Directory listing may be cached.
pub const FOPEN_CACHE_DIR: u32 = 1 << 3;

/// The kernel ABI major version.
pub const KERNEL_VERSION: u32 = 7;
/// The minor version this server speaks (fuse_init_out has its 64-byte layout since 7.23).
pub const KERNEL_MINOR_VERSION: u32 = 31;
/// Size of fuse_in_header.
pub const IN_HEADER: usize = 40;
/// Size of fuse_out_header.
pub const OUT_HEADER: usize = 16;
/// Size of fuse_attr.
pub const ATTR_SIZE: usize = 88;
/// Size of fuse_entry_out.
pub const ENTRY_OUT: usize = 40 + ATTR_SIZE;

/// A parsed fuse_in_header and the request body.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Opcode.
    pub opcode: u32,
    /// Request id to echo in the reply.
    pub unique: u64,
    /// Target node.
    pub nodeid: u64,
    /// Caller uid.
    pub uid: u32,
    /// Caller gid.
    pub gid: u32,
    /// The bytes after the header.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Parses a request read from the device; `None` if malformed.
    pub fn parse(buf: &'a [u8]) -> Option<Self> {
        if buf.len() < IN_HEADER {
            return None;
        }
        let len = usize::try_from(u32_at(buf, 0)?).ok()?;
        if len != buf.len() {
            return None;
        }
        Some(Request {
            opcode: u32_at(buf, 4)?,
            unique: u64_at(buf, 8)?,
            nodeid: u64_at(buf, 16)?,
            uid: u32_at(buf, 24)?,
            gid: u32_at(buf, 28)?,
            body: &buf[IN_HEADER..],
        })
    }

    /// The u32 at byte `off` of the body.
    pub fn u32(&self, off: usize) -> Option<u32> {
        u32_at(self.body, off)
    }

    /// The u64 at byte `off` of the body.
    pub fn u64(&self, off: usize) -> Option<u64> {
        u64_at(self.body, off)
    }

    /// The NUL-terminated name starting at byte `off` of the body.
    pub fn name(&self, off: usize) -> Option<&'a [u8]> {
        let rest = self.body.get(off..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        Some(&rest[..end])
    }
}

/// The u32 at `off` of `b` (native order).
pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// The u64 at `off` of `b` (native order).
pub fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Appends fields of kernel structs in native order.
pub trait Put {
    /// Appends a u16.
    fn put16(&mut self, v: u16);
    /// Appends a u32.
    fn put32(&mut self, v: u32);
    /// Appends a u64.
    fn put64(&mut self, v: u64);
}

impl Put for Vec<u8> {
    fn put16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_ne_bytes());
    }
    fn put32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_ne_bytes());
    }
    fn put64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_ne_bytes());
    }
}

/// fuse_attr fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attr {
    /// st_ino.
    pub ino: u64,
    /// st_size.
    pub size: u64,
    /// st_mtime (also atime and ctime).
    pub time: u64,
    /// st_mode.
    pub mode: u32,
    /// st_nlink.
    pub nlink: u32,
    /// st_uid.
    pub uid: u32,
    /// st_gid.
    pub gid: u32,
    /// st_rdev (new_encode_dev format).
    pub rdev: u32,
    /// st_blksize.
    pub blksize: u32,
}

/// Appends a fuse_attr.
pub fn put_attr(out: &mut Vec<u8>, a: &Attr) {
    out.put64(a.ino);
    out.put64(a.size);
    out.put64(a.size.div_ceil(512));
    for _ in 0..3 {
        out.put64(a.time);
    }
    for _ in 0..3 {
        out.put32(0);
    }
    for v in [a.mode, a.nlink, a.uid, a.gid, a.rdev, a.blksize, 0] {
        out.put32(v);
    }
}

/// Appends a fuse_entry_out (nodeid 0 = negative entry cached for `valid` seconds).
pub fn put_entry(out: &mut Vec<u8>, nodeid: u64, valid: u64, attr: &Attr) {
    out.put64(nodeid);
    out.put64(0);
    out.put64(valid);
    out.put64(valid);
    out.put32(0);
    out.put32(0);
    put_attr(out, attr);
}

/// Appends a fuse_dirent (padded to 8 bytes).
pub fn put_dirent(out: &mut Vec<u8>, ino: u64, off: u64, dtype: u32, name: &[u8]) {
    out.put64(ino);
    out.put64(off);
    out.put32(u32::try_from(name.len()).unwrap_or(0));
    out.put32(dtype);
    out.extend_from_slice(name);
    out.resize(out.len().next_multiple_of(8), 0);
}

/// Size of a fuse_dirent with `name`, padded.
pub fn dirent_size(name: &[u8]) -> usize {
    (24 + name.len()).next_multiple_of(8)
}

/// The fuse_out_header of a reply with `body_len` bytes, or of an error (`error` < 0).
pub fn out_header(unique: u64, error: i32, body_len: usize) -> [u8; OUT_HEADER] {
    let mut h = [0u8; OUT_HEADER];
    let len = u32::try_from(OUT_HEADER + body_len).unwrap_or(u32::MAX);
    h[0..4].copy_from_slice(&len.to_ne_bytes());
    h[4..8].copy_from_slice(&error.to_ne_bytes());
    h[8..16].copy_from_slice(&unique.to_ne_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_kernel() {
        let mut v = Vec::new();
        put_attr(&mut v, &Attr::default());
        assert_eq!(v.len(), ATTR_SIZE);
        v.clear();
        put_entry(&mut v, 1, 2, &Attr::default());
        assert_eq!(v.len(), ENTRY_OUT);
        v.clear();
        put_dirent(&mut v, 1, 2, 4, b"abc");
        assert_eq!(v.len(), 32);
        assert_eq!(dirent_size(b"abc"), 32);
        assert_eq!(dirent_size(b"abcdefgh"), 32);
        assert_eq!(dirent_size(b"abcdefghi"), 40);
    }

    #[test]
    fn parses_requests_strictly() {
        let mut b = vec![0u8; 45];
        b[0..4].copy_from_slice(&45u32.to_ne_bytes());
        b[4..8].copy_from_slice(&op::LOOKUP.to_ne_bytes());
        b[40..45].copy_from_slice(b"abc\0x");
        let r = Request::parse(&b).unwrap();
        assert_eq!(r.opcode, op::LOOKUP);
        assert_eq!(r.name(0), Some(&b"abc"[..]));
        assert_eq!(r.name(4), None);
        assert!(r.u64(0).is_none());
        assert!(Request::parse(&b[..44]).is_none());
        assert!(Request::parse(&b[..20]).is_none());
    }
}
