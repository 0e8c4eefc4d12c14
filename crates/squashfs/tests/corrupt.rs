// SPDX-License-Identifier: Apache-2.0
//! Hostile images: truncations, bit flips over every byte of a small uncompressed image, a
//! directory entry pointing at its own ancestor, huge counts. The reader must answer with
//! errors (or some data), never panic, loop or allocate without bound.
#![allow(clippy::tests_outside_test_module, clippy::cast_possible_truncation)]

mod common;

use std::sync::Arc;

use anyhow::Result;
use common::mksquashfs;
use stockade_squashfs::{Archive, ImageError};

/// Opens an in-memory image and reads everything in it; returns the first error.
fn read_all(img: &[u8]) -> Result<usize, ImageError> {
    let a = Archive::open(Arc::new(img.to_vec()))?;
    let mut n = 0;
    a.walk(&mut |_, inode| {
        n += 1;
        let _ = a.xattrs(inode)?;
        if let stockade_squashfs::inode::Body::File(_) = inode.body {
            a.read(inode, 0, 1 << 24)?;
        }
        Ok(())
    })?;
    Ok(n)
}

/// A small uncompressed image (metadata readable in place) of a tree made for patching.
fn small_image() -> Result<Vec<u8>> {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("outer/cycle_child"))?;
    std::fs::write(src.join("outer/file.txt"), b"some data\n")?;
    std::fs::write(src.join("big"), common::noise(200_000, 5))?;
    std::os::unix::fs::symlink("file.txt", src.join("outer/sl"))?;
    rustix::fs::setxattr(
        src.join("big"),
        "user.k",
        b"v",
        rustix::fs::XattrFlags::empty(),
    )?;
    let img = tmp.path().join("img");
    mksquashfs(&src, &img, &["-noI", "-noD", "-noF", "-noX", "-b", "65536"])?;
    Ok(std::fs::read(img)?)
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("marker present in the image")
}

#[test]
fn intact_image_reads() -> Result<()> {
    assert_eq!(read_all(&small_image()?)?, 6);
    Ok(())
}

#[test]
fn truncations_fail_cleanly() -> Result<()> {
    let img = small_image()?;
    let used = usize::try_from(
        Archive::open(Arc::new(img.clone()))?
            .superblock()
            .bytes_used,
    )?;
    for len in (0..used).step_by(97).chain([used - 1, 95, 96, 97]) {
        assert!(
            read_all(&img[..len]).is_err(),
            "image truncated to {len} bytes was accepted"
        );
    }
    Ok(())
}

#[test]
fn every_byte_flipped_never_panics() -> Result<()> {
    let img = small_image()?;
    let mut errors = 0;
    // Skip the bulk of the 200 KB data file: metadata lives at the start and the end.
    let meta_start = img.len() - 4096.min(img.len());
    for i in (0..512).chain(meta_start..img.len()) {
        for mask in [0xffu8, 0x01, 0x80] {
            let mut bad = img.clone();
            bad[i] ^= mask;
            errors += usize::from(read_all(&bad).is_err());
        }
    }
    assert!(errors > 0);
    Ok(())
}

#[test]
fn directory_cycle_is_refused() -> Result<()> {
    let mut img = small_image()?;
    let a = Archive::open(Arc::new(img.clone()))?;
    let outer = a.resolve("outer")?;
    // The entry header (offset u16, delta i16, type u16, size u16) precedes the name.
    let name = find(&img, b"cycle_child") - 8;
    img[name..name + 2].copy_from_slice(&((outer.reference & 0xffff) as u16).to_le_bytes());
    match read_all(&img) {
        Err(ImageError::DirCycle(_)) => {}
        other => panic!("cycle not detected: {other:?}"),
    }
    // A directory listed twice (root's "big" entry re-pointed at "outer") is refused too:
    // otherwise nested double listings would make a walk exponential.
    let mut img = small_image()?;
    let dir_table = usize::try_from(a.superblock().directory_table_start)?;
    let big = dir_table + find(&img[dir_table..], b"big") - 8;
    assert_eq!(
        u16::from_le_bytes([img[big + 6], img[big + 7]]),
        2,
        "name size - 1 of big"
    );
    img[big..big + 2].copy_from_slice(&((outer.reference & 0xffff) as u16).to_le_bytes());
    match read_all(&img) {
        Err(ImageError::DirCycle(_)) => Ok(()),
        other => panic!("double listing not detected: {other:?}"),
    }
}

#[test]
fn huge_counts_are_errors() -> Result<()> {
    let img = small_image()?;
    let name = find(&img, b"cycle_child") - 8;
    // The directory header of `outer` (count-1 u32, start u32, inode number u32) comes
    // before its first entry; its count becomes 2^32-1.
    let a = Archive::open(Arc::new(img.clone()))?;
    let outer = a.resolve("outer")?;
    let listing = a.listing(&outer)?;
    assert_eq!(&*listing.entries[0].name, b"cycle_child");
    let mut bad = img.clone();
    bad[name - 12..name - 8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(read_all(&bad).is_err());
    // Entry name size 0xffff.
    let mut bad = img.clone();
    bad[name + 6..name + 8].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(read_all(&bad).is_err());
    // Superblock counts: fragments, ids, inode count and table starts far beyond the image.
    for (off, val) in [
        (16usize, u64::from(u32::MAX)),
        (26, 0xffff),
        (48, u64::MAX - 7),
        (56, 1 << 40),
        (80, 1 << 50),
    ] {
        let mut bad = img.clone();
        let width = if off == 26 {
            2
        } else if off == 16 {
            4
        } else {
            8
        };
        bad[off..off + width].copy_from_slice(&val.to_le_bytes()[..width]);
        assert!(
            read_all(&bad).is_err(),
            "superblock field at {off} = {val} accepted"
        );
    }
    Ok(())
}

#[test]
fn huge_file_size_is_bounded() -> Result<()> {
    let img = small_image()?;
    let a = Archive::open(Arc::new(img.clone()))?;
    let big = a.resolve("big")?;
    // Extended file inode (it has an xattr): 16-byte header, blocks_start u64, size u64.
    let inode_at =
        usize::try_from(a.superblock().inode_table_start + 2 + (big.reference & 0xffff))?;
    assert_eq!(
        u16::from_le_bytes(img[inode_at..inode_at + 2].try_into()?),
        9
    );
    let size_at = inode_at + 16 + 8;
    assert_eq!(
        u64::from_le_bytes(img[size_at..size_at + 8].try_into()?),
        200_000
    );
    for huge in [u64::MAX, 1 << 40, 200_001] {
        let mut bad = img.clone();
        bad[size_at..size_at + 8].copy_from_slice(&huge.to_le_bytes());
        assert!(read_all(&bad).is_err(), "file size {huge} accepted");
    }
    Ok(())
}
