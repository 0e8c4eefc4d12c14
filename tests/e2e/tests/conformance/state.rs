// SPDX-License-Identifier: Apache-2.0
//! runtime.md: scope, state, lifecycle, errors and query-state; the CLI pid file.

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::json;
use stockade_e2e::bundle::CGROUP_PREFIX;
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, Scope, Snapshot};

use crate::{create_fails, fails, rt, sleeper, started, stopped};

pub const CASES: &[Case] = &[
    case(
        "runtime.md#scope-of-a-container",
        "MUST",
        "the creator can use every operation on its container",
        &["kill", "delete", "state"],
        scope_all_ops,
    ),
    case(
        "runtime.md#state",
        "MUST",
        "state has ociVersion, id, status, pid, bundle (absolute) and annotations",
        &["state"],
        state_fields,
    ),
    case(
        "runtime.md#state",
        "MUST",
        "pid is the container process as seen by the host",
        &["state", "pidfile"],
        state_pid,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST NOT",
        "user code is not run by create",
        &["start"],
        create_runs_no_user_code,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST",
        "create errors when the environment cannot be created",
        &[],
        create_env_failure,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST NOT",
        "config.json edits after create do not affect the container",
        &["config_updates_without_affect"],
        config_updates,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST",
        "delete destroys the container (state, process, mounts)",
        &["delete_resources"],
        delete_undoes_create,
    ),
    case(
        "runtime.md#errors",
        "MUST",
        "a failed create leaves the environment as if never attempted",
        &["misc_props"],
        error_leaves_nothing,
    ),
    case(
        "runtime.md#query-state",
        "MUST",
        "state without an id fails",
        &["state"],
        state_no_id,
    ),
    case(
        "runtime.md#query-state",
        "MUST",
        "state of a missing container fails",
        &["state"],
        state_missing,
    ),
    case(
        "command-line-interface.md#create",
        "FIELD",
        "create --pid-file writes the container pid",
        &["pidfile"],
        pid_file,
    ),
];

fn scope_all_ops() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("scope")?;
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    rt.state(b.id())?;
    rt.cmd(&["kill", b.id(), "KILL"])?.check()?;
    stopped(&rt, b.id())?;
    rt.cmd(&["delete", b.id()])?.check()?;
    Ok(())
}

fn state_fields() -> Result<()> {
    let rt = rt()?;
    let mut b = sleeper("state")?;
    b.set("/annotations", json!({ "org.stockade.e2e.key": "value" }));
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    let s = rt.state(b.id())?;
    let ver = s["ociVersion"].as_str().unwrap_or("");
    ensure!(
        ver.split('.').count() >= 3 && ver.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "ociVersion {ver:?}"
    );
    ensure!(s["id"] == b.id(), "id {}", s["id"]);
    ensure!(s["status"] == "created", "status {}", s["status"]);
    ensure!(s["pid"].as_i64().is_some_and(|p| p > 0), "pid {}", s["pid"]);
    let bundle = fs::canonicalize(b.path())?;
    ensure!(
        s["bundle"] == json!(bundle.to_string_lossy()),
        "bundle {} (want {})",
        s["bundle"],
        bundle.display()
    );
    ensure!(
        s["annotations"]["org.stockade.e2e.key"] == "value",
        "annotations {}",
        s["annotations"]
    );
    Ok(())
}

fn state_pid() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("statepid")?;
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("no pid")?;
    let ns = fs::read_link(format!("/proc/{pid}/ns/pid")).context("state pid does not exist")?;
    ensure!(
        ns != fs::read_link("/proc/self/ns/pid")?,
        "pid {pid} is in the host pid namespace"
    );
    let cmd = fs::read_to_string(format!("/proc/{pid}/cmdline"))?.replace('\0', " ");
    ensure!(
        cmd.trim() == "sleep 300",
        "pid {pid} runs {cmd:?}, not the container process"
    );
    Ok(())
}

fn create_runs_no_user_code() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("nouser")?;
    b.sh("echo ran > /marker");
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        !b.rootfs().join("marker").exists(),
        "process ran during create"
    );
    rt.cmd(&["start", b.id()])?.check()?;
    stopped(&rt, b.id())?;
    ensure!(
        b.rootfs().join("marker").exists(),
        "process did not run at start"
    );
    Ok(())
}

fn create_env_failure() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("envfail")?;
    b.mount(
        "/mnt",
        "bind",
        "/nonexistent/stockade-e2e-source",
        &["bind"],
    );
    create_fails(&rt, &b)
}

fn config_updates() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("cfgupd")?;
    b.sh("echo original > /out");
    let _g = rt.guard(b.id());
    rt.create(&b)?.check()?;
    fs::write(
        b.path().join("config.json"),
        r#"{"ociVersion":"1.0.2","process":{"args":["/bin/sh","-c","echo changed > /out"],"cwd":"/"},"root":{"path":"nowhere"}}"#,
    )?;
    rt.cmd(&["start", b.id()])?.check()?;
    stopped(&rt, b.id())?;
    let out = fs::read_to_string(b.rootfs().join("out")).unwrap_or_default();
    ensure!(
        out.trim() == "original",
        "container ran {out:?} after config.json was edited"
    );
    Ok(())
}

fn delete_undoes_create() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("undo")?;
    let s = Scope::new()
        .path(b.path())
        .state_root(rt.root())
        .name(&format!("{CGROUP_PREFIX}{}", b.id()));
    let before = Snapshot::take(&s);
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
    rt.cmd(&["kill", b.id(), "KILL"])?.check()?;
    stopped(&rt, b.id())?;
    rt.cmd(&["delete", b.id()])?.check()?;
    ensure!(
        rt.state(b.id()).is_err(),
        "state still answers after delete"
    );
    ensure!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || fs::read_to_string(format!("/proc/{pid}/cmdline"))?.is_empty(),
        "process {pid} survives"
    );
    let added = before.added(&Snapshot::take(&s));
    ensure!(added.is_empty(), "left after delete: {added:?}");
    Ok(())
}

fn error_leaves_nothing() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("errnothing")?;
    b.mount(
        "/mnt",
        "bind",
        "/nonexistent/stockade-e2e-source",
        &["bind"],
    );
    let s = Scope::new()
        .path(b.path())
        .state_root(rt.root())
        .name(&format!("{CGROUP_PREFIX}{}", b.id()));
    let before = Snapshot::take(&s);
    let _g = rt.guard(b.id());
    fails(&rt.create(&b)?)?;
    let added = before.added(&Snapshot::take(&s));
    ensure!(added.is_empty(), "a failed create left: {added:?}");
    Ok(())
}

fn state_no_id() -> Result<()> {
    fails(&rt()?.cmd(&["state"])?)
}

fn state_missing() -> Result<()> {
    fails(&rt()?.cmd(&["state", &stockade_e2e::bundle::unique_id("missing")])?)
}

fn pid_file() -> Result<()> {
    let rt = rt()?;
    let b = sleeper("pidfile")?;
    let pf = rt.work().join("pidfile");
    b.write()?;
    let _g = rt.guard(b.id());
    rt.cmd(&[
        "create",
        "--bundle",
        &b.path_str(),
        "--pid-file",
        &pf.to_string_lossy(),
        b.id(),
    ])?
    .check()?;
    let text = fs::read_to_string(&pf).context("no pid file")?;
    let pid: i64 = text
        .trim()
        .parse()
        .with_context(|| format!("pid file {text:?}"))?;
    ensure!(
        rt.state(b.id())?["pid"] == pid,
        "pid file {pid} != state pid"
    );
    Ok(())
}
