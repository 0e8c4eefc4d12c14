// SPDX-License-Identifier: Apache-2.0
//! `stockade-squashfuse`: mounts a squashfs image (or a partition at an offset inside a
//! file, e.g. a SIF) with the stockade FUSE server, measured like `squashfuse`.
//!
//! ```text
//! stockade-squashfuse [-f] [--offset N] [--threads N] [--cache-mib N] [--no-prefetch] IMAGE[@OFFSET] MOUNTPOINT
//! stockade-squashfuse --listen SOCKET [opts] IMAGE[@OFFSET]        serve an fd received on SOCKET
//! stockade-squashfuse --mount-send SOCKET MOUNTPOINT -- CMD [ARGS]  (as root of a user namespace)
//!                     open /dev/fuse, mount it, send the fd to SOCKET, exec CMD
//! stockade-squashfuse --build SRC_DIR IMAGE     build an image with `build_squashfs` (bench)
//! ```
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use stockade_squashfs::FileSource;
use stockade_squashfs::fuse::{self, MountOptions, ServeOptions};

#[derive(Default)]
struct Args {
    foreground: bool,
    offset: Option<u64>,
    listen: Option<PathBuf>,
    mount_send: Option<PathBuf>,
    serve_stdin: bool,
    build: bool,
    opts: ServeOptions,
    positional: Vec<String>,
    command: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        opts: ServeOptions::default(),
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-f" | "--foreground" => a.foreground = true,
            "--offset" => a.offset = Some(val("--offset")?.parse().context("--offset")?),
            "--threads" => a.opts.threads = val("--threads")?.parse().context("--threads")?,
            "--cache-mib" => {
                a.opts.cache_bytes = val("--cache-mib")?
                    .parse::<usize>()
                    .context("--cache-mib")?
                    << 20
            }
            "--no-prefetch" => a.opts.prefetch_threads = 0,
            "--listen" => a.listen = Some(val("--listen")?.into()),
            "--mount-send" => a.mount_send = Some(val("--mount-send")?.into()),
            "--serve-stdin" => a.serve_stdin = true,
            "--build" => a.build = true,
            "-o" => {
                val("-o")?; // squashfuse compatibility: mount options are fixed here
            }
            "--" => {
                a.command = it.by_ref().collect();
            }
            s if s.starts_with('-') => bail!("unknown option {s}"),
            _ => a.positional.push(arg),
        }
    }
    Ok(a)
}

/// `IMAGE@OFFSET` (when IMAGE itself does not exist) or IMAGE with `--offset`.
fn split_spec(spec: &str, offset: Option<u64>) -> Result<(PathBuf, u64)> {
    let (path, off) = match spec.rsplit_once('@') {
        Some((p, o)) if !Path::new(spec).exists() => (
            p,
            Some(
                o.parse::<u64>()
                    .with_context(|| format!("bad offset in {spec}"))?,
            ),
        ),
        _ => (spec, None),
    };
    let path = std::fs::canonicalize(path).with_context(|| format!("cannot open {path}"))?;
    Ok((path, offset.or(off).unwrap_or(0)))
}

fn open_source(spec: &str, offset: Option<u64>) -> Result<Arc<FileSource>> {
    let (path, off) = split_spec(spec, offset)?;
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let src = FileSource::from_offset(file, off)
        .with_context(|| format!("bad offset for {}", path.display()))?;
    Ok(Arc::new(src))
}

fn serve(fd: OwnedFd, spec: &str, a: &Args) -> Result<()> {
    let src = open_source(spec, a.offset)?;
    fuse::serve(fd, src, &a.opts).with_context(|| format!("serving {spec}"))
}

fn run() -> Result<()> {
    let a = parse_args()?;
    if a.build {
        build_image(&a)
    } else if let Some(sock) = a.mount_send.clone() {
        mount_and_send(&a, &sock)
    } else if let Some(sock) = a.listen.clone() {
        listen_and_serve(&a, &sock)
    } else if a.serve_stdin {
        serve_stdin(a)
    } else {
        mount_and_serve(a)
    }
}

/// `--build SRC_DIR IMAGE`: prints source bytes, image bytes and seconds.
fn build_image(a: &Args) -> Result<()> {
    let [src, out] = a.positional.as_slice() else {
        bail!("usage: --build SRC_DIR IMAGE")
    };
    let opts = stockade_squashfs::BuildOptions::default();
    let r =
        stockade_squashfs::build_squashfs(Path::new(src), Path::new(out), &opts, &mut |_, _| {})
            .with_context(|| format!("cannot build {out} from {src}"))?;
    println!(
        "{} {} {:.3}",
        r.source_bytes,
        r.image_bytes,
        r.elapsed.as_secs_f64()
    );
    Ok(())
}

/// `--mount-send SOCKET MOUNTPOINT -- CMD`: mounts a fresh `/dev/fuse` fd, sends it to
/// SOCKET, then execs CMD.
fn mount_and_send(a: &Args, sock: &Path) -> Result<()> {
    let [mnt] = a.positional.as_slice() else {
        bail!("usage: --mount-send SOCKET MOUNTPOINT -- CMD")
    };
    let fd = fuse::open_dev_fuse().context("cannot open /dev/fuse")?;
    fuse::mount_fuse(
        Path::new(mnt),
        fd.as_fd(),
        &MountOptions::for_caller("stockade"),
    )
    .with_context(|| format!("cannot mount fuse on {mnt}"))?;
    let s = UnixStream::connect(sock)
        .with_context(|| format!("cannot connect to {}", sock.display()))?;
    fuse::send_fd(s.as_fd(), fd.as_fd()).context("cannot send the fuse fd")?;
    drop((s, fd));
    let [cmd, args @ ..] = a.command.as_slice() else {
        return Ok(());
    };
    Err(Command::new(cmd).args(args).exec()).with_context(|| format!("cannot exec {cmd}"))
}

/// `--listen SOCKET IMAGE`: serves the fuse fd received on SOCKET.
fn listen_and_serve(a: &Args, sock: &Path) -> Result<()> {
    let [image] = a.positional.as_slice() else {
        bail!("usage: --listen SOCKET IMAGE")
    };
    let l = UnixListener::bind(sock).with_context(|| format!("cannot bind {}", sock.display()))?;
    let (conn, _) = l.accept().context("accept")?;
    let _ = std::fs::remove_file(sock);
    let fd = fuse::recv_fd(&conn).context("cannot receive the fuse fd")?;
    serve(fd, image, a)
}

/// `--serve-stdin IMAGE`: serves the fuse fd on stdin (the detached server of a plain mount).
fn serve_stdin(mut a: Args) -> Result<()> {
    let [image] = a.positional.as_slice() else {
        bail!("usage: --serve-stdin IMAGE")
    };
    let image = image.clone();
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("stdin")?;
    a.opts.die_with_parent = false;
    serve(fd, &image, &a)
}

/// `IMAGE MOUNTPOINT`: mounts, then serves in the foreground (`-f`) or from a detached copy
/// of this program reading the fuse fd on its stdin.
fn mount_and_serve(mut a: Args) -> Result<()> {
    let [image, mnt] = a.positional.as_slice() else {
        bail!("usage: stockade-squashfuse [-f] [--offset N] IMAGE[@OFFSET] MOUNTPOINT")
    };
    // Open the image first so a bad path fails before anything is mounted.
    let src = open_source(image, a.offset)?;
    stockade_squashfs::Archive::open(src.clone())
        .with_context(|| format!("cannot read {image}"))?;
    let fd = fuse::open_dev_fuse().context("cannot open /dev/fuse")?;
    let (path, offset) = split_spec(image, a.offset)?;
    let fsname = path.display().to_string();
    fuse::mount_fuse(
        Path::new(mnt),
        fd.as_fd(),
        &MountOptions::for_caller(&fsname),
    )
    .with_context(|| format!("cannot mount fuse on {mnt}"))?;
    if a.foreground {
        let image = image.clone();
        a.opts.die_with_parent = false;
        return fuse::serve(fd, src, &a.opts).with_context(|| format!("serving {image}"));
    }
    spawn_server(&a.opts, offset, &path, fd)
}

/// Starts `--serve-stdin` in its own process group with the fuse fd as its stdin.
fn spawn_server(opts: &ServeOptions, offset: u64, path: &Path, fd: OwnedFd) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find own executable")?;
    let mut child = Command::new(exe);
    child
        .arg("--serve-stdin")
        .arg("--threads")
        .arg(opts.threads.to_string());
    child
        .arg("--cache-mib")
        .arg((opts.cache_bytes >> 20).to_string());
    if opts.prefetch_threads == 0 {
        child.arg("--no-prefetch");
    }
    child
        .arg("--offset")
        .arg(offset.to_string())
        .arg(path)
        .stdin(Stdio::from(fd))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    child.spawn().context("cannot start the server process")?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("stockade-squashfuse: {}", chain.join(": "));
        std::process::exit(1);
    }
}
