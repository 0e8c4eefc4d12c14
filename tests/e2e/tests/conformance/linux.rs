// SPDX-License-Identifier: Apache-2.0
//! config-linux.md: sysctl, seccomp, rootfs propagation, masked and read-only paths,
//! personality, intelRdt and the LSM fields.

use std::fs;

use anyhow::{Context, Result, ensure};
use serde_json::json;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, probe, skip};

use crate::{create_fails, mount_of, probe_with, rt};

pub const CASES: &[Case] = &[
    case(
        "config-linux.md#sysctl",
        "FIELD",
        "sysctls are set in the container",
        &["linux_sysctl"],
        sysctl,
    ),
    case(
        "config-linux.md#seccomp",
        "MUST",
        "a syscall rule without names is refused",
        &[],
        seccomp_no_names,
    ),
    case(
        "config-linux.md#seccomp",
        "FIELD",
        "ERRNO rules return EPERM or errnoRet",
        &["linux_seccomp"],
        seccomp_errno,
    ),
    case(
        "config-linux.md#rootfs-mount-propagation",
        "FIELD",
        "private, slave, shared and unbindable are applied to /",
        &["linux_rootfs_propagation"],
        propagation,
    ),
    case(
        "config-linux.md#masked-paths",
        "FIELD",
        "masked files read empty and masked directories list empty",
        &["linux_masked_paths"],
        masked,
    ),
    case(
        "config-linux.md#masked-paths",
        "MUST",
        "a relative masked path is refused",
        &[],
        masked_relative,
    ),
    case(
        "config-linux.md#readonly-paths",
        "FIELD",
        "read-only paths refuse writes",
        &["linux_readonly_paths"],
        readonly,
    ),
    case(
        "config-linux.md#readonly-paths",
        "MUST",
        "a relative read-only path is refused",
        &[],
        readonly_relative,
    ),
    case(
        "config-linux.md#personality",
        "FIELD",
        "personality LINUX32 is applied",
        &[],
        personality,
    ),
    case(
        "config-linux.md#intelrdt",
        "MUST",
        "intelRdt without a mounted resctrl is refused",
        &[],
        intel_rdt,
    ),
    case(
        "config-linux.md#selinux-process-label",
        "FIELD",
        "mount and process labels (SELinux)",
        &["linux_mount_label"],
        selinux,
    ),
    case(
        "config.md#linux-process",
        "FIELD",
        "apparmorProfile (AppArmor)",
        &["linux_process_apparmor_profile"],
        apparmor,
    ),
];

fn sysctl() -> Result<()> {
    let v = probe_with(&["paths"], |b| {
        b.set(
            "/linux/sysctl",
            json!({ "net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1" }),
        );
        b.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced | tr '\\n' ' ' | sed 's/^/{\"v\":\"/; s/ $/\"}/'");
    })?;
    ensure!(v["v"] == "1 1", "sysctls in the container: {v}");
    Ok(())
}

fn seccomp_no_names() -> Result<()> {
    let mut b = Bundle::new("seccompnames")?;
    b.set("/linux/seccomp", json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": [], "action": "SCMP_ACT_ERRNO" }] }));
    create_fails(&rt()?, &b)
}

fn seccomp_errno() -> Result<()> {
    let filter = json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        { "names": ["getcwd"], "action": "SCMP_ACT_ERRNO" },
        { "names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42 } ] });
    let a = probe_with(&["try", "getcwd"], |b| {
        b.set("/linux/seccomp", filter.clone());
    })?;
    ensure!(
        a["error"] == "EPERM",
        "getcwd under ERRNO without errnoRet: {a}"
    );
    let c = probe_with(&["try", "sethostname", "x"], |b| {
        b.set("/linux/seccomp", filter.clone());
    })?;
    ensure!(c["errno"] == 42, "sethostname under ERRNO(42): {c}");
    Ok(())
}

fn propagation() -> Result<()> {
    use rustix::mount::{MountPropagationFlags, mount_bind, mount_change};
    let mut bad = Vec::new();
    for (mode, field) in [
        ("private", None),
        ("slave", Some("master:")),
        ("shared", Some("shared:")),
        ("unbindable", Some("unbindable")),
    ] {
        let rt = rt()?;
        let mut b = Bundle::new("propagation")?;
        // The bundle sits on a shared mount of its own, so that every mode is observable
        // whatever the host's propagation is.
        mount_bind(b.path(), b.path())?;
        let _m = stockade_e2e::MountGuard(b.path().to_path_buf());
        mount_change(b.path(), MountPropagationFlags::SHARED)?;
        b.probe(&["facts"])
            .set("/linux/rootfsPropagation", json!(mode));
        let f = probe::run(&rt, &b)?;
        let m = mount_of(&f, "/").context("no / in mountinfo")?;
        let dash = m.iter().position(|x| *x == "-").unwrap_or(m.len());
        let opt: Vec<&str> = m[6..dash].to_vec();
        let ok = match field {
            None => opt
                .iter()
                .all(|o| !o.starts_with("shared:") && !o.starts_with("master:")),
            Some(p) => opt.iter().any(|o| o.starts_with(p)),
        };
        if !ok {
            bad.push(format!("rootfsPropagation {mode}: / has {opt:?}"));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("; "));
    Ok(())
}

fn masked() -> Result<()> {
    // Judge only paths with content on this host: masking an absent or empty path proves nothing.
    let files = ["/proc/keys", "/proc/timer_list", "/proc/cmdline"];
    let dirs = ["/sys/kernel", "/sys/firmware", "/proc/acpi"];
    let mut args = vec!["paths"];
    args.extend(files.iter().chain(dirs.iter()));
    let v = probe_with(&args, |b| {
        b.push("/linux/maskedPaths", json!("/proc/cmdline"))
            .push("/linux/maskedPaths", json!("/sys/kernel"));
    })?;
    for f in files
        .iter()
        .filter(|f| fs::read(f).is_ok_and(|c| !c.is_empty()))
    {
        ensure!(v[*f]["read"]["bytes"] == 0, "masked {f}: {}", v[*f]);
    }
    for d in dirs
        .iter()
        .filter(|d| fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()))
    {
        ensure!(v[*d]["list"]["entries"] == 0, "masked {d}: {}", v[*d]);
    }
    Ok(())
}

fn masked_relative() -> Result<()> {
    let mut b = Bundle::new("maskrel")?;
    b.push("/linux/maskedPaths", json!("proc/kcore"));
    create_fails(&rt()?, &b)
}

fn readonly() -> Result<()> {
    let v = probe_with(&["write", "/proc/sys/kernel/domainname", "x"], |_| {})?;
    ensure!(v["open"]["error"] == "EROFS", "/proc/sys is writable: {v}");
    let v = probe_with(&["fill", "/ro/f", "0"], |b| {
        b.mount("/ro", "tmpfs", "tmpfs", &[])
            .push("/linux/readonlyPaths", json!("/ro"));
    })?;
    ensure!(v["stopped_by"] == "EROFS", "/ro accepted a new file: {v}");
    Ok(())
}

fn readonly_relative() -> Result<()> {
    let mut b = Bundle::new("rorel")?;
    b.push("/linux/readonlyPaths", json!("proc/sys"));
    create_fails(&rt()?, &b)
}

fn personality() -> Result<()> {
    let f = probe_with(&["facts"], |b| {
        b.set("/linux/personality", json!({ "domain": "LINUX32" }));
    })?;
    ensure!(
        f["personality"] == 8 && f["machine"] == "i686",
        "personality {} machine {}",
        f["personality"],
        f["machine"]
    );
    Ok(())
}

fn intel_rdt() -> Result<()> {
    if fs::read_to_string("/proc/self/mountinfo")?.contains(" resctrl ") {
        skip!("resctrl is mounted on this host");
    }
    let mut b = Bundle::new("rdt")?;
    b.set(
        "/linux/intelRdt",
        json!({ "closID": "e2e", "l3CacheSchema": "L3:0=f" }),
    );
    create_fails(&rt()?, &b)
}

fn selinux() -> Result<()> {
    skip!("SELinux is not enabled on this host")
}

fn apparmor() -> Result<()> {
    skip!("AppArmor is not enabled on this host")
}
