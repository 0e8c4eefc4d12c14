// SPDX-License-Identifier: Apache-2.0
//! Resource attacks of RES-01/02: fork and thread bombs, fd exhaustion, memory and tmpfs fill.
//! Each stops at the first error (or a maximum) and reports how far it got and why it stopped.

use std::fs::{self, File};
use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::sys;

fn io_errno(e: &std::io::Error) -> String {
    sys::errname(e.raw_os_error().unwrap_or(0))
}

/// `fork-bomb MAX`: forks sleeping children until fork fails or MAX; then kills them.
pub fn fork_bomb(max: u64) -> Value {
    let mut children = Vec::new();
    let mut stop = None;
    while (children.len() as u64) < max {
        match sys::fork() {
            Ok(0) => {
                let _ = sys::set_pdeathsig(libc::SIGKILL);
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            Ok(pid) => children.push(i32::try_from(pid).unwrap_or(-1)),
            Err(e) => {
                stop = Some(sys::errname(e));
                break;
            }
        }
    }
    let pids_events = fs::read_to_string("/sys/fs/cgroup/pids/pids.events").ok();
    for &c in &children {
        let _ = sys::kill(c, libc::SIGKILL);
        let _ = sys::waitpid(c);
    }
    json!({ "forked": children.len(), "stopped_by": stop, "pids_events": pids_events })
}

/// `thread-bomb MAX`: spawns sleeping threads until spawning fails or MAX.
pub fn thread_bomb(max: u64) -> Value {
    let mut n = 0u64;
    let mut stop = None;
    while n < max {
        let r = std::thread::Builder::new().stack_size(64 * 1024).spawn(|| {
            std::thread::sleep(Duration::from_secs(3600));
        });
        match r {
            Ok(_) => n += 1,
            Err(e) => {
                stop = Some(io_errno(&e));
                break;
            }
        }
    }
    json!({ "threads": n, "stopped_by": stop })
}

/// `fd-exhaust`: opens /dev/null until open fails.
pub fn fd_exhaust() -> Value {
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) => return json!({ "opened": files.len(), "stopped_by": io_errno(&e) }),
        }
        if files.len() > 1 << 20 {
            return json!({ "opened": files.len(), "stopped_by": null });
        }
    }
}

/// `alloc MIB`: allocates and touches MIB mebibytes (expected to be OOM-killed first).
pub fn alloc(mib: u64) -> Value {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for i in 0..mib {
        let mut c = vec![0u8; 1 << 20];
        for p in (0..c.len()).step_by(4096) {
            c[p] = 1;
        }
        chunks.push(c);
        if i % 32 == 0 {
            eprintln!("allocated {i} MiB");
        }
    }
    json!({ "allocated_mib": chunks.len() })
}

/// `fill PATH MAXMIB`: writes 1 MiB chunks to PATH until a write fails or MAXMIB.
pub fn fill(path: &str, max_mib: u64) -> Value {
    let mut f = match File::create(path) {
        Ok(f) => f,
        Err(e) => return json!({ "bytes": 0, "stopped_by": io_errno(&e) }),
    };
    let chunk = vec![0x5au8; 1 << 20];
    let mut bytes = 0u64;
    while bytes < max_mib << 20 {
        match f.write(&chunk) {
            Ok(0) => return json!({ "bytes": bytes, "stopped_by": "short write" }),
            Ok(n) => bytes += n as u64,
            Err(e) => return json!({ "bytes": bytes, "stopped_by": io_errno(&e) }),
        }
    }
    json!({ "bytes": bytes, "stopped_by": null })
}

/// `many-files DIR N`: creates up to N one-byte files in DIR.
pub fn many_files(dir: &str, n: u64) -> Value {
    for i in 0..n {
        if let Err(e) = fs::write(format!("{dir}/f{i}"), b"x") {
            return json!({ "created": i, "stopped_by": io_errno(&e) });
        }
    }
    json!({ "created": n, "stopped_by": null })
}
