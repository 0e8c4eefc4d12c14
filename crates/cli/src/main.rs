// SPDX-License-Identifier: Apache-2.0
//! Singularity-style user command line: build, run, exec, shell, test, inspect, sif, key, sign, verify.
//!
//! `main` only parses the command line, installs logging and dispatches to
//! `commands::<name>::run`, which returns the process exit code (a container's status passes
//! through unchanged). Any error is printed as one line `stockade: <error>: <cause>...` and
//! the process exits with 255, as Apptainer does for its own failures.
#![forbid(unsafe_code)]

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status for stockade's own failures (container statuses pass through).
const EXIT_FAILURE: u8 = 255;

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "stockade", version, about = "Run SIF containers, hardened")]
struct Cli {
    /// Print debugging information.
    #[arg(short, long, global = true)]
    debug: bool,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "debug")]
    quiet: bool,
    #[command(subcommand)]
    command: Commands,
}

/// Subcommands; each lives in `commands/<name>.rs`.
#[derive(Debug, Subcommand)]
enum Commands {
    /// Inspect and edit SIF images (like siftool).
    Sif(commands::sif::SifArgs),
}

/// Options every command sees.
#[derive(Debug, Clone, Copy)]
pub struct Globals {
    /// `--debug`.
    pub debug: bool,
    /// `--quiet`.
    pub quiet: bool,
}

fn init_logging(g: Globals) {
    let level = if g.debug {
        tracing::Level::DEBUG
    } else if g.quiet {
        tracing::Level::ERROR
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .init();
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = Globals {
        debug: cli.debug,
        quiet: cli.quiet,
    };
    init_logging(g);
    match cli.command {
        Commands::Sif(args) => commands::sif::run(args, g),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("stockade: {}", first.trim_start_matches("error: "));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stockade: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
