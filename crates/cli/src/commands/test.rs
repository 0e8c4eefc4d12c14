// SPDX-License-Identifier: Apache-2.0
//! `stockade test IMAGE [ARGS...]`: the image's test script (`/.singularity.d/test`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::Globals;
use crate::launch::{self, Action, LaunchArgs};

/// `stockade test` arguments.
#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    launch: LaunchArgs,
    /// A SIF image, a squashfs file or a sandbox directory.
    image: PathBuf,
    /// Arguments for the test script.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Runs the test; the exit status is the test's.
pub fn run(a: TestArgs, g: Globals) -> anyhow::Result<ExitCode> {
    launch::launch(Action::Test, &a.launch, &a.image, &a.args, g)
}
