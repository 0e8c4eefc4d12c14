// SPDX-License-Identifier: Apache-2.0
//! MANIFEST §2: every corpus image gives exactly the expected verification result.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use common::*;
use stockade_trust::KeyMaterial;
use stockade_trust::verify::Selection;

const NF1: &str = "signature not found for object group 1";
const UNKNOWN: &str = "signature object 3 not valid: signature made by unknown entity";

#[test]
fn default_verify_matches_manifest() {
    let u = || pgp(pgp_u());
    let s = || pgp(pgp_s());
    let cases: Vec<(&str, KeyMaterial, &str)> = vec![
        ("sylabs-sif/images/empty.sif", u(), "no objects found"),
        ("apptainer/images/empty.sif", u(), "no objects found"),
        ("sylabs-sif/images/one-group.sif", u(), NF1),
        ("sylabs-sif/images/two-groups.sif", u(), NF1),
        ("apptainer/images/one-group.sif", u(), NF1),
        ("oci-sif/empty.oci.sif", u(), NF1),
        ("sylabs-sif/images/one-object-sbom.sif", u(), NF1),
        ("sylabs-sif/images/one-group-signed-pgp.sif", u(), "OK"),
        (
            "sylabs-sif/images/one-group-signed-pgp.sif",
            pgp(stockade_trust::Keyring::new()),
            UNKNOWN,
        ),
        (
            "sylabs-sif/images/one-group-signed-pgp.sif",
            dsse(&["ed25519"]),
            "key material not provided for PGP signature",
        ),
        ("sylabs-sif/images/two-groups-signed-pgp.sif", u(), "OK"),
        ("apptainer-sif/images/one-group-signed-pgp.sif", u(), "OK"),
        ("apptainer-sif/images/two-groups-signed-pgp.sif", u(), "OK"),
        (
            "sylabs-sif/images/one-group-signed-dsse.sif",
            dsse(&["ed25519"]),
            "OK",
        ),
        (
            "sylabs-sif/images/one-group-signed-dsse.sif",
            dsse(&["rsa"]),
            "OK",
        ),
        (
            "sylabs-sif/images/one-group-signed-dsse.sif",
            dsse(&["ed25519", "rsa"]),
            "OK",
        ),
        (
            "sylabs-sif/images/one-group-signed-dsse.sif",
            dsse(&["ecdsa"]),
            "signature object 3 not valid: no supplied key verified the envelope (1 keys tried)",
        ),
        (
            "sylabs-sif/images/one-group-signed-dsse.sif",
            u(),
            "key material not provided for DSSE signature",
        ),
        (
            "sylabs-sif/images/two-groups-signed-dsse.sif",
            dsse(&["ed25519"]),
            "OK",
        ),
        (
            "sylabs-sif/images/two-groups-signed-dsse.sif",
            dsse(&["rsa"]),
            "OK",
        ),
        (
            "apptainer-sif/images/one-group-signed-dsse.sif",
            dsse(&["rsa"]),
            "OK",
        ),
        (
            "apptainer-sif/images/two-groups-signed-dsse.sif",
            dsse(&["ed25519"]),
            "OK",
        ),
        (
            "apptainer/images/one-group-signed-dsse.sif",
            dsse(&["ed25519"]),
            "OK",
        ),
        ("sylabs-sif/images/one-group-signed-legacy.sif", u(), NF1),
        (
            "sylabs-sif/images/one-group-signed-legacy-all.sif",
            u(),
            NF1,
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy-group.sif",
            u(),
            NF1,
        ),
        ("sylabs-sif/images/two-groups-signed-legacy.sif", u(), NF1),
        (
            "sylabs-sif/images/two-groups-signed-legacy-all.sif",
            u(),
            NF1,
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy-group.sif",
            u(),
            NF1,
        ),
        ("apptainer/images/one-group-signed-pgp.sif", s(), "OK"),
        ("apptainer/images/one-group-signed-pgp.sif", u(), UNKNOWN),
        ("apptainer/images/one-group-signed-legacy.sif", s(), NF1),
        (
            "real-images/busybox_amd64.sif",
            u(),
            "signature object 5 not valid: signature made by unknown entity",
        ),
        (
            "real-images/busybox_arm64.sif",
            s(),
            "signature object 5 not valid: signature made by unknown entity",
        ),
        (
            "real-images/busybox_ppc64le.sif",
            u(),
            "signature object 5 not valid: signature made by unknown entity",
        ),
    ];
    let mut bad = Vec::new();
    for (img, keys, want) in cases {
        let got = verdict(&run(&image(img), &keys, Selection::Default, false));
        if got != want {
            bad.push(format!("{img}: got {got:?}, want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn two_groups_unsigned_reports_both_groups() {
    let r = run(
        &image("sylabs-sif/images/two-groups.sif"),
        &pgp(pgp_u()),
        Selection::Default,
        false,
    );
    let msgs: Vec<String> = r.failures().iter().map(ToString::to_string).collect();
    assert_eq!(msgs, [NF1, "signature not found for object group 2"]);
}

/// L-obj, L-grp and L-all columns of MANIFEST §2.
#[test]
fn legacy_modes_match_manifest() {
    let u = pgp(pgp_u());
    let s = pgp(pgp_s());
    let nf_obj2 = "signature not found for object 2";
    let cases: Vec<(&str, &KeyMaterial, Selection, &str)> = vec![
        (
            "sylabs-sif/images/one-group-signed-legacy.sif",
            &u,
            Selection::Default,
            "OK",
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy.sif",
            &u,
            Selection::Groups(vec![1]),
            NF1,
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy.sif",
            &u,
            Selection::All,
            "signature not found for object 1",
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy-all.sif",
            &u,
            Selection::Default,
            "OK",
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy-all.sif",
            &u,
            Selection::Groups(vec![1]),
            NF1,
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy-all.sif",
            &u,
            Selection::All,
            "OK",
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy-group.sif",
            &u,
            Selection::Default,
            nf_obj2,
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy-group.sif",
            &u,
            Selection::Groups(vec![1]),
            "OK",
        ),
        (
            "sylabs-sif/images/one-group-signed-legacy-group.sif",
            &u,
            Selection::All,
            "signature not found for object 1",
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy.sif",
            &u,
            Selection::Default,
            "OK",
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy.sif",
            &u,
            Selection::Groups(vec![1]),
            NF1,
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy-all.sif",
            &u,
            Selection::Default,
            "OK",
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy-all.sif",
            &u,
            Selection::All,
            "signature not found for object 3",
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy-group.sif",
            &u,
            Selection::Default,
            nf_obj2,
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy-group.sif",
            &u,
            Selection::Groups(vec![1]),
            "OK",
        ),
        (
            "sylabs-sif/images/two-groups-signed-legacy-group.sif",
            &u,
            Selection::Groups(vec![1, 2]),
            "signature not found for object group 2",
        ),
        (
            "sylabs-sif/images/one-group-signed-pgp.sif",
            &u,
            Selection::Default,
            nf_obj2,
        ),
        (
            "sylabs-sif/images/one-group-signed-pgp.sif",
            &u,
            Selection::Groups(vec![1]),
            NF1,
        ),
        (
            "sylabs-sif/images/one-object-generic-json.sif",
            &u,
            Selection::Default,
            "object not found: no primary system partition",
        ),
        (
            "apptainer/images/one-group-signed-legacy.sif",
            &s,
            Selection::Default,
            "OK",
        ),
        (
            "apptainer/images/one-group-signed-legacy-all.sif",
            &s,
            Selection::Default,
            "OK",
        ),
        (
            "apptainer/images/one-group-signed-legacy-all.sif",
            &s,
            Selection::All,
            "OK",
        ),
        (
            "apptainer/images/one-group-signed-legacy-group.sif",
            &s,
            Selection::Groups(vec![1]),
            "OK",
        ),
        (
            "apptainer/images/one-group-signed-legacy-group.sif",
            &s,
            Selection::Default,
            nf_obj2,
        ),
        (
            "apptainer/images/one-group-signed-legacy.sif",
            &u,
            Selection::Default,
            "signature object 3 not valid: signature made by unknown entity",
        ),
    ];
    let mut bad = Vec::new();
    for (img, keys, sel, want) in cases {
        let got = verdict(&run(&image(img), keys, sel.clone(), true));
        if got != want {
            bad.push(format!("{img} {sel:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Upstream assertions on the verified-object lists (MANIFEST §2, last paragraph).
#[test]
fn verified_object_lists() {
    let s = pgp(pgp_s());
    let objs = |img: &str, sel: Selection, legacy: bool| {
        let r = run(&image(img), &s, sel, legacy);
        assert!(r.ok(), "{img}: {:?}", r.first_failure());
        r.tasks
            .iter()
            .map(|t| {
                t.signatures
                    .iter()
                    .flat_map(|s| s.verified_objects.clone())
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        objs(
            "apptainer/images/one-group-signed-pgp.sif",
            Selection::Default,
            false
        ),
        [vec![1, 2]]
    );
    assert_eq!(
        objs(
            "apptainer/images/one-group-signed-pgp.sif",
            Selection::Objects(vec![1]),
            false
        ),
        [vec![1]]
    );
    assert_eq!(
        objs(
            "apptainer/images/one-group-signed-legacy.sif",
            Selection::Default,
            true
        ),
        [vec![2]]
    );
    assert_eq!(
        objs(
            "apptainer/images/one-group-signed-legacy-all.sif",
            Selection::All,
            true
        ),
        [vec![1], vec![2]]
    );
    assert_eq!(
        objs(
            "apptainer/images/one-group-signed-legacy-group.sif",
            Selection::Groups(vec![1]),
            true
        ),
        [vec![1, 2]]
    );
}

/// DSSE + ed reports only the Ed25519 key; both keys → both accepted.
#[test]
fn dsse_reports_only_supplied_keys() {
    use stockade_trust::verify::SignerInfo;
    let img = image("sylabs-sif/images/one-group-signed-dsse.sif");
    let signer = |keys: &[&str]| {
        let r = run(&img, &dsse(keys), Selection::Default, false);
        r.tasks[0].signatures[0].signer.clone().unwrap()
    };
    let ed = pem_pub("ed25519").key_id();
    let rsa = pem_pub("rsa").key_id();
    assert_eq!(ed, "SHA256:x6l8ZblpSSXGaPMCzySedWg88BwIFcz8jlPb6el0mFs");
    assert_eq!(rsa, "SHA256:BhCwr7qZulYcOMSl2Jt2DuYHxHNnN6th4NdMqR/PGa4");
    assert_eq!(
        pem_pub("ecdsa").key_id(),
        "SHA256:13cNV0A11AxgIQYCvlDmJlRi0CjRtjnYF47RzrMhlaU"
    );
    assert_eq!(
        signer(&["ed25519"]),
        SignerInfo::Dsse {
            key_ids: vec![ed.clone()]
        }
    );
    assert_eq!(
        signer(&["ed25519", "rsa"]),
        SignerInfo::Dsse {
            key_ids: vec![ed, rsa]
        }
    );
}
