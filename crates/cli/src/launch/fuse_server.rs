// SPDX-License-Identifier: Apache-2.0
//! The FUSE server process of a run, in one of two forms:
//! * `stockade fuse-serve` (hidden; encrypted images): its stdin is the socket described in
//!   [`super::fuse`]; it receives the image, the parameters and the key there;
//! * [`run_forked`] (plain images): a child of main that already holds them.
//!
//! Either asks to be killed with its parent first, checks the parent is still the launcher,
//! opens the partition (through LUKS when encrypted: the plaintext exists only in this
//! process's memory), answers, then serves the mounted connection with
//! `stockade_squashfs::fuse::serve_archive` until the mount disappears.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustix::fs::{Mode, OFlags};
use stockade_squashfs::fuse::{ServeOptions, serve_archive};
use stockade_squashfs::{Archive, ArchiveOptions, FileSource, ReadAt};

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
    die_with_launcher()?;
    let stdin = std::io::stdin();
    let sock = stdin.as_fd();
    let (image, params, key) = fuse::receive(sock)?;
    check_parent(&params)?;
    let opened = open_archive(image, &params, key.as_deref().map(|k| &k[..]));
    drop(key);
    answer_and_serve(sock, opened)?;
    Ok(ExitCode::SUCCESS)
}

/// The forked server (see [`fuse::FuseServer::fork`]): the child of a single-threaded main,
/// holding main's memory and descriptors. It first redoes by hand what `execve` gave the
/// exec'd server, then serves; it never returns into main's code (a panic included).
pub fn run_forked(sock: OwnedFd, image: &File, params: &Params, debug: bool) -> ! {
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        forked(sock, image, params, debug)
    }));
    let code = match res {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            if debug {
                eprintln!("stockade: FUSE server: {}", super::chain(&e));
            }
            1
        }
        Err(_) => 1,
    };
    stockade_sys::misc::exit_now(code)
}

fn forked(sock: OwnedFd, image: &File, params: &Params, debug: bool) -> Result<()> {
    die_with_launcher()?;
    check_parent(params)?;
    // Signals: default dispositions (main's are Rust's: SIGPIPE ignored, stack-overflow
    // handlers), then all blocked: the server ends by SIGKILL (main's drop, the parent-death
    // signal) or ENODEV only, so a ^C meant for the container does not pull the image away.
    stockade_sys::signal::reset_for_exec().context("signal dispositions")?;
    stockade_sys::signal::block_all().context("signal mask")?;
    // Descriptors: stdio on /dev/null (stderr kept with --debug, as for the exec'd server),
    // then everything closed but the socket and the image — main's close-on-exec
    // descriptors (terminal, pidfds, the image's directory...) must not live on here.
    let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .context("/dev/null")?;
    rustix::stdio::dup2_stdin(&null).context("stdin")?;
    rustix::stdio::dup2_stdout(&null).context("stdout")?;
    if !debug {
        rustix::stdio::dup2_stderr(&null).context("stderr")?;
    }
    drop(null);
    let image = image.try_clone().context("dup of the image fd")?;
    // main's objects owning the closed descriptors are never dropped: this process ends in
    // `exit_now` (the contract of close_all_except)
    stockade_sys::fd::close_all_except(&[sock.as_fd(), image.as_fd()], 0)
        .context("closing inherited descriptors")?;
    answer_and_serve(sock.as_fd(), open_archive(image, params, None))
}

fn die_with_launcher() -> Result<()> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .context("PR_SET_PDEATHSIG")
}

/// After `PR_SET_PDEATHSIG`: a parent that died before it would not kill us.
fn check_parent(params: &Params) -> Result<()> {
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    if parent != params.parent {
        bail!("launcher {} is gone", params.parent);
    }
    Ok(())
}

/// Answers main, takes the `/dev/fuse` fd and serves it.
fn answer_and_serve(sock: BorrowedFd<'_>, opened: Result<Archive>) -> Result<()> {
    let reply_res = opened
        .as_ref()
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{}", super::chain(e)));
    fuse::reply(sock, &reply_res)?;
    // read the /dev/fuse fd even on failure: closing with it still queued would make the
    // launcher's read fail with ECONNRESET instead of delivering our answer
    let fd = fuse::receive_fuse(sock)?;
    let archive = opened?;
    let opts = ServeOptions {
        die_with_parent: false, // set first thing, above
        ..ServeOptions::default()
    };
    serve_archive(fd, archive, &opts).context("FUSE server failed")
}

/// The partition opened as a squashfs (superblock and tables read and checked): what is
/// served, opened once.
fn open_archive(image: File, p: &Params, key: Option<&[u8]>) -> Result<Archive> {
    let source: Arc<dyn ReadAt> = match key {
        Some(k) => {
            let vol = stockade_luks::Volume::open(&image, p.offset, p.size, k)
                .context("cannot unlock the encrypted partition")?;
            Arc::new(LuksSource(vol))
        }
        None => Arc::new(
            FileSource::new(image, p.offset, p.size)
                .with_context(|| format!("cannot read the partition of {}", p.name))?,
        ),
    };
    let opts = ArchiveOptions {
        cache_bytes: ServeOptions::default().cache_bytes,
    };
    Archive::open_with(source, &opts)
        .with_context(|| format!("{}: the root partition is not a valid squashfs", p.name))
}
