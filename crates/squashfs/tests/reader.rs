// SPDX-License-Identifier: Apache-2.0
//! The reader against mksquashfs images of a tree with every file type, for every
//! compressor (no root needed): content, modes, owners, times, links and xattrs match the
//! source; the real busybox SIF partition reads.
#![allow(clippy::tests_outside_test_module, clippy::cast_possible_truncation)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use common::{Entry, compare, make_tree, mksquashfs, snapshot};
use stockade_squashfs::inode::Body;
use stockade_squashfs::{Archive, FileSource};

/// The same snapshot as `common::snapshot`, but read through the reader.
fn archive_snapshot(a: &Archive) -> Result<BTreeMap<PathBuf, Entry>> {
    let mut out = BTreeMap::new();
    a.walk(&mut |path, inode| {
        let rel = PathBuf::from(String::from_utf8_lossy(path).into_owned());
        let is_dir = matches!(inode.body, Body::Dir { .. });
        let xattrs = a
            .xattrs(inode)?
            .into_iter()
            .map(|x| (String::from_utf8_lossy(&x.name).into_owned(), x.value));
        out.insert(
            rel,
            Entry {
                mode: inode.mode(),
                uid: inode.uid,
                gid: inode.gid,
                size: if is_dir { 0 } else { inode.size() },
                mtime: i64::from(inode.mtime),
                nlink: if is_dir { 0 } else { u64::from(inode.nlink) },
                rdev: if let Body::Dev(r) = inode.body {
                    u64::from(r)
                } else {
                    0
                },
                link: if let Body::Symlink(t) = &inode.body {
                    Some(PathBuf::from(String::from_utf8_lossy(t).into_owned()))
                } else {
                    None
                },
                data: if let Body::File(_) = inode.body {
                    Some(a.read(inode, 0, usize::MAX)?)
                } else {
                    None
                },
                xattrs: if matches!(inode.body, Body::Symlink(_)) {
                    BTreeMap::new()
                } else {
                    xattrs
                        .filter(|(n, _)| n.starts_with("user.") || n == "security.capability")
                        .collect()
                },
            },
        );
        Ok(())
    })?;
    Ok(out)
}

fn open(path: &Path, offset: u64) -> Result<Archive> {
    let src = FileSource::from_offset(std::fs::File::open(path)?, offset)?;
    Ok(Archive::open(Arc::new(src))?)
}

#[test]
fn every_compressor_matches_the_source_tree() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    make_tree(&src, false)?;
    let want = snapshot(&src)?;
    let variants: &[(&str, &[&str])] = &[
        ("gzip", &["-comp", "gzip"]),
        ("xz", &["-comp", "xz"]),
        ("xz-bcj", &["-comp", "xz", "-Xbcj", "x86"]),
        ("lz4", &["-comp", "lz4", "-Xhc"]),
        ("zstd", &["-comp", "zstd", "-Xcompression-level", "6"]),
        ("lzma", &["-comp", "lzma"]),
        ("uncompressed", &["-noI", "-noD", "-noF", "-noX"]),
        (
            "no-fragments-4k",
            &["-comp", "zstd", "-no-fragments", "-b", "4096"],
        ),
        (
            "always-fragments-1m",
            &["-comp", "gzip", "-always-use-fragments", "-b", "1M"],
        ),
    ];
    for (name, opts) in variants {
        let img = tmp.path().join(format!("{name}.sqfs"));
        if let Err(e) = mksquashfs(&src, &img, opts) {
            // squashfs-tools may be built without a compressor (lzma): say so, loudly.
            eprintln!("*** {name}: mksquashfs cannot build it here: {e} ***");
            assert!(*name == "lzma", "mksquashfs failed for {name}: {e}");
            continue;
        }
        let a = open(&img, 0)?;
        compare(&want, &archive_snapshot(&a)?, name)?;
        // Reads at odd offsets and lengths cross block and fragment boundaries.
        let big = a.resolve("big.bin")?;
        let whole = a.read(&big, 0, usize::MAX)?;
        for (off, len) in [
            (0u64, 1usize),
            (131071, 3),
            (131072 * 3 + 5, 300_000),
            (whole.len() as u64 - 10, 100),
        ] {
            let got = a.read(&big, off, len)?;
            let o = off as usize;
            assert_eq!(
                got,
                whole[o..(o + len).min(whole.len())],
                "{name}: read at {off}+{len}"
            );
        }
        assert!(a.read(&big, whole.len() as u64 + 5, 10)?.is_empty());
        assert!(matches!(
            a.resolve("nope"),
            Err(stockade_squashfs::ImageError::NotFound)
        ));
        assert!(a.resolve("small.txt/x").is_err());
    }
    Ok(())
}

#[test]
fn busybox_sif_partition_reads() -> Result<()> {
    let sif = stockade_testutil::sif("real-images/busybox_amd64.sif");
    let file = std::fs::File::open(&sif)?;
    let a = Archive::open(Arc::new(FileSource::new(file, 45056, 745472)?))?;
    let bb = a.resolve("bin/busybox")?;
    let data = a.read(&bb, 0, usize::MAX)?;
    assert!(data.len() > 500_000, "busybox is {} bytes", data.len());
    assert_eq!(&data[..4], b"\x7fELF");
    let sh = a.resolve("bin/sh")?;
    assert!(
        matches!(sh.body, Body::Symlink(_)) || sh.number == bb.number,
        "bin/sh is a link to busybox"
    );
    let mut n = 0;
    a.walk(&mut |_, _| {
        n += 1;
        Ok(())
    })?;
    assert!(n > 300, "only {n} entries");
    // The whole SIF file from offset 0 is not a squashfs image.
    assert!(open(&sif, 0).is_err());
    Ok(())
}

#[test]
fn build_squashfs_makes_a_zstd_image_and_reports_progress() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    make_tree(&src, false)?;
    let img = tmp.path().join("built.sqfs");
    let mut calls = Vec::new();
    let opts = stockade_squashfs::BuildOptions::default();
    let r = stockade_squashfs::build_squashfs(&src, &img, &opts, &mut |d, t| calls.push((d, t)))?;
    assert!(r.source_bytes > 5 << 20 && r.image_bytes > 0);
    assert_eq!(calls.first(), Some(&(0, r.source_bytes)));
    assert_eq!(calls.last(), Some(&(r.source_bytes, r.source_bytes)));
    assert!(
        calls.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress went backwards: {calls:?}"
    );
    let a = open(&img, 0)?;
    assert_eq!(
        a.superblock().compressor,
        stockade_squashfs::Compressor::Zstd
    );
    compare(&snapshot(&src)?, &archive_snapshot(&a)?, "build_squashfs")?;
    // A missing source is a one-line error naming the image, and leaves no file behind.
    let bad = tmp.path().join("bad.sqfs");
    let e =
        stockade_squashfs::build_squashfs(&tmp.path().join("nope"), &bad, &opts, &mut |_, _| {});
    assert!(e.is_err() && !bad.exists());
    Ok(())
}
