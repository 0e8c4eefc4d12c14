// SPDX-License-Identifier: Apache-2.0
//! OCI hooks: each runs with the container state JSON on stdin, its own `args` (argv[0]
//! included) and `env`, and an optional `timeout` in seconds after which it is killed.
//! prestart/createRuntime/poststart/poststop run in the runtime's namespaces (main);
//! createContainer and startContainer run in the container's (init).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use oci_spec::runtime::{Hook, Spec};
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags};

/// Which hook list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `prestart` (deprecated; with createRuntime).
    Prestart,
    /// `createRuntime`.
    CreateRuntime,
    /// `createContainer`.
    CreateContainer,
    /// `startContainer`.
    StartContainer,
    /// `poststart`.
    Poststart,
    /// `poststop`.
    Poststop,
}

impl std::fmt::Display for HookKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        })
    }
}

/// A hook failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// It could not be started.
    #[error("{kind} hook {path}: cannot run")]
    Spawn {
        /// List.
        kind: HookKind,
        /// Program.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// It exited unsuccessfully.
    #[error("{kind} hook {path}: {status}")]
    Failed {
        /// List.
        kind: HookKind,
        /// Program.
        path: PathBuf,
        /// Exit status.
        status: std::process::ExitStatus,
    },
    /// It ran longer than its timeout and was killed.
    #[error("{kind} hook {path}: timed out after {secs}s")]
    Timeout {
        /// List.
        kind: HookKind,
        /// Program.
        path: PathBuf,
        /// Timeout.
        secs: i64,
    },
}

/// The hooks of `kind` in the spec.
#[allow(deprecated)] // prestart is deprecated in the spec but still honoured
pub fn list(spec: &Spec, kind: HookKind) -> &[Hook] {
    let Some(h) = spec.hooks() else { return &[] };
    let l = match kind {
        HookKind::Prestart => h.prestart(),
        HookKind::CreateRuntime => h.create_runtime(),
        HookKind::CreateContainer => h.create_container(),
        HookKind::StartContainer => h.start_container(),
        HookKind::Poststart => h.poststart(),
        HookKind::Poststop => h.poststop(),
    };
    l.as_deref().unwrap_or_default()
}

/// Whether init must stop for hooks before pivot_root.
pub fn has_create_hooks(spec: &Spec) -> bool {
    [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
    ]
    .iter()
    .any(|k| !list(spec, *k).is_empty())
}

/// Runs hooks in order; stops at the first failure.
pub fn run_all(kind: HookKind, hooks: &[Hook], state: &str) -> Result<(), HookError> {
    for h in hooks {
        run_one(kind, h, state)?;
    }
    Ok(())
}

/// Runs hooks in order; failures are logged as warnings and the rest still run (poststart,
/// poststop).
pub fn run_all_warn(kind: HookKind, hooks: &[Hook], state: &str) {
    for h in hooks {
        if let Err(e) = run_one(kind, h, state) {
            tracing::warn!("{e}");
        }
    }
}

/// Whether a create/start failed in a hook (runtime.md#lifecycle: the container is then
/// destroyed and the poststop hooks run, unlike other create failures).
pub fn failed_in_hook(e: &crate::RuntimeError) -> bool {
    match e {
        crate::RuntimeError::Hook { .. } => true,
        crate::RuntimeError::Init { source, .. } => source.step == crate::init::Step::Hook,
        _ => false,
    }
}

/// The poststop hooks of a create that failed in a hook (state `stopped`, no pid).
#[derive(Debug)]
pub struct PoststopOnFailure {
    hooks: Vec<Hook>,
    state: String,
}

impl PoststopOnFailure {
    /// Captures the hooks and state before the spec moves into the create.
    pub fn capture(spec: &Spec, id: &str, bundle: &std::path::Path) -> PoststopOnFailure {
        let rec = crate::state::Record {
            id: id.into(),
            bundle: bundle.to_path_buf(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            ..crate::state::Record::default()
        };
        PoststopOnFailure {
            hooks: list(spec, HookKind::Poststop).to_vec(),
            state: crate::oci_state::hook_state(&rec, oci_spec::runtime::ContainerState::Stopped),
        }
    }

    /// Runs them when `e` is a hook failure (after the rollback).
    pub fn run_if_hook_failed(&self, e: &crate::RuntimeError) {
        if failed_in_hook(e) && !self.hooks.is_empty() {
            run_all_warn(HookKind::Poststop, &self.hooks, &self.state);
        }
    }
}

fn run_one(kind: HookKind, hook: &Hook, state: &str) -> Result<(), HookError> {
    let path = hook.path().clone();
    let spawn_err = |source| HookError::Spawn {
        kind,
        path: path.clone(),
        source,
    };
    let mut cmd = Command::new(&path);
    let args = hook.args().as_deref().unwrap_or_default();
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear().stdin(Stdio::piped());
    for kv in hook.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // a hook that does not read its stdin must not fail the write
        let _ = stdin.write_all(state.as_bytes());
    }
    if let Some(secs) = hook.timeout().filter(|t| *t > 0)
        && !wait_exit(child.id(), secs).map_err(spawn_err)?
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err(HookError::Timeout { kind, path, secs });
    }
    let status = child.wait().map_err(spawn_err)?;
    if status.success() {
        Ok(())
    } else {
        Err(HookError::Failed { kind, path, status })
    }
}

/// Waits up to `secs` for the child to exit (pidfd readable); true when it did.
fn wait_exit(pid: u32, secs: i64) -> std::io::Result<bool> {
    let raw = i32::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    let pid = Pid::from_raw(raw).ok_or_else(|| std::io::Error::other("pid 0"))?;
    let fd = rustix::process::pidfd_open(pid, PidfdFlags::empty())?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs.unsigned_abs());
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let ts =
            rustix::event::Timespec::try_from(left).map_err(|_| std::io::Error::other("time"))?;
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(v: serde_json::Value) -> Hook {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn test_hook_gets_state_on_stdin_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}; echo \"$X\" >> {}", out.display(), out.display())],
            "env": ["X=hello"]
        }));
        run_all(HookKind::Poststart, &[h], "{\"id\":\"c\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"c\"}hello\n"
        );
    }

    #[test]
    fn test_failure_and_timeout_name_the_hook() {
        let h = hook(serde_json::json!({"path": "/bin/false"}));
        let e = run_all(HookKind::Prestart, &[h], "{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("prestart hook /bin/false"), "{e}");
        let h =
            hook(serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}));
        let e = run_all(HookKind::CreateRuntime, &[h], "{}").unwrap_err();
        assert!(matches!(e, HookError::Timeout { secs: 1, .. }), "{e}");
    }
}
