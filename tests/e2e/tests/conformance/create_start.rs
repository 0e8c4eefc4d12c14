// SPDX-License-Identifier: Apache-2.0
//! runtime.md#create and runtime.md#start.

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use stockade_e2e::Bundle;
use stockade_e2e::bundle::CGROUP_PREFIX;
use stockade_e2e::guard::cgroup_dirs;
use stockade_e2e::harness::{Case, case};

use crate::{fails, rt, sleeper, started, stopped};

pub const CASES: &[Case] = &[
    case(
        "runtime.md#create",
        "MUST",
        "create without an id fails",
        &["create"],
        create_no_id,
    ),
    case(
        "runtime.md#create",
        "MUST",
        "create with a duplicate id fails and creates nothing",
        &["create"],
        create_duplicate,
    ),
    case(
        "runtime.md#create",
        "MUST",
        "create with an invalid id fails and creates nothing",
        &[],
        create_invalid_id,
    ),
    case(
        "runtime.md#create",
        "MUST",
        "create makes the container's resources (process, namespaces, cgroup)",
        &["create", "linux_cgroups_pids"],
        create_makes_resources,
    ),
    case(
        "runtime.md#create",
        "MUST",
        "status is `created` after create",
        &["create", "state"],
        status_created,
    ),
    case(
        "runtime.md#start",
        "MUST",
        "start without an id fails",
        &["start"],
        start_no_id,
    ),
    case(
        "runtime.md#start",
        "MUST",
        "start of a missing container fails",
        &["start"],
        start_missing,
    ),
    case(
        "runtime.md#start",
        "MUST",
        "start of a stopped container fails with no effect",
        &["start"],
        start_twice,
    ),
    case(
        "runtime.md#start",
        "MUST",
        "start runs the program given by process",
        &["start"],
        start_runs_process,
    ),
    case(
        "runtime.md#start",
        "MUST",
        "status is `running` after start",
        &["start", "state"],
        status_running,
    ),
    case(
        "runtime.md#start",
        "MUST",
        "a container without process cannot be started",
        &["start"],
        start_without_process,
    ),
];

fn create_no_id() -> Result<()> {
    let rt = rt()?;
    let b = Bundle::new("noid")?;
    b.write()?;
    fails(&rt.cmd(&["create", "--bundle", &b.path_str()])?)?;
    ensure!(
        fs::read_dir(rt.root())?.next().is_none(),
        "something was created in the state root"
    );
    Ok(())
}

fn create_duplicate() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("dup")?;
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    let first = rt.state(b.id())?;
    let other = Bundle::new("dup2")?;
    other.write()?;
    fails(&rt.cmd(&["create", "--bundle", &other.path_str(), b.id()])?)?;
    ensure!(rt.state(b.id())? == first, "the first container changed");
    Ok(())
}

fn create_invalid_id() -> Result<()> {
    let rt = rt()?;
    let b = Bundle::new("badid")?;
    b.write()?;
    for id in ["../stockade-e2e-escape", "a/b", ""] {
        fails(&rt.cmd(&["create", "--bundle", &b.path_str(), id])?)?;
    }
    let outside = rt
        .root()
        .parent()
        .context("root parent")?
        .join("stockade-e2e-escape");
    ensure!(
        !outside.exists(),
        "an id with `..` created {}",
        outside.display()
    );
    ensure!(
        fs::read_dir(rt.root())?.next().is_none(),
        "an invalid id created state"
    );
    Ok(())
}

fn create_makes_resources() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("res")?;
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
    for ns in ["pid", "net", "ipc", "uts", "mnt"] {
        ensure!(
            fs::read_link(format!("/proc/{pid}/ns/{ns}"))?
                != fs::read_link(format!("/proc/self/ns/{ns}"))?,
            "no new {ns} namespace"
        );
    }
    let dirs = cgroup_dirs(&format!("{CGROUP_PREFIX}{}", b.id()));
    ensure!(
        !dirs.is_empty(),
        "no cgroup {CGROUP_PREFIX}{} in any hierarchy",
        b.id()
    );
    for d in dirs {
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        ensure!(
            procs.lines().any(|l| l.trim() == pid.to_string()),
            "pid {pid} not in {}",
            d.display()
        );
    }
    Ok(())
}

fn status_created() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("stcreated")?;
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    ensure!(
        rt.status(b.id()).as_deref() == Some("created"),
        "status {:?}",
        rt.status(b.id())
    );
    Ok(())
}

fn start_no_id() -> Result<()> {
    fails(&rt()?.cmd(&["start"])?)
}

fn start_missing() -> Result<()> {
    fails(&rt()?.cmd(&["start", &stockade_e2e::bundle::unique_id("missing")])?)
}

fn start_twice() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("start2")?;
    b.sh("echo 'process called' >> /output");
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())?;
    fails(&rt.cmd(&["start", b.id()])?)?;
    std::thread::sleep(Duration::from_millis(300));
    let out = fs::read_to_string(b.rootfs().join("output"))?;
    ensure!(
        out == "process called\n",
        "output after a second start: {out:?}"
    );
    ensure!(
        rt.status(b.id()).as_deref() == Some("stopped"),
        "status changed to {:?}",
        rt.status(b.id())
    );
    Ok(())
}

fn start_runs_process() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("startrun")?;
    b.sh("echo 'process called' >> /output");
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())?;
    let out = fs::read_to_string(b.rootfs().join("output")).unwrap_or_default();
    ensure!(out == "process called\n", "output {out:?}");
    Ok(())
}

fn status_running() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("strunning")?;
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    ensure!(
        rt.status(b.id()).as_deref() == Some("running"),
        "status {:?}",
        rt.status(b.id())
    );
    Ok(())
}

fn start_without_process() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("noproc")?;
    b.remove("/process");
    let _g = rt.guard(b.id());
    let c = rt.create(&b)?;
    if c.ok() {
        fails(&rt.cmd(&["start", b.id()])?)?;
    }
    Ok(())
}
