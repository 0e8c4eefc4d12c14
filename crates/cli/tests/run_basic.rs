// SPDX-License-Identifier: Apache-2.0
//! `stockade exec|run|test` as root (kernel squashfs through a loop device) and as a plain
//! user (user namespace + our FUSE server): identity, home, working directory, hardening
//! (nosuid everywhere, NoNewPrivs, no capabilities, setuid binaries inert), the real
//! busybox SIF, and nothing left behind.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

mod run_support;

use std::path::Path;

use run_support::*;

/// Every mount of the container is nosuid (mountinfo's per-mount options, field 6).
fn assert_all_nosuid(mountinfo: &str) {
    let mounts: Vec<&str> = mountinfo.lines().filter(|l| l.contains(" - ")).collect();
    assert!(mounts.len() > 5, "{mountinfo}");
    for l in mounts {
        let opts = l.split(' ').nth(5).unwrap();
        assert!(
            opts.split(',').any(|o| o == "nosuid"),
            "mount without nosuid: {l}"
        );
    }
}

const PROBE: &str = "echo uid=$(id -u) gid=$(id -g); echo euid: $(/bin/euid); echo euid4242: $(/bin/euid4242); \
    grep -E '^(NoNewPrivs|CapEff|CapPrm|CapBnd):' /proc/self/status; echo pwd=$(pwd); echo home=$HOME; \
    echo user=$(id -un); echo ---; cat /proc/self/mountinfo";

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .trim()
}

#[test]
fn root_exec_identity_and_hardening() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let out = ok(&run_root(
        dir.path(),
        &["exec", sif.to_str().unwrap(), "sh", "-c", PROBE],
    ));
    assert_eq!(field(&out, "uid="), "0 gid=0");
    assert_eq!(field(&out, "euid:"), "0 0");
    assert_eq!(
        field(&out, "euid4242:"),
        "0 0",
        "a setuid binary changed the euid: nosuid missing"
    );
    assert_eq!(field(&out, "NoNewPrivs:"), "1");
    assert_eq!(
        field(&out, "pwd="),
        dir.path().to_str().unwrap(),
        "cwd not kept"
    );
    assert_eq!(field(&out, "home="), "/root");
    let mountinfo = out.split("---\n").nth(1).unwrap();
    assert_all_nosuid(mountinfo);
    let root = root_mount(mountinfo);
    assert!(
        root.contains(" squashfs /dev/loop") || root.contains(" overlay "),
        "{root}"
    );
    assert!(
        mountinfo
            .lines()
            .any(|l| l.split(' ').nth(4) == Some("/root")),
        "home not bound"
    );
    assert_nothing_left(&sif);
}

#[test]
fn user_exec_identity_and_hardening() {
    stockade_testutil::require_root!();
    let (uid, gid, home) = test_user();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    std::fs::write(home.join("marker"), "from-host-home").unwrap();
    let script = format!(
        "{PROBE}; echo; echo marker=$(cat {}/marker)",
        home.display()
    );
    let out = ok(&run_user(
        &home,
        &["exec", sif.to_str().unwrap(), "sh", "-c", &script],
    ));
    assert_eq!(field(&out, "uid="), format!("{uid} gid={gid}"));
    assert_eq!(
        field(&out, "euid:"),
        format!("{uid} {uid}"),
        "setuid-root binary raised privilege"
    );
    assert_eq!(field(&out, "euid4242:"), format!("{uid} {uid}"));
    assert_eq!(field(&out, "NoNewPrivs:"), "1");
    for cap in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(field(&out, cap), "0000000000000000", "{cap}");
    }
    assert_eq!(field(&out, "pwd="), home.to_str().unwrap(), "cwd not kept");
    assert_eq!(field(&out, "home="), home.to_str().unwrap());
    assert_eq!(field(&out, "user="), USER, "passwd entry not injected");
    assert_eq!(field(&out, "marker="), "from-host-home");
    let mountinfo = out.split("---\n").nth(1).unwrap();
    assert_all_nosuid(mountinfo);
    let root = root_mount(mountinfo);
    assert!(
        root.contains(" overlay ") || root.contains(" fuse.squashfs "),
        "{root}"
    );
    assert_nothing_left(&sif);
}

#[test]
fn actions_and_environment() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let (sif, _) = test_image(dir.path());
    let s = sif.to_str().unwrap();
    let out = ok(&run_root(dir.path(), &["run", s, "a", "b c"]));
    assert_eq!(out, "runscript args: a b c\n");
    assert_eq!(ok(&run_root(dir.path(), &["test", s])), "test-ok\n");
    let script =
        "echo $FROM_IMAGE $OVERRIDE_ME $FLAG $HOSTVAR $SINGULARITY_NAME $APPTAINER_CONTAINER $PATH";
    let o = std::process::Command::new(stockade())
        .args(["exec", "--env", "FLAG=f=1", s, "sh", "-c", script])
        .env("SINGULARITYENV_OVERRIDE_ME", "host")
        .env("HOSTVAR", "hv")
        .env("PATH", "/evil")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let want = format!(
        "image host f=1 hv test.sif {s} /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    assert_eq!(ok(&o), want);
    let o = std::process::Command::new(stockade())
        .args(["exec", "--cleanenv", s, "sh", "-c", "echo [$HOSTVAR] $LANG"])
        .env("HOSTVAR", "hv")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(ok(&o), "[] C\n");
    let o = run_root(dir.path(), &["exec", s, "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7), "exit status passes through");
    assert_nothing_left(&sif);
}

#[test]
fn real_busybox_image_runs_as_root_and_user() {
    stockade_testutil::require_root!();
    let img = stockade_testutil::sif("real-images/busybox_amd64.sif");
    let s = img.to_str().unwrap();
    let tmp = Path::new("/tmp");
    assert_eq!(ok(&run_root(tmp, &["exec", s, "echo", "ok"])), "ok\n");
    assert_eq!(
        ok(&run_root(tmp, &["run", s, "echo", "from", "runscript"])),
        "from runscript\n"
    );
    let (_, _, home) = test_user();
    assert_eq!(ok(&run_user(&home, &["exec", s, "echo", "ok"])), "ok\n");
    assert_eq!(ok(&run_user(&home, &["run", s, "echo", "hi"])), "hi\n");
    assert!(loops_of(&img).is_empty());
}

#[test]
fn sandbox_directory_runs() {
    stockade_testutil::require_root!();
    let dir = shared_tempdir();
    let root = dir.path().join("rootfs");
    test_rootfs(&root);
    let r = root.to_str().unwrap();
    assert_eq!(
        ok(&run_root(
            dir.path(),
            &["exec", r, "cat", "/.singularity.d/runscript"]
        ))
        .lines()
        .count(),
        2
    );
    let (_, _, home) = test_user();
    let out = ok(&run_user(
        &home,
        &[
            "exec",
            r,
            "sh",
            "-c",
            "/bin/euid; touch /x 2>/dev/null || echo ro",
        ],
    ));
    assert!(out.ends_with("ro\n"), "{out}");
    assert!(!root.join("x").exists());
}

/// The mountinfo line of the container's `/`.
fn root_mount(mountinfo: &str) -> &str {
    mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("no mount on / in mountinfo")
}
