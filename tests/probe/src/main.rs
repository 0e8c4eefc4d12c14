// SPDX-License-Identifier: Apache-2.0
//! Static probe run inside containers by the black-box suites (`tests/e2e`), like youki's
//! `runtimetest` and crun's `tests/init.c`: it reports facts as JSON on stdout, runs one check,
//! or performs one attack and reports what the kernel let through.
//!
//! Commands (JSON on stdout unless said otherwise):
//! * `facts`: ids, groups, umask, cwd, hostname, env, capabilities, NoNewPrivs, seccomp mode,
//!   rlimits, oom_score_adj, personality, mountinfo, namespaces, cgroups, fds, ttys.
//! * `paths P...`: type, owner, mode, device numbers, fs magic, readability, write-open.
//! * `try CALL [ARGS]`: one syscall (unshare, mount-*, io_uring_setup, bpf, userfaultfd,
//!   keyctl, add_key, perf_event_open, kexec_load, init_module, open_by_handle_at, ...);
//!   exit 0 when the kernel allowed it, 1 when it refused.
//! * `write PATH DATA`: open for writing (no truncation) and write once.
//! * `exe-watch MS [STOP]`, `ptrace-watch MS [STOP]`, `nested-mount`, `swap-loop MS A B [STOP]`,
//!   `leak-exec ...`: attacks (see `attacks.rs`); STOP is a file whose appearance ends the run.
//! * `fork-bomb N`, `thread-bomb N`, `fd-exhaust`, `alloc MIB`, `fill PATH MIB`,
//!   `many-files DIR N`: resource attacks.
//! * `sleep MS`, `exit CODE`: plain payloads.
//!
//! Exit status 2 means the probe itself was misused (unknown command, bad argument).

mod attacks;
mod checks;
mod facts;
mod stress;
mod sys;

use serde_json::Value;

fn num(args: &[String], i: usize) -> Result<u64, String> {
    args.get(i)
        .ok_or("missing number")?
        .parse()
        .map_err(|_| format!("bad number {:?}", args[i]))
}

fn dispatch(cmd: &str, args: &[String]) -> Result<Value, String> {
    let s = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| "missing argument".to_string())
    };
    Ok(match cmd {
        "facts" => facts::collect(),
        "fds" => facts::fds(),
        "paths" => checks::paths(args),
        "try" => checks::try_call(args)?,
        "write" => checks::write(args)?,
        "exe-watch" => attacks::exe_watch(num(args, 0)?, args.get(1).map(String::as_str)),
        "ptrace-watch" => attacks::ptrace_watch(num(args, 0)?, args.get(1).map(String::as_str)),
        "nested-mount" => attacks::nested_mount(),
        "swap-loop" => {
            attacks::swap_loop(num(args, 0)?, s(1)?, s(2)?, args.get(3).map(String::as_str))
        }
        "leak-exec" => attacks::leak_exec(args)?,
        "fork-bomb" => stress::fork_bomb(num(args, 0)?),
        "thread-bomb" => stress::thread_bomb(num(args, 0)?),
        "fd-exhaust" => stress::fd_exhaust(),
        "alloc" => stress::alloc(num(args, 0)?),
        "fill" => stress::fill(s(0)?, num(args, 1)?),
        "many-files" => stress::many_files(s(0)?, num(args, 1)?),
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_millis(num(args, 0)?));
            Value::Null
        }
        "exit" => std::process::exit(i32::try_from(num(args, 0)?).map_err(|e| e.to_string())?),
        other => return Err(format!("unknown command {other:?}")),
    })
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let Some(cmd) = argv.get(1) else {
        eprintln!("stockade-probe: usage: stockade-probe COMMAND [ARGS] (see src/main.rs)");
        std::process::exit(2);
    };
    match dispatch(cmd, &argv[2..]) {
        Ok(Value::Null) => {}
        Ok(v) => {
            println!("{v}");
            if cmd == "try" && v["ok"] == Value::Bool(false) {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("stockade-probe: {cmd}: {e}");
            std::process::exit(2);
        }
    }
}
