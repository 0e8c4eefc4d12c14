// SPDX-License-Identifier: Apache-2.0
//! Cgroup limits that must actually bite: memory (OOM kill) and pids (fork bomb).

use std::time::Duration;

use anyhow::ensure;
use serde_json::json;
use stockade_e2e::{Bundle, probe};
use stockade_testutil::require_root;

use crate::{cg_read, check, rt};

#[test]
fn memory_limit_is_hit_and_oom_kills_inside() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("oom")?;
        b.set("/linux/resources/memory", json!({ "limit": 64u64 << 20 }));
        b.probe(&["alloc", "1024"]);
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        ensure!(
            cg_read("memory", b.id(), "memory.limit_in_bytes") == (64u64 << 20).to_string(),
            "memory.limit_in_bytes not 64 MiB"
        );
        rt.cmd(&["start", b.id()])?.check()?;
        ensure!(
            rt.wait_status(b.id(), "stopped", Duration::from_secs(60)),
            "allocating 1 GiB under 64 MiB never stopped"
        );
        let oom = cg_read("memory", b.id(), "memory.oom_control");
        let kills: u64 = oom
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        ensure!(kills >= 1, "no OOM kill recorded: {oom}");
        ensure!(
            cg_read("memory", b.id(), "memory.failcnt") != "0",
            "memory.failcnt is 0"
        );
        Ok(())
    });
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("pids")?;
        b.set("/linux/resources/pids", json!({ "limit": 32 }));
        let v = probe::run_args(&rt, &mut b, &["fork-bomb", "2000"])?;
        let forked = v["forked"].as_u64().unwrap_or(u64::MAX);
        ensure!(
            forked < 32 && v["stopped_by"] == "EAGAIN",
            "fork bomb under pids.max=32: {v}"
        );
        Ok(())
    });
}

#[test]
fn update_changes_limits_of_a_running_container() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("update")?;
        b.set("/linux/resources/pids", json!({ "limit": 200 }));
        b.set("/linux/resources/memory", json!({ "limit": 256u64 << 20 }));
        b.args(&["sleep", "300"]);
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        rt.cmd(&["start", b.id()])?.check()?;
        rt.cmd(&["update", "--pids-limit", "10", "--memory", "128M", b.id()])?
            .check()?;
        ensure!(
            cg_read("pids", b.id(), "pids.max") == "10",
            "pids.max after update: {}",
            cg_read("pids", b.id(), "pids.max")
        );
        let mem = cg_read("memory", b.id(), "memory.limit_in_bytes");
        ensure!(
            mem == (128u64 << 20).to_string(),
            "memory.limit_in_bytes after update: {mem}"
        );
        let v = probe::exec(&rt, b.id(), &[], &["fork-bomb", "100"])?;
        ensure!(
            v["forked"].as_u64().is_some_and(|n| n < 10),
            "fork bomb after update to 10: {v}"
        );
        Ok(())
    });
}
