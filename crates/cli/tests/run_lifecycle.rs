// SPDX-License-Identifier: Apache-2.0
//! What is left after a run: nothing — after a normal exit, after `kill -9` of the
//! launcher (the container, the FUSE server, the loop device and every mount go), and
//! after a corrupt image (one-line error, exit 255).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use run_support::*;

/// Starts `stockade exec IMAGE sh -c 'touch MARK; exec sleep 30x'` (as root or the test
/// user), waits until the container runs, kills the launcher with SIGKILL and checks that
/// everything goes.
fn kill_launcher(image: &Path, as_user: bool) {
    let (uid, gid, home) = test_user();
    let mark = PathBuf::from(format!(
        "/tmp/sk-run-kill-{}-{}",
        std::process::id(),
        as_user
    ));
    let _ = std::fs::remove_file(&mark);
    let secs = if as_user { 301 } else { 300 };
    let script = format!("touch {}; exec sleep {secs}", mark.display());
    let mut cmd = if as_user {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &uid.to_string(),
            "--regid",
            &gid.to_string(),
            "--init-groups",
            "--",
        ]);
        c.arg(stockade())
            .current_dir(&home)
            .env("HOME", &home)
            .env_remove("XDG_RUNTIME_DIR");
        c
    } else {
        let mut c = Command::new(stockade());
        c.current_dir("/tmp");
        c
    };
    cmd.args(["exec", image.to_str().unwrap(), "sh", "-c", &script]);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = eventually(|| mark.exists() && find_sleeper(secs).is_some());
    let sleeper = find_sleeper(secs);
    if !started || sleeper.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the container did not start");
    }
    // with setpriv the launcher is setpriv's exec'd image: same pid
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        eventually(|| !Path::new(&format!("/proc/{}", sleeper.unwrap())).exists()),
        "the container survived its launcher"
    );
    assert_nothing_left(image);
    let _ = std::fs::remove_file(&mark);
}

/// The pid of a `sleep SECS` process.
fn find_sleeper(secs: u32) -> Option<i32> {
    let want = format!("sleep\0{secs}\0");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        (cmd == want.as_bytes()).then_some(pid)
    })
}

#[test]
fn kill_9_of_the_launcher_leaves_nothing_root() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    kill_launcher(&sif, false);
}

#[test]
fn kill_9_of_the_launcher_leaves_nothing_user() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    kill_launcher(&sif, true);
}

/// Overwrites `len` bytes at `off` of `path`.
fn corrupt(path: &Path, off: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, off).unwrap();
}

#[test]
fn corrupt_images_fail_with_one_line_and_leave_nothing() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let part = stockade_sif::SifImage::open(&sif)
        .unwrap()
        .primary_partition()
        .unwrap()
        .offset();
    // squashfs superblock: wreck the magic and the table offsets
    let bad_sq = dir.path().join("bad-squashfs.sif");
    std::fs::copy(&sif, &bad_sq).unwrap();
    corrupt(&bad_sq, part, b"XXXX");
    let bad_tables = dir.path().join("bad-tables.sif");
    std::fs::copy(&sif, &bad_tables).unwrap();
    corrupt(&bad_tables, part + 40, &[0xff; 32]);
    // SIF header: descriptor table beyond the end
    let bad_sif = dir.path().join("bad-sif.sif");
    std::fs::copy(&sif, &bad_sif).unwrap();
    corrupt(&bad_sif, 96, &[0xff; 8]);
    let truncated = dir.path().join("truncated.sif");
    std::fs::write(&truncated, &std::fs::read(&sif).unwrap()[..200]).unwrap();
    let (_, _, home) = test_user();
    for img in [&bad_sq, &bad_tables, &bad_sif, &truncated] {
        std::fs::set_permissions(img, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        for (who, o) in [
            (
                "root",
                run_root(dir.path(), &["exec", img.to_str().unwrap(), "true"]),
            ),
            (
                "user",
                run_user(&home, &["exec", img.to_str().unwrap(), "true"]),
            ),
        ] {
            assert_eq!(
                o.status.code(),
                Some(255),
                "{who} {}: {}",
                img.display(),
                err(&o)
            );
            let e = err(&o);
            assert_eq!(e.lines().count(), 1, "{who}: not one line: {e}");
            assert!(
                e.starts_with("stockade: ") && e.contains(img.to_str().unwrap()),
                "{who}: {e}"
            );
            assert_nothing_left(img);
        }
    }
}

#[test]
fn missing_image_and_command_errors() {
    stockade_testutil::require_root!();
    let o = run_root(Path::new("/tmp"), &["exec", "/nonexistent.sif", "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(err(&o).contains("/nonexistent.sif"), "{}", err(&o));
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let o = run_root(
        dir.path(),
        &["exec", sif.to_str().unwrap(), "/no/such/program"],
    );
    assert_ne!(o.status.code(), Some(0));
    assert_nothing_left(&sif);
}
