// SPDX-License-Identifier: Apache-2.0
//! Arbitrary bytes as a definition file (`stockade build OUT x.def`): `{{ NAME }}`
//! substitution, header, sections, `%files`, `%labels`, `%arguments`, then the pure steps a
//! build takes from the result (privilege check, the `/.singularity.d` layout). The first
//! byte picks whether `--build-arg` values are given (one of them long, so substitution
//! growth is exercised). Must never panic, hang or allocate without bound; inputs are cut at
//! `MAX_DEFFILE` as `DefFile::load` does.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stockade_build::deffile::{DefFile, MAX_DEFFILE, MAX_EXPANDED};
use stockade_build::layout::{self, Layout};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else { return };
    if text.len() as u64 > MAX_DEFFILE {
        return;
    }
    let mut args = BTreeMap::new();
    if mode & 1 == 1 {
        args.insert("A".to_string(), "a".to_string());
        args.insert("LONG".to_string(), "x".repeat(4096));
    }
    let Ok(d) = DefFile::parse(Path::new("fuzz.def"), text.to_vec(), &args) else { return };
    assert!(!d.header.bootstrap.is_empty());
    let lines = text.iter().filter(|b| **b == b'\n').count() + 1;
    for s in [&d.setup, &d.post, &d.environment, &d.runscript, &d.startscript, &d.test, &d.help]
        .into_iter()
        .flatten()
    {
        assert!(s.line >= 1 && s.line <= lines);
        assert!(s.body.len() <= MAX_EXPANDED);
    }
    assert!(d.files.iter().all(|f| f.line >= 1 && f.line <= lines));
    let _ = stockade_build::post::check_allowed(&d, false, mode & 2 == 2);
    let _ = stockade_build::post::needs_runtime(&d, mode & 4 == 4);
    let mut l = Layout::default();
    layout::apply_def(&d, &mut l);
});
