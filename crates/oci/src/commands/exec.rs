// SPDX-License-Identifier: Apache-2.0
//! `exec`: the process comes from `--process`, or from the container's own process
//! (env, user, capabilities, rlimits, no_new_privs) with the flags' overrides, as runc.

use anyhow::Context;
use oci_spec::runtime::{Capabilities, Process};
use stockade_runtime::{ExecOptions, Runtime};

use crate::cli::ExecArgs;

/// `exec`.
pub fn exec(rt: &Runtime, a: &ExecArgs) -> anyhow::Result<i32> {
    let process = build_process(rt, a)?;
    let o = ExecOptions {
        id: &a.id,
        process,
        detach: a.detach,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        preserve_fds: a.preserve_fds,
    };
    Ok(rt.exec(&o)?)
}

fn build_process(rt: &Runtime, a: &ExecArgs) -> anyhow::Result<Process> {
    if let Some(path) = &a.process {
        let raw = stockade_runtime::config::read_bounded(path)?;
        let p: Process = stockade_runtime::compat::parse(&raw, "")
            .with_context(|| format!("{}: malformed process", path.display()))?;
        stockade_runtime::validate::process_rules(&p)
            .map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()))?;
        return Ok(p);
    }
    if a.args.is_empty() {
        anyhow::bail!("container {}: exec needs a command or --process", a.id);
    }
    let c = rt.load(&a.id)?;
    let mut p = c.spec()?.process().clone().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, ""));
        let user = p.user_mut();
        user.set_uid(
            uid.parse()
                .with_context(|| format!("--user {u}: bad uid"))?,
        );
        if !gid.is_empty() {
            user.set_gid(
                gid.parse()
                    .with_context(|| format!("--user {u}: bad gid"))?,
            );
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        add_caps(&mut p, &a.cap)?;
    }
    Ok(p)
}

fn add_caps(p: &mut Process, names: &[String]) -> anyhow::Result<()> {
    let mut extra = Capabilities::new();
    for n in names {
        let full = if n.to_ascii_uppercase().starts_with("CAP_") {
            n.to_ascii_uppercase()
        } else {
            format!("CAP_{}", n.to_ascii_uppercase())
        };
        let c = serde_json::from_value(serde_json::Value::String(full.clone()))
            .map_err(|_| anyhow::anyhow!("--cap {n}: unknown capability"))?;
        extra.insert(c);
    }
    let mut caps = p.capabilities().clone().unwrap_or_default();
    let add = |set: &Option<Capabilities>| {
        let mut s = set.clone().unwrap_or_default();
        s.extend(extra.iter().copied());
        Some(s)
    };
    caps.set_bounding(add(caps.bounding()));
    caps.set_effective(add(caps.effective()));
    caps.set_permitted(add(caps.permitted()));
    p.set_capabilities(Some(caps));
    Ok(())
}
