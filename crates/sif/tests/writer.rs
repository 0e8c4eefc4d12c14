// SPDX-License-Identifier: Apache-2.0
//! Builder and in-place changes reproduce the reference writer's bytes.
// An integration test crate is test code throughout (helpers included).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use std::path::Path;

use stockade_sif::{
    Builder, DataType, DeleteOptions, Descriptor, GO_ZERO_TIME, InvalidChange, Link, ObjectData,
    ObjectInput, PartType, SifError, SifImage, TimeMode,
};
use stockade_testutil::sif;

/// An input reproducing `d` of `img` (data, type, group, link, name, extra, time).
fn input_from(img: &SifImage, d: &Descriptor) -> ObjectInput<'static> {
    let mut input = ObjectInput::from_bytes(d.data_type(), img.read_object(d, 1 << 20).unwrap())
        .group(d.group())
        .link(d.link())
        .name(&d.name())
        .extra(d.extra().to_vec());
    if d.created_at() != img.header().created_at() {
        input = input.time(d.created_at());
    }
    input
}

/// Rebuilds a deterministic-layout corpus image from its objects.
fn rebuild(rel: &str, out: &Path) -> (Vec<u8>, Vec<u8>) {
    let img = SifImage::open(sif(rel)).unwrap();
    let h = img.header();
    let mut b = Builder::new()
        .launch_script(&h.launch_script())
        .id(h.id())
        .time(h.created_at());
    for d in img.descriptors() {
        b = b.object(input_from(&img, d));
    }
    b.create(out).unwrap();
    (
        std::fs::read(sif(rel)).unwrap(),
        std::fs::read(out).unwrap(),
    )
}

#[test]
fn builder_reproduces_corpus_images_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let images = [
        "one-group.sif",
        "two-groups.sif",
        "empty.sif",
        "empty-id.sif",
        "empty-launch-script.sif",
        "one-object-crypt-message.sif",
        "one-object-generic-json.sif",
        "one-object-oci-blob.sif",
        "one-object-oci-root-index.sif",
        "one-object-sbom.sif",
        "one-object-time.sif",
        "one-group-signed-pgp.sif",
        "two-groups-signed-dsse.sif",
    ];
    for name in images {
        let (want, got) = rebuild(&format!("sylabs-sif/images/{name}"), &dir.path().join(name));
        assert!(want == got, "{name}: rebuilt image differs");
    }
}

#[test]
fn deterministic_builder_uses_reference_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let one = SifImage::open(sif("sylabs-sif/images/one-group.sif")).unwrap();
    let data = |id| {
        one.read_object(one.descriptor(id).unwrap(), 1 << 20)
            .unwrap()
    };
    let part = |id| one.descriptor(id).unwrap().partition().unwrap();
    let out = dir.path().join("g.sif");
    Builder::new()
        .deterministic()
        .object(ObjectInput::from_bytes(DataType::PARTITION, data(1)).partition(part(1)))
        .object(ObjectInput::from_bytes(DataType::PARTITION, data(2)).partition(part(2)))
        .create(&out)
        .unwrap();
    assert!(
        std::fs::read(&out).unwrap()
            == std::fs::read(sif("sylabs-sif/images/one-group.sif")).unwrap()
    );
    let img = SifImage::open(&out).unwrap();
    assert_eq!(img.header().arch().go_name(), "386");
    assert!(img.header().is_deterministic());

    let fresh = Builder::new().create(dir.path().join("fresh.sif")).unwrap();
    assert_ne!(fresh.header().id(), [0; 16]);
    assert!(fresh.header().created_at() > 1_700_000_000);
}

fn copy_of(rel: &str, dir: &Path) -> std::path::PathBuf {
    let dst = dir.join(Path::new(rel).file_name().unwrap());
    std::fs::copy(sif(rel), &dst).unwrap();
    dst
}

#[test]
fn in_place_add_and_delete_match_reference_images() {
    let dir = tempfile::tempdir().unwrap();
    let signed = SifImage::open(sif("sylabs-sif/images/one-group-signed-pgp.sif")).unwrap();

    // Empty deterministic image + two partitions + the signature = the signed image.
    let path = dir.path().join("grow.sif");
    Builder::new().deterministic().create(&path).unwrap();
    let mut img = SifImage::open_rw(&path).unwrap();
    for d in signed.descriptors() {
        let id = img
            .add_object(input_from(&signed, d), TimeMode::Auto)
            .unwrap();
        assert_eq!(id, d.id());
    }
    drop(img);
    let reference = std::fs::read(sif("sylabs-sif/images/one-group-signed-pgp.sif")).unwrap();
    assert!(std::fs::read(&path).unwrap() == reference);

    // Deleting the signature with compaction gives back the unsigned image.
    let mut img = SifImage::open_rw(&path).unwrap();
    img.delete_object(
        3,
        DeleteOptions {
            compact: true,
            ..Default::default()
        },
    )
    .unwrap();
    drop(img);
    let unsigned = std::fs::read(sif("sylabs-sif/images/one-group.sif")).unwrap();
    assert!(std::fs::read(&path).unwrap() == unsigned);
}

#[test]
fn delete_without_compaction_keeps_data_unless_zeroed() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of("sylabs-sif/images/two-groups.sif", dir.path());
    let before = std::fs::read(&path).unwrap();
    let mut img = SifImage::open_rw(&path).unwrap();
    img.delete_object(1, DeleteOptions::default()).unwrap();
    img.delete_object(
        2,
        DeleteOptions {
            zero: true,
            ..Default::default()
        },
    )
    .unwrap();
    let missing = img
        .delete_object(2, DeleteOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        missing.ends_with("two-groups.sif: object 2 not found"),
        "{missing}"
    );
    drop(img);
    let after = std::fs::read(&path).unwrap();
    assert_eq!(after.len(), before.len());
    assert_eq!(after[32768..32772], before[32768..32772]);
    assert!(after[36864..40960].iter().all(|b| *b == 0));
    let img = SifImage::open(&path).unwrap();
    assert_eq!(img.header().descriptors_free(), 47);
    assert_eq!(img.header().arch().code(), "00"); // the primary partition went away
    assert_eq!(img.header().modified_at(), GO_ZERO_TIME);
    assert_eq!(img.descriptors().len(), 1);
    assert_eq!(img.descriptors()[0].id(), 3);

    // The freed first slot is reused: id 1 again, placed after object 3.
    let mut img = SifImage::open_rw(&path).unwrap();
    let id = img
        .add_object(
            ObjectInput::from_bytes(DataType::GENERIC, b"hello".to_vec()),
            TimeMode::At(7),
        )
        .unwrap();
    assert_eq!(id, 1);
    let d = img.descriptor(1).unwrap().clone();
    assert_eq!((d.offset(), d.size(), d.created_at()), (303_104, 5, 7));
    assert_eq!(img.header().modified_at(), 7);
    drop(img);
    let img = SifImage::open(&path).unwrap();
    assert_eq!(
        img.read_object(img.descriptor(1).unwrap(), 10).unwrap(),
        b"hello"
    );
}

#[test]
fn set_primary_partition_swaps_and_updates_arch() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of("sylabs-sif/images/two-groups.sif", dir.path());
    let mut img = SifImage::open_rw(&path).unwrap();
    img.set_primary_partition(3, TimeMode::At(100)).unwrap();
    let err = img
        .set_primary_partition(9, TimeMode::Auto)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("object 9 not found"), "{err}");
    drop(img);
    let img = SifImage::open(&path).unwrap();
    let p = |id| img.descriptor(id).unwrap().partition().unwrap().part_type;
    assert_eq!((p(2), p(3)), (PartType::SYSTEM, PartType::PRIM_SYS));
    assert_eq!(img.header().arch().go_name(), "amd64");
    assert_eq!(img.descriptor(3).unwrap().modified_at(), 100);
    assert_eq!(img.header().modified_at(), 100);
}

#[test]
fn refused_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of("sylabs-sif/images/one-group.sif", dir.path());
    let mut img = SifImage::open_rw(&path).unwrap();
    let part = img.descriptor(2).unwrap().partition().unwrap();
    let second = ObjectInput::from_bytes(DataType::PARTITION, vec![1; 10]).partition(part);
    let err = img.add_object(second, TimeMode::Auto).unwrap_err();
    assert!(matches!(
        err,
        SifError::Invalid {
            reason: InvalidChange::PrimaryExists { existing: 2 },
            ..
        }
    ));
    assert_eq!(img.header().arch().go_name(), "386");
    let err = img.set_primary_partition(2, TimeMode::Auto);
    assert!(err.is_ok(), "already primary: nothing to do");
    let json = ObjectInput::from_bytes(DataType::GENERIC_JSON, b"{}".to_vec());
    let id = img.add_object(json, TimeMode::Auto).unwrap();
    let err = img
        .set_primary_partition(id, TimeMode::Auto)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("object 3 is not a partition"), "{err}");
    let long = ObjectInput::from_bytes(DataType::GENERIC, vec![]).name(&"n".repeat(129));
    let err = img
        .add_object(long, TimeMode::Auto)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("object name longer than 128 bytes"), "{err}");

    let small = dir.path().join("small.sif");
    Builder::new()
        .capacity(1)
        .object(ObjectInput::from_bytes(DataType::GENERIC, vec![1]))
        .create(&small)
        .unwrap();
    let mut img = SifImage::open_rw(&small).unwrap();
    let err = img.add_object(
        ObjectInput::from_bytes(DataType::GENERIC, vec![2]),
        TimeMode::Auto,
    );
    assert!(
        err.unwrap_err()
            .to_string()
            .ends_with("no free descriptor slot (capacity 1)")
    );
    let err = Builder::new()
        .launch_script(&"#".repeat(32))
        .create(dir.path().join("l.sif"));
    assert!(
        err.unwrap_err()
            .to_string()
            .ends_with("launch script longer than 31 bytes")
    );
    assert!(!dir.path().join("l.sif").exists());
}

#[test]
fn data_sources_and_old_layouts() {
    let dir = tempfile::tempdir().unwrap();
    // Old writer layout (DataOff 32768): new objects go after the last object.
    let path = copy_of("apptainer/images/one-group.sif", dir.path());
    let src = dir.path().join("payload");
    std::fs::write(&src, vec![0xAB; 100_000]).unwrap();
    let mut img = SifImage::open_rw(&path).unwrap();
    let file = std::fs::File::open(&src).unwrap();
    let a = img
        .add_object(
            ObjectInput::new(DataType::GENERIC, ObjectData::File(file)),
            TimeMode::Auto,
        )
        .unwrap();
    let reader = Box::new(std::io::Cursor::new(vec![7u8; 3000]));
    let input = ObjectInput::new(DataType::PARTITION, ObjectData::Reader(reader))
        .group(Some(2))
        .link(Link::Group(1))
        .name("r");
    let b = img.add_object(input, TimeMode::Auto).unwrap();
    drop(img);
    let img = SifImage::open(&path).unwrap();
    let (da, db) = (img.descriptor(a).unwrap(), img.descriptor(b).unwrap());
    assert_eq!((da.offset(), da.size()), (36_868, 100_000));
    assert_eq!(db.offset() % 4096, 0);
    assert_eq!(
        (db.group(), db.link(), db.name().as_str()),
        (Some(2), Link::Group(1), "r")
    );
    assert!(
        img.read_object(da, 1 << 20)
            .unwrap()
            .iter()
            .all(|x| *x == 0xAB)
    );
    assert_eq!(img.read_object(db, 1 << 20).unwrap(), vec![7u8; 3000]);
    assert_eq!(
        img.header().data_size(),
        i64::try_from(db.end() - 32_768).unwrap()
    );
    assert!(
        img.header().modified_at() > 1_700_000_000,
        "not deterministic: time is now"
    );
}
