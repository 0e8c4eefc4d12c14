// SPDX-License-Identifier: Apache-2.0
//! ESC-02 (fd census, CVE-2024-21626 root cause) and ESC-03 (cwd and argv through
//! /proc/self/fd). The runtime is launched by a careless parent that leaks non-CLOEXEC fds:
//! 3 = a host file, 4 = host `/`, 5 = `/sys/fs/cgroup`, 6 = a listening "daemon" socket.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use serde_json::json;
use stockade_e2e::{Bundle, Opts, Runtime, probe};
use stockade_testutil::require_root;

use crate::{check, rootfs_prefix, rt};

struct Leaks {
    file: PathBuf,
    sock: PathBuf,
    opts: Opts,
}

fn leaks(rt: &Runtime) -> Result<Leaks> {
    let file = rt.work().join("host-secret");
    fs::write(&file, "host secret")?;
    let sock = rt.work().join("daemon.sock");
    let script = format!(
        "rm -f '{s}'; exec '{p}' leak-exec --file '{f}' --dir / --dir /sys/fs/cgroup --listen '{s}' -- \"$@\"",
        s = sock.display(),
        p = probe::path().display(),
        f = file.display()
    );
    let wrapper = vec!["/bin/sh".into(), "-c".into(), script, "sh".into()];
    Ok(Leaks {
        file,
        sock,
        opts: Opts {
            wrapper,
            ..Opts::default()
        },
    })
}

impl Leaks {
    /// Forbidden targets among `targets`: the leaked handles.
    fn forbidden(&self, targets: &[String]) -> Vec<String> {
        let inode = fs::read_to_string("/proc/net/unix")
            .unwrap_or_default()
            .lines()
            .find(|l| l.ends_with(&*self.sock.to_string_lossy()))
            .and_then(|l| l.split_whitespace().nth(6).map(str::to_string));
        targets
            .iter()
            .filter(|t| {
                *t == "/"
                    || *t == "/sys/fs/cgroup"
                    || **t == *self.file.to_string_lossy()
                    || inode
                        .as_ref()
                        .is_some_and(|i| **t == format!("socket:[{i}]"))
            })
            .cloned()
            .collect()
    }
}

fn fd_targets(pid: i64) -> Result<Vec<(String, String)>> {
    let mut v = Vec::new();
    for e in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let e = e?;
        let t = fs::read_link(e.path())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        v.push((e.file_name().to_string_lossy().into_owned(), t));
    }
    v.sort_by_key(|(n, _)| n.parse::<u32>().unwrap_or(0));
    Ok(v)
}

/// The runtime-internal targets a created-but-not-started init may hold.
fn allowed_before_start(t: &str, rt: &Runtime) -> bool {
    t == "/dev/null"
        || t.starts_with("pipe:")
        || t.starts_with("socket:")
        || t.starts_with("anon_inode:")
        || t.contains("exec.fifo")
        || t.starts_with("/memfd:")
        || t.starts_with(&*rt.work().to_string_lossy())
        || t.starts_with("/dev/pts/")
}

fn census(preserve: bool) -> Result<()> {
    let rt = rt();
    let l = leaks(&rt)?;
    let mut b = Bundle::new("esc02")?;
    b.args(&["/probe", "sleep", "600000"]);
    b.write()?;
    let _g = rt.guard(b.id());
    let mut create = vec!["create", "--bundle"];
    let bp = b.path_str();
    create.push(&bp);
    if preserve {
        create.extend(["--preserve-fds", "1"]);
    }
    create.push(b.id());
    rt.cmd_opts(&create, &l.opts)?.check()?;
    let pid = rt.state(b.id())?["pid"].as_i64().context("pid")?;
    let before = fd_targets(pid)?;
    let ts: Vec<String> = before.iter().map(|(_, t)| t.clone()).collect();
    let bad: Vec<&String> = ts
        .iter()
        .filter(|t| !(allowed_before_start(t, &rt) || preserve && **t == *l.file.to_string_lossy()))
        .collect();
    ensure!(
        l.forbidden(&ts)
            .iter()
            .all(|t| preserve && *t == *l.file.to_string_lossy())
            && bad.is_empty(),
        "init before start holds {before:?}"
    );
    rt.cmd_opts(&["start", b.id()], &l.opts)?.check()?;
    std::thread::sleep(std::time::Duration::from_millis(200));
    let after = fd_targets(pid)?;
    let want: Vec<&str> = if preserve {
        vec!["0", "1", "2", "3"]
    } else {
        vec!["0", "1", "2"]
    };
    ensure!(
        after.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>() == want,
        "payload fds after start: {after:?}"
    );
    if preserve {
        ensure!(
            after[3].1 == *l.file.to_string_lossy(),
            "preserved fd 3 is {} not the passed file",
            after[3].1
        );
    }
    let mut exec = vec!["exec"];
    if preserve {
        exec.extend(["--preserve-fds", "1"]);
    }
    exec.extend([b.id(), "/probe", "fds"]);
    let e = probe::parse(&rt.cmd_opts(&exec, &l.opts)?)?;
    let keys: Vec<&str> = e
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    ensure!(keys == want, "exec'd process fds: {e}");
    if preserve {
        ensure!(
            e["3"] == json!(l.file.to_string_lossy()),
            "exec'd fd 3: {}",
            e["3"]
        );
    }
    Ok(())
}

#[test]
fn esc02_fd_census_of_init_and_exec() {
    require_root!();
    check(|| census(false));
}

#[test]
fn esc02_fd_census_with_preserve_fds() {
    require_root!();
    check(|| census(true));
}

/// A container process must not run with a cwd or executable outside the rootfs.
fn inside(rt: &Runtime, b: &Bundle, pid: i64, what: &str) -> Result<()> {
    let root = rootfs_prefix(b);
    for link in ["cwd", "exe"] {
        let t = fs::read_link(format!("/proc/{pid}/{link}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        ensure!(
            t.starts_with(&root),
            "{what}: {link} of pid {pid} is {t} (outside {root})"
        );
    }
    let _ = rt;
    Ok(())
}

#[test]
fn esc03_cwd_and_argv_cannot_point_through_proc_self_fd() {
    require_root!();
    check(|| {
        let rt = rt();
        let l = leaks(&rt)?;
        let mut accepted = Vec::new();
        for n in 3..=20 {
            for variant in ["cwd", "argv"] {
                let mut b = Bundle::new("esc03")?;
                if variant == "cwd" {
                    b.set("/process/cwd", json!(format!("/proc/self/fd/{n}")))
                        .args(&["sleep", "300"]);
                } else {
                    b.args(&[&format!("/proc/self/fd/{n}/../../../bin/sleep"), "300"]);
                }
                b.write()?;
                let _g = rt.guard(b.id());
                if !rt
                    .cmd_opts(&["create", "--bundle", &b.path_str(), b.id()], &l.opts)?
                    .ok()
                {
                    continue;
                }
                if !rt.cmd_opts(&["start", b.id()], &l.opts)?.ok() {
                    continue;
                }
                if let Some(pid) = rt.state(b.id()).ok().and_then(|s| s["pid"].as_i64()) {
                    accepted.push(format!("{variant} fd {n}"));
                    inside(&rt, &b, pid, &format!("{variant} /proc/self/fd/{n}"))?;
                }
            }
        }
        // exec --cwd through a container-made symlink to /proc/self/fd/N.
        let mut b = Bundle::new("esc03-exec")?;
        b.args(&["sleep", "300"]);
        for n in 3..=20 {
            std::os::unix::fs::symlink(
                format!("/proc/self/fd/{n}"),
                b.rootfs().join(format!("wd{n}")),
            )?;
        }
        b.write()?;
        let _g = rt.guard(b.id());
        rt.cmd_opts(&["create", "--bundle", &b.path_str(), b.id()], &l.opts)?
            .check()?;
        rt.cmd_opts(&["start", b.id()], &l.opts)?.check()?;
        for n in 3..=20 {
            let pf = rt.work().join(format!("exec{n}.pid"));
            let wd = format!("/wd{n}");
            let o = rt.cmd_opts(
                &[
                    "exec",
                    "-d",
                    "--pid-file",
                    &pf.to_string_lossy(),
                    "--cwd",
                    &wd,
                    b.id(),
                    "sleep",
                    "30",
                ],
                &l.opts,
            )?;
            if o.ok() {
                let pid: i64 = fs::read_to_string(&pf)?.trim().parse()?;
                inside(&rt, &b, pid, &format!("exec --cwd {wd}"))?;
            }
        }
        eprintln!("ESC-03: accepted (and confined): {accepted:?}");
        Ok(())
    });
}
