// SPDX-License-Identifier: Apache-2.0
//! One module per subcommand; each exposes an args struct and
//! `run(args, Globals) -> anyhow::Result<ExitCode>`.

pub mod sif;
