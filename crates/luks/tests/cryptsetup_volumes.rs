// SPDX-License-Identifier: Apache-2.0
//! We open what cryptsetup writes: its keyslots (pbkdf2 sha1/256/512, argon2i/id, CBC-ESSIV
//! areas, priorities, labels) unlock to the exact volume key it reports, and payloads it
//! encrypted (offline `reencrypt --encrypt` runs in user space) read back byte for byte.
// Integration tests are their own test crates: the lib-oriented lint does not apply.
#![allow(clippy::tests_outside_test_module)]

mod common;

use common::{cryptsetup_volume_key, our_volume_key, path_str, pseudo_random, run};
use std::fs::File;
use std::path::Path;
use stockade_luks::keyslot::candidates;
use stockade_luks::{Volume, header::FileRange, read_header};

fn luks_format(img: &Path, pass: &[u8], extra: &[&str]) {
    let f = File::create(img).expect("create");
    f.set_len(20 << 20).expect("size");
    let mut args = vec!["luksFormat", "--type", "luks2", "-q", "--key-file", "-"];
    args.extend_from_slice(extra);
    args.push(path_str(img));
    let (ok, _, err) = run("cryptsetup", &args, pass);
    assert!(ok, "luksFormat {extra:?}: {err}");
}

#[test]
fn cryptsetup_keyslots_unlock_to_the_volume_key_it_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("cs");
    let variants: &[&[&str]] = &[
        &["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"],
        &[
            "--pbkdf",
            "pbkdf2",
            "--hash",
            "sha512",
            "--pbkdf-force-iterations",
            "1000",
        ],
        &[
            "--pbkdf",
            "pbkdf2",
            "--hash",
            "sha1",
            "--pbkdf-force-iterations",
            "1000",
        ],
        &[
            "--pbkdf",
            "argon2id",
            "--pbkdf-memory",
            "8192",
            "--pbkdf-force-iterations",
            "4",
        ],
        &[
            "--pbkdf",
            "argon2i",
            "--pbkdf-memory",
            "8192",
            "--pbkdf-force-iterations",
            "4",
            "--pbkdf-parallel",
            "1",
        ],
        &[
            "--cipher",
            "aes-cbc-essiv:sha256",
            "--key-size",
            "256",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
        ],
        &[
            "--key-size",
            "256",
            "--sector-size",
            "512",
            "--label",
            "lbl",
            "--subsystem",
            "sub",
            "--pbkdf-memory",
            "8192",
            "--pbkdf-force-iterations",
            "4",
        ],
    ];
    for extra in variants {
        luks_format(&img, b"Secret\nwith newline", extra);
        let want = cryptsetup_volume_key(&img, b"Secret\nwith newline");
        assert_eq!(
            our_volume_key(&img, b"Secret\nwith newline"),
            Some(want),
            "{extra:?}"
        );
        assert_eq!(
            our_volume_key(&img, b"Secret\nwith newlinE"),
            None,
            "{extra:?}"
        );
    }
    // A second keyslot marked "prefer" is tried first and opens the same volume.
    let add = [
        "luksAddKey",
        "-q",
        "--key-file",
        "-",
        "--pbkdf",
        "pbkdf2",
        "--pbkdf-force-iterations",
        "1000",
    ];
    let newkey = dir.path().join("newkey");
    std::fs::write(&newkey, b"second").expect("key file");
    let mut args = add.to_vec();
    args.extend([path_str(&img), path_str(&newkey)]);
    assert!(
        run("cryptsetup", &args, b"Secret\nwith newline").0,
        "luksAddKey"
    );
    let prio = [
        "config",
        "--priority",
        "prefer",
        "--key-slot",
        "1",
        path_str(&img),
    ];
    assert!(run("cryptsetup", &prio, b"").0, "config --priority");
    let f = File::open(&img).expect("open");
    let h = read_header(&FileRange {
        file: &f,
        base: 0,
        len: 20 << 20,
    })
    .expect("header");
    assert_eq!(
        candidates(&h.metadata)
            .iter()
            .map(|k| k.id)
            .collect::<Vec<_>>(),
        vec![1, 0]
    );
    assert_eq!(h.bin.label, "lbl");
    assert!(Volume::open(&f, 0, 20 << 20, b"second").is_ok());
}

#[test]
fn payloads_encrypted_by_cryptsetup_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("enc");
    let data = pseudo_random(40 << 20, 8);
    let variants: &[&[&str]] = &[
        &[],
        &["--sector-size", "4096"],
        &["--cipher", "aes-cbc-essiv:sha256", "--key-size", "256"],
        &[
            "--cipher",
            "aes-cbc-essiv:sha256",
            "--key-size",
            "256",
            "--sector-size",
            "4096",
        ],
    ];
    for extra in variants {
        std::fs::write(&img, &data).expect("write data");
        let mut args = vec![
            "reencrypt",
            "--encrypt",
            "--type",
            "luks2",
            "--reduce-device-size",
            "32M",
            "-q",
        ];
        args.extend([
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file",
            "-",
        ]);
        args.extend_from_slice(extra);
        args.push(path_str(&img));
        let (ok, _, err) = run("cryptsetup", &args, b"pw");
        assert!(ok, "offline encrypt {extra:?}: {err}");
        let f = File::open(&img).expect("open");
        let v = Volume::open(&f, 0, 40 << 20, b"pw").expect("unlock cryptsetup volume");
        let mut got = vec![0u8; 8 << 20];
        assert_eq!(v.read_at(&mut got, 0).expect("read"), got.len());
        assert!(got == data[..8 << 20], "payload differs for {extra:?}");
        let mut odd = vec![0u8; 9999];
        v.read_at(&mut odd, 4093).expect("odd read");
        assert!(
            odd == data[4093..4093 + 9999],
            "odd read differs for {extra:?}"
        );
    }
}
