// SPDX-License-Identifier: Apache-2.0
//! `stockade build --encrypt` → `stockade exec` as a plain user: with the passphrase, with
//! the RSA private key the build wrapped the image key for, one-line failures with the wrong
//! ones, and no plaintext written to any file.
//!
//! "No plaintext": the image carries a marker file of incompressible bytes, which any
//! plaintext squashfs copy stores verbatim (checked on an unencrypted build of the same
//! tree: the detector sees it there). While an encrypted run is alive and after it, no file
//! the user could have written since the test began (owned by the user, under `/tmp`,
//! `/var/tmp`, `/dev/shm`, `/run` or the home) holds any slice of the marker, and no process
//! of the user holds a regular file open other than the image (so no unlinked temp file
//! either; a memfd is memory, not disk).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use run_support::*;

/// Size of the marker file.
const MARKER_LEN: usize = 192 << 10;
/// Length of the slices searched for.
const SLICE: usize = 32;

/// Incompressible bytes (xorshift64*), different on every run.
fn marker() -> Vec<u8> {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut x = u64::try_from(nanos % (1 << 63)).unwrap() ^ u64::from(std::process::id()) | 1;
    let mut out = Vec::with_capacity(MARKER_LEN);
    while out.len() < MARKER_LEN {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out
}

/// Slices of the marker at several offsets (any plaintext copy holds all of them).
fn needles(marker: &[u8]) -> Vec<&[u8]> {
    (0..8)
        .map(|i| &marker[i * (MARKER_LEN / 8) + 100..][..SLICE])
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let mut at = 0;
    while let Some(p) = hay[at..].iter().position(|b| *b == needle[0]) {
        let i = at + p;
        if hay[i..].starts_with(needle) {
            return true;
        }
        at = i + 1;
    }
    false
}

fn holds_marker(path: &Path, needles: &[&[u8]]) -> bool {
    std::fs::read(path).is_ok_and(|d| needles.iter().any(|n| contains(&d, n)))
}

/// Files owned by `uid` and modified since `since` under the places a user can write,
/// that hold a slice of the marker.
fn plaintext_files(uid: u32, since: SystemTime, home: &Path, needles: &[&[u8]]) -> Vec<PathBuf> {
    fn walk(dir: &Path, uid: u32, since: SystemTime, needles: &[&[u8]], hits: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                walk(&e.path(), uid, since, needles, hits);
            } else if m.is_file()
                && m.uid() == uid
                && m.modified().is_ok_and(|t| t >= since)
                && m.len() < (1 << 30)
                && holds_marker(&e.path(), needles)
            {
                hits.push(e.path());
            }
        }
    }
    let mut hits = Vec::new();
    for d in [
        Path::new("/tmp"),
        Path::new("/var/tmp"),
        Path::new("/dev/shm"),
        Path::new("/run"),
        home,
    ] {
        walk(d, uid, since, needles, &mut hits);
    }
    hits
}

/// `pid` and its descendants.
fn process_tree(pid: u32) -> Vec<u32> {
    let parent_of = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
    };
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut tree = vec![pid];
    loop {
        let more: Vec<u32> = all
            .iter()
            .copied()
            .filter(|p| !tree.contains(p) && parent_of(*p).is_some_and(|pp| tree.contains(&pp)))
            .collect();
        if more.is_empty() {
            return tree;
        }
        tree.extend(more);
    }
}

/// Regular files (other than `image`) held open by `pids`.
fn open_files_of(pids: &[u32], image: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for pid in pids {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let Ok(fds) = std::fs::read_dir(proc.join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy().into_owned();
            let regular = std::fs::metadata(fd.path()).is_ok_and(|m| m.is_file());
            if (regular || t.ends_with(" (deleted)"))
                && target != image
                && !t.starts_with("/memfd:")
            {
                out.push(format!("{}: {t}", proc.display()));
            }
        }
    }
    out
}

fn openssl(args: &[&str]) {
    let o = Command::new("openssl").args(args).output().unwrap();
    assert!(o.status.success(), "openssl {args:?}: {}", err(&o));
}

fn build(args: &[&str]) {
    let o = Command::new(stockade()).args(args).output().unwrap();
    assert!(o.status.success(), "build {args:?}: {}", err(&o));
}

fn world_readable(p: &Path) -> &str {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.to_str().unwrap()
}

fn one_line_failure(o: &std::process::Output, image: &str, what: &str) {
    let e = err(o);
    assert_eq!(o.status.code(), Some(255), "{what}: {e}");
    assert_eq!(e.lines().count(), 1, "{what}: not one line: {e}");
    assert!(e.contains(image), "{what}: image not named: {e}");
}

#[test]
fn encrypted_build_runs_as_a_user_without_plaintext_on_disk() {
    stockade_testutil::require_root!();
    let since = SystemTime::now() - std::time::Duration::from_secs(2);
    let (uid, _, home) = test_user();
    let dir = shared_tempdir();
    let d = dir.path();
    let rootfs = d.join("rootfs");
    test_rootfs(&rootfs);
    let mark = marker();
    let needles = needles(&mark);
    std::fs::write(rootfs.join("marker.bin"), &mark).unwrap();
    let want_sum = String::from_utf8(
        Command::new("sha256sum")
            .arg(rootfs.join("marker.bin"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .split(' ')
    .next()
    .unwrap()
    .to_string();
    let pw = world_readable(&{
        std::fs::write(d.join("pw"), "open sesame\n").unwrap();
        d.join("pw")
    })
    .to_string();
    let wrong = world_readable(&{
        std::fs::write(d.join("wrong"), "open says me\n").unwrap();
        d.join("wrong")
    })
    .to_string();
    let (key, public, other) = (d.join("k.pem"), d.join("pub.pem"), d.join("other.pem"));
    for k in [&key, &other] {
        openssl(&[
            "genrsa",
            "-traditional",
            "-out",
            k.to_str().unwrap(),
            "2048",
        ]);
        world_readable(k);
    }
    openssl(&[
        "rsa",
        "-in",
        key.to_str().unwrap(),
        "-RSAPublicKey_out",
        "-out",
        public.to_str().unwrap(),
    ]);
    let (pass_sif, pem_sif, plain_sif) =
        (d.join("pass.sif"), d.join("pem.sif"), d.join("plain.sif"));
    let r = rootfs.to_str().unwrap();
    build(&[
        "build",
        "-q",
        "--encrypt",
        "--passphrase-file",
        &pw,
        pass_sif.to_str().unwrap(),
        r,
    ]);
    build(&[
        "build",
        "-q",
        "--encrypt",
        "--pem-path",
        public.to_str().unwrap(),
        pem_sif.to_str().unwrap(),
        r,
    ]);
    build(&["build", "-q", plain_sif.to_str().unwrap(), r]);
    // the detector finds a plaintext squashfs; the encrypted images hold no plaintext
    assert!(
        holds_marker(&plain_sif, &needles),
        "marker not stored verbatim"
    );
    assert!(!holds_marker(&pass_sif, &needles) && !holds_marker(&pem_sif, &needles));
    std::fs::remove_dir_all(&rootfs).unwrap();
    std::fs::remove_file(&plain_sif).unwrap();
    let (pass, pem) = (
        world_readable(&pass_sif).to_string(),
        world_readable(&pem_sif).to_string(),
    );
    let k = key.to_str().unwrap();

    // the right keys: the marker reads back intact
    let sum = "sha256sum /marker.bin";
    for (what, args) in [
        (
            "passphrase",
            vec!["exec", "--passphrase-file", &pw, &pass, "sh", "-c", sum],
        ),
        ("pem", vec!["exec", "--pem-path", k, &pem, "sh", "-c", sum]),
    ] {
        let out = ok(&run_user(&home, &args));
        assert!(out.starts_with(&want_sum), "{what}: {out}");
    }
    // the wrong ones, or none: one line naming the image, nothing left
    let o = run_user(&home, &["exec", "--passphrase-file", &wrong, &pass, "true"]);
    one_line_failure(&o, &pass, "wrong passphrase");
    let o = run_user(
        &home,
        &["exec", "--pem-path", other.to_str().unwrap(), &pem, "true"],
    );
    one_line_failure(&o, &pem, "wrong private key");
    let o = run_user(&home, &["exec", &pass, "true"]);
    one_line_failure(&o, &pass, "no key");
    assert_nothing_left(&pass_sif);
    assert_nothing_left(&pem_sif);

    // a live run that has read the whole marker: nothing on disk, no file held open
    let ready = PathBuf::from(format!("/tmp/sk-run-enc-ready-{}", std::process::id()));
    let _ = std::fs::remove_file(&ready);
    let script = format!(
        "cat /marker.bin > /dev/null && touch {} && exec sleep 303",
        ready.display()
    );
    let mut live = user_command(
        &home,
        &["exec", "--passphrase-file", &pw, &pass, "sh", "-c", &script],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let started = eventually(|| ready.exists());
    let tree = process_tree(live.id());
    let held = open_files_of(&tree, &pass_sif);
    let hits = plaintext_files(uid, since, &home, &needles);
    live.kill().unwrap();
    live.wait().unwrap();
    let _ = std::fs::remove_file(&ready);
    assert!(started, "the encrypted run did not start");
    assert!(
        tree.len() >= 4,
        "launcher, guard, server, container: {tree:?}"
    );
    assert!(
        eventually(|| tree
            .iter()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists())),
        "processes of the run survived kill -9 of the launcher"
    );
    assert!(held.is_empty(), "files held open during the run: {held:?}");
    assert!(
        hits.is_empty(),
        "plaintext written during the run: {hits:?}"
    );
    assert_nothing_left(&pass_sif);
    let hits = plaintext_files(uid, since, &home, &needles);
    assert!(hits.is_empty(), "plaintext left after the run: {hits:?}");
}
