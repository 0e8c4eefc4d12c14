// SPDX-License-Identifier: Apache-2.0
//! `stockade fuse-serve` (hidden): the FUSE server process of a run. Its stdin is the
//! socket described in [`super::fuse`]. It asks to be killed with its parent first, checks
//! the parent is still the launcher, opens the partition (through LUKS when encrypted: the
//! plaintext exists only in this process's memory), answers, then serves the mounted
//! connection with `stockade_squashfs::fuse::serve` until the mount disappears.

use std::fs::File;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use stockade_squashfs::fuse::{ServeOptions, serve};
use stockade_squashfs::{Archive, FileSource, ReadAt};

use super::fuse::{self, Params};

/// A LUKS2 volume as a squashfs byte source.
#[derive(Debug)]
struct LuksSource(stockade_luks::Volume);

impl ReadAt for LuksSource {
    fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
        self.0.read_at(buf, off)
    }
    fn len_hint(&self) -> Option<u64> {
        Some(self.0.len())
    }
}

/// Entry point of the hidden subcommand.
pub fn run() -> Result<ExitCode> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .context("PR_SET_PDEATHSIG")?;
    let stdin = std::io::stdin();
    let sock = stdin.as_fd();
    let (image, params, key) = fuse::receive(sock)?;
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    if parent != params.parent {
        bail!("launcher {} is gone", params.parent);
    }
    let opened = open_source(image, &params, key.as_deref().map(|k| &k[..]));
    drop(key);
    let reply_res = opened
        .as_ref()
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{}", super::chain(e)));
    fuse::reply(sock, &reply_res)?;
    // read the /dev/fuse fd even on failure: closing with it still queued would make the
    // launcher's read fail with ECONNRESET instead of delivering our answer
    let fd = fuse::receive_fuse(sock)?;
    let source = opened?;
    serve(fd, source, &ServeOptions::default()).context("FUSE server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// The partition as a byte source, checked to be a readable squashfs.
fn open_source(image: File, p: &Params, key: Option<&[u8]>) -> Result<Arc<dyn ReadAt>> {
    let source: Arc<dyn ReadAt> = match key {
        Some(k) => {
            let vol = stockade_luks::Volume::open(&image, p.offset, p.size, k)
                .with_context(|| format!("cannot unlock the encrypted partition of {}", p.name))?;
            Arc::new(LuksSource(vol))
        }
        None => Arc::new(
            FileSource::new(image, p.offset, p.size)
                .with_context(|| format!("cannot read the partition of {}", p.name))?,
        ),
    };
    Archive::open(source.clone())
        .with_context(|| format!("{}: the root partition is not a valid squashfs", p.name))?;
    Ok(source)
}
