// SPDX-License-Identifier: Apache-2.0
//! Image writer: `mksquashfs` with zstd level 6 and 128 KiB blocks. Measured by
//! `bench/image.sh` on a 424 MiB debootstrap tree (2 cores): about 10× the throughput of
//! mksquashfs' default gzip at a slightly smaller image, so no writer of our own (see
//! `docs/design/squashfs-fuse.md`). Progress is parsed from mksquashfs' progress bar.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Compression of a built image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildCompression {
    /// zstd at the given level (1..=22).
    Zstd(u8),
    /// gzip (mksquashfs default, level 9).
    Gzip,
    /// xz.
    Xz,
    /// lz4.
    Lz4,
}

/// How to build an image.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Compression (default zstd level 6).
    pub compression: BuildCompression,
    /// Data block size (default 128 KiB, a power of two in 4 KiB..=1 MiB).
    pub block_size: u32,
    /// Make every file owned by root (rootless builds).
    pub all_root: bool,
    /// Worker threads of mksquashfs (default: all cpus).
    pub processors: Option<usize>,
    /// The mksquashfs binary.
    pub mksquashfs: PathBuf,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            compression: BuildCompression::Zstd(6),
            block_size: 128 << 10,
            all_root: false,
            processors: None,
            mksquashfs: PathBuf::from("mksquashfs"),
        }
    }
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// Apparent bytes of regular files in the source tree.
    pub source_bytes: u64,
    /// Size of the image file.
    pub image_bytes: u64,
    /// Wall time of the build.
    pub elapsed: Duration,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The block size is not a power of two in range.
    #[error("invalid block size {0}")]
    BlockSize(u32),
    /// The source tree could not be scanned.
    #[error("cannot scan source tree {0}")]
    Scan(PathBuf, #[source] std::io::Error),
    /// mksquashfs could not be started.
    #[error("cannot run {0}")]
    Spawn(PathBuf, #[source] std::io::Error),
    /// mksquashfs failed.
    #[error("mksquashfs failed for {path} ({status}): {stderr}")]
    Mksquashfs {
        /// The output image.
        path: PathBuf,
        /// Exit status.
        status: std::process::ExitStatus,
        /// Its last stderr line.
        stderr: String,
    },
}

/// Builds a squashfs image of `src_dir` at `out` (replacing it), calling
/// `progress(bytes_done, bytes_total)` as mksquashfs advances.
pub fn build_squashfs(
    src_dir: &Path,
    out: &Path,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<BuildReport, BuildError> {
    if !opts.block_size.is_power_of_two() || !(4096..=1 << 20).contains(&opts.block_size) {
        return Err(BuildError::BlockSize(opts.block_size));
    }
    let t0 = Instant::now();
    let total = tree_bytes(src_dir).map_err(|e| BuildError::Scan(src_dir.to_path_buf(), e))?;
    progress(0, total);
    let mut child = mksquashfs_command(src_dir, out, opts)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BuildError::Spawn(opts.mksquashfs.clone(), e))?;
    if let Some(stdout) = child.stdout.take() {
        follow_progress(stdout, total, progress);
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child
        .wait()
        .map_err(|e| BuildError::Spawn(opts.mksquashfs.clone(), e))?;
    if !status.success() {
        let _ = std::fs::remove_file(out);
        return Err(BuildError::Mksquashfs {
            path: out.to_path_buf(),
            status,
            stderr: last_line(&err).to_string(),
        });
    }
    progress(total, total);
    let image_bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(BuildReport {
        source_bytes: total,
        image_bytes,
        elapsed: t0.elapsed(),
    })
}

/// The mksquashfs invocation for `opts`.
fn mksquashfs_command(src_dir: &Path, out: &Path, opts: &BuildOptions) -> Command {
    let mut cmd = Command::new(&opts.mksquashfs);
    cmd.arg(src_dir)
        .arg(out)
        .args(["-noappend", "-quiet", "-b"])
        .arg(opts.block_size.to_string());
    match opts.compression {
        BuildCompression::Zstd(l) => cmd
            .args(["-comp", "zstd", "-Xcompression-level"])
            .arg(l.clamp(1, 22).to_string()),
        BuildCompression::Gzip => cmd.args(["-comp", "gzip"]),
        BuildCompression::Xz => cmd.args(["-comp", "xz"]),
        BuildCompression::Lz4 => cmd.args(["-comp", "lz4"]),
    };
    if opts.all_root {
        cmd.arg("-all-root");
    }
    if let Some(n) = opts.processors {
        cmd.arg("-processors").arg(n.max(1).to_string());
    }
    cmd
}

/// Reads mksquashfs' stdout to its end, reporting each progress-bar update.
fn follow_progress(mut stdout: impl Read, total: u64, progress: &mut dyn FnMut(u64, u64)) {
    let mut buf = [0u8; 4096];
    let mut line = Vec::new();
    while let Ok(n) = stdout.read(&mut buf) {
        if n == 0 {
            break;
        }
        for &c in &buf[..n] {
            if c == b'\r' || c == b'\n' {
                if let Some(frac) = parse_progress(&line) {
                    progress(scale(total, frac), total);
                }
                line.clear();
            } else if line.len() < 4096 {
                line.push(c);
            }
        }
    }
}

/// The last non-blank line of `text`, trimmed.
fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

fn scale(total: u64, (done, of): (u64, u64)) -> u64 {
    u64::try_from(u128::from(total) * u128::from(done.min(of)) / u128::from(of.max(1)))
        .unwrap_or(total)
}

/// Parses mksquashfs' `[====   ] done/total  pct%` progress line.
fn parse_progress(line: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(line).ok()?;
    let rest = &s[s.rfind(']')? + 1..];
    let frac = rest.split_whitespace().next()?;
    let (a, b) = frac.split_once('/')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Apparent bytes of regular files under `dir` (symlinks not followed).
fn tree_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                total += e.metadata()?.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_progress_bar() {
        assert_eq!(
            parse_progress(b"[=====    |  ] 640/1280  50%"),
            Some((640, 1280))
        );
        assert_eq!(parse_progress(b"Parallel mksquashfs"), None);
        assert_eq!(scale(1000, (640, 1280)), 500);
        assert_eq!(scale(1000, (5, 0)), 0);
    }
}
