// SPDX-License-Identifier: Apache-2.0
//! Test harness for the privileged rootfs tests (not shipped). Run it as PID 1 of fresh
//! namespaces, e.g. `unshare --mount --pid --fork --propagation unchanged -- rootfs_harness
//! --bundle DIR`; it reads `DIR/config.json`, runs prepare_rootfs → [console] →
//! write_sysctls → pivot → finalize exactly as the container init does, then execs
//! `process.args`.
//!
//! Options: `--rootless`, `--no-pivot`, `--console`, `--cgroup none|ns:<h1>;<h2>[;unified]|
//! bind:<name>=<dir>;...`, `--fault tmpfs|bind` (overmount `/proc/sys/kernel/domainname`
//! after pivot, then report what write_sysctls did instead of exec'ing).

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::Spec;
use stockade_mount::{CgroupView, RootfsConfig, prepare_rootfs};

#[derive(Default)]
struct Args {
    bundle: PathBuf,
    rootless: bool,
    no_pivot: bool,
    console: bool,
    cgroup: Option<String>,
    fault: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bundle" => a.bundle = it.next().context("--bundle DIR")?.into(),
            "--rootless" => a.rootless = true,
            "--no-pivot" => a.no_pivot = true,
            "--console" => a.console = true,
            "--cgroup" => a.cgroup = Some(it.next().context("--cgroup VIEW")?),
            "--fault" => a.fault = Some(it.next().context("--fault KIND")?),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

fn cgroup_view(s: Option<&str>) -> Result<CgroupView> {
    let Some(s) = s else {
        return Ok(CgroupView::None);
    };
    if s == "none" {
        return Ok(CgroupView::None);
    }
    if let Some(list) = s.strip_prefix("ns:") {
        let mut v1 = Vec::new();
        let mut unified = false;
        for h in list.split(';').filter(|h| !h.is_empty()) {
            if h == "unified" {
                unified = true
            } else {
                v1.push(h.to_owned())
            }
        }
        return Ok(CgroupView::Namespaced {
            v1_hierarchies: v1,
            unified,
        });
    }
    if let Some(list) = s.strip_prefix("bind:") {
        let dirs = list
            .split(';')
            .filter_map(|e| e.split_once('='))
            .map(|(n, d)| (n.to_owned(), PathBuf::from(d)))
            .collect();
        return Ok(CgroupView::Bind { dirs });
    }
    bail!("bad --cgroup {s}")
}

/// Mounts a substitute over /proc/sys/kernel/domainname, as an attacker sharing propagation
/// would, between pivot and the sysctl write.
fn inject_fault(kind: &str) -> Result<()> {
    use rustix::mount::{MoveMountFlags as M, OpenTreeFlags as T};
    let target = "/proc/sys/kernel/domainname";
    let src = match kind {
        "tmpfs" => {
            let fs = rustix::mount::fsopen("tmpfs", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC)?;
            rustix::mount::fsconfig_create(&fs)?;
            let mnt = rustix::mount::fsmount(
                &fs,
                rustix::mount::FsMountFlags::FSMOUNT_CLOEXEC,
                rustix::mount::MountAttrFlags::empty(),
            )?;
            let f = rustix::fs::openat(
                &mnt,
                "x",
                rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
                0o644.into(),
            )?;
            rustix::io::write(&f, b"SUBSTITUTE")?;
            rustix::mount::open_tree(&mnt, "x", T::OPEN_TREE_CLONE | T::OPEN_TREE_CLOEXEC)?
        }
        "bind" => rustix::mount::open_tree(
            rustix::fs::CWD,
            "/proc/sys/kernel/hostname",
            T::OPEN_TREE_CLONE,
        )?,
        other => bail!("bad --fault {other}"),
    };
    rustix::mount::move_mount(
        &src,
        "",
        rustix::fs::CWD,
        target,
        M::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .context("overmount domainname")?;
    Ok(())
}

fn run(a: &Args) -> Result<()> {
    let spec = Spec::load(a.bundle.join("config.json")).context("config.json")?;
    let root = spec.root().as_ref().context("no root")?;
    let rootfs = a
        .bundle
        .join(root.path())
        .canonicalize()
        .context("rootfs")?;
    let view = cgroup_view(a.cgroup.as_deref())?;
    let cfg = RootfsConfig {
        spec: &spec,
        bundle: &a.bundle,
        rootfs: &rootfs,
        rootless: a.rootless,
        no_pivot: a.no_pivot,
        cgroup_view: &view,
    };
    let prepared = prepare_rootfs(&cfg)?;
    let mut console = None;
    if a.console {
        let (master, slave) = prepared.open_console_pty()?;
        prepared.bind_console(slave.as_fd())?;
        console = Some((master, slave));
    }
    let sysctls = spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .unwrap_or_default();
    if a.fault.is_none() {
        prepared.write_sysctls(&sysctls)?;
    }
    let pivoted = prepared.pivot()?;
    if let Some(kind) = &a.fault {
        inject_fault(kind)?;
        let r = pivoted.write_sysctls(&sysctls);
        println!(
            "WRITE={}",
            r.map(|()| "ok".to_owned())
                .unwrap_or_else(|e| chain(&e.into()))
        );
        println!(
            "DOMAINNAME={}",
            std::fs::read_to_string("/proc/sys/kernel/domainname")?.trim()
        );
        println!(
            "HOSTNAME={}",
            std::fs::read_to_string("/proc/sys/kernel/hostname")?.trim()
        );
        return Ok(());
    }
    pivoted.finalize()?;
    drop(console);
    let process = spec.process().as_ref().context("no process")?;
    let args = process.args().as_ref().context("no args")?;
    let (prog, rest) = args.split_first().context("empty args")?;
    let err = Command::new(prog)
        .args(rest)
        .env_clear()
        .env("PATH", "/bin:/sbin")
        .current_dir(Path::new("/"))
        .exec();
    Err(err).context(format!("exec {prog}"))
}

fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn main() {
    let r = parse_args().and_then(|a| run(&a));
    if let Err(e) = r {
        eprintln!("rootfs_harness: {}", chain(&e));
        std::process::exit(1);
    }
}
