// SPDX-License-Identifier: Apache-2.0
//! Administrator controls on runs: `stockade.conf` (malformed → one-line error naming the
//! file and line; limits on image owners and paths) and the ECL (checked on the opened
//! image before anything is mounted; a denial is one line naming the image, the execgroup
//! and the rule, exit 255). The system configuration directory is redirected with
//! `STOCKADE_SYSCONFDIR`, which only root may do.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::path::Path;
use std::process::{Command, Output};

use run_support::*;

fn run_with_conf(conf_dir: &Path, args: &[&str]) -> Output {
    Command::new(stockade())
        .args(args)
        .env("STOCKADE_SYSCONFDIR", conf_dir)
        .current_dir("/tmp")
        .output()
        .unwrap()
}

fn denied(o: &Output, needles: &[&str]) {
    let e = err(o);
    assert_eq!(o.status.code(), Some(255), "not denied: {e}");
    assert_eq!(e.lines().count(), 1, "not one line: {e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} missing from: {e}");
    }
}

#[test]
fn malformed_or_unsafe_conf_denies_everything() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let conf = dir.path().join("etc");
    std::fs::create_dir(&conf).unwrap();
    let file = conf.join("stockade.conf");
    let s = sif.to_str().unwrap();
    std::fs::write(
        &file,
        "allow_sandbox = true\n\nbind_paths = [\"/etc/hosts\"]\nno_such_key = 1\n",
    )
    .unwrap();
    denied(
        &run_with_conf(&conf, &["exec", s, "true"]),
        &[&format!("{}:4:", file.display()), "no_such_key"],
    );
    std::fs::write(&file, "bind_paths = [\n  \"etc/hosts\",\n]\n").unwrap();
    denied(
        &run_with_conf(&conf, &["exec", s, "true"]),
        &[&format!("{}:1:", file.display()), "not an absolute path"],
    );
    std::fs::write(&file, "mount_home = false\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    denied(
        &run_with_conf(&conf, &["exec", s, "true"]),
        &[file.to_str().unwrap(), "writable only by root"],
    );
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = ok(&run_with_conf(
        &conf,
        &[
            "exec",
            s,
            "sh",
            "-c",
            "grep -c ' /root ' /proc/self/mountinfo; true",
        ],
    ));
    assert_eq!(out, "0\n", "mount_home = false ignored");
    assert_nothing_left(&sif);
}

#[test]
fn image_owner_and_path_limits() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, root) = test_image(dir.path());
    let conf = dir.path().join("etc");
    std::fs::create_dir(&conf).unwrap();
    let file = conf.join("stockade.conf");
    let s = sif.to_str().unwrap();
    std::fs::write(&file, "limit_container_paths = [\"/opt/images\"]\n").unwrap();
    denied(
        &run_with_conf(&conf, &["exec", s, "true"]),
        &[s, "outside /opt/images"],
    );
    std::fs::write(&file, "limit_container_owners = [4242]\n").unwrap();
    denied(
        &run_with_conf(&conf, &["exec", s, "true"]),
        &[s, "owned by uid 0"],
    );
    std::fs::write(
        &file,
        format!(
            "limit_container_owners = [\"root\"]\nlimit_container_paths = [\"{}\"]\n",
            dir.path().display()
        ),
    )
    .unwrap();
    assert_eq!(
        ok(&run_with_conf(&conf, &["exec", s, "echo", "allowed"])),
        "allowed\n"
    );
    std::fs::write(&file, "allow_sandbox = false\n").unwrap();
    denied(
        &run_with_conf(&conf, &["exec", root.to_str().unwrap(), "true"]),
        &["sandbox directories are not allowed"],
    );
    assert_nothing_left(&sif);
}

const KEY_FP: &str = "12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84";

#[test]
fn ecl_denies_before_mounting_and_allows_signed_images() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let conf = dir.path().join("etc");
    std::fs::create_dir(&conf).unwrap();
    let ecl = format!(
        "activated = true\n[[execgroup]]\ntagname = \"trusted\"\nmode = \"whitelist\"\ndirpath = \"\"\nkeyfp = [\"{KEY_FP}\"]\n"
    );
    std::fs::write(conf.join("ecl.toml"), ecl).unwrap();
    let s = sif.to_str().unwrap();
    for action in ["exec", "run", "test", "shell"] {
        let args: Vec<&str> = if action == "exec" {
            vec![action, s, "true"]
        } else {
            vec![action, s]
        };
        let o = run_with_conf(&conf, &args);
        denied(&o, &[s, "trusted", "whitelist", "ecl.toml"]);
        assert!(loops_of(&sif).is_empty(), "mounted before the ECL decision");
    }
    // sign with the key the whitelist names, put its public half in the global keyring
    let key = stockade_testutil::sif("sylabs-sif/keys/private.asc");
    let signed = dir.path().join("signed.sif");
    std::fs::copy(&sif, &signed).unwrap();
    let st = Command::new(stockade())
        .args(["sign", "--keyring"])
        .arg(&key)
        .arg(&signed)
        .output()
        .unwrap();
    assert!(st.status.success(), "sign: {}", err(&st));
    let gnupg = dir.path().join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let export = Command::new("gpg")
        .args(["--batch", "--quiet", "--homedir"])
        .arg(dir.path().join("gnupg"))
        .args(["--import"])
        .arg(&key)
        .status();
    let public = dir.path().join("pub.asc");
    let ok_export = export.is_ok_and(|s| s.success())
        && Command::new("gpg")
            .args(["--batch", "--quiet", "--homedir"])
            .arg(dir.path().join("gnupg"))
            .args(["--armor", "--output"])
            .arg(&public)
            .args(["--export", KEY_FP])
            .status()
            .is_ok_and(|s| s.success());
    assert!(ok_export, "gpg export failed");
    std::fs::copy(&public, conf.join("global-pgp-public")).unwrap();
    let out = ok(&run_with_conf(
        &conf,
        &["exec", signed.to_str().unwrap(), "echo", "signed-ok"],
    ));
    assert_eq!(out, "signed-ok\n");
    assert_nothing_left(&sif);
    assert_nothing_left(&signed);
}

/// `stockade ARGS` as the test user, with `input` on stdin and `STOCKADE_SYSCONFDIR` set to
/// `sysconf` when given.
fn user_with(args: &[&str], sysconf: Option<&Path>, input: &str) -> Output {
    use std::io::Write;
    let (_, _, home) = test_user();
    let mut c = user_command(&home, args);
    if let Some(d) = sysconf {
        c.env("STOCKADE_SYSCONFDIR", d);
    }
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

#[test]
fn a_users_sysconfdir_is_ignored_on_every_action() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let conf = dir.path().join("etc");
    std::fs::create_dir(&conf).unwrap();
    // what a user would like the tool to read: a configuration that decides every run (a
    // path limit no image meets, a broken ECL) — if it were read, every run would be denied
    std::fs::write(
        conf.join("stockade.conf"),
        "limit_container_paths = [\"/nonexistent\"]\n",
    )
    .unwrap();
    std::fs::write(conf.join("ecl.toml"), "activated = true\n[[execgroup\n").unwrap();
    let s = sif.to_str().unwrap();
    let warning = format!("STOCKADE_SYSCONFDIR={} ignored", conf.display());
    let cases: [(&[&str], &str, &str); 4] = [
        (&["exec", s, "echo", "exec-ok"], "", "exec-ok\n"),
        (&["run", s, "x"], "", "runscript args: x\n"),
        (&["test", s], "", "test-ok\n"),
        (&["shell", s], "echo shell-ok\n", "shell-ok\n"),
    ];
    let system_has_none = !Path::new("/etc/stockade").exists();
    for (args, input, want) in cases {
        // root may redirect the configuration: it applies and denies
        let o = run_with_conf(&conf, args);
        assert_eq!(o.status.code(), Some(255), "root {args:?}: {}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "root {args:?}: {}", err(&o));
        // a plain user may not: one warning, and the decision of the system configuration
        let plain = user_with(args, None, input);
        let redirected = user_with(args, Some(&conf), input);
        assert_eq!(
            redirected.status.code(),
            plain.status.code(),
            "{args:?}: {}",
            err(&redirected)
        );
        assert_eq!(redirected.stdout, plain.stdout, "{args:?}");
        let e = err(&redirected);
        assert!(e.contains(&warning), "{args:?}: no warning: {e}");
        assert_eq!(
            e.lines()
                .filter(|l| l.contains("STOCKADE_SYSCONFDIR"))
                .count(),
            1,
            "{e}"
        );
        assert!(!err(&plain).contains("STOCKADE_SYSCONFDIR"));
        if system_has_none {
            assert_eq!(ok(&redirected), want, "{args:?}");
        }
    }
    assert_nothing_left(&sif);
}
