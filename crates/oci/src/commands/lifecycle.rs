// SPDX-License-Identifier: Apache-2.0
//! create, start, run, state, kill, delete.

use stockade_runtime::{CreateOptions, Mode, Runtime};

use crate::cli::{CreateArgs, DeleteArgs, KillArgs, RunArgs};

fn options(a: &CreateArgs) -> CreateOptions<'_> {
    CreateOptions {
        id: &a.id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
    }
}

/// `create`.
pub fn create(rt: &Runtime, a: &CreateArgs) -> anyhow::Result<i32> {
    rt.launch(&options(a), Mode::Create)?;
    Ok(0)
}

/// `start`.
pub fn start(rt: &Runtime, id: &str) -> anyhow::Result<i32> {
    rt.start(id)?;
    Ok(0)
}

/// `run [-d]`: the container's exit code in the foreground.
pub fn run(rt: &Runtime, a: &RunArgs) -> anyhow::Result<i32> {
    Ok(rt.run(&options(&a.create), a.detach)?)
}

/// `state`.
pub fn state(rt: &Runtime, id: &str) -> anyhow::Result<i32> {
    super::print_json(&rt.state(id)?)?;
    Ok(0)
}

/// `kill`.
pub fn kill(rt: &Runtime, a: &KillArgs) -> anyhow::Result<i32> {
    let sig = stockade_sys_signal(&a.signal)
        .ok_or_else(|| anyhow::anyhow!("container {}: unknown signal {:?}", a.id, a.signal))?;
    rt.kill(&a.id, sig, a.all)?;
    Ok(0)
}

fn stockade_sys_signal(s: &str) -> Option<i32> {
    stockade_runtime::signal_number(s)
}

/// `delete`.
pub fn delete(rt: &Runtime, a: &DeleteArgs) -> anyhow::Result<i32> {
    rt.delete(&a.id, a.force)?;
    Ok(0)
}
