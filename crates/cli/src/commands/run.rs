// SPDX-License-Identifier: Apache-2.0
//! `stockade run IMAGE [ARGS...]`: the image's runscript (`/.singularity.d/runscript`), through
//! the action script, with the caller's identity, home, `/tmp` and working directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::Globals;
use crate::launch::{self, Action, LaunchArgs};

/// `stockade run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    launch: LaunchArgs,
    /// A SIF image, a squashfs file or a sandbox directory.
    image: PathBuf,
    /// Arguments for the runscript.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Runs the runscript; the exit status is the container's.
pub fn run(a: RunArgs, g: Globals) -> anyhow::Result<ExitCode> {
    launch::launch(Action::Run, &a.launch, &a.image, &a.args, g)
}
