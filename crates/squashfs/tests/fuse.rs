// SPDX-License-Identifier: Apache-2.0
//! The FUSE server mounted for real (root): trees served by `stockade-squashfuse` equal the
//! source and a kernel loop mount of the same image for every compressor; the busybox SIF
//! partition runs; a mount made inside a user namespace by an unprivileged user works and
//! its server exits when the namespace is killed; unmounting ends the server.
#![allow(clippy::tests_outside_test_module, clippy::cast_possible_truncation)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use common::{ChildGuard, MountGuard, compare, make_tree, mksquashfs, run, snapshot, wait_mounted};

const BIN: &str = env!("CARGO_BIN_EXE_stockade-squashfuse");

/// Starts `stockade-squashfuse -f IMAGE MNT` and waits for the mount.
fn serve(image: &str, mnt: &Path) -> Result<(ChildGuard, MountGuard)> {
    let child = Command::new(BIN).args(["-f", image]).arg(mnt).spawn()?;
    let guard = (ChildGuard(child), MountGuard(mnt.to_path_buf()));
    wait_mounted(mnt, Duration::from_secs(10))?;
    Ok(guard)
}

fn kernel_mount(image: &Path, opts: &str, mnt: &Path) -> Result<MountGuard> {
    run(Command::new("mount")
        .args(["-t", "squashfs", "-o", opts])
        .arg(image)
        .arg(mnt))?;
    Ok(MountGuard(mnt.to_path_buf()))
}

fn umount(mnt: &Path) -> Result<()> {
    run(Command::new("umount").arg(mnt))
}

#[test]
fn fuse_tree_equals_source_and_kernel_mount() -> Result<()> {
    if !stockade_testutil::needs_root("fuse_tree_equals_source_and_kernel_mount") {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    make_tree(&src, true)?;
    let want = snapshot(&src)?;
    let (m1, m2) = (tmp.path().join("fuse"), tmp.path().join("kernel"));
    std::fs::create_dir_all(&m1)?;
    std::fs::create_dir_all(&m2)?;
    for comp in ["gzip", "xz", "lz4", "zstd"] {
        let img = tmp.path().join(format!("{comp}.sqfs"));
        mksquashfs(&src, &img, &["-comp", comp])?;
        let (mut server, _g) = serve(img.to_str().context("utf-8 path")?, &m1)?;
        let _k = kernel_mount(&img, "loop,ro", &m2)?;
        let via_fuse = snapshot(&m1)?;
        compare(&want, &via_fuse, &format!("{comp}: source vs fuse"))?;
        compare(
            &snapshot(&m2)?,
            &via_fuse,
            &format!("{comp}: kernel vs fuse"),
        )?;
        // Hard links share an inode; nothing is writable.
        let (a, b) = (
            std::fs::metadata(m1.join("small.txt"))?,
            std::fs::metadata(m1.join("a/hardlink.txt"))?,
        );
        ensure!(
            a.ino() == b.ino() && a.nlink() == 2,
            "{comp}: hard link not preserved"
        );
        let e = std::fs::write(m1.join("new"), b"x").expect_err("write on a read-only mount");
        ensure!(
            e.raw_os_error() == Some(libc::EROFS),
            "{comp}: write gave {e}"
        );
        ensure!(
            std::fs::OpenOptions::new()
                .write(true)
                .open(m1.join("small.txt"))
                .is_err()
        );
        // Concurrent readers of one big file see the same bytes.
        let want_big = std::fs::read(src.join("big.bin"))?;
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| std::fs::read(m1.join("big.bin"))))
                .collect();
            hs.into_iter()
                .all(|h| h.join().ok().and_then(|r| r.ok()).as_deref() == Some(&want_big[..]))
        })
        .then_some(())
        .context("concurrent reads differ")?;
        umount(&m2)?;
        umount(&m1)?;
        let st = server
            .wait_exit(Duration::from_secs(10))
            .context("server still running after umount")?;
        ensure!(st.success(), "{comp}: server exited with {st}");
    }
    Ok(())
}

#[test]
fn busybox_sif_partition_runs_from_fuse() -> Result<()> {
    if !stockade_testutil::needs_root("busybox_sif_partition_runs_from_fuse") {
        return Ok(());
    }
    let sif = stockade_testutil::sif("real-images/busybox_amd64.sif");
    let tmp = tempfile::tempdir()?;
    let (m1, m2) = (tmp.path().join("fuse"), tmp.path().join("kernel"));
    std::fs::create_dir_all(&m1)?;
    std::fs::create_dir_all(&m2)?;
    let (mut server, _g) = serve(&format!("{}@45056", sif.display()), &m1)?;
    let _k = kernel_mount(&sif, "loop,ro,offset=45056", &m2)?;
    compare(
        &snapshot(&m2)?,
        &snapshot(&m1)?,
        "busybox sif: kernel vs fuse",
    )?;
    let out = Command::new(m1.join("bin/busybox"))
        .args(["echo", "from-fuse"])
        .output()?;
    ensure!(
        out.stdout == b"from-fuse\n",
        "busybox said {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    umount(&m2)?;
    umount(&m1)?;
    server
        .wait_exit(Duration::from_secs(10))
        .context("server still running after umount")?;
    Ok(())
}

/// pids of processes whose command line mentions `needle`.
fn pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
        {
            out.push(pid);
        }
    }
    out
}

#[test]
fn daemon_mode_exits_on_umount() -> Result<()> {
    if !stockade_testutil::needs_root("daemon_mode_exits_on_umount") {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(src.join("f"), b"daemon\n")?;
    let img = tmp.path().join("daemon-image.sqfs");
    mksquashfs(&src, &img, &[])?;
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir_all(&mnt)?;
    run(Command::new(BIN).arg(&img).arg(&mnt))?;
    let g = MountGuard(mnt.clone());
    ensure!(std::fs::read(mnt.join("f"))? == b"daemon\n");
    let needle = img.to_string_lossy().into_owned();
    ensure!(!pids_with(&needle).is_empty(), "no daemon found");
    umount(&mnt)?;
    drop(g);
    for _ in 0..500 {
        if pids_with(&needle).is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!(
        "daemon still running 10 s after umount: {:?}",
        pids_with(&needle)
    )
}

fn as_nobody(cmd: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd);
    c
}

#[test]
fn userns_mount_by_unprivileged_user_and_namespace_death() -> Result<()> {
    if !stockade_testutil::needs_root("userns_mount_by_unprivileged_user_and_namespace_death") {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))?;
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(src.join("hello"), b"hello from userns\n")?;
    let img = tmp.path().join("img.sqfs");
    mksquashfs(&src, &img, &["-comp", "zstd"])?;
    std::fs::set_permissions(&img, std::fs::Permissions::from_mode(0o644))?;
    let work: PathBuf = tmp.path().join("work");
    std::fs::create_dir_all(work.join("mnt"))?;
    rustix::fs::chown(
        &work,
        Some(rustix::process::Uid::from_raw(65534)),
        Some(rustix::process::Gid::from_raw(65534)),
    )?;
    rustix::fs::chown(
        work.join("mnt"),
        Some(rustix::process::Uid::from_raw(65534)),
        None,
    )?;
    let sock = work.join("sock");
    // The server lives outside the container's namespaces and waits for the fd.
    let mut server = ChildGuard(
        as_nobody(BIN)
            .arg("--listen")
            .arg(&sock)
            .arg(&img)
            .spawn()?,
    );
    for _ in 0..500 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ensure!(sock.exists(), "server did not listen");
    // The holder: root of a new user+mount namespace, mounts, sends the fd, then becomes
    // the container (reads through the mount, then sleeps).
    let mnt = work.join("mnt");
    let script = format!("cat {}/hello; exec sleep 1000", mnt.display());
    let mut holder = ChildGuard(
        as_nobody("unshare")
            .args(["-Urm", BIN, "--mount-send"])
            .arg(&sock)
            .arg(&mnt)
            .args(["--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let mut line = String::new();
    BufReader::new(holder.0.stdout.take().context("stdout")?).read_line(&mut line)?;
    ensure!(
        line == "hello from userns\n",
        "read through the userns mount: {line:?}"
    );
    // The host does not see the container's mount.
    ensure!(!std::fs::read_to_string("/proc/self/mountinfo")?.contains(&*mnt.to_string_lossy()));
    ensure!(server.0.try_wait()?.is_none(), "server died early");
    holder.0.kill()?;
    holder.0.wait()?;
    let st = server
        .wait_exit(Duration::from_secs(10))
        .context("server still running after the namespace died")?;
    ensure!(st.success(), "server exited with {st}");
    ensure!(
        pids_with(&sock.to_string_lossy()).is_empty(),
        "a server process remains"
    );
    Ok(())
}
