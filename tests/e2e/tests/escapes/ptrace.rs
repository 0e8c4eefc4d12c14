// SPDX-License-Identifier: Apache-2.0
//! ESC-04: exec helpers cannot be ptraced or read before they become the payload
//! (CVE-2016-9962).

use anyhow::{Result, ensure};
use serde_json::json;
use stockade_e2e::Bundle;
use stockade_e2e::bundle::TEMPLATE_CAPS;
use stockade_testutil::require_root;

use crate::{check, iters, rt, start, stop_and_collect};

fn observe(with_ptrace: bool) -> Result<()> {
    let rt = rt();
    let mut b = Bundle::new("esc04")?;
    if with_ptrace {
        let mut caps: Vec<&str> = TEMPLATE_CAPS.to_vec();
        caps.push("CAP_SYS_PTRACE");
        b.set(
            "/process/capabilities",
            json!({ "bounding": caps, "effective": caps, "permitted": caps }),
        );
    }
    b.args(&["/probe", "ptrace-watch", "600000", "/tmp/stop"]);
    let _g = rt.guard(b.id());
    let (_, c) = start(&rt, &b)?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let n = iters("E2E_EXEC_ITERS", 200);
    for _ in 0..n {
        let _ = rt.cmd(&["exec", b.id(), "/bin/true"])?;
    }
    let v = stop_and_collect(&rt, &b, &c)?;
    eprintln!(
        "ESC-04 (CAP_SYS_PTRACE: {with_ptrace}): {n} execs, {} new pids, {} caught before exec",
        v["new_pids"], v["caught_before_exec"]
    );
    ensure!(
        v["host_fds"].as_array().is_some_and(Vec::is_empty),
        "host fds seen in exec helpers: {}",
        v["host_fds"]
    );
    ensure!(
        v["violations"].as_array().is_some_and(Vec::is_empty),
        "exec helpers observable before becoming the payload: {}",
        v["violations"]
    );
    Ok(())
}

#[test]
fn esc04_exec_helper_not_observable() {
    require_root!();
    check(|| observe(false));
}

#[test]
fn esc04_exec_helper_not_observable_with_cap_sys_ptrace() {
    require_root!();
    check(|| observe(true));
}
