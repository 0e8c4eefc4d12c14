// SPDX-License-Identifier: Apache-2.0
//! config.md#posix-platform-hooks: order, stdin, path, timeout and when each kind runs. Hooks
//! are the host's static busybox running a small script; their findings land in `<bundle>/hooks/`.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use stockade_e2e::bundle::CGROUP_PREFIX;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, host_busybox};

use crate::{rt, started, stopped};

pub const CASES: &[Case] = &[
    case(
        "config.md#posix-platform-hooks",
        "MUST",
        "hooks of each kind run in the listed order",
        &["hooks"],
        in_order,
    ),
    case(
        "config.md#posix-platform-hooks",
        "MUST",
        "the container state is passed to hooks on stdin",
        &["hooks_stdin"],
        state_on_stdin,
    ),
    case(
        "config.md#posix-platform-hooks",
        "MUST",
        "a relative hook path is refused",
        &[],
        path_absolute,
    ),
    case(
        "config.md#posix-platform-hooks",
        "MUST",
        "a hook timeout of 0 is refused",
        &[],
        timeout_positive,
    ),
    case(
        "config.md#posix-platform-hooks",
        "FIELD",
        "a hook exceeding its timeout is aborted and fails create",
        &[],
        timeout_aborts,
    ),
    case(
        "config.md#prestart",
        "MUST",
        "prestart runs during create, in the runtime namespace, before the user process",
        &["prestart"],
        prestart_timing,
    ),
    case(
        "config.md#createruntime-hooks",
        "MUST",
        "createRuntime runs during create in the runtime namespace before pivot_root",
        &[],
        create_runtime_timing,
    ),
    case(
        "config.md#createcontainer-hooks",
        "MUST",
        "createContainer runs in the container mount namespace before pivot_root",
        &[],
        create_container_timing,
    ),
    case(
        "config.md#startcontainer-hooks",
        "MUST",
        "startContainer runs in the container before the user process; path resolved there",
        &[],
        start_container_timing,
    ),
    case(
        "config.md#poststart",
        "MUST",
        "poststart runs after the user process started and before start returns",
        &["poststart"],
        poststart_timing,
    ),
    case(
        "config.md#poststop",
        "MUST",
        "poststop runs after the container is deleted and before delete returns",
        &["poststop"],
        poststop_timing,
    ),
];

/// `<bundle>/hooks`, created.
pub(crate) fn out_dir(b: &Bundle) -> Result<PathBuf> {
    let d = b.path().join("hooks");
    fs::create_dir_all(&d)?;
    Ok(d)
}

/// A host-busybox shell hook; `$D` is the hooks dir, `$PID` the pid from the state on stdin
/// (the state itself is in `$S`).
pub(crate) fn sh_hook(b: &mut Bundle, kind: &str, script: &str) -> Result<()> {
    let d = out_dir(b)?;
    let full = format!(
        "D={}; S=$(cat); PID=$(echo \"$S\" | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); {script}",
        d.display()
    );
    b.hook(kind, host_busybox(), &["sh", "-c", &full]);
    Ok(())
}

pub(crate) fn read(b: &Bundle, name: &str) -> String {
    fs::read_to_string(b.path().join("hooks").join(name))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn in_order() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("hookorder")?;
    b.args(&["true"]);
    for (kind, n) in [
        ("createRuntime", 1),
        ("createRuntime", 2),
        ("poststart", 3),
        ("poststart", 4),
        ("poststop", 5),
        ("poststop", 6),
    ] {
        sh_hook(&mut b, kind, &format!("echo {n} >> $D/order"))?;
    }
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())?;
    rt.cmd(&["delete", b.id()])?.check()?;
    let order = read(&b, "order")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    ensure!(order == "1 2 3 4 5 6", "hooks ran as {order:?}");
    Ok(())
}

fn state_on_stdin() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("hookstdin")?;
    b.args(&["sleep", "2"])
        .set("/annotations", json!({ "org.stockade.e2e": "hook stdin" }));
    let kinds = [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ];
    for k in kinds {
        sh_hook(&mut b, k, &format!("echo \"$S\" > $D/{k}.json"))?;
    }
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    let pid = rt.state(b.id())?["pid"].clone();
    rt.cmd(&["start", b.id()])?.check()?;
    stopped(&rt, b.id())?;
    rt.cmd(&["delete", b.id()])?.check()?;
    let bundle = fs::canonicalize(b.path())?;
    for k in kinds {
        let s: Value = serde_json::from_str(&read(&b, &format!("{k}.json")))
            .with_context(|| format!("{k}: stdin was not the state"))?;
        ensure!(
            s["id"] == b.id() && s["bundle"] == json!(bundle.to_string_lossy()),
            "{k}: id/bundle {s}"
        );
        ensure!(
            s["annotations"]["org.stockade.e2e"] == "hook stdin",
            "{k}: annotations {s}"
        );
        ensure!(
            k == "poststop" || s["pid"] == pid,
            "{k}: pid {} != {pid}",
            s["pid"]
        );
        let want: &[&str] = match k {
            "poststart" => &["running"],
            "poststop" => &["stopped"],
            _ => &["creating", "created"],
        };
        ensure!(
            want.iter().any(|w| s["status"] == *w),
            "{k}: status {} (want {want:?})",
            s["status"]
        );
    }
    Ok(())
}

fn path_absolute() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("hookrel")?;
    b.hook("createRuntime", "bin/true", &["true"]);
    crate::create_fails(&rt, &b)
}

fn timeout_positive() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("hookt0")?;
    b.push(
        "/hooks/createRuntime",
        json!({ "path": host_busybox(), "args": ["true"], "timeout": 0 }),
    );
    crate::create_fails(&rt, &b)
}

fn timeout_aborts() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("hooktimeout")?;
    b.push(
        "/hooks/createRuntime",
        json!({ "path": host_busybox(), "args": ["sleep", "20"], "timeout": 1 }),
    );
    crate::create_fails(&rt, &b)
}

fn prestart_timing() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("prestart")?;
    b.sh("echo ran > /ran");
    sh_hook(
        &mut b,
        "prestart",
        "readlink /proc/self/ns/mnt > $D/hookns; test -d /proc/$PID && echo alive > $D/alive; test -e $D/../rootfs/ran || echo notyet > $D/user",
    )?;
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    ensure!(
        read(&b, "alive") == "alive",
        "prestart did not see the container process during create"
    );
    ensure!(
        read(&b, "user") == "notyet",
        "prestart ran after the user process"
    );
    ensure!(
        read(&b, "hookns") == fs::read_link("/proc/self/ns/mnt")?.to_string_lossy(),
        "prestart not in the runtime mount namespace"
    );
    Ok(())
}

fn create_runtime_timing() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("createruntime")?;
    b.args(&["sleep", "300"]);
    sh_hook(
        &mut b,
        "createRuntime",
        "readlink /proc/self/ns/mnt > $D/hookns; readlink /proc/$PID/root > $D/root",
    )?;
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    ensure!(
        read(&b, "hookns") == fs::read_link("/proc/self/ns/mnt")?.to_string_lossy(),
        "createRuntime not in the runtime mount namespace"
    );
    ensure!(
        read(&b, "root") == "/",
        "container root at createRuntime time is {:?}: pivot_root already happened",
        read(&b, "root")
    );
    Ok(())
}

fn create_container_timing() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("createcontainer")?;
    b.args(&["sleep", "300"]);
    sh_hook(
        &mut b,
        "createContainer",
        "readlink /proc/self/ns/mnt > $D/hookns",
    )?;
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
    let cns = fs::read_link(format!("/proc/{pid}/ns/mnt"))?;
    // Writing to the host path of the bundle at all proves the hook ran before pivot_root.
    ensure!(
        !read(&b, "hookns").is_empty(),
        "createContainer did not run, or ran after pivot_root"
    );
    ensure!(
        read(&b, "hookns") == cns.to_string_lossy(),
        "createContainer ran in {} not the container's {}",
        read(&b, "hookns"),
        cns.display()
    );
    Ok(())
}

fn start_container_timing() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("startcontainer")?;
    fs::copy(
        b.rootfs().join("bin/busybox"),
        b.rootfs().join("e2e-hook-busybox"),
    )?;
    b.sh("test -f /tmp/sc && echo seen > /tmp/seen; sleep 300");
    b.hook(
        "startContainer",
        "/e2e-hook-busybox",
        &["sh", "-c", "readlink /proc/self/ns/mnt > /tmp/sc"],
    );
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    ensure!(
        !b.rootfs().join("tmp/sc").exists(),
        "startContainer ran during create"
    );
    rt.cmd(&["start", b.id()])?.check()?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let sc = fs::read_to_string(b.rootfs().join("tmp/sc")).unwrap_or_default();
    ensure!(
        sc.trim() == fs::read_link(format!("/proc/{pid}/ns/mnt"))?.to_string_lossy(),
        "startContainer not in the container mount namespace ({sc:?})"
    );
    ensure!(
        b.rootfs().join("tmp/seen").exists(),
        "the user process started before startContainer finished"
    );
    Ok(())
}

fn poststart_timing() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("poststart")?;
    b.args(&["sleep", "300"]);
    sh_hook(
        &mut b,
        "poststart",
        "tr '\\0' ' ' < /proc/$PID/cmdline > $D/cmdline",
    )?;
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    let c = read(&b, "cmdline");
    ensure!(!c.is_empty(), "poststart had not run when start returned");
    ensure!(
        c == "sleep 300",
        "poststart saw {c:?}: the user process was not executed yet"
    );
    Ok(())
}

fn poststop_timing() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("poststop")?;
    b.args(&["true"])
        .set("/linux/resources/pids", json!({ "limit": 100 }));
    let cg = format!("/sys/fs/cgroup/pids/{CGROUP_PREFIX}{}", b.id());
    sh_hook(
        &mut b,
        "poststop",
        &format!("echo \"$S\" > $D/state; test -d {cg} && echo still-there > $D/cg"),
    )?;
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())?;
    ensure!(read(&b, "state").is_empty(), "poststop ran before delete");
    rt.cmd(&["delete", b.id()])?.check()?;
    ensure!(
        !read(&b, "state").is_empty(),
        "poststop had not run when delete returned"
    );
    ensure!(
        read(&b, "cg").is_empty(),
        "poststop ran while the container's cgroup still existed"
    );
    Ok(())
}
