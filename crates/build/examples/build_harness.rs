// SPDX-License-Identifier: Apache-2.0
//! Test harness: `build_harness OUT SOURCE [--notest] [--fakeroot] [--force] [--tmpdir DIR]` runs one
//! build in a single-threaded process (the runtime refuses to clone from libtest's threads),
//! printing the error chain on one line and exiting 1 on failure.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, source) = (PathBuf::from(&args[0]), &args[1]);
    let mut o = stockade_build::BuildOptions::new(
        out,
        stockade_build::Source::parse(source).unwrap_or_else(|e| fail(&e)),
    );
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--notest" => o.notest = true,
            "--fakeroot" => o.fakeroot = true,
            "--force" => o.force = true,
            "--tmpdir" => o.tmp_dir = PathBuf::from(it.next().unwrap()),
            other => panic!("unknown argument {other}"),
        }
    }
    stockade_runtime::seal::ensure_sealed(&stockade_runtime::Runtime::default_root()).unwrap();
    if let Err(e) = stockade_build::build(&o, &mut stockade_build::NoProgress) {
        fail(&e);
    }
}

fn fail(e: &stockade_build::BuildError) -> ! {
    eprintln!("{}", stockade_build::error::chain(e));
    std::process::exit(1);
}
