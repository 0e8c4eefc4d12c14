// SPDX-License-Identifier: Apache-2.0
//! `stockade shell IMAGE [ARGS...]`: an interactive shell in the container (`/bin/bash --norc`
//! when the image has bash, else `/bin/sh`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::Globals;
use crate::launch::{self, Action, LaunchArgs};

/// `stockade shell` arguments.
#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    launch: LaunchArgs,
    /// A SIF image, a squashfs file or a sandbox directory.
    image: PathBuf,
    /// Arguments for the shell.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Runs the shell; the exit status is the shell's.
pub fn run(a: ShellArgs, g: Globals) -> anyhow::Result<ExitCode> {
    launch::launch(Action::Shell, &a.launch, &a.image, &a.args, g)
}
