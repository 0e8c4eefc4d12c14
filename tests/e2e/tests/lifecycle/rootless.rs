// SPDX-License-Identifier: Apache-2.0
//! Rootless: the runtime itself runs as an unprivileged user (created for the test).

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use stockade_e2e::{Bundle, Defer, Runtime, host_sh, probe};
use stockade_testutil::require_root;

use crate::check;

const USER: &str = "stockade-e2e";

/// (uid, gid) of the test user, creating it when missing; the guard deletes it if we made it.
fn test_user() -> Result<((u32, u32), Defer<impl FnMut()>)> {
    let created = if host_sh(&format!("id -u {USER}")).0 {
        false
    } else {
        let (ok, out) = host_sh(&format!(
            "useradd --no-create-home --shell /usr/sbin/nologin {USER}"
        ));
        if !ok {
            bail!("useradd {USER}: {out}");
        }
        true
    };
    let guard = Defer(move || {
        if created {
            let _ = host_sh(&format!("userdel {USER}"));
        }
    });
    let id = |flag: &str| -> Result<u32> {
        host_sh(&format!("id {flag} {USER}"))
            .1
            .trim()
            .parse()
            .context("id of the test user")
    };
    Ok(((id("-u")?, id("-g")?), guard))
}

/// Turns the template into a rootless config mapping container root to `uid:gid`.
fn rootless(b: &mut Bundle, uid: u32, gid: u32) {
    b.remove("/linux/cgroupsPath").remove("/linux/resources");
    b.push("/linux/namespaces", json!({ "type": "user" }));
    b.set(
        "/linux/uidMappings",
        json!([{ "containerID": 0, "hostID": uid, "size": 1 }]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{ "containerID": 0, "hostID": gid, "size": 1 }]),
    );
    if let Some(Value::Array(ms)) = b.config_mut().pointer_mut("/mounts") {
        for m in ms.iter_mut() {
            if m["destination"] == "/dev/pts" {
                m["options"] = json!([
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620"
                ]);
            }
            if m["destination"] == "/sys" {
                *m = json!({ "destination": "/sys", "type": "none", "source": "/sys",
                             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] });
            }
        }
    }
}

#[test]
fn rootless_run_as_an_unprivileged_user() {
    require_root!();
    check(|| {
        let ((uid, gid), _user) = test_user()?;
        let rt = Runtime::from_env()?.as_user(uid, gid)?;
        let mut b = Bundle::new("rootless")?;
        rootless(&mut b, uid, gid);
        b.args(&["/probe", "sleep", "300000"]);
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        rt.cmd(&["start", b.id()])?.check()?;
        ensure!(
            rt.wait_status(b.id(), "running", Duration::from_secs(10)),
            "not running"
        );
        let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let host_uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        ensure!(
            host_uid == uid.to_string(),
            "container init runs as host uid {host_uid}, not {uid}"
        );
        let f = probe::exec(&rt, b.id(), &[], &["facts"])?;
        ensure!(f["uid"] == json!([0, 0, 0, 0]), "uid inside: {}", f["uid"]);
        ensure!(
            f["hostname"] == "stockade-e2e",
            "hostname inside: {}",
            f["hostname"]
        );
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map"))?;
        let fields: Vec<&str> = map.split_whitespace().collect();
        ensure!(fields == ["0", &uid.to_string(), "1"], "uid_map {map:?}");
        rt.cmd(&["kill", b.id(), "KILL"])?.check()?;
        ensure!(
            rt.wait_status(b.id(), "stopped", Duration::from_secs(10)),
            "not stopped"
        );
        rt.cmd(&["delete", b.id()])?.check()?;
        Ok(())
    });
}

/// Regression: init used to decide from its own `geteuid()` whether main (unprivileged)
/// writes its id maps; once main had written `uid_map` init saw uid 0, turned non-dumpable
/// and main's `gid_map` open failed with EACCES (a few runs in a hundred). Every one of many
/// back-to-back rootless runs must start and exit cleanly.
#[test]
fn rootless_runs_never_lose_the_id_map_race() {
    require_root!();
    check(|| {
        let ((uid, gid), _user) = test_user()?;
        let rt = Runtime::from_env()?.as_user(uid, gid)?;
        let mut b = Bundle::new("rootless-race")?;
        rootless(&mut b, uid, gid);
        b.args(&["/probe", "facts"]);
        b.write()?;
        let bundle = b.path_str();
        for i in 0..60 {
            let id = format!("{}-{i}", b.id());
            let _g = rt.guard(&id);
            rt.cmd(&["run", "--bundle", &bundle, &id])?
                .check()
                .with_context(|| format!("rootless run {i}"))?;
        }
        Ok(())
    });
}
