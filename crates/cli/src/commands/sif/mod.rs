// SPDX-License-Identifier: Apache-2.0
//! `stockade sif`: siftool's list/header/info/dump/new/add/del/setprim over `stockade-sif`.

mod edit;
mod show;

pub(crate) use show::go_time;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use stockade_sif::SifImage;

use crate::Globals;

/// `stockade sif` arguments.
#[derive(Debug, Args)]
pub struct SifArgs {
    #[command(subcommand)]
    command: SifCommand,
}

#[derive(Debug, Subcommand)]
enum SifCommand {
    /// List the data objects of an image.
    List {
        /// Print a JSON array instead of the table.
        #[arg(long)]
        json: bool,
        /// SIF image.
        image: PathBuf,
    },
    /// Show the global header.
    Header {
        /// SIF image.
        image: PathBuf,
    },
    /// Show the descriptor of one object.
    Info {
        /// SIF image.
        image: PathBuf,
        /// Object id.
        id: u32,
    },
    /// Write the data of one object to standard output.
    Dump {
        /// SIF image.
        image: PathBuf,
        /// Object id.
        id: u32,
    },
    /// Create an empty image.
    New(edit::NewArgs),
    /// Add a data object.
    Add(edit::AddArgs),
    /// Delete a data object.
    Del(edit::DelArgs),
    /// Make a system partition the primary one.
    Setprim {
        /// SIF image.
        image: PathBuf,
        /// Partition object id.
        id: u32,
    },
}

/// Runs a `stockade sif` subcommand.
pub fn run(args: SifArgs, _g: Globals) -> anyhow::Result<ExitCode> {
    match args.command {
        SifCommand::List { json, image } => {
            let img = SifImage::open(&image)?;
            let text = if json {
                show::list_json(&img)
            } else {
                show::list(&img)
            };
            print(&text)?;
        }
        SifCommand::Header { image } => print(&show::header(&SifImage::open(&image)?))?,
        SifCommand::Info { image, id } => {
            let img = SifImage::open(&image)?;
            print(&show::info(img.descriptor(id)?))?;
        }
        SifCommand::Dump { image, id } => dump(&image, id)?,
        SifCommand::New(a) => edit::new(a)?,
        SifCommand::Add(a) => edit::add(a)?,
        SifCommand::Del(a) => edit::del(a)?,
        SifCommand::Setprim { image, id } => edit::setprim(&image, id)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`| head`) ends the command quietly.
fn print(text: &str) -> anyhow::Result<()> {
    quiet_on_broken_pipe(io::stdout().lock().write_all(text.as_bytes()))
        .context("cannot write output")
}

fn quiet_on_broken_pipe(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn dump(image: &std::path::Path, id: u32) -> anyhow::Result<()> {
    let img = SifImage::open(image)?;
    let d = img.descriptor(id)?;
    let mut out = io::stdout().lock();
    let copied = io::copy(&mut img.object_reader(d), &mut out).and_then(|_| out.flush());
    quiet_on_broken_pipe(copied)
        .with_context(|| format!("cannot dump object {id} of {}", image.display()))
}
