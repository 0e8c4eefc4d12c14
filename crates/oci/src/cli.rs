// SPDX-License-Identifier: Apache-2.0
//! runc's command line: the parsed form of every subcommand, and [`parse`], which fills
//! it from argv with [`crate::args`]. Global flags are accepted before or after the
//! subcommand; flags may come before or after the container id.

use std::path::PathBuf;

/// stockade-oci: a hardened, runc-compatible OCI runtime.
#[derive(Debug)]
pub struct Cli {
    /// State directory (default /run/stockade-oci, $XDG_RUNTIME_DIR/stockade-oci rootless).
    pub root: Option<PathBuf>,
    /// Log file (default: stderr).
    pub log: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Accepted for compatibility: cgroupfs is used when systemd is not PID 1.
    pub systemd_cgroup: bool,
    /// Debug logging.
    pub debug: bool,
    /// The command.
    pub cmd: Cmd,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `time=... level=... msg=...`
    Text,
    /// One JSON object per line (`level`, `msg`, `time`).
    Json,
}

/// Output format of `ps` and `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human table.
    Table,
    /// JSON.
    Json,
}

/// Subcommands.
#[derive(Debug)]
pub enum Cmd {
    /// Create a container (stopped before the program runs).
    Create(CreateArgs),
    /// Run the program of a created container.
    Start(IdArg),
    /// Create and start a container.
    Run(RunArgs),
    /// Print a container's state as JSON.
    State(IdArg),
    /// Send a signal to a container's init (or all its processes).
    Kill(KillArgs),
    /// Delete a container.
    Delete(DeleteArgs),
    /// Run a process in a running container.
    Exec(ExecArgs),
    /// List a container's processes.
    Ps(PsArgs),
    /// List containers.
    List(ListArgs),
    /// Freeze a container.
    Pause(IdArg),
    /// Thaw a container.
    Resume(IdArg),
    /// Change a container's resource limits.
    Update(UpdateArgs),
    /// Print container events (statistics).
    Events(EventsArgs),
    /// Print the OCI features JSON.
    Features,
    /// Write a default config.json.
    Spec(SpecArgs),
}

/// Just an id.
#[derive(Debug)]
pub struct IdArg {
    /// Container id.
    pub id: String,
}

/// `create`.
#[derive(Debug)]
pub struct CreateArgs {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Write init's pid here.
    pub pid_file: Option<PathBuf>,
    /// Unix socket receiving the console master.
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Pass fds 3..3+N to the container.
    pub preserve_fds: u32,
}

/// `run`.
#[derive(Debug)]
pub struct RunArgs {
    /// Create options.
    pub create: CreateArgs,
    /// Return once the program runs.
    pub detach: bool,
}

/// `kill`.
#[derive(Debug)]
pub struct KillArgs {
    /// Container id.
    pub id: String,
    /// Signal name or number.
    pub signal: String,
    /// Signal every process of the container.
    pub all: bool,
}

/// `delete`.
#[derive(Debug)]
pub struct DeleteArgs {
    /// Container id.
    pub id: String,
    /// Kill a running container first; an unknown id is not an error.
    pub force: bool,
}

/// `exec`.
#[derive(Debug)]
pub struct ExecArgs {
    /// Container id.
    pub id: String,
    /// Command and arguments (unless --process).
    pub args: Vec<String>,
    /// process.json to run.
    pub process: Option<PathBuf>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Return once it runs.
    pub detach: bool,
    /// Write its pid here.
    pub pid_file: Option<PathBuf>,
    /// Unix socket receiving the console master.
    pub console_socket: Option<PathBuf>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Extra environment (KEY=VALUE), repeatable.
    pub env: Vec<String>,
    /// uid[:gid].
    pub user: Option<String>,
    /// Additional gids, repeatable.
    pub additional_gids: Vec<u32>,
    /// Extra capability, repeatable.
    pub cap: Vec<String>,
    /// Set no_new_privs.
    pub no_new_privs: bool,
    /// Pass fds 3..3+N.
    pub preserve_fds: u32,
}

/// `ps`.
#[derive(Debug)]
pub struct PsArgs {
    /// Container id.
    pub id: String,
    /// Output format.
    pub format: Format,
    /// Options passed to ps(1) for the table.
    pub ps_args: Vec<String>,
}

/// `list`.
#[derive(Debug)]
pub struct ListArgs {
    /// Output format.
    pub format: Format,
    /// Only ids.
    pub quiet: bool,
}

/// `update`.
#[derive(Debug)]
pub struct UpdateArgs {
    /// Container id.
    pub id: String,
    /// LinuxResources JSON file, `-` for stdin.
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (suffixes k, m, g).
    pub memory: Option<String>,
    /// Memory+swap limit.
    pub memory_swap: Option<String>,
    /// Memory reservation.
    pub memory_reservation: Option<String>,
    /// CFS quota in µs.
    pub cpu_quota: Option<i64>,
    /// CFS period in µs.
    pub cpu_period: Option<u64>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
    /// CPUs allowed.
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids.
    pub pids_limit: Option<i64>,
}

/// `events`.
#[derive(Debug)]
pub struct EventsArgs {
    /// Container id.
    pub id: String,
    /// Print statistics once and exit.
    pub stats: bool,
    /// Interval between statistics (e.g. 5s, 500ms).
    pub interval: String,
}

/// `spec`.
#[derive(Debug)]
pub struct SpecArgs {
    /// A config for a rootless container.
    pub rootless: bool,
    /// Where to write config.json.
    pub bundle: PathBuf,
}
