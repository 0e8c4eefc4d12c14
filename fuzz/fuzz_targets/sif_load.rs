// SPDX-License-Identifier: Apache-2.0
//! Arbitrary bytes as a SIF image: load (all hardened checks), then walk every descriptor and
//! object the way the CLI, the runtime and the verifier do. Must never panic, hang or allocate
//! more than the input bounds allow.
#![no_main]

use std::io::{Read, Seek, SeekFrom};

use libfuzzer_sys::fuzz_target;
use stockade_sif::{HashAlg, Link, SifImage};

/// Inputs above this are skipped (images in the corpus are up to a few MiB; layouts are what
/// matter, not bulk data).
const MAX_INPUT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let Ok(img) = SifImage::from_source(data, "fuzz.sif") else {
        return;
    };
    let h = img.header();
    let _ = (
        h.launch_script(),
        h.id_string(),
        h.arch().go_name(),
        img.header_view(),
    );
    assert!(img.descriptors().len() <= img.capacity());
    for d in img.descriptors() {
        assert!(d.end() <= data.len() as u64);
        let _ = (
            d.name(),
            d.group(),
            d.partition(),
            d.signature(),
            d.crypto_message(),
        );
        let _ = (d.sbom_format(), d.oci_digest(), img.descriptor_view(d));
        if let Link::Object(id) = d.link() {
            let _ = img.find(id);
        }
        let bytes = img
            .read_object(d, MAX_INPUT as u64)
            .expect("checked range is readable");
        let mut r = img.object_reader(d);
        let mut streamed = Vec::new();
        r.read_to_end(&mut streamed)
            .expect("checked range is readable");
        assert_eq!(bytes, streamed);
        let _ = r.seek(SeekFrom::Start(d.size() / 2));
    }
    for g in img.groups() {
        let md = img
            .image_metadata(g, None, HashAlg::Sha256)
            .expect("group has objects");
        let parsed =
            stockade_sif::ImageMetadata::from_json(&md.to_json()).expect("own JSON parses");
        assert_eq!(parsed, md);
        let _ = img.legacy_group_digest(g, HashAlg::Sha384);
    }
    let _ = img.primary_partition();
});
