// SPDX-License-Identifier: Apache-2.0
//! Layer application: whiteouts, hard links across layers, and hostile members (`..`,
//! absolute names, symlinked parents, hard links out of the tree, bounds).
#![allow(clippy::unwrap_used, clippy::tests_outside_test_module)]

mod common;

use std::path::Path;

use common::Tar;
use stockade_build::extract::{Extractor, Limits};
use stockade_build::tar::{Stream, TarReader};

fn apply(root: &Path, layers: &[Vec<u8>]) -> Result<(), String> {
    let mut ex = Extractor::new(root, stockade_testutil::is_root(), Limits::default()).unwrap();
    for l in layers {
        let mut t = TarReader::new(Stream(&l[..]));
        ex.apply(&mut t, &mut || {})
            .map_err(|e| stockade_build::error::chain(&e))?;
    }
    ex.finish().map_err(|e| stockade_build::error::chain(&e))?;
    Ok(())
}

#[test]
fn whiteouts_opaque_dirs_and_hardlinks_across_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    apply(root, &[common::busybox_layer(), common::whiteout_layer()]).unwrap();
    assert!(
        !root.join("etc/gone.txt").exists(),
        ".wh. removes a lower file"
    );
    assert!(root.join("etc/passwd").exists());
    assert!(
        !root.join("opq/lower.txt").exists(),
        "opaque marker hides lower entries"
    );
    assert_eq!(
        std::fs::read(root.join("opq/upper.txt")).unwrap(),
        b"same layer as the marker\n",
        "same-layer entry survives the opaque marker that follows it"
    );
    use std::os::unix::fs::MetadataExt;
    let a = std::fs::metadata(root.join("keep.txt")).unwrap();
    let b = std::fs::metadata(root.join("keep-link")).unwrap();
    assert_eq!(
        (a.ino(), a.nlink()),
        (b.ino(), 2),
        "hard link to a lower-layer file"
    );
    assert_eq!(
        std::fs::metadata(root.join("suid")).unwrap().mode() & 0o7777,
        0o4755,
        "setuid bit kept"
    );
    let ro = std::fs::metadata(root.join("ro")).unwrap().mode() & 0o777;
    assert_eq!(
        ro,
        if stockade_testutil::is_root() {
            0o555
        } else {
            0o755
        },
        "directory mode applied at the end"
    );
    assert!(
        root.join("ro/inside").exists(),
        "read-only directory was still filled"
    );
    assert!(!root.join(".wh.never-existed").exists() && !root.join("never-existed").exists());
}

#[test]
fn whiteout_then_file_in_same_layer_keeps_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let lower = Tar::new()
        .file("a", b"lower", 0o644)
        .dir("d", 0o755)
        .file("d/x", b"x", 0o644)
        .finish();
    let upper = Tar::new()
        .file(".wh.a", b"", 0o644)
        .file("a", b"upper", 0o644)
        .file("d/.wh..wh..opq", b"", 0o644)
        .file("d/y", b"y", 0o644)
        .finish();
    apply(tmp.path(), &[lower, upper]).unwrap();
    assert_eq!(std::fs::read(tmp.path().join("a")).unwrap(), b"upper");
    assert!(!tmp.path().join("d/x").exists());
    assert!(tmp.path().join("d/y").exists());
}

#[test]
fn dotdot_members_are_refused() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let evil = Tar::new().file("../escaped", b"pwned", 0o644).finish();
    let err = apply(&root, &[evil]).unwrap_err();
    assert_eq!(err, "member ../escaped: path contains '..'");
    assert!(!outer.path().join("escaped").exists());
    let evil = Tar::new()
        .file("a/../../escaped2", b"pwned", 0o644)
        .finish();
    assert!(apply(&root, &[evil]).is_err());
    assert!(!outer.path().join("escaped2").exists());
}

#[test]
fn absolute_names_land_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("stockade-test-abs-{}", std::process::id());
    let evil = Tar::new()
        .file(&format!("/tmp/{marker}"), b"inside", 0o644)
        .finish();
    apply(tmp.path(), &[evil]).unwrap();
    assert_eq!(
        std::fs::read(tmp.path().join("tmp").join(&marker)).unwrap(),
        b"inside"
    );
    assert!(
        !Path::new("/tmp").join(&marker).exists(),
        "host /tmp untouched"
    );
}

#[test]
fn symlinked_parent_is_resolved_inside_the_tree() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    let host = outer.path().join("host");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&host).unwrap();
    // Absolute and relative escapes through a symlink, then files written "through" them.
    let marker = format!("stockade-test-{}", std::process::id());
    let evil = Tar::new()
        .dir("etc", 0o755)
        .symlink("abs", "/etc")
        .file(&format!("abs/{marker}"), b"x", 0o644)
        .symlink("rel", "../../../../../..")
        .file("rel/pwned2", b"x", 0o644)
        .finish();
    apply(&root, &[evil]).unwrap();
    assert!(
        root.join("etc").join(&marker).exists(),
        "written at the in-root meaning of /etc"
    );
    assert!(
        !Path::new("/etc").join(&marker).exists(),
        "host /etc untouched"
    );
    assert!(
        root.join("pwned2").exists(),
        "relative escape clamped at the root"
    );
    assert!(!outer.path().join("pwned2").exists());
    // A link to a directory that exists only on the host: refused, nothing written there.
    let evil = Tar::new()
        .symlink("h", host.to_str().unwrap())
        .file("h/pwned", b"x", 0o644)
        .finish();
    let err = apply(&root, &[evil]).unwrap_err();
    assert!(
        err.starts_with("member h/pwned: cannot create parent directory"),
        "{err}"
    );
    assert!(!host.join("pwned").exists());
}

#[test]
fn final_symlink_is_replaced_not_followed() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let victim = outer.path().join("victim");
    std::fs::write(&victim, b"original").unwrap();
    let evil = Tar::new()
        .symlink("f", victim.to_str().unwrap())
        .file("f", b"overwritten?", 0o644)
        .finish();
    apply(&root, &[evil]).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"original");
    assert!(std::fs::symlink_metadata(root.join("f")).unwrap().is_file());
}

#[test]
fn hardlinks_cannot_reach_outside() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let secret = outer.path().join("secret");
    std::fs::write(&secret, b"host secret").unwrap();
    let evil = Tar::new().hardlink("l", "../secret").finish();
    assert!(
        apply(&root, &[evil])
            .unwrap_err()
            .contains("path contains '..'")
    );
    // Through a symlinked directory: resolved in-root, so the target does not exist.
    let evil = Tar::new()
        .symlink("up", outer.path().to_str().unwrap())
        .hardlink("l2", "up/secret")
        .finish();
    let err = apply(&root, &[evil]).unwrap_err();
    assert!(err.contains("member l2: cannot create hard link"), "{err}");
    assert!(!root.join("l2").exists());
    // Hard link to a symlink pointing out: the link itself is linked, never its target.
    let evil = Tar::new()
        .symlink("s", secret.to_str().unwrap())
        .hardlink("l3", "s")
        .finish();
    apply(&root, &[evil]).unwrap();
    assert!(
        std::fs::symlink_metadata(root.join("l3"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&secret).unwrap(), b"host secret");
}

#[test]
fn long_names_and_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let long = format!("{}/{}", "d".repeat(150), "f".repeat(120));
    apply(
        tmp.path(),
        &[Tar::new().file(&long, b"pax", 0o644).finish()],
    )
    .unwrap();
    assert_eq!(std::fs::read(tmp.path().join(&long)).unwrap(), b"pax");
    // A GNU long name larger than PATH_MAX is refused before it is read.
    let mut t = Tar::new();
    t.raw_header("././@LongLink", b'L', 1 << 30, "", 0o644);
    let err = apply(tmp.path(), &[t.finish()]).unwrap_err();
    assert_eq!(err, "bad header at byte 0: long name too long");
    // Entry count bound.
    let mut ex = Extractor::new(
        tmp.path(),
        false,
        Limits {
            max_entries: 2,
            max_bytes: 1 << 20,
        },
    )
    .unwrap();
    let l = Tar::new()
        .file("1", b"", 0o644)
        .file("2", b"", 0o644)
        .file("3", b"", 0o644)
        .finish();
    let e = ex
        .apply(&mut TarReader::new(Stream(&l[..])), &mut || {})
        .unwrap_err();
    assert_eq!(e.to_string(), "too many members in one layer");
    // Truncated archive.
    let mut l = Tar::new().file("big", &[7u8; 4096], 0o644).finish();
    l.truncate(1000);
    let err = apply(tmp.path(), &[l]).unwrap_err();
    assert!(err.contains("truncated"), "{err}");
}
