// SPDX-License-Identifier: Apache-2.0
//! runc-compatible OCI runtime command line over stockade-runtime.
//!
//! The binary is single-threaded for its whole life (no async runtime, synchronous
//! logging): `create`, `run` and `exec` clone container processes from it. Before any of
//! those, it re-executes itself from a sealed copy (`stockade_runtime::seal`). Failures
//! print exactly one line, `stockade-oci: <error>: <cause>...`, to stderr, and the same
//! message as the last log line; the exit code is 1 (`run`/`exec` return the container's).
#![forbid(unsafe_code)]

mod args;
mod cli;
mod commands;
mod log;
mod parse;

use std::path::PathBuf;

use crate::cli::{Cli, Cmd};
use crate::parse::Parsed;

/// `--version` text (runc prints the spec version on its own line too).
pub const VERSION_LINE: &str = concat!(env!("CARGO_PKG_VERSION"), "\nspec: ", "1.2.0");

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cli = match parse::parse(&argv) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Help(text)) => {
            // a closed stdout (`runtime --version | head -1`) is not a failure
            let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
            std::process::exit(0);
        }
        Ok(Parsed::Version) => {
            let line = format!("stockade-oci version {VERSION_LINE}\n");
            let _ = std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes());
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("stockade-oci: {e}");
            std::process::exit(2);
        }
    };
    let file = cli.log.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let logger: &'static log::Logger =
        Box::leak(Box::new(log::Logger::new(file, cli.log_format, cli.debug)));
    let _ = tracing::subscriber::set_global_default(log::Sub(logger));
    let code = match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = chain(&e);
            if logger.has_file() {
                logger.line(tracing::Level::ERROR, &msg);
            }
            eprintln!("stockade-oci: {msg}");
            1
        }
    };
    std::process::exit(code);
}

/// The error and its causes joined with `: `.
fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn root(cli: &Cli) -> PathBuf {
    cli.root
        .clone()
        .unwrap_or_else(stockade_runtime::Runtime::default_root)
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let root = root(cli);
    if cli.systemd_cgroup {
        // cgroupsPath in systemd syntax (slice:prefix:name) is mapped to cgroupfs paths
        tracing::debug!("--systemd-cgroup: using the cgroupfs driver with systemd-style paths");
    }
    if matches!(cli.cmd, Cmd::Create(_) | Cmd::Run(_) | Cmd::Exec(_)) {
        // the overlay's empty layer exists only while the copy is made, and never in the
        // state root: containerd shares that with runc (`runc list` would choke on it)
        stockade_runtime::seal::ensure_sealed(&std::env::temp_dir())?;
    }
    let rt = stockade_runtime::Runtime::new(&root);
    commands::dispatch(&rt, &cli.cmd)
}
