// SPDX-License-Identifier: Apache-2.0
//! Integrity views against the upstream vectors and the signed text inside the corpus.
// An integration test crate is test code throughout (helpers included).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use stockade_sif::{
    APPTAINER_LAUNCH_SCRIPT, Builder, DESCRIPTOR_LEN, DataType, Descriptor, HashAlg, ImageMetadata,
    Link, SifImage, descriptor_view,
};
use stockade_testutil::sif;

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(sif("sylabs-sif/integrity-vectors").join(name)).unwrap()
}

/// The plaintext of a clear-signed PGP message (no line starts with '-', so no dash-escaping).
fn clear_signed_text(msg: &[u8]) -> Vec<u8> {
    let s = std::str::from_utf8(msg).unwrap();
    let body = s.split_once("\n\n").unwrap().1;
    body.split_once("\n-----BEGIN PGP SIGNATURE-----")
        .unwrap()
        .0
        .as_bytes()
        .to_vec()
}

/// Minimal standard base64 decoder for the DSSE payloads.
fn base64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let vals: Vec<u32> = s
        .bytes()
        .filter(|c| *c != b'=')
        .map(|c| u32::try_from(A.iter().position(|a| *a == c).unwrap()).unwrap())
        .collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, v)| n | v << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn dsse_payload(msg: &[u8]) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(msg).unwrap();
    base64(v["payload"].as_str().unwrap())
}

#[test]
fn header_view_matches_vector() {
    let dir = tempfile::tempdir().unwrap();
    let id = stockade_sif::parse_uuid("b2659d4e-bd50-4ea5-bd17-eec5e54f918e").unwrap();
    let img = Builder::new()
        .launch_script(APPTAINER_LAUNCH_SCRIPT)
        .id(id)
        .create(dir.path().join("h.sif"))
        .unwrap();
    let view = img.header_view();
    assert_eq!(view.to_vec(), vector("header.bin"));
    let hex = |alg: HashAlg| alg.digest(&view).hex();
    assert_eq!(
        hex(HashAlg::Sha256),
        "a18d8228cd6f87e7fc3559bdf6bf2e32b3663c1b1107ffddcad06f6c2a15598e"
    );
    let (h384, h224, h512_256) = (
        hex(HashAlg::Sha384),
        hex(HashAlg::Sha224),
        hex(HashAlg::Sha512_256),
    );
    assert!(
        h384.starts_with("10778862b725bec7") && h384.ends_with("0c7743"),
        "{h384}"
    );
    assert!(
        h224.starts_with("c9a483d5") && h224.ends_with("000e5ce2"),
        "{h224}"
    );
    assert!(
        h512_256.starts_with("eb199aea") && h512_256.ends_with("dfc9285f"),
        "{h512_256}"
    );
}

#[test]
fn descriptor_views_match_vectors() {
    let mut raw = [0u8; DESCRIPTOR_LEN];
    raw[0..4].copy_from_slice(&DataType::DEFFILE.0.to_le_bytes());
    raw[4] = 1;
    raw[5..9].copy_from_slice(&1u32.to_le_bytes());
    raw[9..13].copy_from_slice(&0xF000_0001u32.to_le_bytes());
    raw[17..25].copy_from_slice(&40_000i64.to_le_bytes()); // offset: not in the view
    raw[49..57].copy_from_slice(&12_345i64.to_le_bytes()); // modified_at: not in the view
    let d = Descriptor::decode(0, &raw).unwrap().unwrap();
    let (v0, v1) = (descriptor_view(&d, 0), descriptor_view(&d, 1));
    assert_eq!(v0.to_vec(), vector("descr-rid0.bin"));
    assert_eq!(v1.to_vec(), vector("descr-rid1.bin"));
    assert_eq!(
        HashAlg::Sha256.digest(&v0).hex(),
        "46712c8c573850880fceb4302c729b2bd0cfb402d3422faa5ca9026b7ab89b9b"
    );
    assert_eq!(
        HashAlg::Sha256.digest(&v1).hex(),
        "a1e6ca1d0cce1fbd71b186ac7a5c5a805c833ecc419a78d017558e79c0862790"
    );
}

/// Signed metadata documents of every non-legacy signed image, recomputed byte-exactly.
#[test]
fn image_metadata_equals_signed_documents() {
    let images = [
        "sylabs-sif/images/one-group-signed-pgp.sif",
        "sylabs-sif/images/two-groups-signed-pgp.sif",
        "sylabs-sif/images/one-group-signed-dsse.sif",
        "sylabs-sif/images/two-groups-signed-dsse.sif",
        "apptainer-sif/images/one-group-signed-pgp.sif",
        "apptainer-sif/images/two-groups-signed-dsse.sif",
        "apptainer/images/one-group-signed-pgp.sif",
        "real-images/busybox_amd64.sif",
        "real-images/busybox_arm64.sif",
        "real-images/busybox_ppc64le.sif",
    ];
    let mut checked = 0;
    for rel in images {
        let img = SifImage::open(sif(rel)).unwrap();
        for sig in img
            .descriptors()
            .iter()
            .filter(|d| d.data_type() == DataType::SIGNATURE)
        {
            let Link::Group(group) = sig.link() else {
                panic!("{rel}: group link expected")
            };
            let data = img.read_object(sig, 1 << 16).unwrap();
            let signed = if data.starts_with(b"-----BEGIN PGP") {
                clear_signed_text(&data)
            } else {
                dsse_payload(&data)
            };
            let md = img.image_metadata(group, None, HashAlg::Sha256).unwrap();
            assert_eq!(
                String::from_utf8(md.to_json()).unwrap(),
                String::from_utf8(signed.clone()).unwrap(),
                "{rel} signature {}",
                sig.id()
            );
            assert_eq!(ImageMetadata::from_json(&signed).unwrap(), md);
            checked += 1;
        }
    }
    assert_eq!(checked, 13);
}

#[test]
fn manifest_digests_of_the_one_group_family() {
    let img = SifImage::open(sif("sylabs-sif/images/one-group.sif")).unwrap();
    let md = img.image_metadata(1, None, HashAlg::Sha256).unwrap();
    assert_eq!(
        md.header.digest.to_string(),
        "sha256:635fa0a14a8ef0c0351ed3e985799ed1d4f75ce973dea3cc76c99710795cc3f1"
    );
    let o = &md.objects;
    assert_eq!((o[0].relative_id, o[1].relative_id), (0, 1));
    assert!(o[0].descriptor_digest.hex().starts_with("3634ad01"));
    assert!(o[0].object_digest.hex().ends_with("0fb17ec2"));
    assert!(o[1].descriptor_digest.hex().starts_with("04b5f87c"));
    assert!(o[1].object_digest.hex().ends_with("2bce0604"));
    // An object subset keeps relative ids based on the whole group.
    let sub = img.image_metadata(1, Some(&[2]), HashAlg::Sha512).unwrap();
    assert_eq!(sub.objects.len(), 1);
    assert_eq!(sub.objects[0].relative_id, 1);
    assert_eq!(sub.objects[0].object_digest.value().len(), 64);
    let err = img
        .image_metadata(2, None, HashAlg::Sha256)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("no objects in group 2"), "{err}");
    let err = img
        .image_metadata(1, Some(&[7]), HashAlg::Sha256)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("object 7 not found"), "{err}");
}

fn sifhash(img: &SifImage, sig_id: u32) -> String {
    let data = img
        .read_object(img.descriptor(sig_id).unwrap(), 1 << 16)
        .unwrap();
    let text = String::from_utf8(clear_signed_text(&data)).unwrap();
    text.strip_prefix("SIFHASH:\n")
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn legacy_digests_match_sifhash() {
    let group = SifImage::open(sif("sylabs-sif/images/one-group-signed-legacy-group.sif")).unwrap();
    let d = group.legacy_group_digest(1, HashAlg::Sha384).unwrap();
    assert_eq!(d.hex(), sifhash(&group, 3));

    let obj = SifImage::open(sif("sylabs-sif/images/one-group-signed-legacy.sif")).unwrap();
    let two = obj.descriptor(2).unwrap();
    assert_eq!(
        obj.object_digest(two, HashAlg::Sha384).unwrap().hex(),
        sifhash(&obj, 3)
    );

    let all = SifImage::open(sif("apptainer/images/one-group-signed-legacy-all.sif")).unwrap();
    for (sig, target) in [(3, 1), (4, 2)] {
        let d = all
            .object_digest(all.descriptor(target).unwrap(), HashAlg::Sha384)
            .unwrap();
        assert_eq!(d.hex(), sifhash(&all, sig));
    }
}

#[test]
fn views_cover_what_the_spec_says() {
    let bytes = std::fs::read(sif("sylabs-sif/images/one-group-signed-pgp.sif")).unwrap();
    let base = SifImage::from_source(bytes.clone(), "base.sif").unwrap();
    let md = |b: Vec<u8>| {
        SifImage::from_source(b, "t.sif")
            .unwrap()
            .image_metadata(1, None, HashAlg::Sha256)
            .unwrap()
    };
    let reference = base.image_metadata(1, None, HashAlg::Sha256).unwrap();
    let flipped = |off: usize| {
        let mut b = bytes.clone();
        b[off] ^= 1;
        b
    };
    // Not covered: header arch and times, descriptor modified_at.
    assert_eq!(md(flipped(46)), reference);
    assert_eq!(md(flipped(64)), reference);
    assert_eq!(md(flipped(4145)), reference);
    // Covered: header id, descriptor name, object data.
    assert_ne!(md(flipped(48)).header, reference.header);
    let name = md(flipped(4169));
    assert_ne!(
        name.objects[0].descriptor_digest,
        reference.objects[0].descriptor_digest
    );
    let data = md(flipped(32768));
    assert_ne!(
        data.objects[0].object_digest,
        reference.objects[0].object_digest
    );
    assert_eq!(data.objects[1], reference.objects[1]);
}
