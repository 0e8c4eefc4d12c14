// SPDX-License-Identifier: Apache-2.0
//! Singularity-style user command line: build, run, exec, shell, test, inspect, sif, key, sign, verify.
//!
//! `main` only parses the command line, installs logging and dispatches to
//! `commands::<name>::run`, which returns the process exit code (a container's status passes
//! through unchanged). Any error is printed as one line `stockade: <error>: <cause>...` and
//! the process exits with 255, as Apptainer does for its own failures.
#![forbid(unsafe_code)]

mod commands;
mod launch;
mod sysconf;

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
    /// Build a SIF image from a directory, an OCI/docker archive, a SIF or a definition file.
    Build(commands::build::BuildArgs),
    /// Inspect and edit SIF images (like siftool).
    Sif(commands::sif::SifArgs),
    /// Manage OpenPGP and PEM signing keys.
    Key(commands::key::KeyArgs),
    /// Sign a SIF image (OpenPGP or DSSE).
    Sign(commands::sign::SignArgs),
    /// Verify the signatures of a SIF image.
    Verify(commands::verify::VerifyArgs),
    /// Run the image's runscript.
    Run(commands::run::RunArgs),
    /// Run a command in the image.
    Exec(commands::exec::ExecArgs),
    /// Start an interactive shell in the image.
    Shell(commands::shell::ShellArgs),
    /// Run the image's test script.
    Test(commands::test::TestArgs),
    /// Show the metadata of an image (labels, runscript, definition file...).
    Inspect(commands::inspect::InspectArgs),
    /// Serve an image partition over FUSE for a run (internal).
    #[command(name = "fuse-serve", hide = true)]
    FuseServe,
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
        Commands::Build(args) => commands::build::run(args, g),
        Commands::Sif(args) => commands::sif::run(args, g),
        Commands::Key(args) => commands::key::run(args, g),
        Commands::Sign(args) => commands::sign::run(args, g),
        Commands::Verify(args) => commands::verify::run(args, g),
        Commands::Run(args) => commands::run::run(args, g),
        Commands::Exec(args) => commands::exec::run(args, g),
        Commands::Shell(args) => commands::shell::run(args, g),
        Commands::Test(args) => commands::test::run(args, g),
        Commands::Inspect(args) => commands::inspect::run(args, g),
        Commands::FuseServe => launch::fuse_server::run(),
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
