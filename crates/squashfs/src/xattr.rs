// SPDX-License-Identifier: Apache-2.0
//! Extended attributes: an id table (ref, count, size per inode xattr index) pointing into a
//! key/value area of metadata blocks; values may be stored out of line (type bit 0x100).

use crate::error::{ImageError, Result};
use crate::meta::{LookupTable, Meta};

/// Largest xattr value (Linux `XATTR_SIZE_MAX`).
pub const MAX_VALUE: u32 = 65536;
/// Most xattrs on one inode.
pub const MAX_PER_INODE: u32 = 4096;
/// Largest xattr name without prefix.
const MAX_NAME: u16 = 255;

/// One extended attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xattr {
    /// Full name with its namespace prefix (`user.`, `trusted.`, `security.`).
    pub name: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
}

/// The xattr tables of an image.
#[derive(Debug)]
pub struct XattrTable {
    kv_start: u64,
    ids: LookupTable,
}

impl XattrTable {
    /// Loads the xattr id table header at `start`.
    pub fn load(meta: &Meta, start: u64) -> Result<Self> {
        let mut h = [0u8; 16];
        meta.read_raw("xattr id table", start, &mut h)?;
        let kv_start = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        let count = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if kv_start >= meta.end() || kv_start >= start {
            return Err(ImageError::corrupt(
                "xattr id table",
                start,
                "key/value table outside the image",
            ));
        }
        let ids = LookupTable::load(meta, "xattr id table", start + 16, u64::from(count), 16)?;
        Ok(XattrTable { kv_start, ids })
    }

    /// The xattrs of index `idx`.
    pub fn get(&self, meta: &Meta, idx: u32) -> Result<Vec<Xattr>> {
        let mut e = [0u8; 16];
        self.ids.entry(meta, u64::from(idx), &mut e)?;
        let kv_ref = u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
        let count = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
        let corrupt = |why| ImageError::corrupt("xattr", u64::from(idx), why);
        if count > MAX_PER_INODE {
            return Err(corrupt("too many xattrs"));
        }
        let mut r = meta.reader(self.block(kv_ref)?, (kv_ref & 0xffff) as usize);
        let mut out = Vec::new();
        for _ in 0..count {
            let (ty, nlen) = (r.u16()?, r.u16()?);
            if nlen > MAX_NAME {
                return Err(corrupt("name too long"));
            }
            let prefix: &[u8] = match ty & 0xff {
                0 => b"user.",
                1 => b"trusted.",
                2 => b"security.",
                _ => return Err(corrupt("unknown namespace")),
            };
            let mut name = prefix.to_vec();
            name.extend_from_slice(&r.bytes(usize::from(nlen))?);
            let vlen = r.u32()?;
            let value = if ty & 0x100 != 0 {
                if vlen != 8 {
                    return Err(corrupt("bad out-of-line reference"));
                }
                let vref = r.u64()?;
                let mut vr = meta.reader(self.block(vref)?, (vref & 0xffff) as usize);
                let len = vr.u32()?;
                if len > MAX_VALUE {
                    return Err(corrupt("value too large"));
                }
                vr.bytes(len as usize)?
            } else {
                if vlen > MAX_VALUE {
                    return Err(corrupt("value too large"));
                }
                r.bytes(vlen as usize)?
            };
            out.push(Xattr { name, value });
        }
        Ok(out)
    }

    fn block(&self, reference: u64) -> Result<u64> {
        self.kv_start
            .checked_add(reference >> 16)
            .filter(|_| reference >> 48 == 0)
            .ok_or_else(|| ImageError::corrupt("xattr reference", reference, "out of range"))
    }
}
