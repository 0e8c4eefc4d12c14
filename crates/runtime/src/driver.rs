// SPDX-License-Identifier: Apache-2.0
//! main's end of the create protocol: serves init's requests (id maps, the intermediate's
//! fork, console, hooks) until `Ready`, records the state and releases init.

use std::os::fd::OwnedFd;

use oci_spec::runtime::Spec;
use stockade_cgroups::Manager;

use crate::channel::{self, Endpoint, Msg};
use crate::config::Bundle;
use crate::create::{CreateOptions, Mode, chan_err};
use crate::error::{self, Result, RuntimeError};
use crate::hooks::{self, HookKind};
use crate::plan::NsPlan;
use crate::procfs::ProcRoot;
use crate::rollback::Rollback;
use crate::state::{ContainerDir, Record};
use crate::{Runtime, idmap, oci_state};

/// Main's end of the protocol for one container.
pub(crate) struct Driver<'a> {
    pub(crate) id: &'a str,
    pub(crate) rt: &'a Runtime,
    pub(crate) spec: &'a Spec,
    pub(crate) bundle: &'a Bundle,
    pub(crate) proc_root: &'a ProcRoot,
    pub(crate) chan: &'a Endpoint,
    pub(crate) pid: rustix::process::Pid,
}

impl Driver<'_> {
    pub(crate) fn send(&self, msg: &Msg, fd: Option<std::os::fd::BorrowedFd<'_>>) -> Result<()> {
        self.chan.send(msg, fd).map_err(|e| self.send_failed(e))
    }

    /// init may fail before it waits for main's next message (it does not wait for
    /// `Joined` to resolve the program): then the send finds its end closed, and its report
    /// is still queued on ours.
    pub(crate) fn send_failed(&self, e: channel::ChannelError) -> RuntimeError {
        let peer_gone = matches!(&e, channel::ChannelError::Send(_, io)
            if matches!(io.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset));
        if peer_gone && let Ok((Msg::Failed(source), _)) = self.chan.recv() {
            crate::wait::reap(self.pid);
            return RuntimeError::Init {
                id: self.id.into(),
                source,
            };
        }
        self.died(e)
    }

    pub(crate) fn proc_err(&self, source: crate::procfs::ProcError) -> RuntimeError {
        RuntimeError::Proc {
            id: self.id.into(),
            source,
        }
    }

    /// Turns a channel failure into an error with init's exit status when it died.
    pub(crate) fn died(&self, e: channel::ChannelError) -> RuntimeError {
        let status = crate::wait::reap_status(self.pid).unwrap_or_else(|| "failed".into());
        chan_err(self.id, status, e)
    }

    /// Serves init's requests until `Ready`; returns the console master and the seccomp
    /// listener fd, if any.
    pub(crate) fn until_ready(
        &mut self,
        rb: &mut Rollback,
    ) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
        let mut console = None;
        loop {
            let (msg, fd) = self.chan.recv().map_err(|e| self.died(e))?;
            match msg {
                Msg::MapsNeeded => {
                    let linux = self.spec.linux().clone().unwrap_or_default();
                    idmap::write(self.proc_root, self.pid, &linux, self.rt.unprivileged)
                        .map_err(|e| self.proc_err(e))?;
                    self.send(&Msg::MapsWritten, None)?;
                }
                Msg::Forked(raw) => {
                    crate::wait::reap(self.pid);
                    self.pid = rustix::process::Pid::from_raw(raw).ok_or_else(|| {
                        chan_err(self.id, "sent pid 0".into(), channel::ChannelError::Closed)
                    })?;
                    rb.set_child(self.pid);
                }
                Msg::Console => console = fd,
                Msg::Hooks => self.create_hooks()?,
                Msg::Ready => return Ok((console, fd)),
                Msg::Failed(source) => {
                    crate::wait::reap(self.pid);
                    return Err(RuntimeError::Init {
                        id: self.id.into(),
                        source,
                    });
                }
                other => {
                    let e = channel::ChannelError::Unexpected {
                        got: other.name(),
                        want: "ready",
                    };
                    return Err(chan_err(self.id, "broke the protocol".into(), e));
                }
            }
        }
    }

    /// prestart and createRuntime hooks. Their state says `created`, as runc and crun pass it
    /// and runtime-tools' `hooks_stdin` requires for prestart (the spec's lifecycle runs these
    /// hooks inside `create`; the namespaces and the process they describe exist by then).
    fn create_hooks(&self) -> Result<()> {
        let rec = Record {
            id: self.id.into(),
            pid: self.pid.as_raw_nonzero().get(),
            bundle: self.bundle.dir.clone(),
            annotations: self.spec.annotations().clone().unwrap_or_default(),
            ..Record::default()
        };
        let state = oci_state::hook_state(&rec, oci_spec::runtime::ContainerState::Created);
        for kind in [HookKind::Prestart, HookKind::CreateRuntime] {
            hooks::run_all(kind, hooks::list(self.spec, kind), &state).map_err(|source| {
                RuntimeError::Hook {
                    id: self.id.into(),
                    source,
                }
            })?;
        }
        self.send(&Msg::HooksDone(state), None)
    }

    /// oom_score_adj, state.json and pid file (the config copy is written earlier, while
    /// init works).
    pub(crate) fn commit(
        &self,
        o: &CreateOptions<'_>,
        cg: &Manager,
        ns: &NsPlan,
        dir: &ContainerDir,
    ) -> Result<Record> {
        let pid = self.pid.as_raw_nonzero().get();
        if let Some(adj) = self.spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
            self.proc_root
                .write(&format!("{pid}/oom_score_adj"), adj.to_string().as_bytes())
                .map_err(|e| self.proc_err(e))?;
        }
        let (_, start_time) = self.proc_root.stat(pid).map_err(|e| self.proc_err(e))?;
        let record = Record {
            id: self.id.into(),
            pid,
            start_time,
            bundle: self.bundle.dir.clone(),
            rootfs: self.bundle.rootfs.clone(),
            created: crate::state::rfc3339_now(),
            owner: rustix::process::geteuid().as_raw(),
            annotations: self.spec.annotations().clone().unwrap_or_default(),
            cgroup: serde_json::to_value(cg.to_state()).unwrap_or_default(),
            rootless: self.rt.rootless,
            own_pid_ns: ns.own_pid_ns(),
            ns_flags: crate::exec::differing_namespaces(self.proc_root, pid, ns.all_flags()),
        };
        dir.save(&record)?;
        if let Some(p) = o.pid_file {
            crate::write_pid_file(p, pid)
                .map_err(error::io(self.id, format!("pid file {}", p.display())))?;
        }
        Ok(record)
    }

    /// Releases init: through the start socket (create: wait for its acknowledgement), or directly
    /// (run: wait until it exec'd, i.e. its end of the channel closed).
    pub(crate) fn proceed(&self, state: String, mode: Mode) -> Result<()> {
        let wait_start = mode == Mode::Create;
        self.send(&Msg::Proceed { state, wait_start }, None)?;
        match self.chan.recv() {
            Ok((Msg::Detached, _)) if wait_start => Ok(()),
            Err(channel::ChannelError::Closed) if !wait_start => Ok(()),
            Ok((Msg::Failed(source), _)) => {
                crate::wait::reap(self.pid);
                Err(RuntimeError::Init {
                    id: self.id.into(),
                    source,
                })
            }
            Ok((other, _)) => Err(chan_err(
                self.id,
                "broke the protocol".into(),
                channel::ChannelError::Unexpected {
                    got: other.name(),
                    want: "exec",
                },
            )),
            Err(e) => Err(self.died(e)),
        }
    }
}
