// SPDX-License-Identifier: Apache-2.0
//! Test helper: compiles a profile, loads it into this (single-threaded) process, then runs
//! probe syscalls or execs a program. Used by `crates/seccomp/tests/`, because a filter must
//! never be loaded into the multithreaded test runner.
//!
//! ```text
//! stockade-seccomp-helper [--default | --profile FILE | --none] [--nnp] [--state JSON] STEP...
//!   probe:NAME[=VALUE]   issue a probe; prints "NAME ok RET" or "NAME errno N"
//!   status               prints the Seccomp: and NoNewPrivs: lines of /proc/self/status
//!   exec PROGRAM ARGS... execs PROGRAM (must be the last step)
//!   print-default        prints the default profile as JSON
//!   time-compile=N       compiles the default profile N times; prints "compile US us"
//!   loop:NAME=N          issues probe NAME N times; prints "loop NAME NS ns/call"
//! ```
//! With a notify profile, the listener fd is sent to `listenerPath` right after loading.
#![forbid(unsafe_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use stockade_seccomp::{CompiledFilter, compile, default_profile, parse_profile, send_listener};
use stockade_sys::seccomp::{Probe, probe};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "stockade-seccomp-helper: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut filter: Option<CompiledFilter> = None;
    let mut nnp = false;
    let mut state = None;
    let mut rest = args.as_slice();
    while let Some((first, tail)) = rest.split_first() {
        match first.as_str() {
            "--default" => filter = Some(compile(&default_profile()).map_err(chain)?),
            "--none" => filter = None,
            "--nnp" => nnp = true,
            "--profile" | "--state" => {
                let (value, tail2) = tail.split_first().ok_or(format!("{first} needs a value"))?;
                if first == "--state" {
                    state = Some(value.clone());
                } else {
                    let json = std::fs::read(value).map_err(|e| format!("{value}: {e}"))?;
                    let profile = parse_profile(&json).map_err(chain)?;
                    filter = Some(compile(&profile).map_err(chain)?);
                }
                rest = tail2;
                continue;
            }
            _ => break,
        }
        rest = tail;
    }
    if nnp {
        rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    }
    if let Some(filter) = &filter {
        load(filter, state)?;
    }
    steps(rest)
}

fn load(filter: &CompiledFilter, state: Option<String>) -> Result<(), String> {
    let listener = filter.load().map_err(chain)?;
    if let (Some(fd), Some(path)) = (listener, filter.listener_path()) {
        let pid = std::process::id();
        let state = state.unwrap_or_else(|| {
            format!(r#"{{"ociVersion":"1.2.0","id":"helper","status":"creating","pid":{pid},"bundle":"/"}}"#)
        });
        use std::os::fd::AsFd;
        send_listener(
            path,
            fd.as_fd(),
            state.as_bytes(),
            filter.listener_metadata(),
        )
        .map_err(chain)?;
    }
    Ok(())
}

fn steps(mut rest: &[String]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    while let Some((step, tail)) = rest.split_first() {
        if step == "exec" {
            let (program, args) = tail.split_first().ok_or("exec needs a program")?;
            drop(out);
            return Err(format!(
                "exec {program}: {}",
                Command::new(program).args(args).exec()
            ));
        } else if let Some(n) = step.strip_prefix("time-compile=") {
            let n = parse_u64(n)?.max(1);
            let start = std::time::Instant::now();
            for _ in 0..n {
                compile(&default_profile()).map_err(chain)?;
            }
            let us = start.elapsed().as_micros() / u128::from(n);
            writeln!(out, "compile {us} us").map_err(|e| e.to_string())?;
        } else if let Some(spec) = step.strip_prefix("loop:") {
            let (name, n) = spec.split_once('=').ok_or("loop:NAME=N")?;
            let (n, call) = (parse_u64(n)?.max(1), probe_named(name, 0)?);
            let start = std::time::Instant::now();
            for _ in 0..n {
                let _ = probe(call);
            }
            let ns = start.elapsed().as_nanos() / u128::from(n);
            writeln!(out, "loop {name} {ns} ns/call").map_err(|e| e.to_string())?;
        } else if step == "print-default" {
            let json =
                serde_json::to_string_pretty(&default_profile()).map_err(|e| e.to_string())?;
            writeln!(out, "{json}").map_err(|e| e.to_string())?;
        } else if step == "status" {
            let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
            for line in status
                .lines()
                .filter(|l| l.starts_with("Seccomp:") || l.starts_with("NoNewPrivs:"))
            {
                writeln!(
                    out,
                    "{}",
                    line.split_whitespace().collect::<Vec<_>>().join(" ")
                )
                .map_err(|e| e.to_string())?;
            }
        } else if let Some(spec) = step.strip_prefix("probe:") {
            let (name, value) = match spec.split_once('=') {
                Some((n, v)) => (n, parse_u64(v)?),
                None => (spec, 0),
            };
            let result = match probe(probe_named(name, value)?) {
                Ok(ret) => format!("{name} ok {ret}"),
                Err(e) => format!("{name} errno {}", e.raw_os_error().unwrap_or(-1)),
            };
            writeln!(out, "{result}").map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
        } else {
            return Err(format!("unknown step {step}"));
        }
        rest = tail;
    }
    Ok(())
}

fn parse_u64(v: &str) -> Result<u64, String> {
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|e| format!("bad value {v}: {e}"))
}

fn probe_named(name: &str, value: u64) -> Result<Probe, String> {
    Ok(match name {
        "getppid" => Probe::Getppid,
        "personality" => Probe::Personality(value),
        "unshare" => Probe::Unshare(value),
        "clone" => Probe::Clone(value),
        "clone3" => Probe::Clone3,
        "setns" => Probe::Setns,
        "io_uring_setup" => Probe::IoUringSetup,
        "io_uring_enter" => Probe::IoUringEnter,
        "io_uring_register" => Probe::IoUringRegister,
        "bpf" => Probe::Bpf,
        "userfaultfd" => Probe::Userfaultfd,
        "keyctl" => Probe::Keyctl,
        "add_key" => Probe::AddKey,
        "request_key" => Probe::RequestKey,
        "perf_event_open" => Probe::PerfEventOpen,
        "open_by_handle_at" => Probe::OpenByHandleAt,
        "name_to_handle_at" => Probe::NameToHandleAt,
        "mount" => Probe::Mount,
        "umount2" => Probe::Umount2,
        "pivot_root" => Probe::PivotRoot,
        "fsopen" => Probe::Fsopen,
        "open_tree" => Probe::OpenTree,
        "move_mount" => Probe::MoveMount,
        "init_module" => Probe::InitModule,
        "finit_module" => Probe::FinitModule,
        "delete_module" => Probe::DeleteModule,
        "ptrace" => Probe::Ptrace,
        "mkdirat" => Probe::Mkdirat,
        "ioctl" => Probe::Ioctl(value),
        "socket" => Probe::Socket(value),
        "mseal" => Probe::Mseal,
        _ => return Err(format!("unknown probe {name}")),
    })
}

fn chain(e: stockade_seccomp::SeccompError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
