// SPDX-License-Identifier: Apache-2.0
//! Operations: exit codes and signals, hooks, exec, pause/resume.

use std::fs;
use std::time::Duration;

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use stockade_e2e::{Bundle, host_busybox, probe};
use stockade_testutil::require_root;

use crate::{cg_read, check, rt};

#[test]
fn exit_codes_and_signals_propagate() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("exit")?;
        b.sh("exit 3");
        let _g = rt.guard(b.id());
        ensure!(rt.run(&b)?.code() == 3, "run of `exit 3` did not return 3");
        // `kill` while `run` waits: SIGKILL -> 128+9; a trapped SIGTERM -> the trap's code.
        for (sig, script, want) in [
            ("KILL", "sleep 300", 137),
            ("TERM", "trap 'exit 7' TERM; sleep 300 & wait", 7),
        ] {
            let mut b = Bundle::new("sig")?;
            b.sh(script);
            let _g = rt.guard(b.id());
            let o = std::thread::scope(|s| {
                s.spawn(|| {
                    if rt.wait_status(b.id(), "running", Duration::from_secs(20)) {
                        std::thread::sleep(Duration::from_millis(300)); // let the trap be set
                        let _ = rt.cmd(&["kill", b.id(), sig]);
                    }
                });
                rt.run(&b)
            })?;
            ensure!(
                o.code() == want,
                "run killed by {sig}: exit {} (want {want}): {}",
                o.code(),
                o.stderr.trim()
            );
        }
        Ok(())
    });
}

#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("hooks")?;
        let host_dir = b.rootfs().join("tmp/hooks");
        fs::create_dir_all(&host_dir)?;
        let hd = host_dir.to_string_lossy().into_owned();
        let kinds = [
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ];
        for k in kinds {
            // startContainer runs inside the container (after pivot_root): container path.
            let (path, dir) = if k == "startContainer" {
                ("/bin/busybox", "/tmp/hooks")
            } else {
                (host_busybox(), hd.as_str())
            };
            b.hook(
                k,
                path,
                &[
                    "sh",
                    "-c",
                    &format!("cat > {dir}/{k}.json; echo {k} >> {dir}/order"),
                ],
            );
        }
        b.set("/annotations", json!({ "org.stockade.e2e": "hooks" }));
        b.args(&["true"]);
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        let pid = rt.state(b.id())?["pid"].clone();
        rt.cmd(&["start", b.id()])?.check()?;
        ensure!(
            rt.wait_status(b.id(), "stopped", Duration::from_secs(10)),
            "container did not stop"
        );
        rt.cmd(&["delete", b.id()])?.check()?;
        let order = fs::read_to_string(host_dir.join("order")).unwrap_or_default();
        ensure!(
            order.split_whitespace().collect::<Vec<_>>() == kinds,
            "hook order: {order:?}"
        );
        for k in kinds {
            let s: Value =
                serde_json::from_str(&fs::read_to_string(host_dir.join(format!("{k}.json")))?)
                    .with_context(|| format!("{k} stdin is not the state JSON"))?;
            ensure!(
                s["id"] == b.id() && s["annotations"]["org.stockade.e2e"] == "hooks",
                "{k} state: {s}"
            );
            let bundle = fs::canonicalize(b.path())?;
            ensure!(
                s["bundle"] == json!(bundle.to_string_lossy()),
                "{k} bundle: {}",
                s["bundle"]
            );
            if k != "poststop" {
                ensure!(s["pid"] == pid, "{k} pid {} != {pid}", s["pid"]);
            }
        }
        Ok(())
    });
}

#[test]
fn exec_joins_the_running_container() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("exec")?;
        b.args(&["/probe", "sleep", "300000"]);
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        rt.cmd(&["start", b.id()])?.check()?;
        let init = rt.state(b.id())?["pid"].as_i64().context("pid")?;
        let f = probe::exec(&rt, b.id(), &[], &["facts"])?;
        for ns in ["pid", "net", "ipc", "uts", "mnt"] {
            let host_view = fs::read_link(format!("/proc/{init}/ns/{ns}"))?;
            ensure!(
                f["ns"][ns] == json!(host_view.to_string_lossy()),
                "exec'd process not in init's {ns} namespace"
            );
        }
        ensure!(
            f["pid"] != 1 && f["hostname"] == "stockade-e2e",
            "exec facts: pid {} host {}",
            f["pid"],
            f["hostname"]
        );
        let o = rt.cmd(&["exec", b.id(), "sh", "-c", "echo out; exit 5"])?;
        ensure!(
            o.code() == 5 && o.stdout.trim() == "out",
            "exec exit {} stdout {:?}",
            o.code(),
            o.stdout
        );
        Ok(())
    });
}

#[test]
fn pause_freezes_and_resume_thaws() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("pause")?;
        b.args(&["sleep", "300"]);
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        rt.cmd(&["start", b.id()])?.check()?;
        rt.cmd(&["pause", b.id()])?.check()?;
        ensure!(
            rt.status(b.id()).as_deref() == Some("paused"),
            "status after pause: {:?}",
            rt.status(b.id())
        );
        ensure!(
            cg_read("freezer", b.id(), "freezer.state") == "FROZEN",
            "freezer.state after pause"
        );
        rt.cmd(&["resume", b.id()])?.check()?;
        ensure!(
            rt.status(b.id()).as_deref() == Some("running"),
            "status after resume: {:?}",
            rt.status(b.id())
        );
        ensure!(
            cg_read("freezer", b.id(), "freezer.state") == "THAWED",
            "freezer.state after resume"
        );
        ensure!(
            rt.cmd(&["exec", b.id(), "true"])?.ok(),
            "exec after resume failed"
        );
        Ok(())
    });
}
