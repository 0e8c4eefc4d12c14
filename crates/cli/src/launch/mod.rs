// SPDX-License-Identifier: Apache-2.0
//! Running SIF images Singularity's way (`run`, `exec`, `shell`, `test`).
//!
//! One run, in order (design: `docs/design/singularity-runs.md`):
//! 1. refuse setuid installs; re-execute from a sealed copy when the binary could be
//!    written by the caller; load `stockade.conf` (deny on any error);
//! 2. open the image once; administrator limits, the ECL (on that fd) and the key lookup;
//! 3. resolve the user's binds as the user sees the host;
//! 4. start the FUSE server (users, encrypted images) while still in the host namespaces;
//! 5. enter the session (mount namespace; plus a user namespace for users), mount the
//!    workspace tmpfs;
//! 6. mount the image (loop + squashfs, FUSE, or a bind of the sandbox); fork the guard,
//!    which first reads ahead the programs the container will run ([`prefetch`]); build the
//!    skeleton and the overlay root, the environment, the action and `config.json`;
//! 7. `--net`: a new network namespace with `lo` up; then `stockade-runtime`'s init runs the
//!    container from this session ([`container`]) and we return its exit status;
//! 8. tear down: unmount the workspace, stop the server, release the guard.

pub mod admin;
pub mod binds;
pub mod container;
pub mod env;
pub mod fuse;
pub mod fuse_server;
pub mod guard;
pub mod image;
pub mod loopmount;
pub mod mount;
pub mod net;
pub mod passwd;
pub mod plan;
pub mod prefetch;
pub mod rootfs;
pub mod session;
pub mod spec;
pub mod user;

mod assemble;
mod run;

use std::path::PathBuf;

use clap::Args;

pub use run::launch;

/// What the container does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The runscript.
    Run,
    /// A command.
    Exec,
    /// An interactive shell.
    Shell,
    /// The test script.
    Test,
}

impl Action {
    /// The action's name (`/.singularity.d/actions/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Run => "run",
            Action::Exec => "exec",
            Action::Shell => "shell",
            Action::Test => "test",
        }
    }
}

/// Flags shared by `run`, `exec`, `shell` and `test` (Apptainer's names).
#[derive(Debug, Clone, Default, Args)]
pub struct LaunchArgs {
    /// Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists).
    #[arg(short = 'B', long = "bind", value_name = "SPEC")]
    pub bind: Vec<String>,
    /// No home, /tmp, /var/tmp or working directory from the host (private tmpfs instead).
    #[arg(short = 'c', long)]
    pub contain: bool,
    /// --contain, plus new pid and ipc namespaces and a clean environment.
    #[arg(short = 'C', long)]
    pub containall: bool,
    /// Do not pass the host environment (only TERM and proxy variables).
    #[arg(short = 'e', long)]
    pub cleanenv: bool,
    /// Set a variable in the container, after the image's environment (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read KEY=VALUE lines from a file (like --env).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long, value_name = "DIR")]
    pub pwd: Option<PathBuf>,
    /// Do not bind the home directory.
    #[arg(long = "no-home")]
    pub no_home: bool,
    /// Home directory to bind: src[:dst].
    #[arg(short = 'H', long, value_name = "SPEC")]
    pub home: Option<String>,
    /// A writable tmpfs overlay over the image (changes are discarded).
    #[arg(long = "writable-tmpfs")]
    pub writable_tmpfs: bool,
    /// A new network namespace (with --network none: only loopback).
    #[arg(short = 'n', long)]
    pub net: bool,
    /// Network type for --net (only "none").
    #[arg(long, value_name = "TYPE")]
    pub network: Option<String>,
    /// A new pid namespace.
    #[arg(short = 'p', long)]
    pub pid: bool,
    /// A new ipc namespace.
    #[arg(short = 'i', long)]
    pub ipc: bool,
    /// A new uts namespace.
    #[arg(long)]
    pub uts: bool,
    /// Host name in a new uts namespace.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Run as root inside a user namespace (mapped to you, plus your subordinate ids).
    #[arg(short = 'f', long)]
    pub fakeroot: bool,
    /// Passphrase of an encrypted image, read from a file.
    #[arg(long = "passphrase-file", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// RSA private key (PEM) of an encrypted image.
    #[arg(long = "pem-path", value_name = "FILE")]
    pub pem_path: Option<PathBuf>,
    /// Do not mount these defaults: home, tmp, cwd, or a bind path.
    #[arg(long = "no-mount", value_delimiter = ',', value_name = "LIST")]
    pub no_mount: Vec<String>,
}

/// An error and its causes joined with `: ` (the one-line form).
pub fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
