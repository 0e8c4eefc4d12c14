// SPDX-License-Identifier: Apache-2.0
//! The leak test: many create/start/kill/delete cycles leave nothing behind.

use std::time::Duration;

use anyhow::{Context, ensure};
use stockade_e2e::bundle::CGROUP_PREFIX;
use stockade_e2e::{Bundle, Scope, Snapshot};
use stockade_testutil::require_root;

use crate::{check, rt};

fn cycles() -> usize {
    std::env::var("E2E_LEAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

#[test]
fn create_start_kill_delete_cycles_leave_nothing() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("leak")?;
        b.args(&["sleep", "300"]);
        let base = b.id().to_string();
        let s = Scope::new()
            .path(b.path())
            .state_root(rt.root())
            .name(&format!("{CGROUP_PREFIX}{base}"));
        let before = Snapshot::take(&s);
        for i in 0..cycles() {
            b.set_id(&format!("{base}-{i}"));
            let _g = rt.guard(b.id());
            rt.create(&b)?.check()?;
            rt.cmd(&["start", b.id()])?.check()?;
            rt.cmd(&["kill", b.id(), "KILL"])?.check()?;
            ensure!(
                rt.wait_status(b.id(), "stopped", Duration::from_secs(10)),
                "cycle {i}: not stopped after KILL"
            );
            rt.cmd(&["delete", b.id()])?
                .check()
                .with_context(|| format!("cycle {i}"))?;
        }
        let added = before.added(&Snapshot::take(&s));
        ensure!(
            added.is_empty(),
            "after {} cycles, left behind: {added:#?}",
            cycles()
        );
        Ok(())
    });
}
