// SPDX-License-Identifier: Apache-2.0
//! runtime.md#kill and runtime.md#delete.

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::json;
use stockade_e2e::bundle::CGROUP_PREFIX;
use stockade_e2e::guard::cgroup_dirs;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, Defer, host_sh};

use crate::{fails, rt, sleeper, started, stopped};

pub const CASES: &[Case] = &[
    case(
        "runtime.md#kill",
        "MUST",
        "kill without an id fails",
        &["kill"],
        kill_no_id,
    ),
    case(
        "runtime.md#kill",
        "MUST",
        "kill of a stopped container fails with no effect",
        &["kill", "kill_no_effect"],
        kill_stopped,
    ),
    case(
        "runtime.md#kill",
        "MUST",
        "kill sends the signal to the container process",
        &["kill", "killsig"],
        kill_delivers,
    ),
    case(
        "runtime.md#kill",
        "MUST",
        "status is `stopped` once the process has exited",
        &["kill"],
        status_stopped,
    ),
    case(
        "runtime.md#delete",
        "MUST",
        "delete without an id fails",
        &["delete"],
        delete_no_id,
    ),
    case(
        "runtime.md#delete",
        "MUST",
        "delete of a missing container fails",
        &["delete"],
        delete_missing,
    ),
    case(
        "runtime.md#delete",
        "MUST",
        "delete of a created or running container fails with no effect",
        &["delete"],
        delete_not_stopped,
    ),
    case(
        "runtime.md#delete",
        "MUST",
        "delete removes the cgroups made by create",
        &["delete_resources"],
        delete_removes_cgroups,
    ),
    case(
        "runtime.md#delete",
        "MUST NOT",
        "delete keeps resources it did not create",
        &["delete_only_create_resources"],
        delete_keeps_foreign,
    ),
];

fn kill_no_id() -> Result<()> {
    fails(&rt()?.cmd(&["kill"])?)
}

fn kill_stopped() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("killstopped")?;
    b.args(&["true"]);
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())?;
    let before = rt.state(b.id())?;
    fails(&rt.cmd(&["kill", b.id(), "KILL"])?)?;
    ensure!(rt.state(b.id())? == before, "state changed");
    Ok(())
}

fn kill_delivers() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("killsig")?;
    b.sh("trap 'echo got-usr1 > /sig; exit 0' USR1; echo ready > /ready; while true; do sleep 0.1; done");
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    for _ in 0..100 {
        if b.rootfs().join("ready").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.cmd(&["kill", b.id(), "USR1"])?.check()?;
    stopped(&rt, b.id())?;
    ensure!(
        fs::read_to_string(b.rootfs().join("sig"))
            .unwrap_or_default()
            .trim()
            == "got-usr1",
        "SIGUSR1 not delivered"
    );
    let c = sleeper("killcreated")?;
    let _g2 = rt.guard(c.id());
    rt.create(&c)?.check()?;
    rt.cmd(&["kill", c.id(), "KILL"])?.check()?;
    stopped(&rt, c.id())
}

fn status_stopped() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("ststopped")?;
    b.args(&["true"]);
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())
}

fn delete_no_id() -> Result<()> {
    fails(&rt()?.cmd(&["delete"])?)
}

fn delete_missing() -> Result<()> {
    fails(&rt()?.cmd(&["delete", &stockade_e2e::bundle::unique_id("missing")])?)
}

fn delete_not_stopped() -> Result<()> {
    let rt = rt()?;
    for start in [false, true] {
        let b = sleeper("delnotstopped")?;
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        if start {
            rt.cmd(&["start", b.id()])?.check()?;
        }
        let before = rt.state(b.id())?;
        fails(&rt.cmd(&["delete", b.id()])?)
            .with_context(|| format!("deleting a {} container", before["status"]))?;
        let after = rt
            .state(b.id())
            .context("container gone after a refused delete")?;
        ensure!(
            after["status"] == before["status"] && after["pid"] == before["pid"],
            "container changed: {before} -> {after}"
        );
    }
    Ok(())
}

fn delete_removes_cgroups() -> Result<()> {
    let rt = rt()?;
    let mut b = sleeper("delcg")?;
    b.set("/linux/resources/pids", json!({ "limit": 1000 }));
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    let name = format!("{CGROUP_PREFIX}{}", b.id());
    ensure!(!cgroup_dirs(&name).is_empty(), "no cgroup was created");
    rt.cmd(&["kill", b.id(), "KILL"])?.check()?;
    stopped(&rt, b.id())?;
    rt.cmd(&["delete", b.id()])?.check()?;
    let left = cgroup_dirs(&name);
    ensure!(left.is_empty(), "cgroups left after delete: {left:?}");
    Ok(())
}

fn delete_keeps_foreign() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("foreign")?;
    b.args(&["true"]);
    let src = b.path().join("volume");
    fs::create_dir(&src)?;
    fs::write(src.join("data"), "keep")?;
    b.mount("/volume", "bind", &src.to_string_lossy(), &["bind"]);
    let netns = format!("{CGROUP_PREFIX}{}", b.id());
    let (ok, out) = host_sh(&format!("ip netns add {netns}"));
    ensure!(ok, "ip netns add: {out}");
    let _ns = Defer(|| {
        let _ = host_sh(&format!("ip netns del {netns}"));
    });
    b.without_ns("network").push(
        "/linux/namespaces",
        json!({ "type": "network", "path": format!("/run/netns/{netns}") }),
    );
    let foreign = std::path::PathBuf::from(format!(
        "/sys/fs/cgroup/pids/{CGROUP_PREFIX}{}-foreign",
        b.id()
    ));
    fs::create_dir(&foreign)?;
    let _cg = Defer(|| {
        stockade_e2e::guard::remove_cgroups(&format!("{CGROUP_PREFIX}{}-foreign", b.id()))
    });
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
    fs::write(foreign.join("cgroup.procs"), pid.to_string())?;
    rt.cmd(&["start", b.id()])?.check()?;
    stopped(&rt, b.id())?;
    rt.cmd(&["delete", b.id()])?.check()?;
    ensure!(
        foreign.is_dir(),
        "delete removed a cgroup the container was moved into"
    );
    ensure!(
        fs::read_to_string(src.join("data")).unwrap_or_default() == "keep",
        "delete touched the bind source"
    );
    ensure!(
        std::path::Path::new(&format!("/run/netns/{netns}")).exists(),
        "delete removed the joined network namespace"
    );
    Ok(())
}
