// SPDX-License-Identifier: Apache-2.0
//! ESC-01: runtime binaries cannot be overwritten from inside (CVE-2019-5736).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Result, ensure};
use stockade_e2e::{Bundle, host_sh};
use stockade_testutil::require_root;

use crate::{all_caps, check, iters, rt, start, stop_and_collect, userns};

fn sha256(p: &Path) -> String {
    host_sh(&format!("sha256sum '{}'", p.display()))
        .1
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// The watcher holds O_PATH handles on every non-payload executable and retries write-mode
/// reopens while the host runs `exec <id> /bin/sh` (a script whose interpreter is
/// `/proc/self/exe`, so a careless runtime re-executes *itself* inside the container).
fn exe_overwrite(with_userns: bool) -> Result<()> {
    let rt = rt();
    let mut b = Bundle::new(if with_userns { "esc01-userns" } else { "esc01" })?;
    let sh = b.rootfs().join("bin/sh");
    fs::remove_file(&sh)?;
    fs::write(&sh, "#!/proc/self/exe\n")?;
    fs::set_permissions(&sh, fs::Permissions::from_mode(0o755))?;
    if with_userns {
        userns(&mut b);
    } else {
        all_caps(&mut b);
    }
    b.args(&["/probe", "exe-watch", "600000", "/tmp/stop"]);
    let bin = fs::canonicalize(rt.bin())?;
    let (hash, md) = (sha256(&bin), fs::metadata(&bin)?);
    let _g = rt.guard(b.id());
    let (_, c) = start(&rt, &b)?;
    let n = iters("E2E_EXEC_ITERS", 200);
    for _ in 0..n {
        let _ = rt.cmd(&["exec", b.id(), "/bin/sh"])?;
    }
    let v = stop_and_collect(&rt, &b, &c)?;
    eprintln!(
        "ESC-01 ({}): {n} execs, {} processes held, targets {}, errors {}",
        if with_userns {
            "userns"
        } else {
            "no userns, all caps"
        },
        v["processes_held"],
        v["targets"],
        v["errors"]
    );
    ensure!(
        v["host_write_opens"].as_array().is_some_and(Vec::is_empty),
        "host executables opened for writing: {}",
        v["host_write_opens"]
    );
    ensure!(sha256(&bin) == hash, "{} changed", bin.display());
    let same_file = v["held"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["dev"] == md.dev() && h["ino"] == md.ino());
    ensure!(
        same_file.is_none(),
        "a container process ran the host runtime binary's own inode (not a private copy; write-opens were refused with {}): {}",
        v["errors"],
        same_file.map(ToString::to_string).unwrap_or_default()
    );
    Ok(())
}

#[test]
fn esc01_runtime_binary_not_writable_from_container() {
    require_root!();
    check(|| exe_overwrite(false));
}

#[test]
fn esc01_runtime_binary_not_writable_from_userns_container() {
    require_root!();
    check(|| exe_overwrite(true));
}
