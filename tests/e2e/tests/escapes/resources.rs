// SPDX-License-Identifier: Apache-2.0
//! RES-01 (fork/thread bombs, fd exhaustion), RES-02 (memory incl. tmpfs and /dev/shm),
//! RES-06 (teardown leaves nothing, even after the runtime is SIGKILLed).

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use stockade_e2e::bundle::CGROUP_PREFIX;
use stockade_e2e::{Bundle, Runtime, Scope, Snapshot, probe};
use stockade_testutil::require_root;

use crate::{check, iters, rt, start, userns};

fn cg(ctl: &str, b: &Bundle, file: &str) -> String {
    fs::read_to_string(format!(
        "/sys/fs/cgroup/{ctl}/{CGROUP_PREFIX}{}/{file}",
        b.id()
    ))
    .unwrap_or_default()
    .trim()
    .to_string()
}

fn tenant(rt: &Runtime, tag: &str) -> Result<Bundle> {
    let mut b = Bundle::new(tag)?;
    b.args(&["/probe", "sleep", "600000"])
        .set("/linux/resources/pids", json!({ "limit": 256 }));
    b.set(
        "/process/rlimits",
        json!([{ "type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024 }]),
    );
    start(rt, &b)?;
    Ok(b)
}

#[test]
fn res01_fork_thread_and_fd_bombs_are_contained() {
    require_root!();
    check(|| {
        let rt = rt();
        let (a, b) = (tenant(&rt, "res01-a")?, tenant(&rt, "res01-b")?);
        let (_ga, _gb) = (rt.guard(a.id()), rt.guard(b.id()));
        // Both tenants bomb at once; the host keeps spawning meanwhile.
        let (fa, fb, host) = std::thread::scope(|s| {
            let ta = s.spawn(|| probe::exec(&rt, a.id(), &[], &["fork-bomb", "100000"]));
            let tb = s.spawn(|| probe::exec(&rt, b.id(), &[], &["fork-bomb", "100000"]));
            let t0 = Instant::now();
            let host = std::process::Command::new("true")
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            let lat = t0.elapsed();
            (ta.join(), tb.join(), (host, lat))
        });
        let (fa, fb) = (
            fa.map_err(|_| anyhow::anyhow!("thread"))??,
            fb.map_err(|_| anyhow::anyhow!("thread"))??,
        );
        eprintln!(
            "RES-01: tenant A forked {}, B forked {}, host `true` {:?} during the bombs",
            fa["forked"], fb["forked"], host.1
        );
        ensure!(
            host.0,
            "the host could not spawn `true` during the fork bombs"
        );
        for (n, f, t) in [("A", &fa, &a), ("B", &fb, &b)] {
            ensure!(
                f["stopped_by"] == "EAGAIN"
                    && f["forked"]
                        .as_u64()
                        .is_some_and(|x| (100..256).contains(&x)),
                "tenant {n}: {f}"
            );
            ensure!(
                cg("pids", t, "pids.events")
                    .split_whitespace()
                    .nth(1)
                    .and_then(|x| x.parse::<u64>().ok())
                    .is_some_and(|x| x > 0),
                "tenant {n}: pids.events {:?}",
                cg("pids", t, "pids.events")
            );
        }
        let th = probe::exec(&rt, a.id(), &[], &["thread-bomb", "100000"])?;
        ensure!(
            th["stopped_by"] == "EAGAIN" && th["threads"].as_u64().is_some_and(|x| x < 256),
            "thread bomb: {th}"
        );
        let fd = probe::exec(&rt, a.id(), &[], &["fd-exhaust"])?;
        ensure!(
            fd["stopped_by"] == "EMFILE" && fd["opened"].as_u64().is_some_and(|x| x <= 1024),
            "fd exhaustion: {fd}"
        );
        // kill removes every task.
        rt.cmd(&["kill", a.id(), "KILL"])?.check()?;
        ensure!(
            rt.wait_status(a.id(), "stopped", Duration::from_secs(10)),
            "not stopped"
        );
        std::thread::sleep(Duration::from_millis(200));
        ensure!(
            cg("pids", &a, "cgroup.procs").is_empty(),
            "tasks left after kill: {}",
            cg("pids", &a, "cgroup.procs")
        );
        Ok(())
    });
}

#[test]
fn res01_pids_limit_edge_values() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("res01-unlimited")?;
        b.args(&["sleep", "300"])
            .set("/linux/resources/pids", json!({ "limit": -1 }));
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        ensure!(
            cg("pids", &b, "pids.max") == "max",
            "limit -1: pids.max {:?}",
            cg("pids", &b, "pids.max")
        );
        let mut z = Bundle::new("res01-zero")?;
        z.set("/linux/resources/pids", json!({ "limit": 0 }));
        let v = probe::run_args(&rt, &mut z, &["fork-bomb", "10"])?;
        ensure!(
            v["forked"] == 0,
            "limit 0 (means 1: the init alone) still forked: {v}"
        );
        Ok(())
    });
}

fn mem_available_mib() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |k| k / 1024)
}

#[test]
fn res02_memory_is_contained_including_tmpfs_and_shm() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("res02")?;
        let lim = 128u64 << 20;
        b.args(&["/probe", "sleep", "600000"]).set(
            "/linux/resources/memory",
            json!({ "limit": lim, "swap": lim }),
        );
        if let Some(Value::Array(ms)) = b.config_mut().pointer_mut("/mounts") {
            for m in ms.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
                m["options"] = json!(["nosuid", "noexec", "nodev", "mode=1777", "size=64m"]);
            }
        }
        b.mount("/tmp", "tmpfs", "tmpfs", &["size=256m"]);
        let _g = rt.guard(b.id());
        start(&rt, &b)?;
        let floor = 1024;
        let o = rt.cmd(&["exec", b.id(), "/probe", "alloc", "1024"])?;
        ensure!(
            o.code() == 137,
            "allocating 1 GiB under 128 MiB: exit {} ({})",
            o.code(),
            o.stdout.trim()
        );
        let oom = cg("memory", &b, "memory.oom_control");
        ensure!(
            oom.lines()
                .find_map(|l| l.strip_prefix("oom_kill "))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n >= 1),
            "oom_control: {oom}"
        );
        // (With memsw limited, this kernel counts the OOM but not failcnt: check the peak.)
        let peak: u64 = cg("memory", &b, "memory.max_usage_in_bytes")
            .parse()
            .unwrap_or(u64::MAX);
        ensure!(peak <= lim, "memory peak {peak} above the {lim} limit");
        ensure!(
            rt.status(b.id()).as_deref() == Some("running"),
            "the OOM kill took the container's init too"
        );
        let shm = probe::exec(&rt, b.id(), &[], &["fill", "/dev/shm/f", "1024"])?;
        ensure!(
            shm["stopped_by"] == "ENOSPC" && shm["bytes"].as_u64().is_some_and(|n| n <= 64 << 20),
            "/dev/shm fill: {shm}"
        );
        let usage: u64 = cg("memory", &b, "memory.usage_in_bytes")
            .parse()
            .unwrap_or(0);
        ensure!(
            usage >= 60 << 20,
            "64 MiB in /dev/shm not charged to the container (usage {usage})"
        );
        let o = rt.cmd(&["exec", b.id(), "/probe", "fill", "/tmp/f", "1024"])?;
        let tmp = probe::parse(&o).ok();
        let contained = o.code() == 137
            || tmp.as_ref().is_some_and(|t| {
                !t["stopped_by"].is_null() && t["bytes"].as_u64().is_some_and(|n| n <= lim)
            });
        ensure!(
            contained,
            "/tmp fill past the memory limit: exit {} {:?}",
            o.code(),
            tmp
        );
        let _ = rt.cmd(&["exec", b.id(), "sh", "-c", "rm -f /tmp/f /dev/shm/f"])?;
        let many = probe::exec(
            &rt,
            b.id(),
            &[],
            &[
                "many-files",
                "/tmp",
                &iters("E2E_RES02_FILES", 200_000).to_string(),
            ],
        );
        eprintln!(
            "RES-02: many files: {:?}; MemAvailable {} MiB",
            many.as_ref().map(ToString::to_string),
            mem_available_mib()
        );
        let usage: u64 = cg("memory", &b, "memory.usage_in_bytes")
            .parse()
            .unwrap_or(u64::MAX);
        ensure!(
            usage <= lim,
            "usage {usage} above the limit after many files"
        );
        ensure!(
            mem_available_mib() > floor,
            "host MemAvailable fell to {} MiB",
            mem_available_mib()
        );
        let mut other = Bundle::new("res02-other")?;
        other.set("/linux/resources/memory", json!({ "limit": lim }));
        probe::run(&rt, &other).context("the other tenant could not run")?;
        Ok(())
    });
}

/// A container with every feature this runtime offers to a tenant.
fn full_featured(i: usize) -> Result<Bundle> {
    let mut b = Bundle::new(&format!("res06-{i}"))?;
    userns(&mut b);
    b.args(&["sleep", "600"])
        .set("/linux/resources/pids", json!({ "limit": 64 }))
        .set("/linux/resources/memory", json!({ "limit": 64u64 << 20 }));
    b.set("/linux/seccomp", json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["keyctl"], "action": "SCMP_ACT_ERRNO" }] }));
    b.hook("poststop", stockade_e2e::host_busybox(), &["true"]);
    Ok(b)
}

#[test]
fn res06_teardown_leaves_nothing_even_after_sigkill() {
    require_root!();
    check(|| {
        let rt = rt();
        let n = iters("E2E_RES06_CONTAINERS", 50);
        let bundles: Vec<Bundle> = (0..n).map(full_featured).collect::<Result<_>>()?;
        let mut scope = Scope::new().state_root(rt.root());
        for b in &bundles {
            scope = scope
                .path(b.path())
                .name(&format!("{CGROUP_PREFIX}{}", b.id()));
        }
        let before = Snapshot::take(&scope);
        let guards: Vec<_> = bundles.iter().map(|b| rt.guard(b.id())).collect();
        for (i, b) in bundles.iter().enumerate() {
            if i % 5 == 4 {
                // The runtime itself dies (SIGKILL) while it runs the container in the foreground.
                b.write()?;
                let mut child = std::process::Command::new(rt.bin())
                    .arg("--root")
                    .arg(rt.root())
                    .args(["run", "--bundle", &b.path_str(), b.id()])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()?;
                let _ = rt.wait_status(b.id(), "running", Duration::from_secs(10));
                let _ = child.kill();
                let _ = child.wait();
            } else {
                start(&rt, b)?;
            }
        }
        let list = rt.cmd(&["list", "-q"])?;
        for id in list.stdout.lines().filter(|l| !l.is_empty()) {
            rt.cmd(&["delete", "-f", id])?.check()?;
        }
        std::thread::sleep(Duration::from_millis(300));
        let added = before.added(&Snapshot::take(&scope));
        drop(guards);
        ensure!(
            added.is_empty(),
            "after deleting {n} containers (every 5th runtime SIGKILLed): {added:#?}"
        );
        Ok(())
    });
}

#[test]
fn res06_refuses_non_empty_and_frozen_cgroups() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut problems = Vec::new();
        // Non-empty: a host process already lives in the cgroup the config names.
        let b = Bundle::new("res06-busy")?;
        let dir =
            std::path::PathBuf::from(format!("/sys/fs/cgroup/pids/{CGROUP_PREFIX}{}", b.id()));
        fs::create_dir(&dir)?;
        let mut squatter = std::process::Command::new("sleep").arg("300").spawn()?;
        fs::write(dir.join("cgroup.procs"), squatter.id().to_string())?;
        let _g = rt.guard(b.id());
        if rt.create(&b)?.ok() {
            problems.push("create accepted a non-empty cgroup");
        }
        let _ = squatter.kill();
        let _ = squatter.wait();
        drop(_g);
        // Frozen: the freezer cgroup the config names is FROZEN.
        let f = Bundle::new("res06-frozen")?;
        let fdir =
            std::path::PathBuf::from(format!("/sys/fs/cgroup/freezer/{CGROUP_PREFIX}{}", f.id()));
        fs::create_dir(&fdir)?;
        fs::write(fdir.join("freezer.state"), "FROZEN")?;
        let _gf = rt.guard(f.id());
        let o = rt.create(&f)?;
        if o.ok() {
            problems.push("create accepted a frozen cgroup");
        }
        ensure!(problems.is_empty(), "{problems:?}");
        Ok(())
    });
}
