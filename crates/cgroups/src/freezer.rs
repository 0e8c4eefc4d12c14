// SPDX-License-Identifier: Apache-2.0
//! Freezing, listing and signalling the container's processes.
//!
//! The freezer is the v1 `freezer` hierarchy when mounted (`freezer.state`, polled until
//! `FROZEN`; the request is rewritten now and then because a task forked mid-freeze can keep
//! the cgroup in `FREEZING`), else the unified `cgroup.freeze` (polled in `cgroup.events`).
//! `kill_all(SIGKILL)` uses the unified `cgroup.kill` when it exists (also on hybrid hosts,
//! where the unified directory holds the same processes); otherwise, and for other signals,
//! freeze → signal every pid → thaw, leaving an already paused container paused.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, kill_process};

use crate::error::{CgroupError, Result};
use crate::fsio::{CgDir, keyed, parse_keyed};
use crate::manager::{Manager, Version};

/// How long a freeze may take before it is undone and reported.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(3);
/// Rewrite the freeze request every this many polls.
const REWRITE_EVERY: u32 = 10;
/// Most cgroup directories walked by [`Manager::pids`] (bounds a tenant-made tree).
const MAX_WALK: usize = 4096;
const SIGKILL: i32 = 9;

impl Manager {
    fn freezer(&self) -> Result<(CgDir<'_>, Version)> {
        let v1 = self
            .st
            .dirs
            .iter()
            .position(|d| d.version == Version::V1 && d.has("freezer"));
        match v1.or(self.unified_index()) {
            Some(i) => Ok((self.dir(i)?, self.st.dirs[i].version)),
            None => Err(CgroupError::NoController {
                what: "freeze",
                controller: "freezer",
            }),
        }
    }

    /// Freezes every process of the container and waits until the kernel says frozen.
    pub fn freeze(&self) -> Result<()> {
        self.require_enabled()?;
        let (dir, version) = self.freezer()?;
        let (file, on, off) = match version {
            Version::V1 => ("freezer.state", "FROZEN", "THAWED"),
            Version::V2 => ("cgroup.freeze", "1", "0"),
        };
        dir.write(file, on)?;
        let start = Instant::now();
        let mut delay = Duration::from_micros(100);
        for n in 1.. {
            let state = frozen_state(dir, version)?;
            if state == "FROZEN" {
                return Ok(());
            }
            if start.elapsed() > FREEZE_TIMEOUT {
                let _ = dir.write(file, off);
                return Err(CgroupError::FreezeTimeout {
                    path: dir.file(file),
                    state,
                    millis: start.elapsed().as_millis(),
                });
            }
            if n % REWRITE_EVERY == 0 {
                dir.write(file, on)?;
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Thaws the container.
    pub fn thaw(&self) -> Result<()> {
        self.require_enabled()?;
        match self.freezer()? {
            (dir, Version::V1) => dir.write("freezer.state", "THAWED"),
            (dir, Version::V2) => dir.write("cgroup.freeze", "0"),
        }
    }

    /// Whether the container is frozen or freezing (`paused` for the runtime).
    pub fn is_frozen(&self) -> Result<bool> {
        self.require_enabled()?;
        let (dir, version) = self.freezer()?;
        Ok(frozen_state(dir, version)? != "THAWED")
    }

    /// Every pid in the container's cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>> {
        self.require_enabled()?;
        let freezer = self
            .st
            .dirs
            .iter()
            .position(|d| d.version == Version::V1 && d.has("freezer"));
        let i = self.unified_index().or(freezer).unwrap_or(0);
        let mut out = Vec::new();
        let mut stack: Vec<PathBuf> = vec![self.st.dirs[i].path.clone()];
        let mut walked = 0;
        while let Some(dir) = stack.pop() {
            walked += 1;
            let procs = dir.join("cgroup.procs");
            match std::fs::read_to_string(&procs) {
                Ok(text) => out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
                // The directory went away while we walked (a child cgroup removed).
                Err(e) if e.kind() == io::ErrorKind::NotFound && walked > 1 => continue,
                Err(source) => {
                    return Err(CgroupError::Read {
                        path: procs,
                        source,
                    });
                }
            }
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) && walked + stack.len() < MAX_WALK {
                    stack.push(entry.path());
                }
            }
        }
        Ok(out)
    }

    /// Sends `signal` to every process of the container.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        self.require_enabled()?;
        if signal == SIGKILL
            && let Some(dir) = self.unified_dir()?
        {
            match dir.try_write("cgroup.kill", "1") {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(dir.write_error("cgroup.kill", "1", e)),
            }
        }
        let sig = Signal::from_named_raw(signal).ok_or_else(|| CgroupError::InvalidValue {
            what: "signal",
            value: signal.to_string(),
        })?;
        let was_frozen = self.is_frozen().unwrap_or(false);
        let froze = !was_frozen && self.freeze().is_ok();
        let sent = self.signal_each(signal, sig);
        if froze {
            self.thaw()?;
        }
        sent
    }

    fn signal_each(&self, raw: i32, sig: Signal) -> Result<()> {
        for pid in self.pids()? {
            let Some(p) = Pid::from_raw(pid) else {
                continue;
            };
            match kill_process(p, sig) {
                Ok(()) | Err(Errno::SRCH) => {}
                Err(e) => {
                    return Err(CgroupError::Signal {
                        pid,
                        signal: raw,
                        source: e.into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// OOM kills in the container so far (v1 `memory.oom_control`, v2 `memory.events`);
    /// `None` without a memory controller or on kernels that do not count them.
    pub fn oom_kill_count(&self) -> Result<Option<u64>> {
        self.require_enabled()?;
        let Some(t) = self.target_ro("memory")? else {
            return Ok(None);
        };
        let file = match t.version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        let pairs = t.dir.read_keyed(file)?;
        Ok(pairs
            .iter()
            .any(|(k, _)| k == "oom_kill")
            .then(|| keyed(&pairs, "oom_kill")))
    }
}

/// `FROZEN`, `FREEZING` or `THAWED` (v2 mapped: `frozen 1` → FROZEN, else the requested
/// state).
fn frozen_state(dir: CgDir<'_>, version: Version) -> Result<String> {
    match version {
        Version::V1 => Ok(dir.read("freezer.state")?.trim().to_string()),
        Version::V2 => {
            let events = parse_keyed(&dir.read("cgroup.events")?);
            if keyed(&events, "frozen") == 1 {
                return Ok("FROZEN".into());
            }
            let wanted = dir.try_read("cgroup.freeze").is_ok_and(|s| s.trim() == "1");
            Ok(if wanted { "FREEZING" } else { "THAWED" }.into())
        }
    }
}
