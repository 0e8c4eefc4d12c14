// SPDX-License-Identifier: Apache-2.0
//! The namespace plan: which namespaces init is born in (one `clone3`), which it joins by
//! path, and whether a second fork is needed (a pid namespace joined by path, or a time
//! namespace, only applies to children of the caller).

use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use stockade_sys::clone as cl;

/// How init's namespaces are set up.
#[derive(Debug, Clone, Default)]
pub struct NsPlan {
    /// `CLONE_NEW*` flags of the namespaces to create (never `CLONE_NEWTIME`).
    pub new_flags: u64,
    /// Namespaces joined by path, user namespace first, as (`CLONE_NEW*` flag, path).
    pub joins: Vec<(u64, PathBuf)>,
    /// A new time namespace (created with `unshare` before the second fork).
    pub new_time: bool,
}

impl NsPlan {
    /// Builds the plan from the spec's `linux.namespaces`.
    pub fn from_spec(spec: &Spec) -> NsPlan {
        let mut plan = NsPlan::default();
        let namespaces = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for ns in namespaces {
            let flag = ns_flag(ns.typ());
            match ns.path() {
                Some(p) if flag == cl::NEWUSER => plan.joins.insert(0, (flag, p.clone())),
                Some(p) => plan.joins.push((flag, p.clone())),
                None if flag == cl::NEWTIME => plan.new_time = true,
                None => plan.new_flags |= flag,
            }
        }
        plan
    }

    /// Whether init needs an intermediate process (see the module doc).
    pub fn needs_second_fork(&self) -> bool {
        self.new_time || !self.joins.is_empty()
    }

    /// Whether a new user namespace is created.
    pub fn new_user(&self) -> bool {
        self.new_flags & cl::NEWUSER != 0
    }

    /// Whether the container has its own (new) namespace of this kind.
    pub fn creates(&self, flag: u64) -> bool {
        self.new_flags & flag != 0 || (flag == cl::NEWTIME && self.new_time)
    }

    /// `CLONE_NEW*` flags of every namespace the container creates or joins.
    pub fn all_flags(&self) -> u64 {
        let time = if self.new_time { cl::NEWTIME } else { 0 };
        self.joins
            .iter()
            .fold(self.new_flags | time, |acc, (f, _)| acc | f)
    }

    /// Whether the container's pid namespace differs from the runtime's (new or joined).
    pub fn own_pid_ns(&self) -> bool {
        self.creates(cl::NEWPID) || self.joins.iter().any(|(f, _)| *f == cl::NEWPID)
    }
}

/// The `CLONE_NEW*` flag of a namespace type.
pub fn ns_flag(t: LinuxNamespaceType) -> u64 {
    match t {
        LinuxNamespaceType::Mount => cl::NEWNS,
        LinuxNamespaceType::Cgroup => cl::NEWCGROUP,
        LinuxNamespaceType::Uts => cl::NEWUTS,
        LinuxNamespaceType::Ipc => cl::NEWIPC,
        LinuxNamespaceType::User => cl::NEWUSER,
        LinuxNamespaceType::Pid => cl::NEWPID,
        LinuxNamespaceType::Network => cl::NEWNET,
        LinuxNamespaceType::Time => cl::NEWTIME,
    }
}

/// The `/proc/<pid>/ns/<name>` name of a `CLONE_NEW*` flag.
pub fn ns_name(flag: u64) -> &'static str {
    match flag {
        cl::NEWNS => "mnt",
        cl::NEWCGROUP => "cgroup",
        cl::NEWUTS => "uts",
        cl::NEWIPC => "ipc",
        cl::NEWUSER => "user",
        cl::NEWPID => "pid",
        cl::NEWNET => "net",
        _ => "time",
    }
}

/// Every namespace flag, user first (the order `setns` needs when joining them).
pub const ALL_NS: [u64; 8] = [
    cl::NEWUSER,
    cl::NEWNS,
    cl::NEWCGROUP,
    cl::NEWUTS,
    cl::NEWIPC,
    cl::NEWNET,
    cl::NEWPID,
    cl::NEWTIME,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "root": {"path": "r"},
            "linux": {"namespaces": ns}
        }))
        .unwrap()
    }

    #[test]
    fn test_fast_path_flags() {
        let p = NsPlan::from_spec(&spec(serde_json::json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "user"}
        ])));
        assert_eq!(
            p.new_flags,
            cl::NEWPID | cl::NEWNS | cl::NEWNET | cl::NEWUSER
        );
        assert!(!p.needs_second_fork());
        assert!(p.new_user() && p.own_pid_ns());
    }

    #[test]
    fn test_joins_put_user_first_and_need_second_fork() {
        let p = NsPlan::from_spec(&spec(serde_json::json!([
            {"type": "network", "path": "/proc/1/ns/net"},
            {"type": "user", "path": "/proc/1/ns/user"},
            {"type": "time"}
        ])));
        assert_eq!(p.joins[0].0, cl::NEWUSER);
        assert!(p.new_time && p.needs_second_fork());
        assert_eq!(ns_name(p.joins[1].0), "net");
    }
}
