// SPDX-License-Identifier: Apache-2.0
//! The error init reports to main: a serde value (step, context, errno), not free text.

use serde::{Deserialize, Serialize};

/// The init step that failed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Step {
    /// Non-dumpable, parent-death signal, fd sweep.
    Harden,
    /// Joining a namespace by path.
    JoinNamespace,
    /// Creating a namespace with `unshare` (slow path).
    Unshare,
    /// Writing time namespace offsets.
    TimeOffsets,
    /// The second fork.
    Fork,
    /// Becoming root of a new user namespace.
    BecomeRoot,
    /// hostname / domainname.
    Hostname,
    /// Assembling the rootfs (mounts, devices).
    Rootfs,
    /// Allocating or binding the console.
    Console,
    /// A createContainer or startContainer hook.
    Hook,
    /// pivot_root / chroot.
    Pivot,
    /// sysctl writes.
    Sysctl,
    /// Read-only and masked paths, read-only root.
    Finalize,
    /// Creating or entering the working directory.
    Cwd,
    /// Finding the program to run.
    Executable,
    /// Waiting for `start` on the start socket.
    StartWait,
    /// setrlimit.
    Rlimit,
    /// personality.
    Personality,
    /// I/O priority, scheduler, CPU affinity, memory policy.
    Scheduling,
    /// Session and controlling terminal.
    Terminal,
    /// Supplementary groups, gid, uid.
    User,
    /// Capability sets.
    Capabilities,
    /// no_new_privs.
    NoNewPrivs,
    /// Loading the seccomp filter.
    Seccomp,
    /// Closing or flagging descriptors.
    Fds,
    /// execve.
    Exec,
    /// Talking to main.
    Sync,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Step::Harden => "harden init",
            Step::JoinNamespace => "join namespace",
            Step::Unshare => "unshare",
            Step::TimeOffsets => "write time offsets",
            Step::Fork => "fork",
            Step::BecomeRoot => "become root in the user namespace",
            Step::Hostname => "set hostname",
            Step::Rootfs => "prepare rootfs",
            Step::Console => "set up console",
            Step::Hook => "run hook",
            Step::Pivot => "pivot root",
            Step::Sysctl => "write sysctl",
            Step::Finalize => "finalize rootfs",
            Step::Cwd => "enter cwd",
            Step::Executable => "find executable",
            Step::StartWait => "wait for start",
            Step::Rlimit => "setrlimit",
            Step::Personality => "set personality",
            Step::Scheduling => "set scheduling attributes",
            Step::Terminal => "set controlling terminal",
            Step::User => "set user",
            Step::Capabilities => "set capabilities",
            Step::NoNewPrivs => "set no_new_privs",
            Step::Seccomp => "load seccomp filter",
            Step::Fds => "close descriptors",
            Step::Exec => "exec",
            Step::Sync => "sync with runtime",
        };
        f.write_str(s)
    }
}

/// A failed init step, as sent to main.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{step}{}{}{}", sep(*step, context), context, errno_text(*errno))]
pub struct InitError {
    /// The step.
    pub step: Step,
    /// What it was working on (a path, an rlimit, a hook) and the cause chain.
    pub context: String,
    /// The errno, when the cause was a system call.
    pub errno: Option<i32>,
}

fn sep(step: Step, context: &str) -> &'static str {
    match (step, context.is_empty()) {
        (_, true) => "",
        // the context is a sentence of its own: `exec: "foo": executable file not found...`
        (Step::Executable, false) => ": ",
        (_, false) => " ",
    }
}

fn errno_text(errno: Option<i32>) -> String {
    match errno {
        Some(e) => format!(": {}", errno_words(e)),
        None => String::new(),
    }
}

/// The C library's text for `errno`, worded as runc (Go) prints it: lower case, no
/// `(os error N)`. Engines match these words: the docker CLI maps `no such file or
/// directory` to exit 127 and `permission denied` to 126, case-sensitively.
pub fn errno_words(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text
        .strip_suffix(&format!(" (os error {errno})"))
        .unwrap_or(&text);
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

impl InitError {
    /// A failure with only a description.
    pub fn new(step: Step, context: impl Into<String>) -> InitError {
        InitError {
            step,
            context: context.into(),
            errno: None,
        }
    }

    /// A failure of a system call.
    pub fn io(step: Step, context: impl Into<String>, err: &std::io::Error) -> InitError {
        match err.raw_os_error() {
            Some(e) => InitError {
                step,
                context: context.into(),
                errno: Some(e),
            },
            None => InitError {
                step,
                context: format!("{}: {err}", context.into()),
                errno: None,
            },
        }
    }

    /// A failure of another crate's step: its whole error chain becomes the context.
    pub fn chain(step: Step, context: &str, err: &dyn std::error::Error) -> InitError {
        let mut text = String::from(context);
        let mut cur: Option<&dyn std::error::Error> = Some(err);
        while let Some(e) = cur {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&e.to_string());
            cur = e.source();
        }
        InitError {
            step,
            context: text,
            errno: None,
        }
    }
}

/// `Result` shorthand for init steps.
pub type InitResult<T> = Result<T, InitError>;

/// Adds step context to io results.
pub trait IoStep<T> {
    /// Maps the error to an [`InitError`] of `step` about `what`.
    fn step(self, step: Step, what: &str) -> InitResult<T>;
}

impl<T> IoStep<T> for std::io::Result<T> {
    fn step(self, step: Step, what: &str) -> InitResult<T> {
        self.map_err(|e| InitError::io(step, what, &e))
    }
}

impl<T> IoStep<T> for rustix::io::Result<T> {
    fn step(self, step: Step, what: &str) -> InitResult<T> {
        self.map_err(|e| InitError::io(step, what, &e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_display_and_roundtrip() {
        let e = InitError::io(Step::Cwd, "/nope", &std::io::Error::from_raw_os_error(2));
        assert_eq!(e.to_string(), "enter cwd /nope: no such file or directory");
        let back: InitError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back.step, Step::Cwd);
        assert_eq!(InitError::new(Step::Fork, "").to_string(), "fork");
    }
}
