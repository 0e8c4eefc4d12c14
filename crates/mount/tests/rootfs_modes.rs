// SPDX-License-Identifier: Apache-2.0
//! Privileged: the other ways of assembling a rootfs — in a user namespace (devices bound
//! from the host, sysfs fallback, locked mount flags kept), and `--no-pivot`.
#![allow(clippy::tests_outside_test_module)]

mod common;

use common::Bundle;
use serde_json::json;
use stockade_testutil::require_root;

const USERNS: &[&str] = &[
    "--user",
    "--map-root-user",
    "--uts",
    "--ipc",
    "--net",
    "--cgroup",
];

#[test]
fn rootless_binds_devices_and_still_masks() {
    require_root!();
    let b = Bundle::new(
        "echo NULL=$(stat -c '%F %t:%T' /dev/null); \
         echo NULLFS=$(awk '$5==\"/dev/null\" {print $9}' /proc/self/mountinfo); \
         echo KEYS=$(wc -c < /proc/keys); \
         sh -c 'echo 1 > /proc/sys/kernel/ns_last_pid' 2>/dev/null && echo SYSW=yes || echo SYSW=no; \
         echo CONS=$(stat -c %t /dev/console)",
    );
    let r = b.run_in(USERNS, &["--rootless", "--console"]).expect_ok();
    assert_eq!(r.val("NULL"), "character special file 1:3");
    assert_eq!(
        r.val("NULLFS"),
        "devtmpfs",
        "bound from the host, not mknod"
    );
    assert_eq!(r.val("KEYS"), "0");
    assert_eq!(r.val("SYSW"), "no");
    assert_eq!(r.val("CONS"), "88");
}

#[test]
fn rootless_without_netns_binds_sys_read_only() {
    require_root!();
    let b = Bundle::new(
        "echo SYS=$(awk '$5==\"/sys\" {print $6}' /proc/self/mountinfo | cut -d, -f1); \
         touch /sys/kernel/x 2>/dev/null && echo SW=yes || echo SW=no; \
         echo FW=$(ls -A /sys/firmware | wc -l)",
    );
    let r = b
        .run_in(&["--user", "--map-root-user", "--ipc"], &["--rootless"])
        .expect_ok();
    assert_eq!(r.val("SYS"), "ro");
    assert_eq!(r.val("SW"), "no");
    assert_eq!(r.val("FW"), "0");
}

#[test]
fn rootless_keeps_locked_flags_and_refuses_to_clear_them() {
    require_root!();
    // A nosuid,nodev,ro tmpfs made outside the user namespace: its flags are locked inside.
    let mut b = Bundle::new(
        "echo OPTS=$(awk '$5==\"/data\" {print $6}' /proc/self/mountinfo); echo DATA=$(cat /data/f)",
    );
    let locked = b.path().join("locked");
    std::fs::create_dir(&locked).expect("locked dir");
    let outer = format!(
        "mount -t tmpfs -o nosuid,nodev tmpfs {0} && echo content > {0}/f && mount -o remount,ro,nosuid,nodev {0}",
        locked.display()
    );
    b.add_mount(
        json!({"destination": "/data", "type": "bind", "source": "locked",
                       "options": ["bind", "noexec"]}),
    );
    let r = b
        .run_prepared(Some(&outer), USERNS, &["--rootless"])
        .expect_ok();
    let opts = r.val("OPTS");
    for f in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|o| o == f), "{f} missing from {opts}");
    }
    assert_eq!(r.val("DATA"), "content");
    // Explicitly asking to clear a locked flag is an error.
    b.remove_mount("/data");
    b.add_mount(
        json!({"destination": "/data", "type": "bind", "source": "locked",
                       "options": ["bind", "rw"]}),
    );
    b.run_prepared(Some(&outer), USERNS, &["--rootless"])
        .expect_err("cannot set mount flags of /data");
    // As real root the same request is honoured.
    let r = b
        .run_prepared(Some(&outer), &["--uts", "--ipc", "--net"], &[])
        .expect_ok();
    assert!(r.val("OPTS").starts_with("rw"), "{}", r.stdout);
}

#[test]
fn no_pivot_moves_the_rootfs_and_chroots() {
    require_root!();
    let mut b = Bundle::new(
        "echo ROOT=$(awk '$5==\"/\"' /proc/self/mountinfo | wc -l); \
         echo KEYS=$(wc -c < /proc/keys); echo NULL=$(stat -c %t:%T /dev/null); \
         touch /x 2>/dev/null && echo RW=yes || echo RW=no",
    );
    b.config["root"]["readonly"] = json!(true);
    let r = b.run(&["--no-pivot"]).expect_ok();
    assert_eq!(r.val("ROOT"), "1");
    assert_eq!(r.val("KEYS"), "0");
    assert_eq!(r.val("NULL"), "1:3");
    assert_eq!(r.val("RW"), "no");
}
