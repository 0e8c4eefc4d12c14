// SPDX-License-Identifier: Apache-2.0
//! Shared helpers of the squashfs suites: a source tree with every file type, images built
//! by mksquashfs, tree comparison, and guards that unmount and kill on drop.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// Pseudo-random, poorly compressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

/// Fills `root` with: nested dirs, small/empty/big/sparse files, a hard link, symlinks,
/// a 255-byte name, a directory of 1500 entries, xattrs, a fifo, odd modes and owners,
/// and (with `devices`, as root) a block and a char device.
pub fn make_tree(root: &Path, devices: bool) -> Result<()> {
    fs::create_dir_all(root.join("a/b/c"))?;
    fs::write(root.join("empty"), b"")?;
    fs::write(root.join("small.txt"), b"hello squashfs\n")?;
    fs::write(root.join("a/b/c/deep.txt"), b"deep\n")?;
    fs::write(root.join("big.bin"), noise(5 * 1024 * 1024 + 12345, 7))?;
    fs::write(root.join("exact.bin"), noise(256 * 1024, 9))?;
    let sparse = fs::File::create(root.join("sparse.bin"))?;
    sparse.set_len(3 * 1024 * 1024)?;
    std::os::unix::fs::FileExt::write_at(&sparse, b"middle", 1024 * 1024 + 5)?;
    drop(sparse);
    fs::hard_link(root.join("small.txt"), root.join("a/hardlink.txt"))?;
    symlink("small.txt", root.join("link"))?;
    symlink("/nonexistent/absolute/target", root.join("a/dangling"))?;
    symlink("../../small.txt", root.join("a/b/up"))?;
    let long = "L".repeat(255);
    fs::write(root.join(&long), b"long name\n")?;
    fs::create_dir(root.join("many"))?;
    for i in 0..1500 {
        fs::write(root.join(format!("many/entry-{i:05}")), format!("{i}\n"))?;
    }
    fs::write(root.join("setuid"), b"#!/bin/sh\n")?;
    fs::set_permissions(root.join("setuid"), fs::Permissions::from_mode(0o4755))?;
    fs::set_permissions(root.join("a/b"), fs::Permissions::from_mode(0o1777))?;
    fs::write(root.join("private"), b"secret\n")?;
    fs::set_permissions(root.join("private"), fs::Permissions::from_mode(0o600))?;
    let xf = root.join("xattr.txt");
    fs::write(&xf, b"x\n")?;
    rustix::fs::setxattr(&xf, "user.color", b"blue", rustix::fs::XattrFlags::empty())?;
    rustix::fs::setxattr(
        &xf,
        "user.big",
        &noise(3000, 3),
        rustix::fs::XattrFlags::empty(),
    )?;
    run(Command::new("mkfifo").arg(root.join("fifo")))?;
    if devices {
        // security.capability v2: cap_net_raw permitted+effective.
        let cap = [
            0u8, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut capv = cap.to_vec();
        capv[0] = 1; // VFS_CAP_FLAGS_EFFECTIVE
        rustix::fs::setxattr(
            &xf,
            "security.capability",
            &capv,
            rustix::fs::XattrFlags::empty(),
        )?;
        run(Command::new("mknod")
            .arg(root.join("blockdev"))
            .args(["b", "7", "200"]))?;
        run(Command::new("mknod")
            .arg(root.join("chardev"))
            .args(["c", "1", "3"]))?;
        rustix::fs::chown(
            root.join("private"),
            Some(rustix::process::Uid::from_raw(1234)),
            Some(rustix::process::Gid::from_raw(5678)),
        )?;
    }
    Ok(())
}

/// Runs a command, failing with its stderr.
pub fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Builds `out` from `src` with mksquashfs and `extra` options.
pub fn mksquashfs(src: &Path, out: &Path, extra: &[&str]) -> Result<()> {
    run(Command::new("mksquashfs")
        .arg(src)
        .arg(out)
        .args(["-noappend", "-quiet", "-no-progress"])
        .args(extra))
}

/// What a tree comparison looks at, per path.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub nlink: u64,
    pub rdev: u64,
    pub link: Option<PathBuf>,
    pub data: Option<Vec<u8>>,
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Every path under `root` (relative) with its metadata, content and xattrs.
pub fn snapshot(root: &Path) -> Result<BTreeMap<PathBuf, Entry>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let p = root.join(&rel);
        let md = fs::symlink_metadata(&p).with_context(|| format!("lstat {}", p.display()))?;
        let ft = md.file_type();
        if ft.is_dir() {
            for e in fs::read_dir(&p)? {
                stack.push(rel.join(e?.file_name()));
            }
        }
        let is_dir = ft.is_dir();
        out.insert(
            rel,
            Entry {
                mode: md.mode(),
                uid: md.uid(),
                gid: md.gid(),
                size: if is_dir { 0 } else { md.size() },
                mtime: md.mtime(),
                nlink: if is_dir { 0 } else { md.nlink() },
                rdev: md.rdev(),
                link: ft.is_symlink().then(|| fs::read_link(&p)).transpose()?,
                data: ft.is_file().then(|| fs::read(&p)).transpose()?,
                xattrs: if ft.is_symlink() {
                    BTreeMap::new()
                } else {
                    xattrs(&p)?
                },
            },
        );
    }
    Ok(out)
}

fn xattrs(p: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::listxattr(p, &mut names)?;
    let mut out = BTreeMap::new();
    for name in names[..n].split(|&c| c == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if !(name.starts_with("user.") || name == "security.capability") {
            continue;
        }
        let mut v = vec![0u8; 65536];
        let len = rustix::fs::getxattr(p, name.as_str(), &mut v)?;
        v.truncate(len);
        out.insert(name, v);
    }
    Ok(out)
}

/// Compares two snapshots, naming the first difference.
pub fn compare(
    a: &BTreeMap<PathBuf, Entry>,
    b: &BTreeMap<PathBuf, Entry>,
    what: &str,
) -> Result<()> {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    if ka != kb {
        let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).take(5).collect();
        let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).take(5).collect();
        bail!("{what}: path sets differ: only left {only_a:?}, only right {only_b:?}");
    }
    for (k, ea) in a {
        let eb = &b[k];
        if ea != eb {
            let mut ea_s = format!("{ea:?}");
            let mut eb_s = format!("{eb:?}");
            ea_s.truncate(300);
            eb_s.truncate(300);
            bail!(
                "{what}: {} differs:\n  left  {ea_s}\n  right {eb_s}",
                k.display()
            );
        }
    }
    Ok(())
}

/// Unmounts (lazily) on drop.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}

/// Kills and reaps a child on drop.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Waits up to `t` for the child to exit by itself.
    pub fn wait_exit(&mut self, t: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + t;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `dir` is a mount point (its device differs from its parent's).
pub fn wait_mounted(dir: &Path, t: Duration) -> Result<()> {
    let end = Instant::now() + t;
    let parent = fs::metadata(dir.parent().context("no parent")?)?.dev();
    while Instant::now() < end {
        if fs::metadata(dir)
            .map(|m| m.dev() != parent)
            .unwrap_or(false)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("{} not mounted after {t:?}", dir.display())
}

/// Writes `data` to a new file (helper for crafted images).
pub fn write_file(p: &Path, data: &[u8]) -> Result<()> {
    fs::File::create(p)?.write_all(data)?;
    Ok(())
}
