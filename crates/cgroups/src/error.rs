// SPDX-License-Identifier: Apache-2.0
//! The one error type of the crate. Every variant names the file or cgroup concerned; the
//! `#[source]` (an errno most of the time) is printed once by the binary, after a `: `.

use std::io;
use std::path::PathBuf;

/// A failed cgroup step.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Reading a kernel file (mountinfo, a cgroup control file) failed.
    #[error("cannot read {path}")]
    Read {
        /// File read.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// A kernel file had content we do not understand.
    #[error("cannot parse {path}: {what}")]
    Parse {
        /// File parsed.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// No cgroup filesystem is mounted.
    #[error("no cgroup filesystem mounted (per {mountinfo})")]
    NotMounted {
        /// The mountinfo file consulted.
        mountinfo: PathBuf,
    },
    /// The OCI `cgroupsPath` (or the container id used for it) is unusable.
    #[error("invalid cgroups path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// `mkdir` of a cgroup directory failed.
    #[error("cannot create cgroup {path}")]
    Create {
        /// Directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The cgroup already exists and has processes in it.
    #[error("cgroup {path} already has processes: refusing to reuse it")]
    NotEmpty {
        /// Directory.
        path: PathBuf,
    },
    /// The cgroup already exists and has child cgroups (it is not a container leaf).
    #[error("cgroup {path} has child cgroups: refusing to reuse it")]
    HasChildren {
        /// Directory.
        path: PathBuf,
    },
    /// The cgroup already exists and is frozen.
    #[error("cgroup {path} is frozen: refusing to reuse it")]
    Frozen {
        /// Directory.
        path: PathBuf,
    },
    /// Opening a cgroup directory failed.
    #[error("cannot open {path}")]
    Open {
        /// Directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Writing a control file failed: `cannot write 1024 to …/pids.max`.
    #[error("cannot write {value} to {path}")]
    Write {
        /// Control file.
        path: PathBuf,
        /// Value written.
        value: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// A resource value from the config is malformed (checked before it reaches a file name).
    #[error("invalid {what} {value:?}")]
    InvalidValue {
        /// Which setting.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The config asks for something this cgroup version cannot do.
    #[error("{what} is not supported on {version}")]
    Unsupported {
        /// The setting.
        what: String,
        /// `cgroup v1`, `cgroup v2`, ...
        version: &'static str,
    },
    /// The config asks for a controller that is not mounted anywhere.
    #[error("{what} needs the {controller} controller, which is not available")]
    NoController {
        /// The setting.
        what: &'static str,
        /// Controller name.
        controller: &'static str,
    },
    /// Freezing did not complete in time (the cgroup was thawed again).
    #[error("cannot freeze {path}: still {state} after {millis} ms")]
    FreezeTimeout {
        /// Freezer file.
        path: PathBuf,
        /// Last state seen.
        state: String,
        /// Time waited.
        millis: u128,
    },
    /// Sending a signal to a process of the cgroup failed.
    #[error("cannot send signal {signal} to pid {pid}")]
    Signal {
        /// Target.
        pid: i32,
        /// Signal number.
        signal: i32,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `rmdir` of a cgroup directory failed (after retries).
    #[error("cannot remove cgroup {path}")]
    Remove {
        /// Directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Loading or attaching the cgroup v2 device filter failed.
    #[error("cannot {step} device filter on {path}")]
    DeviceFilter {
        /// `load`, `attach`, `query`, `detach`.
        step: &'static str,
        /// Cgroup directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The manager has no cgroup (rootless without delegation): nothing to query or signal.
    #[error("container {id} has no cgroup (rootless without delegation)")]
    NoCgroup {
        /// Container id.
        id: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;
