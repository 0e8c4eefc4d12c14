// SPDX-License-Identifier: Apache-2.0
//! Black-box tests of `stockade key`, `sign` and `verify` on the built binary.
// An integration test crate is test code throughout (helpers included).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use stockade_testutil::{sif, target_bin};

fn stockade(home: &Path, args: &[&str]) -> Output {
    Command::new(target_bin("stockade"))
        .env("HOME", home)
        .env_remove("STOCKADE_SYSCONFDIR")
        .args(args)
        .output()
        .unwrap()
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = stockade(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A failing command: exit 255, one stderr line.
fn fails(home: &Path, args: &[&str]) -> (String, String) {
    let out = stockade(home, args);
    assert_eq!(out.status.code(), Some(255), "{args:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    (
        String::from_utf8(out.stdout).unwrap(),
        err.trim_end().to_string(),
    )
}

fn s(rel: &str) -> String {
    sif(rel).to_string_lossy().into_owned()
}

fn copy(dir: &Path, rel: &str, name: &str) -> String {
    let p = dir.join(name);
    std::fs::copy(sif(rel), &p).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn verify_reports_every_signature_and_exit_status() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let u = s("sylabs-sif/keys/private.asc");
    let out = ok(
        h,
        &[
            "verify",
            "--keyring",
            &u,
            &s("sylabs-sif/images/two-groups-signed-pgp.sif"),
        ],
    );
    assert!(out.contains("[group 1] signature object 4 (PGP, entity 12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84): valid"), "{out}");
    assert!(out.contains("[group 2] signature object 5"), "{out}");
    assert!(
        out.contains(
            "signed by: Unit Test <unit@test.com> (12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84)"
        ),
        "{out}"
    );
    assert!(out.contains("3   |2       |NONE    |FS"), "{out}");
    // Unknown signer: reported, exit 255, one line naming the image.
    let (out, err) = fails(
        h,
        &[
            "verify",
            "--keyring",
            &s("apptainer/keys/pgp-public.asc"),
            &s("sylabs-sif/images/one-group-signed-pgp.sif"),
        ],
    );
    assert!(
        out.contains("NOT VALID: signature object 3 not valid: signature made by unknown entity"),
        "{out}"
    );
    assert!(err.ends_with("one-group-signed-pgp.sif: verification failed: signature object 3 not valid: signature made by unknown entity"), "{err}");
    // DSSE with --key, the certificate chain, and the wrong key.
    let dsse = s("apptainer-sif/images/two-groups-signed-dsse.sif");
    ok(
        h,
        &[
            "verify",
            "--key",
            &s("sylabs-sif/keys/ed25519-public.pem"),
            &dsse,
        ],
    );
    let certs = |n: &str| s(&format!("apptainer/certs/{n}.pem"));
    ok(
        h,
        &[
            "verify",
            "--certificate",
            &certs("leaf"),
            "--certificate-intermediates",
            &certs("intermediate"),
            "--certificate-roots",
            &certs("root"),
            &dsse,
        ],
    );
    let (_, err) = fails(
        h,
        &[
            "verify",
            "--certificate",
            &certs("leaf"),
            "--certificate-intermediates",
            &certs("intermediate"),
            "--certificate-roots",
            &certs("leaf"),
            &dsse,
        ],
    );
    assert!(
        err.contains("certificate") && err.contains("not accepted"),
        "{err}"
    );
    let (_, err) = fails(
        h,
        &[
            "verify",
            "--key",
            &s("sylabs-sif/keys/ecdsa-public.pem"),
            &dsse,
        ],
    );
    assert!(err.contains("signature object 4 not valid"), "{err}");
    // Legacy only on request.
    let legacy = s("sylabs-sif/images/one-group-signed-legacy-all.sif");
    fails(h, &["verify", "--keyring", &u, &legacy]);
    ok(
        h,
        &[
            "verify",
            "--keyring",
            &u,
            "--legacy-insecure",
            "--all",
            &legacy,
        ],
    );
    // JSON lists each signature.
    let json = ok(
        h,
        &[
            "verify",
            "--json",
            "--key",
            &s("sylabs-sif/keys/rsa-public.pem"),
            &dsse,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(
        v["tasks"][1]["signatures"][0]["signer"]["key_ids"][0],
        "SHA256:BhCwr7qZulYcOMSl2Jt2DuYHxHNnN6th4NdMqR/PGa4"
    );
    assert_eq!(v["verified_objects"], serde_json::json!([1, 2, 3]));
}

#[test]
fn pgp_key_lifecycle_sign_and_verify() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let pw = h.join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let pw = pw.to_str().unwrap();
    let out = ok(
        h,
        &[
            "key",
            "newpair",
            "--name",
            "Test User",
            "--email",
            "t@example.com",
            "--comment",
            "ci",
            "--key-type",
            "ed25519",
            "--passphrase-file",
            pw,
        ],
    );
    let fp = out.split_whitespace().nth(3).unwrap().to_string();
    assert_eq!(fp.len(), 40, "{out}");
    let list = ok(h, &["key", "list"]);
    assert!(
        list.contains("0) User:              Test User (ci) <t@example.com>"),
        "{list}"
    );
    assert!(list.contains(&format!("Fingerprint:       {fp}")), "{list}");
    assert!(ok(h, &["key", "list", "--secret"]).contains(&fp));
    let img = copy(h, "sylabs-sif/images/two-groups.sif", "img.sif");
    let (_, err) = fails(h, &["sign", &img]);
    assert!(err.contains("use --passphrase-file"), "{err}");
    let bad = h.join("bad");
    std::fs::write(&bad, "wrong\n").unwrap();
    let (_, err) = fails(
        h,
        &["sign", "--passphrase-file", bad.to_str().unwrap(), &img],
    );
    assert!(err.contains("wrong passphrase"), "{err}");
    ok(h, &["sign", "--passphrase-file", pw, &img]);
    // Verified with the user's keyring by default.
    let out = ok(h, &["verify", &img]);
    assert!(
        out.contains(&format!("entity {fp}")) && out.contains("Container verified"),
        "{out}"
    );
    // Export, remove, verify fails, import again.
    let exported = h.join("pub.asc");
    ok(h, &["key", "export", &fp, exported.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(&exported)
            .unwrap()
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    );
    ok(h, &["key", "remove", &fp]);
    fails(h, &["verify", &img]);
    let (_, err) = fails(h, &["key", "remove", &fp]);
    assert!(err.contains("not found"), "{err}");
    ok(h, &["key", "import", exported.to_str().unwrap()]);
    ok(h, &["verify", "--group-id", "2", &img]);
    // A single object may be signed and verified on its own.
    let img2 = copy(h, "sylabs-sif/images/two-groups.sif", "img2.sif");
    ok(
        h,
        &["sign", "--passphrase-file", pw, "--object-id", "1", &img2],
    );
    ok(h, &["verify", "--object-id", "1", &img2]);
    let (_, err) = fails(h, &["verify", &img2]);
    assert!(
        err.contains("signature object 4") || err.contains("object 2 not signed"),
        "{err}"
    );
}

#[test]
fn sign_with_shipped_keys_and_pem_pairs() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // Apptainer's test key signs; its public key verifies.
    let img = copy(h, "sylabs-sif/images/one-group.sif", "a.sif");
    ok(
        h,
        &[
            "sign",
            "--keyring",
            &s("apptainer/keys/pgp-private.asc"),
            &img,
        ],
    );
    ok(
        h,
        &[
            "verify",
            "--keyring",
            &s("apptainer/keys/pgp-public.asc"),
            &img,
        ],
    );
    // Passphrase-protected ECL e2e key.
    let pw = h.join("pw");
    std::fs::write(&pw, "e2e").unwrap();
    let img = copy(h, "sylabs-sif/images/one-group.sif", "b.sif");
    ok(
        h,
        &[
            "sign",
            "--keyring",
            &s("ecl/pgpkeys/key1.asc"),
            "--passphrase-file",
            pw.to_str().unwrap(),
            &img,
        ],
    );
    ok(
        h,
        &["verify", "--keyring", &s("ecl/pgpkeys/pubkey1.asc"), &img],
    );
    // DSSE, deterministic: equals the Apptainer corpus image.
    let img = copy(h, "sylabs-sif/images/one-group.sif", "c.sif");
    ok(
        h,
        &[
            "sign",
            "--key",
            &s("sylabs-sif/keys/ed25519-private.pem"),
            "--key",
            &s("sylabs-sif/keys/rsa-private.pem"),
            &img,
        ],
    );
    assert!(
        std::fs::read(&img).unwrap()
            == std::fs::read(sif("apptainer-sif/images/one-group-signed-dsse.sif")).unwrap()
    );
    for kind in ["ed25519", "rsa", "ecdsa-p256"] {
        let key = h.join(format!("{kind}.pem"));
        let k = key.to_str().unwrap();
        ok(h, &["key", "newpair", "--pem", kind, "--out", k]);
        let img = copy(
            h,
            "sylabs-sif/images/two-groups.sif",
            &format!("{kind}.sif"),
        );
        ok(h, &["sign", "--key", k, &img]);
        ok(h, &["verify", "--key", &format!("{k}.pub"), &img]);
        let (_, err) = fails(
            h,
            &[
                "verify",
                "--key",
                &s("sylabs-sif/keys/ed25519-public.pem"),
                &img,
            ],
        );
        assert!(err.contains("not valid"), "{kind}: {err}");
    }
    let (_, err) = fails(
        h,
        &[
            "key",
            "newpair",
            "--pem",
            "dsa",
            "--out",
            h.join("x").to_str().unwrap(),
        ],
    );
    assert!(err.contains("unknown PEM key kind"), "{err}");
}
