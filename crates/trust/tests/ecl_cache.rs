// SPDX-License-Identifier: Apache-2.0
//! The verification cache on the run path (`Ecl::check_global`, docs/design/verify-cache.md):
//! a second check is a hit; a change to the image, the global keyring's bytes or the ECL is
//! a miss; a broken keyring denies; entries expire.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use stockade_testutil::sif;
use stockade_trust::ecl::Allowed;
use stockade_trust::{Ecl, Keyring, VerifyCache, openpgp};

const KEY1: &str = "0C5B8C9A5FFC44E2A0AC79851CD6FA281D476DD1";

struct Setup {
    _tmp: tempfile::TempDir,
    conf: PathBuf,
    img: PathBuf,
    cache: VerifyCache,
}

impl Setup {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let (conf, dir) = (root.join("conf"), root.join("img"));
        std::fs::create_dir(&conf).unwrap();
        std::fs::create_dir(&dir).unwrap();
        let img = dir.join("a.sif");
        std::fs::copy(sif("sylabs-sif/images/one-group.sif"), &img).unwrap();
        sign_pgp(&img, "key1");
        let s = Self {
            _tmp: tmp,
            conf,
            img,
            cache: VerifyCache::new(root.join("cache/verify")).with_min_age(Duration::ZERO),
        };
        s.set_ring(&std::fs::read(sif("ecl/pgpkeys/pubkey1.asc")).unwrap());
        s.set_ecl("");
        s
    }

    fn set_ring(&self, bytes: &[u8]) {
        std::fs::write(self.conf.join("global-pgp-public.tmp"), bytes).unwrap();
        std::fs::rename(
            self.conf.join("global-pgp-public.tmp"),
            self.conf.join("global-pgp-public"),
        )
        .unwrap();
    }

    fn set_ecl(&self, extra: &str) {
        let dir = self.img.parent().unwrap().to_str().unwrap();
        let text = format!(
            "activated = true\n[[execgroup]]\ntagname = \"t\"\nmode = \"whitelist\"\n\
             dirpath = \"{dir}\"\nkeyfp = [\"{KEY1}\"]\n{extra}"
        );
        std::fs::write(self.conf.join("ecl.toml"), text).unwrap();
    }

    /// What `stockade run` does: load the ECL, check the opened image.
    fn check(&self, path: &Path) -> Result<Allowed, String> {
        let e = Ecl::load(&self.conf)
            .unwrap()
            .with_cache(self.cache.clone());
        let path = std::fs::canonicalize(path).unwrap();
        e.check_global(&File::open(&path).unwrap(), &path)
            .map_err(|d| d.to_string())
    }
}

#[test]
fn hits_and_every_input_change_misses() {
    stockade_testutil::require_root!();
    let s = Setup::new();
    assert_eq!(s.check(&s.img), Ok(Allowed::Verified));
    assert_eq!(s.check(&s.img), Ok(Allowed::Cached));
    // The keyring is identified by its bytes: rewriting the same bytes (new inode) still hits,
    // other bytes miss.
    let one = std::fs::read(sif("ecl/pgpkeys/pubkey1.asc")).unwrap();
    s.set_ring(&one);
    assert_eq!(s.check(&s.img), Ok(Allowed::Cached));
    let mut two = one.clone();
    two.extend(std::fs::read(sif("ecl/pgpkeys/pubkey2.asc")).unwrap());
    s.set_ring(&two);
    assert_eq!(s.check(&s.img), Ok(Allowed::Verified));
    assert_eq!(s.check(&s.img), Ok(Allowed::Cached));
    // A broken or missing keyring cannot reuse an entry.
    s.set_ring(b"not a keyring");
    let err = s.check(&s.img).unwrap_err();
    assert!(
        err.starts_with("cannot load the global keyring: keyring "),
        "{err}"
    );
    std::fs::remove_file(s.conf.join("global-pgp-public")).unwrap();
    let err = s.check(&s.img).unwrap_err();
    assert!(err.contains("not signed by required entities"), "{err}");
    s.set_ring(&one);
    assert_eq!(s.check(&s.img), Ok(Allowed::Cached));
    // Any edit of ecl.toml is a new key.
    s.set_ecl("# edited\n");
    assert_eq!(s.check(&s.img), Ok(Allowed::Verified));
    assert_eq!(s.check(&s.img), Ok(Allowed::Cached));
    // One flipped data byte: a miss, a full verification, a denial (twice: never cached).
    let mut bytes = std::fs::read(&s.img).unwrap();
    bytes[36864] ^= 1;
    std::fs::write(&s.img, bytes).unwrap();
    for _ in 0..2 {
        let err = s.check(&s.img).unwrap_err();
        assert!(err.contains("integrity compromised"), "{err}");
    }
    std::fs::write(s.conf.join("ecl.toml"), "activated = false\n").unwrap();
    assert_eq!(s.check(&s.img), Ok(Allowed::NotActivated));
}

#[test]
fn entries_expire_and_are_capped() {
    stockade_testutil::require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("f");
    std::fs::write(&path, b"content").unwrap();
    let file = File::open(&path).unwrap();
    let cache = VerifyCache::new(tmp.path().join("verify")).with_min_age(Duration::ZERO);
    let key = cache.key(&file, b"ctx").unwrap();
    let now = SystemTime::now();
    cache
        .store_until(&key, &file, now - Duration::from_secs(1))
        .unwrap();
    assert!(!cache.lookup(&key), "expired entry");
    cache.store(&key, &file).unwrap();
    assert!(cache.lookup(&key));
    cache
        .store_until(&key, &file, now + Duration::from_secs(365 * 86400))
        .unwrap();
    assert!(cache.lookup(&key));
    let entry = std::fs::read_dir(cache.dir())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&entry).unwrap();
    let not_after: u64 = text.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
    let cap = (now + VerifyCache::MAX_ENTRY_AGE + Duration::from_secs(2))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(not_after <= cap, "{text}");
    // Anything but our exact text is a miss.
    std::fs::write(&entry, text.replace(" 2 ", " 1 ")).unwrap();
    assert!(!cache.lookup(&key));
}

#[test]
fn earliest_expiry_of_a_keyring() {
    let now = SystemTime::now();
    assert_eq!(Keyring::new().earliest_expiry(now), None);
    assert_eq!(
        keyring("ecl/pgpkeys/pubkey1.asc").earliest_expiry(now),
        None
    );
    let (cert, _) = openpgp::cert::CertBuilder::general_purpose(Some("x@example.org"))
        .set_creation_time(now - Duration::from_secs(60))
        .set_validity_period(Duration::from_secs(3600))
        .generate()
        .unwrap();
    let mut ring = keyring("ecl/pgpkeys/pubkey1.asc");
    ring.insert(cert);
    let t = ring.earliest_expiry(now).unwrap();
    assert!(t > now && t <= now + Duration::from_secs(3600), "{t:?}");
    assert_eq!(ring.earliest_expiry(now + Duration::from_secs(7200)), None);
}
