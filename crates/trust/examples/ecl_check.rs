// SPDX-License-Identifier: Apache-2.0
//! In-process cost of the ECL check before a run (used by `bench/verify.sh`):
//!
//!     ecl_check global|parsed SYSCONFDIR IMAGE [RUNS]
//!
//! `global` times what `stockade run` does after opening the image: `Ecl::load` then
//! `Ecl::check_global` (the keyring is read and hashed, parsed only on a miss); `parsed` the
//! older sequence `Ecl::load` + `Keyring::load` + `Ecl::check` (parses the global keyring).
//! Prints the first call of this process (what a `stockade run` pays: nothing warm, e.g.
//! Sequoia's in-process signature cache is empty) and the median of RUNS further calls, in µs.
//! Fails unless every call is a cache hit.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use stockade_trust::pgp::GLOBAL_KEYRING;
use stockade_trust::{Ecl, Keyring};

fn time(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<(f64, f64), String> {
    let mut us = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    us.sort_by(f64::total_cmp);
    Ok((us[us.len() / 2], us[0]))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 || !["global", "parsed"].contains(&args[1].as_str()) {
        eprintln!("usage: ecl_check global|parsed SYSCONFDIR IMAGE [RUNS]");
        return ExitCode::from(2);
    }
    let global = args[1] == "global";
    let sysconf = PathBuf::from(&args[2]);
    let runs = args
        .get(4)
        .and_then(|r| r.parse().ok())
        .unwrap_or(100)
        .max(1);
    let image = match std::fs::canonicalize(&args[3]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ecl_check: {}: {e}", args[3]);
            return ExitCode::FAILURE;
        }
    };
    let open = |p: &Path| File::open(p).map_err(|e| format!("{}: {e}", p.display()));
    let check = || {
        let ecl = Ecl::load(&sysconf).map_err(|e| e.to_string())?;
        let file = open(&image)?;
        if global {
            match ecl.check_global(&file, &image) {
                Ok(stockade_trust::ecl::Allowed::Cached) => Ok(()),
                Ok(other) => Err(format!("not a cache hit: {other:?}")),
                Err(e) => Err(e.to_string()),
            }
        } else {
            let ring = Keyring::load(&sysconf.join(GLOBAL_KEYRING)).map_err(|e| e.to_string())?;
            ecl.check(&file, &image, &ring).map_err(|e| e.to_string())
        }
    };
    let result = time(1, check).and_then(|first| Ok((first, time(runs, check)?)));
    match result {
        Ok(((first, _), (med, _))) => {
            println!("{} first {first:.1} us, then median {med:.1} us", args[1]);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ecl_check: {e}");
            ExitCode::FAILURE
        }
    }
}
