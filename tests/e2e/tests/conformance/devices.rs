// SPDX-License-Identifier: Apache-2.0
//! config-linux.md default filesystems, devices and default devices; runtime-linux.md /dev
//! symlinks and file descriptors.

use std::fs;

use anyhow::{Context, Result, ensure};
use serde_json::json;
use stockade_e2e::console::ConsoleSocket;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, probe};

use crate::{create_fails, mount_of, probe_with, rt};

pub const CASES: &[Case] = &[
    case(
        "config-linux.md#default-filesystems",
        "SHOULD",
        "/proc, /sys, /dev/pts and /dev/shm are available",
        &["mounts"],
        default_filesystems,
    ),
    case(
        "config-linux.md#devices",
        "MUST",
        "configured devices are available with type, numbers, mode and owner",
        &["linux_devices"],
        devices_available,
    ),
    case(
        "config-linux.md#devices",
        "MUST",
        "an existing file that does not match the device is refused",
        &[],
        devices_mismatch,
    ),
    case(
        "config-linux.md#default-devices",
        "MUST",
        "null, zero, full, random, urandom, tty and ptmx are supplied",
        &["linux_devices"],
        default_devices,
    ),
    case(
        "config-linux.md#default-devices",
        "MUST",
        "/dev/console is a terminal when process.terminal is true",
        &[],
        console_device,
    ),
    case(
        "runtime-linux.md#dev-symbolic-links",
        "MUST",
        "/dev/fd, /dev/stdin, /dev/stdout, /dev/stderr are created",
        &[],
        dev_symlinks,
    ),
    case(
        "runtime-linux.md#file-descriptors",
        "FIELD",
        "only stdin, stdout and stderr are open in the process",
        &[],
        only_stdio,
    ),
];

fn default_filesystems() -> Result<()> {
    let f = probe_with(&["facts"], |_| {})?;
    for (mp, ty) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
    ] {
        let m = mount_of(&f, mp).with_context(|| format!("no mount at {mp}"))?;
        let dash = m.iter().position(|x| *x == "-").unwrap_or(0);
        ensure!(
            m.get(dash + 1) == Some(&ty),
            "{mp} is {:?}, not {ty}",
            m.get(dash + 1)
        );
    }
    Ok(())
}

fn devices_available() -> Result<()> {
    let v = probe_with(&["paths", "/dev/e2e-full"], |b| {
        b.push("/linux/devices", json!({ "path": "/dev/e2e-full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o640, "uid": 1, "gid": 2 }));
        b.push(
            "/linux/resources/devices",
            json!({ "allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm" }),
        );
    })?;
    let d = &v["/dev/e2e-full"];
    ensure!(
        d["kind"] == "char" && d["major"] == 1 && d["minor"] == 7,
        "device {d}"
    );
    ensure!(
        d["mode"] == "640" && d["uid"] == 1 && d["gid"] == 2,
        "mode/owner {d}"
    );
    Ok(())
}

fn devices_mismatch() -> Result<()> {
    let mut b = Bundle::new("devmismatch")?;
    fs::create_dir(b.rootfs().join("e2edev"))?;
    b.push(
        "/linux/devices",
        json!({ "path": "/e2edev", "type": "c", "major": 1, "minor": 7 }),
    );
    create_fails(&rt()?, &b)
}

fn default_devices() -> Result<()> {
    let devs = [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    let mut args = vec!["paths", "/dev/ptmx", "/dev/pts/ptmx"];
    args.extend(devs.iter().map(|d| d.0));
    let v = probe_with(&args, |_| {})?;
    for (p, maj, min) in devs {
        ensure!(
            v[p]["kind"] == "char" && v[p]["major"] == maj && v[p]["minor"] == min,
            "{p}: {}",
            v[p]
        );
    }
    let ptmx = &v["/dev/ptmx"];
    let ok = (ptmx["kind"] == "symlink" && ptmx["target"] == "pts/ptmx")
        || (ptmx["kind"] == "char" && ptmx["major"] == 5 && ptmx["minor"] == 2);
    ensure!(ok, "/dev/ptmx: {ptmx}");
    Ok(())
}

fn console_device() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("console")?;
    b.set("/process/terminal", json!(true))
        .probe(&["paths", "/dev/console"]);
    b.write()?;
    let mut cs = ConsoleSocket::listen(rt.work())?;
    let _g = rt.guard(b.id());
    rt.cmd(&[
        "create",
        "--bundle",
        &b.path_str(),
        "--console-socket",
        &cs.path().to_string_lossy(),
        b.id(),
    ])?
    .check()?;
    rt.cmd(&["start", b.id()])?.check()?;
    crate::stopped(&rt, b.id())?;
    let r = cs.finish(std::time::Duration::from_secs(10));
    ensure!(
        r.got_fd && r.is_ptmx,
        "no pty master received on the console socket"
    );
    let v = probe::parse_text(&r.output.replace('\r', ""))?;
    let c = &v["/dev/console"];
    ensure!(
        c["kind"] == "char" && c["major"] == 136,
        "/dev/console is not a pty: {c}"
    );
    Ok(())
}

fn dev_symlinks() -> Result<()> {
    let v = probe_with(
        &[
            "paths",
            "/dev/fd",
            "/dev/stdin",
            "/dev/stdout",
            "/dev/stderr",
        ],
        |_| {},
    )?;
    for (p, t) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        ensure!(
            v[p]["kind"] == "symlink" && v[p]["target"] == t,
            "{p}: {}",
            v[p]
        );
    }
    Ok(())
}

fn only_stdio() -> Result<()> {
    let f = probe_with(&["facts"], |_| {})?;
    let fds: Vec<&String> = f["fds"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    ensure!(fds == ["0", "1", "2"], "open fds: {}", f["fds"]);
    Ok(())
}
