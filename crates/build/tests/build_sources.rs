// SPDX-License-Identifier: Apache-2.0
//! End-to-end builds from every source kind, checked by reading the SIF back (objects,
//! partition metadata) and its squashfs tree with our reader.
#![allow(clippy::unwrap_used, clippy::tests_outside_test_module)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use stockade_build::{Base, BuildOptions, NoProgress, Source, build};
use stockade_sif::{DataType, FsType, PartType, SifImage};
use stockade_squashfs::{Archive, FileSource};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Env { dir }
    }
    fn path(&self, n: &str) -> PathBuf {
        self.dir.path().join(n)
    }
    fn opts(&self, out: &str, source: Source) -> BuildOptions {
        let mut o = BuildOptions::new(self.path(out), source);
        o.tmp_dir = self.path("tmp");
        o
    }
    /// The work directory is gone after every build.
    fn assert_clean(&self) {
        assert_eq!(
            std::fs::read_dir(self.path("tmp")).unwrap().count(),
            0,
            "work directory left behind"
        );
        let leftovers: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary output left behind: {leftovers:?}"
        );
    }
}

fn squashfs_of(img: &SifImage<std::fs::File>) -> Archive {
    let d = img.primary_partition().unwrap();
    let src = FileSource::new(img.source().try_clone().unwrap(), d.offset(), d.size()).unwrap();
    Archive::open(Arc::new(src)).unwrap()
}

fn read(a: &Archive, path: &str) -> Vec<u8> {
    let i = a.resolve(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    a.read(&i, 0, usize::try_from(i.size()).unwrap()).unwrap()
}

fn exists(a: &Archive, path: &str) -> bool {
    a.resolve(path).is_ok()
}

fn object(img: &SifImage<std::fs::File>, name: &str) -> Option<Vec<u8>> {
    let d = img.descriptors().iter().find(|d| d.name() == name)?;
    Some(img.read_object(d, 1 << 20).unwrap())
}

/// The layout every image gets.
fn assert_layout(a: &Archive) {
    for f in [
        "actions/exec",
        "actions/run",
        "actions/shell",
        "actions/start",
        "actions/test",
        "env/01-base.sh",
        "env/10-docker2singularity.sh",
        "env/90-environment.sh",
        "env/94-appsbase.sh",
        "env/95-apps.sh",
        "env/99-base.sh",
        "env/99-runtimevars.sh",
        "labels.json",
        "runscript",
        "startscript",
        "Singularity",
        "libs",
    ] {
        if f == "env/10-docker2singularity.sh" {
            continue;
        }
        assert!(
            exists(a, &format!(".singularity.d/{f}")),
            "missing /.singularity.d/{f}"
        );
    }
    for (l, t) in [
        ("singularity", ".singularity.d/runscript"),
        (".run", ".singularity.d/actions/run"),
        (".exec", ".singularity.d/actions/exec"),
        (".shell", ".singularity.d/actions/shell"),
        (".test", ".singularity.d/actions/test"),
    ] {
        let i = a.resolve(l).unwrap();
        assert_eq!(a.readlink(&i).unwrap(), t.as_bytes(), "/{l}");
    }
}

fn assert_sif_basics(img: &SifImage<std::fs::File>, fs: FsType) {
    assert_eq!(
        img.header().launch_script(),
        stockade_sif::APPTAINER_LAUNCH_SCRIPT
    );
    let d = img.primary_partition().unwrap();
    let p = d.partition().unwrap();
    assert_eq!(
        (p.fs_type, p.part_type, p.arch.go_name()),
        (fs, PartType::PRIM_SYS, "amd64")
    );
    assert_eq!(img.header().arch().go_name(), "amd64");
    assert_eq!(img.descriptors()[0].data_type(), DataType::DEFFILE);
    assert_eq!(img.descriptors()[1].name(), "inspect-metadata.json");
}

#[test]
fn directory_source() {
    let env = Env::new();
    let src = env.path("rootfs");
    common::busybox_rootfs(&src);
    build(
        &env.opts("dir.sif", Source::Base(Base::Dir(src.clone()))),
        &mut NoProgress,
    )
    .unwrap();
    env.assert_clean();
    assert!(
        !src.join(".singularity.d").exists(),
        "the source directory is not modified"
    );
    let img = SifImage::open(env.path("dir.sif")).unwrap();
    assert_sif_basics(&img, FsType::SQUASHFS);
    let a = squashfs_of(&img);
    assert_layout(&a);
    assert!(
        read(&a, "bin/busybox") == std::fs::read(src.join("bin/busybox")).unwrap(),
        "busybox content"
    );
    assert_eq!(
        read(&a, ".singularity.d/Singularity"),
        format!("bootstrap: localimage\nfrom: {}\n", src.display()).as_bytes()
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&object(&img, "inspect-metadata.json").unwrap()).unwrap();
    assert_eq!(meta["type"], "container");
    assert_eq!(
        meta["data"]["attributes"]["labels"]["org.label-schema.usage.singularity.deffile.bootstrap"],
        "localimage"
    );
    assert!(object(&img, "oci-config.json").is_none());
}

fn check_oci_image(img: &SifImage<std::fs::File>) {
    assert_sif_basics(img, FsType::SQUASHFS);
    let a = squashfs_of(img);
    assert_layout(&a);
    assert!(!exists(&a, "etc/gone.txt"), "whiteout applied");
    assert!(
        !exists(&a, "opq/lower.txt") && exists(&a, "opq/upper.txt"),
        "opaque dir applied"
    );
    assert_eq!(read(&a, "keep-link"), b"lower\n");
    let keep = a.resolve("keep.txt").unwrap();
    assert_eq!(
        a.resolve("keep-link").unwrap().number,
        keep.number,
        "hard link kept in the image"
    );
    assert_eq!(a.resolve("suid").unwrap().perm & 0o7777, 0o4755);
    let env = String::from_utf8(read(&a, ".singularity.d/env/10-docker2singularity.sh")).unwrap();
    assert!(
        env.contains("export PATH=\"/bin:/usr/bin:/sbin:/usr/sbin\"\n")
            && env.contains("export GREETING=\"${GREETING:-\"hello world\"}\""),
        "{env}"
    );
    let rs = String::from_utf8(read(&a, ".singularity.d/runscript")).unwrap();
    assert!(
        rs.contains("OCI_ENTRYPOINT='\"/bin/echo\"'") && rs.contains("OCI_CMD='\"from\" \"cmd\"'"),
        "{rs}"
    );
    let labels: serde_json::Value =
        serde_json::from_slice(&read(&a, ".singularity.d/labels.json")).unwrap();
    assert_eq!(labels["org.example.test"], "yes");
    let cfg: serde_json::Value =
        serde_json::from_slice(&object(img, "oci-config.json").unwrap()).unwrap();
    assert_eq!(cfg["WorkingDir"], "/work");
    assert_eq!(cfg["Cmd"], serde_json::json!(["from", "cmd"]));
}

#[test]
fn docker_archive_source() {
    let env = Env::new();
    let arch = env.path("docker.tar");
    common::docker_archive(
        &arch,
        &[common::busybox_layer(), common::whiteout_layer()],
        "test/busybox:1",
    );
    build(
        &env.opts(
            "d.sif",
            Source::parse(&format!("docker-archive:{}", arch.display())).unwrap(),
        ),
        &mut NoProgress,
    )
    .unwrap();
    env.assert_clean();
    check_oci_image(&SifImage::open(env.path("d.sif")).unwrap());
}

#[test]
fn oci_layout_dir_and_archive_sources() {
    let env = Env::new();
    let lay = env.path("layout");
    common::oci_layout(
        &lay,
        &[common::busybox_layer(), common::whiteout_layer()],
        "v1",
    );
    build(
        &env.opts(
            "o.sif",
            Source::parse(&format!("oci:{}:v1", lay.display())).unwrap(),
        ),
        &mut NoProgress,
    )
    .unwrap();
    check_oci_image(&SifImage::open(env.path("o.sif")).unwrap());
    let tar = env.path("oci.tar");
    common::tar_dir(&lay, &tar);
    build(
        &env.opts(
            "oa.sif",
            Source::parse(&format!("oci-archive:{}", tar.display())).unwrap(),
        ),
        &mut NoProgress,
    )
    .unwrap();
    check_oci_image(&SifImage::open(env.path("oa.sif")).unwrap());
    let e = build(
        &env.opts(
            "x.sif",
            Source::parse(&format!("oci-archive:{}:v2", tar.display())).unwrap(),
        ),
        &mut NoProgress,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: index.json: no image tagged \"v2\" (tags: v1)",
            tar.display()
        )
    );
    env.assert_clean();
    assert!(!env.path("x.sif").exists());
}

#[test]
fn corrupt_layer_leaves_nothing_behind() {
    let env = Env::new();
    let lay = env.path("layout");
    common::oci_layout(&lay, &[common::busybox_layer()], "v1");
    // Flip a byte of the (gzip) layer blob: the digest check or gzip fails, naming it.
    let blobs = lay.join("blobs/sha256");
    let biggest = std::fs::read_dir(&blobs)
        .unwrap()
        .filter_map(|e| e.ok())
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let mut b = std::fs::read(&biggest).unwrap();
    let n = b.len() / 2;
    b[n] ^= 0xff;
    std::fs::write(&biggest, b).unwrap();
    let e = build(
        &env.opts(
            "bad.sif",
            Source::parse(&format!("oci:{}", lay.display())).unwrap(),
        ),
        &mut NoProgress,
    )
    .unwrap_err();
    let msg = stockade_build::error::chain(&e);
    let name = biggest.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        msg.starts_with(&format!("{}: ", lay.display())) && msg.contains(&name),
        "{msg}"
    );
    assert!(!env.path("bad.sif").exists());
    env.assert_clean();
}

#[test]
fn sif_repack_copies_the_partition() {
    let env = Env::new();
    let src = stockade_testutil::sif("real-images/busybox_amd64.sif");
    build(
        &env.opts("re.sif", Source::parse(src.to_str().unwrap()).unwrap()),
        &mut NoProgress,
    )
    .unwrap();
    let old = SifImage::open(&src).unwrap();
    let new = SifImage::open(env.path("re.sif")).unwrap();
    let (po, pn) = (
        old.primary_partition().unwrap(),
        new.primary_partition().unwrap(),
    );
    assert!(
        old.read_object(po, 1 << 24).unwrap() == new.read_object(pn, 1 << 24).unwrap(),
        "partition copied as is"
    );
    assert_eq!(
        object(&old, "oci-config.json"),
        object(&new, "oci-config.json")
    );
    assert!(
        !new.descriptors()
            .iter()
            .any(|d| d.data_type() == DataType::SIGNATURE),
        "signatures are not carried over"
    );
    // Output exists: refused without force, replaced with it.
    let e = build(
        &env.opts("re.sif", Source::parse(src.to_str().unwrap()).unwrap()),
        &mut NoProgress,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{} already exists (use --force to overwrite)",
            env.path("re.sif").display()
        )
    );
    let mut o = env.opts("re.sif", Source::parse(src.to_str().unwrap()).unwrap());
    o.force = true;
    build(&o, &mut NoProgress).unwrap();
    env.assert_clean();
}

#[test]
fn sif_as_localimage_base_is_unpacked() {
    let env = Env::new();
    let def = env.path("img.def");
    let src = stockade_testutil::sif("real-images/busybox_amd64.sif");
    std::fs::write(env.path("hello.txt"), "hello from the host\n").unwrap();
    std::fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n\n%files\n {} /opt/hello.txt\n\n%environment\n export FOO=bar\n\n%runscript\n echo running \"$@\"\n\n%labels\n Maintainer tests\n\n%help\n Usage: nothing\n",
            src.display(),
            env.path("hello.txt").display()
        ),
    )
    .unwrap();
    build(
        &env.opts("l.sif", Source::DefFile(def.clone())),
        &mut NoProgress,
    )
    .unwrap();
    env.assert_clean();
    let img = SifImage::open(env.path("l.sif")).unwrap();
    assert_sif_basics(&img, FsType::SQUASHFS);
    assert_eq!(
        img.read_object(&img.descriptors()[0], 4096).unwrap(),
        std::fs::read(&def).unwrap()
    );
    let a = squashfs_of(&img);
    let orig = squashfs_of(&SifImage::open(&src).unwrap());
    assert!(
        read(&a, "bin/busybox") == read(&orig, "bin/busybox"),
        "busybox unpacked intact"
    );
    assert_eq!(read(&a, "opt/hello.txt"), b"hello from the host\n");
    assert!(
        String::from_utf8(read(&a, ".singularity.d/env/90-environment.sh"))
            .unwrap()
            .ends_with(" export FOO=bar\n")
    );
    assert_eq!(
        read(&a, ".singularity.d/runscript"),
        b"#!/bin/sh\n\n echo running \"$@\"\n"
    );
    assert_eq!(
        read(&a, ".singularity.d/runscript.help"),
        b" Usage: nothing\n"
    );
    let labels: serde_json::Value =
        serde_json::from_slice(&read(&a, ".singularity.d/labels.json")).unwrap();
    assert_eq!(labels["Maintainer"], "tests");
    assert_eq!(labels["org.label-schema.build-arch"], "amd64");
    // The busybox image's own labels are kept underneath.
    assert_eq!(
        labels["org.label-schema.usage.singularity.version"],
        "3.8.1"
    );
}

#[test]
fn definition_errors_name_file_and_line() {
    let env = Env::new();
    let def = env.path("bad.def");
    std::fs::write(&def, "Bootstrap: localimage\nFrom: /nonexistent/base.sif\n").unwrap();
    let e = build(
        &env.opts("o.sif", Source::DefFile(def.clone())),
        &mut NoProgress,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: From: /nonexistent/base.sif does not exist",
            def.display()
        )
    );
    std::fs::write(&def, "Bootstrap: docker\nFrom: busybox\n").unwrap();
    let e = build(
        &env.opts("o.sif", Source::DefFile(def.clone())),
        &mut NoProgress,
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "{}:1: bootstrap agent 'docker' is not supported",
            def.display()
        )),
        "{e}"
    );
    assert!(!env.path("o.sif").exists());
    env.assert_clean();
}
