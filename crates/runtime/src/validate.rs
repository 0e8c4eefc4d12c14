// SPDX-License-Identifier: Apache-2.0
//! Normative checks of config.md / config-linux.md that the typed parser does not make:
//! each returns the reason of the first violation (the caller names the file).
//!
//! * `ociVersion` is SemVer 2.0.0 (config.md#specification-version);
//! * hook paths are absolute and timeouts, when set, greater than zero (config.md#posix-platform-hooks);
//! * no rlimit type twice (config.md#posix-process);
//! * `ioPriority.priority` in 0..=7, `scheduler` values the kernel can take;
//! * every seccomp syscall rule names at least one syscall (config-linux.md#seccomp);
//! * masked/read-only paths and device paths are absolute, devices listed once
//!   (config-linux.md#masked-paths, #readonly-paths, #devices);
//! * `intelRdt` is refused: this runtime does not manage resctrl (config-linux.md#intelrdt).

use std::collections::HashSet;

use oci_spec::runtime::{LinuxSchedulerPolicy, Process, Spec};

/// Runs every check of this module.
pub fn spec_rules(spec: &Spec) -> Result<(), String> {
    semver(spec.version())?;
    hooks(spec)?;
    if let Some(p) = spec.process() {
        process_rules(p)?;
    }
    linux(spec)
}

/// Checks of a process (also used for `exec --process`).
pub fn process_rules(p: &Process) -> Result<(), String> {
    let mut seen = HashSet::new();
    for l in p.rlimits().as_deref().unwrap_or_default() {
        if !seen.insert(l.typ().to_string()) {
            return Err(format!("process.rlimits: {} listed twice", l.typ()));
        }
    }
    if let Some(io) = p.io_priority()
        && !(0..=7).contains(&io.priority())
    {
        return Err(format!(
            "process.ioPriority.priority {} is not in 0..7",
            io.priority()
        ));
    }
    if let Some(s) = p.scheduler() {
        scheduler(s)?;
    }
    Ok(())
}

fn scheduler(s: &oci_spec::runtime::Scheduler) -> Result<(), String> {
    if let Some(n) = *s.nice()
        && !(-20..=19).contains(&n)
    {
        return Err(format!("process.scheduler.nice {n} is not in -20..19"));
    }
    let realtime = matches!(
        s.policy(),
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    let prio = s.priority().unwrap_or(0);
    if realtime && !(1..=99).contains(&prio) {
        return Err(format!(
            "process.scheduler.priority {prio} is not in 1..99 for {}",
            s.policy()
        ));
    }
    if !realtime && prio != 0 {
        return Err(format!(
            "process.scheduler.priority must be 0 for {}",
            s.policy()
        ));
    }
    let deadline = *s.policy() == LinuxSchedulerPolicy::SchedDeadline;
    let dl_fields = s.runtime().is_some() || s.deadline().is_some() || s.period().is_some();
    if dl_fields && !deadline {
        return Err("process.scheduler runtime/deadline/period need SCHED_DEADLINE".into());
    }
    Ok(())
}

/// `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` as SemVer 2.0.0 defines it.
pub fn semver(v: &str) -> Result<(), String> {
    let bad = || format!("ociVersion {v:?} is not a SemVer 2.0.0 version");
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| numeric(p)) {
        return Err(bad());
    }
    if let Some(pre) = pre {
        let ok = pre
            .split('.')
            .all(|id| ident(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)));
        if !ok {
            return Err(bad());
        }
    }
    if let Some(build) = build
        && !build.split('.').all(ident)
    {
        return Err(bad());
    }
    Ok(())
}

#[allow(deprecated)] // prestart is deprecated in the spec but still honoured
fn hooks(spec: &Spec) -> Result<(), String> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    let lists = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (kind, list) in lists {
        for hook in list.as_deref().unwrap_or_default() {
            let path = hook.path().display();
            if !hook.path().is_absolute() {
                return Err(format!("hooks.{kind}: path {path} is not absolute"));
            }
            if let Some(t) = hook.timeout()
                && t <= 0
            {
                return Err(format!(
                    "hooks.{kind}: {path}: timeout {t} must be greater than zero"
                ));
            }
        }
    }
    Ok(())
}

fn linux(spec: &Spec) -> Result<(), String> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for (field, list) in [
        ("maskedPaths", linux.masked_paths()),
        ("readonlyPaths", linux.readonly_paths()),
    ] {
        for p in list.as_deref().unwrap_or_default() {
            if !p.starts_with('/') {
                return Err(format!("linux.{field}: {p:?} is not an absolute path"));
            }
        }
    }
    let mut paths = HashSet::new();
    for d in linux.devices().as_deref().unwrap_or_default() {
        let p = d.path();
        if !p.is_absolute() {
            return Err(format!("linux.devices: {} is not absolute", p.display()));
        }
        if !paths.insert(p.clone()) {
            return Err(format!("linux.devices: {} listed twice", p.display()));
        }
    }
    if let Some(s) = linux.seccomp() {
        for (i, rule) in s
            .syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if rule.names().is_empty() {
                return Err(format!("linux.seccomp.syscalls[{i}]: names is empty"));
            }
        }
    }
    if linux.intel_rdt().is_some() {
        return Err("linux.intelRdt: not supported (this runtime does not manage resctrl)".into());
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err("linux.netDevices: not supported (no network device is moved)".into());
    }
    if let Some(p) = linux.personality()
        && p.flags().as_ref().is_some_and(|f| !f.is_empty())
    {
        // config-linux.md#personality: "Currently no flag values are supported"
        return Err("linux.personality.flags: no flag is supported".into());
    }
    Ok(())
}

/// A resource the config sets whose controller this host lacks is refused, not dropped
/// (config.md#valid-values: a runtime that cannot apply a setting says so). Settings the
/// kernel merely ignores (`Warning::Ignored`) and rootless skips stay warnings.
pub fn refuse_unsupported(
    id: &str,
    warnings: &[stockade_cgroups::Warning],
) -> Result<(), crate::RuntimeError> {
    match warnings
        .iter()
        .find(|w| matches!(w, stockade_cgroups::Warning::NoController { .. }))
    {
        Some(stockade_cgroups::Warning::NoController { what, controller }) => {
            Err(crate::RuntimeError::Request {
                id: id.into(),
                reason: format!(
                    "linux.resources: {what} cannot be applied: no {controller} cgroup controller on this host"
                ),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_missing_controller_refused_ignored_setting_kept() {
        use stockade_cgroups::Warning;
        let ignored = [Warning::Ignored {
            what: "memory.kernel",
            why: "deprecated",
        }];
        refuse_unsupported("c", &ignored).unwrap();
        let missing = [Warning::NoController {
            what: "hugepageLimits",
            controller: "hugetlb",
        }];
        let e = refuse_unsupported("c", &missing).unwrap_err().to_string();
        assert!(e.contains("hugepageLimits") && e.contains("hugetlb"), "{e}");
    }

    fn spec(extra: serde_json::Value) -> Spec {
        let mut v = serde_json::json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {}
        });
        for (k, x) in extra.as_object().unwrap() {
            if k == "linux" || k == "process" {
                for (k2, x2) in x.as_object().unwrap() {
                    v[k][k2] = x2.clone();
                }
            } else {
                v[k] = x.clone();
            }
        }
        serde_json::from_value(v).unwrap()
    }

    fn err(extra: serde_json::Value) -> String {
        spec_rules(&spec(extra)).unwrap_err()
    }

    #[test]
    fn test_semver() {
        for ok in ["1.0.0", "1.2.0-rc.1", "1.0.2-dev", "1.1.0+build.5", "0.0.0"] {
            semver(ok).unwrap();
        }
        for bad in [
            "invalid", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+",
        ] {
            assert!(semver(bad).is_err(), "{bad}");
        }
        assert!(err(serde_json::json!({"ociVersion": "v1"})).contains("SemVer"));
    }

    #[test]
    fn test_hooks_rlimits_seccomp_paths() {
        let e = err(serde_json::json!({"hooks": {"createRuntime": [
            {"path": "/bin/true", "timeout": 0}]}}));
        assert!(e.contains("greater than zero"), "{e}");
        let e = err(serde_json::json!({"hooks": {"poststop": [{"path": "true"}]}}));
        assert!(e.contains("not absolute"), "{e}");
        let l = serde_json::json!({"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1});
        let e = err(serde_json::json!({"process": {"rlimits": [l, l]}}));
        assert!(e.contains("RLIMIT_NOFILE listed twice"), "{e}");
        let e = err(
            serde_json::json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}}}),
        );
        assert!(e.contains("names is empty"), "{e}");
        let e = err(serde_json::json!({"linux": {"maskedPaths": ["proc/kcore"]}}));
        assert!(e.contains("maskedPaths"), "{e}");
        let e = err(serde_json::json!({"linux": {"readonlyPaths": ["proc/sys"]}}));
        assert!(e.contains("readonlyPaths"), "{e}");
        let d = serde_json::json!({"path": "/dev/x", "type": "c", "major": 1, "minor": 3});
        let e = err(serde_json::json!({"linux": {"devices": [d, d]}}));
        assert!(e.contains("listed twice"), "{e}");
        let e = err(serde_json::json!({"linux": {"intelRdt": {"closID": "x"}}}));
        assert!(e.contains("intelRdt"), "{e}");
        let e = err(serde_json::json!({"linux": {"netDevices": {"eth9": {}}}}));
        assert!(e.contains("netDevices"), "{e}");
        let e = err(serde_json::json!({"linux": {"personality":
            {"domain": "LINUX", "flags": ["X"]}}}));
        assert!(e.contains("personality.flags"), "{e}");
    }

    #[test]
    fn test_io_priority_and_scheduler_ranges() {
        let e = err(serde_json::json!({"process": {"ioPriority":
            {"class": "IOPRIO_CLASS_BE", "priority": 8}}}));
        assert!(e.contains("ioPriority"), "{e}");
        let e = err(serde_json::json!({"process": {"scheduler":
            {"policy": "SCHED_FIFO", "priority": 0}}}));
        assert!(e.contains("1..99"), "{e}");
        let e = err(serde_json::json!({"process": {"scheduler":
            {"policy": "SCHED_OTHER", "runtime": 10}}}));
        assert!(e.contains("SCHED_DEADLINE"), "{e}");
        spec_rules(&spec(serde_json::json!({"process": {"scheduler":
            {"policy": "SCHED_BATCH", "nice": 5}}})))
        .unwrap();
    }
}
