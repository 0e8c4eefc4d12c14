// SPDX-License-Identifier: Apache-2.0
//! `%post` and `%test` run inside the image by our runtime.
#![allow(clippy::unwrap_used, clippy::tests_outside_test_module)]

mod common;

use std::sync::Arc;

use std::path::{Path, PathBuf};
use std::process::Command;

use stockade_sif::SifImage;

/// The single-threaded harness binary (examples/build_harness.rs), next to the test binary.
fn harness() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/build_harness");
    assert!(
        p.is_file(),
        "{} not built: run `cargo test -p stockade-build`",
        p.display()
    );
    p
}

/// Builds OUT from SOURCE; returns the one-line error on failure.
fn build(out: &Path, source: &Path, tmp: &Path, extra: &[&str]) -> Result<(), String> {
    let o = Command::new(harness())
        .arg(out)
        .arg(source)
        .arg("--tmpdir")
        .arg(tmp)
        .args(extra)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
    }
}

fn archive(path: &std::path::Path) -> stockade_squashfs::Archive {
    let img = SifImage::open(path).unwrap();
    let d = img.primary_partition().unwrap();
    let src =
        stockade_squashfs::FileSource::new(img.source().try_clone().unwrap(), d.offset(), d.size())
            .unwrap();
    stockade_squashfs::Archive::open(Arc::new(src)).unwrap()
}

#[test]
fn post_writes_into_the_image_and_test_runs() {
    stockade_testutil::require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    common::busybox_rootfs(&base);
    let def = tmp.path().join("post.def");
    std::fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n\n%post\n echo \"built in $(cat /proc/1/comm) as $(id -u)\" > /post.txt\n echo 'export FROM_POST=1' >> \"$APPTAINER_ENVIRONMENT\"\n test ! -e /host-marker-{}\n\n%test\n test -f /post.txt\n grep -q built /post.txt\n",
            base.display(),
            std::process::id()
        ),
    )
    .unwrap();
    std::fs::write(format!("/tmp/host-marker-{}", std::process::id()), "").unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let res = build(&tmp.path().join("post.sif"), &def, &work, &[]);
    let _ = std::fs::remove_file(format!("/tmp/host-marker-{}", std::process::id()));
    res.unwrap();
    let a = archive(&tmp.path().join("post.sif"));
    let i = a.resolve("post.txt").unwrap();
    let text = String::from_utf8(a.read(&i, 0, 200).unwrap()).unwrap();
    assert!(
        text.starts_with("built in ") && text.ends_with(" as 0\n"),
        "{text}"
    );
    assert!(
        a.resolve(".stockade-build-script").is_err(),
        "script removed from the image"
    );
    let e = a.resolve(".singularity.d/env/91-environment.sh").unwrap();
    assert_eq!(a.read(&e, 0, 100).unwrap(), b"export FROM_POST=1\n");
    assert!(
        !base.join("post.txt").exists(),
        "the base directory is not modified"
    );

    // A failing %test fails the build, names the section and leaves nothing.
    std::fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n%test\n exit 3\n",
            base.display()
        ),
    )
    .unwrap();
    let fail = tmp.path().join("fail.sif");
    let err = build(&fail, &def, &work, &[]).unwrap_err();
    assert_eq!(err, "%test failed with exit code 3");
    assert!(!fail.exists());
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    // --notest skips it.
    build(&fail, &def, &work, &["--notest"]).unwrap();
}
