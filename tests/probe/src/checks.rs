// SPDX-License-Identifier: Apache-2.0
//! `paths`, `try`, `write`: single checks whose answer is the kernel's.

use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

use serde_json::{Value, json};

use crate::sys::{self, SysResult};

fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

fn io_err(e: &std::io::Error) -> Value {
    let n = e.raw_os_error().unwrap_or(0);
    json!({ "errno": n, "error": sys::errname(n) })
}

fn staged(e: &std::io::Error, stage: &str) -> Value {
    let mut v = io_err(e);
    v["stage"] = json!(stage);
    v
}

fn kind(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "file"
    }
}

/// Everything about one path: type, owner, mode, device numbers, fs magic, whether it reads
/// (and how many bytes), lists (and how many entries), and opens for writing.
pub fn path_info(path: &str) -> Value {
    let md = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return json!({ "exists": false, "lstat": io_err(&e) }),
    };
    let mut v = json!({
        "exists": true,
        "kind": kind(md.file_type()),
        "mode": format!("{:o}", md.mode() & 0o7777),
        "uid": md.uid(),
        "gid": md.gid(),
        "major": major(md.rdev()),
        "minor": minor(md.rdev()),
        "dev": md.dev(),
        "ino": md.ino(),
        "fs_magic": sys::statfs_magic(path).ok().map(|m| format!("{m:#x}")),
    });
    if md.file_type().is_symlink() {
        v["target"] = json!(
            fs::read_link(path)
                .ok()
                .map(|t| t.to_string_lossy().into_owned())
        );
    }
    let resolved_dir = fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
    if resolved_dir {
        v["list"] = match fs::read_dir(path) {
            Ok(d) => json!({ "entries": d.count() }),
            Err(e) => io_err(&e),
        };
    } else {
        v["read"] = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(mut f) => {
                let mut buf = vec![0u8; 65536];
                match f.read(&mut buf) {
                    Ok(n) => json!({ "bytes": n }),
                    Err(e) => staged(&e, "read"),
                }
            }
            Err(e) => staged(&e, "open"),
        };
    }
    // Opening for writing (never truncating, never writing) is the whole test.
    let wflags = if resolved_dir {
        libc::O_RDONLY | libc::O_DIRECTORY
    } else {
        libc::O_NONBLOCK
    };
    v["write_open"] = match OpenOptions::new()
        .write(!resolved_dir)
        .read(resolved_dir)
        .custom_flags(wflags)
        .open(path)
    {
        Ok(_) if resolved_dir => json!({ "ok": "dir" }),
        Ok(_) => json!({ "ok": true }),
        Err(e) => io_err(&e),
    };
    v
}

/// `paths P...`.
pub fn paths(args: &[String]) -> Value {
    let mut map = serde_json::Map::new();
    for p in args {
        map.insert(p.clone(), path_info(p));
    }
    Value::Object(map)
}

/// JSON of one syscall attempt.
pub fn result(call: &str, r: SysResult) -> Value {
    match r {
        Ok(ret) => json!({ "call": call, "ok": true, "ret": ret }),
        Err(e) => json!({ "call": call, "ok": false, "errno": e, "error": sys::errname(e) }),
    }
}

/// `CLONE_NEW*` flags from a comma list (`user,mnt,pid`).
pub fn ns_flags(list: &str) -> Result<i32, String> {
    let mut flags = 0;
    for n in list.split(',') {
        flags |= match n {
            "user" => libc::CLONE_NEWUSER,
            "mnt" | "mount" => libc::CLONE_NEWNS,
            "pid" => libc::CLONE_NEWPID,
            "net" | "network" => libc::CLONE_NEWNET,
            "uts" => libc::CLONE_NEWUTS,
            "ipc" => libc::CLONE_NEWIPC,
            "cgroup" => libc::CLONE_NEWCGROUP,
            "time" => 0x80,
            other => return Err(format!("unknown namespace {other}")),
        };
    }
    Ok(flags)
}

fn arg(args: &[String], i: usize) -> Result<&str, String> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| "missing argument".to_string())
}

/// `try NAME [ARGS]`: one syscall; the kernel's answer.
pub fn try_call(args: &[String]) -> Result<Value, String> {
    let name = arg(args, 0)?;
    let r = match name {
        "unshare" => sys::unshare(ns_flags(arg(args, 1)?)?),
        "mount-tmpfs" => sys::mount("tmpfs", arg(args, 1)?, "tmpfs", 0, None),
        "mount-proc" => sys::mount("proc", arg(args, 1)?, "proc", 0, None),
        "mount-sysfs" => sys::mount("sysfs", arg(args, 1)?, "sysfs", 0, None),
        "mount-bind" => sys::mount(arg(args, 1)?, arg(args, 2)?, "", libc::MS_BIND, None),
        "remount-rw" => sys::mount(
            "",
            arg(args, 1)?,
            "",
            libc::MS_REMOUNT | libc::MS_BIND,
            None,
        ),
        "umount" => sys::umount2(arg(args, 1)?, 0),
        "io_uring_setup" => sys::io_uring_setup(4),
        "bpf" => sys::bpf_prog_load(),
        "userfaultfd" => sys::syscall_ints(libc::SYS_userfaultfd, [1 | 0o2000000, 0, 0, 0, 0]),
        "keyctl" => sys::syscall_ints(libc::SYS_keyctl, [1, 0, 0, 0, 0]),
        "add_key" => sys::add_key("stockade-probe"),
        "request_key" => sys::syscall_ints(libc::SYS_request_key, [0, 0, 0, 0, 0]),
        "perf_event_open" => sys::perf_event_open(),
        "kexec_load" => sys::syscall_ints(libc::SYS_kexec_load, [0, 0, 0, 0xdead_0000, 0]),
        "kexec_file_load" => {
            sys::syscall_ints(libc::SYS_kexec_file_load, [u64::MAX, u64::MAX, 0, 0, 0])
        }
        "init_module" => sys::init_module(),
        "finit_module" => sys::module_call(libc::SYS_finit_module, ""),
        "delete_module" => sys::module_call(libc::SYS_delete_module, "stockade_probe_none"),
        "open_by_handle_at" => sys::open_by_handle(args.get(1).map_or("/", String::as_str)),
        "ptrace-attach" => ptrace_attach(arg(args, 1)?.parse().map_err(|_| "bad pid")?),
        "setns" => setns(arg(args, 1)?, ns_flags(arg(args, 2)?)?),
        "sethostname" => sys::sethostname(arg(args, 1)?),
        "chroot" => sys::chroot(arg(args, 1)?),
        "swapon" => sys::swapon("/stockade-probe-no-swap"),
        "raw-socket" => sys::socket(libc::AF_PACKET, libc::SOCK_RAW, 0),
        "mknod" => sys::mknod(arg(args, 1)?, libc::S_IFCHR | 0o600, 1, 3),
        "iopl" => sys::syscall_ints(libc::SYS_iopl, [3, 0, 0, 0, 0]),
        "syslog" => sys::syscall_ints(libc::SYS_syslog, [10, 0, 0, 0, 0]),
        "reboot" => sys::syscall_ints(libc::SYS_reboot, [0, 0, 0, 0, 0]),
        "setuid" => sys::syscall_ints(
            libc::SYS_setuid,
            [arg(args, 1)?.parse().map_err(|_| "bad uid")?, 0, 0, 0, 0],
        ),
        "getcwd" => std::env::current_dir()
            .map(|_| 0)
            .map_err(|e| e.raw_os_error().unwrap_or(0)),
        other => return Err(format!("unknown call {other}")),
    };
    Ok(result(name, r))
}

fn ptrace_attach(pid: i32) -> SysResult {
    let r = sys::ptrace(libc::PTRACE_ATTACH, pid);
    if r.is_ok() {
        let _ = sys::waitpid(pid);
        let _ = sys::ptrace(libc::PTRACE_DETACH, pid);
    }
    r
}

fn setns(path: &str, flags: i32) -> SysResult {
    let f = fs::File::open(path).map_err(|e| e.raw_os_error().unwrap_or(0))?;
    sys::setns(std::os::fd::AsRawFd::as_raw_fd(&f), flags)
}

/// `write PATH DATA`: open for writing (no truncation) and write DATA once.
pub fn write(args: &[String]) -> Result<Value, String> {
    let path = arg(args, 0)?;
    let data = arg(args, 1)?;
    let f = match OpenOptions::new().write(true).open(path) {
        Ok(f) => f,
        Err(e) => return Ok(json!({ "path": path, "open": io_err(&e) })),
    };
    let w = sys::write(std::os::fd::AsRawFd::as_raw_fd(&f), data.as_bytes());
    Ok(json!({ "path": path, "open": { "ok": true }, "write": result("write", w) }))
}
