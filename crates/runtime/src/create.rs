// SPDX-License-Identifier: Apache-2.0
//! `create` and `run`, main's side: load and validate the bundle, take the id (state dir),
//! create the cgroup and apply limits, compile seccomp, then one clone into the new
//! namespaces and drive init over the channel until it is ready; record the state and let
//! init go (directly for `run`, through the start socket for `create`). Any failure rolls back
//! everything made so far (init killed, cgroup removed, state dir removed).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::Spec;
use rustix::fs::{Mode as FsMode, OFlags};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use stockade_cgroups::Manager;
use stockade_sys::clone::{self as cl, Forked};

use crate::channel::{self, Msg};
use crate::config::{self, Bundle};
use crate::driver::Driver;
use crate::error::{self, Result, RuntimeError};
use crate::hooks;
use crate::init::{self, InitArgs};
use crate::plan::NsPlan;
use crate::procfs::ProcRoot;
use crate::rollback::Rollback;
use crate::state::{ContainerDir, Record};
use crate::{Runtime, console, idmap, oci_state};

/// Options of `create` and `run`.
#[derive(Debug, Clone)]
pub struct CreateOptions<'a> {
    /// Container id.
    pub id: &'a str,
    /// Bundle directory.
    pub bundle: &'a Path,
    /// Where to write init's pid.
    pub pid_file: Option<&'a Path>,
    /// Unix socket that receives the console master (`terminal: true`).
    pub console_socket: Option<&'a Path>,
    /// `--no-pivot`: `MS_MOVE` + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// `--preserve-fds N`: pass fds 3..3+N to the container.
    pub preserve_fds: u32,
}

/// How far main takes the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop at created; `start` releases init through the start socket.
    Create,
    /// Start and return once the program runs (`run -d`).
    Detached,
    /// Start, proxy the terminal, wait and delete (`run`).
    Foreground,
}

/// A container whose init has been released (or is waiting for `start`).
#[derive(Debug)]
pub struct Launched {
    /// init's host pid.
    pub pid: rustix::process::Pid,
    /// pidfd of init.
    pub pidfd: OwnedFd,
    /// State directory.
    pub dir: ContainerDir,
    /// What was recorded.
    pub record: Record,
    /// The spec.
    pub spec: Spec,
    /// Console master kept for a foreground run without console socket.
    pub console: Option<OwnedFd>,
    /// The cgroup.
    pub cgroup: Manager,
}

impl Runtime {
    /// Creates (and for `run` modes starts) a container.
    pub fn launch(&self, o: &CreateOptions<'_>, mode: Mode) -> Result<Launched> {
        let bundle = config::load_bundle(o.bundle)?;
        let spec_id = o.id.to_string();
        let terminal = bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        if terminal && o.console_socket.is_none() && mode != Mode::Foreground {
            return Err(RuntimeError::Request {
                id: spec_id,
                reason: "terminal: true needs --console-socket when detached".into(),
            });
        }
        let ns = NsPlan::from_spec(&bundle.spec);
        let user_ns = ns.new_user() || ns.joins.iter().any(|(f, _)| *f == cl::NEWUSER);
        if self.unprivileged && !user_ns {
            return Err(RuntimeError::Request {
                id: spec_id,
                reason: "running without root needs a user namespace in linux.namespaces".into(),
            });
        }
        let dir = self.root.create(o.id)?;
        let poststop = hooks::PoststopOnFailure::capture(&bundle.spec, o.id, &bundle.dir);
        let mut rb = Rollback::new(dir);
        let res = self.launch_in(o, mode, bundle, &mut rb);
        match res {
            Ok(l) => Ok(l),
            Err(e) => {
                rb.run();
                poststop.run_if_hook_failed(&e);
                Err(e)
            }
        }
    }

    fn launch_in(
        &self,
        o: &CreateOptions<'_>,
        mode: Mode,
        bundle: Bundle,
        rb: &mut Rollback,
    ) -> Result<Launched> {
        let id = o.id;
        let spec = &bundle.spec;
        let linux = spec.linux().clone().unwrap_or_default();
        let ns = NsPlan::from_spec(spec);
        let proc_root = ProcRoot::open(&self.proc_root).map_err(|source| RuntimeError::Proc {
            id: id.into(),
            source,
        })?;
        // v1 directories, limits and `tasks` files made while init works (the fast path)
        let defer_v1 = !self.rootless && !ns.needs_second_fork();
        let (mut cgroup, deferred) = self.new_cgroup(id, spec, defer_v1)?;
        rb.set_cgroup(&cgroup);
        if !deferred {
            apply_limits(id, spec, &cgroup)?;
        }
        let seccomp = match linux.seccomp() {
            Some(s) => {
                Some(
                    stockade_seccomp::compile(s).map_err(|source| RuntimeError::Seccomp {
                        id: id.into(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let start_sock = if mode == Mode::Create {
            Some(start_socket(rb.dir(), id)?)
        } else {
            None
        };
        let view = crate::cgroup_view(cgroup.mount_view(ns.creates(cl::NEWCGROUP)));
        let cgroup_tasks = if deferred {
            Vec::new()
        } else {
            v1_tasks_files(id, &cgroup)?
        };
        let late_cgroupns = ns.creates(cl::NEWCGROUP) && cgroup.is_enabled();
        let process = spec.process().clone().unwrap_or_default();
        let args = InitArgs {
            spec,
            process: &process,
            bundle: &bundle.dir,
            rootfs: &bundle.rootfs,
            ns: &ns,
            rootless: self.rootless,
            no_pivot: o.no_pivot,
            preserve_fds: o.preserve_fds,
            cgroup_view: &view,
            seccomp: seccomp.as_ref(),
            start_listener: start_sock.as_ref().map(AsFd::as_fd),
            proc_root: ns.needs_second_fork().then_some(&proc_root),
            create_hooks: hooks::has_create_hooks(spec),
            cgroup_tasks: &cgroup_tasks,
            late_cgroupns,
            cgroup_join_deferred: deferred,
            unprivileged_main: !rustix::process::geteuid().is_root(),
        };
        let (main_end, init_end) =
            channel::pair().map_err(|e| chan_err(id, "socketpair".into(), e))?;
        let flags = match (ns.needs_second_fork(), late_cgroupns) {
            (true, _) => 0,
            (false, true) => ns.new_flags & !cl::NEWCGROUP,
            (false, false) => ns.new_flags,
        };
        let into = cgroup.clone_into_fd();
        let child = match cl::fork_with(flags, into.as_ref().map(AsFd::as_fd)) {
            Err(e) => return Err(error::io(id, "clone")(e)),
            Ok(Forked::Child) => {
                drop(main_end);
                init::run(&args, &init_end)
            }
            Ok(Forked::Parent(c)) => c,
        };
        drop(init_end);
        rb.set_child(child.pid);
        let mut d = Driver {
            id,
            rt: self,
            spec,
            bundle: &bundle,
            proc_root: &proc_root,
            chan: &main_end,
            pid: child.pid,
        };
        if !child.in_cgroup {
            // no clone3: the v2 directory still needs the pid (v1 ones are joined by init)
            let pid = d.pid.as_raw_nonzero().get();
            if deferred {
                cgroup.add_pid_unified(pid)
            } else {
                cgroup.add_pid(pid)
            }
            .map_err(error::cg(id))?;
        }
        if ns.new_user() && !ns.needs_second_fork() {
            idmap::write(&proc_root, d.pid, &linux, self.unprivileged)
                .map_err(|e| d.proc_err(e))?;
        }
        if deferred {
            // init is assembling the rootfs meanwhile; it joins before its first cgroup
            // mount and before anything it forks or execs
            cgroup.create_v1().map_err(error::cg(id))?;
            rb.set_cgroup(&cgroup);
            apply_limits(id, spec, &cgroup)?;
            let tasks = v1_tasks_files(id, &cgroup)?;
            let fds: Vec<_> = tasks.iter().map(AsFd::as_fd).collect();
            d.chan
                .send_fds(&Msg::Joined, &fds)
                .map_err(|e| d.send_failed(e))?;
        } else {
            d.send(&Msg::Joined, None)?;
        }
        // needs nothing from init: written while init assembles the rootfs
        rb.dir().write_atomic("config.json", &bundle.raw)?;
        let (console, listener) = d.until_ready(rb)?;
        let pidfd = rustix::process::pidfd_open(d.pid, rustix::process::PidfdFlags::empty())
            .map_err(|e| error::io(id, "pidfd_open")(e.into()))?;
        let record = d.commit(o, &cgroup, &ns, rb.dir())?;
        let created = oci_state::hook_state(&record, oci_spec::runtime::ContainerState::Created);
        if let (Some(fd), Some(f)) = (listener, seccomp.as_ref())
            && let Some(path) = f.listener_path()
        {
            stockade_seccomp::send_listener(
                path,
                fd.as_fd(),
                created.as_bytes(),
                f.listener_metadata(),
            )
            .map_err(|source| RuntimeError::Seccomp {
                id: id.into(),
                source,
            })?;
        }
        let console = console::hand_over(id, console, o.console_socket, &process)?;
        d.proceed(created, mode)?;
        rb.disarm();
        Ok(Launched {
            pid: d.pid,
            pidfd,
            dir: rb.take_dir(),
            record,
            spec: bundle.spec.clone(),
            console,
            cgroup,
        })
    }

    /// The container's cgroup manager, created (refusing a non-empty or frozen cgroup).
    /// With `defer_v1` and v1 hierarchies, only the v2 directory is made: true is returned
    /// and the caller makes the rest ([`Manager::create_v1`]).
    fn new_cgroup(&self, id: &str, spec: &Spec, defer_v1: bool) -> Result<(Manager, bool)> {
        let layout = stockade_cgroups::detect(&self.proc_root).map_err(error::cg(id))?;
        let path = spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if self.rootless && !self.unprivileged {
            // uid 0 in a user namespace (rootless podman): root's cgroup when the hierarchy
            // lets us make it; else, with no cgroupsPath asked for, none (runc's rootless
            // cgroup manager ignores permission errors then)
            let mut m = Manager::new(&layout, &path, id, false).map_err(error::cg(id))?;
            match m.create() {
                Ok(()) => return Ok((m, false)),
                Err(e) if !path.is_empty() || !is_denied(&e) => return Err(error::cg(id)(e)),
                Err(e) => tracing::debug!("container {id}: {e}"),
            }
        }
        let mut m = Manager::new(&layout, &path, id, self.rootless).map_err(error::cg(id))?;
        if !m.is_enabled() && asks_for_limits(spec) {
            tracing::warn!("container {id}: rootless without a delegated cgroup: limits skipped");
        }
        if defer_v1 && m.has_v1() {
            m.create_unified().map_err(error::cg(id))?;
            return Ok((m, true));
        }
        m.create().map_err(error::cg(id))?;
        Ok((m, false))
    }
}

/// The config's resources (and device rules) written to the cgroup.
fn apply_limits(id: &str, spec: &Spec, cgroup: &Manager) -> Result<()> {
    if let Some(res) = crate::devices::effective_resources(spec) {
        let warnings = cgroup.apply(&res).map_err(error::cg(id))?;
        crate::validate::refuse_unsupported(id, &warnings)?;
        for w in warnings {
            tracing::warn!("container {id}: {w}");
        }
    }
    Ok(())
}

/// A cgroup step refused for lack of permission (or a read-only cgroupfs).
fn is_denied(e: &stockade_cgroups::CgroupError) -> bool {
    use stockade_cgroups::CgroupError as E;
    let (E::Create { source, .. } | E::Open { source, .. } | E::Write { source, .. }) = e else {
        return false;
    };
    matches!(
        source.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// The `tasks` file of each v1 hierarchy of the container's cgroup, opened for writing.
pub(crate) fn v1_tasks_files(id: &str, cg: &Manager) -> Result<Vec<OwnedFd>> {
    cg.paths()
        .into_iter()
        .filter(|(h, _)| !h.is_empty())
        .map(|(_, dir)| {
            let p = dir.join("tasks");
            rustix::fs::open(&p, OFlags::WRONLY | OFlags::CLOEXEC, FsMode::empty())
                .map_err(|e| error::io(id, format!("open {}", p.display()))(e.into()))
        })
        .collect()
}

pub(crate) fn chan_err(id: &str, status: String, source: channel::ChannelError) -> RuntimeError {
    RuntimeError::InitDied {
        id: id.into(),
        status,
        source,
    }
}

/// `<dir>/start.sock`, listening: init accepts `start` on it (the container is
/// `created` while it exists).
fn start_socket(dir: &ContainerDir, id: &str) -> Result<OwnedFd> {
    let path = dir.socket_path(crate::ops::START_SOCKET);
    let io = |e: rustix::io::Errno| error::io(id, "start socket")(e.into());
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(io)?;
    let addr = SocketAddrUnix::new(&path).map_err(io)?;
    rustix::net::bind(&sock, &addr).map_err(io)?;
    rustix::net::listen(&sock, 1).map_err(io)?;
    Ok(sock)
}

/// Whether the config sets a resource limit (device rules alone do not count: without a
/// cgroup the user namespace already keeps device nodes out of reach).
fn asks_for_limits(spec: &Spec) -> bool {
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return false;
    };
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.unified().as_ref().is_some_and(|u| !u.is_empty())
}
