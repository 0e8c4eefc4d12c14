// SPDX-License-Identifier: Apache-2.0
//! One adapter per subcommand: parse what clap could not, call the runtime, print.

mod exec;
mod info;
mod lifecycle;
mod spec;
mod update;

use stockade_runtime::Runtime;

use crate::cli::Cmd;

/// Runs a subcommand; returns the process exit code.
pub fn dispatch(rt: &Runtime, cmd: &Cmd) -> anyhow::Result<i32> {
    match cmd {
        Cmd::Create(a) => lifecycle::create(rt, a),
        Cmd::Start(a) => lifecycle::start(rt, &a.id),
        Cmd::Run(a) => lifecycle::run(rt, a),
        Cmd::State(a) => lifecycle::state(rt, &a.id),
        Cmd::Kill(a) => lifecycle::kill(rt, a),
        Cmd::Delete(a) => lifecycle::delete(rt, a),
        Cmd::Exec(a) => exec::exec(rt, a),
        Cmd::Ps(a) => info::ps(rt, a),
        Cmd::List(a) => info::list(rt, a),
        Cmd::Events(a) => info::events(rt, a),
        Cmd::Features => info::features(),
        Cmd::Pause(a) => update::pause(rt, &a.id),
        Cmd::Resume(a) => update::resume(rt, &a.id),
        Cmd::Update(a) => update::update(rt, a),
        Cmd::Spec(a) => spec::spec(a),
    }
}

/// Prints JSON to stdout.
pub fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    print_line(&serde_json::to_string_pretty(v)?)
}

/// Writes one line to stdout; a closed stdout is an error, not a panic (`println!`).
pub fn print_line(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}
