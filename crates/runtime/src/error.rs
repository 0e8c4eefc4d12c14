// SPDX-License-Identifier: Apache-2.0
//! The runtime's top-level error: each variant names the container and the failed step;
//! the causes (config, state, cgroup, init, hook errors) follow as the source chain.

use crate::channel::ChannelError;
use crate::config::ConfigError;
use crate::hooks::HookError;
use crate::init::InitError;
use crate::procfs::ProcError;
use crate::state::StateError;

/// Errors of lifecycle operations.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Loading the bundle failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The state directory failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A cgroup step failed.
    #[error("container {id}: cgroup")]
    Cgroup {
        /// Container.
        id: String,
        /// Cause.
        #[source]
        source: stockade_cgroups::CgroupError,
    },
    /// Compiling or handing over the seccomp filter failed.
    #[error("container {id}: seccomp")]
    Seccomp {
        /// Container.
        id: String,
        /// Cause.
        #[source]
        source: stockade_seccomp::SeccompError,
    },
    /// init reported a failure.
    #[error("container {id}: init")]
    Init {
        /// Container.
        id: String,
        /// Cause.
        #[source]
        source: InitError,
    },
    /// init exited or broke the protocol.
    #[error("container {id}: init {status}")]
    InitDied {
        /// Container.
        id: String,
        /// How init ended, or what it sent.
        status: String,
        /// Cause.
        #[source]
        source: ChannelError,
    },
    /// A hook failed.
    #[error("container {id}")]
    Hook {
        /// Container.
        id: String,
        /// Cause.
        #[source]
        source: HookError,
    },
    /// A procfs write (maps, oom_score_adj) failed.
    #[error("container {id}")]
    Proc {
        /// Container.
        id: String,
        /// Cause.
        #[source]
        source: ProcError,
    },
    /// A system call of a lifecycle step failed.
    #[error("container {id}: {step}")]
    Io {
        /// Container.
        id: String,
        /// The step.
        step: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The container is in the wrong state for the operation.
    #[error("container {id} is {status}: cannot {action}")]
    Status {
        /// Container.
        id: String,
        /// Its status.
        status: String,
        /// The refused operation.
        action: &'static str,
    },
    /// A signal for a container whose init has exited (runc's words: containerd's shim
    /// recognises `container not running` as "process already finished").
    #[error("container {id}: container not running")]
    NotRunning {
        /// Container.
        id: String,
    },
    /// The request itself is invalid (flags that contradict the config).
    #[error("container {id}: {reason}")]
    Request {
        /// Container.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result shorthand.
pub type Result<T> = std::result::Result<T, RuntimeError>;

/// Builds an [`RuntimeError::Io`] mapper for `id` and `step`.
pub fn io(id: &str, step: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let (id, step) = (id.to_string(), step.into());
    move |source| RuntimeError::Io { id, step, source }
}

/// Builds an [`RuntimeError::Cgroup`] mapper for `id`.
pub fn cg(id: &str) -> impl FnOnce(stockade_cgroups::CgroupError) -> RuntimeError + '_ {
    move |source| RuntimeError::Cgroup {
        id: id.to_string(),
        source,
    }
}
