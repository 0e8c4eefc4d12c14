// SPDX-License-Identifier: Apache-2.0
//! [`Runtime`]: the OCI runtime under test, driven through its runc-compatible command line.
//!
//! The binary comes from `$OCI_RUNTIME` (e.g. `/usr/sbin/runc`), else the built
//! `stockade-oci`. Every command runs with a private `--root` (state dir) owned by this
//! wrapper, a timeout, stdin from `/dev/null` and stdout/stderr captured in *files* rather
//! than pipes: a `create`d container inherits the runtime's stdio, so a pipe would never reach
//! EOF, while a file can be read whenever the test likes (it also collects the container's
//! output after `start`).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::bundle::Bundle;

/// Default time limit of one runtime command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

static SEQ: AtomicU64 = AtomicU64::new(0);

/// The runtime binary chosen by `$OCI_RUNTIME`, else the workspace's `stockade-oci`.
///
/// # Errors
/// When neither exists (with a message saying how to pick one).
pub fn runtime_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("OCI_RUNTIME") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("OCI_RUNTIME={} is not a file", p.display());
        }
        return Ok(p);
    }
    std::panic::catch_unwind(|| stockade_testutil::target_bin("stockade-oci")).map_err(|_| {
        anyhow::anyhow!(
            "no runtime under test: stockade-oci is not built next to this test \
             (cargo build -p stockade-oci) and OCI_RUNTIME is not set (e.g. OCI_RUNTIME=/usr/sbin/runc)"
        )
    })
}

/// What one runtime command did.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub cmdline: String,
    /// Exit status; `None` when it was killed at the timeout.
    pub status: Option<ExitStatus>,
    /// Captured stdout so far (see [`Output::stdout_now`] for later container output).
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// The files stdout/stderr went to (a created container keeps writing there).
    pub stdout_path: PathBuf,
    /// See `stdout_path`.
    pub stderr_path: PathBuf,
}

impl Output {
    /// True when the command exited with status 0.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Exit code, or 128+signal when killed by a signal, or -1 on timeout.
    pub fn code(&self) -> i32 {
        match self.status {
            Some(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
            None => -1,
        }
    }

    /// Error unless the command succeeded.
    ///
    /// # Errors
    /// With the command line, exit code and stderr.
    pub fn check(&self) -> Result<&Self> {
        if !self.ok() {
            bail!(
                "`{}` failed (exit {}): {}",
                self.cmdline,
                self.code(),
                self.stderr.trim()
            );
        }
        Ok(self)
    }

    /// The stdout file as it is now (output written by the container after the command).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Non-empty stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

/// The runtime under test with a private state root.
#[derive(Debug)]
pub struct Runtime {
    bin: PathBuf,
    work: tempfile::TempDir,
    root: PathBuf,
    as_user: Option<(u32, u32)>,
}

/// Options of one command.
#[derive(Debug, Default, Clone)]
pub struct Opts {
    /// Time limit (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// File to use as stdin (default `/dev/null`).
    pub stdin: Option<PathBuf>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Run through this wrapper argv first (e.g. the probe's `leak-exec`).
    pub wrapper: Vec<String>,
}

impl Runtime {
    /// The runtime from the environment with a fresh private state root.
    ///
    /// # Errors
    /// When no runtime binary is available or the temp dir cannot be made.
    pub fn from_env() -> Result<Self> {
        Self::with_bin(runtime_bin()?)
    }

    /// A given runtime binary with a fresh private state root.
    ///
    /// # Errors
    /// When the temp dir cannot be made.
    pub fn with_bin(bin: PathBuf) -> Result<Self> {
        let work = tempfile::Builder::new()
            .prefix("stockade-e2e-rt-")
            .tempdir()?;
        let root = work.path().join("state");
        fs::create_dir(&root)?;
        fs::create_dir(work.path().join("io"))?;
        Ok(Self {
            bin,
            work,
            root,
            as_user: None,
        })
    }

    /// Runs every command as this uid/gid (rootless tests); makes the work dir theirs.
    ///
    /// # Errors
    /// When ownership cannot be changed.
    pub fn as_user(mut self, uid: u32, gid: u32) -> Result<Self> {
        for p in [self.work.path(), &self.root, &self.work.path().join("io")] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
        }
        self.as_user = Some((uid, gid));
        Ok(self)
    }

    /// The runtime binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Short name of the runtime (`runc`, `stockade-oci`).
    pub fn name(&self) -> String {
        self.bin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The private state root passed as `--root`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A scratch directory owned by this wrapper (removed with it).
    pub fn work(&self) -> &Path {
        self.work.path()
    }

    /// Runs `<bin> --root <root> ARGS` with options.
    ///
    /// # Errors
    /// Only when the process cannot be spawned; a failing command is an `Output`.
    pub fn cmd_opts<S: AsRef<OsStr>>(&self, args: &[S], o: &Opts) -> Result<Output> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let io = self.work.path().join("io");
        let (out_p, err_p) = (io.join(format!("{n}.out")), io.join(format!("{n}.err")));
        let (out, err) = (File::create(&out_p)?, File::create(&err_p)?);
        if let Some((uid, gid)) = self.as_user {
            std::os::unix::fs::chown(&out_p, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&err_p, Some(uid), Some(gid))?;
        }
        let mut argv: Vec<&OsStr> = o.wrapper.iter().map(OsStr::new).collect();
        argv.extend([
            self.bin.as_os_str(),
            OsStr::new("--root"),
            self.root.as_os_str(),
        ]);
        argv.extend(args.iter().map(AsRef::as_ref));
        let cmdline = argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = Command::new(argv[0]);
        c.args(&argv[1..]).stdout(out).stderr(err);
        c.stdin(match &o.stdin {
            Some(p) => {
                Stdio::from(File::open(p).with_context(|| format!("stdin {}", p.display()))?)
            }
            None => Stdio::null(),
        });
        for (k, v) in &o.env {
            c.env(k, v);
        }
        if let Some((uid, gid)) = self.as_user {
            c.uid(uid)
                .gid(gid)
                .env("XDG_RUNTIME_DIR", self.work.path())
                .env("HOME", self.work.path());
        }
        let mut child = c
            .spawn()
            .with_context(|| format!("cannot spawn {cmdline}"))?;
        let deadline = Instant::now() + o.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let mut stderr = fs::read_to_string(&err_p).unwrap_or_default();
        if status.is_none() {
            stderr.push_str("\n[e2e: killed at timeout]");
        }
        Ok(Output {
            cmdline,
            status,
            stdout: fs::read_to_string(&out_p).unwrap_or_default(),
            stderr,
            stdout_path: out_p,
            stderr_path: err_p,
        })
    }

    /// Runs `<bin> --root <root> ARGS` with the default options.
    ///
    /// # Errors
    /// See [`Runtime::cmd_opts`].
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Output> {
        self.cmd_opts(args, &Opts::default())
    }

    /// Writes the bundle's config and runs `create --bundle B ID`.
    ///
    /// # Errors
    /// See [`Runtime::cmd_opts`].
    pub fn create(&self, b: &Bundle) -> Result<Output> {
        b.write()?;
        self.cmd(&["create", "--bundle", &b.path_str(), b.id()])
    }

    /// Writes the bundle's config and runs `run --bundle B ID` in the foreground.
    ///
    /// # Errors
    /// See [`Runtime::cmd_opts`].
    pub fn run(&self, b: &Bundle) -> Result<Output> {
        b.write()?;
        self.cmd(&["run", "--bundle", &b.path_str(), b.id()])
    }

    /// `state ID` parsed as JSON.
    ///
    /// # Errors
    /// When the command fails or prints no JSON.
    pub fn state(&self, id: &str) -> Result<Value> {
        let o = self.cmd(&["state", id])?;
        o.check()?;
        serde_json::from_str(&o.stdout)
            .with_context(|| format!("state {id}: not JSON: {}", o.stdout))
    }

    /// The `status` field of `state ID`, or `None` when state fails.
    pub fn status(&self, id: &str) -> Option<String> {
        self.state(id)
            .ok()
            .and_then(|v| v["status"].as_str().map(str::to_string))
    }

    /// Polls `state` until the status is `want` (or the time runs out).
    pub fn wait_status(&self, id: &str, want: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if self.status(id).as_deref() == Some(want) {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A guard that force-deletes container `id` (and its e2e cgroups) when dropped.
    pub fn guard(&self, id: &str) -> crate::guard::ContainerGuard<'_> {
        crate::guard::ContainerGuard::new(self, id)
    }
}
