// SPDX-License-Identifier: Apache-2.0
//! One module per subcommand; each exposes an args struct and
//! `run(args, Globals) -> anyhow::Result<ExitCode>`.

pub mod build;
pub mod exec;
pub mod inspect;
pub mod key;
mod keyutil;
pub mod run;
pub mod shell;
pub mod sif;
pub mod sign;
pub mod test;
pub mod verify;
