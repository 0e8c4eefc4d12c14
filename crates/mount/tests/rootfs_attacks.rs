// SPDX-License-Identifier: Apache-2.0
//! Privileged: the rootfs attacks of security-cases.md (ESC-05, 06, 07, 08, 09, 10, 12),
//! each set up for real and checked on the host (canaries, core_pattern) and from inside.
#![allow(clippy::tests_outside_test_module)]

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::{Bundle, listing};
use serde_json::json;
use stockade_testutil::require_root;

/// Removes `/dev` and everything mounted below it from the config: the image's own `dev`
/// directory is then what the runtime works in.
fn without_dev_mounts(b: &mut Bundle) {
    for d in ["/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"] {
        b.remove_mount(d);
    }
}

fn core_pattern() -> String {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern").expect("core_pattern")
}

#[test]
fn symlinked_destinations_stay_in_the_rootfs() {
    require_root!();
    // ESC-06 / CVE-2021-30465: destinations through symlinks pointing out of the rootfs.
    let canary = tempfile::tempdir().expect("canary");
    let c = canary.path();
    let mut b = Bundle::new(
        "echo ABS=$(stat -f -c %T /abs/sub); \
         echo REL=$(cat /rel/file)",
    );
    b.remove_mount("/tmp"); // the canary lives under /tmp
    let inside = b.rootfs().join(c.strip_prefix("/").expect("abs"));
    std::fs::create_dir_all(&inside).expect("inside copy of the canary path");
    symlink(c, b.rootfs().join("abs")).expect("abs link");
    symlink(
        format!("../../../../../../../..{}", c.display()),
        b.rootfs().join("rel"),
    )
    .expect("rel link");
    std::fs::write(b.path().join("payload"), "payload").expect("payload");
    b.add_mount(json!({"destination": "/abs/sub", "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(json!({"destination": "/rel/file", "type": "bind", "source": "payload", "options": ["bind"]}));
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("ABS"), "tmpfs");
    assert_eq!(r.val("REL"), "payload");
    assert!(
        listing(c).is_empty(),
        "host canary touched: {:?}",
        listing(c)
    );
    assert!(
        inside.join("sub").is_dir() && inside.join("file").is_file(),
        "made inside the rootfs"
    );

    // Without the in-rootfs copy the symlink dangles inside the root: a clean error.
    std::fs::remove_dir_all(&inside).expect("rm inside copy");
    b.run(&[]).expect_err("cannot resolve /abs");
    assert!(
        listing(c).is_empty(),
        "host canary touched: {:?}",
        listing(c)
    );
}

#[test]
fn proc_and_sys_must_be_real_directories() {
    require_root!();
    // ESC-05 / CVE-2019-16884, CVE-2023-27561.
    for (name, target) in [("proc", "/tmp"), ("proc", "realproc"), ("sys", "/etc")] {
        let mut b = Bundle::new("true");
        std::fs::create_dir(b.rootfs().join("realproc")).expect("realproc");
        std::fs::remove_dir(b.rootfs().join(name)).expect("rm");
        symlink(target, b.rootfs().join(name)).expect("symlink");
        let fstype = if name == "proc" { "proc" } else { "sysfs" };
        let r = b.run(&[]);
        r.expect_err(&format!(
            "filesystem {fstype} must be mounted on an ordinary directory: /{name}"
        ));
        b.config["mounts"] = json!([]);
        b.config["linux"] = json!({});
    }
}

#[test]
fn nothing_may_be_mounted_inside_proc() {
    require_root!();
    let cases = [
        (
            json!({"destination": "/proc/sys/kernel", "type": "tmpfs", "source": "tmpfs"}),
            "inside /proc",
        ),
        (
            json!({"destination": "/proc/self/attr", "type": "bind", "source": "/tmp", "options": ["rbind"]}),
            "inside /proc",
        ),
        (
            json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}),
            "not of type proc",
        ),
        (
            json!({"destination": "/proc", "type": "bind", "source": "/tmp", "options": ["rbind"]}),
            "not of type proc",
        ),
    ];
    for (m, err) in cases {
        let mut b = Bundle::new("true");
        b.add_mount(m);
        b.run(&[]).expect_err(err);
    }
    // A destination reaching the mounted /proc through a symlink is caught on the target.
    let mut b = Bundle::new("true");
    symlink("/proc/sys", b.rootfs().join("foo")).expect("symlink");
    b.add_mount(json!({"destination": "/foo/kernel", "type": "tmpfs", "source": "tmpfs"}));
    b.run(&[])
        .expect_err("/foo/kernel cannot be mounted because it is inside /proc");
    // lxcfs-style files are allowed.
    let mut b = Bundle::new("echo CPU=$(cat /proc/cpuinfo)");
    std::fs::write(b.path().join("cpuinfo"), "emulated").expect("cpuinfo");
    b.add_mount(json!({"destination": "/proc/cpuinfo", "type": "bind", "source": "cpuinfo", "options": ["bind"]}));
    assert_eq!(b.run(&[]).expect_ok().val("CPU"), "emulated");
}

#[test]
fn dev_symlink_to_a_host_dir_is_never_followed() {
    require_root!();
    // ESC-10 / CVE-2026-41579: rootfs `dev` -> host dir O holding a marker `ptmx`.
    let host = tempfile::tempdir().expect("O");
    let o = host.path();
    std::fs::write(o.join("ptmx"), "marker").expect("marker");
    let rel = format!("../../../../../../../..{}", o.display());
    for (link, readonly, dev_tmpfs) in [
        (o.display().to_string(), false, false),
        (rel.clone(), true, false),
        (rel, false, true),
    ] {
        let mut b = Bundle::new("echo NULL=$(stat -c %t:%T /dev/null)");
        if !dev_tmpfs {
            without_dev_mounts(&mut b);
        }
        b.remove_mount("/tmp"); // O lives under /tmp
        b.config["root"]["readonly"] = json!(readonly);
        std::fs::remove_dir(b.rootfs().join("dev")).expect("rm dev");
        symlink(&link, b.rootfs().join("dev")).expect("dev link");
        let r = b.run(&[]);
        assert!(
            !r.ok,
            "dangling in-root /dev must fail cleanly: {}",
            r.stdout
        );
        assert_eq!(listing(o), vec!["ptmx"], "host dir touched (link {link})");
        assert_eq!(
            std::fs::read_to_string(o.join("ptmx")).expect("marker"),
            "marker"
        );
        // Same link, but the path exists inside the rootfs: /dev is built there.
        let inside = b.rootfs().join(o.strip_prefix("/").expect("abs"));
        std::fs::create_dir_all(&inside).expect("inside");
        let r = b.run(&[]).expect_ok();
        assert_eq!(r.val("NULL"), "1:3");
        assert_eq!(listing(o), vec!["ptmx"], "host dir touched (link {link})");
        if !dev_tmpfs {
            assert!(inside.join("null").exists() && inside.join("ptmx").is_symlink());
        }
    }
}

#[test]
fn dev_null_symlink_cannot_redirect_masks() {
    require_root!();
    // ESC-07 / CVE-2025-31133: /dev bound from D where D/null -> core_pattern (and modprobe).
    let before = core_pattern();
    for target in ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe"] {
        let mut b = Bundle::new(
            "echo KEYS=$(wc -c < /proc/keys); \
             sh -c 'echo x > /proc/keys' 2>/dev/null && echo KW=written || echo KW=refused; \
             echo NULLMOUNTS=$(awk '$5==\"/dev/null\"' /proc/self/mountinfo | wc -l)",
        );
        without_dev_mounts(&mut b);
        let d = b.path().join("devdir");
        std::fs::create_dir(&d).expect("D");
        symlink(target, d.join("null")).expect("null link");
        b.add_mount(json!({"destination": "/dev", "type": "bind", "source": "devdir", "options": ["rbind"]}));
        let r = b.run(&[]).expect_ok();
        assert_eq!(r.val("KEYS"), "0");
        assert_eq!(r.val("KW"), "refused");
        assert_eq!(r.val("NULLMOUNTS"), "0", "nothing bound through /dev/null");
        assert_eq!(core_pattern(), before);
        assert!(
            d.join("null").is_symlink(),
            "a bind-mounted /dev is left alone"
        );
    }
    // The image's own dev/null symlink (no /dev mount) is replaced by a real node.
    let mut b = Bundle::new("echo NULL=$(stat -c '%F %t:%T' /dev/null)");
    without_dev_mounts(&mut b);
    symlink("/proc/sys/kernel/core_pattern", b.rootfs().join("dev/null")).expect("link");
    assert_eq!(
        b.run(&[]).expect_ok().val("NULL"),
        "character special file 1:3"
    );
    assert_eq!(core_pattern(), before);
}

#[test]
fn console_symlink_is_replaced_not_followed() {
    require_root!();
    // ESC-08 / CVE-2025-52565.
    let before = core_pattern();
    let mut b = Bundle::new(
        "echo CONS=$(stat -c '%F %t' /dev/console); \
         echo PROCBINDS=$(awk '$9==\"proc\" && $5!=\"/proc\" && $5 !~ /^\\/proc\\//' /proc/self/mountinfo | wc -l)",
    );
    without_dev_mounts(&mut b);
    symlink(
        "/proc/sys/kernel/core_pattern",
        b.rootfs().join("dev/console"),
    )
    .expect("link");
    let r = b.run(&["--console"]).expect_ok();
    assert_eq!(r.val("CONS"), "character special file 88");
    assert_eq!(
        r.val("PROCBINDS"),
        "0",
        "no procfs file bound outside /proc"
    );
    assert_eq!(core_pattern(), before);
}

#[test]
fn sysctl_overmounts_are_detected() {
    require_root!();
    // ESC-09 / CVE-2025-52881: the file is covered between pivot and the write.
    for (fault, shown) in [("tmpfs", "SUBSTITUTE"), ("bind", "")] {
        let mut b = Bundle::new("true");
        b.config["linux"]["sysctl"] = json!({"kernel.domainname": "victim.example"});
        let r = b.run(&["--fault", fault]).expect_ok();
        assert!(
            r.val("WRITE")
                .contains("cannot write sysctl kernel.domainname: Invalid cross-device link"),
            "{}",
            r.stdout
        );
        assert_ne!(r.val("HOSTNAME"), "victim.example");
        if !shown.is_empty() {
            assert_eq!(r.val("DOMAINNAME"), shown, "the substitute is untouched");
        }
    }
}

#[test]
fn nested_procfs_mount_is_denied() {
    require_root!();
    // ESC-12: with masks in place (and the old root gone) no full /proc is visible.
    let script = "unshare -mrpf sh -c 'mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>/dev/null \
                  && echo NESTED=mounted || echo NESTED=denied'; \
                  echo OLDROOT=$(grep -c stockade-mount-test /proc/self/mountinfo)";
    let b = Bundle::new(script);
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("NESTED"), "denied");
    assert_eq!(r.val("OLDROOT"), "1", "only the rootfs bind itself");
    let r = b.run(&["--no-pivot"]).expect_ok();
    assert_eq!(r.val("NESTED"), "denied", "no-pivot: host /proc detached");
    // Negative control: without masks and read-only paths the kernel allows it.
    let mut b = Bundle::new(script);
    b.config["linux"] = json!({});
    assert_eq!(b.run(&[]).expect_ok().val("NESTED"), "mounted");
}

#[test]
fn failed_start_leaves_nothing_on_the_host() {
    require_root!();
    let mut b = Bundle::new("true");
    b.add_mount(json!({"destination": "/data", "type": "bind", "source": "/nonexistent-stockade", "options": ["bind"]}));
    b.run(&[])
        .expect_err("cannot open mount source /nonexistent-stockade");
    // run() already asserted the host table is clean; the rootfs gained only the dirs
    // created before the failure, inside the bundle.
    assert!(Path::new(&b.rootfs()).join("proc").is_dir());
}

#[test]
fn shared_volume_rename_race_never_redirects_a_mount() {
    require_root!();
    // ESC-06 race: an attacker sharing volume V keeps exchanging V/x between a directory and
    // a symlink to /proc while the victim starts with a tmpfs at /vol/x/sys.
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut b = Bundle::new("echo PROCSYS=$(stat -f -c %T /proc/sys)");
    let v = b.path().join("vol");
    std::fs::create_dir_all(v.join("x/sys")).expect("x");
    symlink("/proc", v.join("y")).expect("y");
    b.add_mount(
        json!({"destination": "/vol", "type": "bind", "source": "vol", "options": ["rbind"]}),
    );
    b.add_mount(json!({"destination": "/vol/x/sys", "type": "tmpfs", "source": "tmpfs"}));
    let stop = AtomicBool::new(false);
    let (mut started, mut refused) = (0, 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let dir = rustix::fs::open(&v, rustix::fs::OFlags::PATH, rustix::fs::Mode::empty())
                .expect("V");
            while !stop.load(Ordering::Relaxed) {
                let f = rustix::fs::RenameFlags::EXCHANGE;
                rustix::fs::renameat_with(&dir, "x", &dir, "y", f).expect("exchange");
            }
        });
        for _ in 0..60 {
            let r = b.run(&[]);
            if r.ok {
                assert_eq!(r.val("PROCSYS"), "proc", "a mount landed on /proc/sys");
                started += 1;
            } else {
                assert!(
                    r.stderr.contains("inside /proc") || r.stderr.contains("cannot resolve"),
                    "unexpected failure: {}",
                    r.stderr
                );
                refused += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    eprintln!("race: {started} clean starts, {refused} clean refusals");
    assert!(
        started > 0,
        "the race never let a start through: the test proves nothing"
    );
    let mut names = common::listing(&v);
    names.sort();
    assert_eq!(
        names,
        vec!["x", "y"],
        "nothing created in the shared volume"
    );
}
