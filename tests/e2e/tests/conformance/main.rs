// SPDX-License-Identifier: Apache-2.0
//! OCI runtime-spec conformance (black-box, root): one case per normative clause of
//! runtime.md, config.md, config-linux.md and runtime-linux.md that applies to a Linux runtime,
//! each named after the clause it checks, run against `$OCI_RUNTIME` (default: the built
//! `stockade-oci`). Custom harness: every case runs, `PASS/FAIL/SKIP` per clause, a summary
//! line, non-zero exit on any failure. Filter: `cargo test --test conformance -- <substring>`.
//! Each case notes the opencontainers/runtime-tools `validation/` programs it mirrors.

mod cgroups;
mod config;
mod create_start;
mod devices;
mod hook_failures;
mod hooks;
mod kill_delete;
mod linux;
mod namespaces;
mod process;
mod runtime_tools;
mod spec12;
mod state;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, ensure};
use serde_json::Value;
use stockade_e2e::{Bundle, Output, Runtime, probe};

/// The runtime under test (fresh private state root).
pub fn rt() -> Result<Runtime> {
    Runtime::from_env()
}

/// A bundle whose process sleeps (a container that stays `running`).
pub fn sleeper(tag: &str) -> Result<Bundle> {
    let mut b = Bundle::new(tag)?;
    b.args(&["sleep", "300"]);
    Ok(b)
}

/// `create` then `start`; both must succeed.
pub fn started(rt: &Runtime, b: &Bundle) -> Result<()> {
    rt.create(b)?.check()?;
    rt.cmd(&["start", b.id()])?.check()?;
    Ok(())
}

/// Waits for `stopped` (10 s).
pub fn stopped(rt: &Runtime, id: &str) -> Result<()> {
    ensure!(
        rt.wait_status(id, "stopped", Duration::from_secs(10)),
        "{id} did not reach `stopped` (status {:?})",
        rt.status(id)
    );
    Ok(())
}

/// The command must fail (exit non-zero, not killed at the timeout).
pub fn fails(o: &Output) -> Result<()> {
    ensure!(o.status.is_some(), "`{}` hung until the timeout", o.cmdline);
    ensure!(
        !o.ok(),
        "`{}` succeeded but must fail (stdout {:?})",
        o.cmdline,
        o.stdout.trim()
    );
    Ok(())
}

/// `create` of this bundle must fail, and nothing of the container may remain.
pub fn create_fails(rt: &Runtime, b: &Bundle) -> Result<()> {
    let _g = rt.guard(b.id());
    fails(&rt.create(b)?)?;
    ensure!(
        rt.state(b.id()).is_err(),
        "failed create left container {} behind",
        b.id()
    );
    Ok(())
}

/// Runs `/probe ARGS` in a fresh bundle edited by `edit` (which may replace the process),
/// returns the JSON it printed.
pub fn probe_with(args: &[&str], edit: impl FnOnce(&mut Bundle)) -> Result<Value> {
    let rt = rt()?;
    let mut b = Bundle::new("conf")?;
    b.probe(args);
    edit(&mut b);
    let _g = rt.guard(b.id());
    probe::parse(&rt.run(&b)?)
}

/// The mountinfo line (split in fields) whose mount point is `mp` (last one wins).
pub fn mount_of<'a>(facts: &'a Value, mp: &str) -> Option<Vec<&'a str>> {
    facts["mountinfo"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .rfind(|f| f.len() > 4 && f[4] == mp)
}

/// Per-mount options (field 6) and super options (after ` - `) of a mountinfo line.
pub fn mount_opts(fields: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = fields
        .get(5)
        .map(|o| o.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(i) = fields.iter().position(|f| *f == "-") {
        v.extend(
            fields
                .get(i + 3)
                .map(|o| o.split(',').map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
    }
    v
}

fn main() -> ExitCode {
    let mut cases = Vec::new();
    for part in [
        state::CASES,
        create_start::CASES,
        kill_delete::CASES,
        hooks::CASES,
        hook_failures::CASES,
        config::CASES,
        process::CASES,
        namespaces::CASES,
        devices::CASES,
        linux::CASES,
        spec12::CASES,
        runtime_tools::CASES,
        cgroups::CASES,
    ] {
        cases.extend_from_slice(part);
    }
    if stockade_testutil::is_root()
        && let Err(e) = Runtime::from_env()
    {
        eprintln!("conformance: {e:#}");
        return ExitCode::FAILURE;
    }
    stockade_e2e::harness::main("conformance", &cases)
}
