// SPDX-License-Identifier: Apache-2.0
//! Privileged: a runc-like container rootfs assembled for real (as root, in fresh
//! namespaces) and inspected from inside with busybox: mounts, devices, masks, read-only
//! paths and root, sysctls, console, cgroup views, bind options, tmpcopyup.
#![allow(clippy::tests_outside_test_module)]

mod common;

use common::Bundle;
use serde_json::json;
use stockade_testutil::require_root;

#[test]
fn default_container_sees_its_mounts_and_devices() {
    require_root!();
    let b = Bundle::new(
        "echo MI=$(grep -c . /proc/self/mountinfo); \
         echo ROOTLINE=$(awk '$5==\"/\"' /proc/self/mountinfo | wc -l); \
         echo NULL=$(stat -c '%F %t:%T %a' /dev/null); \
         echo TTY=$(stat -c '%t:%T' /dev/tty); \
         echo PTMX=$(readlink /dev/ptmx); echo FD=$(readlink /dev/fd); \
         echo PTS=$(grep ' /dev/pts ' /proc/self/mountinfo | grep -c 'ptmxmode=666'); \
         echo SYSRO=$(awk '$5==\"/sys\" {print $6}' /proc/self/mountinfo | cut -d, -f1); \
         echo HOSTVIEW=$(grep -c stockade-mount-test /proc/self/mountinfo)",
    );
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("NULL"), "character special file 1:3 666");
    assert_eq!(r.val("TTY"), "5:0");
    assert_eq!(r.val("PTMX"), "pts/ptmx");
    assert_eq!(r.val("FD"), "/proc/self/fd");
    assert_eq!(r.val("PTS"), "1");
    assert_eq!(r.val("SYSRO"), "ro");
    assert_eq!(r.val("ROOTLINE"), "1");
    // Only the container's own mounts: the root bind shows the bundle path as its fs root,
    // nothing else of the host is there (the old root was detached).
    assert_eq!(r.val("HOSTVIEW"), "1", "{}", r.stdout);
}

#[test]
fn masked_paths_read_empty_and_refuse_writes() {
    require_root!();
    let b = Bundle::new(
        "echo KEYS=$(wc -c < /proc/keys); echo TL=$(wc -c < /proc/timer_list); \
         echo x > /proc/keys 2>/dev/null && echo KW=written || echo KW=refused; \
         echo ACPI=$(ls -A /proc/acpi | wc -l); touch /proc/acpi/x 2>/dev/null && echo AW=yes || echo AW=no; \
         echo FW=$(ls -A /sys/firmware | wc -l); \
         echo DUP=$(grep -c ' /proc/keys ' /proc/self/mountinfo); \
         echo SHARED=$(grep -E ' /proc/acpi | /sys/firmware ' /proc/self/mountinfo | cut -d' ' -f3 | sort -u | wc -l)",
    );
    let mut b = b;
    // Duplicate entries mask once.
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .expect("masked")
        .push(json!("/proc/keys"));
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("KEYS"), "0");
    assert_eq!(r.val("TL"), "0");
    assert_eq!(r.val("KW"), "refused");
    assert_eq!(r.val("ACPI"), "0");
    assert_eq!(r.val("AW"), "no");
    assert_eq!(r.val("FW"), "0");
    assert_eq!(r.val("DUP"), "1");
    assert_eq!(r.val("SHARED"), "1", "masked directories share one tmpfs");
}

#[test]
fn readonly_paths_and_root_give_erofs() {
    require_root!();
    let mut b = Bundle::new(
        "sh -c 'echo 1 > /proc/sys/kernel/ns_last_pid' 2>/tmp/e1; echo SYS=$(cat /tmp/e1); \
         touch /newfile 2>/tmp/e2; echo ROOT=$(cat /tmp/e2); \
         echo TMP=$(touch /tmp/ok && echo writable); \
         echo CP=$(grep -c core /proc/sys/kernel/core_pattern)",
    );
    b.config["root"]["readonly"] = json!(true);
    let r = b.run(&[]).expect_ok();
    assert!(
        r.val("SYS").contains("Read-only file system"),
        "{}",
        r.stdout
    );
    assert!(
        r.val("ROOT").contains("Read-only file system"),
        "{}",
        r.stdout
    );
    assert_eq!(r.val("TMP"), "writable");
    assert!(!b.rootfs().join("newfile").exists());
}

#[test]
fn sysctls_are_written_in_the_container_namespaces_only() {
    require_root!();
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("host");
    let host_dom = std::fs::read_to_string("/proc/sys/kernel/domainname").expect("host");
    let mut b = Bundle::new(
        "echo FWD=$(cat /proc/sys/net/ipv4/ip_forward); echo DOM=$(cat /proc/sys/kernel/domainname)",
    );
    b.config["linux"]["sysctl"] =
        json!({"net.ipv4.ip_forward": "1", "kernel.domainname": "inside.example"});
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("FWD"), "1");
    assert_eq!(r.val("DOM"), "inside.example");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("h"),
        host_fwd
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").expect("h"),
        host_dom
    );
}

#[test]
fn sysctl_without_a_proc_mount_uses_a_private_procfs() {
    require_root!();
    let mut b = Bundle::new("echo OK=1");
    b.remove_mount("/proc");
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.config["linux"]["sysctl"] = json!({"kernel.domainname": "private.example"});
    b.run(&[]).expect_ok();
}

#[test]
fn console_is_a_pty_of_the_container_devpts() {
    require_root!();
    let b = Bundle::new(
        "echo CONS=$(stat -c '%F %t' /dev/console); \
         echo DEV=$(grep ' /dev/console ' /proc/self/mountinfo | cut -d' ' -f3); \
         echo PTS=$(grep ' /dev/pts ' /proc/self/mountinfo | cut -d' ' -f3)",
    );
    let r = b.run(&["--console"]).expect_ok();
    // major 136 = 0x88
    assert_eq!(r.val("CONS"), "character special file 88");
    assert_eq!(
        r.val("DEV"),
        r.val("PTS"),
        "console comes from the container's devpts"
    );
}

#[test]
fn cgroup_views_are_read_only() {
    require_root!();
    let script = "echo CG=$(ls /sys/fs/cgroup | tr '\\n' ,); \
         echo RO=$(grep ' /sys/fs/cgroup/memory ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1); \
         mkdir /sys/fs/cgroup/memory/x 2>/dev/null && echo MK=yes || echo MK=no";
    let mut b = Bundle::new(script);
    b.add_mount(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                       "options": ["nosuid", "noexec", "nodev", "relatime"]}),
    );
    let r = b
        .run(&["--cgroup", "ns:cpu;memory;name=systemd;unified"])
        .expect_ok();
    assert_eq!(r.val("CG"), "cpu,memory,systemd,unified,");
    assert_eq!(r.val("RO"), "ro");
    assert_eq!(r.val("MK"), "no");
    let r = b
        .run(&[
            "--cgroup",
            "bind:memory=/sys/fs/cgroup/memory;cpu=/sys/fs/cgroup/cpu",
        ])
        .expect_ok();
    assert_eq!(r.val("CG"), "cpu,memory,");
    assert_eq!(r.val("RO"), "ro");
    assert_eq!(r.val("MK"), "no");
    let r = b.run(&["--cgroup", "none"]).expect_ok();
    assert_eq!(r.val("CG"), "", "the fresh sysfs's empty /sys/fs/cgroup");
}

#[test]
fn bind_mounts_relative_ro_file_and_tmpcopyup() {
    require_root!();
    let mut b = Bundle::new(
        "echo VOL=$(cat /vol/data); touch /vol/new 2>/dev/null && echo VW=yes || echo VW=no; \
         echo FILE=$(cat /etc/injected); \
         echo KEEP=$(cat /opt/keep); touch /opt/new && echo OW=yes; \
         echo OPTFS=$(grep ' /opt ' /proc/self/mountinfo | cut -d' ' -f9)",
    );
    std::fs::create_dir(b.path().join("vol")).expect("vol");
    std::fs::write(b.path().join("vol/data"), "volume").expect("data");
    std::fs::write(b.path().join("inj"), "file-bind").expect("inj");
    std::fs::create_dir(b.rootfs().join("opt")).expect("opt");
    std::fs::write(b.rootfs().join("opt/keep"), "image-content").expect("keep");
    b.add_mount(
        json!({"destination": "/vol", "type": "bind", "source": "vol", "options": ["rbind", "ro"]}),
    );
    b.add_mount(json!({"destination": "/etc/injected", "type": "bind", "source": "inj", "options": ["bind"]}));
    b.add_mount(json!({"destination": "/opt", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("VOL"), "volume");
    assert_eq!(r.val("VW"), "no");
    assert_eq!(r.val("FILE"), "file-bind");
    assert_eq!(r.val("KEEP"), "image-content");
    assert_eq!(r.val("OW"), "yes");
    assert_eq!(r.val("OPTFS"), "tmpfs");
    assert!(
        !b.rootfs().join("opt/new").exists(),
        "tmpfs writes stay in the tmpfs"
    );
    assert!(!b.path().join("vol/new").exists());
}

#[test]
fn rootfs_propagation_is_applied_after_pivot() {
    require_root!();
    let mut b = Bundle::new("echo ROOT=$(awk '$5==\"/\"' /proc/self/mountinfo | grep -c shared:)");
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("ROOT"), "0");
    b.config["linux"]["rootfsPropagation"] = json!("rshared");
    let r = b.run(&[]).expect_ok();
    assert_eq!(r.val("ROOT"), "1");
    b.config["linux"]["rootfsPropagation"] = json!("bogus");
    b.run(&[]).expect_err("invalid mount option \"bogus\"");
}

#[test]
fn read_only_tmpfs_and_dev_still_take_mounts_below_them() {
    require_root!();
    let mut b = Bundle::new(
        "echo SUB=$(stat -f -c %T /ro/sub); touch /ro/x 2>/dev/null && echo ROW=yes || echo ROW=no; \
         touch /ro/sub/y && echo SUBW=yes; touch /dev/x 2>/dev/null && echo DEVW=yes || echo DEVW=no; \
         echo NULL=$(stat -c %t:%T /dev/null)",
    );
    b.config["mounts"][1]["options"]
        .as_array_mut()
        .expect("dev opts")
        .push(json!("ro"));
    b.add_mount(
        json!({"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}),
    );
    b.add_mount(json!({"destination": "/ro/sub", "type": "tmpfs", "source": "tmpfs"}));
    let r = b.run(&["--console"]).expect_ok();
    assert_eq!(r.val("SUB"), "tmpfs");
    assert_eq!(r.val("ROW"), "no");
    assert_eq!(r.val("SUBW"), "yes");
    assert_eq!(r.val("DEVW"), "no");
    assert_eq!(r.val("NULL"), "1:3");
}
