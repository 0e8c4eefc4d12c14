// SPDX-License-Identifier: Apache-2.0
//! `stockade exec IMAGE COMMAND [ARGS...]`: a command in the container, after the image's
//! environment scripts (`/.singularity.d/env/*.sh`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::Globals;
use crate::launch::{self, Action, LaunchArgs};

/// `stockade exec` arguments.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    launch: LaunchArgs,
    /// A SIF image, a squashfs file or a sandbox directory.
    image: PathBuf,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Runs the command; the exit status is the container's.
pub fn run(a: ExecArgs, g: Globals) -> anyhow::Result<ExitCode> {
    launch::launch(Action::Exec, &a.launch, &a.image, &a.command, g)
}
