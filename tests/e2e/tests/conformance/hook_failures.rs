// SPDX-License-Identifier: Apache-2.0
//! runtime.md#lifecycle: what a failing hook of each kind must do.

use anyhow::{Result, ensure};
use stockade_e2e::harness::{Case, case};
use stockade_e2e::{Bundle, host_busybox};

use crate::hooks::{read, sh_hook};
use crate::{fails, rt, started, stopped};

pub const CASES: &[Case] = &[
    case(
        "runtime.md#lifecycle",
        "MUST",
        "failing prestart: error, no user code, container destroyed, poststop run",
        &["prestart_fail"],
        fail_prestart,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST",
        "failing createRuntime: error, no user code, container destroyed, poststop run",
        &[],
        fail_create_runtime,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST",
        "failing createContainer: error, no user code, container destroyed, poststop run",
        &[],
        fail_create_container,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST",
        "failing startContainer: error, no user code, container destroyed, poststop run",
        &[],
        fail_start_container,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST",
        "failing poststart: warning only, remaining hooks and lifecycle continue",
        &["poststart_fail"],
        fail_poststart,
    ),
    case(
        "runtime.md#lifecycle",
        "MUST",
        "failing poststop: warning only, remaining hooks continue",
        &["poststop_fail"],
        fail_poststop,
    ),
];

/// A failing hook of `kind` (`false`): the operation errors, the user code never runs, the
/// container is destroyed and poststop runs.
fn failing(kind: &str) -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("hookfail")?;
    b.sh("touch /output");
    if kind == "startContainer" {
        b.hook(kind, "/bin/false", &["false"]);
    } else {
        b.hook(kind, host_busybox(), &["false"]);
    }
    sh_hook(&mut b, "poststop", "echo ran > $D/poststop")?;
    let _g = rt.guard(b.id());
    let c = rt.create(&b)?;
    if kind == "startContainer" {
        c.check()?;
        fails(&rt.cmd(&["start", b.id()])?)?;
    } else {
        fails(&c)?;
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    ensure!(
        !b.rootfs().join("output").exists(),
        "the user process ran despite the failing {kind} hook"
    );
    ensure!(
        rt.state(b.id()).is_err(),
        "container still exists (status {:?}) after the failing {kind} hook",
        rt.status(b.id())
    );
    ensure!(
        read(&b, "poststop") == "ran",
        "poststop hooks were not run after the failing {kind} hook"
    );
    Ok(())
}

fn fail_prestart() -> Result<()> {
    failing("prestart")
}

fn fail_create_runtime() -> Result<()> {
    failing("createRuntime")
}

fn fail_create_container() -> Result<()> {
    failing("createContainer")
}

fn fail_start_container() -> Result<()> {
    failing("startContainer")
}

fn fail_poststart() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("poststartfail")?;
    b.sh("echo done > /output");
    b.hook("poststart", host_busybox(), &["false"]);
    sh_hook(&mut b, "poststart", "echo post-start called >> $D/out")?;
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())?;
    ensure!(
        read(&b, "out") == "post-start called",
        "the next poststart hook did not run"
    );
    ensure!(
        b.rootfs().join("output").exists(),
        "the user process did not run"
    );
    rt.cmd(&["delete", b.id()])?.check()?;
    Ok(())
}

fn fail_poststop() -> Result<()> {
    let rt = rt()?;
    let mut b = Bundle::new("poststopfail")?;
    b.args(&["true"]);
    b.hook("poststop", host_busybox(), &["false"]);
    sh_hook(&mut b, "poststop", "echo post-stop called >> $D/out")?;
    let _g = rt.guard(b.id());
    started(&rt, &b)?;
    stopped(&rt, b.id())?;
    rt.cmd(&["delete", b.id()])?.check()?;
    ensure!(
        read(&b, "out") == "post-stop called",
        "the next poststop hook did not run"
    );
    ensure!(rt.state(b.id()).is_err(), "container not deleted");
    Ok(())
}
