// SPDX-License-Identifier: Apache-2.0
//! Bad input: one-line error naming the file or id, non-zero exit, nothing left behind.

use anyhow::{Result, ensure};
use serde_json::json;
use stockade_e2e::{Bundle, Output, Runtime, Scope, Snapshot};
use stockade_testutil::require_root;

use crate::{check, rt};

fn scope(rt: &Runtime, b: &Bundle) -> Scope {
    Scope::new()
        .path(b.path())
        .state_root(rt.root())
        .name(&format!(
            "{}{}",
            stockade_e2e::bundle::CGROUP_PREFIX,
            b.id()
        ))
}

/// The error contract: failed, one stderr line, naming `what`.
fn one_line_error(o: &Output, what: &str) -> Result<()> {
    ensure!(!o.ok(), "`{}` succeeded", o.cmdline);
    let lines = o.stderr_lines();
    ensure!(
        lines.len() == 1,
        "`{}` printed {} stderr lines: {:?}",
        o.cmdline,
        lines.len(),
        o.stderr
    );
    ensure!(
        lines[0].contains(what),
        "`{}` error does not name {what:?}: {}",
        o.cmdline,
        lines[0]
    );
    Ok(())
}

fn nothing_left(before: &Snapshot, s: &Scope) -> Result<()> {
    let added = before.added(&Snapshot::take(s));
    ensure!(added.is_empty(), "left behind: {added:#?}");
    Ok(())
}

#[test]
fn malformed_config_json_is_named() {
    require_root!();
    check(|| {
        let rt = rt();
        let b = Bundle::new("badjson")?;
        let s = scope(&rt, &b);
        let before = Snapshot::take(&s);
        std::fs::write(
            b.path().join("config.json"),
            "{ \"ociVersion\": \"1.0.2\", \"process\": ",
        )?;
        let _g = rt.guard(b.id());
        let o = rt.cmd(&["create", "--bundle", &b.path_str(), b.id()])?;
        one_line_error(&o, "config.json")?;
        nothing_left(&before, &s)
    });
}

#[test]
fn missing_rootfs_is_named() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("norootfs")?;
        b.set("/root/path", json!("no-such-rootfs"));
        let s = scope(&rt, &b);
        let before = Snapshot::take(&s);
        let _g = rt.guard(b.id());
        one_line_error(&rt.create(&b)?, "no-such-rootfs")?;
        nothing_left(&before, &s)
    });
}

#[test]
fn duplicate_id_is_refused_and_the_first_container_survives() {
    require_root!();
    check(|| {
        let rt = rt();
        let mut b = Bundle::new("dup")?;
        b.args(&["sleep", "300"]);
        let _g = rt.guard(b.id());
        rt.create(&b)?.check()?;
        let pid = rt.state(b.id())?["pid"].clone();
        let other = Bundle::new("dup2")?;
        other.write()?;
        one_line_error(
            &rt.cmd(&["create", "--bundle", &other.path_str(), b.id()])?,
            b.id(),
        )?;
        let st = rt.state(b.id())?;
        ensure!(
            st["pid"] == pid && st["status"] == "created",
            "first container changed: {st}"
        );
        Ok(())
    });
}

#[test]
fn unknown_id_is_named_by_every_command() {
    require_root!();
    check(|| {
        let rt = rt();
        let id = stockade_e2e::bundle::unique_id("nosuch");
        for cmd in [
            &["state", &id][..],
            &["start", &id],
            &["kill", &id, "KILL"],
            &["delete", &id],
            &["pause", &id],
            &["exec", &id, "true"],
        ] {
            one_line_error(&rt.cmd(cmd)?, &id)?;
        }
        ensure!(
            std::fs::read_dir(rt.root())?.next().is_none(),
            "state root not empty"
        );
        Ok(())
    });
}
