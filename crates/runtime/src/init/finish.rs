// SPDX-License-Identifier: Apache-2.0
//! The final steps after `start`: startContainer hooks, then the process setup in the order
//! of process-model.md and `execve`. Shared with `exec` through [`FinalArgs`].

use std::ffi::CString;
use std::os::fd::{BorrowedFd, OwnedFd};

use oci_spec::runtime::{LinuxPersonalityDomain, Process, Spec};

use super::InitArgs;
use super::creds::{self, CapPlan};
use super::error::{InitError, InitResult, IoStep, Step};
use super::target;
use crate::hooks::{self, HookKind};

/// What the final step needs (init or an exec'd process).
#[derive(Debug)]
pub struct FinalArgs<'a> {
    /// The process.
    pub process: &'a Process,
    /// The spec (personality, seccomp-related defaults).
    pub spec: &'a Spec,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// Seccomp filter, unless already loaded.
    pub seccomp: Option<&'a stockade_seccomp::CompiledFilter>,
    /// The console slave to become the controlling terminal and stdio.
    pub console: Option<OwnedFd>,
    /// Start a new session (init always; exec only with a terminal).
    pub setsid: bool,
    /// The channel, kept open (close-on-exec) to report an exec failure.
    pub chan: BorrowedFd<'a>,
    /// rlimits were already applied (init does it before `ready`, so `create` fails).
    pub rlimits_done: bool,
    /// Kept open (close-on-exec) through the fd sweep: `start`'s connection.
    pub barrier: Option<BorrowedFd<'a>>,
}

/// Loads a filter with a notify listener before `ready` (main forwards the listener fd to
/// the agent with the state); other filters load in [`final_steps`].
pub fn early_seccomp(a: &InitArgs<'_>) -> InitResult<Option<OwnedFd>> {
    match a.seccomp {
        Some(f) if f.listener_path().is_some() => f
            .load()
            .map_err(|e| InitError::chain(Step::Seccomp, "", &e)),
        _ => Ok(None),
    }
}

/// startContainer hooks (after start, in the container, before the program).
pub fn run_start_hooks(spec: &Spec, state: &str) -> InitResult<()> {
    let list = hooks::list(spec, HookKind::StartContainer);
    hooks::run_all(HookKind::StartContainer, list, state)
        .map_err(|e| InitError::chain(Step::Hook, "", &e))
}

/// init's last step.
pub fn exec_process(
    a: &InitArgs<'_>,
    exe: &CString,
    seccomp_loaded: bool,
    chan: BorrowedFd<'_>,
    barrier: Option<BorrowedFd<'_>>,
) -> InitResult<std::convert::Infallible> {
    final_steps(
        FinalArgs {
            process: a.process,
            spec: a.spec,
            preserve_fds: a.preserve_fds,
            seccomp: if seccomp_loaded { None } else { a.seccomp },
            console: None, // already on fds 0-2 (setup::console)
            setsid: true,
            chan,
            rlimits_done: true,
            barrier,
        },
        exe,
    )
}

/// rlimits, personality, terminal, umask, fd sweep, cwd, bounding set, user, capabilities,
/// no_new_privs, seccomp, signal reset, `execve`. Returns only on failure.
pub fn final_steps(mut f: FinalArgs<'_>, exe: &CString) -> InitResult<std::convert::Infallible> {
    prepare_final(&mut f)?;
    exec_now(f.process, exe)
}

/// [`final_steps`] without the signal reset and `execve`: what an exec helper does before
/// it forks the process that will exec (so that process holds the final credentials, the
/// seccomp filter and nothing of the host from its first instruction).
pub fn prepare_final(f: &mut FinalArgs<'_>) -> InitResult<()> {
    let p = f.process;
    if !f.rlimits_done {
        creds::apply_rlimits(p.rlimits().as_deref().unwrap_or_default())?;
    }
    set_personality(f.spec)?;
    super::sched::apply(p, f.spec)?;
    set_terminal(f)?;
    let umask = p.user().umask().unwrap_or(0o022);
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(umask & 0o777));
    let mut keep = vec![f.chan];
    keep.extend(f.barrier);
    stockade_sys::fd::close_all_except(&keep, f.preserve_fds).step(Step::Fds, "close")?;
    stockade_sys::fd::inherit_preserved(f.preserve_fds).step(Step::Fds, "--preserve-fds")?;
    target::enter_cwd(p.cwd())?;
    let caps = CapPlan::from_spec(p.capabilities().as_ref())?;
    creds::drop_bounding(&caps)?;
    let nnp = p.no_new_privileges().unwrap_or(false);
    if !nnp {
        load_seccomp(f.seccomp)?;
    }
    creds::set_user(p.user())?;
    creds::set_caps(&caps)?;
    if nnp {
        rustix::thread::set_no_new_privs(true).step(Step::NoNewPrivs, "")?;
        load_seccomp(f.seccomp)?;
    }
    Ok(())
}

/// Default signal dispositions and mask, then `execve` of `exe` with the process's argv and
/// environment. Returns only on failure.
pub fn exec_now(p: &Process, exe: &CString) -> InitResult<std::convert::Infallible> {
    stockade_sys::signal::reset_for_exec().step(Step::Exec, "reset signals")?;
    let argv = cstrings(p.args().as_deref().unwrap_or_default())?;
    let envp = cstrings(p.env().as_deref().unwrap_or_default())?;
    let err = stockade_sys::exec::execve(exe, &argv, &envp);
    Err(InitError::io(Step::Exec, exe.to_string_lossy(), &err))
}

fn load_seccomp(filter: Option<&stockade_seccomp::CompiledFilter>) -> InitResult<()> {
    if let Some(f) = filter {
        f.load()
            .map_err(|e| InitError::chain(Step::Seccomp, "", &e))?;
    }
    Ok(())
}

fn set_personality(spec: &Spec) -> InitResult<()> {
    let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) else {
        return Ok(());
    };
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    stockade_sys::misc::set_personality(persona).step(Step::Personality, &p.domain().to_string())
}

fn set_terminal(f: &mut FinalArgs<'_>) -> InitResult<()> {
    if f.setsid {
        match rustix::process::setsid() {
            Ok(_) | Err(rustix::io::Errno::PERM) => {} // already a session leader
            Err(e) => return Err(InitError::io(Step::Terminal, "setsid", &e.into())),
        }
    }
    // taken: closed here after the dup2s, not by the fd sweep under its owner
    let Some(slave) = f.console.take() else {
        return Ok(());
    };
    rustix::stdio::dup2_stdin(&slave).step(Step::Terminal, "dup2 stdin")?;
    rustix::stdio::dup2_stdout(&slave).step(Step::Terminal, "dup2 stdout")?;
    rustix::stdio::dup2_stderr(&slave).step(Step::Terminal, "dup2 stderr")?;
    rustix::process::ioctl_tiocsctty(&slave).step(Step::Terminal, "TIOCSCTTY")
}

fn cstrings(list: &[String]) -> InitResult<Vec<CString>> {
    list.iter()
        .map(|s| {
            CString::new(s.as_bytes())
                .map_err(|_| InitError::new(Step::Exec, format!("NUL byte in {s:?}")))
        })
        .collect()
}
