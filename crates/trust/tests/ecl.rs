// SPDX-License-Identifier: Apache-2.0
//! MANIFEST §3: the ShouldRun matrix and the e2e scenario (Apptainer's callback semantics),
//! plus our deliberate differences (broken configs fail closed, denials name the rule).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use stockade_testutil::sif;
use stockade_trust::pgp::Keyring;
use stockade_trust::{Ecl, VerifyCache};

const FP1: &str = "F34371D0ACD5D09EB9BD853A80600A5FA11BBD29";
const FP2: &str = "7064B1D6EFF01B1262FED3F03581D99FE87EAFD1";

fn ecl(text: &str) -> Ecl {
    Ecl::from_bytes(text.as_bytes(), Path::new("/test/ecl.toml")).unwrap()
}

fn group(mode: &str, dir: &str, fps: &[&str]) -> String {
    let fps: Vec<String> = fps.iter().map(|f| format!("{f:?}")).collect();
    format!(
        "[[execgroup]]\ntagname = \"t\"\nmode = \"{mode}\"\ndirpath = \"{dir}\"\nkeyfp = [{}]\n",
        fps.join(", ")
    )
}

fn check(e: &Ecl, path: &Path, ring: &Keyring) -> Result<(), String> {
    let path = std::fs::canonicalize(path).unwrap();
    e.check(&File::open(&path).unwrap(), &path, ring)
        .map_err(|d| d.to_string())
}

#[test]
fn should_run_matrix() {
    let images = std::fs::canonicalize(sif("apptainer/images")).unwrap();
    let dir = images.to_str().unwrap();
    let ring = pgp_s();
    let unsigned = images.join("one-group.sif");
    let bad_mode = Ecl::from_bytes(
        format!("activated = true\n{}", group("bad", dir, &[FP1])).as_bytes(),
        Path::new("/x"),
    );
    assert!(bad_mode.unwrap_err().to_string().starts_with("invalid /x"));
    assert!(check(&ecl("activated = false"), &unsigned, &ring).is_ok());
    assert!(
        check(
            &ecl("activated = false\nlegacyinsecure = true"),
            &unsigned,
            &ring
        )
        .is_ok()
    );
    for (legacy, img) in [
        (false, "one-group-signed-pgp.sif"),
        (true, "one-group-signed-legacy.sif"),
    ] {
        let img = images.join(img);
        let cases = [
            ("whitelist", "", FP1, true),
            ("whitelist", "", FP2, false),
            ("whitelist", dir, FP1, true),
            ("whitelist", dir, FP2, false),
            ("whitestrict", dir, FP1, true),
            ("whitestrict", dir, FP2, false),
            ("blacklist", dir, FP2, true),
            ("blacklist", dir, FP1, false),
        ];
        for (mode, d, fp, allowed) in cases {
            let text = format!(
                "activated = true\nlegacyinsecure = {legacy}\n{}",
                group(mode, d, &[fp])
            );
            let got = check(&ecl(&text), &img, &ring);
            assert_eq!(
                got.is_ok(),
                allowed,
                "legacy={legacy} {mode} {d:?} {fp}: {got:?}"
            );
        }
        // Unsigned images are denied in every mode.
        for mode in ["whitelist", "whitestrict", "blacklist"] {
            let text = format!(
                "activated = true\nlegacyinsecure = {legacy}\n{}",
                group(mode, dir, &[FP2])
            );
            let err = check(&ecl(&text), &unsigned, &ring).unwrap_err();
            assert!(
                err.contains("image signature not valid: signature not found"),
                "{err}"
            );
        }
    }
}

struct Scenario {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    a: PathBuf,
    b: PathBuf,
    c: PathBuf,
}

fn scenario() -> Scenario {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let [a, b, c] = ["a.sif", "b.sif", "c.sif"].map(|n| {
        let p = dir.join(n);
        std::fs::copy(sif("sylabs-sif/images/one-group.sif"), &p).unwrap();
        p
    });
    sign_pgp(&a, "key1");
    sign_pgp(&a, "key2");
    sign_pgp(&b, "key1");
    Scenario {
        _dir: tmp,
        dir,
        a,
        b,
        c,
    }
}

#[test]
fn e2e_scenario_with_key_removal() {
    let s = scenario();
    let k1 = "0C5B8C9A5FFC44E2A0AC79851CD6FA281D476DD1";
    let k2 = "78F8AD36B0DCB84B707F23853D608DAE21C8CA10";
    let mut ring = keyring("ecl/pgpkeys/pubkey1.asc");
    ring.extend(&keyring("ecl/pgpkeys/pubkey2.asc"));
    let d = s.dir.to_str().unwrap();
    let cfg = |mode: &str, fps: &[&str]| ecl(&format!("activated = true\n{}", group(mode, d, fps)));
    let no_group = check(&ecl("activated = true"), &s.a, &ring).unwrap_err();
    assert!(
        no_group.ends_with("not part of any execgroup"),
        "{no_group}"
    );
    let elsewhere = ecl(&format!(
        "activated = true\n{}",
        group("whitelist", "/", &[k1])
    ));
    assert!(
        check(&elsewhere, &s.a, &ring)
            .unwrap_err()
            .contains("not part of any execgroup")
    );
    assert!(check(&cfg("whitelist", &[k1]), &s.a, &ring).is_ok());
    assert!(check(&cfg("whitelist", &[k2]), &s.a, &ring).is_ok());
    assert!(check(&cfg("whitelist", &[k1]), &s.c, &ring).is_err());
    assert!(check(&cfg("whitelist", &[]), &s.c, &ring).is_err());
    assert!(check(&cfg("whitestrict", &[k1, k2]), &s.a, &ring).is_ok());
    let b_strict = check(&cfg("whitestrict", &[k1, k2]), &s.b, &ring).unwrap_err();
    assert!(
        b_strict.contains("image not signed by required entities (key rule: all of"),
        "{b_strict}"
    );
    assert!(
        b_strict.contains("execgroup \"t\" (whitestrict"),
        "{b_strict}"
    );
    assert!(check(&cfg("whitestrict", &[k1, k2]), &s.c, &ring).is_err());
    let black = check(&cfg("blacklist", &[k1]), &s.a, &ring).unwrap_err();
    assert!(
        black.ends_with(&format!(
            "image signed by a forbidden entity (key rule: blacklisted {k1})"
        )),
        "{black}"
    );
    assert!(check(&cfg("blacklist", &[k2]), &s.b, &ring).is_ok());

    // key2 removed from the global keyring: its signature is waived but unvalidated.
    let k2fp = stockade_trust::openpgp::Fingerprint::from_hex(k2).unwrap();
    assert!(ring.remove(&k2fp));
    let wl2 = check(&cfg("whitelist", &[k2]), &s.a, &ring).unwrap_err();
    assert!(wl2.contains(&format!("image not signed by required entities (key rule: one of {k2}; signed but not verified by the global keyring: {k2})")), "{wl2}");
    assert!(check(&cfg("whitelist", &[k1, k2]), &s.a, &ring).is_ok());
    assert!(check(&cfg("whitestrict", &[k1, k2]), &s.a, &ring).is_err());
    // And key1 too: blacklist still sees the descriptor fingerprints.
    let k1fp = stockade_trust::openpgp::Fingerprint::from_hex(k1).unwrap();
    assert!(ring.remove(&k1fp));
    let bl = check(&cfg("blacklist", &[k1, k2]), &s.a, &ring).unwrap_err();
    assert!(bl.contains("image signed by a forbidden entity"), "{bl}");
}

#[test]
fn integrity_errors_are_never_waived_and_dsse_cannot_satisfy_the_ecl() {
    let s = scenario();
    let ring = keyring("ecl/pgpkeys/pubkey1.asc");
    let d = s.dir.to_str().unwrap();
    let k1 = "0C5B8C9A5FFC44E2A0AC79851CD6FA281D476DD1";
    // Flip a byte of object 2's data in B (signed by key1).
    let mut bytes = std::fs::read(&s.b).unwrap();
    bytes[36864] ^= 1;
    std::fs::write(&s.b, bytes).unwrap();
    let e = ecl(&format!(
        "activated = true\n{}",
        group(
            "blacklist",
            d,
            &["78F8AD36B0DCB84B707F23853D608DAE21C8CA10"]
        )
    ));
    let err = check(&e, &s.b, &ring).unwrap_err();
    assert!(
        err.contains("data object integrity compromised: 2"),
        "{err}"
    );
    let dsse_img = s.dir.join("dsse.sif");
    std::fs::copy(
        sif("sylabs-sif/images/one-group-signed-dsse.sif"),
        &dsse_img,
    )
    .unwrap();
    let w = ecl(&format!(
        "activated = true\n{}",
        group("whitelist", d, &[k1])
    ));
    let err = check(&w, &dsse_img, &ring).unwrap_err();
    assert!(
        err.contains("key material not provided for DSSE signature"),
        "{err}"
    );
}

#[test]
fn config_validation_and_parsing() {
    for f in std::fs::read_dir(sif("ecl/configs")).unwrap() {
        let p = f.unwrap().path();
        let parsed = stockade_trust::ecl::parse(&std::fs::read(&p).unwrap());
        assert!(parsed.is_ok(), "{}: {parsed:?}", p.display());
    }
    let (cfg, _) =
        stockade_trust::ecl::parse(&std::fs::read(sif("ecl/configs/KitchenSink.toml")).unwrap())
            .unwrap();
    assert!(cfg.activated && cfg.execgroups.len() == 3);
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    let d = d.to_str().unwrap();
    let invalid = |text: String| Ecl::from_bytes(text.as_bytes(), Path::new("/e")).unwrap_err();
    let cause = |e: stockade_trust::EclError| std::error::Error::source(&e).unwrap().to_string();
    assert!(
        cause(invalid(format!(
            "{}{}",
            group("whitelist", d, &[]),
            group("blacklist", d, &[])
        )))
        .contains("only appear in one execgroup")
    );
    assert!(cause(invalid(group("whitelist", "relative/dir", &[]))).contains("must be absolute"));
    assert!(cause(invalid(group("whitelist", &format!("{d}/"), &[]))).contains("must be absolute"));
    assert!(
        cause(invalid(group("whitelist", "/nonexistent-ecl-dir", &[])))
            .contains("must be absolute")
    );
    assert!(cause(invalid(group("bad", d, &[]))).contains("mode \"bad\""));
    assert!(cause(invalid(group("whitelist", d, &["bad"]))).contains("40 chars hex"));
    assert!(cause(invalid("activate = true\n".into())).contains("unknown field"));
    assert!(cause(invalid("activated = \"yes\"\n".into())).contains("invalid type"));
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(d, &link).unwrap();
    assert!(
        cause(invalid(group("whitelist", link.to_str().unwrap(), &[])))
            .contains("symlinks resolved")
    );
}

#[test]
fn load_fails_closed_on_broken_or_unsafe_files() {
    stockade_testutil::require_root!();
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    assert!(
        !Ecl::load(dir.path()).unwrap().activated(),
        "missing file = inactive"
    );
    let path = dir.path().join("ecl.toml");
    std::fs::write(&path, "activated = true\n[[execgroup]\n").unwrap();
    let err = Ecl::load(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("invalid {}", path.display())),
        "{err}"
    );
    std::fs::write(&path, "activated = true\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(
        Ecl::load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("writable only by root")
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(Ecl::load(dir.path()).unwrap().activated());
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &path).unwrap();
    assert!(
        Ecl::load(dir.path())
            .unwrap_err()
            .to_string()
            .starts_with("cannot read")
    );
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, vec![b'#'; stockade_trust::ecl::MAX_ECL_BYTES + 1]).unwrap();
    assert!(Ecl::load(dir.path()).is_err());
}

#[test]
fn cache_skips_reverification_and_any_change_invalidates_it() {
    stockade_testutil::require_root!();
    let s = scenario();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = VerifyCache::new(cache_dir.path().join("verify")).with_min_age(Duration::ZERO);
    let ring = keyring("ecl/pgpkeys/pubkey1.asc");
    let text = format!(
        "activated = true\n{}",
        group(
            "whitelist",
            s.dir.to_str().unwrap(),
            &["0C5B8C9A5FFC44E2A0AC79851CD6FA281D476DD1"]
        )
    );
    let e = ecl(&text).with_cache(cache.clone());
    let entries = || {
        std::fs::read_dir(cache.dir())
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert!(check(&e, &s.b, &ring).is_ok());
    assert_eq!(entries(), 1);
    let key = cache.key(&File::open(&s.b).unwrap(), b"").unwrap();
    assert!(!cache.lookup(&key), "context is part of the key");
    assert!(check(&e, &s.b, &ring).is_ok());
    assert_eq!(entries(), 1, "second run is a hit");
    // Change one data byte: a new key, a full verification, a denial.
    let mut bytes = std::fs::read(&s.b).unwrap();
    bytes[36864] ^= 1;
    std::fs::write(&s.b, bytes).unwrap();
    assert!(
        check(&e, &s.b, &ring)
            .unwrap_err()
            .contains("data object integrity compromised: 2")
    );
    // A different keyring is a different key too.
    assert!(check(&e, &s.a, &ring).is_ok());
    assert_eq!(entries(), 2);
    // Recently changed files are not cached.
    let strict = ecl(&text).with_cache(VerifyCache::new(cache_dir.path().join("v2")));
    assert!(check(&strict, &s.a, &ring).is_ok());
    assert!(!cache_dir.path().join("v2").exists());
}
