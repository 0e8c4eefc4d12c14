// SPDX-License-Identifier: Apache-2.0
//! `stockade inspect`: read from the image's squashfs with our reader (nothing mounted or
//! run), printed like `apptainer inspect`. The real busybox SIF carries the metadata
//! Singularity recorded when it built the image (`inspect-metadata.json`): what we read
//! from the squashfs must equal it.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::path::Path;

use run_support::*;

fn inspect(args: &[&str]) -> String {
    ok(&run_root(Path::new("/tmp"), &[&["inspect"], args].concat()))
}

#[test]
fn busybox_sections_match_the_recorded_metadata() {
    let img = stockade_testutil::sif("real-images/busybox_amd64.sif");
    let s = img.to_str().unwrap();
    let sif = stockade_sif::SifImage::open(&img).unwrap();
    let d = sif
        .descriptors()
        .iter()
        .find(|d| d.name() == "inspect-metadata.json")
        .unwrap();
    let recorded: serde_json::Value =
        serde_json::from_slice(&sif.read_object(d, 1 << 20).unwrap()).unwrap();
    let ours: serde_json::Value = serde_json::from_str(&inspect(&["--all", s])).unwrap();
    assert_eq!(ours, recorded);
    let labels = inspect(&[s]);
    assert!(
        labels.starts_with("org.label-schema.build-arch: amd64\norg.label-schema.build-date: "),
        "{labels}"
    );
    assert!(
        labels.ends_with("org.label-schema.usage.singularity.version: 3.8.1\n"),
        "{labels}"
    );
    assert_eq!(
        inspect(&["--deffile", s]),
        "BootStrap: docker\nFrom: busybox:1.33.1\n"
    );
    let env = inspect(&["--environment", s]);
    assert!(
        env.starts_with(
            "=== /.singularity.d/env/10-docker2singularity.sh ===\n#!/bin/sh\nexport PATH="
        ),
        "{env}"
    );
    assert!(
        env.contains("\n\n=== /.singularity.d/env/90-environment.sh ===\n"),
        "{env}"
    );
    let rs = inspect(&["--runscript", s]);
    assert!(
        rs.starts_with("#!/bin/sh\nOCI_ENTRYPOINT=''\n") && rs.ends_with("exec \"$@\"\n"),
        "{rs}"
    );
}

#[test]
fn test_image_labels_json_and_sandbox() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, root) = test_image(dir.path());
    let s = sif.to_str().unwrap();
    assert_eq!(inspect(&[s]), "org.test.a: <1>\norg.test.b: 2\n");
    let json = inspect(&["--json", "--labels", s]);
    assert_eq!(
        json,
        "{\n\t\"data\": {\n\t\t\"attributes\": {\n\t\t\t\"labels\": {\n\t\t\t\t\"org.test.a\": \"\\u003c1\\u003e\",\n\t\t\t\t\"org.test.b\": \"2\"\n\t\t\t}\n\t\t}\n\t},\n\t\"type\": \"container\"\n}\n"
    );
    assert_eq!(inspect(&["--deffile", s]), "Bootstrap: scratch\n");
    assert_eq!(inspect(&["--test", s]), "#!/bin/sh\necho test-ok\n");
    assert_eq!(
        inspect(&["--runscript", root.to_str().unwrap()]),
        "#!/bin/sh\necho \"runscript args: $*\"\n"
    );
    let o = run_root(Path::new("/tmp"), &["inspect", "/nonexistent.sif"]);
    assert_eq!(o.status.code(), Some(255));
}
