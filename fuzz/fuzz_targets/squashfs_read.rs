// SPDX-License-Identifier: Apache-2.0
//! Feeds arbitrary bytes to the squashfs reader as an image: open, walk every inode, read
//! every file, symlink and xattr. Must never panic, hang or allocate without bound.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use stockade_squashfs::inode::Body;
use stockade_squashfs::{Archive, ArchiveOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ArchiveOptions { cache_bytes: 4 << 20 };
    let Ok(a) = Archive::open_with(Arc::new(data.to_vec()), &opts) else { return };
    let mut budget = 10_000u32;
    let _ = a.walk(&mut |_, inode| {
        budget = budget.checked_sub(1).ok_or(stockade_squashfs::ImageError::NotFound)?;
        let _ = a.xattrs(inode);
        match &inode.body {
            Body::File(_) => {
                let _ = a.read(inode, 0, 1 << 20);
            }
            Body::Symlink(_) => {
                let _ = a.readlink(inode);
            }
            _ => {}
        }
        Ok(())
    });
});
