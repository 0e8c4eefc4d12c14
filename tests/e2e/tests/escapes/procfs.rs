// SPDX-License-Identifier: Apache-2.0
//! ESC-05 (/proc and /sys must be real), ESC-09 (procfs writes cannot be redirected),
//! ESC-12 (no fresh unmasked procfs/sysfs, no old root), ESC-13 (masked/read-only baseline).

use std::fs;
use std::os::unix::fs::symlink;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use stockade_e2e::{Bundle, host_busybox, host_sh, probe};
use stockade_testutil::require_root;

use crate::{check, rt, start};

/// Edits a bundle into one attack variant.
type Setup<'a> = dyn Fn(&mut Bundle) -> Result<()> + 'a;

#[test]
fn esc05_proc_and_sys_must_be_real_directories() {
    require_root!();
    check(|| {
        let rt = rt();
        let host_dir = rt.work().join("fakeproc");
        fs::create_dir(&host_dir)?;
        let mut accepted = Vec::new();
        let variants: [(&str, &Setup<'_>); 6] = [
            ("proc -> tmp/p (in-rootfs)", &|b| {
                fs::create_dir(b.rootfs().join("tmp/p"))?;
                fs::remove_dir(b.rootfs().join("proc"))?;
                Ok(symlink("tmp/p", b.rootfs().join("proc"))?)
            }),
            ("proc -> absolute host dir", &|b| {
                fs::remove_dir(b.rootfs().join("proc"))?;
                Ok(symlink(&host_dir, b.rootfs().join("proc"))?)
            }),
            ("sys -> tmp/s", &|b| {
                fs::create_dir(b.rootfs().join("tmp/s"))?;
                fs::remove_dir(b.rootfs().join("sys"))?;
                Ok(symlink("tmp/s", b.rootfs().join("sys"))?)
            }),
            ("tmpfs mounted on /proc", &|b| {
                if let Some(Value::Array(ms)) = b.config_mut().pointer_mut("/mounts") {
                    ms.retain(|m| m["destination"] != "/proc");
                }
                b.mount("/proc", "tmpfs", "tmpfs", &[]);
                Ok(())
            }),
            ("bind on /proc/self/attr", &|b| {
                let src = b.path().join("attr");
                fs::create_dir(&src)?;
                b.mount("/proc/self/attr", "bind", &src.to_string_lossy(), &["bind"]);
                Ok(())
            }),
            ("tmpfs on /proc/sys/kernel", &|b| {
                b.mount("/proc/sys/kernel", "tmpfs", "tmpfs", &[]);
                Ok(())
            }),
        ];
        for (name, setup) in variants {
            let mut b = Bundle::new("esc05")?;
            setup(&mut b)?;
            b.args(&["true"]);
            let _g = rt.guard(b.id());
            if rt.create(&b)?.ok() {
                accepted.push(name);
            }
        }
        ensure!(
            fs::read_dir(&host_dir)?.next().is_none(),
            "the runtime wrote into the host dir a symlinked /proc pointed at"
        );
        ensure!(accepted.is_empty(), "create accepted: {accepted:?}");
        Ok(())
    });
}

/// Overmounts the sysctl file the runtime will write with `source` from a createContainer
/// hook (container mount namespace, before pivot_root).
fn redirect_sysctl(b: &mut Bundle, source: &str) {
    let target = b.rootfs().join("proc/sys/net/ipv4/ip_forward");
    b.hook(
        "createContainer",
        host_busybox(),
        &[
            "sh",
            "-c",
            &format!("mount -o bind {source} {}", target.display()),
        ],
    );
}

fn ip_forward_of(pid: i64) -> String {
    host_sh(&format!(
        "nsenter -t {pid} -n cat /proc/sys/net/ipv4/ip_forward"
    ))
    .1
    .trim()
    .to_string()
}

#[test]
fn esc09_procfs_writes_cannot_be_redirected() {
    require_root!();
    check(|| {
        let rt = rt();
        // Clean run: the requested sysctl is visible from the host via nsenter.
        let mut b = Bundle::new("esc09-clean")?;
        b.args(&["sleep", "300"])
            .set("/linux/sysctl", json!({ "net.ipv4.ip_forward": "1" }));
        let _g = rt.guard(b.id());
        let (pid, _) = start(&rt, &b)?;
        ensure!(
            ip_forward_of(pid) == "1",
            "clean run: ip_forward in the container netns is {:?}",
            ip_forward_of(pid)
        );
        // (a) a regular file substituted for the sysctl file.
        let mut b = Bundle::new("esc09-file")?;
        let fake = b.path().join("fake_ip_forward");
        fs::write(&fake, "untouched\n")?;
        b.args(&["sleep", "300"])
            .set("/linux/sysctl", json!({ "net.ipv4.ip_forward": "1" }));
        redirect_sysctl(&mut b, &fake.to_string_lossy());
        let _g = rt.guard(b.id());
        let created = rt.create(&b)?.ok() && rt.cmd(&["start", b.id()])?.ok();
        ensure!(
            fs::read_to_string(&fake)? == "untouched\n",
            "the runtime wrote the sysctl into the substituted file"
        );
        if created {
            let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
            ensure!(
                ip_forward_of(pid) == "1",
                "redirected run started but the real sysctl is {:?}",
                ip_forward_of(pid)
            );
        }
        // (b) another procfs file (the container's hostname) substituted.
        let mut b = Bundle::new("esc09-proc")?;
        b.probe(&["facts"])
            .set("/linux/sysctl", json!({ "net.ipv4.ip_forward": "1" }));
        let src = b.rootfs().join("proc/sys/kernel/hostname");
        redirect_sysctl(&mut b, &src.to_string_lossy());
        let _g = rt.guard(b.id());
        let o = rt.run(&b)?;
        if o.ok() {
            let f = probe::parse(&o)?;
            ensure!(
                f["hostname"] == "stockade-e2e",
                "the sysctl write landed on the hostname: {}",
                f["hostname"]
            );
        }
        Ok(())
    });
}

#[test]
fn esc12_default_profile_blocks_nested_namespaces() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::from_spec(&rt, "esc12-default")?;
        let v = probe::run_args(&rt, &mut b, &["nested-mount"])?;
        ensure!(
            v["unshare_user"]["ok"] == false,
            "the default profile lets the container create a user namespace: {v}"
        );
        Ok(())
    });
}

#[test]
fn esc12_no_fresh_procfs_or_sysfs_and_no_old_root() {
    require_root!();
    check(|| {
        let rt = rt();
        // Test-only profile: no seccomp, so nested user namespaces reach the kernel's check.
        let mut b = Bundle::new("esc12")?;
        let v = probe::run_args(&rt, &mut b, &["nested-mount"])?;
        let child = &v["child"];
        ensure!(
            v["unshare_user"]["ok"] == false
                || (child["mount_proc"]["ok"] == false && child["mount_sysfs"]["ok"] == false),
            "a fresh procfs or sysfs was mounted: {v}"
        );
        eprintln!("ESC-12 nested attempt: {v}");
        let f = probe::run_args(&rt, &mut b, &["facts"])?;
        let host_root_dev = host_sh("stat -c %d /").1.trim().parse::<u64>().unwrap_or(0);
        let (maj, min) = (host_root_dev >> 8, host_root_dev & 0xff);
        for l in f["mountinfo"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let x: Vec<&str> = l.split(' ').collect();
            ensure!(
                !(x[2] == format!("{maj}:{min}") && x[3] == "/"),
                "the host root is still mounted in the container: {l}"
            );
            if x[4] == "/" {
                ensure!(
                    !l.contains(" shared:"),
                    "the container root propagates to the host: {l}"
                );
            }
        }
        Ok(())
    });
}

fn baseline(readonly_root: bool) -> Result<()> {
    let rt = rt();
    let mut b = Bundle::from_spec(&rt, "esc13")?;
    b.set("/root/readonly", json!(readonly_root));
    let masked: Vec<String> = b.config()["linux"]["maskedPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let ro: Vec<String> = b.config()["linux"]["readonlyPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let kcore = "/proc/kcore".to_string();
    // Duplicate entries must make one mount.
    b.push(
        "/linux/maskedPaths",
        json!(masked.first().unwrap_or(&kcore)),
    );
    let mut args = vec!["paths".to_string()];
    args.extend(masked.iter().cloned());
    args.extend(ro.iter().cloned());
    let v = probe::run_args(
        &rt,
        &mut b,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    let f = probe::run_args(&rt, &mut b, &["facts"])?;
    let mounts: Vec<Vec<String>> = f["mountinfo"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect();
    let mut bad = Vec::new();
    let mut dir_devs = Vec::new();
    for p in &masked {
        let host_has = fs::metadata(p).is_ok();
        let i = &v[p.as_str()];
        if !host_has || i["exists"] == false {
            continue;
        }
        if i["read"]["bytes"].as_u64().is_some_and(|n| n > 0)
            || i["list"]["entries"].as_u64().is_some_and(|n| n > 0)
        {
            bad.push(format!("masked {p} readable: {i}"));
        }
        let n = mounts.iter().filter(|m| m[4] == *p).count();
        if n != 1 {
            bad.push(format!("masked {p} has {n} mounts"));
        }
        if i["kind"] == "dir" {
            dir_devs.push((
                p.clone(),
                mounts
                    .iter()
                    .find(|m| m[4] == *p)
                    .map(|m| m[2].clone())
                    .unwrap_or_default(),
            ));
        }
        let um = probe::run_args(&rt, &mut b, &["try", "umount", p])?;
        if um["ok"] == true {
            bad.push(format!("masked {p} could be unmounted"));
        }
    }
    if dir_devs.windows(2).any(|w| w[0].1 != w[1].1) {
        bad.push(format!(
            "masked directories use different tmpfs instances: {dir_devs:?}"
        ));
    }
    for p in &ro {
        if v[p.as_str()]["exists"] == false {
            continue;
        }
        let m = mounts.iter().find(|m| m[4] == *p);
        if !m.is_some_and(|m| m[5].split(',').any(|o| o == "ro")) {
            bad.push(format!("read-only {p} is not a ro mount: {m:?}"));
        }
    }
    for s in ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe"] {
        if fs::metadata(s).is_err() {
            continue;
        }
        let cur = fs::read_to_string(s)?.trim().to_string();
        let w = probe::run_args(&rt, &mut b, &["write", s, &cur])?;
        if w["open"]["ok"] == true {
            bad.push(format!("{s} opens for writing: {w}"));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("\n"));
    Ok(())
}

#[test]
fn esc13_masked_and_readonly_baseline() {
    require_root!();
    check(|| baseline(false));
}

#[test]
fn esc13_masked_and_readonly_baseline_with_readonly_root() {
    require_root!();
    check(|| baseline(true));
}
