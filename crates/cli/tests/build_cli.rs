// SPDX-License-Identifier: Apache-2.0
//! Black-box tests of `stockade build` on the built binary: sources, the SIF it writes (read
//! back with `stockade sif`), definition-file sections, one-line errors that leave nothing
//! behind, encryption, and build → run round trips.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli_support::{fails, ok, stockade};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A busybox root filesystem with a few applets.
fn rootfs(dir: &Path) -> PathBuf {
    let r = dir.join("rootfs");
    std::fs::create_dir_all(r.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
    for a in ["sh", "echo", "cat", "id", "test", "ls"] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).unwrap();
    }
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(r.join("etc/old.txt"), "old\n").unwrap();
    r
}

/// A `docker save`-style archive: layer 1 = the rootfs, layer 2 deletes etc/old.txt.
fn docker_archive(dir: &Path) -> PathBuf {
    let r = rootfs(dir);
    let a = dir.join("arch");
    std::fs::create_dir_all(a.join("l1")).unwrap();
    std::fs::create_dir_all(a.join("l2")).unwrap();
    let tar = |src: &Path, out: &Path| {
        assert!(
            Command::new("tar")
                .arg("-C")
                .arg(src)
                .arg("-cf")
                .arg(out)
                .arg(".")
                .status()
                .unwrap()
                .success()
        )
    };
    tar(&r, &a.join("l1/layer.tar"));
    let up = dir.join("upper");
    std::fs::create_dir_all(up.join("etc")).unwrap();
    std::fs::write(up.join("etc/.wh.old.txt"), "").unwrap();
    std::fs::write(up.join("new.txt"), "new\n").unwrap();
    tar(&up, &a.join("l2/layer.tar"));
    std::fs::write(a.join("config.json"), r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","WHO=docker"],"Cmd":["/bin/sh","-c","echo cmd says $WHO"]},"rootfs":{"type":"layers","diff_ids":[]}}"#).unwrap();
    std::fs::write(a.join("manifest.json"), r#"[{"Config":"config.json","RepoTags":["t/bb:1"],"Layers":["l1/layer.tar","l2/layer.tar"]}]"#).unwrap();
    let out = dir.join("docker.tar");
    assert!(
        Command::new("tar")
            .arg("-C")
            .arg(&a)
            .arg("-cf")
            .arg(&out)
            .args([
                "manifest.json",
                "config.json",
                "l1/layer.tar",
                "l2/layer.tar"
            ])
            .status()
            .unwrap()
            .success()
    );
    out
}

/// Extracts the primary partition with `stockade sif dump` and lists it with unsquashfs.
fn partition(sif: &Path, dir: &Path) -> PathBuf {
    let list = ok(&["sif", "list", s(sif)]);
    let id = list
        .lines()
        .find(|l| l.contains("*System"))
        .unwrap()
        .split('|')
        .next()
        .unwrap()
        .trim()
        .to_string();
    let out = stockade(&["sif", "dump", s(sif), &id]);
    assert!(out.status.success());
    let p = dir.join("part.img");
    std::fs::write(&p, out.stdout).unwrap();
    p
}

fn unsquash_cat(img: &Path, file: &str) -> String {
    let o = Command::new("unsquashfs")
        .arg("-cat")
        .arg(img)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "unsquashfs -cat {file}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn no_leftovers(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn directory_build_lists_as_amd64_squashfs() {
    let t = tempfile::tempdir().unwrap();
    let r = rootfs(t.path());
    let out = t.path().join("dir.sif");
    ok(&["build", "-q", s(&out), s(&r)]);
    let list = ok(&["sif", "list", s(&out)]);
    assert!(
        list.contains("Def.FILE") && list.contains("JSON.Generic"),
        "{list}"
    );
    assert!(list.contains("FS (Squashfs/*System/amd64)"), "{list}");
    let img = partition(&out, t.path());
    assert!(unsquash_cat(&img, ".singularity.d/actions/run").starts_with("#!/bin/sh\n"));
    let e = fails(&["build", s(&out), s(&r)]);
    assert_eq!(
        e,
        format!(
            "stockade: {} already exists (use --force to overwrite)",
            out.display()
        )
    );
    ok(&["build", "-q", "--force", s(&out), s(&r)]);
    no_leftovers(t.path());
}

#[test]
fn docker_archive_build_applies_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let arch = docker_archive(t.path());
    let out = t.path().join("d.sif");
    ok(&[
        "build",
        "-q",
        s(&out),
        &format!("docker-archive:{}", arch.display()),
    ]);
    let img = partition(&out, t.path());
    assert_eq!(unsquash_cat(&img, "new.txt"), "new\n");
    let o = Command::new("unsquashfs")
        .arg("-cat")
        .arg(&img)
        .arg("etc/old.txt")
        .output()
        .unwrap();
    assert!(
        !o.status.success() || o.stdout.is_empty(),
        "whited-out file present"
    );
    assert!(
        unsquash_cat(&img, ".singularity.d/env/10-docker2singularity.sh")
            .contains("export WHO=\"${WHO:-\"docker\"}\"")
    );
    assert!(
        ok(&["sif", "list", s(&out)])
            .matches("JSON.Generic")
            .count()
            == 2,
        "inspect-metadata.json and oci-config.json"
    );
}

#[test]
fn bad_inputs_fail_on_one_line_and_leave_nothing() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("o.sif");
    let def = t.path().join("bad.def");
    std::fs::write(
        &def,
        "Bootstrap: localimage\nFrom: /nonexistent.sif\n%post\n true\n%nonsense\n",
    )
    .unwrap();
    assert_eq!(
        fails(&["build", s(&out), s(&def)]),
        format!(
            "stockade: {}:5: unknown section %nonsense (known: %help, %setup, %files, %labels, %environment, %post, %runscript, %test, %startscript, %arguments)",
            def.display()
        )
    );
    std::fs::write(&def, "Bootstrap: localimage\nFrom: /nonexistent.sif\n").unwrap();
    assert_eq!(
        fails(&["build", s(&out), s(&def)]),
        format!(
            "stockade: {}:2: From: /nonexistent.sif does not exist",
            def.display()
        )
    );
    std::fs::write(&def, "Bootstrap: library\nFrom: alpine\n").unwrap();
    assert!(
        fails(&["build", s(&out), s(&def)])
            .contains(":1: bootstrap agent 'library' is not supported (it needs a network)")
    );
    let junk = t.path().join("junk.tar");
    std::fs::write(&junk, vec![0x55u8; 5000]).unwrap();
    let e = fails(&[
        "build",
        s(&out),
        &format!("docker-archive:{}", junk.display()),
    ]);
    assert!(
        e.starts_with(&format!("stockade: {}: ", junk.display()))
            && e.contains("bad header at byte 0"),
        "{e}"
    );
    assert!(fails(&["build", s(&out), "docker://busybox"]).contains("needs a network"));
    assert!(!out.exists());
    no_leftovers(t.path());
}

#[test]
fn def_file_post_and_round_trip_through_run() {
    stockade_testutil::require_root!();
    let t = tempfile::tempdir().unwrap();
    let r = rootfs(t.path());
    let def = t.path().join("app.def");
    std::fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n\n%post\n echo made-in-post > /post.txt\n\n%environment\n export GREETING=hello\n\n%runscript\n echo \"$GREETING $(cat /post.txt) $*\"\n\n%labels\n Maintainer ci\n\n%test\n test \"$(cat /post.txt)\" = made-in-post\n",
            r.display()
        ),
    )
    .unwrap();
    let out = t.path().join("app.sif");
    ok(&["build", "-q", s(&out), s(&def)]);
    let img = partition(&out, t.path());
    assert_eq!(unsquash_cat(&img, "post.txt"), "made-in-post\n");
    assert!(unsquash_cat(&img, ".singularity.d/labels.json").contains("\"Maintainer\": \"ci\""));
    assert_eq!(ok(&["run", s(&out), "a", "b"]), "hello made-in-post a b\n");
    // docker-archive image: the runscript runs the image's Cmd with its Env.
    let arch = docker_archive(&t.path().join("d"));
    let d = t.path().join("d.sif");
    ok(&[
        "build",
        "-q",
        s(&d),
        &format!("docker-archive:{}", arch.display()),
    ]);
    assert_eq!(ok(&["run", s(&d)]), "cmd says docker\n");
}

#[test]
fn encrypt_with_pem_key_gives_a_luks2_partition() {
    let t = tempfile::tempdir().unwrap();
    let r = rootfs(t.path());
    let (key, pubk) = (t.path().join("k.pem"), t.path().join("pub.pem"));
    assert!(
        Command::new("openssl")
            .args(["genrsa", "-traditional", "-out", s(&key), "2048"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        Command::new("openssl")
            .args(["rsa", "-in", s(&key), "-RSAPublicKey_out", "-out", s(&pubk)])
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = t.path().join("enc.sif");
    ok(&[
        "build",
        "-q",
        "--encrypt",
        "--pem-path",
        s(&pubk),
        s(&out),
        s(&r),
    ]);
    let list = ok(&["sif", "list", s(&out)]);
    assert!(
        list.contains("FS (Encrypted squashfs/*System/amd64)"),
        "{list}"
    );
    assert!(list.contains("Cryptographic Message"), "{list}");
    let part = partition(&out, t.path());
    let dump = Command::new("cryptsetup")
        .arg("luksDump")
        .arg(&part)
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(
        fails(&["build", "--encrypt", s(&t.path().join("x.sif")), s(&r)])
            .contains("--encrypt needs")
    );
}
