// SPDX-License-Identifier: Apache-2.0
//! `STOCKADE_SYSCONFDIR`, the global keyring and the ECL through the binary: root may point
//! the tool at another configuration, a plain user may not.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use stockade_testutil::{require_root, sif, target_bin};

const USER: &str = "stockade-trust-t";
const KEY1: &str = "0C5B8C9A5FFC44E2A0AC79851CD6FA281D476DD1";

fn run_as(user: Option<&str>, bin: &Path, sysconf: &Path, home: &Path, args: &[&str]) -> Output {
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("setpriv");
            let uid = id(u, "-u");
            c.args([
                "--reuid",
                &uid,
                "--regid",
                &id(u, "-g"),
                "--clear-groups",
                "--",
            ])
            .arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.env("STOCKADE_SYSCONFDIR", sysconf)
        .env("HOME", home)
        .args(args)
        .output()
        .unwrap()
}

fn id(user: &str, flag: &str) -> String {
    let out = Command::new("id").args([flag, user]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Removes the test user even when the test fails.
struct UserGuard;

impl Drop for UserGuard {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(USER).status();
    }
}

#[test]
fn sysconfdir_is_honoured_for_root_and_ignored_for_users() {
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let conf = dir.join("conf");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
    // A copy of the binary every user can execute.
    let bin = dir.join("stockade");
    std::fs::copy(target_bin("stockade"), &bin).unwrap();
    let root = |args: &[&str]| run_as(None, &bin, &conf, &home, args);
    let ok = |o: Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    // Root imports into the global keyring of its chosen sysconfdir.
    ok(root(&[
        "key",
        "import",
        "--global",
        sif("ecl/pgpkeys/pubkey1.asc").to_str().unwrap(),
    ]));
    assert!(conf.join("global-pgp-public").is_file());
    assert!(ok(root(&["key", "list", "--global"])).contains(KEY1));
    // An image signed by key1 in a whitelisted directory.
    let img = images.join("a.sif");
    std::fs::copy(sif("sylabs-sif/images/one-group.sif"), &img).unwrap();
    let pw = dir.join("pw");
    std::fs::write(&pw, "e2e").unwrap();
    ok(root(&[
        "sign",
        "--keyring",
        sif("ecl/pgpkeys/key1.asc").to_str().unwrap(),
        "--passphrase-file",
        pw.to_str().unwrap(),
        img.to_str().unwrap(),
    ]));
    std::fs::set_permissions(&img, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ecl = format!(
        "activated = true\n[[execgroup]]\ntagname = \"ci\"\nmode = \"whitelist\"\ndirpath = \"{}\"\nkeyfp = [\"{KEY1}\"]\n",
        images.display()
    );
    std::fs::write(conf.join("ecl.toml"), &ecl).unwrap();
    let out = ok(root(&["verify", "--ecl", img.to_str().unwrap()]));
    assert!(out.contains("allows"), "{out}");
    // Blacklisted: denied, naming the execgroup and the rule.
    std::fs::write(conf.join("ecl.toml"), ecl.replace("whitelist", "blacklist")).unwrap();
    let out = root(&["verify", "--ecl", img.to_str().unwrap()]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(
        err.contains("execgroup \"ci\" (blacklist") && err.contains(&format!("blacklisted {KEY1}")),
        "{err}"
    );
    // A broken ecl.toml denies everything.
    std::fs::write(conf.join("ecl.toml"), "activated = true\n[[execgroup\n").unwrap();
    let err = String::from_utf8(root(&["verify", "--ecl", img.to_str().unwrap()]).stderr).unwrap();
    assert!(
        err.starts_with(&format!(
            "stockade: invalid {}",
            conf.join("ecl.toml").display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // A plain user pointing STOCKADE_SYSCONFDIR at their own (permissive) config is ignored.
    let _ = Command::new("userdel").arg(USER).status();
    assert!(
        Command::new("useradd")
            .args(["--no-create-home", USER])
            .status()
            .unwrap()
            .success()
    );
    let _guard = UserGuard;
    std::fs::write(conf.join("ecl.toml"), "activated = false\n").unwrap();
    let user = |args: &[&str]| run_as(Some(USER), &bin, &conf, &home, args);
    let out = user(&["key", "list", "--global"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("STOCKADE_SYSCONFDIR={} ignored: only root may change the system configuration directory", conf.display())), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("(/etc/stockade/global-pgp-public)") && !stdout.contains(KEY1),
        "{stdout}"
    );
    // The user cannot change the global keyring either.
    let out = user(&[
        "key",
        "import",
        "--global",
        sif("ecl/pgpkeys/pubkey2.asc").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only root may change the global keyring")
    );
}
