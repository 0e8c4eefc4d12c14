// SPDX-License-Identifier: Apache-2.0
//! Helpers shared by the integration suites.
#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use stockade_luks::keyslot::{candidates, try_keyslot};
use stockade_luks::{FormatOptions, KdfChoice, header::FileRange, read_header};

/// Cheap Argon2id so debug-build tests stay fast (cryptsetup accepts any valid costs).
pub fn fast_argon2(sector_size: u32) -> FormatOptions {
    FormatOptions {
        kdf: KdfChoice::Argon2id {
            time: 1,
            memory_kib: 8 * 1024,
            lanes: 2,
        },
        sector_size,
        ..FormatOptions::passphrase()
    }
}

/// Deterministic pseudo-random bytes (xorshift), distinct per seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[4]
        })
        .collect()
}

/// Formats `plain` into a new file `path` at offset `base` (junk before it).
pub fn make_volume(path: &Path, base: u64, plain: &[u8], pass: &[u8], opts: FormatOptions) -> u64 {
    let mut f = File::create(path).expect("create image");
    f.write_all(&pseudo_random(
        usize::try_from(base).expect("small prefix"),
        99,
    ))
    .expect("write prefix");
    stockade_luks::format(
        &mut f,
        base,
        &mut &plain[..],
        plain.len() as u64,
        pass,
        opts,
    )
    .expect("format")
}

/// Runs a command with `stdin` bytes; returns (success, stdout, stderr).
pub fn run(cmd: &str, args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (scripts/setup installs it): {e}"));
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let s = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), s(out.stdout), s(out.stderr))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The volume key as `cryptsetup luksDump --dump-volume-key` prints it.
pub fn cryptsetup_volume_key(img: &Path, pass: &[u8]) -> Vec<u8> {
    let args = [
        "luksDump",
        "--dump-volume-key",
        "-q",
        "--key-file",
        "-",
        path_str(img),
    ];
    let (ok, out, err) = run("cryptsetup", &args, pass);
    assert!(ok, "dump-volume-key failed: {err}");
    let mut key = Vec::new();
    let mut inside = false;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("MK dump:") {
            inside = true;
            key.extend(
                rest.split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).expect("hex")),
            );
        } else if inside && line.starts_with(char::is_whitespace) {
            key.extend(
                line.split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).expect("hex")),
            );
        } else {
            inside = false;
        }
    }
    assert!(!key.is_empty(), "no MK dump in: {out}");
    key
}

/// Our keyslot unlock, returning the raw volume key.
pub fn our_volume_key(img: &Path, pass: &[u8]) -> Option<Vec<u8>> {
    let f = File::open(img).expect("open");
    let src = FileRange {
        file: &f,
        base: 0,
        len: f.metadata().expect("stat").len(),
    };
    let h = read_header(&src).expect("header");
    candidates(&h.metadata)
        .into_iter()
        .find_map(|k| try_keyslot(&src, &h.metadata, k, pass).expect("keyslot usable"))
        .map(|k| k.to_vec())
}
